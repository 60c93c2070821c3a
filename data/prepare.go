package data

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tinyscale/tinyscale/internal/atomicfile"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// CacheVersion is mixed into every cache key; bump it whenever loading,
// generation, splitting or tokenization changes its output, so that stale
// entries are never reused.
const CacheVersion = "data-v1"

// Prepared is a dataset ready for training.
type Prepared struct {
	// Tokenizer was trained on the training split only (or, for nanogpt, is
	// the identity tokenizer).
	Tokenizer tokenizer.Tokenizer
	// Train and Val are the token ids of the two splits.
	Train, Val []int32
	// BytesPerToken is UTF-8 bytes per token on the validation split, so
	// bits per byte = loss_nats / ln 2 / BytesPerToken. It is 0 for nanogpt
	// data, whose text is unknown.
	BytesPerToken float64
	// Task evaluates exact answers for mqar and copy data; nil otherwise.
	Task Task
	// Key is the cache key (hex sha256) of this preparation.
	Key string
	// CacheHit reports whether the splits were read from the cache.
	CacheHit bool
}

// Prepare loads spec, splits it, trains the tokenizer tok on the training
// split and tokenizes both splits. The text stream is split by characters:
// the first 1−val_fraction of the runes are train, the rest val; each split
// is tokenized on its own. nanogpt data comes split (train.bin, val.bin).
//
// When cacheDir is not empty, results (except nanogpt's, which are read
// directly) are cached in cacheDir/prepared/ under a key hashing
// CacheVersion, spec (without its name), tok and the content hash of the
// loaded data. Entries are written atomically and checksummed; a corrupt
// entry is logged, removed and rebuilt, and a cache that cannot be written
// is logged and skipped. The source is still read on a cache hit, to hash it.
func Prepare(ctx context.Context, spec Spec, tok tokenizer.Spec, cacheDir string) (*Prepared, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	tok = spec.TokenizerDefaults(tok)
	if err := spec.ValidateTokenizer(tok); err != nil {
		return nil, err
	}
	corpus, err := Load(ctx, spec, cacheDir)
	if err != nil {
		return nil, err
	}
	key, err := cacheKey(spec, tok, corpus.Hash)
	if err != nil {
		return nil, err
	}
	if isTokenIDs(spec.Kind) {
		// The .bin files are already token ids: nothing worth caching.
		p, err := build(ctx, spec, tok, corpus)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", spec.Name, err)
		}
		p.Key = key
		return p, nil
	}
	path := ""
	if cacheDir != "" {
		path = filepath.Join(cacheDir, "prepared", key+".bin")
		if p, err := readCached(path, spec); err == nil {
			p.Key, p.CacheHit = key, true
			tightenPerm(path, sourcePerm(spec))
			return p, nil
		} else if errors.Is(err, errCorrupt) {
			slog.Warn("data cache: discarding bad entry, rebuilding", "dataset", spec.Name, "path", path, "err", err)
			if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				slog.Warn("data cache: cannot remove bad entry", "path", path, "err", rerr)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			slog.Warn("data cache: cannot read entry, rebuilding", "dataset", spec.Name, "path", path, "err", err)
		}
	}
	start := time.Now()
	slog.Info("data: preparing", "dataset", spec.Name, "kind", spec.Kind, "files", corpus.Files, "docs", corpus.Docs, "bytes", len(corpus.Text), "tokenizer", tok.Kind, "vocab_size", tok.VocabSize)
	p, err := build(ctx, spec, tok, corpus)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", spec.Name, err)
	}
	p.Key = key
	slog.Info("data: prepared", "dataset", spec.Name, "vocab", p.Tokenizer.VocabSize(), "train_tokens", len(p.Train), "val_tokens", len(p.Val), "elapsed", time.Since(start).Round(time.Millisecond))
	if path != "" {
		js, err := p.Tokenizer.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("dataset %s: marshal tokenizer: %w", spec.Name, err)
		}
		entry := encodeEntry(cacheEntry{tokenizerJSON: js, train: p.Train, val: p.Val, bytesPerToken: p.BytesPerToken})
		// The entry holds the source's whole text: no more readable than it.
		if err := atomicfile.WriteFile(path, entry, sourcePerm(spec)); err != nil {
			// A cache that cannot be written must not stop a run.
			slog.Warn("data cache: cannot store entry, continuing without cache", "dataset", spec.Name, "path", path, "err", err)
		} else {
			slog.Debug("data cache: stored", "dataset", spec.Name, "path", path, "train", len(p.Train), "val", len(p.Val))
		}
	}
	return p, nil
}

// sourcePerm is the permission bits a cache entry of spec may have: those
// shared by every source file (and, for directories, readable only by the
// classes that may enter them), at most 0644. Generated and GOROOT data
// (no path) give 0644; a source that cannot be inspected gives 0600.
func sourcePerm(spec Spec) os.FileMode {
	const loosest = os.FileMode(0o644)
	if spec.Path == "" {
		return loosest
	}
	roots := []string{spec.Path}
	if strings.ContainsAny(spec.Path, "*?[") {
		m, err := filepath.Glob(spec.Path)
		if err != nil || len(m) == 0 {
			return 0o600
		}
		roots = m
	}
	perm := loosest
	for _, root := range roots {
		err := filepath.WalkDir(root, func(_ string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			m := fi.Mode().Perm()
			if e.IsDir() {
				// Only a class that may enter (x) the directory reads inside.
				m = (m & 0o111) << 2
			}
			perm &= m | 0o200 // the owner's write bit is not about reading
			return nil
		})
		if err != nil {
			return 0o600
		}
	}
	return perm | 0o600 // the owner reads and rewrites its own cache
}

// tightenPerm removes from the file at path the permission bits that perm
// lacks (entries written by older versions were 0644 whatever the source).
func tightenPerm(path string, perm os.FileMode) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	if cur := fi.Mode().Perm(); cur&^perm != 0 {
		if err := os.Chmod(path, cur&perm); err != nil {
			slog.Warn("data cache: cannot tighten permissions", "path", path, "err", err)
		}
	}
}

// cacheKey hashes everything that determines a Prepared.
func cacheKey(spec Spec, tok tokenizer.Spec, sourceHash string) (string, error) {
	spec.Name = "" // the name does not change the content
	js, err := json.Marshal(struct {
		Version   string         `json:"version"`
		Data      Spec           `json:"data"`
		Tokenizer tokenizer.Spec `json:"tokenizer"`
		Source    string         `json:"source"`
	}{CacheVersion, spec, tok, sourceHash})
	if err != nil {
		return "", fmt.Errorf("cache key: %w", err)
	}
	sum := sha256.Sum256(js)
	return hex.EncodeToString(sum[:]), nil
}

func readCached(path string, spec Spec) (*Prepared, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e, err := decodeEntry(b)
	if err != nil {
		return nil, err
	}
	t, err := tokenizer.FromJSON(e.tokenizerJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	for _, s := range [][]int32{e.train, e.val} {
		if len(s) > 0 && (slices.Min(s) < 0 || int(slices.Max(s)) >= t.VocabSize()) {
			return nil, fmt.Errorf("%w: token id out of range for vocabulary %d", errCorrupt, t.VocabSize())
		}
	}
	return &Prepared{Tokenizer: t, Train: e.train, Val: e.val, BytesPerToken: e.bytesPerToken,
		Task: taskFor(spec, t)}, nil
}

func taskFor(spec Spec, t tokenizer.Tokenizer) Task {
	if spec.Kind != KindSynthetic {
		return nil
	}
	return NewTask(spec.Generator, t)
}

// SplitText cuts text at rune floor(n·(1−valFraction)) of its n runes and
// returns the two parts.
func SplitText(text string, valFraction float64) (train, val string) {
	n := 0
	for range text {
		n++
	}
	cut := int(float64(n) * (1 - valFraction))
	i := 0
	for off := range text {
		if i == cut {
			return text[:off], text[off:]
		}
		i++
	}
	return text, ""
}

// SplitDocuments splits text, made of documents ending at the byte offsets
// ends, by whole documents. Of n documents, k = floor(n·valFraction) clamped
// to [1, n−1] go to val: with SplitTail the last k; with SplitInterleaved
// document i (from 0) whenever floor((i+1)·k/n) > floor(i·k/n), i.e. k
// documents evenly spaced through the stream (for k = n/10: documents 9, 19,
// 29, ...). Each split keeps its documents in stream order.
func SplitDocuments(text string, ends []int, split string, valFraction float64) (train, val string, err error) {
	n := len(ends)
	if n < 2 {
		return "", "", fmt.Errorf("split %s needs at least 2 documents, the data has %d", split, n)
	}
	k := min(max(int(float64(n)*valFraction), 1), n-1)
	isVal := func(i int) bool {
		if split == SplitTail {
			return i >= n-k
		}
		return (i+1)*k/n > i*k/n
	}
	var tb, vb strings.Builder
	start := 0
	for i, end := range ends {
		if isVal(i) {
			vb.WriteString(text[start:end])
		} else {
			tb.WriteString(text[start:end])
		}
		start = end
	}
	return tb.String(), vb.String(), nil
}

func build(ctx context.Context, spec Spec, tok tokenizer.Spec, c *Corpus) (*Prepared, error) {
	if isTokenIDs(spec.Kind) {
		vocab := tok.VocabSize
		if vocab == 0 {
			vocab = int(c.MaxID) + 1
		}
		if int(c.MaxID) >= vocab {
			return nil, fmt.Errorf("token id %d in the .bin files is not below tokenizer vocab_size %d", c.MaxID, vocab)
		}
		t, err := tokenizer.NewIDs(vocab)
		if err != nil {
			return nil, err
		}
		return &Prepared{Tokenizer: t, Train: c.TrainIDs, Val: c.ValIDs}, nil
	}
	var trainText, valText string
	if spec.Split == "" {
		trainText, valText = SplitText(c.Text, spec.ValFraction)
		if len(trainText) == 0 || len(valText) == 0 {
			if strings.TrimSpace(c.Text) == "" { // not "1 characters": the newline added to an empty file
				return nil, fmt.Errorf("no text: %s holds only empty documents or white space", spec.Path)
			}
			return nil, fmt.Errorf("%d characters are too few to split with val_fraction %v", len([]rune(c.Text)), spec.ValFraction)
		}
	} else {
		var err error
		if trainText, valText, err = SplitDocuments(c.Text, c.docEnds, spec.Split, spec.ValFraction); err != nil {
			return nil, err
		}
	}
	t, err := tokenizer.TrainContext(ctx, tok, trainText)
	if err != nil {
		return nil, fmt.Errorf("train tokenizer: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &Prepared{Tokenizer: t, Train: t.Encode(trainText), Val: t.Encode(valText), Task: taskFor(spec, t)}
	if len(p.Train) < 2 || len(p.Val) < 2 {
		return nil, fmt.Errorf("splits too small: %d train and %d val tokens (need at least 2 each)", len(p.Train), len(p.Val))
	}
	p.BytesPerToken = float64(len(valText)) / float64(len(p.Val))
	return p, nil
}

// VocabSize returns the vocabulary size that tok has on spec's data, as
// sweeps needs before it can count parameters. byte and ids with an explicit
// vocab_size are answered without reading data; otherwise it runs Prepare
// (cached in cacheDir), since char and bpe vocabularies depend on the text.
func VocabSize(ctx context.Context, spec Spec, tok tokenizer.Spec, cacheDir string) (int, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return 0, err
	}
	tok = spec.TokenizerDefaults(tok)
	if err := spec.ValidateTokenizer(tok); err != nil {
		return 0, err
	}
	switch {
	case tok.Kind == tokenizer.KindByte:
		return 256, nil
	case tok.Kind == tokenizer.KindIDs && tok.VocabSize > 0:
		return tok.VocabSize, nil
	}
	p, err := Prepare(ctx, spec, tok, cacheDir)
	if err != nil {
		return 0, err
	}
	return p.Tokenizer.VocabSize(), nil
}

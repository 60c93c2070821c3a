package data

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unicode/utf8"
)

// Corpus is a loaded dataset before tokenization.
type Corpus struct {
	// Text is the whole text stream (every kind but nanogpt). Files are
	// concatenated in sorted path order, each followed by "\n" unless it
	// already ends with one; jsonl documents are joined the same way.
	Text string
	// TrainIDs and ValIDs are the token ids of train.bin and val.bin (nanogpt only).
	TrainIDs, ValIDs []int32
	// MaxID is the largest id in TrainIDs and ValIDs (nanogpt only).
	MaxID int32
	// Files is the number of source files read (0 for synthetic data).
	Files int
	// Docs is the number of documents in Text (files, jsonl lines, parquet
	// rows or e-mail messages); 0 for synthetic and nanogpt data.
	Docs int
	// Hash is the hex sha256 of the loaded content (text, or the raw .bin bytes).
	Hash string

	docEnds []int // byte offset in Text after each document
}

// Load reads or generates the dataset described by spec (defaults applied).
// For text-like kinds Spec.Tokens caps the text at that many characters
// (runes); for nanogpt it caps train.bin at Tokens ids and val.bin at
// Tokens·val_fraction/(1−val_fraction) ids. cacheDir is accepted for the
// package contract; loading itself does not cache (Prepare does).
func Load(ctx context.Context, spec Spec, cacheDir string) (*Corpus, error) {
	_ = cacheDir
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	var (
		c   *Corpus
		err error
	)
	switch spec.Kind {
	case KindText:
		c, err = loadText(ctx, spec)
	case KindJSONL:
		c, err = loadJSONL(ctx, spec)
	case KindParquet:
		c, err = loadParquet(ctx, spec)
	case KindEmail:
		c, err = loadEmail(ctx, spec)
	case KindGoroot:
		c, err = loadGoroot(ctx, spec)
	case KindNanoGPT, KindLLMC:
		c, err = loadTokenIDs(spec)
	case KindSynthetic:
		c = &Corpus{Text: Generate(spec)}
	}
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", spec.Name, err)
	}
	c.Docs = len(c.docEnds)
	if c.Hash == "" {
		sum := sha256.Sum256([]byte(c.Text))
		c.Hash = hex.EncodeToString(sum[:])
	}
	return c, nil
}

// textBuilder concatenates documents up to a cap in runes.
type textBuilder struct {
	b     strings.Builder
	runes int64
	limit int64 // 0: no limit
	ends  []int // byte offset in b after each document
}

// full reports whether the cap is reached.
func (t *textBuilder) full() bool { return t.limit > 0 && t.runes >= t.limit }

// add appends doc plus a "\n" if it does not end with one, up to the cap.
func (t *textBuilder) add(doc string) {
	if !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	n := int64(utf8.RuneCountInString(doc))
	if t.limit > 0 && t.runes+n > t.limit {
		k := t.limit - t.runes
		end := 0
		for i := range doc {
			if k == 0 {
				end = i
				break
			}
			k--
		}
		doc, n = doc[:end], t.limit-t.runes
	}
	if doc == "" {
		return
	}
	t.b.WriteString(doc)
	t.runes += n
	t.ends = append(t.ends, t.b.Len())
}

// checkUTF8 returns an error naming the file and byte offset of the first
// invalid UTF-8 sequence in b.
func checkUTF8(name string, b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	off := 0
	for off < len(b) {
		r, size := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	return fmt.Errorf("%s: invalid UTF-8 at byte offset %d (text datasets must be UTF-8)", name, off)
}

func loadText(ctx context.Context, spec Spec) (*Corpus, error) {
	files, err := textFiles(spec.Path)
	if err != nil {
		return nil, err
	}
	tb := textBuilder{limit: spec.Tokens}
	c := &Corpus{}
	for _, f := range files {
		if tb.full() {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := readSource(f)
		if err != nil {
			return nil, err
		}
		if err := checkUTF8(f, b); err != nil {
			return nil, err
		}
		tb.add(string(b))
		c.Files++
	}
	c.Text, c.docEnds = tb.b.String(), tb.ends
	return c, nil
}

func loadJSONL(ctx context.Context, spec Spec) (*Corpus, error) {
	files, err := jsonlFiles(spec.Path)
	if err != nil {
		return nil, err
	}
	return readFieldFiles(ctx, files, spec, readJSONLFile)
}

// readFieldFiles builds a corpus from the field spec.Field of every record
// of files, in order, with read adding one file's records to the builder;
// it stops at the first file once spec.Tokens characters are gathered.
func readFieldFiles(ctx context.Context, files []string, spec Spec,
	read func(ctx context.Context, path, field string, tb *textBuilder) error) (*Corpus, error) {
	tb := textBuilder{limit: spec.Tokens}
	c := &Corpus{}
	for _, f := range files {
		if tb.full() {
			break
		}
		if err := read(ctx, f, spec.Field, &tb); err != nil {
			return nil, err
		}
		c.Files++
	}
	c.Text, c.docEnds = tb.b.String(), tb.ends
	return c, nil
}

// readJSONLFile adds the field of every non-blank line of path to tb, until
// tb is full. Errors name path:line.
func readJSONLFile(ctx context.Context, path, field string, tb *textBuilder) error {
	f, err := openSource(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; !tb.full(); line++ {
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			// encoding/json would replace bad bytes by U+FFFD silently;
			// text files with them are refused, so are these lines.
			if !utf8.Valid(b) { // the file:line name only on the error path
				return checkUTF8(fmt.Sprintf("%s:%d", path, line), b)
			}
			var obj map[string]json.RawMessage
			if jerr := json.Unmarshal(b, &obj); jerr != nil {
				return fmt.Errorf("%s:%d: not a JSON object: %w", path, line, jerr)
			}
			raw, ok := obj[field]
			if !ok {
				return fmt.Errorf("%s:%d: no field %q (set field: to the key holding the text)", path, line, field)
			}
			var s string
			if jerr := json.Unmarshal(raw, &s); jerr != nil {
				return fmt.Errorf("%s:%d: field %q is not a string: %w", path, line, field, jerr)
			}
			tb.add(s)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	return nil
}

// Goroot returns the Go distribution's root: $GOROOT if set, else `go env
// GOROOT`, else runtime.GOROOT().
func Goroot(ctx context.Context) (string, error) {
	if g := os.Getenv("GOROOT"); g != "" {
		return g, nil
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output(); err == nil {
		if g := strings.TrimSpace(string(out)); g != "" {
			return g, nil
		}
	}
	//lint:ignore SA1019 last resort when the go command is unavailable.
	if g := runtime.GOROOT(); g != "" {
		return g, nil
	}
	return "", errors.New("cannot find the Go root: set GOROOT or put the go command on PATH")
}

func loadGoroot(ctx context.Context, spec Spec) (*Corpus, error) {
	root, err := Goroot(ctx)
	if err != nil {
		return nil, err
	}
	src := filepath.Join(root, "src")
	var files []string
	werr := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".go") {
			files = append(files, p)
		}
		return nil
	})
	if werr != nil {
		return nil, fmt.Errorf("walk %s: %w", src, werr)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .go files under %s", src)
	}
	slices.Sort(files)
	tb := textBuilder{limit: spec.Tokens}
	c := &Corpus{}
	for _, f := range files {
		if tb.full() {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		if !utf8.Valid(b) {
			slog.Debug("goroot: skipping file that is not UTF-8", "file", f)
			continue
		}
		tb.add(string(b))
		c.Files++
	}
	c.Text, c.docEnds = tb.b.String(), tb.ends
	return c, nil
}

// loadTokenIDs reads token-id data: nanogpt's train.bin and val.bin (raw
// uint16 or llm.c shards, told apart by the magic) or llmc's shard sets.
func loadTokenIDs(spec Spec) (*Corpus, error) {
	var valLimit int64
	if spec.Tokens > 0 {
		valLimit = max(1, int64(float64(spec.Tokens)*spec.ValFraction/(1-spec.ValFraction)+0.5))
	}
	trainFiles := []string{filepath.Join(spec.Path, "train.bin")}
	valFiles := []string{filepath.Join(spec.Path, "val.bin")}
	if spec.Kind == KindLLMC {
		var err error
		if trainFiles, valFiles, err = llmcShards(spec.Path); err != nil {
			return nil, err
		}
	}
	// Hash: sha256 of the train bytes' sha256 and the val bytes' sha256.
	trainHash, valHash := sha256.New(), sha256.New()
	train, nTrain, err := readTokenFiles(trainFiles, spec.Tokens, trainHash, spec.Kind == KindLLMC)
	if err != nil {
		return nil, err
	}
	val, nVal, err := readTokenFiles(valFiles, valLimit, valHash, spec.Kind == KindLLMC)
	if err != nil {
		return nil, err
	}
	if len(train) < 2 || len(val) < 2 {
		return nil, fmt.Errorf("%s: the train files have %d and the val files %d ids; need at least 2 each", spec.Path, len(train), len(val))
	}
	sum := sha256.Sum256(append(trainHash.Sum(nil), valHash.Sum(nil)...))
	c := &Corpus{TrainIDs: train, ValIDs: val, Files: nTrain + nVal, Hash: hex.EncodeToString(sum[:])}
	for _, s := range [][]int32{train, val} {
		c.MaxID = max(c.MaxID, slices.Max(s))
	}
	return c, nil
}

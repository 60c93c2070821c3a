// Command dumptokens writes the token stream that `tinyscale run` trains on
// in nanoGPT's on-disk format, so that an outside trainer (PyTorch,
// tools/torch_nanogpt_train.py) sees exactly the same tokens and split.
//
// It loads and expands an experiments file, takes one run (the first, or
// the one named by -run), prepares its dataset with data.Prepare — the same
// call, specs and cache the runner uses — and writes
//
//	OUT/train.bin, OUT/val.bin   little-endian uint16 token ids (nanoGPT's format)
//	OUT/meta.json                vocab_size, sizes, bytes_per_token, the run's
//	                             resolved config and the tokenizer JSON
//
// Usage:
//
//	go run ./tools/dumptokens -f examples/nanogpt-char.yaml -out /tmp/nanogpt/tokens
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

func main() {
	file := flag.String("f", "experiments.yaml", "experiments file")
	runName := flag.String("run", "", "run name (default: the first run of the file)")
	out := flag.String("out", "", "output directory (required)")
	cache := flag.String("cache", "", "data cache directory (default: tinyscale's)")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: dumptokens -f FILE.yaml -out DIR [-run NAME] [-cache DIR]")
		os.Exit(2)
	}
	if err := dump(context.Background(), *file, *runName, *out, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "dumptokens:", err)
		os.Exit(1)
	}
}

func dump(ctx context.Context, file, runName, out, cacheDir string) error {
	if cacheDir == "" {
		cacheDir = data.DefaultCacheDir()
	}
	f, err := sweeps.Load(file)
	if err != nil {
		return err
	}
	runs, err := f.Expand(func(d data.Spec, t tokenizer.Spec) (int, error) {
		return data.VocabSize(ctx, d, t, cacheDir)
	})
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return errors.New("the file expands to no runs")
	}
	r := runs[0]
	if runName != "" {
		found := false
		for _, x := range runs {
			if x.Name == runName {
				r, found = x, true
				break
			}
		}
		if !found {
			return fmt.Errorf("no run named %q in %s", runName, file)
		}
	}
	p, err := data.Prepare(ctx, r.Data, r.Tokenizer, cacheDir)
	if err != nil {
		return fmt.Errorf("prepare %s: %w", r.Name, err)
	}
	v := p.Tokenizer.VocabSize()
	if v > 1<<16 {
		return fmt.Errorf("vocabulary %d does not fit uint16", v)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := writeBin(filepath.Join(out, "train.bin"), p.Train, v); err != nil {
		return err
	}
	if err := writeBin(filepath.Join(out, "val.bin"), p.Val, v); err != nil {
		return err
	}
	tokJSON, err := p.Tokenizer.MarshalJSON()
	if err != nil {
		return fmt.Errorf("tokenizer json: %w", err)
	}
	meta := map[string]any{
		"run":             r.Name,
		"config_hash":     r.Hash(),
		"config":          json.RawMessage(r.ConfigJSON()),
		"vocab_size":      v,
		"train_tokens":    len(p.Train),
		"val_tokens":      len(p.Val),
		"bytes_per_token": p.BytesPerToken,
		"tokenizer":       json.RawMessage(tokJSON),
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "meta.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: vocab %d, train %d, val %d tokens -> %s\n", r.Name, v, len(p.Train), len(p.Val), out)
	return nil
}

// writeBin writes ids as little-endian uint16, as nanoGPT's prepare.py does.
func writeBin(path string, ids []int32, vocab int) error {
	buf := make([]byte, 2*len(ids))
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("%s: token %d at %d outside [0, %d)", path, id, i, vocab)
		}
		binary.LittleEndian.PutUint16(buf[2*i:], uint16(id))
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

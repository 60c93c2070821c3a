package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/tokenizer"
)

func TestSpecValidate(t *testing.T) {
	halfNano := t.TempDir()
	writeBin(t, filepath.Join(halfNano, "train.bin"), []uint16{1, 2, 3})
	cases := []struct {
		name string
		spec Spec
		want string // "" = valid
	}{
		{"text file", Spec{Kind: KindText, Path: "testdata/text/b.txt"}, ""},
		{"text dir", Spec{Kind: KindText, Path: "testdata/text"}, ""},
		{"text glob", Spec{Kind: KindText, Path: "testdata/text/*.txt"}, ""},
		{"jsonl", Spec{Kind: KindJSONL, Path: "testdata/docs.jsonl", Field: "body"}, ""},
		{"goroot", Spec{Kind: KindGoroot, Tokens: 1000}, ""},
		{"stories", Spec{Kind: KindSynthetic, Generator: GenStories}, ""},
		{"mqar", Spec{Kind: KindSynthetic, Generator: GenMQAR, Tokens: 5000, ValFraction: 0.2, Seed: 7}, ""},
		{"unknown kind", Spec{Name: "d", Kind: "csv"}, `dataset d: unknown kind "csv" (allowed: email, goroot, jsonl, llmc, nanogpt, parquet, synthetic, text)`},
		{"unknown generator", Spec{Kind: KindSynthetic, Generator: "poems"}, `unknown generator "poems" (allowed: copy, mqar, stories)`},
		{"missing generator", Spec{Kind: KindSynthetic}, `unknown generator ""`},
		{"no path", Spec{Kind: KindText}, "kind text requires path"},
		{"missing file", Spec{Kind: KindText, Path: "testdata/nope.txt"}, "path testdata/nope.txt does not exist"},
		{"empty glob", Spec{Kind: KindText, Path: "testdata/*.nothing"}, "glob testdata/*.nothing matches no files"},
		{"jsonl dir", Spec{Kind: KindJSONL, Path: "testdata"}, ""},
		{"jsonl dir without jsonl", Spec{Kind: KindJSONL, Path: "testdata/text"}, "directory testdata/text contains no *.jsonl, *.ndjson or *.json files"},
		{"jsonl missing", Spec{Kind: KindJSONL, Path: "testdata/x.jsonl"}, "path testdata/x.jsonl does not exist"},
		{"nanogpt missing val", Spec{Kind: KindNanoGPT, Path: halfNano}, "val.bin does not exist"},
		{"val_fraction", Spec{Kind: KindGoroot, ValFraction: 1}, "val_fraction 1 must be in (0, 1)"},
		{"val_fraction neg", Spec{Kind: KindGoroot, ValFraction: -0.1}, "val_fraction -0.1"},
		{"tokens neg", Spec{Kind: KindGoroot, Tokens: -5}, "tokens -5 must not be negative"},
		{"tiny synthetic", Spec{Kind: KindSynthetic, Generator: GenCopy, Tokens: 10}, "too small"},
		{"huge synthetic", Spec{Kind: KindSynthetic, Generator: GenStories, Tokens: 1e15}, "tokens 1000000000000000 too large for a synthetic corpus (at most 1000000000: it is generated in memory)"},
		{"largest synthetic", Spec{Kind: KindSynthetic, Generator: GenStories, Tokens: MaxSyntheticTokens}, ""},
		{"path on synthetic", Spec{Kind: KindSynthetic, Generator: GenCopy, Path: "x"}, "not allowed for kind synthetic"},
		{"path on goroot", Spec{Kind: KindGoroot, Path: "x"}, "not allowed for kind goroot"},
		{"generator on text", Spec{Kind: KindText, Path: "testdata/text", Generator: GenCopy}, "only allowed for kind synthetic"},
		{"field on text", Spec{Kind: KindText, Path: "testdata/text", Field: "x"}, "only allowed for kinds jsonl and parquet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want containing %q", err, c.want)
			}
		})
	}
}

func TestValidateTokenizer(t *testing.T) {
	nano := t.TempDir()
	writeBin(t, filepath.Join(nano, "train.bin"), []uint16{1, 2})
	writeBin(t, filepath.Join(nano, "val.bin"), []uint16{1, 2})
	nanoSpec := Spec{Kind: KindNanoGPT, Path: nano}
	textSpec := Spec{Kind: KindText, Path: "testdata/text"}
	cases := []struct {
		name string
		spec Spec
		tok  tokenizer.Spec
		want string
	}{
		{"nanogpt default", nanoSpec, tokenizer.Spec{}, ""},
		{"nanogpt ids", nanoSpec, tokenizer.Spec{Kind: tokenizer.KindIDs, VocabSize: 50304}, ""},
		{"nanogpt char", nanoSpec, tokenizer.Spec{Kind: tokenizer.KindChar}, "tokenizer kind must be \"ids\""},
		{"text ids", textSpec, tokenizer.Spec{Kind: tokenizer.KindIDs}, "only allowed with nanogpt"},
		{"text default", textSpec, tokenizer.Spec{}, ""},
		{"text bpe", textSpec, tokenizer.Spec{Kind: tokenizer.KindBPE, VocabSize: 512}, ""},
		{"bad tokenizer", textSpec, tokenizer.Spec{Kind: "gpt2"}, "unknown kind \"gpt2\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.ValidateTokenizer(c.tok)
			if c.want == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error = %v, want containing %q", err, c.want)
			}
		})
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("TINYSCALE_CACHE", "/some/where")
	if got := DefaultCacheDir(); got != "/some/where" {
		t.Errorf("with TINYSCALE_CACHE: %q", got)
	}
	t.Setenv("TINYSCALE_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, err := os.UserCacheDir(); err == nil {
		if got := DefaultCacheDir(); got != filepath.Join(d, "tinyscale") {
			t.Errorf("with XDG_CACHE_HOME: %q", got)
		}
	}
}

package sweeps

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader and expander: they may fail,
// never panic, and every run they return has a canonical JSON and a hash.
// Run longer with: go test ./sweeps -run '^$' -fuzz FuzzLoad -fuzztime 30s
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	bad, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range append(seeds, bad...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("a: &a {b: *a}\nexperiments: *a"))
	f.Add([]byte("defaults: {budget: {flops: 1e300}}\nexperiments: [{name: x, models: [{family: gpt2, n_embd: 1e9}]}]"))
	f.Add([]byte("experiments: [{name: x, pair: [gpt2, silia], match: params, params: 1e300, budget: {tokens: 9e15}}]"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.yaml", src)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		runs, err := file.Expand(fixedVocab(100))
		if err != nil {
			return
		}
		for _, r := range runs {
			if r.Name == "" || len(r.Hash()) != 64 || len(r.ConfigJSON()) == 0 {
				t.Fatalf("bad run %+v", r)
			}
		}
	})
}

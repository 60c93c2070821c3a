package sweeps

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRecordFields checks the pair keys, file hash and reference that
// Expand attaches to runs, and that none of them enters a run's hash.
func TestRecordFields(t *testing.T) {
	const body = `defaults: {budget: {steps: 10}}
experiments:
  - name: pair
    pair: [gpt2-rope-swiglu, silia]
    match: params
    sweep: {params: [100K, 300K], seed: [1, 2]}
%s  - name: abl
    models: [{family: gpt2, n_embd: 32}, {family: gpt2, n_embd: 64}, {family: silia, n_embd: 32}]
    sweep: {seed: [1], optimizer.lr: [1e-3]}
`
	plain, err := Parse("a.yaml", []byte(fmtBody(body, "")))
	if err != nil {
		t.Fatal(err)
	}
	withRef, err := Parse("b.yaml", []byte(fmtBody(body, "    reference: {source: \"paper v1\", val_loss: {silia: 1.48, gpt2-rope-swiglu: 1.44}}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if plain.SHA256 == withRef.SHA256 || len(plain.SHA256) != 64 {
		t.Fatalf("file hashes %q, %q", plain.SHA256, withRef.SHA256)
	}
	a, err := plain.Expand(fixedVocab(65))
	if err != nil {
		t.Fatal(err)
	}
	b, err := withRef.Expand(fixedVocab(65))
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := map[string]string{
		"pair/gpt2-rope-swiglu/params=100K,seed=1": "pair/params=100K",
		"pair/silia/params=300K,seed=2":            "pair/params=300K",
		"abl/gpt2-32x4x2/seed=1,optimizer.lr=1e-3": "abl/optimizer.lr=1e-3/32x4x2",
		"abl/gpt2-64x4x2/seed=1,optimizer.lr=1e-3": "abl/optimizer.lr=1e-3/64x4x2",
		"abl/silia/seed=1,optimizer.lr=1e-3":       "abl/optimizer.lr=1e-3/32x4x2",
	}
	for i := range a {
		if a[i].Hash() != b[i].Hash() {
			t.Errorf("%s: reference changed the run hash", a[i].Name)
		}
		if a[i].ExperimentsSHA256 != plain.SHA256 || b[i].ExperimentsSHA256 != withRef.SHA256 {
			t.Errorf("%s: experiments hash not recorded", a[i].Name)
		}
		if want, ok := wantKeys[a[i].Name]; ok && a[i].PairKey != want {
			t.Errorf("%s: pair key %q, want %q", a[i].Name, a[i].PairKey, want)
		}
	}
	got := byName(b)
	src, loss, ok := got["pair/silia/params=100K,seed=1"].ReferenceValLoss()
	if !ok || src != "paper v1" || loss != 1.48 {
		t.Errorf("silia reference = %q %v %v", src, loss, ok)
	}
	if _, _, ok := got["abl/silia/seed=1,optimizer.lr=1e-3"].ReferenceValLoss(); ok {
		t.Error("abl has no reference")
	}
	if s := got["pair/silia/params=100K,seed=1"].SweepJSON(); s != `{"params":"100K","seed":"1"}` {
		t.Errorf("SweepJSON = %s", s)
	}
}

func fmtBody(body, ref string) string { return strings.Replace(body, "%s", ref, 1) }

func TestReadHeader(t *testing.T) {
	h, err := ReadHeader(filepath.Join("..", "experiments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if h.DB == "" || !slices.Contains(h.Experiments, "pair") {
		t.Errorf("header %+v", h)
	}
	if _, err := ReadHeader(filepath.Join(t.TempDir(), "none.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

package runner

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// TestRecordBackfillAgreesWithSweeps holds store's back-fill of old
// databases (records derived from config_json) to the record sweeps writes
// for new runs: for every run of the shipped experiment files, both give the
// same record but for what config_json cannot know (the experiments file's
// hash and the reference).
func TestRecordBackfillAgreesWithSweeps(t *testing.T) {
	files := []string{"../experiments.yaml", "../examples/paper-v1.yaml", "../examples/nanogpt-char.yaml",
		"../sweeps/testdata/issue.yaml", "../sweeps/testdata/v2.yaml", "../sweeps/testdata/good_features.yaml"}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := sweeps.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			runs, err := f.Expand(func(data.Spec, tokenizer.Spec) (int, error) { return 97, nil })
			if err != nil {
				t.Fatalf("expand: %v", err)
			}
			rows := make([]store.ConfigRow, len(runs))
			for i, r := range runs {
				rows[i] = store.ConfigRow{Experiment: r.Experiment, ConfigJSON: r.ConfigJSON()}
			}
			derived, err := store.RecordsFromConfigJSON(rows)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range runs {
				want := RunRecord(r)
				want.ExperimentsSHA256, want.ReferenceSource, want.ReferenceValLoss = "", "", 0
				got := derived[i]
				if !math.IsNaN(got.ReferenceValLoss) {
					t.Errorf("%s: derived reference %v", r.Name, got.ReferenceValLoss)
				}
				got.ReferenceValLoss = 0
				if got != want {
					t.Errorf("%s:\nback-fill %+v\n   sweeps %+v", r.Name, got, want)
				}
			}
		})
	}
}

// TestRunRecordCarriesReference: an experiment's reference: reaches the
// store record of each run of a named family, with the file's hash.
func TestRunRecordCarriesReference(t *testing.T) {
	src := []byte(`defaults: {budget: {steps: 10}}
experiments:
  - name: e
    pair: [gpt2-rope-swiglu, silia]
    model: {n_embd: 16}
    reference: {source: "paper v1", val_loss: {silia: 1.48}}
`)
	f, err := sweeps.Parse("e.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := f.Expand(func(data.Spec, tokenizer.Spec) (int, error) { return 65, nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		rec := StoreRun(r).Record
		if rec.ExperimentsSHA256 != f.SHA256 || rec.PairKey != "e" || rec.HeadDim != 16 {
			t.Errorf("%s: record %+v", r.Name, rec)
		}
		switch r.Family {
		case "silia":
			if rec.ReferenceSource != "paper v1" || rec.ReferenceValLoss != 1.48 || rec.Width != 16 {
				t.Errorf("silia record %+v", rec)
			}
		default:
			if rec.ReferenceSource != "" || !math.IsNaN(rec.ReferenceValLoss) || rec.Width != 64 {
				t.Errorf("%s record %+v", r.Family, rec)
			}
		}
	}
}

package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/store"
)

// writeFixtureDB stores ds through the store API into a new database.
func writeFixtureDB(t *testing.T, ds Dataset) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "results.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, r := range ds.Runs {
		err := db.UpsertRun(ctx, store.Run{
			Name: r.Name, Experiment: r.Experiment, Family: r.Family,
			ConfigHash: r.ConfigHash,
			Record: store.RunRecord{Width: r.Width, HeadDim: r.HeadDim, NHead: r.NHead, NLayer: r.NLayer,
				VocabSize: r.VocabSize, Seed: r.Seed, LR: r.LR, PairKey: r.PairKey, MatchBy: r.MatchBy,
				MatchTarget: r.MatchTarget, SweepJSON: sweepJSON(t, r.Sweep), ExperimentsSHA256: r.ExperimentsSHA256,
				ReferenceSource: r.ReferenceSource, ReferenceValLoss: r.ReferenceValLoss}, ParamsTotal: r.ParamsTotal, ParamsNonEmbedding: r.ParamsNonEmbedding,
			FlopsPerToken: r.FlopsPerToken, StepsTotal: r.StepsTotal, BudgetTokens: r.BudgetTokens,
			Host: r.Host, BLAS: r.BLAS,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SetStatus(ctx, r.Name, store.StatusRunning, ""); err != nil {
			t.Fatal(err)
		}
		rows := make([]store.Step, len(r.Steps))
		for i, s := range r.Steps {
			rows[i] = store.Step{Step: s.Step, Tokens: s.Tokens, Flops: s.Flops, Loss: s.Loss, LR: s.LR,
				GradNorm: s.GradNorm, StepMS: s.StepMS, ElapsedS: s.ElapsedS}
		}
		if err := db.WriteSteps(ctx, r.Name, rows); err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Evals {
			se := store.Eval{Run: r.Name, Step: e.Step, Split: e.Split, Loss: e.Loss, BPB: e.BPB}
			if !math.IsNaN(e.Accuracy) {
				a := e.Accuracy
				se.Accuracy = &a
			}
			if err := db.WriteEval(ctx, se); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range r.Samples {
			if err := db.WriteSample(ctx, store.Sample{Run: r.Name, Step: s.Step, Prompt: s.Prompt, Text: s.Text}); err != nil {
				t.Fatal(err)
			}
		}
		if r.Status != store.StatusRunning {
			if err := db.SetStatus(ctx, r.Name, r.Status, r.FailReason); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path
}

// TestLoadFromStore stores the fixture through the store API, loads it back
// and checks that the report equals the one built from the Dataset directly
// (the goldens).
func TestLoadFromStore(t *testing.T) {
	path := writeFixtureDB(t, fixture())
	db, err := store.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ds, err := Load(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	ds.Experiments = []string{"scale", "lr"}
	rep, err := Build(ds, Options{DPI: goldenDPI})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"param_efficiency.md", "param_efficiency.csv", "pairs.csv", "runs.csv", "headline.md"} {
		want, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Files["tables/"+name]; !bytes.Equal(got, want) {
			t.Errorf("%s from the store differs from the golden:\n%s", name, got)
		}
	}
}

func TestLoadEmptyDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Load(context.Background(), db)
	if !errors.Is(err, ErrNoRuns) || !strings.Contains(err.Error(), path) {
		t.Fatalf("empty DB: %v, want ErrNoRuns naming the file", err)
	}
}

// sweepJSON encodes a sweep map as the store keeps it.
func sweepJSON(t *testing.T, m map[string]string) string {
	t.Helper()
	if m == nil {
		return "{}"
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

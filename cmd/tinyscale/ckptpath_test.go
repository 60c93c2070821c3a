package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/runner"
	"github.com/tinyscale/tinyscale/store/storetest"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// TestSampleAbsoluteDBFromElsewhere reproduces issue 9's second failure: a
// database trained as X/results.db from the parent of X, then sampled with
// an absolute --db from an unrelated directory, must find its checkpoint.
func TestSampleAbsoluteDBFromElsewhere(t *testing.T) {
	ctx := context.Background()
	tok := tokenizer.NewChar(fixtureText)
	tj, _ := tok.MarshalJSON()
	ids := tok.Encode(strings.Repeat(fixtureText, 30))
	cfg, _ := models.DefaultConfig(models.FamilyGPT2)
	cfg.NEmbd, cfg.NHead, cfg.NLayer, cfg.BlockSize, cfg.VocabSize = 8, 2, 1, 8, tok.VocabSize()
	r := sweeps.Run{
		Name: "cwd/gpt2", Experiment: "cwd", Family: cfg.Family, Model: cfg,
		BlockSize: 8, BatchSize: 2, GradAccum: 1,
		Optimizer: sweeps.Optimizer{Name: "adamw", LR: 1e-2, MinLR: 1e-3, Warmup: 1, Schedule: "cosine",
			Betas: [2]float64{0.9, 0.95}, Eps: 1e-10, WeightDecay: 0.1, GradClip: 1},
		Budget:     sweeps.Budget{Kind: sweeps.BudgetSteps, Steps: 2},
		Eval:       sweeps.Eval{Every: 2, Batches: 1, FinalBatches: 1},
		Checkpoint: sweeps.Checkpoint{Every: 2, Keep: 1},
		Seed:       1,
	}
	root := t.TempDir()
	t.Chdir(root)
	db := storetest.MustOpenPath(t, filepath.Join("X", "results.db"))
	n := len(ids) * 9 / 10
	_, err := runner.Run(ctx, runner.Options{
		DB: db, Runs: []sweeps.Run{r}, Owner: "test:1", Log: slog.New(slog.DiscardHandler),
		NewModel: runner.NewTrainerModel,
		Data: func(context.Context, sweeps.Run) (*runner.Dataset, error) {
			return &runner.Dataset{Train: ids[:n], Val: ids[n:], BytesPerToken: 1, TokenizerJSON: tj}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	out, stderr, code := runCmd(t, "sample", "--db", filepath.Join(root, "X", "results.db"), "--run", r.Name, "--prompt", "the ", "--tokens", "4")
	if code != 0 || !strings.HasPrefix(out, "the ") {
		t.Fatalf("sample from another directory: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
}

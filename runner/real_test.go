package runner

import (
	"context"
	"errors"
	"testing"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/store/storetest"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// crashingModel fails its n-th Step, like a process dying mid-step.
type crashingModel struct {
	Model
	n, calls int
}

func (c *crashingModel) Step(in, tg []int32) (float32, error) {
	c.calls++
	if c.calls == c.n {
		return 0, errCrash
	}
	return c.Model.Step(in, tg)
}

func (c *crashingModel) SetMicroStep(n uint64) { c.Model.(MicroStepSetter).SetMicroStep(n) }

// realRun is a tiny run of a real model family on synthetic stories.
func realRun(t *testing.T, cache, family string, mutate func(*sweeps.Run)) sweeps.Run {
	t.Helper()
	return realRunOn(t, cache, data.GenStories, family, mutate)
}

func realRunOn(t *testing.T, cache, generator, family string, mutate func(*sweeps.Run)) sweeps.Run {
	t.Helper()
	spec := data.Spec{Name: generator, Kind: data.KindSynthetic, Generator: generator, Tokens: 20000, ValFraction: 0.1, Seed: 1}
	tok := tokenizer.Spec{Kind: tokenizer.KindChar}
	p, err := data.Prepare(context.Background(), spec, tok, cache)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := models.DefaultConfig(family)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NEmbd, cfg.NHead, cfg.NLayer, cfg.BlockSize, cfg.VocabSize = 8, 2, 1, 16, p.Tokenizer.VocabSize()
	r := sweeps.Run{Name: "real/" + family, Experiment: "real", Family: family, Model: cfg, Data: spec, Tokenizer: tok,
		BlockSize: 16, BatchSize: 4, GradAccum: 1,
		Optimizer: sweeps.Optimizer{Name: "adamw", LR: 1e-2, MinLR: 1e-3, Warmup: 3, Schedule: "cosine",
			Betas: [2]float64{0.9, 0.95}, Eps: 1e-10, WeightDecay: 0.1, GradClip: 1, Momentum: 0.95},
		Budget: sweeps.Budget{Kind: sweeps.BudgetSteps, Steps: 24}, Eval: sweeps.Eval{Every: 8, Batches: 1, FinalBatches: 2},
		Checkpoint: sweeps.Checkpoint{Every: 8, Keep: 3}, Seed: 3}
	if mutate != nil {
		mutate(&r)
	}
	return r
}

// TestRealModelsResumeBitIdentical trains real gorgonia models (with dropout,
// Muon and gradient accumulation) through a crash and checks the resumed
// curve equals the uninterrupted one bit for bit.
func TestRealModelsResumeBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("trains real models")
	}
	cache := t.TempDir()
	tests := []struct {
		name   string
		family string
		mutate func(*sweeps.Run)
	}{
		{"gpt2 dropout adamw", models.FamilyGPT2, func(r *sweeps.Run) { r.Model.Dropout = 0.1 }},
		{"silia muon accum wsd", models.FamilySilia, func(r *sweeps.Run) {
			r.Optimizer.Name, r.Optimizer.Schedule, r.Optimizer.CooldownFrac, r.GradAccum = "muon", "wsd", 0.5, 2
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := realRun(t, cache, tc.family, tc.mutate)
			ref := storetest.MustOpenDB(t)
			o, _ := testOptions(ref, &fakeWorld{}, r)
			o.Wire(cache)
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			want := losses(t, ref, r.Name)
			evals, _ := ref.Evals(ctx, r.Name)
			samples, _ := ref.Samples(ctx, r.Name)
			if len(evals) != 7 || len(samples) != 3 || samples[0].Text == "" {
				t.Errorf("%d evals, %d samples (%+v)", len(evals), len(samples), samples)
			}

			db := storetest.MustOpenDB(t)
			o.DB = db
			crashAt := 13 * max(r.GradAccum, 1)
			o.NewModel = func(cfg models.Config, batch int, seed uint64) (Model, error) {
				m, err := NewTrainerModel(cfg, batch, seed)
				return &crashingModel{Model: m, n: crashAt}, err
			}
			o.FlushEvery = 1
			if _, err := Run(ctx, o); !errors.Is(err, errCrash) {
				t.Fatalf("crash session: %v", err)
			}
			o.Wire(cache)
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			sameBits(t, losses(t, db, r.Name), want)
			s, err := LoadLatest(ctx, db, r.Name)
			if err != nil || s.Step != 24 {
				t.Fatalf("LoadLatest: %v", err)
			}
			if _, err := models.NewInference(s.Run.Model, s.Params); err != nil {
				t.Errorf("snapshot weights do not load into inference: %v", err)
			}
		})
	}
}

func TestTaskAccuracyEvals(t *testing.T) {
	if testing.Short() {
		t.Skip("trains real models")
	}
	ctx := context.Background()
	cache := t.TempDir()
	for _, gen := range []string{data.GenMQAR, data.GenCopy} {
		t.Run(gen, func(t *testing.T) {
			r := realRunOn(t, cache, gen, models.FamilySilia, nil)
			db := storetest.MustOpenDB(t)
			o, logs := testOptions(db, &fakeWorld{}, r)
			o.Wire(cache)
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			evals, _ := db.Evals(ctx, r.Name)
			n := 0
			for _, e := range evals {
				if e.Split == gen || e.Split == gen+"_exact" {
					if e.Accuracy == nil || *e.Accuracy < 0 || *e.Accuracy > 1 {
						t.Errorf("%s at %d: accuracy %v", e.Split, e.Step, e.Accuracy)
					}
					n++
				}
			}
			// Evals at steps 8, 16 and 24 (the final eval shares step 24),
			// token and exact-match accuracy each.
			if n != 6 {
				t.Errorf("%d task evals, want 6\n%s", n, logs)
			}
		})
	}
}

package runner

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

func randSlice(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 5))
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// BenchmarkAdamWStep is one AdamW update of 1M parameters (split over
// GOMAXPROCS goroutines), beside one serial pass over the same tensor on
// this process's kernel (serial) and in plain Go (serial-go).
func BenchmarkAdamWStep(b *testing.B) {
	const n = 1 << 20
	v, g, m, s := randSlice(n, 1), randSlice(n, 2), make([]float32, n), make([]float32, n)
	h := DefaultHyper()
	b.Run("split", func(b *testing.B) {
		b.SetBytes(n * 4)
		for i := 0; b.Loop(); i++ {
			AdamWStep(v, g, m, s, int64(i+1), 1e-3, h, true)
		}
	})
	b.Run("serial", func(b *testing.B) {
		b.SetBytes(n * 4)
		for i := 0; b.Loop(); i++ {
			newAdamWCoef(int64(i+1), 1e-3, h, true).update(v, g, m, s)
		}
	})
	b.Run("serial-go", func(b *testing.B) {
		b.SetBytes(n * 4)
		for i := 0; b.Loop(); i++ {
			newAdamWCoef(int64(i+1), 1e-3, h, true).updateGo(v, g, m, s)
		}
	})
}

// BenchmarkNewtonSchulz is Muon's orthogonalisation of hidden matrices of
// the sizes in the reference sweeps (d=256: qkv 768x256, mlp 1024x256).
func BenchmarkNewtonSchulz(b *testing.B) {
	for _, sz := range []struct{ r, c int }{{256, 256}, {768, 256}, {256, 1024}} {
		g := randSlice(sz.r*sz.c, 3)
		b.Run(itoa(sz.r)+"x"+itoa(sz.c)+"/gonum-sgemm", func(b *testing.B) {
			for b.Loop() {
				NewtonSchulz(g, sz.r, sz.c, 5)
			}
		})
		// Reference: the plain float64 triple loop of optim_test.go.
		b.Run(itoa(sz.r)+"x"+itoa(sz.c)+"/naive-float64", func(b *testing.B) {
			for b.Loop() {
				newtonSchulzRef(g, sz.r, sz.c, 5)
			}
		})
	}
}

// BenchmarkCheckpointWrite streams, fsyncs, reads back and renames a checkpoint of 1M
// parameters with AdamW state (12 MB).
func BenchmarkCheckpointWrite(b *testing.B) {
	c := &ckptContent{Meta: ckptMeta{Run: "bench", Step: 1}}
	for _, name := range []string{"param/w", "adam.m/w", "adam.v/w"} {
		c.Tensors = append(c.Tensors, namedData{Name: name, Shape: []int{1024, 1024}, Data: randSlice(1<<20, 4)})
	}
	path := filepath.Join(b.TempDir(), "step-000000001.ckpt")
	b.SetBytes(3 << 22)
	for b.Loop() {
		if _, _, err := writeCheckpoint(path, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainLoop compares a training step through the whole runner
// (batch sampling, clipping, schedule, buffered store writes, progress) with
// the bare trainer.Step + AdamW loop, on a small real gpt2-rope-swiglu
// (d=64, L=2, block 64, batch 8). ns/op is per optimiser step.
func BenchmarkTrainLoop(b *testing.B) {
	cache := b.TempDir()
	r := realRunB(b, cache)
	ds, err := PrepareData(cache)(context.Background(), r)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bare-trainer", func(b *testing.B) {
		m, err := NewTrainerModel(r.Model, r.BatchSize, r.Seed)
		if err != nil {
			b.Fatal(err)
		}
		opt, _ := NewOptimizer("adamw", m.Params(), DefaultHyper(), nil)
		smp := newSampler(1, streamBatches)
		in := make([]int32, r.BatchSize*r.BlockSize)
		tg := make([]int32, len(in))
		i := int64(0)
		for b.Loop() {
			smp.fill(ds.Train, r.BatchSize, r.BlockSize, in, tg)
			if _, err := m.Step(in, tg); err != nil {
				b.Fatal(err)
			}
			opt.Step(i, 1e-3)
			i++
		}
	})
	b.Run("runner", func(b *testing.B) {
		rr := r
		rr.Budget.Steps = int64(b.N)
		rr.Name = "bench/" + itoa(b.N)
		db, err := store.Open(filepath.Join(b.TempDir(), "r.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		o := Options{DB: db, Runs: []sweeps.Run{rr}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		o.Wire(cache)
		b.ResetTimer()
		if _, err := Run(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	})
}

func realRunB(b *testing.B, cache string) sweeps.Run {
	spec := data.Spec{Name: "stories", Kind: data.KindSynthetic, Generator: data.GenStories, Tokens: 100000, ValFraction: 0.1, Seed: 1}
	tok := tokenizer.Spec{Kind: tokenizer.KindChar}
	p, err := data.Prepare(context.Background(), spec, tok, cache)
	if err != nil {
		b.Fatal(err)
	}
	cfg, _ := models.DefaultConfig(models.FamilyGPT2RoPESwiGLU)
	cfg.NEmbd, cfg.NHead, cfg.NLayer, cfg.BlockSize, cfg.VocabSize = 16, 4, 2, 64, p.Tokenizer.VocabSize()
	return sweeps.Run{Name: "bench", Experiment: "bench", Family: cfg.Family, Model: cfg, Data: spec, Tokenizer: tok,
		BlockSize: 64, BatchSize: 8, GradAccum: 1,
		Optimizer: sweeps.Optimizer{Name: "adamw", LR: 1e-3, MinLR: 1e-4, Schedule: "cosine",
			Betas: [2]float64{0.9, 0.95}, Eps: 1e-10, WeightDecay: 0.1, GradClip: 1, Momentum: 0.95},
		Budget: sweeps.Budget{Kind: sweeps.BudgetSteps, Steps: 1}, Eval: sweeps.Eval{Every: 0, Batches: 1, FinalBatches: 1},
		Checkpoint: sweeps.Checkpoint{Every: 0, Keep: 1}, Seed: 1}
}

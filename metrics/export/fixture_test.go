package export

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// t0 is the fixture's first timestamp; every stored time derives from it.
var t0 = time.Date(2026, 11, 30, 12, 0, 0, 250000000, time.UTC)

func ptr(f float64) *float64 { return &f }

// fixtureDB writes three runs with steps and evaluations, including NaN and
// infinite values, an evaluation-only step and a task split.
func fixtureDB(t *testing.T) *store.DB {
	t.Helper()
	ctx := context.Background()
	db := storetest.MustOpenDB(t, store.WithClock(func() time.Time { return t0 }))
	for _, name := range []string{"exp/gpt2/seed=1", "exp/silia/seed=1", "other/x y"} {
		r := storetest.Run(name, "hash-"+name)
		r.Experiment = name[:3]
		r.ParamsTotal, r.ParamsNonEmbedding, r.FlopsPerToken = 1000, 800, 6000
		r.Record = store.RunRecord{Width: 16, HeadDim: 8, NHead: 2, NLayer: 1, VocabSize: 65, Seed: 1, LR: 3e-3, PairKey: "p", SweepJSON: `{"seed":"1"}`}
		storetest.MustAddRun(t, db, r)
	}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []store.Step{
		{Step: 1, Tokens: 512, Flops: 3072000, Loss: 4.25, LR: 1e-5, GradNorm: 0.5, StepMS: 12.5, ElapsedS: 0.0125, Time: at(1000)},
		{Step: 2, Tokens: 1024, Flops: 6144000, Loss: 3.875, LR: 2e-5, GradNorm: math.NaN(), StepMS: 11, ElapsedS: 0.0235, Time: at(1011)},
		{Step: 3, Tokens: 1536, Flops: 9216000, Loss: math.Inf(1), LR: 3e-5, GradNorm: 1.25, StepMS: 10.001, ElapsedS: 0.033501, Time: at(1021)},
		{Step: 4, Tokens: 2048, Flops: 1.2288e7, Loss: 3.1, LR: 3e-5, GradNorm: 0.75, StepMS: 10, ElapsedS: 0.043501, Time: at(1031)},
	}
	if err := db.WriteSteps(ctx, "exp/gpt2/seed=1", steps); err != nil {
		t.Fatal(err)
	}
	evals := []store.Eval{
		{Run: "exp/gpt2/seed=1", Step: 0, Split: store.SplitVal, Loss: 4.5, BPB: 6.5, Time: at(500)},
		{Run: "exp/gpt2/seed=1", Step: 2, Split: store.SplitTrain, Loss: 3.8, BPB: math.NaN(), Time: at(1015)},
		{Run: "exp/gpt2/seed=1", Step: 2, Split: store.SplitVal, Loss: 3.9, BPB: 5.625, Time: at(1016)},
		{Run: "exp/gpt2/seed=1", Step: 4, Split: store.SplitFinalVal, Loss: 3.2, BPB: 4.75, Time: at(1040)},
		{Run: "exp/gpt2/seed=1", Step: 4, Split: "copy-task", Loss: 0.5, BPB: math.NaN(), Accuracy: ptr(0.875), Time: at(1041)},
	}
	for _, e := range evals {
		if err := db.WriteEval(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.WriteSteps(ctx, "exp/silia/seed=1", []store.Step{
		{Step: 1, Tokens: 256, Flops: 1e6, Loss: 5, LR: 0.001, GradNorm: 2, StepMS: 3, ElapsedS: 0.003, Time: at(2000)},
		{Step: 2, Tokens: 512, Flops: 2e6, Loss: 4.5, LR: 0.001, GradNorm: 1.5, StepMS: 3, ElapsedS: 0.006, Time: at(2003)},
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

package report

import (
	"fmt"
	"math"
	"testing"
)

// benchDataset is a sweep-sized dataset: sizes × families × seeds runs of
// steps steps each, evaluated every 250 steps.
func benchDataset(sizes, seeds, steps int) Dataset {
	var ds Dataset
	for i := 0; i < sizes; i++ {
		for _, fam := range []string{"gpt2-rope-swiglu", "silia"} {
			params := int64(500_000 << i)
			for seed := 1; seed <= seeds; seed++ {
				name := fmt.Sprintf("sweep/%s/size=%d/seed=%d", fam, i, seed)
				r := RunData{Name: name, Experiment: "sweep", Family: fam, Width: 64 << i, HeadDim: 16 << i, NHead: 4, NLayer: 2 + i,
					Seed: uint64(seed), LR: 0.003, PairKey: fmt.Sprintf("sweep/size=%d", i), ParamsTotal: params,
					ParamsNonEmbedding: params / 2, FlopsPerToken: 2 * params, StepsTotal: int64(steps), Status: StatusDone, Step: int64(steps)}
				final := fixLaw(float64(params))
				for s := 1; s <= steps; s++ {
					tok := int64(s) * 4096
					loss := final + 4*math.Exp(-5*float64(s)/float64(steps)) + 0.05*math.Sin(float64(s*seed))
					r.Steps = append(r.Steps, Step{Step: int64(s), Tokens: tok, Flops: 6 * float64(tok*params), Loss: loss,
						LR: 3e-3, GradNorm: 1, StepMS: 100, ElapsedS: 0.1 * float64(s)})
					if s%250 == 0 {
						r.Evals = append(r.Evals, Eval{Step: int64(s), Split: SplitVal, Loss: loss, BPB: math.NaN(), Accuracy: math.NaN()})
					}
				}
				r.Evals = append(r.Evals, Eval{Step: int64(steps), Split: SplitFinalVal, Loss: final + 0.01*float64(seed), BPB: math.NaN(), Accuracy: math.NaN()})
				ds.Runs = append(ds.Runs, r)
			}
		}
	}
	return ds
}

// BenchmarkBuild measures building a whole report (PNG figures only) for a
// 5-size × 2-family × 3-seed sweep of 20,000 steps per run (30 runs, 600k
// step rows); the reference line is the same dataset's analysis alone.
func BenchmarkBuild(b *testing.B) {
	ds := benchDataset(5, 3, 20000)
	b.Run("analyse", func(b *testing.B) {
		for b.Loop() {
			if _, err := analyse(ds); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("build_png", func(b *testing.B) {
		for b.Loop() {
			if _, err := Build(ds, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

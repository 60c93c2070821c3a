package report

import (
	"fmt"
	"math"
)

// Known numbers of the fixture: the GPT-2 family follows
// L(N) = fixA·N^−fixB + fixC exactly (mean over seeds), and each Silia size
// reaches the loss of a GPT-2 model fixRatio times its size, so the
// headline must say one Silia parameter is worth fixRatio GPT-2 parameters.
const (
	fixA, fixB, fixC = 40.0, 0.3, 1.5
	fixRatio         = 2.0
	fixSteps         = 20
	fixTokensPerStep = 1024
)

func fixLaw(n float64) float64 { return fixA*math.Pow(n, -fixB) + fixC }

// fixRun builds a run whose training loss decays to final and whose final
// validation loss is final.
func fixRun(exp, family string, seed uint64, c, h, l int, params int64, lr, final float64, status string, lastStep int) RunData {
	name := fmt.Sprintf("%s/%s/C%d-L%d/lr=%g/seed=%d", exp, family, c, l, lr, seed)
	// c is n_embd as sweeps stores it: the head dim for gpt2-rope-swiglu and
	// silia-xga, the width otherwise.
	width, hd := c, c
	switch family {
	case "gpt2":
		hd = c / h
	case "gpt2-rope-swiglu", "silia-xga":
		width = c * h
	}
	r := RunData{
		Name: name, Experiment: exp, Family: family, ConfigHash: "h",
		Width: width, HeadDim: hd, NHead: h, NLayer: l, VocabSize: 256, Seed: seed, LR: lr,
		PairKey: fmt.Sprintf("%s/C%d-L%d/lr=%g", exp, c, l, lr), ReferenceValLoss: math.NaN(),
		Sweep:       map[string]string{"seed": fmt.Sprint(seed), "lr": fmt.Sprint(lr)},
		ParamsTotal: params, ParamsNonEmbedding: params / 2, FlopsPerToken: 2 * params,
		StepsTotal: fixSteps, BudgetTokens: fixSteps * fixTokensPerStep, Status: status, Step: int64(lastStep),
		Host: "fixture", BLAS: "go",
	}
	for s := 1; s <= lastStep; s++ {
		tok := int64(s * fixTokensPerStep)
		// Loss decays from 5.5 to final + small wiggle that depends on the seed.
		frac := float64(s) / fixSteps
		loss := final + (5.5-final)*math.Exp(-4*frac) + 0.02*math.Sin(float64(s)+float64(seed))
		r.Steps = append(r.Steps, Step{Step: int64(s), Tokens: tok, Flops: float64(tok) * 6 * float64(params),
			Loss: loss, LR: lr, GradNorm: 1, StepMS: 500, ElapsedS: 0.5 * float64(s)})
		if s%10 == 0 {
			r.Evals = append(r.Evals, Eval{Step: int64(s), Split: SplitVal, Loss: final + (5.5-final)*math.Exp(-4*frac), BPB: math.NaN(), Accuracy: math.NaN()})
		}
	}
	if status == StatusDone {
		r.Evals = append(r.Evals,
			Eval{Step: fixSteps, Split: SplitFinalVal, Loss: final, BPB: final / math.Ln2 / 4, Accuracy: math.NaN()},
			Eval{Step: fixSteps, Split: SplitTrain, Loss: final - 0.05, BPB: math.NaN(), Accuracy: math.NaN()})
		r.Samples = []Sample{
			{Step: 10, Prompt: "Once", Text: "old sample"},
			{Step: fixSteps, Prompt: "Once", Text: fmt.Sprintf("upon a <b>time</b> & seed %d", seed)},
		}
	}
	if status == StatusFailed {
		r.FailStep, r.FailReason = int64(lastStep), "loss is NaN at step 7"
	}
	return r
}

// fixture returns the test dataset: experiment "scale" (4 GPT-2 sizes and
// 2 Silia sizes, 2 seeds each, seeds ±0.01 around the known law) and
// experiment "lr" (one size, two learning rates, one seed, with a running
// and a failed run).
func fixture() Dataset {
	var ds Dataset
	gpt := []struct {
		c, l   int
		params int64
	}{{64, 2, 500_000}, {96, 3, 2_000_000}, {128, 4, 8_000_000}, {160, 5, 32_000_000}}
	for _, g := range gpt {
		for i, seed := range []uint64{1, 2} {
			d := 0.01 * float64(2*i-1)
			ds.Runs = append(ds.Runs, fixRun("scale", "gpt2-rope-swiglu", seed, g.c, 4, g.l, g.params, 3e-3, fixLaw(float64(g.params))+d, StatusDone, fixSteps))
		}
	}
	sil := []struct {
		c, l   int
		params int64
	}{{64, 2, 400_000}, {96, 3, 1_600_000}}
	for _, s := range sil {
		for i, seed := range []uint64{1, 2} {
			// Paired differences: seed 1 −0.02, seed 2 −0.03 vs the GPT-2 run of the same seed is
			// not what matters here; the mean equals the GPT-2 law at fixRatio× the size.
			d := 0.012 * float64(2*i-1)
			ds.Runs = append(ds.Runs, fixRun("scale", "silia", seed, s.c, 4, s.l, s.params, 3e-3, fixLaw(fixRatio*float64(s.params))+d, StatusDone, fixSteps))
		}
	}
	ds.Runs = append(ds.Runs,
		fixRun("lr", "gpt2", 1, 64, 4, 2, 800_000, 1e-3, 2.6, StatusDone, fixSteps),
		fixRun("lr", "gpt2", 1, 64, 4, 2, 800_000, 3e-3, 2.5, StatusDone, fixSteps),
		fixRun("lr", "silia", 1, 64, 4, 2, 819_200, 1e-3, 2.55, StatusDone, fixSteps),
		fixRun("lr", "silia", 1, 64, 4, 2, 819_200, 3e-3, 2.7, StatusRunning, 12),
		fixRun("lr", "silia", 1, 64, 4, 2, 819_200, 1e-2, 2.7, StatusFailed, 7),
	)
	// A published reference for experiment scale (as sweeps records it on
	// every run of the family).
	for i := range ds.Runs {
		r := &ds.Runs[i]
		if r.Experiment == "scale" {
			r.ReferenceSource = "fixture paper, table 1"
			r.ReferenceValLoss = map[string]float64{"silia": 2.17, "gpt2-rope-swiglu": 2.5}[r.Family]
		}
	}
	// A task evaluation (accuracy only) on one run.
	for i := range ds.Runs {
		if ds.Runs[i].Name == "lr/gpt2/C64-L2/lr=0.001/seed=1" {
			ds.Runs[i].Evals = append(ds.Runs[i].Evals, Eval{Step: fixSteps, Split: "copy", Loss: math.NaN(), BPB: math.NaN(), Accuracy: 0.75})
		}
	}
	ds.Experiments = []string{"scale", "lr"}
	return ds
}

// withoutSize returns ds without the runs of experiment exp with the given
// parameter count (e.g. to leave a family with three sizes).
func withoutSize(ds Dataset, exp string, params int64) Dataset {
	var out Dataset
	out.Experiments = ds.Experiments
	for _, r := range ds.Runs {
		if r.Experiment == exp && r.ParamsTotal == params {
			continue
		}
		out.Runs = append(out.Runs, r)
	}
	return out
}

// oneSeed returns ds with only the seed-1 runs.
func oneSeed(ds Dataset) Dataset {
	var out Dataset
	out.Experiments = ds.Experiments
	for _, r := range ds.Runs {
		if r.Seed == 1 {
			out.Runs = append(out.Runs, r)
		}
	}
	return out
}

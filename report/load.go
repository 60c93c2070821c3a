package report

import (
	"context"
	"fmt"

	"github.com/tinyscale/tinyscale/store"
)

// Load reads every run of db with its steps, evaluations and samples.
// A database without runs gives ErrNoRuns.
func Load(ctx context.Context, db *store.DB) (Dataset, error) {
	runs, err := db.ListRuns(ctx)
	if err != nil {
		return Dataset{}, fmt.Errorf("load report data: %w", err)
	}
	if len(runs) == 0 {
		return Dataset{}, fmt.Errorf("%w %s", ErrNoRuns, db.Path())
	}
	ds := Dataset{Runs: make([]RunData, 0, len(runs))}
	for _, r := range runs {
		rd := RunData{
			Name: r.Name, Experiment: r.Experiment, Family: r.Family, ConfigHash: r.ConfigHash,
			ParamsTotal: r.ParamsTotal, ParamsNonEmbedding: r.ParamsNonEmbedding,
			FlopsPerToken: r.FlopsPerToken, StepsTotal: r.StepsTotal, BudgetTokens: r.BudgetTokens,
			Nonreproducible: r.Nonreproducible, Status: r.Status, FailReason: r.FailReason,
			FailStep: r.FailStep, Step: r.Step, Host: r.Host, BLAS: r.BLAS,
		}
		rec := r.Record
		rd.Width, rd.HeadDim, rd.NHead, rd.NLayer, rd.VocabSize = rec.Width, rec.HeadDim, rec.NHead, rec.NLayer, rec.VocabSize
		rd.Seed, rd.LR, rd.PairKey, rd.MatchBy, rd.MatchTarget = rec.Seed, rec.LR, rec.PairKey, rec.MatchBy, rec.MatchTarget
		rd.ExperimentsSHA256, rd.ReferenceSource, rd.ReferenceValLoss = rec.ExperimentsSHA256, rec.ReferenceSource, rec.ReferenceValLoss
		if rd.Sweep, err = rec.Sweep(); err != nil {
			return Dataset{}, fmt.Errorf("load report data: run %q: %w", r.Name, err)
		}
		steps, err := db.Steps(ctx, r.Name)
		if err != nil {
			return Dataset{}, fmt.Errorf("load report data: %w", err)
		}
		rd.Steps = make([]Step, len(steps))
		for i, s := range steps {
			rd.Steps[i] = Step{Step: s.Step, Tokens: s.Tokens, Flops: s.Flops, Loss: s.Loss, LR: s.LR,
				GradNorm: s.GradNorm, StepMS: s.StepMS, ElapsedS: s.ElapsedS}
		}
		evals, err := db.Evals(ctx, r.Name)
		if err != nil {
			return Dataset{}, fmt.Errorf("load report data: %w", err)
		}
		rd.Evals = make([]Eval, len(evals))
		for i, e := range evals {
			acc := nan()
			if e.Accuracy != nil {
				acc = *e.Accuracy
			}
			rd.Evals[i] = Eval{Step: e.Step, Split: e.Split, Loss: e.Loss, BPB: e.BPB, Accuracy: acc}
		}
		samples, err := db.Samples(ctx, r.Name)
		if err != nil {
			return Dataset{}, fmt.Errorf("load report data: %w", err)
		}
		rd.Samples = make([]Sample, len(samples))
		for i, s := range samples {
			rd.Samples[i] = Sample{Step: s.Step, Prompt: s.Prompt, Text: s.Text}
		}
		ds.Runs = append(ds.Runs, rd)
	}
	return ds, nil
}

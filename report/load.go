package report

import (
	"context"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

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
			Name: r.Name, Experiment: r.Experiment, Family: r.Family,
			ConfigJSON: string(r.ConfigJSON), ConfigHash: r.ConfigHash,
			ParamsTotal: r.ParamsTotal, ParamsNonEmbedding: r.ParamsNonEmbedding,
			FlopsPerToken: r.FlopsPerToken, StepsTotal: r.StepsTotal, BudgetTokens: r.BudgetTokens,
			Nonreproducible: r.Nonreproducible, Status: r.Status, FailReason: r.FailReason,
			FailStep: r.FailStep, Step: r.Step, Host: r.Host, BLAS: r.BLAS,
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

// ExperimentOrder reads the experiment names, in file order, from an
// experiments file (only experiments[].name is read; the rest is the sweeps
// package's business). The report lists experiments in this order.
func ExperimentOrder(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read experiments file: %w", err)
	}
	var f struct {
		Experiments []struct {
			Name string `yaml:"name"`
		} `yaml:"experiments"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var names []string
	for _, e := range f.Experiments {
		if e.Name != "" {
			names = append(names, e.Name)
		}
	}
	return names, nil
}

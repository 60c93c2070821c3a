package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"gorgonia.org/gorgonia"

	"github.com/tinyscale/tinyscale/blas"
	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// sweepShape is one distinct model shape of an experiments file: a model
// configuration and micro-batch size, and the runs that train it.
type sweepShape struct {
	Model models.Config `json:"model"`
	Batch int           `json:"batch"`
	Runs  []string      `json:"runs"`
	// Measured by timeShapes.
	TokensPerS      float64 `json:"tokens_per_s"`
	StepMs          float64 `json:"step_ms_median"`
	EvalBatchMs     float64 `json:"eval_batch_ms"`
	AllocBytesStep  int64   `json:"alloc_bytes_per_step"`
	EstimateSeconds float64 `json:"estimate_s"` // all of this shape's runs
}

// label is a one-line description: family CxHxL V.. T.. B...
func (s sweepShape) label() string {
	m := s.Model
	return fmt.Sprintf("%s %dx%dx%d V%d T%d B%d", m.Family, m.NEmbd, m.NHead, m.NLayer, m.VocabSize, m.BlockSize, s.Batch)
}

// runEstimate is the estimated wall time of one run.
type runEstimate struct {
	Name    string  `json:"name"`
	Shape   int     `json:"shape"` // index into the shapes
	Seconds float64 `json:"estimate_s"`
	// WallClock: the run has a seconds budget; the estimate is that budget.
	WallClock bool `json:"wall_clock_budget,omitempty"`
}

// sweepEstimate is the result of timing every distinct shape of a file.
type sweepEstimate struct {
	File         string        `json:"file"`
	Shapes       []sweepShape  `json:"shapes"`
	Runs         []runEstimate `json:"runs"`
	TotalSeconds float64       `json:"total_s"`
	Steps        int           `json:"steps_per_shape"`
	BLAS         string        `json:"blas"`
	CPUKernels   string        `json:"cpu_kernels"`
	GOMAXPROCS   int           `json:"gomaxprocs"`
}

// expandFile loads and expands an experiments file as plan does (building
// tokenizers, cached under cacheDir, where V is not known up front).
func expandFile(ctx context.Context, file, cacheDir string) ([]sweeps.Run, error) {
	if cacheDir == "" {
		cacheDir = data.DefaultCacheDir()
	}
	f, err := sweeps.Load(file)
	if err != nil {
		return nil, err
	}
	return f.Expand(func(d data.Spec, t tokenizer.Spec) (int, error) {
		return data.VocabSize(ctx, d, t, cacheDir)
	})
}

// distinctShapes groups runs by (model configuration, micro-batch), in order
// of first appearance.
func distinctShapes(runs []sweeps.Run) ([]sweepShape, []int) {
	var shapes []sweepShape
	index := map[string]int{}
	of := make([]int, len(runs))
	for i, r := range runs {
		key, _ := json.Marshal(struct {
			M models.Config
			B int
		}{r.Model, r.BatchSize})
		k, ok := index[string(key)]
		if !ok {
			k = len(shapes)
			index[string(key)] = k
			shapes = append(shapes, sweepShape{Model: r.Model, Batch: r.BatchSize})
		}
		shapes[k].Runs = append(shapes[k].Runs, r.Name)
		of[i] = k
	}
	return shapes, of
}

// evalBatches is the number of forward-only batches a run evaluates: two
// splits of eval.batches every eval.every steps, and eval.final_batches at
// the end (as runner/train.go does).
func evalBatches(r sweeps.Run, steps int64) int64 {
	var n int64
	if r.Eval.Every > 0 {
		n = steps / r.Eval.Every * 2 * int64(max(r.Eval.Batches, 1))
	}
	return n + int64(max(r.Eval.FinalBatches, 1))
}

// estimateSweep times o.steps training steps (after o.warmup) and a few
// evaluation batches of every distinct shape of runs, then estimates each
// run's wall time: steps × grad_accum × step time + evaluation batches ×
// eval batch time. Data preparation, checkpoints, samples and database writes
// are not included.
func estimateSweep(ctx context.Context, runs []sweeps.Run, o benchOptions, newTrainer trainerFactory, progress io.Writer) (sweepEstimate, error) {
	shapes, of := distinctShapes(runs)
	est := sweepEstimate{Shapes: shapes, Steps: o.steps}
	for i := range shapes {
		s := &shapes[i]
		so := o
		so.family, so.nEmbd, so.nHead, so.nLayer = s.Model.Family, s.Model.NEmbd, s.Model.NHead, s.Model.NLayer
		so.vocab, so.block, so.batch = s.Model.VocabSize, s.Model.BlockSize, s.Batch
		if progress != nil {
			fmt.Fprintf(progress, "timing shape %d/%d: %s (%d runs)\n", i+1, len(shapes), s.label(), len(s.Runs))
		}
		res, evalMs, err := benchShapeWithEval(ctx, so, s.Model, newTrainer)
		if err != nil {
			return est, fmt.Errorf("shape %s: %w", s.label(), err)
		}
		s.TokensPerS, s.StepMs, s.EvalBatchMs, s.AllocBytesStep = res.TokensPerS, res.StepMsMedian, evalMs, res.AllocBytesPerStep
	}
	for i, r := range runs {
		s := &shapes[of[i]]
		e := runEstimate{Name: r.Name, Shape: of[i]}
		if r.Nonreproducible() {
			e.Seconds, e.WallClock = r.Budget.Seconds, true
		} else {
			steps := r.TotalSteps()
			e.Seconds = (float64(steps*int64(max(r.GradAccum, 1)))*s.StepMs + float64(evalBatches(r, steps))*s.EvalBatchMs) / 1000
		}
		s.EstimateSeconds += e.Seconds
		est.TotalSeconds += e.Seconds
		est.Runs = append(est.Runs, e)
	}
	return est, nil
}

// benchShapeWithEval runs the bench of one shape and then times a few
// forward-only batches (the evaluation pass) on the same trainer.
func benchShapeWithEval(ctx context.Context, o benchOptions, cfg models.Config, newTrainer trainerFactory) (benchResult, float64, error) {
	var evalMs float64
	o.afterTimed = func(tr benchTrainer, inputs, targets [][]int32) error {
		const n = 3
		start := time.Now()
		for i := range n {
			if _, err := tr.Loss(inputs[i%len(inputs)], targets[i%len(targets)]); err != nil {
				return fmt.Errorf("eval batch: %w", err)
			}
		}
		evalMs = float64(time.Since(start).Microseconds()) / 1000 / n
		return nil
	}
	res, err := runBench(ctx, o, cfg, newTrainer)
	return res, evalMs, err
}

// writeSweepEstimate prints the per-shape table and the total.
func writeSweepEstimate(w io.Writer, e sweepEstimate) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d distinct shapes in %s (%d runs), %d timed steps each:\n\n", len(e.Shapes), e.File, len(e.Runs), e.Steps)
	table := [][]string{{"SHAPE", "RUNS", "TOKENS/S", "STEP MS", "EVAL MS/BATCH", "ALLOC/STEP", "EST. TIME"}}
	for _, s := range e.Shapes {
		table = append(table, []string{s.label(), fmt.Sprint(len(s.Runs)), fmt.Sprintf("%.0f", s.TokensPerS),
			fmt.Sprintf("%.1f", s.StepMs), fmt.Sprintf("%.1f", s.EvalBatchMs), humanBytes(s.AllocBytesStep), humanDuration(s.EstimateSeconds)})
	}
	writeAligned(&b, table, map[int]bool{0: true})
	fmt.Fprintf(&b, "\nestimated wall time of the whole file: %s (blas %s, %s kernels, GOMAXPROCS %d)\n",
		humanDuration(e.TotalSeconds), e.BLAS, e.CPUKernels, e.GOMAXPROCS)
	b.WriteString(estimateFootnote(e))
	_, err := io.WriteString(w, b.String())
	return err
}

// estimateFootnote says what the estimate covers.
func estimateFootnote(e sweepEstimate) string {
	s := "estimate = steps x grad_accum x step time + evaluation batches x eval time; data preparation,\n" +
		"checkpoints, samples and database writes are not included. Runs of one shape share its timing.\n"
	for _, r := range e.Runs {
		if r.WallClock {
			return s + "* runs with a seconds budget count that budget.\n"
		}
	}
	return s
}

// writeAligned writes rows with two spaces between columns; columns in left
// are left-aligned, the rest right-aligned.
func writeAligned(b *strings.Builder, rows [][]string, left map[int]bool) {
	var widths []int
	for _, r := range rows {
		for j, c := range r {
			if j >= len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], len(c))
		}
	}
	for _, r := range rows {
		for j, c := range r {
			pad := strings.Repeat(" ", widths[j]-len(c))
			if j > 0 {
				b.WriteString("  ")
			}
			if left[j] {
				b.WriteString(c)
				if j < len(r)-1 {
					b.WriteString(pad)
				}
			} else {
				b.WriteString(pad + c)
			}
		}
		b.WriteByte('\n')
	}
}

// humanDuration writes seconds as 0.4s, 45s, 12m05s or 3h07m.
func humanDuration(s float64) string {
	if s < 9.95 {
		return fmt.Sprintf("%.1fs", s)
	}
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// benchTokens draws nBatches batches of random tokens in [0, vocab).
func benchTokens(seed uint64, nBatches, n, vocab int) (inputs, targets [][]int32) {
	rng := rand.New(rand.NewPCG(seed, 0x7e57))
	inputs, targets = make([][]int32, nBatches), make([][]int32, nBatches)
	for i := range nBatches {
		seq := make([]int32, n+1)
		for j := range seq {
			seq[j] = int32(rng.IntN(vocab))
		}
		inputs[i], targets[i] = seq[:n], seq[1:]
	}
	return inputs, targets
}

// defaultBenchOptions are bench's defaults for timing the shapes of a file:
// 5 timed steps after 1 warm-up, seed 1, the bench's AdamW.
func defaultBenchOptions() benchOptions {
	return benchOptions{steps: 5, warmup: 1, seed: 1, lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0.1, gradClip: 1}
}

// planEstimate is plan --estimate: it loads the BLAS as run does and times
// every distinct shape of runs on the real trainer.
func planEstimate(ctx context.Context, runs []sweeps.Run, e env) (sweepEstimate, error) {
	kernels, err := models.CPUKernels()
	if err != nil {
		return sweepEstimate{}, usageError{err}
	}
	impl, info := blas.Load()
	gorgonia.Use(impl)
	est, err := estimateSweep(ctx, runs, defaultBenchOptions(), newModelsTrainer, e.stderr)
	if err != nil {
		return sweepEstimate{}, fmt.Errorf("plan --estimate: %w", err)
	}
	est.BLAS, est.CPUKernels, est.GOMAXPROCS = info.String(), kernels, runtime.GOMAXPROCS(0)
	return est, nil
}

// writePlanEstimate prints the estimated wall time of each run and the total.
func writePlanEstimate(w io.Writer, e sweepEstimate) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nestimated wall time on this machine (%d timed steps per distinct shape; blas %s, %s kernels, GOMAXPROCS %d):\n\n",
		e.Steps, e.BLAS, e.CPUKernels, e.GOMAXPROCS)
	table := [][]string{{"NAME", "TOKENS/S", "EST. TIME"}}
	for _, r := range e.Runs {
		t := humanDuration(r.Seconds)
		if r.WallClock {
			t += "*"
		}
		table = append(table, []string{r.Name, fmt.Sprintf("%.0f", e.Shapes[r.Shape].TokensPerS), t})
	}
	writeAligned(&b, table, map[int]bool{0: true})
	fmt.Fprintf(&b, "\ntotal: %s for %d runs (run one after another)\n", humanDuration(e.TotalSeconds), len(e.Runs))
	b.WriteString(estimateFootnote(e))
	_, err := io.WriteString(w, b.String())
	return err
}

// cpuKernelsForLog names the ops kernel class for run logs (a TINYSCALE_CPU
// that cannot be honoured shows as its error; the trainer refuses it).
func cpuKernelsForLog() string {
	k, err := models.CPUKernels()
	if err != nil {
		return "invalid: " + err.Error()
	}
	return k
}

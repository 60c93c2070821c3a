package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorgonia.org/gorgonia"

	"github.com/tinyscale/tinyscale/blas"
	"github.com/tinyscale/tinyscale/internal/sysmem"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/runner"
)

// benchTrainer is what `tinyscale bench` needs from a model: a training step
// (forward + backward), a forward-only evaluation, and the parameters it
// updates afterwards.
type benchTrainer interface {
	Step(inputs, targets []int32) (loss float32, err error)
	Loss(inputs, targets []int32) (loss float32, err error)
	Params() []benchParam
}

// benchParam is one parameter tensor: its values (updated in place) and the
// gradient of the last Step. Both are fetched after every step, because the
// training graph may hand out new gradient buffers each step.
type benchParam struct {
	name  string
	decay bool // weight-decayed (matrices and embeddings)
	value func() []float32
	grad  func() []float32
}

// trainerFactory builds the model to time.
type trainerFactory func(cfg models.Config, batch int, seed uint64) (benchTrainer, error)

// benchCmd times full training steps of one model shape on random tokens.
type benchCmd struct {
	env
	newTrainer trainerFactory
}

func newBenchCmd(e env) *benchCmd { return &benchCmd{env: e, newTrainer: newModelsTrainer} }

// Name implements command.
func (*benchCmd) Name() string { return "bench" }

// Summary implements command.
func (*benchCmd) Summary() string {
	return "time training steps of a model shape on random tokens (tokens/s, memory)"
}

// benchOptions are bench's flags.
type benchOptions struct {
	// memAvailable reports the memory the process may still use (nil:
	// sysmem.Available); tests pass a fixed limit.
	memAvailable func() (sysmem.Limit, error)

	family                    string
	nEmbd, nHead, nLayer      int
	vocab, block, batch       int
	steps, warmup             int
	seed                      uint64
	json                      bool
	blas                      string
	cpuProfile                string
	memProfile                string
	lr, beta1, beta2, eps, wd float64
	gradClip                  float64
	file, cache               string // -f: every shape of an experiments file

	// afterTimed, when set, runs after the timed steps (outside the timing)
	// on the same trainer and batches.
	afterTimed func(tr benchTrainer, inputs, targets [][]int32) error
}

// benchResult is bench's JSON output; tools/torch_bench.py prints the same
// fields for the PyTorch twin.
type benchResult struct {
	Impl              string     `json:"impl"`
	Family            string     `json:"family"`
	Shape             benchShape `json:"shape"`
	Params            int64      `json:"params"`
	Steps             int        `json:"steps"`
	Warmup            int        `json:"warmup"`
	TokensPerS        float64    `json:"tokens_per_s"`
	StepMsMedian      float64    `json:"step_ms_median"`
	StepMsP10         float64    `json:"step_ms_p10"`
	StepMsP90         float64    `json:"step_ms_p90"`
	AllocBytesPerStep int64      `json:"alloc_bytes_per_step"`
	PeakRSSBytes      int64      `json:"peak_rss_bytes"`
	BLAS              string     `json:"blas"`
	CPUKernels        string     `json:"cpu_kernels"` // ops kernel class ($TINYSCALE_CPU)
	CPUModel          string     `json:"cpu_model"`   // model name in /proc/cpuinfo
	GOMAXPROCS        int        `json:"gomaxprocs"`
	LossFirst         float64    `json:"loss_first"`
	LossLast          float64    `json:"loss_last"`
	Optimizer         string     `json:"optimizer"`
}

// benchShape is the model and batch shape of a bench run.
type benchShape struct {
	NEmbd  int `json:"n_embd"`
	NHead  int `json:"n_head"`
	NLayer int `json:"n_layer"`
	Vocab  int `json:"vocab"`
	Block  int `json:"block"`
	Batch  int `json:"batch"`
}

// Run implements command.
func (c *benchCmd) Run(ctx context.Context, args []string) error {
	var o benchOptions
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&o.family, "family", models.FamilyGPT2RoPESwiGLU, "model family ("+strings.Join(models.Families(), ", ")+")")
	fs.IntVar(&o.nEmbd, "n-embd", 64, "n_embd (C for gpt2/silia, head dim for gpt2-rope-swiglu/silia-xga)")
	fs.IntVar(&o.nHead, "n-head", 4, "attention heads")
	fs.IntVar(&o.nLayer, "n-layer", 2, "layers")
	fs.IntVar(&o.vocab, "vocab", 8192, "vocabulary size")
	fs.IntVar(&o.block, "block", 256, "block size (tokens per sequence)")
	fs.IntVar(&o.batch, "batch", 16, "sequences per step")
	fs.IntVar(&o.steps, "steps", 20, "timed steps")
	fs.IntVar(&o.warmup, "warmup", 3, "untimed steps first")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of weights and tokens")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile (all samples since start) to this file (go tool pprof -sample_index=alloc_space)")
	fs.StringVar(&o.blas, "blas", "", "BLAS backend: auto, gonum or openblas (default: $"+blas.EnvVar+", else auto)")
	fs.StringVar(&o.file, "f", "", "experiments `FILE`: time every distinct model shape in it and estimate the sweep's wall time (shape flags not allowed; default --steps 5 --warmup 1)")
	fs.StringVar(&o.cache, "cache", "", "data cache `DIR` for -f (default $XDG_CACHE_HOME/tinyscale or .tinyscale-cache)")
	o.lr, o.beta1, o.beta2, o.eps, o.wd, o.gradClip = 1e-3, 0.9, 0.95, 1e-10, 0.1, 1.0
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.steps < 1 || o.warmup < 0 {
		return usagef("--steps must be >= 1 and --warmup >= 0, got %d and %d", o.steps, o.warmup)
	}
	kernels, err := models.CPUKernels()
	if err != nil {
		return usageError{err}
	}
	var cfg models.Config
	if o.file != "" {
		for _, name := range []string{"family", "n-embd", "n-head", "n-layer", "vocab", "block", "batch"} {
			if set[name] {
				return usagef("--%s cannot be combined with -f (the shapes come from the file)", name)
			}
		}
		for _, name := range []string{"cpuprofile", "memprofile"} {
			if set[name] {
				return usagef("--%s cannot be combined with -f (it profiles one shape: give that shape's flags instead)", name)
			}
		}
		if !set["steps"] {
			o.steps = 5
		}
		if !set["warmup"] {
			o.warmup = 1
		}
	} else if set["cache"] {
		return usagef("--cache goes with -f (only an experiments file's data is prepared)")
	} else if cfg, err = o.modelConfig(); err != nil {
		return usageError{err}
	}

	impl, info, err := c.pickBLAS(o.blas)
	if err != nil {
		return err
	}
	gorgonia.Use(impl)
	c.log.Info("bench", "family", cfg.Family, "blas", info, "cpu_kernels", kernels, "gomaxprocs", runtime.GOMAXPROCS(0))

	if o.file != "" {
		return benchInterrupted(ctx, c.runFile(ctx, o, info.String(), kernels))
	}
	res, err := runBench(ctx, o, cfg, c.newTrainer)
	if err != nil {
		return benchInterrupted(ctx, err)
	}
	res.BLAS, res.CPUKernels, res.CPUModel = info.String(), kernels, cpuModel()
	if o.json {
		enc := json.NewEncoder(c.stdout)
		return enc.Encode(res)
	}
	return writeBenchText(c.stdout, res)
}

// runFile times every distinct shape of an experiments file (bench -f) and
// prints tokens/s per shape and the estimated wall time of the whole file.
func (c *benchCmd) runFile(ctx context.Context, o benchOptions, blasInfo, kernels string) error {
	runs, err := expandFile(ctx, o.file, o.cache)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return fmt.Errorf("bench: %s has no runs", o.file)
	}
	est, err := estimateSweep(ctx, runs, o, c.newTrainer, c.stderr)
	if err != nil {
		return fmt.Errorf("bench -f %s: %w", o.file, err)
	}
	est.File, est.BLAS, est.CPUKernels, est.GOMAXPROCS = o.file, blasInfo, kernels, runtime.GOMAXPROCS(0)
	if o.json {
		return json.NewEncoder(c.stdout).Encode(est)
	}
	return writeSweepEstimate(c.stdout, est)
}

// cpuModel is the first "model name" of /proc/cpuinfo ("" where there is none).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// pickBLAS opens the backend the flag names, or follows $TINYSCALE_BLAS.
func (c *benchCmd) pickBLAS(backend string) (blas.Impl, blas.Info, error) {
	source := "--blas"
	if backend == "" {
		backend, source = os.Getenv(blas.EnvVar), "$"+blas.EnvVar
	}
	switch strings.ToLower(backend) {
	case "", blas.Auto, blas.Gonum, blas.OpenBLAS:
	default:
		return nil, blas.Info{}, usagef("%s %q not allowed (allowed: %s, %s, %s)", source, backend, blas.Auto, blas.Gonum, blas.OpenBLAS)
	}
	impl, info, err := blas.Open(blas.Options{Backend: backend})
	if err != nil {
		return nil, blas.Info{}, fmt.Errorf("bench: %w", err)
	}
	if info.Fallback != "" {
		c.log.Warn("OpenBLAS not loaded; using pure-Go BLAS", "reason", info.Fallback)
	}
	return impl, info, nil
}

// modelConfig turns the shape flags into a validated models.Config.
func (o benchOptions) modelConfig() (models.Config, error) {
	cfg, err := models.DefaultConfig(o.family)
	if err != nil {
		return models.Config{}, fmt.Errorf("--family: %w", err)
	}
	cfg.NEmbd, cfg.NHead, cfg.NLayer = o.nEmbd, o.nHead, o.nLayer
	cfg.BlockSize, cfg.VocabSize = o.block, o.vocab
	if o.vocab < 2 || o.block < 1 || o.batch < 1 {
		return models.Config{}, fmt.Errorf("--vocab must be >= 2, --block and --batch >= 1; got %d, %d, %d", o.vocab, o.block, o.batch)
	}
	if err := cfg.Validate(); err != nil {
		return models.Config{}, fmt.Errorf("model shape: %w", err)
	}
	return cfg, nil
}

// runBench builds the trainer and times o.steps full training steps (forward,
// backward, grad-norm clip and an inline AdamW update) after o.warmup untimed
// ones.
func runBench(ctx context.Context, o benchOptions, cfg models.Config, newTrainer trainerFactory) (benchResult, error) {
	avail := o.memAvailable
	if avail == nil {
		avail = sysmem.Available
	}
	if err := benchFitsMemory(cfg, o.batch, avail); err != nil {
		return benchResult{}, err
	}
	tr, err := newTrainer(cfg, o.batch, o.seed)
	if err != nil {
		return benchResult{}, fmt.Errorf("bench: build %s trainer: %w", cfg.Family, err)
	}
	params := tr.Params()
	if len(params) == 0 {
		return benchResult{}, errors.New("bench: the trainer has no parameters")
	}
	opt := newBenchAdamW(params, o)

	// A few fixed batches of random tokens, drawn before timing.
	const nBatches = 4
	n := o.batch * o.block
	inputs, targets := benchTokens(o.seed, nBatches, n, o.vocab)

	step := func(i int) (float32, error) {
		loss, err := tr.Step(inputs[i%nBatches], targets[i%nBatches])
		if err != nil {
			return 0, fmt.Errorf("bench: step %d: %w", i, err)
		}
		if err := opt.update(params); err != nil {
			return 0, fmt.Errorf("bench: step %d: %w", i, err)
		}
		return loss, nil
	}

	res := benchResult{
		Impl: "tinyscale", Family: cfg.Family, Steps: o.steps, Warmup: o.warmup,
		Shape:      benchShape{NEmbd: cfg.NEmbd, NHead: cfg.NHead, NLayer: cfg.NLayer, Vocab: o.vocab, Block: o.block, Batch: o.batch},
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Optimizer:  fmt.Sprintf("runner AdamW lr=%g betas=(%g,%g) eps=%g wd=%g, grad clip %g", o.lr, o.beta1, o.beta2, o.eps, o.wd, o.gradClip),
	}
	for _, p := range params {
		res.Params += int64(len(p.value()))
	}
	for i := range o.warmup {
		if err := ctx.Err(); err != nil {
			return benchResult{}, err
		}
		loss, err := step(i)
		if err != nil {
			return benchResult{}, err
		}
		if i == 0 {
			res.LossFirst = float64(loss)
		}
	}

	durs := make([]time.Duration, 0, o.steps)
	var ms0, ms1 runtime.MemStats
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return benchResult{}, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return benchResult{}, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	for i := o.warmup; i < o.warmup+o.steps; i++ {
		if err := ctx.Err(); err != nil {
			return benchResult{}, err
		}
		t0 := time.Now()
		loss, err := step(i)
		if err != nil {
			return benchResult{}, err
		}
		durs = append(durs, time.Since(t0))
		if i == 0 {
			res.LossFirst = float64(loss)
		}
		res.LossLast = float64(loss)
	}
	total := time.Since(start)
	runtime.ReadMemStats(&ms1)
	if o.afterTimed != nil {
		if err := o.afterTimed(tr, inputs, targets); err != nil {
			return benchResult{}, fmt.Errorf("bench: %w", err)
		}
	}
	if o.memProfile != "" {
		f, err := os.Create(o.memProfile)
		if err != nil {
			return benchResult{}, fmt.Errorf("bench: memory profile: %w", err)
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return benchResult{}, fmt.Errorf("bench: memory profile: %w", err)
		}
	}

	res.TokensPerS = float64(o.steps*n) / total.Seconds()
	res.StepMsMedian = percentileMs(durs, 0.5)
	res.StepMsP10 = percentileMs(durs, 0.1)
	res.StepMsP90 = percentileMs(durs, 0.9)
	res.AllocBytesPerStep = int64((ms1.TotalAlloc - ms0.TotalAlloc) / uint64(o.steps))
	res.PeakRSSBytes = peakRSS()
	return res, nil
}

// percentileMs is the q-quantile of durs in milliseconds (linear
// interpolation between order statistics, as numpy's default).
func percentileMs(durs []time.Duration, q float64) float64 {
	if len(durs) == 0 {
		return 0
	}
	s := slices.Clone(durs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	frac := pos - float64(lo)
	v := float64(s[lo])*(1-frac) + float64(s[hi])*frac
	return v / float64(time.Millisecond)
}

// peakRSS reads the process's peak resident set size (VmHWM) from
// /proc/self/status; 0 where that file does not exist.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseVmHWM(b)
}

// parseVmHWM extracts VmHWM (in kB) from a /proc/<pid>/status text, in bytes.
func parseVmHWM(status []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// benchAdamW is the runner's AdamW update (runner.ClipGradNorm, then
// runner.AdamWStep per parameter), so that bench times a full training step
// with the optimiser code training really runs.
type benchAdamW struct {
	lr, clip float64
	hyper    runner.Hyper
	m, v     [][]float32
	grads    [][]float32 // reused each step
	t        int64
}

func newBenchAdamW(params []benchParam, o benchOptions) *benchAdamW {
	h := runner.DefaultHyper()
	h.Beta1, h.Beta2, h.Eps, h.WeightDecay = o.beta1, o.beta2, o.eps, o.wd
	a := &benchAdamW{lr: o.lr, clip: o.gradClip, hyper: h}
	for _, p := range params {
		n := len(p.value())
		a.m = append(a.m, make([]float32, n))
		a.v = append(a.v, make([]float32, n))
	}
	return a
}

// update applies one AdamW step to every parameter from its current gradient.
func (a *benchAdamW) update(params []benchParam) error {
	a.t++
	a.grads = a.grads[:0]
	for i, p := range params {
		g, w := p.grad(), p.value()
		if len(g) != len(a.m[i]) || len(w) != len(a.m[i]) {
			return fmt.Errorf("parameter %s: value has %d elements and gradient %d, want %d", p.name, len(w), len(g), len(a.m[i]))
		}
		a.grads = append(a.grads, g)
	}
	runner.ClipGradNorm(a.grads, a.clip)
	for i, p := range params {
		runner.AdamWStep(p.value(), a.grads[i], a.m[i], a.v[i], a.t, a.lr, a.hyper, p.decay)
	}
	return nil
}

// writeBenchText prints a result for people.
func writeBenchText(w io.Writer, r benchResult) error {
	_, err := fmt.Fprintf(w, `%s %d/%d/%d V=%d block=%d batch=%d (%d params)
  tokens/s        %.0f
  step ms         median %.1f  p10 %.1f  p90 %.1f  (%d steps after %d warmup)
  alloc/step      %s
  peak RSS        %s
  blas            %s, GOMAXPROCS %d
  cpu             %s kernels (%s)
  loss            %.4f -> %.4f
  step            forward + backward + %s
`, r.Family, r.Shape.NEmbd, r.Shape.NHead, r.Shape.NLayer, r.Shape.Vocab, r.Shape.Block, r.Shape.Batch, r.Params,
		r.TokensPerS, r.StepMsMedian, r.StepMsP10, r.StepMsP90, r.Steps, r.Warmup,
		humanBytes(r.AllocBytesPerStep), humanBytes(r.PeakRSSBytes), r.BLAS, r.GOMAXPROCS, r.CPUKernels, r.CPUModel, r.LossFirst, r.LossLast, r.Optimizer)
	return err
}

func humanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	default:
		return fmt.Sprintf("%d B", b)
	}
}

// newModelsTrainer is the default factory: the gorgonia training graph of
// package models.
func newModelsTrainer(cfg models.Config, batch int, seed uint64) (benchTrainer, error) {
	t, err := models.NewTrainer(cfg, batch, seed)
	if err != nil {
		return nil, err
	}
	return modelsTrainer{t}, nil
}

// modelsTrainer adapts *models.Trainer to benchTrainer.
type modelsTrainer struct{ *models.Trainer }

// Params implements benchTrainer.
func (m modelsTrainer) Params() []benchParam {
	ps := m.Trainer.Params()
	out := make([]benchParam, len(ps))
	for i, p := range ps {
		out[i] = benchParam{name: p.Name, decay: p.Kind != models.Vector, value: p.Value, grad: p.Grad}
	}
	return out
}

// benchFitsMemory refuses a shape whose training step would not fit in the
// memory this process may still use (Go would die with a fatal
// out-of-memory error and a goroutine dump instead): the estimate is the
// trainer's (parameters, gradients, activations at batch × block;
// models.Config.TrainBytes) plus AdamW's two moments. When the limit cannot
// be read the shape is tried.
func benchFitsMemory(cfg models.Config, batch int, avail func() (sysmem.Limit, error)) error {
	lim, err := avail()
	if err != nil {
		return nil
	}
	total, _ := cfg.ParamCounts()
	need := cfg.TrainBytes(batch) + 8*total
	if need <= lim.Bytes {
		return nil
	}
	return fmt.Errorf("%s %dx%dx%d (V %d, block %d, batch %d) needs about %s of memory (%s parameters with gradients and AdamW moments, activations at batch × block); available: %s. Lower --batch, --block or the model size",
		cfg.Family, cfg.NEmbd, cfg.NHead, cfg.NLayer, cfg.VocabSize, cfg.BlockSize, batch, sysmem.FormatBytes(need), siFormat(float64(total)), lim)
}

// benchInterrupted says that a bench stopped by Ctrl-C or SIGTERM was
// interrupted (it prints no partial result); other errors pass unchanged.
func benchInterrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("bench interrupted, nothing measured: %w", ctx.Err())
	}
	return err
}

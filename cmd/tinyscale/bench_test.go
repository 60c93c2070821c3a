package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/internal/sysmem"
	"github.com/tinyscale/tinyscale/models"
)

// bigramTrainer is a real (tiny) model for testing the bench harness without
// the gorgonia graph: logits = W[input], softmax cross-entropy, exact
// gradient.
type bigramTrainer struct {
	v    int
	w, g []float32
	bias []float32 // a Vector parameter: no weight decay
	gb   []float32
}

func newBigramTrainer(cfg models.Config, batch int, seed uint64) (benchTrainer, error) {
	v := cfg.VocabSize
	return &bigramTrainer{v: v, w: make([]float32, v*v), g: make([]float32, v*v), bias: make([]float32, v), gb: make([]float32, v)}, nil
}

func (b *bigramTrainer) Step(inputs, targets []int32) (float32, error) {
	return b.run(inputs, targets, true)
}

// Loss is the forward pass alone (the gradients are left as they are).
func (b *bigramTrainer) Loss(inputs, targets []int32) (float32, error) {
	return b.run(inputs, targets, false)
}

func (b *bigramTrainer) run(inputs, targets []int32, train bool) (float32, error) {
	if train {
		clear(b.g)
		clear(b.gb)
	}
	var loss float64
	p := make([]float64, b.v)
	for i, x := range inputs {
		row := b.w[int(x)*b.v : (int(x)+1)*b.v]
		mx := math.Inf(-1)
		for j := range row {
			p[j] = float64(row[j] + b.bias[j])
			mx = math.Max(mx, p[j])
		}
		var s float64
		for j := range p {
			p[j] = math.Exp(p[j] - mx)
			s += p[j]
		}
		loss -= math.Log(p[targets[i]] / s)
		for j := range p {
			if !train {
				break
			}
			d := p[j] / s
			if j == int(targets[i]) {
				d--
			}
			b.g[int(x)*b.v+j] += float32(d / float64(len(inputs)))
			b.gb[j] += float32(d / float64(len(inputs)))
		}
	}
	return float32(loss / float64(len(inputs))), nil
}

func (b *bigramTrainer) Params() []benchParam {
	return []benchParam{
		{name: "w", decay: true, value: func() []float32 { return b.w }, grad: func() []float32 { return b.g }},
		{name: "bias", value: func() []float32 { return b.bias }, grad: func() []float32 { return b.gb }},
	}
}

func testBenchCmd(stdout io.Writer) *benchCmd {
	e := env{stdout: stdout, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c := newBenchCmd(e)
	c.newTrainer = newBigramTrainer
	return c
}

func TestBenchJSON(t *testing.T) {
	var out bytes.Buffer
	args := []string{"--family", "gpt2", "--n-embd", "16", "--n-head", "2", "--n-layer", "1",
		"--vocab", "16", "--block", "8", "--batch", "4", "--steps", "30", "--warmup", "2", "--blas", "gonum", "--json"}
	if err := testBenchCmd(&out).Run(context.Background(), args); err != nil {
		t.Fatalf("bench %v: %v", args, err)
	}
	var r benchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	want := benchShape{NEmbd: 16, NHead: 2, NLayer: 1, Vocab: 16, Block: 8, Batch: 4}
	if r.Family != "gpt2" || r.Shape != want || r.Steps != 30 || r.Warmup != 2 || r.Params != 16*16+16 {
		t.Errorf("result %+v does not echo the requested shape %+v", r, want)
	}
	if !strings.HasPrefix(r.BLAS, "gonum") || r.GOMAXPROCS != runtime.GOMAXPROCS(0) {
		t.Errorf("blas %q gomaxprocs %d", r.BLAS, r.GOMAXPROCS)
	}
	if !(r.TokensPerS > 0 && r.StepMsP10 > 0 && r.StepMsP10 <= r.StepMsMedian && r.StepMsMedian <= r.StepMsP90) {
		t.Errorf("timings inconsistent: %+v", r)
	}
	if r.AllocBytesPerStep <= 0 {
		t.Errorf("alloc_bytes_per_step = %d; the bigram step allocates, so it must be > 0", r.AllocBytesPerStep)
	}
	if runtime.GOOS == "linux" && r.PeakRSSBytes <= 0 {
		t.Errorf("peak_rss_bytes = %d on linux", r.PeakRSSBytes)
	}
	// Four fixed batches and AdamW at lr 1e-3: the bigram must start at ln V
	// (zero init) and go down, which proves the update reaches the weights.
	if math.Abs(r.LossFirst-math.Log(16)) > 1e-5 || !(r.LossLast < r.LossFirst-0.01) {
		t.Errorf("loss %g -> %g, want ln 16 = %g falling", r.LossFirst, r.LossLast, math.Log(16))
	}
	for _, key := range []string{"family", "shape", "tokens_per_s", "step_ms_median", "step_ms_p10", "step_ms_p90",
		"alloc_bytes_per_step", "peak_rss_bytes", "blas", "cpu_kernels", "cpu_model", "gomaxprocs"} {
		if !strings.Contains(out.String(), `"`+key+`":`) {
			t.Errorf("JSON lacks %q", key)
		}
	}
}

func TestBenchText(t *testing.T) {
	var out bytes.Buffer
	args := []string{"--family", "silia", "--n-embd", "8", "--n-head", "2", "--vocab", "8", "--block", "4", "--batch", "2", "--steps", "3", "--blas", "gonum"}
	if err := testBenchCmd(&out).Run(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"silia 8/2/2 V=8 block=4 batch=2", "tokens/s", "peak RSS", "gonum", "pure Go", "runner AdamW"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestBenchBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown family", []string{"--family", "lstm"}, `unknown model family "lstm"`},
		{"zero steps", []string{"--steps", "0"}, "--steps must be >= 1"},
		{"negative warmup", []string{"--warmup", "-1"}, "--warmup >= 0"},
		{"bad blas", []string{"--blas", "mkl"}, `--blas "mkl" not allowed`},
		{"heads do not divide", []string{"--family", "gpt2", "--n-embd", "10", "--n-head", "4"}, "n_head 4 does not divide n_embd 10"},
		{"tiny vocab", []string{"--vocab", "1"}, "--vocab must be >= 2"},
		{"stray argument", []string{"extra"}, `unexpected argument "extra"`},
		{"bad env", []string{"--steps", "1"}, `$TINYSCALE_BLAS "fast" not allowed`},
		{"bad number", []string{"--batch", "x"}, "invalid value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TINYSCALE_BLAS", "fast")
			err := testBenchCmd(io.Discard).Run(context.Background(), c.args)
			if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("bench %v = %v, want a usage error containing %q", c.args, err, c.msg)
			}
		})
	}
}

func TestBenchTrainerErrorIsWrapped(t *testing.T) {
	c := testBenchCmd(io.Discard)
	c.newTrainer = func(models.Config, int, uint64) (benchTrainer, error) { return nil, errors.New("boom") }
	err := c.Run(context.Background(), []string{"--blas", "gonum", "--steps", "1"})
	if err == nil || errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "build gpt2-rope-swiglu trainer: boom") {
		t.Fatalf("err = %v, want a wrapped (non-usage) trainer error", err)
	}
}

func TestPercentileMs(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	cases := []struct {
		durs []time.Duration
		q    float64
		want float64
	}{
		{ms(5), 0.5, 5},
		{ms(3, 1, 2), 0.5, 2},
		{ms(1, 2, 3, 4), 0.5, 2.5},
		{ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110), 0.1, 20},
		{ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110), 0.9, 100},
		{ms(1, 2), 0.1, 1.1},
		{nil, 0.5, 0},
	}
	for _, c := range cases {
		if got := percentileMs(c.durs, c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("percentileMs(%v, %g) = %g, want %g", c.durs, c.q, got, c.want)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"Name:\tx\nVmPeak:\t  9999 kB\nVmHWM:\t  1234 kB\nVmRSS:\t 1000 kB\n", 1234 * 1024},
		{"Name:\tx\n", 0},
		{"VmHWM:\tlots kB\n", 0},
	}
	for _, c := range cases {
		if got := parseVmHWM([]byte(c.in)); got != c.want {
			t.Errorf("parseVmHWM(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestBenchAdamWStep checks the inline optimiser against AdamW computed by
// hand (first step: m̂ = g, v̂ = g², so the step is lr·g/(|g|+eps)).
func TestBenchAdamWStep(t *testing.T) {
	cases := []struct {
		name        string
		decay       bool
		clip        float64
		w, g        []float32
		wantW       []float32
		description string
	}{
		{"no decay", false, 0, []float32{1, -2}, []float32{0.5, -4}, []float32{1 - 0.1, -2 + 0.1}, "sign step of lr"},
		{"decay", true, 0, []float32{1, -2}, []float32{0.5, -4}, []float32{1*(1-0.1*0.5) - 0.1, -2*(1-0.1*0.5) + 0.1}, "decoupled decay lr*wd"},
		{"clipped still sign", false, 1, []float32{0}, []float32{3}, []float32{-0.1}, "clip scales g; first step is still ±lr"},
		{"zero grad", false, 0, []float32{2}, []float32{0}, []float32{2}, "no movement"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, g := append([]float32(nil), c.w...), c.g
			p := []benchParam{{name: "p", decay: c.decay, value: func() []float32 { return w }, grad: func() []float32 { return g }}}
			a := newBenchAdamW(p, benchOptions{lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0.5, gradClip: c.clip})
			if err := a.update(p); err != nil {
				t.Fatal(err)
			}
			for i := range w {
				if math.Abs(float64(w[i]-c.wantW[i])) > 1e-6 {
					t.Errorf("%s: w[%d] = %g, want %g", c.description, i, w[i], c.wantW[i])
				}
			}
		})
	}
}

// TestBenchRealTrainer runs bench on the gorgonia training graph of each
// family at a tiny shape: the step must run, count the parameters the model
// declares, and produce a finite loss near ln V at the start.
func TestBenchRealTrainer(t *testing.T) {
	cases := []struct {
		family string
		args   []string
	}{
		{models.FamilyGPT2RoPESwiGLU, []string{"--n-embd", "8", "--n-head", "2", "--n-layer", "1"}},
		{models.FamilySilia, []string{"--n-embd", "8", "--n-head", "2", "--n-layer", "1"}},
		{models.FamilyGPT2, []string{"--n-embd", "16", "--n-head", "2", "--n-layer", "1"}},
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			var out bytes.Buffer
			e := env{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			args := append([]string{"--family", c.family, "--vocab", "32", "--block", "8", "--batch", "2",
				"--steps", "3", "--warmup", "1", "--blas", "gonum", "--json"}, c.args...)
			if err := newBenchCmd(e).Run(context.Background(), args); err != nil {
				t.Fatalf("bench %v: %v", args, err)
			}
			var r benchResult
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			cfg, err := benchOptions{family: c.family, nEmbd: r.Shape.NEmbd, nHead: r.Shape.NHead, nLayer: r.Shape.NLayer,
				vocab: 32, block: 8, batch: 2}.modelConfig()
			if err != nil {
				t.Fatal(err)
			}
			if total, _ := cfg.ParamCounts(); r.Params != total {
				t.Errorf("bench counted %d parameters, Config.ParamCounts says %d", r.Params, total)
			}
			if math.IsNaN(r.LossFirst) || math.Abs(r.LossFirst-math.Log(32)) > 1.5 || math.IsNaN(r.LossLast) {
				t.Errorf("loss %g -> %g, want finite and near ln 32 = %.2f at the start", r.LossFirst, r.LossLast, math.Log(32))
			}
		})
	}
}

// TestBenchFile: bench -f times each distinct shape once (runs differing
// only in seed or budget share it) and the estimate is steps × step time +
// eval batches × eval time per run, summed; a seconds budget counts as given.
func TestBenchFile(t *testing.T) {
	var out bytes.Buffer
	c := testBenchCmd(&out)
	c.newTrainer = newModelsTrainer // the real graphs, at tiny shapes
	args := []string{"-f", "testdata/estimate.yaml", "--cache", t.TempDir(), "--steps", "2", "--warmup", "1", "--blas", "gonum", "--json"}
	if err := c.Run(context.Background(), args); err != nil {
		t.Fatalf("bench %v: %v", args, err)
	}
	var e sweepEstimate
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(e.Shapes) != 2 || len(e.Runs) != 5 || e.Steps != 2 {
		t.Fatalf("%d shapes, %d runs, %d steps; want 2 shapes (silia shared by 3 runs), 5 runs, 2 steps", len(e.Shapes), len(e.Runs), e.Steps)
	}
	if got := len(e.Shapes[1].Runs); got != 3 {
		t.Errorf("silia shape has %d runs, want 3", got)
	}
	var total float64
	for _, r := range e.Runs {
		s := e.Shapes[r.Shape]
		want := 30.0
		if !r.WallClock {
			// 40 steps; evals every 10 steps on 2 splits × 2 batches, plus 3 final batches.
			want = (40*s.StepMs + (4*2*2+3)*s.EvalBatchMs) / 1000
		}
		if math.Abs(r.Seconds-want) > 1e-9*want || !(s.TokensPerS > 0 && s.StepMs > 0 && s.EvalBatchMs > 0) {
			t.Errorf("run %s: estimate %g s, want %g (shape %+v)", r.Name, r.Seconds, want, s)
		}
		total += r.Seconds
	}
	if math.Abs(e.TotalSeconds-total) > 1e-9*total || e.CPUKernels == "" {
		t.Errorf("total %g, want %g; cpu_kernels %q", e.TotalSeconds, total, e.CPUKernels)
	}

	out.Reset()
	if err := testBenchCmd(&out).Run(context.Background(), args[:len(args)-1]); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2 distinct shapes in testdata/estimate.yaml (5 runs)", "gpt2-rope-swiglu 8x2x1 V", "T16 B2",
		"estimated wall time of the whole file:", "seconds budget"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, out.String())
		}
	}
	err := testBenchCmd(io.Discard).Run(context.Background(), []string{"-f", "testdata/estimate.yaml", "--n-embd", "8"})
	if err == nil || !strings.Contains(err.Error(), "--n-embd cannot be combined with -f") {
		t.Errorf("-f with a shape flag: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-f", "testdata/estimate.yaml", "--cpuprofile", filepath.Join(t.TempDir(), "p")}, "--cpuprofile cannot be combined with -f"},
		{[]string{"-f", "testdata/estimate.yaml", "--memprofile", filepath.Join(t.TempDir(), "p")}, "--memprofile cannot be combined with -f"},
		{[]string{"--cache", t.TempDir(), "--n-embd", "8"}, "--cache goes with -f"},
	} {
		err := testBenchCmd(io.Discard).Run(context.Background(), tc.args)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
}

// TestBenchFitsMemory: a shape whose step cannot fit is refused with the
// estimate and the limit before anything is allocated (it died with Go's
// fatal out-of-memory error); an unreadable limit does not block bench.
func TestBenchFitsMemory(t *testing.T) {
	small := models.Config{Family: "gpt2", NEmbd: 32, NHead: 4, NLayer: 2, BlockSize: 64, VocabSize: 97, Activation: "gelu", Norm: "layer", TieEmbeddings: true}
	huge := small
	huge.NEmbd, huge.NLayer = 100000, 100
	limit := func(b int64) func() (sysmem.Limit, error) {
		return func() (sysmem.Limit, error) { return sysmem.Limit{Bytes: b, Source: "test"}, nil }
	}
	unknown := func() (sysmem.Limit, error) { return sysmem.Limit{}, errors.New("no /proc") }
	tests := []struct {
		name    string
		cfg     models.Config
		avail   func() (sysmem.Limit, error)
		wantErr string
	}{
		{"small fits", small, limit(1 << 30), ""},
		{"huge refused", huge, limit(24 << 30), "gpt2 100000x4x100 (V 97, block 64, batch 12) needs about 193 TB of memory"},
		{"huge names the limit", huge, limit(24 << 30), "available: 25.8 GB (test). Lower --batch, --block or the model size"},
		{"limit unknown", huge, unknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := benchFitsMemory(tc.cfg, 12, tc.avail)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

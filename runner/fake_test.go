package runner

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/sweeps"
)

// fakeModel is a tiny real model for tests: a tied embedding E (V×d), a
// hidden matrix W (d×d) and a bias b (d); logits = E·tanh(W·E[x] + b).
// Gradients are computed by hand, so the runner is tested end to end without
// the gorgonia models.
type fakeModel struct {
	V, d       int
	E, W, b    []float32
	gE, gW, gb []float32
	steps      int
	nanAt      int           // Step number (1-based) whose loss is NaN; 0: never
	errAt      int           // Step number that fails (a "crash"); 0: never
	delay      time.Duration // sleep per Step (kill test)
	onStep     func(n int)   // called at the start of every Step
	losses     int           // Loss calls (evaluation batches)
	onLoss     func(n int)   // called at the start of every Loss
}

func newFakeModel(V, d int, seed uint64) *fakeModel {
	m := &fakeModel{V: V, d: d,
		E: make([]float32, V*d), W: make([]float32, d*d), b: make([]float32, d),
		gE: make([]float32, V*d), gW: make([]float32, d*d), gb: make([]float32, d)}
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, s := range [][]float32{m.E, m.W} {
		for i := range s {
			s[i] = float32(rng.NormFloat64() * 0.3)
		}
	}
	return m
}

func (m *fakeModel) Params() []Param {
	mk := func(name string, shape []int, k Kind, v, g []float32) Param {
		return Param{Name: name, Shape: shape, Kind: k, Value: func() []float32 { return v }, Grad: func() []float32 { return g }}
	}
	return []Param{
		mk("embed.weight", []int{m.V, m.d}, Embedding, m.E, m.gE),
		mk("hidden.weight", []int{m.d, m.d}, Matrix, m.W, m.gW),
		mk("hidden.bias", []int{m.d}, Vector, m.b, m.gb),
	}
}

var errCrash = errors.New("simulated crash")

func (m *fakeModel) Step(in, tg []int32) (float32, error) {
	m.steps++
	if m.onStep != nil {
		m.onStep(m.steps)
	}
	if m.delay > 0 {
		time.Sleep(m.delay)
	}
	if m.errAt > 0 && m.steps >= m.errAt {
		return 0, errCrash
	}
	l := m.run(in, tg, true)
	if m.nanAt > 0 && m.steps >= m.nanAt {
		return float32(math.NaN()), nil
	}
	return l, nil
}

func (m *fakeModel) Loss(in, tg []int32) (float32, error) {
	m.losses++
	if m.onLoss != nil {
		m.onLoss(m.losses)
	}
	return m.run(in, tg, false), nil
}

// run computes the mean cross-entropy and, when grad, the gradients.
func (m *fakeModel) run(in, tg []int32, grad bool) float32 {
	V, d := m.V, m.d
	if grad {
		clear(m.gE)
		clear(m.gW)
		clear(m.gb)
	}
	n := float64(len(in))
	h := make([]float64, d)
	logits := make([]float64, V)
	var loss float64
	for i, x := range in {
		e := m.E[int(x)*d : int(x+1)*d]
		for r := 0; r < d; r++ {
			z := float64(m.b[r])
			for c := 0; c < d; c++ {
				z += float64(m.W[r*d+c]) * float64(e[c])
			}
			h[r] = math.Tanh(z)
		}
		mx := math.Inf(-1)
		for v := 0; v < V; v++ {
			var s float64
			for c := 0; c < d; c++ {
				s += float64(m.E[v*d+c]) * h[c]
			}
			logits[v] = s
			mx = math.Max(mx, s)
		}
		var z float64
		for v := range logits {
			logits[v] = math.Exp(logits[v] - mx)
			z += logits[v]
		}
		y := int(tg[i])
		loss -= math.Log(logits[y] / z)
		if !grad {
			continue
		}
		dh := make([]float64, d)
		for v := 0; v < V; v++ {
			dl := logits[v] / z
			if v == y {
				dl--
			}
			dl /= n
			for c := 0; c < d; c++ {
				m.gE[v*d+c] += float32(dl * h[c])
				dh[c] += dl * float64(m.E[v*d+c])
			}
		}
		for r := 0; r < d; r++ {
			dz := dh[r] * (1 - h[r]*h[r])
			m.gb[r] += float32(dz)
			for c := 0; c < d; c++ {
				m.gW[r*d+c] += float32(dz * float64(e[c]))
				m.gE[int(x)*d+c] += float32(dz * float64(m.W[r*d+c]))
			}
		}
	}
	return float32(loss / n)
}

// fakeWorld builds the runner's dependencies around fake models and a
// synthetic token stream; models records every model built.
type fakeWorld struct {
	models []*fakeModel
	// configure, if set, adjusts each new model (its index in models).
	configure func(i int, m *fakeModel)
}

func (w *fakeWorld) newModel(cfg models.Config, batch int, seed uint64) (Model, error) {
	m := newFakeModel(cfg.VocabSize, cfg.NEmbd, seed)
	if w.configure != nil {
		w.configure(len(w.models), m)
	}
	w.models = append(w.models, m)
	return m, nil
}

// fakeData is a noisy cyclic token stream: learnable, deterministic.
func fakeData(_ context.Context, r sweeps.Run) (*Dataset, error) {
	V := r.Model.VocabSize
	rng := rand.New(rand.NewPCG(r.Data.Seed, 7))
	toks := make([]int32, 3000)
	for i := range toks {
		toks[i] = int32((i*3 + i/7) % V)
		if rng.IntN(10) == 0 {
			toks[i] = int32(rng.IntN(V))
		}
	}
	decode := func(ids []int32) string {
		b := make([]byte, len(ids))
		for i, id := range ids {
			b[i] = byte('a' + id)
		}
		return string(b)
	}
	return &Dataset{Train: toks[:2700], Val: toks[2700:], BytesPerToken: 1, TokenizerJSON: []byte(`{"kind":"fake"}`), Decode: decode}, nil
}

// fakeGenerate samples greedily from the weights.
func fakeGenerate(cfg models.Config, w []models.NamedTensor, prompt []int32, n int, seed uint64) ([]int32, error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(rng.IntN(cfg.VocabSize))
	}
	return out, nil
}

// fakeRun is a small resolved run for the fake model.
func fakeRun(name string, seed uint64) sweeps.Run {
	cfg := models.Config{Family: "gpt2", NEmbd: 8, NHead: 1, NLayer: 1, BlockSize: 8, VocabSize: 12,
		Activation: "gelu", Norm: "layer", TieEmbeddings: true}
	return sweeps.Run{
		Name: name, Experiment: "t", Family: "gpt2", Model: cfg,
		BlockSize: 8, BatchSize: 4, GradAccum: 1,
		Optimizer: sweeps.Optimizer{Name: "adamw", LR: 3e-2, MinLR: 3e-3, Warmup: 5, Schedule: "cosine",
			Betas: [2]float64{0.9, 0.95}, Eps: 1e-10, WeightDecay: 0.1, GradClip: 1, Momentum: 0.95},
		Budget:     sweeps.Budget{Kind: sweeps.BudgetSteps, Steps: 40},
		Eval:       sweeps.Eval{Every: 10, Batches: 2, FinalBatches: 4},
		Checkpoint: sweeps.Checkpoint{Every: 10, Keep: 3},
		Seed:       seed,
	}
}

package runner

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Kind classifies a parameter for the optimisers; it mirrors models.ParamKind.
type Kind int

// Parameter kinds.
const (
	// Matrix is a 2-D hidden weight: Muon-eligible and weight-decayed.
	Matrix Kind = iota
	// Embedding is an embedding/unembedding/position table: AdamW, weight-decayed.
	Embedding
	// Vector is a gain or bias: AdamW without weight decay.
	Vector
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Matrix:
		return "matrix"
	case Embedding:
		return "embedding"
	case Vector:
		return "vector"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Param is one trainable tensor as the optimisers see it. Value and Grad must
// return the live backing slices: the optimiser updates Value in place.
type Param struct {
	Name  string
	Shape []int
	Kind  Kind
	Value func() []float32
	Grad  func() []float32
}

// Hyper are the optimiser hyper-parameters shared by AdamW and Muon.
type Hyper struct {
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	// Momentum is Muon's final momentum (0.95 by default).
	Momentum float64
	// MomentumStart and MomentumWarmup: Muon's momentum rises linearly from
	// MomentumStart to Momentum over MomentumWarmup steps (0.85, 300).
	MomentumStart  float64
	MomentumWarmup int64
	// NSSteps is the number of Newton–Schulz iterations (5).
	NSSteps int
}

// DefaultHyper returns the reference recipe: betas (0.9, 0.95), eps 1e-10,
// weight decay 0.1, Muon momentum 0.95 warmed from 0.85 over 300 steps, 5 NS steps.
func DefaultHyper() Hyper {
	return Hyper{Beta1: 0.9, Beta2: 0.95, Eps: 1e-10, WeightDecay: 0.1,
		Momentum: 0.95, MomentumStart: 0.85, MomentumWarmup: 300, NSSteps: 5}
}

// adamState is AdamW's per-parameter state.
type adamState struct {
	m, v []float32
}

// AdamWStep applies one PyTorch-style AdamW update to value in place:
//
//	p -= lr*wd*p                (decoupled decay, only when decay is true)
//	m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²
//	p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// t is the 1-based step count. Element arithmetic is float64, stored as float32.
// A tensor of at least adamGrain elements is cut into contiguous ranges
// updated on up to GOMAXPROCS goroutines; every element's update is the same
// arithmetic wherever the cuts fall, so the result does not depend on them.
func AdamWStep(value, grad, m, v []float32, t int64, lr float64, h Hyper, decay bool) {
	c := newAdamWCoef(t, lr, h, decay)
	n := len(grad)
	w := min(runtime.GOMAXPROCS(0), n/adamGrain)
	if w <= 1 {
		c.update(value, grad, m, v)
		return
	}
	chunk := (n + w - 1) / w
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.update(value[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi])
		}()
	}
	c.update(value[:chunk], grad[:chunk], m[:chunk], v[:chunk])
	wg.Wait()
}

// adamGrain is the smallest range AdamWStep hands to a goroutine of its own.
const adamGrain = 1 << 15

// adamWCoef are one AdamW update's per-step constants (adamw_amd64.s reads
// them in this order).
type adamWCoef struct {
	b1, b2, keep, stepSize, sqrtBC2, eps float64
	ob1, ob2                             float64 // 1-b1, 1-b2
}

func newAdamWCoef(t int64, lr float64, h Hyper, decay bool) adamWCoef {
	c := adamWCoef{b1: h.Beta1, b2: h.Beta2, keep: 1, eps: h.Eps, ob1: 1 - h.Beta1, ob2: 1 - h.Beta2}
	c.stepSize = lr / (1 - math.Pow(h.Beta1, float64(t)))
	c.sqrtBC2 = math.Sqrt(1 - math.Pow(h.Beta2, float64(t)))
	if decay {
		c.keep = 1 - lr*h.WeightDecay
	}
	return c
}

// update applies the update to one range (all slices of grad's length): on
// the vector kernel where this process runs one (adamVector), the tail and
// every element elsewhere in Go; both give the same bits.
func (c adamWCoef) update(value, grad, m, v []float32) {
	c.updateWith(value, grad, m, v, adamVector)
}

// updateWith is update with the vector kernel on or off.
func (c adamWCoef) updateWith(value, grad, m, v []float32, vector bool) {
	done := c.updateVector(value, grad, m, v, vector)
	c.updateGo(value[done:], grad[done:], m[done:], v[done:])
}

// updateGo is the update in plain Go, the reference of the vector kernel.
func (c adamWCoef) updateGo(value, grad, m, v []float32) {
	b1, b2, ob1, ob2 := c.b1, c.b2, c.ob1, c.ob2
	value, m, v = value[:len(grad)], m[:len(grad)], v[:len(grad)]
	for i, g32 := range grad {
		g := float64(g32)
		p := float64(value[i]) * c.keep
		mi := b1*float64(m[i]) + ob1*g
		vi := b2*float64(v[i]) + ob2*g*g
		m[i], v[i] = float32(mi), float32(vi)
		denom := math.Sqrt(vi)/c.sqrtBC2 + c.eps
		value[i] = float32(p - c.stepSize*mi/denom)
	}
}

// NS coefficients of the quintic Newton–Schulz iteration (Keller Jordan's Muon).
const (
	nsA = 3.4445
	nsB = -4.7750
	nsC = 2.0315
)

// Sgemm is the matrix product Muon's Newton–Schulz iteration runs on
// (row-major, gonum's blas.Float32 convention). blas.Impl and
// gonum.Implementation satisfy it.
type Sgemm interface {
	Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// NewtonSchulz orthogonalises the rows×cols matrix g with gonum's pure-Go
// BLAS; see NewtonSchulzWith.
func NewtonSchulz(g []float32, rows, cols, steps int) []float32 {
	return NewtonSchulzWith(gonum.Implementation{}, g, rows, cols, steps)
}

// NewtonSchulzWith returns an approximately orthogonalised copy of the
// rows×cols matrix g (row-major), as Muon's zeropower_via_newtonschulz5: g is
// divided by its Frobenius norm (+1e-7), transposed when rows > cols,
// iterated `steps` times with X ← aX + (bA + cA²)X where A = XXᵀ and
// (a, b, c) = (3.4445, −4.7750, 2.0315), and transposed back. The singular
// values land roughly in [0.7, 1.2], not at 1: the iteration trades
// exactness for speed. Arithmetic is float32 (PyTorch's reference uses bfloat16).
func NewtonSchulzWith(bl Sgemm, g []float32, rows, cols, steps int) []float32 {
	r, c := rows, cols
	x := make([]float32, len(g))
	transposed := rows > cols
	if transposed {
		r, c = cols, rows
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				x[j*rows+i] = g[i*cols+j]
			}
		}
	} else {
		copy(x, g)
	}
	var norm float64
	for _, v := range x {
		norm += float64(v) * float64(v)
	}
	inv := float32(1 / (math.Sqrt(norm) + 1e-7))
	for i := range x {
		x[i] *= inv
	}
	a := make([]float32, r*r)
	b := make([]float32, r*r)
	nx := make([]float32, r*c)
	for s := 0; s < steps; s++ {
		// A = X Xᵀ
		bl.Sgemm(gblas.NoTrans, gblas.Trans, r, r, c, 1, x, c, x, c, 0, a, r)
		// B = b*A + c*A*A
		copy(b, a)
		bl.Sgemm(gblas.NoTrans, gblas.NoTrans, r, r, r, nsC, a, r, a, r, nsB, b, r)
		// X = a*X + B*X
		copy(nx, x)
		bl.Sgemm(gblas.NoTrans, gblas.NoTrans, r, c, r, 1, b, r, x, c, nsA, nx, c)
		x, nx = nx, x
	}
	if !transposed {
		return x
	}
	out := make([]float32, len(g))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[i*cols+j] = x[j*rows+i]
		}
	}
	return out
}

// MuonMomentum is the momentum at 0-based step: linear from h.MomentumStart to
// h.Momentum over h.MomentumWarmup steps.
func MuonMomentum(step int64, h Hyper) float64 {
	if h.MomentumWarmup <= 0 {
		return h.Momentum
	}
	frac := math.Min(float64(step)/float64(h.MomentumWarmup), 1)
	return (1-frac)*h.MomentumStart + frac*h.Momentum
}

// MuonStep applies one Muon update to the rows×cols matrix value in place:
//
//	buf = mu*buf + (1-mu)*g;  u = (1-mu)*g + mu*buf   (Nesterov)
//	p *= 1 - lr*wd;  p -= lr * sqrt(max(1, rows/cols)) * NS5(u)
//
// step is the 0-based step index (for the momentum warm-up).
func MuonStep(bl Sgemm, value, grad, buf []float32, rows, cols int, step int64, lr float64, h Hyper) {
	mu := MuonMomentum(step, h)
	u := make([]float32, len(grad))
	for i, g32 := range grad {
		g := float64(g32)
		b := mu*float64(buf[i]) + (1-mu)*g
		buf[i] = float32(b)
		u[i] = float32((1-mu)*g + mu*b)
	}
	o := NewtonSchulzWith(bl, u, rows, cols, h.NSSteps)
	scale := lr * math.Sqrt(math.Max(1, float64(rows)/float64(cols)))
	keep := 1 - lr*h.WeightDecay
	for i, v := range o {
		value[i] = float32(float64(value[i])*keep - scale*float64(v))
	}
}

// ClipGradNorm computes the global L2 norm of all gradients and, when it
// exceeds maxNorm > 0, scales them by maxNorm/(norm+1e-6) as PyTorch's
// clip_grad_norm_. It returns the norm before clipping.
func ClipGradNorm(grads [][]float32, maxNorm float64) float64 {
	var sum float64
	for _, g := range grads {
		for _, v := range g {
			sum += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(sum)
	if maxNorm > 0 && norm > maxNorm {
		coef := maxNorm / (norm + 1e-6)
		for _, g := range grads {
			for i, v := range g {
				g[i] = float32(float64(v) * coef)
			}
		}
	}
	return norm
}

// Optimizer updates a fixed list of parameters: Muon for Matrix params when
// UseMuon (2-D only), AdamW for everything else.
type Optimizer struct {
	params  []Param
	hyper   Hyper
	blas    Sgemm
	useMuon bool
	t       int64 // completed updates
	adam    map[string]*adamState
	muon    map[string][]float32
}

// NewOptimizer builds an optimiser for params. name is "adamw" or "muon";
// bl runs Muon's matrix products (nil: gonum's pure-Go BLAS).
func NewOptimizer(name string, params []Param, h Hyper, bl Sgemm) (*Optimizer, error) {
	if bl == nil {
		bl = gonum.Implementation{}
	}
	o := &Optimizer{params: params, hyper: h, blas: bl, adam: map[string]*adamState{}, muon: map[string][]float32{}}
	switch name {
	case "adamw", "":
	case "muon":
		o.useMuon = true
	default:
		return nil, fmt.Errorf("unknown optimizer %q (allowed: adamw, muon)", name)
	}
	for _, p := range params {
		n := len(p.Value())
		if o.isMuon(p) {
			o.muon[p.Name] = make([]float32, n)
		} else {
			o.adam[p.Name] = &adamState{m: make([]float32, n), v: make([]float32, n)}
		}
	}
	return o, nil
}

func (o *Optimizer) isMuon(p Param) bool {
	return o.useMuon && p.Kind == Matrix && len(p.Shape) == 2
}

// Step applies one update to every parameter with learning rate lr. step is
// the 0-based training step (Muon's momentum warm-up); AdamW's bias
// correction uses the optimiser's own update count.
func (o *Optimizer) Step(step int64, lr float64) {
	o.t++
	for _, p := range o.params {
		if o.isMuon(p) {
			MuonStep(o.blas, p.Value(), p.Grad(), o.muon[p.Name], p.Shape[0], p.Shape[1], step, lr, o.hyper)
			continue
		}
		s := o.adam[p.Name]
		AdamWStep(p.Value(), p.Grad(), s.m, s.v, o.t, lr, o.hyper, p.Kind != Vector)
	}
}

// State returns the optimiser state as named tensors (for checkpoints) and
// the update count. The slices are the live state, not copies.
func (o *Optimizer) State() (t int64, tensors map[string][]float32) {
	tensors = map[string][]float32{}
	for name, s := range o.adam {
		tensors["adam.m/"+name] = s.m
		tensors["adam.v/"+name] = s.v
	}
	for name, b := range o.muon {
		tensors["muon.buf/"+name] = b
	}
	return o.t, tensors
}

// SetState restores the state produced by State; every tensor must be present
// with the right length.
func (o *Optimizer) SetState(t int64, tensors map[string][]float32) error {
	_, live := o.State()
	if len(tensors) != len(live) {
		return fmt.Errorf("optimizer state has %d tensors, want %d", len(tensors), len(live))
	}
	for name, dst := range live {
		src, ok := tensors[name]
		if !ok {
			return fmt.Errorf("optimizer state: missing %s", name)
		}
		if len(src) != len(dst) {
			return fmt.Errorf("optimizer state %s: %d values, want %d", name, len(src), len(dst))
		}
		copy(dst, src)
	}
	o.t = t
	return nil
}

package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Add is y = a + b for two tensors of the same 2-D shape (residual
// connections). Unlike gorgonia's Add it reuses its output buffer.
type Add struct {
	base
	size int
	y    *tensor.Dense
}

// NewAdd applies y = a + b.
func NewAdd(a, b *G.Node) (*G.Node, error) {
	if !a.Shape().Eq(b.Shape()) || a.Shape().Dims() != 2 {
		return nil, fmt.Errorf("add: shapes %v and %v differ or are not 2-D", a.Shape(), b.Shape())
	}
	op := &Add{base: newBase("Add", a.Shape(), 2, 2, 2), size: a.Shape().TotalSize()}
	return G.ApplyOp(op, a, b)
}

// Do computes a + b.
func (op *Add) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.size, op.size)
	if err != nil {
		return nil, err
	}
	y := outBuf(&op.y, op.shape)
	vecAdd(y.Float32s(), in[0], in[1])
	return y, nil
}

// DiffWRT: both inputs.
func (op *Add) DiffWRT(n int) []bool { return trues(n) }

// SymDiff passes the gradient through to both inputs.
func (op *Add) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad, grad}, nil
}

// Activation names.
const (
	ActSiLU = "silu"
	ActGELU = "gelu"
	ActReLU = "relu"
)

// ActFunc returns the activation f and its derivative f' for a name.
func ActFunc(name string) (f, df func(float32) float32, err error) {
	switch name {
	case ActSiLU:
		return silu, dsilu, nil
	case ActGELU:
		return gelu, dgelu, nil
	case ActReLU:
		return relu, drelu, nil
	}
	return nil, nil, fmt.Errorf("unknown activation %q (allowed: silu, gelu, relu)", name)
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }
func silu(x float32) float32    { return x * sigmoid(x) }
func dsilu(x float32) float32 {
	s := sigmoid(x)
	return s * (1 + x*(1-s))
}

// gelu is the exact erf form, as PyTorch's nn.GELU() default.
func gelu(x float32) float32 {
	return float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
}
func dgelu(x float32) float32 {
	xf := float64(x)
	cdf := 0.5 * (1 + math.Erf(xf/math.Sqrt2))
	pdf := math.Exp(-0.5*xf*xf) / math.Sqrt(2*math.Pi)
	return float32(cdf + xf*pdf)
}
func relu(x float32) float32 {
	if x > 0 {
		return x
	}
	return 0
}
func drelu(x float32) float32 {
	if x > 0 {
		return 1
	}
	return 0
}

// Act is the element-wise activation y = f(x) (silu, exact-erf gelu, relu).
// GELU runs the float32 kernel of gelu_fast.go, which computes gelu'(x) in
// the same pass; the forward keeps it so the backward is one multiply.
type Act struct {
	base
	f, df func(float32) float32
	gelu  bool
	size  int
	y     *tensor.Dense
	d     []float32 // gelu'(x) of the last forward (gelu only)
}

// NewAct applies the named activation element-wise to a 2-D node.
func NewAct(x *G.Node, name string) (*G.Node, error) {
	f, df, err := ActFunc(name)
	if err != nil {
		return nil, err
	}
	op := &Act{base: newBase("Act("+name+")", x.Shape(), 2, 2), f: f, df: df, gelu: name == ActGELU, size: x.Shape().TotalSize()}
	return G.ApplyOp(op, x)
}

// Do computes f(x).
func (op *Act) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.size)
	if err != nil {
		return nil, err
	}
	y := outBuf(&op.y, op.shape)
	yd := y.Float32s()
	if op.gelu {
		if op.d == nil {
			op.d = largeFloats(op.size)
		}
		// blocks of 8, so which elements take the scalar tail does not
		// depend on the worker count
		nb := (op.size + 7) / 8
		parallelFor(nb, 1<<11, func(_, lo, hi int) {
			geluRows(yd[lo*8:], op.d[lo*8:], in[0][lo*8:min(hi*8, op.size)])
		})
		return y, nil
	}
	parallelFor(op.size, 1<<14, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			yd[i] = op.f(in[0][i])
		}
	})
	return y, nil
}

// DiffWRT: the input.
func (op *Act) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns dx = dy * f'(x).
func (op *Act) SymDiff(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	b := &actBwd{base: newBase(op.name+"Bwd", op.shape, 2, 2, 2), fwd: op}
	dx, err := G.ApplyOp(b, ins[0], grad)
	return G.Nodes{dx}, err
}

type actBwd struct {
	base
	fwd *Act
	dx  *tensor.Dense
}

func (op *actBwd) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.fwd.size, op.fwd.size)
	if err != nil {
		return nil, err
	}
	dx := outBuf(&op.dx, op.shape)
	d := dx.Float32s()
	if f := op.fwd; f.gelu && f.d != nil {
		// gelu'(x) saved by the forward of this run (the tape runs it first)
		vecMul(d, in[1], f.d)
		return dx, nil
	}
	parallelFor(len(d), 1<<14, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = in[1][i] * op.fwd.df(in[0][i])
		}
	})
	return dx, nil
}

// GatedAct is y = u * f(v) where the input row is [u | v], each of width F:
// x (N, 2F) -> y (N, F). It is SwiGLU's gate when f is silu; then forward
// and backward run the float32 kernels of gate_fast.go (class cpuKernels),
// otherwise the reference functions. Rows are split over Workers().
type GatedAct struct {
	base
	f, df func(float32) float32
	silu  bool
	k     Kernels
	n, w  int
	y     *tensor.Dense
}

// NewGatedAct applies u * act(v) to x = [u | v] (first half is u).
func NewGatedAct(x *G.Node, name string) (*G.Node, error) {
	f, df, err := ActFunc(name)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if s.Dims() != 2 || s[1]%2 != 0 {
		return nil, fmt.Errorf("gated act: input %v must be (N, 2F)", s)
	}
	op := &GatedAct{base: newBase("GatedAct("+name+")", []int{s[0], s[1] / 2}, 2, 2), f: f, df: df,
		silu: name == ActSiLU, k: cpuKernels, n: s[0], w: s[1] / 2}
	return G.ApplyOp(op, x)
}

// Do computes u * f(v).
func (op *GatedAct) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.n*2*op.w)
	if err != nil {
		return nil, err
	}
	y := outBuf(&op.y, op.shape)
	yd, x, w := y.Float32s(), in[0], op.w
	parallelFor(op.n, max(1, (1<<13)/w), func(_, lo, hi int) {
		if !op.silu {
			GatedActRef(yd[lo*w:hi*w], x[lo*2*w:hi*2*w], hi-lo, w, op.f)
			return
		}
		for r := lo; r < hi; r++ {
			siluGateFwd(op.k, yd[r*w:(r+1)*w], x[r*2*w:r*2*w+w], x[r*2*w+w:(r+1)*2*w])
		}
	})
	return y, nil
}

// GatedActRef is the reference y = u * f(v) on rows [u | v].
func GatedActRef(y, x []float32, n, w int, f func(float32) float32) {
	for r := 0; r < n; r++ {
		u, v := x[r*2*w:r*2*w+w], x[r*2*w+w:(r+1)*2*w]
		for j := 0; j < w; j++ {
			y[r*w+j] = u[j] * f(v[j])
		}
	}
}

// DiffWRT: the input.
func (op *GatedAct) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns d[u|v] = [dy f(v) | dy u f'(v)].
func (op *GatedAct) SymDiff(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	b := &gatedActBwd{base: newBase(op.name+"Bwd", []int{op.n, 2 * op.w}, 2, 2, 2), fwd: op}
	dx, err := G.ApplyOp(b, ins[0], grad)
	return G.Nodes{dx}, err
}

type gatedActBwd struct {
	base
	fwd *GatedAct
	dx  *tensor.Dense
}

func (op *gatedActBwd) Do(vs ...G.Value) (G.Value, error) {
	n, w := op.fwd.n, op.fwd.w
	in, err := inputs(op.name, vs, n*2*w, n*w)
	if err != nil {
		return nil, err
	}
	dx := outBuf(&op.dx, op.shape)
	d := dx.Float32s()
	x, dy, f := in[0], in[1], op.fwd
	parallelFor(n, max(1, (1<<13)/w), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			u, v := x[r*2*w:r*2*w+w], x[r*2*w+w:(r+1)*2*w]
			du, dv := d[r*2*w:r*2*w+w], d[r*2*w+w:(r+1)*2*w]
			g := dy[r*w : (r+1)*w]
			if f.silu {
				siluGateBwd(f.k, du, dv, g, u, v)
				continue
			}
			for j := 0; j < w; j++ {
				du[j] = g[j] * f.f(v[j])
				dv[j] = g[j] * u[j] * f.df(v[j])
			}
		}
	})
	return dx, nil
}

package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Norm kinds.
const (
	NormRMS   = "rms"
	NormLayer = "layer"
)

// Default epsilons of the spec.
const (
	RMSEps   = 1.1920929e-07 // float32 machine epsilon (PyTorch RMSNorm eps=None)
	LayerEps = 1e-5          // nn.LayerNorm default
)

// Norm normalises each row of x (N, C): RMSNorm x/sqrt(mean(x²)+eps) or
// LayerNorm (x-mean)/sqrt(var+eps), optionally times a weight w (C) plus a
// bias b (C). Per-row mean and 1/std are kept for the backward pass.
type Norm struct {
	base
	kind     string
	eps      float32
	n, c     int
	hasW     bool
	hasB     bool
	mean, rs []float32
	y        *tensor.Dense
}

// NewNorm normalises x over its last dim; w and b may be nil (b needs w).
func NewNorm(x, w, b *G.Node, kind string, eps float32) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 2 {
		return nil, fmt.Errorf("norm: input %v must be 2-D", s)
	}
	if kind != NormRMS && kind != NormLayer {
		return nil, fmt.Errorf("norm kind %q not allowed (allowed: rms, layer)", kind)
	}
	if b != nil && w == nil {
		return nil, fmt.Errorf("norm: a bias needs a weight")
	}
	op := &Norm{kind: kind, eps: eps, n: s[0], c: s[1], hasW: w != nil, hasB: b != nil,
		mean: make([]float32, s[0]), rs: make([]float32, s[0])}
	children := G.Nodes{x}
	dims := []int{2}
	for _, p := range []*G.Node{w, b} {
		if p == nil {
			continue
		}
		if ps := p.Shape(); ps.Dims() != 1 || ps[0] != op.c {
			return nil, fmt.Errorf("norm: parameter %v must be (%d)", ps, op.c)
		}
		children = append(children, p)
		dims = append(dims, 1)
	}
	op.base = newBase("Norm("+kind+")", s, append(dims, 2)...)
	return G.ApplyOp(op, children...)
}

func (op *Norm) sizes() []int {
	s := []int{op.n * op.c}
	if op.hasW {
		s = append(s, op.c)
	}
	if op.hasB {
		s = append(s, op.c)
	}
	return s
}

// Do normalises the rows.
func (op *Norm) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.sizes()...)
	if err != nil {
		return nil, err
	}
	var w, b []float32
	if op.hasW {
		w = in[1]
	}
	if op.hasB {
		b = in[2]
	}
	y := outBuf(&op.y, op.shape)
	yd := y.Float32s()
	x := in[0]
	c := op.c
	parallelFor(op.n, 1<<14/op.c+1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			op.mean[r], op.rs[r] = normRow(yd[r*c:(r+1)*c], x[r*c:(r+1)*c], w, b, op.kind == NormLayer, op.eps)
		}
	})
	return y, nil
}

// normRow normalises one row and returns its mean (0 for RMS) and 1/std.
func normRow(y, x, w, b []float32, layer bool, eps float32) (mean, rs float32) {
	c := float64(len(x))
	if layer {
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		mean = float32(s / c)
	}
	var ss float64
	for _, v := range x {
		d := float64(v - mean)
		ss += d * d
	}
	rs = float32(1 / math.Sqrt(ss/c+float64(eps)))
	for j, v := range x {
		h := (v - mean) * rs
		if w != nil {
			h *= w[j]
		}
		if b != nil {
			h += b[j]
		}
		y[j] = h
	}
	return mean, rs
}

// NormRef is the reference normalisation of n rows of width c.
func NormRef(y, x, w, b []float32, n, c int, kind string, eps float32) {
	for r := 0; r < n; r++ {
		xr := x[r*c : (r+1)*c]
		var mean float64
		if kind == NormLayer {
			for _, v := range xr {
				mean += float64(v)
			}
			mean /= float64(c)
		}
		var v2 float64
		for _, v := range xr {
			v2 += (float64(v) - mean) * (float64(v) - mean)
		}
		rs := 1 / math.Sqrt(v2/float64(c)+float64(eps))
		for j, v := range xr {
			h := (float64(v) - mean) * rs
			if w != nil {
				h *= float64(w[j])
			}
			if b != nil {
				h += float64(b[j])
			}
			y[r*c+j] = float32(h)
		}
	}
}

// DiffWRT: every input.
func (op *Norm) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns dx (and dw, db when present).
func (op *Norm) SymDiff(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	var out G.Nodes
	for which := 0; which < len(ins); which++ {
		shape, dims := []int{op.n, op.c}, 2
		if which > 0 {
			shape, dims = []int{op.c}, 1
		}
		args := G.Nodes{ins[0]}
		argDims := []int{2}
		if op.hasW {
			args = append(args, ins[1])
			argDims = append(argDims, 1)
		}
		args = append(args, grad)
		argDims = append(argDims, 2, dims)
		b := &normBwd{base: newBase(fmt.Sprintf("%sBwd%d", op.name, which), shape, argDims...), fwd: op, which: which}
		d, err := G.ApplyOp(b, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// normBwd computes the gradient of input `which` (0 x, 1 w, 2 b) of a Norm
// from inputs (x, [w], dy) and the forward's saved row statistics.
type normBwd struct {
	base
	fwd   *Norm
	which int
	d     *tensor.Dense
}

func (op *normBwd) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	sizes := []int{f.n * f.c}
	if f.hasW {
		sizes = append(sizes, f.c)
	}
	sizes = append(sizes, f.n*f.c)
	in, err := inputs(op.name, vs, sizes...)
	if err != nil {
		return nil, err
	}
	x, dy := in[0], in[len(in)-1]
	var w []float32
	if f.hasW {
		w = in[1]
	}
	out := outBuf(&op.d, op.shape)
	d := out.Float32s()
	c := f.c
	switch op.which {
	case 0:
		layer := f.kind == NormLayer
		parallelFor(f.n, 1<<14/f.c+1, func(_, lo, hi int) {
			for r := lo; r < hi; r++ {
				xr, gr, dr := x[r*c:(r+1)*c], dy[r*c:(r+1)*c], d[r*c:(r+1)*c]
				mean, rs := f.mean[r], f.rs[r]
				var sg, sgx float64
				for j := range xr {
					g := gr[j]
					if w != nil {
						g *= w[j]
					}
					sg += float64(g)
					sgx += float64(g * (xr[j] - mean) * rs)
				}
				mg, mgx := float32(sg/float64(c)), float32(sgx/float64(c))
				if !layer {
					mg = 0
				}
				for j := range xr {
					g := gr[j]
					if w != nil {
						g *= w[j]
					}
					dr[j] = rs * (g - mg - (xr[j]-mean)*rs*mgx)
				}
			}
		})
	case 1:
		zero(d)
		for r := 0; r < f.n; r++ {
			xr, gr := x[r*c:(r+1)*c], dy[r*c:(r+1)*c]
			for j := range xr {
				d[j] += gr[j] * (xr[j] - f.mean[r]) * f.rs[r]
			}
		}
	case 2:
		ColSumRef(d, dy, f.n, c)
	}
	return out, nil
}

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
// The float64 sums run in four interleaved partial sums (fixed order, so
// still deterministic) to break the add-latency chain.
func normRow(y, x, w, b []float32, layer bool, eps float32) (mean, rs float32) {
	c := float64(len(x))
	if layer {
		mean = float32(sum64(x) / c)
	}
	rs = float32(1 / math.Sqrt(sumSq64(x, mean)/c+float64(eps)))
	switch {
	case w != nil && b != nil:
		w, b = w[:len(x)], b[:len(x)]
		y = y[:len(x)]
		j0 := 0
		if haveFMA {
			normOut8(y, x, w, b, mean, rs)
			j0 = len(x) / 8 * 8
		}
		for j := j0; j < len(x); j++ {
			v := x[j]
			y[j] = (v-mean)*rs*w[j] + b[j]
		}
	case w != nil:
		w = w[:len(x)]
		y = y[:len(x)]
		for j, v := range x {
			y[j] = (v - mean) * rs * w[j]
		}
	default:
		y = y[:len(x)]
		for j, v := range x {
			y[j] = (v - mean) * rs
		}
	}
	return mean, rs
}

// sum64 is Σ x in float64, in four partial sums.
func sum64(x []float32) float64 {
	if haveFMA && len(x) >= 8 {
		s := sum64x8(x)
		for _, v := range x[len(x)/8*8:] {
			s += float64(v)
		}
		return s
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSq64 is Σ (x-m)² in float64 (x-m rounded to float32 first), in four
// partial sums.
func sumSq64(x []float32, m float32) float64 {
	if haveFMA && len(x) >= 8 {
		s := sumSq64x8(x, m)
		for _, v := range x[len(x)/8*8:] {
			d := float64(v - m)
			s += d * d
		}
		return s
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1 := float64(x[i]-m), float64(x[i+1]-m)
		d2, d3 := float64(x[i+2]-m), float64(x[i+3]-m)
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i] - m)
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
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

// normBwdSums returns Σ g and Σ g (x-mean) rs over a row, g = dy (times w
// when w != nil), in float64, in two interleaved partial sums each.
func normBwdSums(xr, gr, w []float32, mean, rs float32) (sg, sgx float64) {
	gr = gr[:len(xr)]
	var a0, a1, b0, b1 float64
	j := 0
	if w != nil {
		w = w[:len(xr)]
		if haveFMA {
			a0, b0 = normBwdSums8(xr, gr, w, mean, rs)
			j = len(xr) / 8 * 8
		}
	}
	for ; j+2 <= len(xr); j += 2 {
		g0, g1 := gr[j], gr[j+1]
		if w != nil {
			g0 *= w[j]
			g1 *= w[j+1]
		}
		a0 += float64(g0)
		a1 += float64(g1)
		b0 += float64(g0 * (xr[j] - mean) * rs)
		b1 += float64(g1 * (xr[j+1] - mean) * rs)
	}
	for ; j < len(xr); j++ {
		g := gr[j]
		if w != nil {
			g *= w[j]
		}
		a0 += float64(g)
		b0 += float64(g * (xr[j] - mean) * rs)
	}
	return a0 + a1, b0 + b1
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
				sg, sgx := normBwdSums(xr, gr, w, mean, rs)
				mg, mgx := float32(sg/float64(c)), float32(sgx/float64(c))
				if !layer {
					mg = 0
				}
				gr, dr = gr[:len(xr)], dr[:len(xr)]
				if w != nil {
					w := w[:len(xr)]
					j0 := 0
					if haveFMA {
						normDx8(dr, xr, gr, w, mean, rs, mg, mgx)
						j0 = len(xr) / 8 * 8
					}
					for j := j0; j < len(xr); j++ {
						dr[j] = rs * (gr[j]*w[j] - mg - (xr[j]-mean)*rs*mgx)
					}
					continue
				}
				for j, v := range xr {
					dr[j] = rs * (gr[j] - mg - (v-mean)*rs*mgx)
				}
			}
		})
	case 1:
		// column blocks on Workers() goroutines; each column still sums
		// its rows in order
		zero(d)
		parallelFor(c, max(16, (1<<14)/f.n), func(_, lo, hi int) {
			dd := d[lo:hi]
			for r := 0; r < f.n; r++ {
				xr, gr := x[r*c+lo:r*c+hi], dy[r*c+lo:r*c+hi]
				gr = gr[:len(xr)]
				dd = dd[:len(xr)]
				m, rs := f.mean[r], f.rs[r]
				for j, v := range xr {
					dd[j] += gr[j] * (v - m) * rs
				}
			}
		})
	case 2:
		colSum(d, dy, f.n, c)
	}
	return out, nil
}

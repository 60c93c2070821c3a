package ops

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear is y = x W^T (+ b) with x (N, in), W (out, in) in PyTorch layout and
// an optional bias b (out). It calls the gorgonia BLAS (gorgonia.WhichBLAS)
// with a transpose flag, so W^T is never materialised.
type Linear struct {
	base
	n, in, out int
	bias       bool
	y          *tensor.Dense
}

// NewLinear applies y = x W^T (+ b). Pass b == nil for no bias.
func NewLinear(x, w, b *G.Node) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		return nil, fmt.Errorf("linear: x %v and W %v do not match (want x (N,in), W (out,in))", xs, ws)
	}
	op := &Linear{n: xs[0], in: xs[1], out: ws[0], bias: b != nil}
	if b == nil {
		op.base = newBase("Linear", []int{op.n, op.out}, 2, 2, 2)
		return G.ApplyOp(op, x, w)
	}
	if bs := b.Shape(); len(bs) != 1 || bs[0] != op.out {
		return nil, fmt.Errorf("linear: bias shape %v, want (%d)", bs, op.out)
	}
	op.base = newBase("LinearBias", []int{op.n, op.out}, 2, 2, 1, 2)
	return G.ApplyOp(op, x, w, b)
}

// Do computes y = x W^T (+ b).
func (op *Linear) Do(vs ...G.Value) (G.Value, error) {
	sizes := []int{op.n * op.in, op.out * op.in}
	if op.bias {
		sizes = append(sizes, op.out)
	}
	in, err := inputs(op.name, vs, sizes...)
	if err != nil {
		return nil, err
	}
	y := outBuf(&op.y, op.shape)
	yd := y.Float32s()
	var beta float32
	if op.bias { // y starts as the bias in every row, on Workers() goroutines
		b := in[2]
		parallelFor(op.n, max(1, (1<<14)/op.out), func(_, lo, hi int) {
			for r := lo; r < hi; r++ {
				copy(yd[r*op.out:(r+1)*op.out], b)
			}
		})
		beta = 1
	}
	G.WhichBLAS().Sgemm(blas.NoTrans, blas.Trans, op.n, op.out, op.in, 1, in[0], op.in, in[1], op.in, beta, yd, op.out)
	return y, nil
}

// DiffWRT: differentiable in every input.
func (op *Linear) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns dx = dy W, dW = dy^T x and db = colsum(dy).
func (op *Linear) SymDiff(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&gemmOp{base: newBase("LinearDX", []int{op.n, op.in}, 2, 2, 2), m: op.n, n: op.in, k: op.out}, grad, ins[1])
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&gemmOp{base: newBase("LinearDW", []int{op.out, op.in}, 2, 2, 2), transA: true, m: op.out, n: op.in, k: op.n}, grad, ins[0])
	if err != nil {
		return nil, err
	}
	if !op.bias {
		return G.Nodes{dx, dw}, nil
	}
	db, err := G.ApplyOp(&colSumOp{base: newBase("ColSum", []int{op.out}, 2, 1), rows: op.n, cols: op.out}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

func trues(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

// gemmOp computes C (m,n) = op(A) B with A (m,k) or, transposed, (k,m), and B (k,n).
type gemmOp struct {
	base
	transA  bool
	m, n, k int
	c       *tensor.Dense
}

func (op *gemmOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.m*op.k, op.k*op.n)
	if err != nil {
		return nil, err
	}
	c := outBuf(&op.c, op.shape)
	ta, lda := blas.NoTrans, op.k
	if op.transA {
		ta, lda = blas.Trans, op.m
	}
	G.WhichBLAS().Sgemm(ta, blas.NoTrans, op.m, op.n, op.k, 1, in[0], lda, in[1], op.n, 0, c.Float32s(), op.n)
	return c, nil
}

// colSumOp sums the rows of a (rows, cols) matrix into a (cols) vector.
type colSumOp struct {
	base
	rows, cols int
	s          *tensor.Dense
}

func (op *colSumOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.rows*op.cols)
	if err != nil {
		return nil, err
	}
	s := outBuf(&op.s, op.shape)
	colSum(s.Float32s(), in[0], op.rows, op.cols)
	return s, nil
}

// ColSumRef sets s[j] = sum_i x[i, j].
func ColSumRef(s, x []float32, rows, cols int) {
	zero(s)
	for i := 0; i < rows; i++ {
		r := x[i*cols : (i+1)*cols]
		for j, v := range r {
			s[j] += v
		}
	}
}

// LinearRef is the reference y = x W^T (+ b) (b may be nil).
func LinearRef(y, x, w, b []float32, n, in, out int) {
	for r := 0; r < n; r++ {
		for o := 0; o < out; o++ {
			var s float32
			if b != nil {
				s = b[o]
			}
			for i := 0; i < in; i++ {
				s += x[r*in+i] * w[o*in+i]
			}
			y[r*out+o] = s
		}
	}
}

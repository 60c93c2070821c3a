package ops

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CrossEntropy is the mean softmax cross-entropy of logits (N, V) against
// integer targets held in the op (SetTargets before each run); the output is
// a float32 scalar.
//
// The forward pass does all the work in one sweep over each row (max, then
// exp and its sum, then one scaling pass while the row is still in cache):
// it computes the loss and writes dlogits = (softmax - onehot) / N, the
// gradient for an upstream gradient g = 1, into one (N, V) buffer. The
// backward pass only rescales that buffer when g is not 1 (never, when the
// loss is the graph's cost), so the logits are read from memory once per step.
// Rows run on Workers() goroutines with the AVX2/FMA kernels of
// xent_amd64.s where available.
type CrossEntropy struct {
	base
	n, v    int
	targets []int32
	rowLoss []float64
	loss    G.F32
	grad    *tensor.Dense // dlogits for upstream gradient gradG
	gradG   float32
	fma     bool // vector kernels (xent_amd64.s)
	// InPlace makes the forward write dlogits over the logits tensor itself
	// instead of a buffer of its own, saving N*V floats. Set it only when
	// this op is the logits node's sole consumer (as the trainer's output
	// head is): the logits are destroyed by the forward pass.
	InPlace bool
}

// NewCrossEntropy builds the loss node over logits (N, V).
func NewCrossEntropy(logits *G.Node) (*G.Node, *CrossEntropy, error) {
	s := logits.Shape()
	if s.Dims() != 2 {
		return nil, nil, fmt.Errorf("cross-entropy: logits %v must be (N, V)", s)
	}
	op := &CrossEntropy{base: newBase("CrossEntropy", nil, 2, 0), n: s[0], v: s[1],
		targets: make([]int32, s[0]), rowLoss: make([]float64, s[0]), fma: haveFMA}
	op.shape = tensor.ScalarShape()
	y, err := G.ApplyOp(op, logits)
	return y, op, err
}

// SetTargets copies the targets of the next run; each must be in [0, V).
func (op *CrossEntropy) SetTargets(t []int32) error {
	return setTargets("cross-entropy", op.targets, t, op.v)
}

// setTargets checks that t has one target per row of dst, each in [0, v),
// and copies it into dst; errors name the op.
func setTargets(name string, dst, t []int32, v int) error {
	if len(t) != len(dst) {
		return fmt.Errorf("%s: got %d targets, want %d", name, len(t), len(dst))
	}
	for i, id := range t {
		if id < 0 || int(id) >= v {
			return fmt.Errorf("%s: target %d at position %d out of range [0, %d)", name, id, i, v)
		}
	}
	copy(dst, t)
	return nil
}

// Loss returns the value computed by the last run.
func (op *CrossEntropy) Loss() float32 { return float32(op.loss) }

// Do computes the mean loss (and dlogits for the backward pass).
func (op *CrossEntropy) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.n*op.v)
	if err != nil {
		return nil, err
	}
	if op.InPlace {
		d, ok := vs[0].(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%s: in place needs a dense tensor, got %T", op.name, vs[0])
		}
		op.grad = d
	}
	grad := outBuf(&op.grad, tensor.Shape{op.n, op.v})
	op.loss = G.F32(op.forward(grad.Float32s(), in[0]))
	op.gradG = 1
	return &op.loss, nil
}

// forward sets d = (softmax(x) - onehot(targets)) / N row by row (d may be
// x itself) and returns the mean loss, summed in float64.
func (op *CrossEntropy) forward(d, x []float32) float64 {
	invN := 1 / float64(op.n)
	op.rows(func(lo, hi int) {
		for r := lo; r < hi; r++ {
			op.rowLoss[r] = xentRow(d[r*op.v:(r+1)*op.v], x[r*op.v:(r+1)*op.v], int(op.targets[r]), invN, op.fma)
		}
	})
	var s float64
	for _, l := range op.rowLoss {
		s += l
	}
	return s * invN
}

// xentRow writes d = (softmax(x) - onehot(t)) * invN for one row (d may alias
// x) and returns the row's loss log(sum(e^x)) - x[t], with the sum of
// exponentials in float64.
func xentRow(d, x []float32, t int, invN float64, fma bool) float64 {
	target := x[t] // read before d overwrites x
	m := rowMax(x, fma)
	s := expSubSum(d, x, m, fma)
	scaleRow(d, float32(invN/s), fma)
	d[t] -= float32(invN)
	return float64(m) - float64(target) + math.Log(s)
}

// rowMax returns the largest element of x (len(x) > 0).
func rowMax(x []float32, fma bool) float32 {
	m, n8 := x[0], 0
	if fma {
		if n8 = len(x) &^ 7; n8 > 0 {
			m = xentMax8(x[:n8])
		}
	}
	for _, v := range x[n8:] {
		m = max(m, v)
	}
	return m
}

// expSubSum sets d[j] = e^(x[j]-m) (d may be x) and returns their sum in
// float64.
func expSubSum(d, x []float32, m float32, fma bool) float64 {
	var s float64
	n8 := 0
	if fma {
		if n8 = len(x) &^ 7; n8 > 0 {
			if haveAVX512 { // sixteen lanes, the same bits as eight
				s = xentExpSum16(d[:n8], x[:n8], m)
			} else {
				s = xentExpSum8(d[:n8], x[:n8], m)
			}
		}
	}
	d, x = d[n8:len(x)], x[n8:]
	for j, v := range x {
		e := expf(v - m)
		d[j] = e
		s += float64(e)
	}
	return s
}

// scaleRow sets d[j] *= c.
func scaleRow(d []float32, c float32, fma bool) {
	n8 := 0
	if fma {
		if n8 = len(d) &^ 7; n8 > 0 {
			xentScale8(d[:n8], c)
		}
	}
	d = d[n8:]
	for j := range d {
		d[j] *= c
	}
}

// rows runs f over blocks of rows on up to Workers() goroutines (the caller's
// among them); workers take the next block from a shared counter so that a
// core slowed by other load does not hold up the rest. Every row is computed
// the same way whatever the schedule, so results do not depend on it.
func (op *CrossEntropy) rows(f func(lo, hi int)) { logitRows(op.n, op.v, f) }

// logitRows runs f over blocks of the n rows of an (n, v) logits matrix as
// CrossEntropy.rows describes.
func logitRows(n, v int, f func(lo, hi int)) {
	rb := max(1, (1<<16)/v) // rows per block: about 256 KiB of logits
	nb := (n + rb - 1) / rb
	w := min(Workers(), nb, n*v>>15+1) // small inputs stay on one goroutine
	if w <= 1 {
		f(0, n)
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			b := int(next.Add(1)) - 1
			if b >= nb {
				return
			}
			f(b*rb, min((b+1)*rb, n))
		}
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for k := 1; k < w; k++ {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// CrossEntropyRef is the reference mean cross-entropy in float64.
func CrossEntropyRef(logits []float32, targets []int32, v int) float64 {
	var total float64
	for r, t := range targets {
		row := logits[r*v : (r+1)*v]
		m := math.Inf(-1)
		for _, x := range row {
			m = math.Max(m, float64(x))
		}
		var s float64
		for _, x := range row {
			s += math.Exp(float64(x) - m)
		}
		total += m + math.Log(s) - float64(row[t])
	}
	return total / float64(len(targets))
}

// DiffWRT: the logits.
func (op *CrossEntropy) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns dlogits.
func (op *CrossEntropy) SymDiff(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	b := &xentBwd{base: newBase("CrossEntropyBwd", []int{op.n, op.v}, 2, 0, 2), fwd: op}
	d, err := G.ApplyOp(b, ins[0], grad)
	return G.Nodes{d}, err
}

type xentBwd struct {
	base
	fwd *CrossEntropy
}

// Do returns the dlogits the forward pass wrote, rescaled in place when the
// upstream gradient is not the one they were written for (1 after a forward
// pass), so running it twice gives the same result.
func (op *xentBwd) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	if len(vs) != 2 {
		return nil, fmt.Errorf("%s: expected 2 inputs, got %d", op.name, len(vs))
	}
	g, err := scalar(vs[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op.name, err)
	}
	if f.grad == nil {
		return nil, fmt.Errorf("%s: run before the forward pass", op.name)
	}
	if err := f.rescale(g); err != nil {
		return nil, fmt.Errorf("%s: %w", op.name, err)
	}
	return f.grad, nil
}

// rescale turns the dlogits held for upstream gradient gradG into those for g.
func (op *CrossEntropy) rescale(g float32) error {
	if g == op.gradG {
		return nil
	}
	if op.gradG == 0 {
		return fmt.Errorf("dlogits were zeroed by a zero upstream gradient; run the forward pass again")
	}
	c := g / op.gradG
	d := op.grad.Float32s()
	op.rows(func(lo, hi int) { scaleRow(d[lo*op.v:hi*op.v], c, op.fma) })
	op.gradG = g
	return nil
}

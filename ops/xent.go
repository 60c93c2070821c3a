package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CrossEntropy is the mean softmax cross-entropy of logits (N, V) against
// integer targets held in the op (SetTargets before each run); the output is
// a float32 scalar. The forward keeps the softmax probabilities in one
// (N, V) buffer, which the backward turns in place into
// dlogits = (softmax - onehot) * g / N (so exp runs once per logit).
type CrossEntropy struct {
	base
	n, v    int
	targets []int32
	rowLoss []float64
	loss    G.F32
	probs   *tensor.Dense
	// InPlace makes the forward write the probabilities over the logits
	// tensor itself instead of a buffer of its own, saving N*V floats. Set it
	// only when this op is the logits node's sole consumer (as the trainer's
	// output head is): the logits are destroyed by the forward pass.
	InPlace bool
}

// NewCrossEntropy builds the loss node over logits (N, V).
func NewCrossEntropy(logits *G.Node) (*G.Node, *CrossEntropy, error) {
	s := logits.Shape()
	if s.Dims() != 2 {
		return nil, nil, fmt.Errorf("cross-entropy: logits %v must be (N, V)", s)
	}
	op := &CrossEntropy{base: newBase("CrossEntropy", nil, 2, 0), n: s[0], v: s[1],
		targets: make([]int32, s[0]), rowLoss: make([]float64, s[0])}
	op.shape = tensor.ScalarShape()
	y, err := G.ApplyOp(op, logits)
	return y, op, err
}

// SetTargets copies the targets of the next run; each must be in [0, V).
func (op *CrossEntropy) SetTargets(t []int32) error {
	if len(t) != op.n {
		return fmt.Errorf("cross-entropy: got %d targets, want %d", len(t), op.n)
	}
	for i, id := range t {
		if id < 0 || int(id) >= op.v {
			return fmt.Errorf("cross-entropy: target %d at position %d out of range [0, %d)", id, i, op.v)
		}
	}
	copy(op.targets, t)
	return nil
}

// Loss returns the value computed by the last run.
func (op *CrossEntropy) Loss() float32 { return float32(op.loss) }

// Do computes the mean loss.
func (op *CrossEntropy) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.n*op.v)
	if err != nil {
		return nil, err
	}
	x := in[0]
	if op.InPlace {
		d, ok := vs[0].(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%s: in place needs a dense tensor, got %T", op.name, vs[0])
		}
		op.probs = d
	}
	probs := outBuf(&op.probs, tensor.Shape{op.n, op.v})
	pd := probs.Float32s()
	parallelFor(op.n, 1<<14/op.v+1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			row, pr := x[r*op.v:(r+1)*op.v], pd[r*op.v:(r+1)*op.v]
			m, target := float32(math.Inf(-1)), row[op.targets[r]] // read before pr overwrites row (InPlace)
			for _, v := range row {
				m = max(m, v)
			}
			var s float64
			for j, v := range row {
				e := math.Exp(float64(v - m))
				pr[j] = float32(e)
				s += e
			}
			inv := float32(1 / s)
			for j := range pr {
				pr[j] *= inv
			}
			op.rowLoss[r] = float64(m-target) + math.Log(s)
		}
	})
	var s float64
	for _, l := range op.rowLoss {
		s += l
	}
	op.loss = G.F32(s / float64(op.n))
	return &op.loss, nil
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

func (op *xentBwd) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	if len(vs) != 2 {
		return nil, fmt.Errorf("%s: expected 2 inputs, got %d", op.name, len(vs))
	}
	g, err := scalar(vs[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op.name, err)
	}
	if f.probs == nil {
		return nil, fmt.Errorf("%s: run before the forward pass", op.name)
	}
	d := f.probs.Float32s()
	scale := g / float32(f.n)
	parallelFor(f.n, 1<<14/f.v+1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			dr := d[r*f.v : (r+1)*f.v]
			for j := range dr {
				dr[j] *= scale
			}
			dr[f.targets[r]] -= scale
		}
	})
	return f.probs, nil
}

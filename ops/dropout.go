package ops

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dropout zeroes elements with probability p and scales the rest by 1/(1-p)
// while Training is set; otherwise it is the identity. Masks come from the
// *rand.Rand it was given (the trainer's seeded RNG), never from the clock.
type Dropout struct {
	base
	p     float32
	size  int
	rng   *rand.Rand
	mask  []float32
	drawn bool
	// Training enables dropout; when false the op is the identity.
	Training bool
	// Frozen reuses the last mask instead of drawing a new one each run
	// (finite-difference tests).
	Frozen bool
	y      *tensor.Dense
}

// NewDropout applies dropout with probability p in [0, 1).
func NewDropout(x *G.Node, p float64, rng *rand.Rand) (*G.Node, *Dropout, error) {
	if p < 0 || p >= 1 {
		return nil, nil, fmt.Errorf("dropout probability must be in [0, 1), got %g", p)
	}
	n := x.Shape().TotalSize()
	op := &Dropout{base: newBase("Dropout", x.Shape(), 2, 2), p: float32(p), size: n, rng: rng, mask: make([]float32, n), Training: true}
	y, err := G.ApplyOp(op, x)
	return y, op, err
}

// Do draws a new mask (when training) and applies it.
func (op *Dropout) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.size)
	if err != nil {
		return nil, err
	}
	y := outBuf(&op.y, op.shape)
	yd := y.Float32s()
	keep := 1 / (1 - op.p)
	draw := op.Training && !(op.Frozen && op.drawn)
	for i := range op.mask {
		switch {
		case !op.Training:
			op.mask[i] = 1
		case draw:
			op.mask[i] = keep
			if op.rng.Float32() < op.p {
				op.mask[i] = 0
			}
		}
		yd[i] = in[0][i] * op.mask[i]
	}
	op.drawn = op.drawn || draw
	return y, nil
}

// DiffWRT: the input.
func (op *Dropout) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns dx = dy * mask.
func (op *Dropout) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	b := &dropoutBwd{base: newBase("DropoutBwd", op.shape, 2, 2), fwd: op}
	d, err := G.ApplyOp(b, grad)
	return G.Nodes{d}, err
}

type dropoutBwd struct {
	base
	fwd *Dropout
	d   *tensor.Dense
}

func (op *dropoutBwd) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.fwd.size)
	if err != nil {
		return nil, err
	}
	out := outBuf(&op.d, op.shape)
	d := out.Float32s()
	for i, g := range in[0] {
		d[i] = g * op.fwd.mask[i]
	}
	return out, nil
}

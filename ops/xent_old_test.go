package ops

import "math"

// xentOld is the cross-entropy kernel this package used before the fused
// one (float64 math.Exp, probabilities kept by forward, a separate backward
// pass scaling them into dlogits), kept as the benchmark baseline.
type xentOld struct {
	n, v    int
	targets []int32
	rowLoss []float64
}

// forward writes the probabilities into pd and returns the mean loss.
func (op *xentOld) forward(pd, x []float32) float64 {
	parallelFor(op.n, 1<<14/op.v+1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			row, pr := x[r*op.v:(r+1)*op.v], pd[r*op.v:(r+1)*op.v]
			m, target := float32(math.Inf(-1)), row[op.targets[r]]
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
	return s / float64(op.n)
}

// backward turns the probabilities in d into dlogits for upstream gradient g.
func (op *xentOld) backward(d []float32, g float32) {
	scale := g / float32(op.n)
	parallelFor(op.n, 1<<14/op.v+1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			dr := d[r*op.v : (r+1)*op.v]
			for j := range dr {
				dr[j] *= scale
			}
			dr[op.targets[r]] -= scale
		}
	})
}

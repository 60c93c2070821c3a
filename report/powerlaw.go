package report

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// PowerLaw is L(N) = A·N^(−B) + C, the usual loss-versus-size law, with what
// the fit that produced it can say about itself.
type PowerLaw struct {
	A, B, C float64
	// Points is the number of (N, L) points fitted; DOF = Points − 3 is the
	// residual degrees of freedom. With DOF < 1 the curve passes through
	// every point whatever the data: it is not evidence of a law.
	Points, DOF int
	// SSE is the sum of squared residuals in loss units and RMSE its root
	// mean (sqrt(SSE/Points)), in nats per token.
	SSE, RMSE float64
	// NMin and NMax are the smallest and largest sizes the fit saw.
	NMin, NMax float64
}

// At returns L(n).
func (p PowerLaw) At(n float64) float64 { return p.A*math.Pow(n, -p.B) + p.C }

// Inverse returns the size n at which L(n) = loss, or +Inf when loss is at or
// below the asymptote C (no size reaches it).
func (p PowerLaw) Inverse(loss float64) float64 {
	if loss <= p.C {
		return math.Inf(1)
	}
	return math.Pow(p.A/(loss-p.C), 1/p.B)
}

// Usable reports whether the fit has residual degrees of freedom, i.e.
// whether it can be drawn as a law and used for a headline.
func (p PowerLaw) Usable() bool { return p.DOF >= 1 }

// String formats the law with 4 significant digits.
func (p PowerLaw) String() string {
	return fmt.Sprintf("L(N) = %.4g·N^-%.4g + %.4g", p.A, p.B, p.C)
}

// errFewSizes is returned by FitPowerLaw with fewer than three distinct sizes.
var errFewSizes = errors.New("need at least 3 distinct sizes")

// PowerLawMethod describes how FitPowerLaw fits, for captions and report.json.
const PowerLawMethod = "least squares in loss units: for each exponent b the (a, c) minimising the sum of squared " +
	"residuals is solved exactly (linear least squares, c >= 0); b minimises what remains, located on a grid of 61 " +
	"values in [0.005, 5] and refined with gonum/optimize's Nelder-Mead"

// FitPowerLaw fits L(N) = a·N^−b + c to the points (n[i], loss[i]) by least
// squares in loss units (PowerLawMethod): the model is linear in (a, c) for
// a fixed b, so the fit profiles the sum of squares over b alone, which needs
// no starting point. It needs at least three distinct positive sizes and a
// loss that falls with size (a > 0, b > 0); it reports the residual degrees
// of freedom (points − 3) and the RMSE.
func FitPowerLaw(n, loss []float64) (PowerLaw, error) {
	if len(n) != len(loss) {
		return PowerLaw{}, fmt.Errorf("power-law fit: %d sizes but %d losses", len(n), len(loss))
	}
	distinct := map[float64]bool{}
	nmin, nmax := math.Inf(1), math.Inf(-1)
	for i := range n {
		if !(n[i] > 0) || math.IsInf(n[i], 0) || math.IsNaN(loss[i]) || math.IsInf(loss[i], 0) {
			return PowerLaw{}, fmt.Errorf("power-law fit: bad point (N=%v, L=%v)", n[i], loss[i])
		}
		distinct[n[i]] = true
		nmin, nmax = math.Min(nmin, n[i]), math.Max(nmax, n[i])
	}
	if len(distinct) < 3 {
		return PowerLaw{}, fmt.Errorf("power-law fit: %w, have %d", errFewSizes, len(distinct))
	}
	// Sizes relative to the smallest keep N^-b within (0, 1].
	rel := make([]float64, len(n))
	for i := range n {
		rel[i] = n[i] / nmin
	}
	// linear returns the least-squares (a, c >= 0) for exponent b (a in
	// relative units) and the sum of squared residuals.
	linear := func(b float64) (a, c, sse float64) {
		var sx, sy, sxx, sxy float64
		k := float64(len(rel))
		xs := make([]float64, len(rel))
		for i, r := range rel {
			x := math.Pow(r, -b)
			xs[i] = x
			sx, sy, sxx, sxy = sx+x, sy+loss[i], sxx+x*x, sxy+x*loss[i]
		}
		den := k*sxx - sx*sx
		if den > 0 {
			a = (k*sxy - sx*sy) / den
			c = (sy - a*sx) / k
		}
		if c < 0 || den <= 0 {
			c, a = 0, sxy/sxx
		}
		for i, x := range xs {
			r := a*x + c - loss[i]
			sse += r * r
		}
		return a, c, sse
	}
	const bLo, bHi, grid = 0.005, 5.0, 61
	bestB, bestSSE := 0.0, math.Inf(1)
	for k := 0; k < grid; k++ {
		b := bLo * math.Pow(bHi/bLo, float64(k)/(grid-1))
		if a, _, sse := linear(b); a > 0 && sse < bestSSE {
			bestB, bestSSE = b, sse
		}
	}
	if bestB == 0 {
		return PowerLaw{}, errors.New("power-law fit: loss does not fall with size (no exponent b > 0 gives a > 0)")
	}
	// Refine b (searched in log space, so it stays positive).
	prob := optimize.Problem{Func: func(x []float64) float64 {
		b := math.Exp(x[0])
		a, _, sse := linear(b)
		if !(a > 0) || b > 50 {
			return math.Inf(1)
		}
		return sse
	}}
	if res, err := optimize.Minimize(prob, []float64{math.Log(bestB)}, &optimize.Settings{
		MajorIterations: 200, Converger: &optimize.FunctionConverge{Absolute: 1e-15, Relative: 1e-12, Iterations: 8}}, &optimize.NelderMead{}); err == nil && res.F < bestSSE {
		bestB, bestSSE = math.Exp(res.X[0]), res.F
	}
	a, c, sse := linear(bestB)
	if !(a > 0) {
		return PowerLaw{}, fmt.Errorf("power-law fit: loss does not fall with size (exponent b = %.3g)", bestB)
	}
	return PowerLaw{A: a * math.Pow(nmin, bestB), B: bestB, C: c, Points: len(n), DOF: len(n) - 3,
		SSE: sse, RMSE: math.Sqrt(sse / float64(len(n))), NMin: nmin, NMax: nmax}, nil
}

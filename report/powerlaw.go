package report

import (
	"errors"
	"fmt"
	"math"
)

// PowerLaw is L(N) = A·N^(−B) + C, the usual loss-versus-size law.
type PowerLaw struct {
	A, B, C float64
	// RMSE is the root mean squared residual of the fit, in loss units.
	RMSE float64
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

// String formats the law with 4 significant digits.
func (p PowerLaw) String() string {
	return fmt.Sprintf("L(N) = %.4g·N^-%.4g + %.4g", p.A, p.B, p.C)
}

// errFewSizes is returned by FitPowerLaw with fewer than three distinct sizes.
var errFewSizes = errors.New("need at least 3 distinct sizes")

// FitPowerLaw fits L(N) = a·N^−b + c to the points (n[i], loss[i]) by least
// squares in loss units. For a fixed c the problem is linear in log space
// (log(L−c) = log a − b·log N); c is searched over [0, min L) on a grid and
// then refined by golden-section search, so the fit needs no starting point
// and cannot diverge. It needs at least three distinct sizes, positive sizes
// and a loss that falls with size (b > 0).
func FitPowerLaw(n, loss []float64) (PowerLaw, error) {
	if len(n) != len(loss) {
		return PowerLaw{}, fmt.Errorf("power-law fit: %d sizes but %d losses", len(n), len(loss))
	}
	distinct := map[float64]bool{}
	ymin := math.Inf(1)
	nmin, nmax := math.Inf(1), math.Inf(-1)
	for i := range n {
		if !(n[i] > 0) || math.IsInf(n[i], 0) || math.IsNaN(loss[i]) || math.IsInf(loss[i], 0) {
			return PowerLaw{}, fmt.Errorf("power-law fit: bad point (N=%v, L=%v)", n[i], loss[i])
		}
		distinct[n[i]] = true
		ymin = math.Min(ymin, loss[i])
		nmin, nmax = math.Min(nmin, n[i]), math.Max(nmax, n[i])
	}
	if len(distinct) < 3 {
		return PowerLaw{}, fmt.Errorf("power-law fit: %w, have %d", errFewSizes, len(distinct))
	}
	if ymin <= 0 {
		return PowerLaw{}, fmt.Errorf("power-law fit: losses must be positive, min is %v", ymin)
	}
	lx := make([]float64, len(n))
	for i := range n {
		lx[i] = math.Log(n[i])
	}
	// fitAt returns the best (a, b) for a fixed c and the sum of squared
	// residuals in loss units.
	fitAt := func(c float64) (a, b, sse float64) {
		ly := make([]float64, len(loss))
		for i, y := range loss {
			ly[i] = math.Log(y - c)
		}
		mx, my := Mean(lx), Mean(ly)
		sxy, sxx := 0.0, 0.0
		for i := range lx {
			sxy += (lx[i] - mx) * (ly[i] - my)
			sxx += (lx[i] - mx) * (lx[i] - mx)
		}
		slope := sxy / sxx
		a, b = math.Exp(my-slope*mx), -slope
		for i := range n {
			r := a*math.Pow(n[i], -b) + c - loss[i]
			sse += r * r
		}
		return a, b, sse
	}
	const grid = 400
	hiC := ymin * (1 - 1e-9)
	bestC, bestSSE := 0.0, math.Inf(1)
	for k := 0; k < grid; k++ {
		c := hiC * float64(k) / grid
		if _, _, sse := fitAt(c); sse < bestSSE {
			bestC, bestSSE = c, sse
		}
	}
	// Golden-section refinement on the bracket around the best grid point.
	lo, hi := math.Max(0, bestC-hiC/grid), math.Min(hiC, bestC+hiC/grid)
	g := (math.Sqrt(5) - 1) / 2
	x1, x2 := hi-g*(hi-lo), lo+g*(hi-lo)
	_, _, f1 := fitAt(x1)
	_, _, f2 := fitAt(x2)
	for i := 0; i < 100 && hi-lo > 1e-15*math.Max(1, ymin); i++ {
		if f1 < f2 {
			hi, x2, f2 = x2, x1, f1
			x1 = hi - g*(hi-lo)
			_, _, f1 = fitAt(x1)
		} else {
			lo, x1, f1 = x1, x2, f2
			x2 = lo + g*(hi-lo)
			_, _, f2 = fitAt(x2)
		}
	}
	c := (lo + hi) / 2
	if _, _, sse := fitAt(c); sse > bestSSE {
		c = bestC
	}
	a, b, sse := fitAt(c)
	if !(b > 0) || math.IsNaN(a) {
		return PowerLaw{}, fmt.Errorf("power-law fit: loss does not fall with size (exponent b = %.3g)", b)
	}
	return PowerLaw{A: a, B: b, C: c, RMSE: math.Sqrt(sse / float64(len(n))), NMin: nmin, NMax: nmax}, nil
}

package report

import (
	"errors"
	"fmt"
	"math"
)

// smoothingAlpha is the EMA weight used for a training-loss curve of n
// steps: a span of about 2% of the run (1 to 100 steps), alpha = 2/(span+1),
// so that short runs are not smeared and long ones are readable.
func smoothingAlpha(n int) float64 {
	span := min(max(n/50, 1), 100)
	return 2 / float64(span+1)
}

// Mean returns the arithmetic mean of xs, NaN for an empty slice.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Std returns the sample standard deviation of xs (divisor n-1), NaN when
// fewer than two values are given.
func Std(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	m := Mean(xs)
	ss := 0.0
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// MinMax returns the smallest and largest of xs (NaN, NaN when empty).
func MinMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	lo, hi = xs[0], xs[0]
	for _, x := range xs[1:] {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// EMA returns the exponential moving average of ys with weight alpha on the
// newest value, bias-corrected so that the first points are not pulled
// towards zero. NaN inputs are skipped (the output repeats the previous
// value, NaN before the first finite input).
func EMA(ys []float64, alpha float64) []float64 {
	out := make([]float64, len(ys))
	m, w := 0.0, 0.0
	for i, y := range ys {
		if !math.IsNaN(y) && !math.IsInf(y, 0) {
			m = (1-alpha)*m + alpha*y
			w = (1-alpha)*w + alpha
		}
		if w == 0 {
			out[i] = math.NaN()
		} else {
			out[i] = m / w
		}
	}
	return out
}

// Interval is a confidence interval for a mean.
type Interval struct {
	N         int     // number of values
	Mean      float64 // sample mean
	Lo, Hi    float64 // interval bounds (NaN when N < 2)
	HalfWidth float64 // t quantile * standard error (NaN when N < 2)
}

// ContainsZero reports whether the interval contains 0 (within noise).
func (iv Interval) ContainsZero() bool { return iv.Lo <= 0 && 0 <= iv.Hi }

// TInterval returns the two-sided confidence interval (level e.g. 0.95) for
// the mean of xs under the t-distribution with len(xs)-1 degrees of freedom.
// With fewer than two values the bounds are NaN.
func TInterval(xs []float64, level float64) (Interval, error) {
	if level <= 0 || level >= 1 {
		return Interval{}, fmt.Errorf("confidence level %v: must be in (0, 1)", level)
	}
	iv := Interval{N: len(xs), Mean: Mean(xs), Lo: math.NaN(), Hi: math.NaN(), HalfWidth: math.NaN()}
	if len(xs) < 2 {
		return iv, nil
	}
	q, err := TQuantile(1-(1-level)/2, float64(len(xs)-1))
	if err != nil {
		return iv, err
	}
	iv.HalfWidth = q * Std(xs) / math.Sqrt(float64(len(xs)))
	iv.Lo, iv.Hi = iv.Mean-iv.HalfWidth, iv.Mean+iv.HalfWidth
	return iv, nil
}

// TCDF returns P(T <= t) for Student's t-distribution with df degrees of
// freedom.
func TCDF(t, df float64) float64 {
	x := df / (df + t*t)
	tail := 0.5 * regIncBeta(df/2, 0.5, x) // P(T > |t|)
	if t >= 0 {
		return 1 - tail
	}
	return tail
}

// TQuantile returns the p-quantile of Student's t-distribution with df > 0
// degrees of freedom, by bisection on TCDF (accurate to about 1e-12).
func TQuantile(p, df float64) (float64, error) {
	if !(p > 0 && p < 1) {
		return math.NaN(), fmt.Errorf("t quantile: probability %v outside (0, 1)", p)
	}
	if !(df > 0) {
		return math.NaN(), fmt.Errorf("t quantile: degrees of freedom %v must be > 0", df)
	}
	if p == 0.5 {
		return 0, nil
	}
	if p < 0.5 {
		q, err := TQuantile(1-p, df)
		return -q, err
	}
	lo, hi := 0.0, 1.0
	for TCDF(hi, df) < p {
		hi *= 2
		if hi > 1e12 {
			return math.NaN(), errors.New("t quantile: no convergence")
		}
	}
	for i := 0; i < 200 && hi-lo > 1e-13*math.Max(1, hi); i++ {
		mid := (lo + hi) / 2
		if TCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2, nil
}

// regIncBeta is the regularised incomplete beta function I_x(a, b), by the
// continued fraction of Numerical Recipes (betacf), using the symmetry
// I_x(a,b) = 1 - I_{1-x}(b,a) where it converges faster.
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log(1-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

// betaCF evaluates the continued fraction for the incomplete beta function
// with the modified Lentz method.
func betaCF(a, b, x float64) float64 {
	const tiny = 1e-300
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 300; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return h
}

// nan returns NaN (a missing value).
func nan() float64 { return math.NaN() }

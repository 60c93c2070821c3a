package report

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
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
// the mean of xs under Student's t-distribution with len(xs)-1 degrees of
// freedom (for paired differences: the paired t interval).
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

// TQuantile returns the p-quantile of Student's t-distribution with df > 0
// degrees of freedom (gonum's distuv.StudentsT).
func TQuantile(p, df float64) (float64, error) {
	if !(p > 0 && p < 1) {
		return math.NaN(), fmt.Errorf("t quantile: probability %v outside (0, 1)", p)
	}
	if !(df > 0) {
		return math.NaN(), fmt.Errorf("t quantile: degrees of freedom %v must be > 0", df)
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p), nil
}

// BootstrapReplicates is the number of bootstrap resamples behind every
// bootstrap interval of the report.
const BootstrapReplicates = 1000

// bootstrapSeed seeds the bootstrap's generator: the same data always give
// the same resamples, so the report stays byte-identical.
const bootstrapSeed = 0x7469_6e79_7363_616c // "tinyscal"

// newBootstrapRNG returns the generator of one bootstrap; salt (e.g. the
// quantity's name) makes independent quantities use independent streams
// while each stays reproducible.
func newBootstrapRNG(salt string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(salt))
	return rand.New(rand.NewPCG(bootstrapSeed, h.Sum64()))
}

// resampleMean returns the mean of len(xs) draws with replacement from xs.
func resampleMean(rng *rand.Rand, xs []float64) float64 {
	s := 0.0
	for range xs {
		s += xs[rng.IntN(len(xs))]
	}
	return s / float64(len(xs))
}

// percentileInterval returns the (1−level)/2 and (1+level)/2 empirical
// quantiles of reps (sorted in place; +Inf allowed), by linear
// interpolation between order statistics.
func percentileInterval(reps []float64, level float64) (lo, hi float64) {
	if len(reps) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(reps)
	q := func(p float64) float64 {
		x := p * float64(len(reps)-1)
		i := int(math.Floor(x))
		if i+1 >= len(reps) {
			return reps[len(reps)-1]
		}
		f := x - float64(i)
		switch {
		case f == 0:
			return reps[i]
		case math.IsInf(reps[i+1], 1):
			return math.Inf(1) // any share of an infinite neighbour is infinite
		}
		return reps[i] + f*(reps[i+1]-reps[i])
	}
	return q((1 - level) / 2), q((1 + level) / 2)
}

// nan returns NaN (a missing value).
func nan() float64 { return math.NaN() }

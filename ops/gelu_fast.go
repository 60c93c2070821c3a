package ops

// Fast exact-form GELU: y = x Φ(x) and its derivative Φ(x) + x φ(x), in
// float32, without math.Erf.
//
// Φ(x) = erfc(-x/√2)/2 with erfc from the Chebyshev fit of Numerical Recipes
// (erfcc, §6.2): for z ≥ 0, erfc(z) = t·e^(-z² + p(t)), t = 1/(1 + z/2),
// p a degree-9 polynomial, fractional error below 1.2e-7 everywhere — so Φ
// is accurate relative to its value also deep in the negative tail, where
// 1 + erf(x/√2) would cancel. Measured against the float64 math.Erf form on
// a 1e-5 grid over [-15, 15] (TestGeluFast): |Δy| ≤ 4e-7 (about one float32
// ulp of y) and |Δy'| ≤ 3e-7. x is clamped to ±10 inside Φ and φ (Φ is 0 or
// 1 to float32 precision beyond), so e^ never leaves its normal range; y
// uses max(x, -10), so y stays ≈ 0 (not x·Φ(-10)) far in the negative tail.
// NaN propagates.

// geluPair returns gelu(x) and gelu'(x) (the scalar twin of geluPair8).
func geluPair(x float32) (y, d float32) {
	const (
		rsqrt2     = 0.70710678118654752
		invSqrt2Pi = 0.39894228040143268
	)
	xc := min(max(x, -10), 10)
	z := xc * rsqrt2
	az := z
	if az < 0 {
		az = -az
	}
	t := 1 / (1 + 0.5*az)
	p := float32(0.17087277)
	p = p*t - 0.82215223
	p = p*t + 1.48851587
	p = p*t - 1.13520398
	p = p*t + 0.27886807
	p = p*t - 0.18628806
	p = p*t + 0.09678418
	p = p*t + 0.37409196
	p = p*t + 1.00002368
	p = p*t - 1.26551223
	e := expf(-z * z)
	h := 0.5 * (t * (e * expf(p))) // erfc(|z|)/2
	phi := h
	if x > 0 {
		phi = 1 - h
	}
	return max(x, -10) * phi, phi + xc*(e*invSqrt2Pi)
}

// geluRows sets y = gelu(x) and d = gelu'(x) element-wise (len(y), len(d) ≥
// len(x)) with the kernels of this process's class.
func geluRows(y, d, x []float32) { geluRowsK(cpuKernels, y, d, x) }

// geluRowsK is geluRows with the kernels of class k: AVX-512 blocks of 16,
// then AVX2 blocks of 8 (both classes from 8 on), then geluPair for the rest.
// geluPair16 and geluPair8 give the same bits per lane, so the avx512 and
// avx2 classes agree bit for bit.
func geluRowsK(k Kernels, y, d, x []float32) {
	j := 0
	if k >= KernelsAVX512 {
		j = len(x) / 16 * 16
		if j > 0 {
			geluPair16(y, d, x[:j])
		}
	}
	if k >= KernelsAVX2 {
		if m := (len(x) - j) / 8 * 8; m > 0 {
			geluPair8(y[j:], d[j:], x[j:j+m])
			j += m
		}
	}
	for ; j < len(x); j++ {
		y[j], d[j] = geluPair(x[j])
	}
}

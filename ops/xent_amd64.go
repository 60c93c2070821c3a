package ops

// xentMax8 returns the largest element of x, len(x) a positive multiple of 8
// (see xent_amd64.s). AVX2 only.
//
//go:noescape
func xentMax8(x []float32) float32

// xentExpSum8 sets dst[j] = e^(src[j]-m) for len(src) a multiple of 8
// (dst may be src, len(dst) >= len(src)) and returns the sum of the results,
// accumulated in float64. AVX2 + FMA only.
//
//go:noescape
func xentExpSum8(dst, src []float32, m float32) float64

// xentScale8 sets x[j] *= c for len(x) a multiple of 8. AVX only.
//
//go:noescape
func xentScale8(x []float32, c float32)

package ops

// Norm row kernels (norm_fast_amd64.s), for the first len(x)/8*8 elements;
// AVX2 + FMA only (haveFMA).

// sum64x8 is Σ float64(x).
//
//go:noescape
func sum64x8(x []float32) float64

// sumSq64x8 is Σ float64(x-m)².
//
//go:noescape
func sumSq64x8(x []float32, m float32) float64

// normBwdSums8 is Σ float64(g·w) and Σ float64(g·w·(x-m)·rs).
//
//go:noescape
func normBwdSums8(x, g, w []float32, m, rs float32) (sg, sgx float64)

// normOut8 sets y = (x-m)·rs·w + b.
//
//go:noescape
func normOut8(y, x, w, b []float32, m, rs float32)

// normDx8 sets d = rs·(g·w - mg - (x-m)·rs·mgx).
//
//go:noescape
func normDx8(d, x, g, w []float32, m, rs, mg, mgx float32)

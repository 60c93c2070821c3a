package ops

// vecMul8 sets d = a·b element-wise for the first len(d)/8*8 elements
// (elementwise_fast_amd64.s). AVX only (haveFMA implies it).
//
//go:noescape
func vecMul8(d, a, b []float32)

// vecAdd8 sets d = a+b element-wise for the first len(d)/8*8 elements.
//
//go:noescape
func vecAdd8(d, a, b []float32)

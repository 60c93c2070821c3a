package ops

// geluPair8 sets y[j] = gelu(x[j]) and d[j] = gelu'(x[j]) for j below
// len(x) rounded down to a multiple of 8, eight at a time, with the formula
// of geluPair (gelu_fast_amd64.s). AVX2 + FMA only (haveFMA).
//
//go:noescape
func geluPair8(y, d, x []float32)

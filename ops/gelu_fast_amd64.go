package ops

// geluPair8 sets y[j] = gelu(x[j]) and d[j] = gelu'(x[j]) for j below
// len(x) rounded down to a multiple of 8, eight at a time, with the formula
// of geluPair (gelu_fast_amd64.s). AVX2 + FMA only (haveFMA).
//
//go:noescape
func geluPair8(y, d, x []float32)

// geluPair16 is geluPair8 on 16 lanes (AVX-512F, haveAVX512): the same
// operations per lane, so the same bits.
//
//go:noescape
func geluPair16(y, d, x []float32)

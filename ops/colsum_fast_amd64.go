package ops

// colSumAdd8 adds the column sums of the rows×len(s) block of x (row stride
// ld) to s, in row order, for the first len(s)/8*8 columns
// (colsum_fast_amd64.s). AVX only (haveFMA implies it).
//
//go:noescape
func colSumAdd8(s, x []float32, rows, ld int)

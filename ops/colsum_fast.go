package ops

// colSum sets s[j] = Σ_i x[i, j] for a (rows, cols) matrix: the same float32
// additions in the same (row) order as ColSumRef, so the result is bit for
// bit the reference's, but eight columns per AVX add, accumulated in
// registers, and split by column blocks over Workers() goroutines when large.
func colSum(s, x []float32, rows, cols int) {
	zero(s)
	if !haveFMA || rows == 0 {
		ColSumRef(s, x, rows, cols)
		return
	}
	nb := (cols + 31) / 32
	parallelFor(nb, max(1, (1<<16)/(32*rows)), func(_, lo, hi int) {
		c0, c1 := lo*32, min(hi*32, cols)
		colSumAdd8(s[c0:c1], x[c0:], rows, cols)
		for j := c0 + (c1-c0)/8*8; j < c1; j++ {
			var v float32
			for i := 0; i < rows; i++ {
				v += x[i*cols+j]
			}
			s[j] = v
		}
	})
}

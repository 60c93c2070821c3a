//go:build !amd64

package ops

// colSumAdd8 is the plain-Go twin of the amd64 kernel (never called here:
// haveFMA is false off amd64).
func colSumAdd8(s, x []float32, rows, ld int) {
	w := len(s) / 8 * 8
	for r := 0; r < rows; r++ {
		for j, v := range x[r*ld : r*ld+w] {
			s[j] += v
		}
	}
}

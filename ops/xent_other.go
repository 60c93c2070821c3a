//go:build !amd64

package ops

// xentMax8 is the plain-Go twin of the amd64 kernel (haveFMA is false here,
// so it is never called; it keeps xent.go portable).
func xentMax8(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// xentExpSum8 is the plain-Go twin of the amd64 kernel.
func xentExpSum8(dst, src []float32, m float32) float64 {
	var s float64
	for j, v := range src {
		dst[j] = expf(v - m)
		s += float64(dst[j])
	}
	return s
}

// xentScale8 is the plain-Go twin of the amd64 kernel.
func xentScale8(x []float32, c float32) {
	for j := range x {
		x[j] *= c
	}
}

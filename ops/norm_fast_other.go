//go:build !amd64

package ops

// Plain-Go twins of the amd64 Norm row kernels (never called here: haveFMA
// is false off amd64).

func sum64x8(x []float32) float64 {
	var s float64
	for _, v := range x[:len(x)/8*8] {
		s += float64(v)
	}
	return s
}

func sumSq64x8(x []float32, m float32) float64 {
	var s float64
	for _, v := range x[:len(x)/8*8] {
		d := float64(v - m)
		s += d * d
	}
	return s
}

func normBwdSums8(x, g, w []float32, m, rs float32) (sg, sgx float64) {
	for j, v := range x[:len(x)/8*8] {
		gw := g[j] * w[j]
		sg += float64(gw)
		sgx += float64(gw * (v - m) * rs)
	}
	return sg, sgx
}

func normOut8(y, x, w, b []float32, m, rs float32) {
	for j, v := range x[:len(x)/8*8] {
		y[j] = (v-m)*rs*w[j] + b[j]
	}
}

func normDx8(d, x, g, w []float32, m, rs, mg, mgx float32) {
	for j, v := range x[:len(x)/8*8] {
		d[j] = rs * (g[j]*w[j] - mg - (v-m)*rs*mgx)
	}
}

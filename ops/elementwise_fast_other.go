//go:build !amd64

package ops

// Plain-Go twins of the amd64 element-wise kernels (never called here:
// haveFMA is false off amd64).

func vecMul8(d, a, b []float32) {
	for j := range d[:len(d)/8*8] {
		d[j] = a[j] * b[j]
	}
}

func vecAdd8(d, a, b []float32) {
	for j := range d[:len(d)/8*8] {
		d[j] = a[j] + b[j]
	}
}

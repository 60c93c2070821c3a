//go:build !amd64

package ops

// geluPair8 is the plain-Go twin of the amd64 kernel (never called here:
// haveFMA is false off amd64).
func geluPair8(y, d, x []float32) {
	for j := 0; j < len(x)/8*8; j++ {
		y[j], d[j] = geluPair(x[j])
	}
}

// geluPair16 is the plain-Go twin of the amd64 kernel (never called here).
func geluPair16(y, d, x []float32) {
	for j := 0; j < len(x)/16*16; j++ {
		y[j], d[j] = geluPair(x[j])
	}
}

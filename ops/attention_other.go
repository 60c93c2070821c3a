//go:build !amd64

package ops

import "unsafe"

// haveFMA (cpu.go) is false off amd64: attention uses gonum's kernels.

// pickMicroKernel returns the plain-Go 6×16 kernel.
func pickMicroKernel() (int, func(k int, a *float32, lda int, b, c *float32, ldc int)) {
	return 6, kern6x16
}

// kern6x16 is the plain-Go twin of the amd64 micro-kernel (never on the hot
// path here; it keeps the packed driver buildable and testable everywhere).
func kern6x16(k int, a *float32, lda int, b, c *float32, ldc int) {
	as := unsafe.Slice(a, 5*lda+k)
	bs := unsafe.Slice(b, 16*k)
	cs := unsafe.Slice(c, 5*ldc+16)
	for i := 0; i < 6; i++ {
		for j := 0; j < 16; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += as[i*lda+p] * bs[p*16+j]
			}
			cs[i*ldc+j] += s
		}
	}
}

// microKernSet returns the storing twin of kern6x16.
func microKernSet(int) func(k int, a *float32, lda int, b, c *float32, ldc int) {
	return kern6x16Set
}

// microKernB returns the plain-Go kernel reading B in place.
func microKernB(_ int, set bool) func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	if set {
		return kern6x16SetB
	}
	return kern6x16B
}

// kern6x16B is kern6x16 with B read in place (row stride ldb).
func kern6x16B(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	as := unsafe.Slice(a, 5*lda+k)
	bs := unsafe.Slice(b, max(k-1, 0)*ldb+16)
	cs := unsafe.Slice(c, 5*ldc+16)
	for i := 0; i < 6; i++ {
		for j := 0; j < 16; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += as[i*lda+p] * bs[p*ldb+j]
			}
			cs[i*ldc+j] += s
		}
	}
}

// kern6x16SetB is kern6x16B storing C = A·B.
func kern6x16SetB(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	cs := unsafe.Slice(c, 5*ldc+16)
	for i := 0; i < 6; i++ {
		clear(cs[i*ldc : i*ldc+16])
	}
	kern6x16B(k, a, lda, b, ldb, c, ldc)
}

// kern6x16Set is kern6x16 storing C = A·B instead of adding to C.
func kern6x16Set(k int, a *float32, lda int, b, c *float32, ldc int) {
	cs := unsafe.Slice(c, 5*ldc+16)
	for i := 0; i < 6; i++ {
		clear(cs[i*ldc : i*ldc+16])
	}
	kern6x16(k, a, lda, b, c, ldc)
}

// expScaled8 is the plain-Go twin of the amd64 vector exp.
func expScaled8(x []float32, a, b float32) float32 {
	var s float32
	for j, v := range x {
		x[j] = expf(a*v - b)
		s += x[j]
	}
	return s
}

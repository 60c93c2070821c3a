package ops

// haveFMA and haveAVX512 (cpu.go) say whether the AVX2/FMA micro-kernel and
// the 16-row AVX-512 one (kern16x16z) run here.

// pickMicroKernel returns the row count and function of the attention tiles'
// micro-kernel: the 16×16 AVX-512 kernel where the CPU has it, else the 6×16
// AVX2 one (only called when haveFMA).
func pickMicroKernel() (int, func(k int, a *float32, lda int, b, c *float32, ldc int)) {
	if haveAVX512 {
		return 16, kern16x16z
	}
	return 6, kern6x16
}

// microKernSet returns the storing twin (C = A·B, C not read) of the
// micro-kernel with the given row count.
func microKernSet(rows int) func(k int, a *float32, lda int, b, c *float32, ldc int) {
	if rows == 16 {
		return kern16x16zSet
	}
	return kern6x16Set
}

// microKernB returns the micro-kernel with the given row count that reads B
// in place (row p at b[p*ldb:]), adding to C or, with set, storing C.
func microKernB(rows int, set bool) func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	switch {
	case rows == 16 && set:
		return kern16x16zSetB
	case rows == 16:
		return kern16x16zB
	case set:
		return kern6x16SetB
	}
	return kern6x16B
}

// kern6x16B is kern6x16 with B read in place (row stride ldb).
//
//go:noescape
func kern6x16B(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// kern6x16SetB is kern6x16Set with B read in place (row stride ldb).
//
//go:noescape
func kern6x16SetB(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// kern6x16Set is kern6x16 storing C = A·B instead of adding to C.
//
//go:noescape
func kern6x16Set(k int, a *float32, lda int, b, c *float32, ldc int)

// kern6x16 is C[0:6, 0:16] += A·B for six row-major rows of A (a[i*lda+p],
// p < k) and a packed k×16 panel of B (b[p*16+j]); lda and ldc are in
// elements. AVX2 + FMA only.
//
//go:noescape
func kern6x16(k int, a *float32, lda int, b, c *float32, ldc int)

// expScaled8 sets x[j] = e^(a*x[j]-b) for len(x) a multiple of 8 and
// returns their sum (see attention_amd64.s). AVX2 + FMA only.
//
//go:noescape
func expScaled8(x []float32, a, b float32) float32

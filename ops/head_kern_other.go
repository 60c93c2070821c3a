//go:build !amd64

package ops

import "unsafe"

// Plain-Go twins of head_kern_amd64.s (haveFMA is false off amd64, so the
// packed head never runs here; they keep it buildable and testable).

func headKern16s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	headKernGo(16, false, k, a, lda, b, ldb, c, ldc, acc)
}

func headKern16t(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	headKernGo(16, true, k, a, lda, b, ldb, c, ldc, acc)
}

func headKern16tp(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	headKernGo(16, true, k, a, lda, b, ldb, c, ldc, acc)
}

func headKern6s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	headKernGo(6, false, k, a, lda, b, ldb, c, ldc, acc)
}

func headKern6t(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	headKernGo(6, true, k, a, lda, b, ldb, c, ldc, acc)
}

func headKernGo(mr int, tA bool, k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	cs := unsafe.Slice(c, (mr-1)*ldc+16)
	for i := 0; i < mr; i++ {
		for j := 0; j < 16; j++ {
			var s float32
			for p := 0; p < k; p++ {
				ai := i*lda + p
				if tA {
					ai = p*lda + i
				}
				s += *(*float32)(unsafe.Add(unsafe.Pointer(a), 4*ai)) * *(*float32)(unsafe.Add(unsafe.Pointer(b), 4*(p*ldb+j)))
			}
			if acc {
				cs[i*ldc+j] += s
			} else {
				cs[i*ldc+j] = s
			}
		}
	}
}

func xentExpSum16(dst, src []float32, m float32) float64 { return xentExpSum8(dst, src, m) }

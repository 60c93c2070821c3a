package blas

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
)

// Panic messages, identical to gonum's so that both backends fail alike.
const (
	badTranspose = "blas: illegal transpose"
	mLT0         = "blas: m < 0"
	nLT0         = "blas: n < 0"
	kLT0         = "blas: k < 0"
	badLdA       = "blas: bad leading dimension of A"
	badLdB       = "blas: bad leading dimension of B"
	badLdC       = "blas: bad leading dimension of C"
	zeroIncX     = "blas: zero x index increment"
	zeroIncY     = "blas: zero y index increment"
	shortA       = "blas: insufficient length of a"
	shortB       = "blas: insufficient length of b"
	shortC       = "blas: insufficient length of c"
	shortX       = "blas: insufficient length of x"
	shortY       = "blas: insufficient length of y"
)

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

func isTrans(t blas.Transpose) bool {
	switch t {
	case blas.NoTrans:
		return false
	case blas.Trans, blas.ConjTrans:
		return true
	}
	panic(badTranspose)
}

// checkGemm validates ?gemm arguments exactly as gonum does, so that no bad
// pointer or length ever reaches C.
func checkGemm(tA, tB blas.Transpose, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	aT, bT := isTrans(tA), isTrans(tB)
	switch {
	case m < 0:
		panic(mLT0)
	case n < 0:
		panic(nLT0)
	case k < 0:
		panic(kLT0)
	}
	if aT && lda < max(1, m) || !aT && lda < max(1, k) {
		panic(badLdA)
	}
	if bT && ldb < max(1, k) || !bT && ldb < max(1, n) {
		panic(badLdB)
	}
	if ldc < max(1, n) {
		panic(badLdC)
	}
	if m == 0 || n == 0 {
		return
	}
	if aT && lenA < (k-1)*lda+m || !aT && lenA < (m-1)*lda+k {
		panic(shortA)
	}
	if bT && lenB < (n-1)*ldb+k || !bT && lenB < (k-1)*ldb+n {
		panic(shortB)
	}
	if lenC < (m-1)*ldc+n {
		panic(shortC)
	}
}

// checkGemv validates ?gemv arguments exactly as gonum does.
func checkGemv(tA blas.Transpose, m, n, lenA, lda, lenX, incX, lenY, incY int) {
	t := isTrans(tA)
	switch {
	case m < 0:
		panic(mLT0)
	case n < 0:
		panic(nLT0)
	case lda < max(1, n):
		panic(badLdA)
	case incX == 0:
		panic(zeroIncX)
	case incY == 0:
		panic(zeroIncY)
	}
	if m == 0 || n == 0 {
		return
	}
	nx, ny := n, m
	if t {
		nx, ny = m, n
	}
	if incX > 0 && (nx-1)*incX >= lenX || incX < 0 && (1-nx)*incX >= lenX {
		panic(shortX)
	}
	if incY > 0 && (ny-1)*incY >= lenY || incY < 0 && (1-ny)*incY >= lenY {
		panic(shortY)
	}
	if lenA < lda*(m-1)+n {
		panic(shortA)
	}
}

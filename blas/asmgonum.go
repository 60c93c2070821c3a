package blas

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/tinyscale/tinyscale/blas/internal/asmgemm"
)

// asmMinWork is the m*n*k from which AsmGonum.Sgemm runs the assembly kernel.
const asmMinWork = 1 << 18

// AsmGonum is gonum's pure-Go BLAS with Sgemm replaced, for large products on
// a CPU with AVX2 and FMA, by the 6×16 assembly kernel of
// blas/internal/asmgemm. Transposed operands are copied into buffers it keeps
// (one product at a time, under a mutex) and alpha/beta are applied after the
// product. Everything else is gonum's. Use a pointer; the zero value is ready.
type AsmGonum struct {
	gonum.Implementation
	mu   sync.Mutex
	work asmgemm.Work
	at   []float32 // A, not transposed (m×k)
	bt   []float32 // B, not transposed (k×n)
	tmp  []float32 // A·B (m×n) when alpha != 1 or beta != 0
}

var asmSupported = asmgemm.Supported()

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C like gonum's.
func (g *AsmGonum) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !asmSupported || m*n*k < asmMinWork || alpha == 0 || !sgemmArgsOK(tA, tB, m, n, k, a, lda, b, ldb, c, ldc) {
		g.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if tA != blas.NoTrans { // A is k×m
		g.at = grow(g.at, m*k)
		for p := range k {
			row := a[p*lda : p*lda+m]
			for i, v := range row {
				g.at[i*k+p] = v
			}
		}
		a, lda = g.at, k
	}
	if tB != blas.NoTrans { // B is n×k
		g.bt = grow(g.bt, k*n)
		for j := range n {
			row := b[j*ldb : j*ldb+k]
			for p, v := range row {
				g.bt[p*n+j] = v
			}
		}
		b, ldb = g.bt, n
	}
	workers := runtime.GOMAXPROCS(0)
	if alpha == 1 && beta == 0 {
		asmgemm.SgemmWork(&g.work, m, n, k, a, lda, b, ldb, c, ldc, workers)
		return
	}
	g.tmp = grow(g.tmp, m*n)
	asmgemm.SgemmWork(&g.work, m, n, k, a, lda, b, ldb, g.tmp, n, workers)
	for i := range m {
		t, row := g.tmp[i*n:i*n+n], c[i*ldc:i*ldc+n]
		if beta == 0 {
			for j, v := range t {
				row[j] = alpha * v
			}
		} else {
			for j, v := range t {
				row[j] = alpha*v + beta*row[j]
			}
		}
	}
}

// sgemmArgsOK reports whether gonum would accept these arguments; when it
// would not, Sgemm hands them to gonum so that it panics with its message.
func sgemmArgsOK(tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	okT := func(t blas.Transpose) bool {
		return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans
	}
	if !okT(tA) || !okT(tB) || m <= 0 || n <= 0 || k <= 0 {
		return false
	}
	ar, ac := m, k
	if tA != blas.NoTrans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB != blas.NoTrans {
		br, bc = n, k
	}
	return lda >= max(1, ac) && ldb >= max(1, bc) && ldc >= max(1, n) &&
		len(a) >= lda*(ar-1)+ac && len(b) >= ldb*(br-1)+bc && len(c) >= ldc*(m-1)+n
}

package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestAsmGonumSgemmMatchesGonum compares AsmGonum.Sgemm with gonum's on all
// four transpose combinations, padded leading dimensions, several alpha/beta
// pairs, and shapes below and above the assembly threshold.
func TestAsmGonumSgemmMatchesGonum(t *testing.T) {
	if !asmSupported {
		t.Log("no AVX2/FMA: AsmGonum delegates every product to gonum")
	}
	shapes := []struct{ m, n, k, pad int }{
		{3, 5, 7, 0},      // small: gonum path
		{7, 17, 5, 3},     // small, padded
		{64, 64, 64, 0},   // exactly 2^18: asm path
		{67, 45, 130, 1},  // large, odd, padded
		{130, 97, 33, 5},  // large, odd, padded
		{256, 300, 71, 0}, // large
	}
	scales := []struct{ alpha, beta float32 }{{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0}, {0, 0.75}}
	trans := []blas.Transpose{blas.NoTrans, blas.Trans}
	g := new(AsmGonum)
	for si, s := range shapes {
		for _, tA := range trans {
			for _, tB := range trans {
				for _, sc := range scales {
					name := fmt.Sprintf("%dx%dx%d/pad%d/%c%c/a%g/b%g", s.m, s.n, s.k, s.pad, tA, tB, sc.alpha, sc.beta)
					t.Run(name, func(t *testing.T) {
						r := rand.New(rand.NewPCG(uint64(si), 3))
						ar, ac := s.m, s.k
						if tA != blas.NoTrans {
							ar, ac = s.k, s.m
						}
						br, bc := s.k, s.n
						if tB != blas.NoTrans {
							br, bc = s.n, s.k
						}
						lda, ldb, ldc := ac+s.pad, bc+s.pad, s.n+s.pad
						a, b := randSlice32(r, ar*lda), randSlice32(r, br*ldb)
						got := randSlice32(r, s.m*ldc)
						want := append([]float32(nil), got...)
						g.Sgemm(tA, tB, s.m, s.n, s.k, sc.alpha, a, lda, b, ldb, sc.beta, got, ldc)
						gonum.Implementation{}.Sgemm(tA, tB, s.m, s.n, s.k, sc.alpha, a, lda, b, ldb, sc.beta, want, ldc)
						tol := 1e-5 * float64(s.k+1) * (1 + math.Abs(float64(sc.alpha)) + math.Abs(float64(sc.beta)))
						for i := range got {
							if d := math.Abs(float64(got[i] - want[i])); d > tol || math.IsNaN(d) {
								t.Fatalf("element %d (row %d) = %g, gonum %g (|diff| %g > %g)", i, i/ldc, got[i], want[i], d, tol)
							}
						}
					})
				}
			}
		}
	}
}

// TestAsmGonumNoAllocAfterWarmup checks that a repeated large transposed,
// scaled product allocates nothing in AsmGonum's own buffers.
func TestAsmGonumNoAllocAfterWarmup(t *testing.T) {
	if !asmSupported {
		t.Skip("no AVX2/FMA")
	}
	const m, n, k = 96, 80, 64
	r := rand.New(rand.NewPCG(1, 1))
	a, b, c := randSlice32(r, m*k), randSlice32(r, k*n), make([]float32, m*n)
	g := new(AsmGonum)
	call := func() { g.Sgemm(blas.Trans, blas.Trans, m, n, k, 2, a, m, b, k, 1, c, n) }
	call()
	// The driver starts one goroutine per worker band; allow those.
	if allocs := testing.AllocsPerRun(5, call); allocs > float64(2*64) {
		t.Errorf("%v allocations per call after warm-up", allocs)
	}
}

package asmgemm_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/tinyscale/tinyscale/blas"
	. "github.com/tinyscale/tinyscale/blas/internal/asmgemm"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

func TestSgemmMatchesGonum(t *testing.T) {
	if !Supported() {
		t.Skip("no AVX2/FMA")
	}
	cases := []struct {
		m, n, k, pad, workers int
	}{
		{6, 16, 1, 0, 1},
		{12, 32, 300, 0, 1},
		{7, 17, 5, 3, 1},
		{37, 530, 260, 1, 2},
		{100, 45, 513, 0, 3},
		{5, 3, 2, 2, 2},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%dx%dx%d/pad%d/w%d", c.m, c.n, c.k, c.pad, c.workers), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 9))
			lda, ldb, ldc := c.k+c.pad, c.n+c.pad, c.n+c.pad
			a, b := randSlice(r, c.m*lda), randSlice(r, c.k*ldb)
			got, want := randSlice(r, c.m*ldc), make([]float32, c.m*ldc)
			copy(want, got)
			Sgemm(c.m, c.n, c.k, a, lda, b, ldb, got, ldc, c.workers)
			gonum.Implementation{}.Sgemm(gblas.NoTrans, gblas.NoTrans, c.m, c.n, c.k, 1, a, lda, b, ldb, 0, want, ldc)
			for row := range c.m {
				for col := range c.n {
					g, w := got[row*ldc+col], want[row*ldc+col]
					if math.Abs(float64(g-w)) > 1e-5*float64(c.k+1) {
						t.Fatalf("C[%d,%d] = %g, gonum %g", row, col, g, w)
					}
				}
			}
		})
	}
}

// BenchmarkCompare runs C = A·B (NN) on the assembly kernel, OpenBLAS and
// gonum at the same thread counts and reports GFLOP/s.
func BenchmarkCompare(b *testing.B) {
	if !Supported() {
		b.Skip("no AVX2/FMA")
	}
	shapes := []struct{ m, k, n int }{{4096, 256, 768}, {4096, 768, 256}, {768, 128, 512}}
	for _, threads := range []int{1, 2} {
		ob, info, err := blas.Open(blas.Options{Backend: blas.OpenBLAS, Threads: threads})
		for _, s := range shapes {
			r := rand.New(rand.NewPCG(1, 2))
			a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			flops := 2 * float64(s.m*s.n*s.k)
			run := func(name string, f func()) {
				b.Run(fmt.Sprintf("%s/threads=%d/%dx%dx%d", name, threads, s.m, s.k, s.n), func(b *testing.B) {
					for range b.N {
						f()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			run("asm6x16", func() { Sgemm(s.m, s.n, s.k, a, s.k, bb, s.n, c, s.n, threads) })
			if err == nil {
				run("openblas", func() {
					ob.Sgemm(gblas.NoTrans, gblas.NoTrans, s.m, s.n, s.k, 1, a, s.k, bb, s.n, 0, c, s.n)
				})
			} else if threads == 1 {
				b.Logf("openblas: %v", err)
			}
			_ = info
		}
	}
}

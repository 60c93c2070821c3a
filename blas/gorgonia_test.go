package blas_test

import (
	"math"
	"sync/atomic"
	"testing"

	gblas "gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/tinyscale/tinyscale/blas"
)

// Compile-time proof that an Impl is what gorgonia and tensor accept.
var (
	_ gorgonia.BLAS = blas.Impl(nil)
	_ tensor.BLAS   = blas.Impl(nil)
)

// countingBLAS counts the Sgemm calls that reach it.
type countingBLAS struct {
	blas.Impl
	sgemm *atomic.Int64
}

func (c countingBLAS) Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cc []float32, ldc int) {
	c.sgemm.Add(1)
	c.Impl.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, cc, ldc)
}

// TestGorgoniaUseReachesImpl installs each backend with gorgonia.Use and checks
// that a gorgonia matrix product (forward and backward) runs through its
// Sgemm and gives the right numbers.
func TestGorgoniaUseReachesImpl(t *testing.T) {
	prev := gorgonia.WhichBLAS()
	t.Cleanup(func() { gorgonia.Use(prev) })

	for _, backend := range []string{blas.Gonum, blas.OpenBLAS} {
		t.Run(backend, func(t *testing.T) {
			impl, info, err := blas.Open(blas.Options{Backend: backend})
			if err != nil {
				t.Skipf("%s: %v", backend, err)
			}
			calls := new(atomic.Int64)
			gorgonia.Use(countingBLAS{Impl: impl, sgemm: calls})
			if _, ok := tensor.WhichBLAS().(countingBLAS); !ok {
				t.Fatalf("tensor.WhichBLAS() = %T after gorgonia.Use, want countingBLAS", tensor.WhichBLAS())
			}

			const m, k, n = 3, 4, 5
			g := gorgonia.NewGraph()
			av := make([]float32, m*k)
			bv := make([]float32, k*n)
			for i := range av {
				av[i] = float32(i%7) - 3
			}
			for i := range bv {
				bv[i] = float32(i%5) * 0.5
			}
			a := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(m, k), gorgonia.WithName("a"),
				gorgonia.WithValue(tensor.New(tensor.WithShape(m, k), tensor.WithBacking(av))))
			b := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(k, n), gorgonia.WithName("b"),
				gorgonia.WithValue(tensor.New(tensor.WithShape(k, n), tensor.WithBacking(bv))))
			prod := gorgonia.Must(gorgonia.Mul(a, b))
			cost := gorgonia.Must(gorgonia.Sum(prod))
			if _, err := gorgonia.Grad(cost, a, b); err != nil {
				t.Fatalf("grad: %v", err)
			}
			vm := gorgonia.NewTapeMachine(g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatalf("run: %v", err)
			}
			got := prod.Value().Data().([]float32)
			for i := range m {
				for j := range n {
					var want float32
					for p := range k {
						want += av[i*k+p] * bv[p*n+j]
					}
					if math.Abs(float64(got[i*n+j]-want)) > 1e-5 {
						t.Fatalf("%s: C[%d,%d] = %g, want %g", info, i, j, got[i*n+j], want)
					}
				}
			}
			// One forward product and two backward ones (dA, dB).
			if c := calls.Load(); c < 3 {
				t.Errorf("%s: %d Sgemm calls reached the installed BLAS, want >= 3", info, c)
			}
		})
	}
}

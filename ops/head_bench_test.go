package ops

import (
	"math/rand/v2"
	"testing"

	"github.com/tinyscale/tinyscale/blas"
	gblas "gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkLinearCrossEntropy times the fused head (forward with its
// gradients) at the P1 shape (N 4096, C 64, V 8192): the packed path on this
// CPU's kernel class (packed-avx512 or packed-avx2, and packed-avx2 too where
// AVX-512 runs), beside the BLAS path on the BLAS that blas.Load picks
// (OpenBLAS where it is installed; blas) and its three products alone on
// that BLAS (products-only), all in the same run.
func BenchmarkLinearCrossEntropy(b *testing.B) {
	impl, info := blas.Load()
	prev := G.WhichBLAS()
	G.Use(impl)
	b.Cleanup(func() { G.Use(prev) })
	b.Logf("blas: %s", info)
	const n, c, v = 4096, 64, 8192
	rng := rand.New(rand.NewPCG(1, 2))
	x := tensor.New(tensor.WithShape(n, c), tensor.WithBacking(randSlice(rng, n*c, 1)))
	w := tensor.New(tensor.WithShape(v, c), tensor.WithBacking(randSlice(rng, v*c, 0.1)))
	g := G.NewGraph()
	xn := G.NodeFromAny(g, x, G.WithName("x"))
	wn := G.NodeFromAny(g, w, G.WithName("w"))
	_, op, err := NewLinearCrossEntropy(xn, wn)
	if err != nil {
		b.Fatal(err)
	}
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(rng.IntN(v))
	}
	if err := op.SetTargets(t); err != nil {
		b.Fatal(err)
	}
	var paths []Kernels
	for k := cpuKernels; k >= KernelsAVX2; k-- {
		paths = append(paths, k)
	}
	for _, k := range append(paths, KernelsGeneric) {
		name := "packed-" + k.String()
		if k == KernelsGeneric {
			name = "blas"
		}
		b.Run(name, func(b *testing.B) {
			op.kern = k
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := op.Do(x, w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(3*2*n*c*v*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
	b.Run("products-only", func(b *testing.B) {
		l := make([]float32, op.chunk*v)
		dx, dw := make([]float32, n*c), make([]float32, v*c)
		xs, ws := x.Float32s(), w.Float32s()
		for i := 0; i < b.N; i++ {
			for lo := 0; lo < n; lo += op.chunk {
				r := min(op.chunk, n-lo)
				impl.Sgemm(gblas.NoTrans, gblas.Trans, r, v, c, 1, xs[lo*c:], c, ws, c, 0, l, v)
				impl.Sgemm(gblas.NoTrans, gblas.NoTrans, r, c, v, 1, l, v, ws, c, 0, dx[lo*c:], c)
				impl.Sgemm(gblas.Trans, gblas.NoTrans, v, c, r, 1, l, v, xs[lo*c:], c, 1, dw, c)
			}
		}
	})
}

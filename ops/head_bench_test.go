package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tinyscale/tinyscale/blas"
	gblas "gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkLinearCrossEntropy times the fused head (forward with its
// gradients) at the P1 shapes (N 4096, V 8192; C 64: P1-Silia, C 256:
// P1-GPT, whose n_embd is 4 heads of 64; and C 128): the packed path on this
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
	for _, c := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("C%d", c), func(b *testing.B) { benchHead(b, impl, 4096, c, 8192) })
	}
}

func benchHead(b *testing.B, impl blas.Impl, n, c, v int) {
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
			xs, ws := x.Float32s(), w.Float32s()
			dx, dw := make([]float32, n*c), make([]float32, v*c)
			for i := 0; i < b.N; i++ {
				// the path named, also where Do would take the other one
				// (packedPath: avx2 at C > headAVX2MaxC)
				if k == KernelsGeneric {
					op.doBLAS(xs, ws, dx, dw)
				} else {
					op.doPacked(xs, ws, dx, dw)
				}
			}
			b.ReportMetric(float64(6*n*c*v)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
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

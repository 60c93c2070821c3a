package blas

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// benchShapes are the products of the performance targets (docs/performance.md):
// B*T = 16*256 = 4096 rows for P1 and 12*64 = 768 rows for P2.
var benchShapes = []struct {
	name    string
	tA, tB  blas.Transpose
	m, k, n int
}{
	{"P1-qkv-NT", blas.NoTrans, blas.Trans, 4096, 256, 768},           // x·Wᵀ, W (out,in)
	{"P1-qkv-dX-NN", blas.NoTrans, blas.NoTrans, 4096, 768, 256},      // dY·W
	{"P1-qkv-dW-TN", blas.Trans, blas.NoTrans, 768, 4096, 256},        // dYᵀ·X
	{"P1-unembed-NT", blas.NoTrans, blas.Trans, 4096, 256, 8192},      // logits
	{"P1S-head-chunk-NT", blas.NoTrans, blas.Trans, 512, 64, 8192},    // logits of one 512-row chunk (ops/head.go)
	{"P1S-head-dx-NN", blas.NoTrans, blas.NoTrans, 512, 8192, 64},     // dx = dlogits·W
	{"P1S-head-dW-TN", blas.Trans, blas.NoTrans, 8192, 512, 64},       // dW += dlogitsᵀ·x
	{"P1S-head-full-NT", blas.NoTrans, blas.Trans, 4096, 64, 8192},    // unchunked logits
	{"P1S-head-full-dW-TN", blas.Trans, blas.NoTrans, 8192, 4096, 64}, // unchunked dW
	{"P2-mlp-NT", blas.NoTrans, blas.Trans, 768, 128, 512},            // gpt2 c_fc
	{"P2-qkv-NT", blas.NoTrans, blas.Trans, 768, 128, 384},            // gpt2 c_attn
	{"P2-proj-NT", blas.NoTrans, blas.Trans, 768, 512, 128},           // gpt2 mlp c_proj
	{"P2-mlp-dX-NN", blas.NoTrans, blas.NoTrans, 768, 512, 128},       // dY·W of c_fc
	{"P2-mlp-dW-TN", blas.Trans, blas.NoTrans, 512, 768, 128},         // dYᵀ·X of c_fc
	{"attn-scores-NT", blas.NoTrans, blas.Trans, 256, 64, 256},        // one head q·kᵀ
	{"tiny-8", blas.NoTrans, blas.NoTrans, 8, 8, 8},                   // call overhead
}

func benchBackends(b *testing.B) []struct {
	name string
	impl Impl
} {
	out := []struct {
		name string
		impl Impl
	}{{Gonum, mustOpen(b, Gonum)}}
	if impl, info, err := Open(Options{Backend: OpenBLAS}); err == nil {
		b.Logf("openblas: %s", info)
		out = append(out, struct {
			name string
			impl Impl
		}{OpenBLAS, impl})
	} else {
		b.Logf("openblas not benchmarked: %v", err)
	}
	return out
}

func mustOpen(b *testing.B, backend string) Impl {
	impl, _, err := Open(Options{Backend: backend})
	if err != nil {
		b.Fatal(err)
	}
	return impl
}

// BenchmarkSgemm times C = op(A)·op(B) for both backends and reports GFLOP/s
// (2·m·n·k per product).
func BenchmarkSgemm(b *testing.B) {
	for _, be := range benchBackends(b) {
		for _, s := range benchShapes {
			b.Run(fmt.Sprintf("%s/%s/%dx%dx%d", be.name, s.name, s.m, s.k, s.n), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				a := randSlice32(r, s.m*s.k)
				bb := randSlice32(r, s.k*s.n)
				c := make([]float32, s.m*s.n)
				lda, ldb := s.k, s.n
				if s.tA != blas.NoTrans {
					lda = s.m
				}
				if s.tB != blas.NoTrans {
					ldb = s.k
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					be.impl.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestExpf holds the float32 exp to math.Exp across its whole range.
func TestExpf(t *testing.T) {
	worst := 0.0
	for x := -90.0; x <= 89; x += 0.0137 {
		got, want := float64(expf(float32(x))), math.Exp(float64(float32(x)))
		if want < 1.2e-38 { // below the normal range expf flushes to zero
			if got > 1.2e-38 {
				t.Fatalf("expf(%g) = %g, want about %g", x, got, want)
			}
			continue
		}
		if want > math.MaxFloat32 {
			if !math.IsInf(got, 1) {
				t.Fatalf("expf(%g) = %g, want +Inf", x, got)
			}
			continue
		}
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 3e-7 {
		t.Errorf("worst relative error %g, want <= 3e-7", worst)
	}
	if !math.IsNaN(float64(expf(float32(math.NaN())))) || expf(float32(math.Inf(-1))) != 0 || !math.IsInf(float64(expf(float32(math.Inf(1)))), 1) {
		t.Error("expf special values")
	}
	t.Logf("worst relative error %.3g", worst)
}

// TestAttentionTiledMatchesRowwise holds the tiled forward and backward, for
// every kernel class this CPU runs (the FMA micro-kernel and the vector row
// kernels from avx2 up, gonum's Sgemm and the Go row kernels for generic), to the
// row-at-a-time kernel they replaced and the forward to AttentionRef, on
// shapes with several query blocks and ragged edges (T not a multiple of the
// block or of 16, hd not a multiple of 16).
func TestAttentionTiledMatchesRowwise(t *testing.T) {
	cases := []AttnConfig{
		{B: 2, T: 150, H: 2, HD: 24, PerHead: true, RoPE: true, QKNorm: true},
		{B: 1, T: 70, H: 3, HD: 40},
		{B: 2, T: 67, H: 2, HD: 16, PerHead: true, RoPE: true, QKNorm: true, Gate: true, XSA: true},
		{B: 3, T: 5, H: 1, HD: 6, PerHead: true},
	}
	for _, c := range cases {
		for _, kc := range supportedKernels() {
			t.Run(fmt.Sprintf("T%d-hd%d-%s", c.T, c.HD, kc), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(5, 6))
				n := c.B * c.T
				qkv := randSlice(rng, n*c.H*c.Parts()*c.HD, 1.5)
				dout := randSlice(rng, n*c.H*c.HD, 1)
				got, want, ref := make([]float32, n*c.H*c.HD), make([]float32, n*c.H*c.HD), make([]float32, n*c.H*c.HD)
				op, old := newAttentionOp(c), newAttentionOp(c)
				op.fma, op.rows = kc >= KernelsAVX2, kc
				op.forward(got, qkv)
				old.forwardRowwise(want, qkv)
				AttentionRef(ref, qkv, c)
				assertClose(t, got, want, 1e-5)
				assertClose(t, got, ref, 1e-5)
				dgot, dwant := make([]float32, len(qkv)), make([]float32, len(qkv))
				op.backward(dgot, qkv, dout)
				old.backwardRowwise(dwant, qkv, dout)
				assertClose(t, dgot, dwant, 1e-4)
				// a second run on the same buffers gives the same bits
				again := make([]float32, len(qkv))
				op.forward(got, qkv)
				op.backward(again, qkv, dout)
				for i := range again {
					if again[i] != dgot[i] {
						t.Fatalf("rerun differs at %d: %g vs %g", i, again[i], dgot[i])
					}
				}
			})
		}
	}
}

// packBRef is the plain packing of op(B) into 16-column panels that packB
// must reproduce exactly (element [p][j] of panel q at q*16*k + p*16 + j, the
// last panel zero-padded).
func packBRef(pb []float32, tB bool, k, n int, b []float32, ldb int) {
	for j0 := 0; j0 < n; j0 += knr {
		for p := 0; p < k; p++ {
			for j := 0; j < knr; j++ {
				var v float32
				if j0+j < n {
					if tB {
						v = b[(j0+j)*ldb+p]
					} else {
						v = b[p*ldb+j0+j]
					}
				}
				pb[j0*k+p*knr+j] = v
			}
		}
	}
}

// TestPackB holds packB (both layouts, full and partial panels, strides wider
// than the row) bit for bit to packBRef.
func TestPackB(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tB := range []bool{false, true} {
		for _, k := range []int{1, 3, 8, 16, 17, 32, 64} {
			for _, n := range []int{1, 5, 15, 16, 17, 33, 64, 100} {
				for _, pad := range []int{0, 3} {
					ldb := n + pad
					if tB {
						ldb = k + pad
					}
					rows := k
					if tB {
						rows = n
					}
					b := make([]float32, rows*ldb)
					for i := range b {
						b[i] = r.Float32()*2 - 1
					}
					got, want := make([]float32, k*up16(n)), make([]float32, k*up16(n))
					for i := range got {
						got[i] = float32(math.NaN()) // every element must be written
					}
					packB(got, tB, k, n, b, ldb)
					packBRef(want, tB, k, n, b, ldb)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("tB=%v k=%d n=%d ldb=%d: pb[%d] = %g, want %g", tB, k, n, ldb, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkPackBT times the transposed packing of one head's kᵀ at the
// P1 (hd 16, T 256), P2 (hd 32, T 64) and row-1 (hd 8, T 64) shapes.
func BenchmarkPackBT(b *testing.B) {
	for _, s := range []struct{ k, n int }{{16, 256}, {32, 64}, {8, 64}, {64, 256}} {
		b.Run(fmt.Sprintf("hd%d-T%d", s.k, s.n), func(b *testing.B) {
			src := make([]float32, s.n*s.k)
			pb := make([]float32, s.k*up16(s.n))
			for range b.N {
				packB(pb, true, s.k, s.n, src, s.k)
			}
		})
	}
}

// TestGemmPackedTransA holds gemmPacked with a transposed A (its packing of
// A through pa) bit for bit to the same product on an explicitly transposed
// copy of A, at shapes around the row tile and the 16-step packing strips.
func TestGemmPackedTransA(t *testing.T) {
	if !haveFMA {
		t.Skip("no FMA micro-kernel in this kernel class")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, m := range []int{1, 5, 6, 15, 16, 17, 40} {
		for _, k := range []int{1, 7, 15, 16, 17, 33, 64, 70} {
			for _, n := range []int{3, 16, 20} {
				at := make([]float32, k*m) // A transposed: k × m, row stride m
				a := make([]float32, m*k)  // A: m × k
				for p := 0; p < k; p++ {
					for i := 0; i < m; i++ {
						v := r.Float32()*2 - 1
						at[p*m+i], a[i*k+p] = v, v
					}
				}
				bm := make([]float32, k*n)
				for i := range bm {
					bm[i] = r.Float32()*2 - 1
				}
				pb := make([]float32, k*up16(n))
				packB(pb, false, k, n, bm, n)
				pa := make([]float32, kmrMax*knr+kmr*k)
				got, want := make([]float32, m*n), make([]float32, m*n)
				for i := range got {
					got[i], want[i] = 0.5, 0.5
				}
				gemmPacked(pa, true, m, n, k, -1, -1, -1, at, m, pb, k, 1, got, n)
				gemmPacked(pa, false, m, n, k, -1, -1, -1, a, k, pb, k, 1, want, n)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("m=%d k=%d n=%d: c[%d] = %g, want %g", m, k, n, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestGemmCausalT holds gemmCausalT (B read in place, the terms before the
// causal diagonal skipped) bit for bit to gemmPacked on the packed B (every
// term summed), for beta 0 over garbage and beta 1, at shapes with short row
// panels, narrow column panels and several diagonal offsets.
func TestGemmCausalT(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA here")
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, m := range []int{5, 16, 24, 64} {
		for _, k := range []int{1, 7, 16, 22, 64} {
			for _, r0 := range []int{0, 16, 64} {
				n := r0 + k
				const pad = 3
				ldb := n + pad
				a := make([]float32, m*k)
				for i := range a {
					a[i] = r.Float32()*2 - 1
				}
				b := make([]float32, k*ldb) // causal: b[p][j] = 0 for j > r0+p
				for p := 0; p < k; p++ {
					for j := 0; j <= r0+p && j < n; j++ {
						b[p*ldb+j] = r.Float32()*2 - 1
					}
				}
				pb := make([]float32, k*up16(n))
				packB(pb, false, k, n, b, ldb)
				pa := make([]float32, kmrMax*knr+kmr*k)
				edge := make([]float32, k*knr)
				for _, beta := range []float32{0, 1} {
					got, want := make([]float32, m*n), make([]float32, m*n)
					for i := range got {
						got[i], want[i] = 0.5, 0.5
						if beta == 0 {
							got[i] = float32(math.NaN())
						}
					}
					gemmCausalT(pa, edge, m, n, k, r0, a, k, b, ldb, beta, got, n)
					gemmPacked(pa, false, m, n, k, -1, -1, -1, a, k, pb, k, beta, want, n)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("m=%d k=%d r0=%d beta=%g: c[%d] = %g, want %g", m, k, r0, beta, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestGemmNNInPlace holds gemmNNInPlace (B read in place, causal kLim) bit for
// bit to gemmPacked on the packed B, at short row panels and several limits.
func TestGemmNNInPlace(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA here")
	}
	r := rand.New(rand.NewPCG(8, 8))
	for _, m := range []int{5, 16, 22, 64} {
		for _, n := range []int{16, 64} {
			for _, kLim := range []int{0, 16, 64} {
				k := kLim + m
				const pad = 5
				lda, ldb := k+pad, n+pad
				a := make([]float32, m*lda)
				for i := 0; i < m; i++ { // zero past the causal limit, as P is
					for p := 0; p <= kLim+i && p < k; p++ {
						a[i*lda+p] = r.Float32()*2 - 1
					}
				}
				b := make([]float32, k*ldb)
				for i := range b {
					b[i] = r.Float32()*2 - 1
				}
				pb := make([]float32, k*up16(n))
				packB(pb, false, k, n, b, ldb)
				pa := make([]float32, kmrMax*knr+kmr*k)
				got, want := make([]float32, m*n), make([]float32, m*n)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				gemmNNInPlace(pa, m, n, k, kLim, a, lda, b, ldb, got, n)
				gemmPacked(pa, false, m, n, k, -1, kLim, -1, a, lda, pb, k, 0, want, n)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("m=%d n=%d kLim=%d: c[%d] = %g, want %g", m, n, kLim, i, got[i], want[i])
					}
				}
			}
		}
	}
}

package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKern16x16zMatchesKern6x16 checks the AVX-512 micro-kernel against the
// AVX2 one bit for bit (same FMA order per element), for several depths.
func TestKern16x16zMatchesKern6x16(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512F here")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{0, 1, 7, 64, 255} {
		const lda, ldc = 300, 40
		a := randSlice(rng, 16*lda, 1)
		b := randSlice(rng, max(k, 1)*16, 1)
		c0 := randSlice(rng, 16*ldc, 1)
		got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
		kern16x16z(k, &a[0], lda, &b[0], &got[0], ldc)
		for _, i0 := range []int{0, 6} {
			kern6x16(k, &a[i0*lda], lda, &b[0], &want[i0*ldc], ldc)
		}
		// rows 12..15 through a padded 6-row A, as gemmPacked's tail does
		pa := make([]float32, 6*lda)
		copy(pa, a[12*lda:])
		var tmp [6 * 16]float32
		kern6x16(k, &pa[0], lda, &b[0], &tmp[0], 16)
		for i := 0; i < 4; i++ {
			for j := 0; j < 16; j++ {
				want[(12+i)*ldc+j] += tmp[i*16+j]
			}
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("k %d: C[%d] = %g, want %g", k, i, got[i], want[i])
			}
		}
	}
}

// TestAttentionKernelsBitIdentical runs the tiled attention forward and
// backward with the 16-row AVX-512 and the 6-row AVX2 micro-kernel: the
// results must agree bit for bit (also on ragged shapes).
func TestAttentionKernelsBitIdentical(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512F here")
	}
	defer func(r int, f func(int, *float32, int, *float32, *float32, int)) { kmr, microKern = r, f }(kmr, microKern)
	for _, c := range []AttnConfig{
		{B: 2, T: 150, H: 2, HD: 24, PerHead: true, RoPE: true, QKNorm: true},
		{B: 2, T: 256, H: 2, HD: 64, PerHead: true, RoPE: true, QKNorm: true, Gate: true},
	} {
		rng := rand.New(rand.NewPCG(5, 6))
		n := c.B * c.T
		qkv := randSlice(rng, n*c.H*c.Parts()*c.HD, 1.5)
		dout := randSlice(rng, n*c.H*c.HD, 1)
		var outs, grads [2][]float32
		for i, kern := range []struct {
			rows int
			f    func(int, *float32, int, *float32, *float32, int)
		}{{16, kern16x16z}, {6, kern6x16}} {
			kmr, microKern = kern.rows, kern.f
			op := newAttentionOp(c)
			outs[i], grads[i] = make([]float32, n*c.H*c.HD), make([]float32, len(qkv))
			op.forward(outs[i], qkv)
			op.backward(grads[i], qkv, dout)
		}
		for k, pair := range [][2][]float32{outs, grads} {
			for i := range pair[0] {
				if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
					t.Fatalf("T %d, %s[%d]: 16-row %g, 6-row %g", c.T, []string{"out", "dqkv"}[k], i, pair[0][i], pair[1][i])
				}
			}
		}
	}
}

// TestMicroKernSet holds each micro-kernel's storing twin, over a C full of
// garbage, bit for bit to the adding kernel over a zeroed C.
func TestMicroKernSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	kerns := []struct {
		rows     int
		add, set func(int, *float32, int, *float32, *float32, int)
	}{{6, kern6x16, kern6x16Set}}
	if haveAVX512 {
		kerns = append(kerns, struct {
			rows     int
			add, set func(int, *float32, int, *float32, *float32, int)
		}{16, kern16x16z, kern16x16zSet})
	}
	if !haveFMA {
		t.Skip("no AVX2/FMA here")
	}
	for _, kn := range kerns {
		for _, k := range []int{0, 1, 7, 64} {
			const lda, ldc = 70, 20
			a := randSlice(rng, kn.rows*lda, 1)
			b := randSlice(rng, max(k, 1)*16, 1)
			want, got := make([]float32, kn.rows*ldc), randSlice(rng, kn.rows*ldc, 100)
			for i := 0; i < kn.rows; i++ { // past column 16: untouched
				for j := 16; j < ldc; j++ {
					want[i*ldc+j] = got[i*ldc+j]
				}
			}
			kn.add(k, &a[0], lda, &b[0], &want[0], ldc)
			kn.set(k, &a[0], lda, &b[0], &got[0], ldc)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d rows, k %d: C[%d] = %g, want %g", kn.rows, k, i, got[i], want[i])
				}
			}
		}
	}
}

package ops

import (
	"math/rand/v2"
	"testing"
)

// TestColSumMatchesRef: the AVX column sum is the reference's bit for bit
// (same additions, same order), for widths around the 8/32 blocks.
func TestColSumMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {5, 8}, {7, 33}, {768, 65}, {768, 128}, {64, 1000}, {0, 9}} {
		rows, cols := sh[0], sh[1]
		x := randSlice(rng, rows*cols, 3)
		want, got := make([]float32, cols), make([]float32, cols)
		for i := range got {
			got[i] = 42 // must be overwritten
		}
		ColSumRef(want, x, rows, cols)
		colSum(got, x, rows, cols)
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("%dx%d: s[%d] = %g, want %g", rows, cols, j, got[j], want[j])
			}
		}
	}
}

// BenchmarkColSum: the bias gradient of the P2 c_fc layer (768×512).
func BenchmarkColSum(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := randSlice(rng, 768*512, 1)
	s := make([]float32, 512)
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			colSum(s, x, 768, 512)
		}
	})
	b.Run("ref", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ColSumRef(s, x, 768, 512)
		}
	})
}

// TestVecOps: the AVX element-wise add and multiply equal the plain loops.
func TestVecOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 7, 8, 9, 100, 1 << 17} {
		a, b := randSlice(rng, n, 2), randSlice(rng, n, 2)
		s, p := make([]float32, n), make([]float32, n)
		vecAdd(s, a, b)
		vecMul(p, a, b)
		for j := range a {
			if s[j] != a[j]+b[j] || p[j] != a[j]*b[j] {
				t.Fatalf("n=%d [%d]: add %g mul %g, want %g %g", n, j, s[j], p[j], a[j]+b[j], a[j]*b[j])
			}
		}
	}
}

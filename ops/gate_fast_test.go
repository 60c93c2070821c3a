package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// siluGate64 is the float64 reference of the gate: silu(v), silu'(v).
func siluGate64(v float64) (silu, dsilu float64) {
	s := 1 / (1 + math.Exp(-v))
	return v * s, s * (1 + v*(1-s))
}

// TestSiluGateKernels holds every kernel class this CPU runs, forward and
// backward, to the float64 reference at lengths around the vector widths
// (so the padded last vector is exercised) and at extreme inputs.
func TestSiluGateKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := []int{1, 3, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 100, 257, 1000}
	for _, k := range supportedKernels() {
		for _, n := range lengths {
			t.Run(k.String(), func(t *testing.T) {
				u, v, g := randSlice(rng, n, 3), randSlice(rng, n, 8), randSlice(rng, n, 2)
				if n > 5 {
					v[0], v[1], v[2], v[3], v[4] = 95, -95, 0, -1.2785, 40
				}
				y, du, dv := make([]float32, n+1), make([]float32, n+1), make([]float32, n+1)
				y[n], du[n], dv[n] = 7, 7, 7 // must stay untouched
				siluGateFwd(k, y[:n], u, v)
				siluGateBwd(k, du[:n], dv[:n], g, u, v)
				if y[n] != 7 || du[n] != 7 || dv[n] != 7 {
					t.Fatalf("n %d: wrote past the end", n)
				}
				for j := range n {
					silu, dsilu := siluGate64(float64(v[j]))
					wy, wdu, wdv := float64(u[j])*silu, float64(g[j])*silu, float64(g[j])*float64(u[j])*dsilu
					// float32 tolerance: a few ulps of the value, plus a few
					// ulps of the terms that cancel in silu' near its zero.
					scale := math.Abs(float64(u[j]) * float64(v[j]))
					dscale := math.Abs(float64(g[j]) * float64(u[j]) * (1 + math.Abs(float64(v[j]))))
					if d := math.Abs(float64(y[j]) - wy); d > 1e-6*math.Abs(wy)+1e-7*scale+1e-30 {
						t.Errorf("n %d j %d v %g: y %g, want %g", n, j, v[j], y[j], wy)
					}
					if d := math.Abs(float64(du[j]) - wdu); d > 1e-6*math.Abs(wdu)+1e-7*math.Abs(float64(g[j]*v[j]))+1e-30 {
						t.Errorf("n %d j %d v %g: du %g, want %g", n, j, v[j], du[j], wdu)
					}
					if d := math.Abs(float64(dv[j]) - wdv); d > 1e-6*math.Abs(wdv)+2e-7*dscale+1e-30 {
						t.Errorf("n %d j %d v %g: dv %g, want %g", n, j, v[j], dv[j], wdv)
					}
				}
			})
		}
	}
}

// TestSiluGateVectorClassesBitIdentical: the AVX2 and AVX-512 kernels run
// the same operations per lane, so they agree bit for bit, at every length;
// and each class gives the same bits on a second run.
func TestSiluGateVectorClassesBitIdentical(t *testing.T) {
	if bestKernels < KernelsAVX512 {
		t.Skipf("needs AVX-512 (best here: %s)", bestKernels)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{5, 8, 13, 16, 29, 64, 250} {
		u, v, g := randSlice(rng, n, 3), randSlice(rng, n, 10), randSlice(rng, n, 2)
		var out [2][3][]float32
		for i, k := range []Kernels{KernelsAVX2, KernelsAVX512} {
			y, du, dv := make([]float32, n), make([]float32, n), make([]float32, n)
			siluGateFwd(k, y, u, v)
			siluGateBwd(k, du, dv, g, u, v)
			out[i] = [3][]float32{y, du, dv}
		}
		for c := range 3 {
			for j := range n {
				if math.Float32bits(out[0][c][j]) != math.Float32bits(out[1][c][j]) {
					t.Fatalf("n %d output %d [%d]: avx2 %g, avx512 %g", n, c, j, out[0][c][j], out[1][c][j])
				}
			}
		}
	}
}

// TestSiluGateSpecialValues: large inputs saturate (silu(-1e30) ≈ 0, not
// -1e30·e^-88), NaN propagates, on every class.
func TestSiluGateSpecialValues(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, k := range supportedKernels() {
		v := []float32{inf, -inf, nan, 1e30, -1e30, 0, -3e38}
		one := []float32{1, 1, 1, 1, 1, 1, 1}
		y, du, dv := make([]float32, 7), make([]float32, 7), make([]float32, 7)
		siluGateFwd(k, y, one, v)
		siluGateBwd(k, du, dv, one, one, v)
		tiny := func(x float32) bool { return math.Abs(float64(x)) < 1e-35 }
		if !math.IsInf(float64(y[0]), 1) || !tiny(y[1]) || y[2] == y[2] || y[3] != 1e30 || !tiny(y[4]) || y[5] != 0 || !tiny(y[6]) {
			t.Errorf("%s: silu(inf, -inf, nan, 1e30, -1e30, 0, -3e38) = %v", k, y)
		}
		if !tiny(dv[1]) || dv[2] == dv[2] || dv[3] != 1 || !tiny(dv[4]) || dv[5] != 0.5 || !tiny(dv[6]) {
			t.Errorf("%s: silu'(-inf, nan, 1e30, -1e30, 0, -3e38) = %v (silu'(inf) is NaN, as in float64)", k, dv[1:])
		}
	}
}

// BenchmarkSiluGate: the gate of the first row (768 rows × 512),
// forward and backward, per kernel class, against the float64 reference.
func BenchmarkSiluGate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 768 * 512
	u, v, g := randSlice(rng, n, 2), randSlice(rng, n, 2), randSlice(rng, n, 1)
	y, du, dv := make([]float32, n), make([]float32, n), make([]float32, n)
	for _, k := range supportedKernels() {
		b.Run("fwd-"+k.String(), func(b *testing.B) {
			for range b.N {
				siluGateFwd(k, y, u, v)
			}
		})
		b.Run("bwd-"+k.String(), func(b *testing.B) {
			for range b.N {
				siluGateBwd(k, du, dv, g, u, v)
			}
		})
	}
	b.Run("fwd-ref64", func(b *testing.B) {
		for range b.N {
			for j := range y {
				y[j] = u[j] * silu(v[j])
			}
		}
	})
	b.Run("bwd-ref64", func(b *testing.B) {
		for range b.N {
			for j := range y {
				du[j], dv[j] = g[j]*silu(v[j]), g[j]*u[j]*dsilu(v[j])
			}
		}
	})
}

package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// geluExact64 returns the float64 exact-erf gelu and its derivative (erfc in
// the negative tail, so the reference itself does not cancel).
func geluExact64(x float64) (y, d float64) {
	phi := 0.5 * math.Erfc(-x/math.Sqrt2)
	return x * phi, phi + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

// TestGeluFast holds the fast GELU (AVX2 blocks and the scalar tail) to the
// float64 erf form on a dense grid over [-15, 15]: absolute error within
// about one float32 ulp of y, relative error tight where |y| is not tiny.
func TestGeluFast(t *testing.T) {
	const n = 3_000_001 // odd: exercises the scalar tail too
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-15 + 30*float64(i)/float64(n-1))
	}
	y, d := make([]float32, n), make([]float32, n)
	geluRows(y, d, x)
	var maxAbsY, maxAbsD, maxRelY float64
	for i, xv := range x {
		wy, wd := geluExact64(float64(xv))
		sy, sd := geluPair(xv) // the scalar twin must agree as well
		for _, got := range [][2]float32{{y[i], d[i]}, {sy, sd}} {
			ay := math.Abs(float64(got[0]) - wy)
			ad := math.Abs(float64(got[1]) - wd)
			maxAbsY, maxAbsD = max(maxAbsY, ay), max(maxAbsD, ad)
			if xv > -9 && wy != 0 {
				maxRelY = max(maxRelY, ay/math.Abs(wy))
			}
		}
	}
	t.Logf("max |Δy| %.3g, max |Δy'| %.3g, max rel Δy (x > -9) %.3g", maxAbsY, maxAbsD, maxRelY)
	if maxAbsY > 5e-7 || maxAbsD > 4e-7 || maxRelY > 2e-5 {
		t.Fatalf("fast gelu too far from the erf form: |Δy| %.3g, |Δy'| %.3g, rel %.3g", maxAbsY, maxAbsD, maxRelY)
	}
	for _, v := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), 0, 1e30, -1e30, 11, -11} {
		vs := []float32{v, v, v, v, v, v, v, v, v}
		ys, ds := make([]float32, 9), make([]float32, 9)
		geluRows(ys, ds, vs) // AVX2 block and scalar tail
		for i := range vs {
			wy, wd := geluExact64(float64(v))
			if math.IsInf(float64(v), -1) {
				wy, wd = 0, 0
			}
			if !(math.Abs(float64(ys[i])-wy) <= 1e-20 || float64(ys[i]) == wy) || math.Abs(float64(ds[i])-wd) > 1e-20 {
				t.Errorf("gelu(%g) [%d] = %g, %g; want %g, %g", v, i, ys[i], ds[i], wy, wd)
			}
		}
	}
	nan := float32(math.NaN())
	ys, ds := make([]float32, 9), make([]float32, 9)
	geluRows(ys, ds, []float32{nan, nan, nan, nan, nan, nan, nan, nan, nan})
	for i := range ys {
		if ys[i] == ys[i] || ds[i] == ds[i] {
			t.Errorf("gelu(NaN) [%d] = %g, %g; want NaN", i, ys[i], ds[i])
		}
	}
}

// BenchmarkGelu compares the fast fused GELU (value + derivative) with the
// float64 math.Erf pair it replaced, on one P2 MLP activation (768×512).
func BenchmarkGelu(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := randSlice(rng, 768*512, 2)
	y, d := make([]float32, len(x)), make([]float32, len(x))
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			geluRows(y, d, x)
		}
	})
	b.Run("erf64", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, v := range x {
				y[j], d[j] = gelu(v), dgelu(v)
			}
		}
	})
}

// TestGeluKernels runs every kernel class this CPU supports (forced, as the
// gate tests do) at lengths around the 8- and 16-lane widths: each within
// float32 tolerance of the float64 erf form, NaN and ±Inf included, and the
// avx512 class bit for bit equal to the avx2 class (geluPair16 is geluPair8
// on 16 lanes).
func TestGeluKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	specials := []float32{0, 11, -11, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	lengths := []int{0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 47, 63, 64, 65, 1000, 1001}
	for _, n := range lengths {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.Float64()*30 - 15)
			if i%13 == 5 {
				x[i] = specials[(i/13)%len(specials)]
			}
		}
		var ref [2][]float32
		for _, k := range supportedKernels() {
			y, d := make([]float32, n), make([]float32, n)
			geluRowsK(k, y, d, x)
			for i, xv := range x {
				wy, wd := geluExact64(float64(xv))
				switch {
				case xv != xv:
					if y[i] == y[i] || d[i] == d[i] {
						t.Fatalf("%v n=%d: gelu(NaN) [%d] = %g, %g; want NaN", k, n, i, y[i], d[i])
					}
					continue
				case math.IsInf(float64(xv), -1):
					wy, wd = 0, 0
				case math.IsInf(float64(xv), 1):
					if !math.IsInf(float64(y[i]), 1) || d[i] != 1 {
						t.Fatalf("%v n=%d: gelu(+Inf) [%d] = %g, %g; want +Inf, 1", k, n, i, y[i], d[i])
					}
					continue
				}
				if math.Abs(float64(y[i])-wy) > 5e-7*math.Max(1, math.Abs(wy)) || math.Abs(float64(d[i])-wd) > 4e-7 {
					t.Fatalf("%v n=%d: gelu(%g) [%d] = %g, %g; want %g, %g", k, n, xv, i, y[i], d[i], wy, wd)
				}
			}
			if k == KernelsAVX2 {
				ref = [2][]float32{y, d}
			}
			if k == KernelsAVX512 {
				for i := range x {
					if math.Float32bits(y[i]) != math.Float32bits(ref[0][i]) || math.Float32bits(d[i]) != math.Float32bits(ref[1][i]) {
						t.Fatalf("n=%d [%d] x=%g: avx512 %g, %g differs from avx2 %g, %g", n, i, x[i], y[i], d[i], ref[0][i], ref[1][i])
					}
				}
			}
		}
	}
}

// BenchmarkGeluKernels times geluRowsK of every supported class on one P2 MLP
// activation (768×512), one goroutine.
func BenchmarkGeluKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := randSlice(rng, 768*512, 2)
	y, d := make([]float32, len(x)), make([]float32, len(x))
	for _, k := range supportedKernels() {
		b.Run(k.String(), func(b *testing.B) {
			for range b.N {
				geluRowsK(k, y, d, x)
			}
		})
	}
}

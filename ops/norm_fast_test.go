package ops

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkNorm times one P2 LayerNorm (768×128, weight and bias): the
// forward and the three backward ops (dx, dw, db).
func BenchmarkNorm(b *testing.B) {
	const n, c = 768, 128
	rng := rand.New(rand.NewPCG(5, 6))
	dense := func(s []float32, shape ...int) *tensor.Dense {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(s))
	}
	x, dy := dense(randSlice(rng, n*c, 1), n, c), dense(randSlice(rng, n*c, 1), n, c)
	w, bb := dense(randSlice(rng, c, 1), c), dense(randSlice(rng, c, 1), c)
	f := &Norm{base: newBase("Norm", []int{n, c}, 2, 1, 1, 2), kind: NormLayer, eps: LayerEps, n: n, c: c, hasW: true, hasB: true,
		mean: make([]float32, n), rs: make([]float32, n)}
	bwd := make([]*normBwd, 3)
	for i := range bwd {
		shape := []int{c}
		if i == 0 {
			shape = []int{n, c}
		}
		bwd[i] = &normBwd{base: newBase("NormBwd", shape, 2, 1, 2, 2), fwd: f, which: i}
	}
	b.Run("forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := f.Do(x, w, bb); err != nil {
				b.Fatal(err)
			}
		}
	})
	for i, name := range []string{"dx", "dw", "db"} {
		b.Run(name, func(b *testing.B) {
			for k := 0; k < b.N; k++ {
				if _, err := bwd[i].Do([]G.Value{x, w, dy}...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNormKernels holds the Norm row kernels to plain loops: the
// element-wise passes bit for bit, the float64 sums to 1e-12 relative.
func TestNormKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 8, 13, 64, 128, 131} {
		x, g, w, b := randSlice(rng, n, 2), randSlice(rng, n, 1), randSlice(rng, n, 1), randSlice(rng, n, 1)
		const m, rs, mg, mgx = 0.3, 1.7, 0.05, -0.2
		var s, sq, sg, sgx float64
		for j, v := range x {
			s += float64(v)
			d := float64(v - m)
			sq += d * d
			sg += float64(g[j] * w[j])
			sgx += float64(g[j] * w[j] * (v - m) * rs)
		}
		gs, gq := sum64(x), sumSq64(x, m)
		gsg, gsgx := normBwdSums(x, g, w, m, rs)
		for _, c := range [][3]float64{{gs, s, 0}, {gq, sq, 1}, {gsg, sg, 2}, {gsgx, sgx, 3}} {
			if d := c[0] - c[1]; d > 1e-12*(1+abs64(c[1])) || -d > 1e-12*(1+abs64(c[1])) {
				t.Errorf("n=%d sum %v: got %v, want %v", n, c[2], c[0], c[1])
			}
		}
		y, mean, rsd := make([]float32, n), float32(0), float32(0)
		mean, rsd = normRow(y, x, w, b, true, LayerEps)
		dx := make([]float32, n)
		if haveFMA && n >= 8 {
			normDx8(dx, x, g, w, m, rs, mg, mgx)
		}
		for j, v := range x {
			if want := (v-mean)*rsd*w[j] + b[j]; y[j] != want {
				t.Fatalf("n=%d normRow y[%d] = %g, want %g", n, j, y[j], want)
			}
			if j < n/8*8 && haveFMA {
				if want := rs * (g[j]*w[j] - mg - (v-m)*rs*mgx); dx[j] != want {
					t.Fatalf("n=%d normDx8 d[%d] = %g, want %g", n, j, dx[j], want)
				}
			}
		}
	}
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

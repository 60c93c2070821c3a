package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// newXent builds a cross-entropy op over an (n, v) input node with random
// targets.
func newXent(t testing.TB, rng *rand.Rand, n, v int) *CrossEntropy {
	t.Helper()
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(n, v), G.WithName("logits"))
	_, op, err := NewCrossEntropy(x)
	if err != nil {
		t.Fatal(err)
	}
	tg := make([]int32, n)
	for i := range tg {
		tg[i] = int32(rng.IntN(v))
	}
	if err := op.SetTargets(tg); err != nil {
		t.Fatal(err)
	}
	return op
}

// xentGradRef is d loss / d logits of CrossEntropyRef times g, in float64.
func xentGradRef(x []float32, targets []int32, v int, g float64) []float64 {
	n := len(targets)
	d := make([]float64, len(x))
	for r, t := range targets {
		row := x[r*v : (r+1)*v]
		m := math.Inf(-1)
		for _, a := range row {
			m = math.Max(m, float64(a))
		}
		var s float64
		for _, a := range row {
			s += math.Exp(float64(a) - m)
		}
		for j, a := range row {
			d[r*v+j] = math.Exp(float64(a)-m) / s * g / float64(n)
		}
		d[r*v+int(t)] -= g / float64(n)
	}
	return d
}

// xentLogits returns random logits with rows of different ranges: a shifted
// row (large logits), a wide row (exponents below float32's range, which the
// kernels flush to zero) and ordinary rows.
func xentLogits(rng *rand.Rand, n, v int) []float32 {
	x := randSlice(rng, n*v, 3)
	for r := 0; r < n; r++ {
		row := x[r*v : (r+1)*v]
		switch r % 4 {
		case 1:
			for j := range row {
				row[j] += 60
			}
		case 2:
			for j := range row {
				row[j] *= 40
			}
		}
	}
	return x
}

// TestCrossEntropyKernels holds the fused forward (vector and plain-Go
// kernels, in place and not) to the float64 reference loss and gradient, and
// the backward's rescaling for upstream gradients other than 1.
func TestCrossEntropyKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, v := range []int{1, 2, 7, 8, 9, 31, 32, 33, 100, 1000, 8192} {
		for _, fma := range []bool{haveFMA, false} {
			n := 6
			if v <= 1000 {
				n = 300 // enough work for several goroutines
			}
			t.Run(fmt.Sprintf("V%d-fma=%v", v, fma), func(t *testing.T) {
				op := newXent(t, rng, n, v)
				op.fma = fma
				x := xentLogits(rng, n, v)
				want := CrossEntropyRef(x, op.targets, v)
				d := make([]float32, n*v)
				got := op.forward(d, x)
				if math.Abs(got-want) > 1e-6*math.Abs(want)+1e-7 {
					t.Errorf("loss %.9g, reference %.9g", got, want)
				}
				wg := xentGradRef(x, op.targets, v, 1)
				checkGrad(t, d, wg, n)

				in := append([]float32(nil), x...)
				if got2 := op.forward(in, in); got2 != got {
					t.Errorf("in place: loss %.9g, out of place %.9g", got2, got)
				}
				for i := range in {
					if in[i] != d[i] {
						t.Fatalf("in place: dlogits[%d] = %g, out of place %g", i, in[i], d[i])
					}
				}

				op.grad = tensor.New(tensor.WithShape(n, v), tensor.WithBacking(d))
				op.gradG = 1
				for _, g := range []float32{2.5, 2.5, -0.75, 1} {
					if err := op.rescale(g); err != nil {
						t.Fatal(err)
					}
					checkGrad(t, d, xentGradRef(x, op.targets, v, float64(g)), n)
				}
			})
		}
	}
}

func checkGrad(t *testing.T, got []float32, want []float64, n int) {
	t.Helper()
	for i := range want {
		if e := math.Abs(float64(got[i]) - want[i]); e > 1e-6*math.Abs(want[i])+1e-6/float64(n) {
			t.Fatalf("dlogits[%d] = %.9g, reference %.9g", i, got[i], want[i])
		}
	}
}

// TestCrossEntropyZeroGrad: a zero upstream gradient zeroes dlogits, and a
// later non-zero one is an error rather than a silent zero.
func TestCrossEntropyZeroGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	op := newXent(t, rng, 3, 5)
	x := xentLogits(rng, 3, 5)
	op.grad = tensor.New(tensor.WithShape(3, 5), tensor.WithBacking(make([]float32, 15)))
	op.forward(op.grad.Float32s(), x)
	op.gradG = 1
	if err := op.rescale(0); err != nil {
		t.Fatal(err)
	}
	for i, v := range op.grad.Float32s() {
		if v != 0 {
			t.Fatalf("dlogits[%d] = %g after g = 0", i, v)
		}
	}
	if err := op.rescale(1); err == nil {
		t.Error("rescale after g = 0 succeeded")
	}
}

// BenchmarkCrossEntropy measures the fused cross-entropy at the paper shape
// (B 16, T 256, V 8192: N 4096 rows) beside the kernel it replaced (old-*),
// in the same run: forward, backward (upstream gradient 1, as in training)
// and a whole step over logits in place (as the trainer runs it; a fresh
// copy of the logits is made outside the timer before each step).
func BenchmarkCrossEntropy(b *testing.B) {
	const n, v = 4096, 8192
	rng := rand.New(rand.NewPCG(1, 1))
	op := newXent(b, rng, n, v)
	x := randSlice(rng, n*v, 2)
	d := make([]float32, n*v)
	op.grad = tensor.New(tensor.WithShape(n, v), tensor.WithBacking(d))
	old := &xentOld{n: n, v: v, targets: op.targets, rowLoss: make([]float64, n)}
	bytes := int64(4 * n * v)
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(bytes)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			op.forward(d, x)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			op.gradG = 1
			if err := op.rescale(1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("old-forward", func(b *testing.B) {
		b.SetBytes(bytes)
		for i := 0; i < b.N; i++ {
			old.forward(d, x)
		}
	})
	b.Run("old-backward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			old.backward(d, 1)
		}
	})
	in := make([]float32, n*v)
	b.Run("step-in-place", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			copy(in, x)
			b.StartTimer()
			op.forward(in, in)
			op.gradG = 1
			if err := op.rescale(1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("old-step-in-place", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			copy(in, x)
			b.StartTimer()
			old.forward(in, in)
			old.backward(in, 1)
		}
	})
}

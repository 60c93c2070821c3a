package runner

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tinyscale/tinyscale/ops"

	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"
)

func TestAdamWStepByHand(t *testing.T) {
	// Expected values: PyTorch's AdamW formula evaluated by hand (float64) for
	// p0=1, lr=0.1, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01 and
	// gradients 0.5, -0.25, 0.125. Step 1: p = 0.999 - 0.1*0.05/(0.5+1e-8).
	h := Hyper{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	tests := []struct {
		name  string
		decay bool
		want  []float64
	}{
		{"decayed", true, []float64{0.899000002, 0.8714672987058463, 0.8365529176159483}},
		// Without decay step 1 is 1 - (0.1/(1-0.9))*0.05/(0.5+1e-8).
		{"no decay", false, []float64{1 - (0.1/0.1)*0.05/(0.5+1e-8)}},
	}
	grads := []float32{0.5, -0.25, 0.125}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, m, v := []float32{1}, []float32{0}, []float32{0}
			for i, want := range tc.want {
				AdamWStep(p, []float32{grads[i]}, m, v, int64(i+1), 0.1, h, tc.decay)
				if math.Abs(float64(p[0])-want) > 1e-6 {
					t.Fatalf("step %d: p = %.9f, want %.9f", i+1, p[0], want)
				}
			}
		})
	}
}

// TestAdamWStepSplitBitIdentical holds the split update (AdamWStep cuts
// long tensors into ranges on several goroutines) to one serial pass over the
// whole tensor, bit for bit, at lengths around the cut sizes.
func TestAdamWStepSplitBitIdentical(t *testing.T) {
	h := DefaultHyper()
	for _, n := range []int{adamGrain - 1, 2*adamGrain + 1, 5*adamGrain + 7} {
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		val, grad := make([]float32, n), make([]float32, n)
		for i := range val {
			val[i], grad[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		split := [3][]float32{append([]float32(nil), val...), make([]float32, n), make([]float32, n)}
		serial := [3][]float32{append([]float32(nil), val...), make([]float32, n), make([]float32, n)}
		for step := int64(1); step <= 3; step++ {
			AdamWStep(split[0], grad, split[1], split[2], step, 1e-3, h, true)
			newAdamWCoef(step, 1e-3, h, true).updateGo(serial[0], grad, serial[1], serial[2])
		}
		for k, name := range []string{"value", "m", "v"} {
			for i := range serial[k] {
				if math.Float32bits(split[k][i]) != math.Float32bits(serial[k][i]) {
					t.Fatalf("n %d: %s[%d] = %v split, %v serial", n, name, i, split[k][i], serial[k][i])
				}
			}
		}
	}
}

// TestAdamWVectorBitIdentical holds the vector AdamW kernel (where this
// machine runs it) to the plain Go loop, bit for bit, at lengths that leave
// every tail size, with gradients spanning zero, tiny and large values.
func TestAdamWVectorBitIdentical(t *testing.T) {
	if !adamVectorFor(ops.BestKernels(), nil) {
		t.Skip("this CPU runs no vector AdamW kernel")
	}
	h := DefaultHyper()
	for _, n := range []int{1, 3, 4, 5, 7, 8, 33, 1001} {
		rng := rand.New(rand.NewPCG(uint64(n), 4))
		val, grad := make([]float32, n), make([]float32, n)
		for i := range val {
			val[i] = float32(rng.NormFloat64())
			grad[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(16)-10)))
			if i%5 == 0 {
				grad[i] = 0
			}
		}
		vec := [3][]float32{append([]float32(nil), val...), make([]float32, n), make([]float32, n)}
		ref := [3][]float32{append([]float32(nil), val...), make([]float32, n), make([]float32, n)}
		for step := int64(1); step <= 4; step++ {
			for _, decay := range []bool{true, false} {
				c := newAdamWCoef(step, 3e-3, h, decay)
				c.updateWith(vec[0], grad, vec[1], vec[2], true)
				c.updateGo(ref[0], grad, ref[1], ref[2])
			}
		}
		for k, name := range []string{"value", "m", "v"} {
			for i := range ref[k] {
				if math.Float32bits(vec[k][i]) != math.Float32bits(ref[k][i]) {
					t.Fatalf("n %d: %s[%d] = %v vector, %v Go", n, name, i, vec[k][i], ref[k][i])
				}
			}
		}
	}
}

func TestScheduleKeySteps(t *testing.T) {
	cos := Schedule{Kind: "cosine", LR: 1e-3, MinLR: 1e-4, Warmup: 10, DecayIters: 110}
	wsd := Schedule{Kind: "wsd", LR: 1, MinLR: 0.1, Warmup: 10, DecayIters: 100, CooldownFrac: 0.2}
	con := Schedule{Kind: "constant", LR: 0.5, Warmup: 4}
	tests := []struct {
		name string
		s    Schedule
		it   int64
		want float64
	}{
		{"cosine warmup first", cos, 0, 1e-3 / 11},
		{"cosine warmup last", cos, 9, 1e-3 * 10 / 11},
		{"cosine peak", cos, 10, 1e-3},
		{"cosine half", cos, 60, 5.5e-4},
		{"cosine quarter", cos, 35, 1e-4 + 0.5*(1+math.Cos(math.Pi/4))*9e-4},
		{"cosine end", cos, 110, 1e-4},
		{"cosine past end", cos, 500, 1e-4},
		{"wsd warmup", wsd, 4, 5.0 / 11},
		{"wsd stable", wsd, 50, 1},
		{"wsd cooldown start", wsd, 80, 1},
		{"wsd cooldown half", wsd, 90, 0.55},
		{"wsd end", wsd, 100, 0.1},
		{"wsd past end", wsd, 150, 0.1},
		{"constant warmup", con, 1, 0.2},
		{"constant", con, 1000, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tc.s.At(tc.it); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("At(%d) = %.15g, want %.15g", tc.it, got, tc.want)
			}
		})
	}
	if err := (Schedule{Kind: "linear"}).Validate(); err == nil {
		t.Error("unknown schedule accepted")
	}
}

func TestNewtonSchulzOrthogonal(t *testing.T) {
	tests := []struct{ rows, cols int }{{8, 16}, {16, 8}, {12, 12}, {32, 64}}
	for _, tc := range tests {
		rng := rand.New(rand.NewPCG(1, uint64(tc.rows*100+tc.cols)))
		g := make([]float32, tc.rows*tc.cols)
		for i := range g {
			g[i] = float32(rng.NormFloat64())
		}
		o := NewtonSchulz(g, tc.rows, tc.cols, 5)
		d := make([]float64, len(o))
		for i, v := range o {
			d[i] = float64(v)
		}
		var svd mat.SVD
		if !svd.Factorize(mat.NewDense(tc.rows, tc.cols, d), mat.SVDNone) {
			t.Fatal("svd failed")
		}
		for _, s := range svd.Values(nil) {
			// The quintic NS iteration trades exactness for speed: after 5 steps
			// the singular values sit in roughly [0.7, 1.2] rather than at 1.
			if s < 0.6 || s > 1.25 {
				t.Errorf("%dx%d: singular value %.4f outside the NS range [0.6, 1.25]", tc.rows, tc.cols, s)
			}
		}
	}
}

func TestMuonMomentumWarmup(t *testing.T) {
	h := DefaultHyper()
	for _, tc := range []struct {
		step int64
		want float64
	}{{0, 0.85}, {150, 0.90}, {300, 0.95}, {10000, 0.95}} {
		if got := MuonMomentum(tc.step, h); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("momentum(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
}

func TestMuonStepScaleAndDecay(t *testing.T) {
	// For a 4x2 matrix (rows > cols) the update is lr*sqrt(2)*NS(u) and the
	// weights first shrink by 1-lr*wd. With zero momentum state at step 0,
	// u = (1-mu)g + mu*(1-mu)g.
	h := DefaultHyper()
	g := []float32{1, 0, 0, 1, 0, 0, 0, 0}
	val := []float32{1, 1, 1, 1, 1, 1, 1, 1}
	buf := make([]float32, 8)
	MuonStep(gonum.Implementation{}, val, g, buf, 4, 2, 0, 0.1, h)
	mu := 0.85
	u := make([]float32, 8)
	for i, v := range g {
		u[i] = float32((1-mu)*float64(v) + mu*(1-mu)*float64(v))
	}
	o := NewtonSchulz(u, 4, 2, 5)
	for i := range val {
		want := 1*(1-0.1*0.1) - 0.1*math.Sqrt2*float64(o[i])
		if math.Abs(float64(val[i])-want) > 1e-6 {
			t.Errorf("val[%d] = %v, want %v", i, val[i], want)
		}
		if math.Abs(float64(buf[i])-(1-mu)*float64(g[i])) > 1e-7 {
			t.Errorf("buf[%d] = %v", i, buf[i])
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	tests := []struct {
		name     string
		grads    [][]float32
		max      float64
		wantNorm float64
		wantG0   float32
	}{
		{"clipped", [][]float32{{3}, {4}}, 1, 5, float32(3 * 1 / (5 + 1e-6))},
		{"under", [][]float32{{0.3}, {0.4}}, 1, 0.5, 0.3},
		{"disabled", [][]float32{{3}, {4}}, 0, 5, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := ClipGradNorm(tc.grads, tc.max)
			if math.Abs(n-tc.wantNorm) > 1e-6 || tc.grads[0][0] != tc.wantG0 {
				t.Errorf("norm %v g0 %v, want %v %v", n, tc.grads[0][0], tc.wantNorm, tc.wantG0)
			}
		})
	}
}

func TestOptimizerRouting(t *testing.T) {
	mk := func(name string, shape []int, k Kind) Param {
		n := 1
		for _, s := range shape {
			n *= s
		}
		v, g := make([]float32, n), make([]float32, n)
		for i := range g {
			v[i], g[i] = 1, 0.5
		}
		return Param{Name: name, Shape: shape, Kind: k, Value: func() []float32 { return v }, Grad: func() []float32 { return g }}
	}
	ps := []Param{mk("emb", []int{4, 2}, Embedding), mk("w", []int{2, 2}, Matrix), mk("b", []int{2}, Vector)}
	o, err := NewOptimizer("muon", ps, DefaultHyper(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, st := o.State()
	for _, name := range []string{"adam.m/emb", "adam.v/b", "muon.buf/w"} {
		if _, ok := st[name]; !ok {
			t.Errorf("missing state %s", name)
		}
	}
	if _, ok := st["adam.m/w"]; ok {
		t.Error("matrix routed to AdamW under muon")
	}
	if _, err := NewOptimizer("sgd", ps, DefaultHyper(), nil); err == nil {
		t.Error("unknown optimizer accepted")
	}
}

// newtonSchulzRef is a plain float64 Newton–Schulz, the reference for NewtonSchulzWith; it returns an approximately orthogonalised copy of the rows×cols
// matrix g (row-major): g is divided by its Frobenius norm (+1e-7), transposed
// when rows > cols, iterated `steps` times with X ← aX + (bA + cA²)X where
// A = XXᵀ, and transposed back. Its singular values land roughly in [0.7, 1.2].
func newtonSchulzRef(g []float32, rows, cols, steps int) []float32 {
	r, c := rows, cols
	x := make([]float64, len(g))
	transposed := rows > cols
	if transposed {
		r, c = cols, rows
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				x[j*rows+i] = float64(g[i*cols+j])
			}
		}
	} else {
		for i, v := range g {
			x[i] = float64(v)
		}
	}
	var norm float64
	for _, v := range x {
		norm += v * v
	}
	norm = math.Sqrt(norm) + 1e-7
	for i := range x {
		x[i] /= norm
	}
	a := make([]float64, r*r)
	b := make([]float64, r*r)
	bx := make([]float64, r*c)
	for s := 0; s < steps; s++ {
		// A = X Xᵀ (r×r, symmetric)
		for i := 0; i < r; i++ {
			xi := x[i*c : (i+1)*c]
			for j := 0; j <= i; j++ {
				xj := x[j*c : (j+1)*c]
				var sum float64
				for k, v := range xi {
					sum += v * xj[k]
				}
				a[i*r+j], a[j*r+i] = sum, sum
			}
		}
		// B = b*A + c*A*A
		for i := 0; i < r; i++ {
			bi := b[i*r : (i+1)*r]
			for j := range bi {
				bi[j] = nsB * a[i*r+j]
			}
			for k := 0; k < r; k++ {
				aik := nsC * a[i*r+k]
				ak := a[k*r : (k+1)*r]
				for j, v := range ak {
					bi[j] += aik * v
				}
			}
		}
		// X = a*X + B*X
		for i := 0; i < r; i++ {
			row := bx[i*c : (i+1)*c]
			for j := range row {
				row[j] = nsA * x[i*c+j]
			}
			for k := 0; k < r; k++ {
				bik := b[i*r+k]
				xk := x[k*c : (k+1)*c]
				for j, v := range xk {
					row[j] += bik * v
				}
			}
		}
		x, bx = bx, x
	}
	out := make([]float32, len(g))
	if transposed {
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				out[i*cols+j] = float32(x[j*rows+i])
			}
		}
	} else {
		for i, v := range x {
			out[i] = float32(v)
		}
	}
	return out
}

func TestNewtonSchulzMatchesFloat64Reference(t *testing.T) {
	for _, sz := range []struct{ r, c int }{{8, 16}, {24, 8}, {16, 16}} {
		g := randSlice(sz.r*sz.c, uint64(sz.r))
		got, want := NewtonSchulz(g, sz.r, sz.c, 5), newtonSchulzRef(g, sz.r, sz.c, 5)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Fatalf("%dx%d [%d]: %v, float64 reference %v", sz.r, sz.c, i, got[i], want[i])
			}
		}
	}
}

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// headRun runs the fused head's forward (with gradients) once on the kernel
// class k with blocks of block rows, and returns its loss, dx and dW.
func headRun(t *testing.T, x, w []float32, targets []int32, n, c, v, block int, k Kernels, training bool) (float32, []float32, []float32) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(n, c), G.WithName("x"))
	wn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(v, c), G.WithName("w"))
	_, op, err := NewLinearCrossEntropy(xn, wn)
	if err != nil {
		t.Fatal(err)
	}
	op.kern, op.block, op.Training = k, block, training
	if err := op.SetTargets(targets); err != nil {
		t.Fatal(err)
	}
	xt := tensor.New(tensor.WithShape(n, c), tensor.WithBacking(x))
	wt := tensor.New(tensor.WithShape(v, c), tensor.WithBacking(w))
	if _, err := op.Do(xt, wt); err != nil {
		t.Fatal(err)
	}
	if !training {
		return op.Loss(), nil, nil
	}
	return op.Loss(), append([]float32(nil), op.dx.Float32s()...), append([]float32(nil), op.dw.Float32s()...)
}

// TestLinearCrossEntropyPackedMatchesReference holds the head, on every
// kernel class this CPU runs (the packed path on AVX2 and AVX-512, BLAS on
// generic), to the float64 reference at shapes beyond one tile with ragged
// edges everywhere: N, V and C not multiples of 16 or of the block, several
// blocks and groups, a partial last block. Forward-only mode gives the same
// loss.
func TestLinearCrossEntropyPackedMatchesReference(t *testing.T) {
	for _, s := range []struct{ n, c, v, block int }{
		{70, 37, 41, 16},    // 5 blocks in 4 groups, last block 6 rows
		{70, 37, 41, 0},     // one block of all rows
		{300, 64, 1000, 32}, // 10 blocks, V % 16 = 8
		{45, 16, 203, 7},    // blocks smaller than a tile
		{33, 5, 17, 0},      // C < 16
		{40, 160, 70, 16},   // C > headAVX2MaxC: BLAS on avx2, packed on avx512
	} {
		rng := rand.New(rand.NewPCG(uint64(s.n), uint64(s.v)))
		x, w := randSlice(rng, s.n*s.c, 1), randSlice(rng, s.v*s.c, 0.5)
		targets := make([]int32, s.n)
		for i := range targets {
			targets[i] = int32(rng.IntN(s.v))
		}
		wantLoss, wantDx, wantDw := headRef64(x, w, targets, s.n, s.c, s.v)
		for _, k := range supportedKernels() {
			t.Run(fmt.Sprintf("%dx%dx%d-block%d-%s", s.n, s.c, s.v, s.block, k), func(t *testing.T) {
				loss, dx, dw := headRun(t, x, w, targets, s.n, s.c, s.v, s.block, k, true)
				if d := math.Abs(float64(loss) - wantLoss); d > 1e-6*wantLoss {
					t.Errorf("loss %g, want %g", loss, wantLoss)
				}
				for name, pair := range map[string]struct {
					got  []float32
					want []float64
				}{"dx": {dx, wantDx}, "dW": {dw, wantDw}} {
					for i, want := range pair.want {
						if math.Abs(float64(pair.got[i])-want) > 1e-6+1e-4*math.Abs(want) {
							t.Fatalf("%s[%d] = %g, want %g", name, i, pair.got[i], want)
						}
					}
				}
				if l, _, _ := headRun(t, x, w, targets, s.n, s.c, s.v, s.block, k, false); l != loss {
					t.Errorf("forward-only loss %g, with gradients %g", l, loss)
				}
			})
		}
	}
}

// TestLinearCrossEntropyPackedDeterministic: the packed head gives the same
// bits for loss, dx and dW on repeated runs, at GOMAXPROCS 1, 2 and 3, and on
// the AVX2 (6-row) and AVX-512 (16-row) kernels alike.
func TestLinearCrossEntropyPackedDeterministic(t *testing.T) {
	if bestKernels < KernelsAVX2 {
		t.Skip("no AVX2/FMA here: the packed path does not run")
	}
	const n, c, v, block = 300, 37, 517, 16 // 19 blocks in 4 groups
	rng := rand.New(rand.NewPCG(11, 12))
	x, w := randSlice(rng, n*c, 1), randSlice(rng, v*c, 0.5)
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(rng.IntN(v))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var ref [3][]float32
	first := true
	for _, k := range supportedKernels()[1:] {
		for _, procs := range []int{1, 2, 3, 2} {
			runtime.GOMAXPROCS(procs)
			loss, dx, dw := headRun(t, x, w, targets, n, c, v, block, k, true)
			got := [3][]float32{{loss}, dx, dw}
			if first {
				ref, first = got, false
				continue
			}
			for j, name := range []string{"loss", "dx", "dW"} {
				for i := range got[j] {
					if math.Float32bits(got[j][i]) != math.Float32bits(ref[j][i]) {
						t.Fatalf("%s, GOMAXPROCS %d: %s[%d] = %g, first run %g", k, procs, name, i, got[j][i], ref[j][i])
					}
				}
			}
		}
	}
}

// TestXentExpSum16MatchesExpSum8: the AVX-512 exp-and-sum gives the AVX2
// kernel's bits, values and sum, at lengths around its 16-lane steps and
// float64 flushes.
func TestXentExpSum16MatchesExpSum8(t *testing.T) {
	if bestKernels < KernelsAVX512 {
		t.Skipf("needs AVX-512 (best here: %s)", bestKernels)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{8, 16, 24, 120, 128, 136, 256, 264, 8192, 8200} {
		x := randSlice(rng, n, 30)
		x[n/2] = -200 // below exp's range: 0
		d8, d16 := make([]float32, n), make([]float32, n)
		s8, s16 := xentExpSum8(d8, x, 3), xentExpSum16(d16, x, 3)
		if math.Float64bits(s8) != math.Float64bits(s16) {
			t.Errorf("n %d: sum %v, 8-wide %v", n, s16, s8)
		}
		for i := range d8 {
			if math.Float32bits(d8[i]) != math.Float32bits(d16[i]) {
				t.Fatalf("n %d: [%d] = %g, 8-wide %g", n, i, d16[i], d8[i])
			}
		}
	}
}

// TestHeadBlockRows: the default block keeps 3/4 of L2 for the logits, in
// multiples of 16 rows, at least 16; the L2 size is read from this machine.
func TestHeadBlockRows(t *testing.T) {
	if l2Bytes < 64<<10 {
		t.Fatalf("L2 size %d: not read sensibly", l2Bytes)
	}
	defer func(b int) { l2Bytes = b }(l2Bytes)
	for _, c := range []struct{ l2, ldl, want int }{
		{2 << 20, 8208, 48}, {512 << 10, 8208, 16}, {1 << 20, 8208, 16}, {2 << 20, 113, 3472},
	} {
		l2Bytes = c.l2
		if got := headBlockRows(c.ldl); got != c.want {
			t.Errorf("L2 %d, ldl %d: %d rows, want %d", c.l2, c.ldl, got, c.want)
		}
	}
}

// TestHeadPackedUnmapsBuffers: the packed head's OS-mapped buffers go back
// when the op is dropped (its cleanup runs), so building many heads in one
// process (one per run of a sweep) does not grow the address space.
func TestHeadPackedUnmapsBuffers(t *testing.T) {
	h := newHeadPacked(512, 64, 8192, 0, KernelsAVX2)
	h.ensure(1, true)
	maps := h.maps
	if runtime.GOOS == "linux" && maps.mapped() == 0 {
		t.Fatal("no buffer mapped on its own at 512×64×8192")
	}
	h = nil
	for i := 0; i < 500 && maps.mapped() > 0; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if n := maps.mapped(); n != 0 {
		t.Errorf("%d mappings left after the head was dropped", n)
	}
	_ = h
}

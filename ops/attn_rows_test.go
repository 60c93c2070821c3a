package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestAttnRowKernels holds each attention row kernel, on every class this
// CPU runs, to a float64 reference of its formula at half-row lengths around
// the vector width (so the Go remainder after the 8-lane part is exercised),
// and checks that nothing past the row is written.
func TestAttnRowKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range supportedKernels() {
		for _, d := range []int{1, 3, 7, 8, 9, 12, 15, 16, 17, 32, 33, 64} {
			t.Run(fmt.Sprintf("%s-d%d", k, d), func(t *testing.T) {
				hd := 2 * d
				x := randSlice(rng, hd, 3)
				cos, sin := make([]float32, d), make([]float32, d)
				for i := range cos {
					a := rng.Float64() * 2 * math.Pi
					cos[i], sin[i] = float32(math.Cos(a)), float32(math.Sin(a))
				}
				rot := func(x []float32, i int) (float64, float64) {
					x1, x2 := float64(x[i]), float64(x[i+d])
					return x1*float64(cos[i]) + x2*float64(sin[i]), x2*float64(cos[i]) - x1*float64(sin[i])
				}
				for _, norm := range []bool{false, true} {
					y := make([]float32, hd+1)
					y[hd] = 7
					rs := ropeNormRow(k, y[:hd], x, cos, sin, norm)
					want := make([]float64, hd)
					var ss float64
					for i := 0; i < d; i++ {
						want[i], want[i+d] = rot(x, i)
						ss += want[i]*want[i] + want[i+d]*want[i+d]
					}
					wrs := 1.0
					if norm {
						wrs = 1 / math.Sqrt(ss/float64(hd)+RMSEps)
					}
					if math.Abs(float64(rs)-wrs) > 1e-6*wrs {
						t.Errorf("norm %v: 1/rms %g, want %g", norm, rs, wrs)
					}
					for i := range want {
						if w := want[i] * wrs; math.Abs(float64(y[i])-w) > 1e-6*(math.Abs(w)+3*wrs) {
							t.Errorf("norm %v: y[%d] = %g, want %g", norm, i, y[i], w)
						}
					}
					if y[hd] != 7 {
						t.Errorf("norm %v: wrote past the row", norm)
					}
				}
				// backward: norm and rope, rope only, norm only, neither
				dx, xn := randSlice(rng, hd, 2), randSlice(rng, hd, 1.5)
				const rs = 0.75
				for _, c := range []struct{ norm, rope bool }{{true, true}, {false, true}, {true, false}, {false, false}} {
					g := make([]float64, hd)
					var m float64
					for i := range xn {
						m += float64(dx[i]) * float64(xn[i])
					}
					m /= float64(hd)
					for i := range g {
						g[i] = float64(dx[i])
						if c.norm {
							g[i] = rs * (g[i] - float64(xn[i])*m)
						}
					}
					want := append([]float64(nil), g...)
					if c.rope {
						for i := 0; i < d; i++ {
							want[i] = g[i]*float64(cos[i]) - g[i+d]*float64(sin[i])
							want[i+d] = g[i]*float64(sin[i]) + g[i+d]*float64(cos[i])
						}
					}
					dst := make([]float32, hd+1)
					dst[hd] = 7
					keep := append([]float32(nil), dx...)
					qkBwdRow(k, dst[:hd], dx, xn, cos, sin, rs, c.norm, c.rope)
					for i := range want {
						if math.Abs(float64(dst[i])-want[i]) > 2e-6*(math.Abs(want[i])+2) {
							t.Errorf("%+v: dst[%d] = %g, want %g", c, i, dst[i], want[i])
						}
					}
					if dst[hd] != 7 {
						t.Errorf("%+v: wrote past the row", c)
					}
					for i := range dx {
						if dx[i] != keep[i] {
							t.Fatalf("%+v: dx changed", c)
						}
					}
				}
				// dot
				{
					a, bb := randSlice(rng, hd+1, 2), randSlice(rng, hd+1, 2)
					var w, mag float64
					for i := range a {
						w += float64(a[i]) * float64(bb[i])
						mag += math.Abs(float64(a[i]) * float64(bb[i]))
					}
					if got := attnDot(k, a, bb); math.Abs(float64(got)-w) > 1e-6*mag {
						t.Errorf("dot %g, want %g", got, w)
					}
				}
				// sigmoid
				{
					g := randSlice(rng, hd+1, 12)
					g[0] = 100
					if hd > 2 {
						g[1] = -100
					}
					sg := make([]float32, hd+2)
					sg[hd+1] = 7
					attnSigmoidRow(k, sg[:hd+1], g)
					for i, v := range g {
						w := 1 / (1 + math.Exp(-float64(v)))
						if math.Abs(float64(sg[i])-w) > 1e-6*w+1e-37 {
							t.Errorf("sigmoid(%g) = %g, want %g", v, sg[i], w)
						}
					}
					if sg[hd+1] != 7 {
						t.Error("sigmoid wrote past the row")
					}
				}
				// scale, scale-and-copy, max
				n := hd + 1
				v := randSlice(rng, n, 5)
				v[n/2] = 40
				if got := attnRowMax(k, v); got != 40 {
					t.Errorf("max %g, want 40", got)
				}
				v[n/2] = -1
				wm := v[0]
				for _, e := range v {
					wm = max(wm, e)
				}
				if got := attnRowMax(k, v); got != wm {
					t.Errorf("max %g, want %g", got, wm)
				}
				orig := append([]float32(nil), v...)
				o, y := append([]float32(nil), v...), make([]float32, n+1)
				y[n] = 7
				attnScaleRow(k, v, 0.3)
				attnScaleCopyRow(k, y, o, 0.3)
				for i := range v {
					if w := orig[i] * 0.3; v[i] != w || o[i] != w || y[i] != w {
						t.Fatalf("scale at %d: %g %g %g, want %g", i, v[i], o[i], y[i], w)
					}
				}
				if y[n] != 7 {
					t.Error("scale-and-copy wrote past the row")
				}
				// softmax backward: p = e^(a x - b) c, ds = p (ds - di) scale
				sx, ds := randSlice(rng, n, 8), randSlice(rng, n, 2)
				sx[0] = -1e4 // underflows to 0
				ods := append([]float32(nil), ds...)
				const a, b, cc, di, sc = 0.125, 1.5, 0.7, 0.3, 0.125
				px := append([]float32(nil), sx...)
				softmaxBwdRow(k, px, ds, a, b, cc, di, sc)
				for j := range px {
					arg := a*float64(sx[j]) - b
					e := math.Exp(arg)
					if e < 1.2e-38 {
						e = 0
					}
					e *= float64(float32(cc))
					tol := (4e-7 + math.Abs(arg)*1.2e-7) * e
					if math.Abs(float64(px[j])-e) > tol {
						t.Fatalf("p[%d] = %g, want %g", j, px[j], e)
					}
					w := e * (float64(ods[j]) - float64(float32(di))) * sc
					if math.Abs(float64(ds[j])-w) > tol*math.Abs(float64(ods[j])-di)*sc+1e-7*math.Abs(w) {
						t.Fatalf("ds[%d] = %g, want %g", j, ds[j], w)
					}
				}
			})
		}
	}
}

// TestPackT16 holds packT16 (register transposes for each 8 values of q on
// AVX2, then a Go loop) to its definition at counts around 8 and strides
// beyond 16, and checks it writes nothing else.
func TestPackT16(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, count := range []int{1, 7, 8, 9, 15, 16, 17, 40, 64} {
		const ld, lddst = 70, 19
		src := randSlice(rng, 16*ld, 1)
		dst := make([]float32, count*lddst+1)
		for i := range dst {
			dst[i] = -1
		}
		packT16(dst, lddst, count, src, ld)
		for q := 0; q < count; q++ {
			for j := 0; j < lddst; j++ {
				want := float32(-1)
				if j < 16 {
					want = src[j*ld+q]
				}
				if got := dst[q*lddst+j]; got != want {
					t.Fatalf("count %d: dst[%d*%d+%d] = %g, want %g", count, q, lddst, j, got, want)
				}
			}
		}
		if dst[count*lddst] != -1 {
			t.Fatalf("count %d: wrote past the end", count)
		}
	}
}

// TestAttnExpSum holds the forward softmax row's exponentials and their sum,
// on every kernel class, to math.Exp at lengths around both vector widths
// (the AVX-512 kernel's masked remainder included), with underflow, -Inf and
// NaN inputs.
func TestAttnExpSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, k := range supportedKernels() {
		for _, n := range []int{1, 5, 8, 9, 15, 16, 17, 31, 37, 255, 256} {
			x := randSlice(rng, n+1, 30)
			x[n] = 7 // past the row: untouched
			if n > 5 {
				x[1], x[2], x[3] = -200, float32(math.Inf(-1)), 0
			}
			orig := append([]float32(nil), x...)
			const a, b = 0.125, 2.5
			s := attnExpSum(k, x[:n], a, b)
			var want float64
			for j, v := range orig[:n] {
				arg := a*float64(v) - b
				e := math.Exp(arg)
				if e < 1.2e-38 {
					e = 0
				}
				want += e
				if d := math.Abs(float64(x[j]) - e); d > (3e-7+math.Abs(arg)*1.2e-7)*e || (e == 0 && x[j] != 0) {
					t.Fatalf("%s n=%d: e^(%g*%g-%g) = %g, want %g", k, n, a, v, b, x[j], e)
				}
			}
			if math.Abs(float64(s)-want) > 1e-6*want {
				t.Errorf("%s n=%d: sum %g, want %g", k, n, s, want)
			}
			if x[n] != 7 {
				t.Errorf("%s n=%d: wrote past the row", k, n)
			}
		}
		x := []float32{1, 2, 3, 4, float32(math.NaN()), 6, 7, 8, 9, 10, 11}
		if s := attnExpSum(k, x, 1, 0); !math.IsNaN(float64(x[4])) || !math.IsNaN(float64(s)) {
			t.Errorf("%s: NaN in, %g (sum %g) out", k, x[4], s)
		}
	}
}

// TestAttentionWorkersBitIdentical runs the attention forward and backward at
// GOMAXPROCS 1, 2 and 5 (Workers()): each (batch, head) is computed wholly by
// one worker, so the bits must not depend on how many there are.
func TestAttentionWorkersBitIdentical(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range []AttnConfig{
		{B: 3, T: 70, H: 3, HD: 32, PerHead: true, RoPE: true, QKNorm: true},
		{B: 2, T: 67, H: 2, HD: 16, PerHead: true, RoPE: true, QKNorm: true, Gate: true, XSA: true},
	} {
		rng := rand.New(rand.NewPCG(8, 9))
		n := c.B * c.T
		qkv := randSlice(rng, n*c.H*c.Parts()*c.HD, 1.5)
		dout := randSlice(rng, n*c.H*c.HD, 1)
		var ref, dref []float32
		for _, procs := range []int{1, 2, 5} {
			runtime.GOMAXPROCS(procs)
			op := newAttentionOp(c)
			out, d := make([]float32, n*c.H*c.HD), make([]float32, len(qkv))
			op.forward(out, qkv)
			op.backward(d, qkv, dout)
			if ref == nil {
				ref, dref = out, d
				continue
			}
			for i := range out {
				if math.Float32bits(out[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("GOMAXPROCS %d: out[%d] = %g, at 1: %g", procs, i, out[i], ref[i])
				}
			}
			for i := range d {
				if math.Float32bits(d[i]) != math.Float32bits(dref[i]) {
					t.Fatalf("GOMAXPROCS %d: dqkv[%d] = %g, at 1: %g", procs, i, d[i], dref[i])
				}
			}
		}
	}
}

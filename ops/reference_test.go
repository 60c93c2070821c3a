package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// runForward builds out = build(inputs) over fixed values and runs it once.
func runForward(t *testing.T, vals [][]float32, shapes [][]int, build func(G.Nodes) (*G.Node, error)) []float32 {
	t.Helper()
	g := G.NewGraph()
	var in G.Nodes
	for i, s := range shapes {
		v := tensor.New(tensor.WithShape(s...), tensor.WithBacking(vals[i]))
		in = append(in, G.NewTensor(g, tensor.Float32, len(s), G.WithShape(s...), G.WithValue(v), G.WithName(fmt.Sprintf("in%d", i))))
	}
	out, err := build(in)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if out.IsScalar() {
		s, err := scalar(out.Value())
		if err != nil {
			t.Fatal(err)
		}
		return []float32{s}
	}
	d, err := f32(out.Value())
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), d...)
}

func assertClose(t *testing.T, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("element %d: got %g, want %g", i, got[i], want[i])
		}
	}
}

func TestFastMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	attnCase := func(c AttnConfig) func() ([]float32, []float32) {
		return func() ([]float32, []float32) {
			n, w := c.B*c.T, c.H*c.Parts()*c.HD
			x := randSlice(rng, n*w, 1)
			got := runForward(t, [][]float32{x}, [][]int{{n, w}}, func(in G.Nodes) (*G.Node, error) {
				y, _, err := NewAttention(in[0], c)
				return y, err
			})
			want := make([]float32, n*c.H*c.HD)
			AttentionRef(want, x, c)
			return got, want
		}
	}
	cases := []struct {
		name string
		run  func() ([]float32, []float32)
	}{
		{"linear", func() ([]float32, []float32) {
			x, w, b := randSlice(rng, 7*9, 1), randSlice(rng, 5*9, 1), randSlice(rng, 5, 1)
			got := runForward(t, [][]float32{x, w, b}, [][]int{{7, 9}, {5, 9}, {5}}, func(in G.Nodes) (*G.Node, error) { return NewLinear(in[0], in[1], in[2]) })
			want := make([]float32, 7*5)
			LinearRef(want, x, w, b, 7, 9, 5)
			return got, want
		}},
		{"layernorm", func() ([]float32, []float32) {
			x, w, b := randSlice(rng, 4*8, 3), randSlice(rng, 8, 1), randSlice(rng, 8, 1)
			got := runForward(t, [][]float32{x, w, b}, [][]int{{4, 8}, {8}, {8}}, func(in G.Nodes) (*G.Node, error) {
				return NewNorm(in[0], in[1], in[2], NormLayer, LayerEps)
			})
			want := make([]float32, 4*8)
			NormRef(want, x, w, b, 4, 8, NormLayer, LayerEps)
			return got, want
		}},
		{"rmsnorm", func() ([]float32, []float32) {
			x := randSlice(rng, 4*8, 3)
			got := runForward(t, [][]float32{x}, [][]int{{4, 8}}, func(in G.Nodes) (*G.Node, error) { return NewNorm(in[0], nil, nil, NormRMS, RMSEps) })
			want := make([]float32, 4*8)
			NormRef(want, x, nil, nil, 4, 8, NormRMS, RMSEps)
			return got, want
		}},
		{"cross-entropy", func() ([]float32, []float32) {
			x := randSlice(rng, 6*11, 3)
			tg := []int32{0, 10, 3, 3, 7, 1}
			got := runForward(t, [][]float32{x}, [][]int{{6, 11}}, func(in G.Nodes) (*G.Node, error) {
				y, op, err := NewCrossEntropy(in[0])
				if err == nil {
					err = op.SetTargets(tg)
				}
				return y, err
			})
			return got, []float32{float32(CrossEntropyRef(x, tg, 11))}
		}},
		{"gated-silu", func() ([]float32, []float32) {
			x := randSlice(rng, 3*10, 2)
			got := runForward(t, [][]float32{x}, [][]int{{3, 10}}, func(in G.Nodes) (*G.Node, error) { return NewGatedAct(in[0], ActSiLU) })
			want := make([]float32, 15)
			GatedActRef(want, x, 3, 5, func(v float32) float32 { return float32(float64(v) / (1 + math.Exp(-float64(v)))) })
			return got, want
		}},
		{"embedding", func() ([]float32, []float32) {
			w := randSlice(rng, 7*3, 1)
			ids := []int32{6, 0, 0, 3}
			got := runForward(t, [][]float32{w}, [][]int{{7, 3}}, func(in G.Nodes) (*G.Node, error) {
				y, op, err := NewEmbedding(in[0], 4)
				if err == nil {
					err = op.SetIDs(ids)
				}
				return y, err
			})
			want := make([]float32, 12)
			EmbeddingRef(want, w, ids, 3)
			return got, want
		}},
		{"rope-op", func() ([]float32, []float32) {
			// B 2, T 3, H 2, hd 4: every head slice of row r rotated by position r%3.
			x := randSlice(rng, 6*8, 1)
			got := runForward(t, [][]float32{x}, [][]int{{6, 8}}, func(in G.Nodes) (*G.Node, error) { return NewRoPE(in[0], 2, 3, 2, 4) })
			cos, sin := RopeTables(3, 4)
			want := make([]float32, len(x))
			for r := 0; r < 6; r++ {
				for h := 0; h < 2; h++ {
					o, p := r*8+h*4, r%3
					Rope(want[o:o+4], x[o:o+4], cos[p*2:p*2+2], sin[p*2:p*2+2])
				}
			}
			return got, want
		}},
		{"attn-plain", attnCase(AttnConfig{B: 2, T: 7, H: 3, HD: 4, PerHead: true})},
		{"attn-gpt2", attnCase(AttnConfig{B: 3, T: 9, H: 2, HD: 6})},
		{"attn-rope-qknorm", attnCase(AttnConfig{B: 2, T: 7, H: 3, HD: 8, PerHead: true, RoPE: true, QKNorm: true})},
		{"attn-xga", attnCase(AttnConfig{B: 2, T: 7, H: 3, HD: 8, PerHead: true, RoPE: true, QKNorm: true, Gate: true, XSA: true})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, want := tc.run()
			assertClose(t, got, want, 1e-5)
		})
	}
}

func TestScalarFunctions(t *testing.T) {
	cases := []struct {
		name    string
		f       func(float32) float32
		x, want float64
	}{
		{"gelu-erf(1)", gelu, 1, 0.8413447460685429},
		{"gelu-erf(-2)", gelu, -2, -0.04550026389635842},
		{"silu(1)", silu, 1, 0.7310585786300049},
		{"relu(-1)", relu, -1, 0},
	}
	for _, tc := range cases {
		if got := tc.f(float32(tc.x)); math.Abs(float64(got)-tc.want) > 1e-6 {
			t.Errorf("%s = %g, want %g", tc.name, got, tc.want)
		}
	}
}

func TestRope(t *testing.T) {
	// hd=4: inv_freq = [1, 1/100]; position 3 rotates (x1,x2) pairs by 3 and 0.03 rad.
	cos, sin := RopeTables(4, 4)
	x := []float32{1, 2, 3, 4}
	y := make([]float32, 4)
	Rope(y, x, cos[3*2:4*2], sin[3*2:4*2])
	want := []float32{
		float32(1*math.Cos(3) + 3*math.Sin(3)), float32(2*math.Cos(0.03) + 4*math.Sin(0.03)),
		float32(-1*math.Sin(3) + 3*math.Cos(3)), float32(-2*math.Sin(0.03) + 4*math.Cos(0.03)),
	}
	assertClose(t, y, want, 1e-6)
}

func TestInputErrors(t *testing.T) {
	g := G.NewGraph()
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(5, 3), G.WithInit(G.Zeroes()))
	_, op, err := NewEmbedding(w, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]int32{{1}, {1, 5}, {-1, 0}} {
		if err := op.SetIDs(ids); err == nil {
			t.Errorf("SetIDs(%v) accepted", ids)
		}
	}
	if _, _, err := NewAttention(w, AttnConfig{B: 1, T: 5, H: 1, HD: 2, PerHead: true}); err == nil {
		t.Error("attention with a mismatched qkv shape accepted")
	}
}

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randSlice(rng *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * scale
	}
	return x
}

func prod(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}

// gradCheck builds out = build(inputs), a scalar loss (out itself when it is a
// scalar, otherwise sum(out*R) for a fixed random R), differentiates it with
// gorgonia.Grad through the ops' SymDiff and compares every input gradient
// element with a central finite difference of the same machine's loss.
func gradCheck(t *testing.T, shapes [][]int, build func(G.Nodes) (*G.Node, error)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	g := G.NewGraph()
	var in G.Nodes
	var data [][]float32
	for i, s := range shapes {
		d := randSlice(rng, prod(s), 1)
		data = append(data, d)
		v := tensor.New(tensor.WithShape(s...), tensor.WithBacking(d))
		in = append(in, G.NewTensor(g, tensor.Float32, len(s), G.WithShape(s...), G.WithValue(v), G.WithName(fmt.Sprintf("in%d", i))))
	}
	out, err := build(in)
	if err != nil {
		t.Fatal(err)
	}
	loss := out
	if !out.IsScalar() {
		r := tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(randSlice(rng, out.Shape().TotalSize(), 1)))
		rn := G.NewTensor(g, tensor.Float32, out.Dims(), G.WithShape(out.Shape()...), G.WithValue(r), G.WithName("R"))
		loss = G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	}
	grads, err := G.Grad(loss, in...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	run := func() float64 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		v, err := scalar(loss.Value())
		if err != nil {
			t.Fatal(err)
		}
		return float64(v)
	}
	run()
	var analytic [][]float32
	for _, gn := range grads {
		d, err := f32(gn.Value())
		if err != nil {
			t.Fatal(err)
		}
		analytic = append(analytic, append([]float32(nil), d...))
	}
	const eps = 1e-2
	for i, d := range data {
		for j := range d {
			x := d[j]
			d[j] = x + eps
			lp := run()
			d[j] = x - eps
			lm := run()
			d[j] = x
			fd := (lp - lm) / (2 * eps)
			an := float64(analytic[i][j])
			if math.Abs(fd-an) > 1e-2*math.Max(1, math.Abs(fd)) {
				t.Errorf("input %d element %d: analytic %g, finite difference %g", i, j, an, fd)
			}
		}
	}
}

func TestGradients(t *testing.T) {
	attn := func(c AttnConfig) func(G.Nodes) (*G.Node, error) {
		return func(in G.Nodes) (*G.Node, error) {
			y, _, err := NewAttention(in[0], c)
			return y, err
		}
	}
	base := AttnConfig{B: 2, T: 4, H: 2, HD: 4, PerHead: true}
	with := func(f func(*AttnConfig)) AttnConfig { c := base; f(&c); return c }
	cases := []struct {
		name   string
		shapes [][]int
		build  func(G.Nodes) (*G.Node, error)
	}{
		{"linear", [][]int{{3, 4}, {5, 4}}, func(in G.Nodes) (*G.Node, error) { return NewLinear(in[0], in[1], nil) }},
		{"linear-bias", [][]int{{3, 4}, {5, 4}, {5}}, func(in G.Nodes) (*G.Node, error) { return NewLinear(in[0], in[1], in[2]) }},
		{"add", [][]int{{3, 4}, {3, 4}}, func(in G.Nodes) (*G.Node, error) { return NewAdd(in[0], in[1]) }},
		{"rmsnorm", [][]int{{3, 6}}, func(in G.Nodes) (*G.Node, error) { return NewNorm(in[0], nil, nil, NormRMS, RMSEps) }},
		{"rmsnorm-w", [][]int{{3, 6}, {6}}, func(in G.Nodes) (*G.Node, error) { return NewNorm(in[0], in[1], nil, NormRMS, RMSEps) }},
		{"layernorm", [][]int{{3, 6}}, func(in G.Nodes) (*G.Node, error) { return NewNorm(in[0], nil, nil, NormLayer, LayerEps) }},
		{"layernorm-wb", [][]int{{3, 6}, {6}, {6}}, func(in G.Nodes) (*G.Node, error) { return NewNorm(in[0], in[1], in[2], NormLayer, LayerEps) }},
		{"gelu", [][]int{{3, 5}}, func(in G.Nodes) (*G.Node, error) { return NewAct(in[0], ActGELU) }},
		{"silu", [][]int{{3, 5}}, func(in G.Nodes) (*G.Node, error) { return NewAct(in[0], ActSiLU) }},
		{"gated-silu", [][]int{{3, 8}}, func(in G.Nodes) (*G.Node, error) { return NewGatedAct(in[0], ActSiLU) }},
		{"gated-gelu", [][]int{{3, 8}}, func(in G.Nodes) (*G.Node, error) { return NewGatedAct(in[0], ActGELU) }},
		{"embedding", [][]int{{5, 3}}, func(in G.Nodes) (*G.Node, error) {
			y, op, err := NewEmbedding(in[0], 4)
			if err == nil {
				err = op.SetIDs([]int32{1, 4, 1, 0})
			}
			return y, err
		}},
		{"linear-cross-entropy", [][]int{{5, 4}, {6, 4}}, func(in G.Nodes) (*G.Node, error) {
			y, op, err := NewLinearCrossEntropy(in[0], in[1])
			if err == nil {
				op.chunk = 2 // three chunks, the last partial
				err = op.SetTargets([]int32{0, 5, 2, 2, 3})
			}
			return y, err
		}},
		{"cross-entropy", [][]int{{4, 6}}, func(in G.Nodes) (*G.Node, error) {
			y, op, err := NewCrossEntropy(in[0])
			if err == nil {
				err = op.SetTargets([]int32{0, 5, 2, 2})
			}
			return y, err
		}},
		{"cross-entropy-in-place", [][]int{{4, 6}, {6, 6}}, func(in G.Nodes) (*G.Node, error) {
			logits, err := NewLinear(in[0], in[1], nil)
			if err != nil {
				return nil, err
			}
			y, op, err := NewCrossEntropy(logits)
			if err == nil {
				op.InPlace = true
				err = op.SetTargets([]int32{0, 5, 2, 2})
			}
			return y, err
		}},
		{"dropout", [][]int{{3, 5}}, func(in G.Nodes) (*G.Node, error) {
			y, op, err := NewDropout(in[0], 0.3, rand.New(rand.NewPCG(3, 4)))
			if err == nil {
				op.Frozen = true
			}
			return y, err
		}},
		{"rope", [][]int{{6, 8}}, func(in G.Nodes) (*G.Node, error) { return NewRoPE(in[0], 2, 3, 2, 4) }},
		{"attn-plain", [][]int{{8, 24}}, attn(base)},
		{"attn-gpt2-layout", [][]int{{8, 24}}, attn(with(func(c *AttnConfig) { c.PerHead = false }))},
		{"attn-rope", [][]int{{8, 24}}, attn(with(func(c *AttnConfig) { c.RoPE = true }))},
		{"attn-rope-qknorm", [][]int{{8, 24}}, attn(with(func(c *AttnConfig) { c.RoPE, c.QKNorm = true, true }))},
		{"attn-gate", [][]int{{8, 32}}, attn(with(func(c *AttnConfig) { c.Gate = true }))},
		{"attn-xsa", [][]int{{8, 24}}, attn(with(func(c *AttnConfig) { c.XSA = true }))},
		{"attn-xga-all", [][]int{{8, 32}}, attn(with(func(c *AttnConfig) { c.RoPE, c.QKNorm, c.Gate, c.XSA = true, true, true, true }))},
		{"attn-xga-all-gonum", [][]int{{8, 32}}, func(in G.Nodes) (*G.Node, error) {
			y, op, err := NewAttention(in[0], with(func(c *AttnConfig) { c.RoPE, c.QKNorm, c.Gate, c.XSA = true, true, true, true }))
			if err == nil {
				op.fma = false // the gonum tile kernels (what CPUs without AVX2/FMA run)
			}
			return y, err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { gradCheck(t, tc.shapes, tc.build) })
	}
}

package models

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ParamKind tells the optimiser how to treat a parameter.
type ParamKind int

// Parameter kinds.
const (
	// Matrix is a 2-D hidden weight: Muon-eligible and weight-decayed.
	Matrix ParamKind = iota
	// Embedding is an embedding, unembedding or position table: AdamW, decayed.
	Embedding
	// Vector is a gain or bias: AdamW without weight decay.
	Vector
)

// String names the kind.
func (k ParamKind) String() string {
	switch k {
	case Matrix:
		return "matrix"
	case Embedding:
		return "embedding"
	case Vector:
		return "vector"
	}
	return fmt.Sprintf("ParamKind(%d)", int(k))
}

// initKind is how a parameter is initialised.
type initKind int

const (
	initNormal  initKind = iota // N(0, scale)
	initUniform                 // U(-scale, scale)
	initOnes
	initZeros
)

// paramSpec declares one parameter: PyTorch name, shape, kind and init.
type paramSpec struct {
	name  string
	shape []int
	kind  ParamKind
	init  initKind
	scale float64
}

// paramSpecs lists a configuration's parameters in PyTorch registration
// order with their initialisation:
//
//   - gpt2 (nanoGPT): every Linear and embedding N(0, 0.02), every c_proj
//     weight N(0, 0.02/sqrt(2L)), biases 0, norm weights 1; an untied
//     lm_head.weight N(0, 0.02).
//   - other families (PyTorch defaults of the reference code): every Linear
//     U(-1/sqrt(in), 1/sqrt(in)); the tied embed.weight takes the unembed
//     Linear's init U(-1/sqrt(d), 1/sqrt(d)); an untied embed.weight is
//     nn.Embedding's N(0, 1) and unembed.weight the Linear init.
//   - learned positions when rope is off: transformer.wpe.weight (gpt2) or
//     wpe.weight (other families, our choice: N(0, 0.02) as nanoGPT's wpe,
//     added to the token embedding before the first norm).
func paramSpecs(c Config) ([]paramSpec, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.VocabSize <= 0 || c.BlockSize <= 0 {
		return nil, fmt.Errorf("vocab_size and block_size must be set (> 0), got %d and %d", c.VocabSize, c.BlockSize)
	}
	V, T, d, L := c.VocabSize, c.BlockSize, c.Width(), c.NLayer
	var s []paramSpec
	add := func(name string, kind ParamKind, ik initKind, scale float64, shape ...int) {
		s = append(s, paramSpec{name: name, shape: shape, kind: kind, init: ik, scale: scale})
	}
	lin := func(name string, out, in int) { add(name, Matrix, initUniform, 1/math.Sqrt(float64(in)), out, in) }
	if c.Family == FamilyGPT2 {
		const std = 0.02
		proj := std / math.Sqrt(float64(2*L))
		add("transformer.wte.weight", Embedding, initNormal, std, V, d)
		if !c.RoPE {
			add("transformer.wpe.weight", Embedding, initNormal, std, T, d)
		}
		norm := func(name string) {
			add(name+".weight", Vector, initOnes, 0, d)
			if c.Bias && c.Norm == "layer" {
				add(name+".bias", Vector, initZeros, 0, d)
			}
		}
		linear := func(name string, std float64, out, in int) {
			add(name+".weight", Matrix, initNormal, std, out, in)
			if c.Bias {
				add(name+".bias", Vector, initZeros, 0, out)
			}
		}
		for i := 0; i < L; i++ {
			p := fmt.Sprintf("transformer.h.%d.", i)
			norm(p + "ln_1")
			linear(p+"attn.c_attn", std, 3*d, d)
			linear(p+"attn.c_proj", proj, d, d)
			norm(p + "ln_2")
			linear(p+"mlp.c_fc", std, 4*d, d)
			linear(p+"mlp.c_proj", proj, d, 4*d)
		}
		norm("transformer.ln_f")
		if !c.TieEmbeddings {
			add("lm_head.weight", Embedding, initNormal, std, V, d)
		}
		return s, nil
	}
	if c.TieEmbeddings {
		add("embed.weight", Embedding, initUniform, 1/math.Sqrt(float64(d)), V, d)
	} else {
		add("embed.weight", Embedding, initNormal, 1, V, d)
	}
	if !c.RoPE {
		add("wpe.weight", Embedding, initNormal, 0.02, T, d)
	}
	H, hd := c.NHead, c.HeadDim()
	parts := 3
	if c.Gate {
		parts = 4
	}
	for i := 0; i < L; i++ {
		p := fmt.Sprintf("blocks.%d.", i)
		switch c.Family {
		case FamilyGPT2RoPESwiGLU:
			lin(p+"attn.qkv.weight", 3*d, d)
			lin(p+"attn.out.weight", d, d)
			lin(p+"swiglu.uv.weight", 8*d, d)
			lin(p+"swiglu.out.weight", d, 4*d)
		case FamilySilia:
			lin(p+"attn1.qkv.weight", 3*H*hd, d)
			lin(p+"attn1.out.weight", 2*d, H*hd)
			lin(p+"attn2.qkv.weight", 3*H*hd, d)
			lin(p+"attn2.out.weight", d, H*hd)
		case FamilySiliaXGA:
			dh := c.HiddenXGA()
			lin(p+"attn1.qkv.weight", parts*d, d)
			lin(p+"attn1.out.weight", 2*dh, d)
			lin(p+"attn2.qkv.weight", parts*d, dh)
			lin(p+"attn2.out.weight", d, d)
		}
	}
	if !c.TieEmbeddings {
		lin("unembed.weight", V, d)
		s[len(s)-1].kind = Embedding
	}
	return s, nil
}

// initValues fills each parameter from one seeded PCG stream, in order.
func initValues(specs []paramSpec, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 0x7469_6e79_7363_616c)) // "tinyscal"
	out := make([][]float32, len(specs))
	for i, s := range specs {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		v := make([]float32, n)
		for j := range v {
			switch s.init {
			case initNormal:
				v[j] = float32(rng.NormFloat64() * s.scale)
			case initUniform:
				v[j] = float32((2*rng.Float64() - 1) * s.scale)
			case initOnes:
				v[j] = 1
			}
		}
		out[i] = v
	}
	return out
}

package models

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// randomWeights fills StateDict(cfg) with seeded N(0, 0.5) values (tied
// matrices share one slice).
func infRandomWeights(cfg Config, seed uint64) []NamedTensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []NamedTensor
	tok, head := TiedNames(cfg.Family)
	var tokData []float32
	for _, s := range StateDict(cfg) {
		if cfg.TieEmbeddings && s.Name == head {
			out = append(out, NamedTensor{Name: s.Name, Shape: s.Shape, Data: tokData})
			continue
		}
		d := make([]float32, numel(s.Shape))
		for i := range d {
			d[i] = float32(rng.NormFloat64() * 0.5)
		}
		if s.Name == tok {
			tokData = d
		}
		out = append(out, NamedTensor{Name: s.Name, Shape: s.Shape, Data: d})
	}
	return out
}

func infTinyConfig(t *testing.T, family string, mod func(*Config)) Config {
	t.Helper()
	c, err := DefaultConfig(family)
	if err != nil {
		t.Fatal(err)
	}
	c.NEmbd, c.NHead, c.NLayer, c.VocabSize, c.BlockSize = 8, 2, 2, 11, 6
	if mod != nil {
		mod(&c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStateDictMatchesParamCounts(t *testing.T) {
	cases := []struct {
		name   string
		family string
		mod    func(*Config)
	}{
		{"gpt2", FamilyGPT2, nil},
		{"gpt2 no bias untied", FamilyGPT2, func(c *Config) { c.Bias, c.TieEmbeddings = false, false }},
		{"gpt2 rms rope", FamilyGPT2, func(c *Config) { c.Norm, c.RoPE = "rms", true }},
		{"gpt2-rope-swiglu", FamilyGPT2RoPESwiGLU, nil},
		{"gpt2-rope-swiglu learned pos", FamilyGPT2RoPESwiGLU, func(c *Config) { c.RoPE = false }},
		{"silia", FamilySilia, nil},
		{"silia untied", FamilySilia, func(c *Config) { c.TieEmbeddings = false }},
		{"silia-xga", FamilySiliaXGA, nil},
		{"silia-xga no gate", FamilySiliaXGA, func(c *Config) { c.Gate = false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := infTinyConfig(t, tc.family, tc.mod)
			tok, head := TiedNames(cfg.Family)
			var n int64
			names := map[string]bool{}
			for _, s := range StateDict(cfg) {
				if names[s.Name] {
					t.Errorf("duplicate name %q", s.Name)
				}
				names[s.Name] = true
				if cfg.TieEmbeddings && s.Name == head {
					continue
				}
				n += int64(numel(s.Shape))
			}
			if !names[tok] || !names[head] {
				t.Errorf("state dict lacks %q or %q", tok, head)
			}
			if total, _ := cfg.ParamCounts(); n != total {
				t.Errorf("state dict holds %d parameters, ParamCounts %d", n, total)
			}
		})
	}
}

func TestNewInferenceRejects(t *testing.T) {
	cfg := infTinyConfig(t, FamilySilia, nil)
	good := infRandomWeights(cfg, 1)
	drop := func(name string) []NamedTensor {
		var out []NamedTensor
		for _, w := range good {
			if w.Name != name {
				out = append(out, w)
			}
		}
		return out
	}
	edit := func(name string, f func(*NamedTensor)) []NamedTensor {
		out := slices.Clone(good)
		for i := range out {
			if out[i].Name == name {
				w := out[i]
				w.Data = slices.Clone(w.Data)
				w.Shape = slices.Clone(w.Shape)
				f(&w)
				out[i] = w
			}
		}
		return out
	}
	cases := []struct {
		name    string
		cfg     Config
		weights []NamedTensor
		want    string
	}{
		{"missing", cfg, drop("blocks.1.attn2.out.weight"), `missing weight "blocks.1.attn2.out.weight"`},
		{"shape", cfg, edit("blocks.0.attn1.qkv.weight", func(w *NamedTensor) { w.Shape[0], w.Shape[1] = w.Shape[1], w.Shape[0] }), "has shape"},
		{"data length", cfg, edit("blocks.0.attn1.qkv.weight", func(w *NamedTensor) { w.Data = w.Data[1:] }), "values, want"},
		{"unexpected", cfg, append(slices.Clone(good), NamedTensor{Name: "wpe.weight", Shape: []int{6, 8}, Data: make([]float32, 48)}), `unexpected weight "wpe.weight"`},
		{"duplicate", cfg, append(slices.Clone(good), good[1]), "given twice"},
		{"tied differ", cfg, edit("unembed.weight", func(w *NamedTensor) { w.Data[3]++ }), "differ at element 3"},
		{"no vocab", func() Config { c := cfg; c.VocabSize = 0; return c }(), good, "vocab_size and block_size must be > 0"},
		{"invalid", func() Config { c := cfg; c.Activation = "tanh"; return c }(), good, "activation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewInference(tc.cfg, tc.weights)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Either name of a tied matrix alone is enough.
	for _, name := range []string{"embed.weight", "unembed.weight"} {
		if _, err := NewInference(cfg, drop(name)); err != nil {
			t.Errorf("without %s: %v", name, err)
		}
	}
}

func TestTokenChecks(t *testing.T) {
	learned := infTinyConfig(t, FamilyGPT2, nil)
	rope := infTinyConfig(t, FamilySiliaXGA, nil)
	cases := []struct {
		name   string
		cfg    Config
		tokens []int32
		want   string // "" = no error
	}{
		{"ok", learned, []int32{1, 2, 3}, ""},
		{"empty", learned, nil, "empty"},
		{"negative", learned, []int32{1, -1}, "outside the vocabulary"},
		{"too big", learned, []int32{11}, "outside the vocabulary"},
		{"beyond block learned", learned, make([]int32, 7), "exceeds block_size 6"},
		{"beyond block rope", rope, make([]int32, 13), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inf, err := NewInference(tc.cfg, infRandomWeights(tc.cfg, 2))
			if err != nil {
				t.Fatal(err)
			}
			logits, err := inf.Logits(tc.tokens)
			if tc.want == "" {
				if err != nil || len(logits) != len(tc.tokens) || len(logits[0]) != tc.cfg.VocabSize {
					t.Errorf("Logits: %d rows, %v", len(logits), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	inf, _ := NewInference(learned, infRandomWeights(learned, 2))
	if _, err := inf.Loss([]int32{1, 2}, []int32{1}); err == nil {
		t.Error("Loss with mismatched lengths: no error")
	}
	if _, err := inf.Loss([]int32{1, 2}, []int32{1, 11}); err == nil {
		t.Error("Loss with a target outside the vocabulary: no error")
	}
}

// naiveGreedy is greedy decoding by full forwards of the (cropped) context.
func naiveGreedy(t *testing.T, inf *Inference, prompt []int32, n int) []int32 {
	seq := slices.Clone(prompt)
	var out []int32
	for range n {
		ctx := seq
		if inf.pos != nil && len(ctx) > inf.cfg.BlockSize {
			ctx = ctx[len(ctx)-inf.cfg.BlockSize:]
		}
		logits, err := inf.Logits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last := logits[len(logits)-1]
		best := 0
		for i, v := range last {
			if v > last[best] {
				best = i
			}
		}
		out = append(out, int32(best))
		seq = append(seq, int32(best))
	}
	return out
}

func TestGenerate(t *testing.T) {
	for _, family := range Families() {
		t.Run(family, func(t *testing.T) {
			cfg := infTinyConfig(t, family, nil)
			inf, err := NewInference(cfg, infRandomWeights(cfg, 3))
			if err != nil {
				t.Fatal(err)
			}
			prompt := []int32{1, 2, 3, 4}
			n := 9 // beyond the block size 6
			greedy := Generate(inf, prompt, n, 0, 0, rand.New(rand.NewPCG(1, 2)))
			if want := naiveGreedy(t, inf, prompt, n); !slices.Equal(greedy, want) {
				t.Errorf("greedy %v, full-forward greedy %v", greedy, want)
			}
			if top1 := Generate(inf, prompt, n, 0.8, 1, rand.New(rand.NewPCG(1, 2))); !slices.Equal(top1, greedy) {
				t.Errorf("top-k 1 %v, greedy %v", top1, greedy)
			}
			a := Generate(inf, prompt, 30, 1.5, 5, rand.New(rand.NewPCG(7, 7)))
			b := Generate(inf, prompt, 30, 1.5, 5, rand.New(rand.NewPCG(7, 7)))
			c := Generate(inf, prompt, 30, 1.5, 5, rand.New(rand.NewPCG(8, 7)))
			if !slices.Equal(a, b) {
				t.Errorf("same seed, different samples: %v vs %v", a, b)
			}
			if slices.Equal(a, c) {
				t.Errorf("different seeds gave identical 30-token samples %v", a)
			}
			if len(a) != 30 {
				t.Errorf("%d tokens, want 30", len(a))
			}
			if got := Generate(inf, nil, 3, 0, 0, nil); len(got) != 3 {
				t.Errorf("empty prompt: %v", got)
			}
			if got := Generate(inf, []int32{99}, 3, 0, 0, nil); got != nil {
				t.Errorf("invalid prompt: %v, want nil", got)
			}
		})
	}
}

func TestSampleTokenTopK(t *testing.T) {
	logits := []float64{0, 3, 1, 3, -2, 2}
	rng := rand.New(rand.NewPCG(1, 1))
	counts := map[int32]int{}
	for range 2000 {
		counts[sampleToken(logits, 1, 2, rng)]++
	}
	// top-2 threshold is 3: ties kept, so only ids 1 and 3.
	if len(counts) != 2 || counts[1] == 0 || counts[3] == 0 {
		t.Errorf("top-2 sample counts %v, want only ids 1 and 3", counts)
	}
	if got := sampleToken(logits, 0, 0, rng); got != 1 {
		t.Errorf("greedy = %d, want 1 (lowest id among ties)", got)
	}
}

func TestTiedAliasFromGolden(t *testing.T) {
	g := loadGolden(t, filepath.Join("testdata", "golden", "gpt2.safetensors"))
	full, err := NewInference(g.cfg, g.weights)
	if err != nil {
		t.Fatal(err)
	}
	var only []NamedTensor
	for _, w := range g.weights {
		if w.Name != "lm_head.weight" {
			only = append(only, w)
		}
	}
	one, err := NewInference(g.cfg, only)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := full.Logits(g.inputs[:g.seqLen])
	b, _ := one.Logits(g.inputs[:g.seqLen])
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatal("logits differ without the tied alias")
		}
	}
}

// BenchmarkInferenceLogits times the reference forward on the paper's
// shapes (V 8192, block 256), one 256-token sequence per op; tokens/s is
// reported as a metric.
func BenchmarkInferenceLogits(b *testing.B) {
	for _, family := range []string{FamilySilia, FamilyGPT2RoPESwiGLU} {
		b.Run(family, func(b *testing.B) {
			cfg, _ := DefaultConfig(family)
			cfg.NEmbd, cfg.NHead, cfg.NLayer, cfg.VocabSize, cfg.BlockSize = 64, 4, 2, 8192, 256
			inf, err := NewInference(cfg, infRandomWeights(cfg, 1))
			if err != nil {
				b.Fatal(err)
			}
			tokens := make([]int32, cfg.BlockSize)
			for i := range tokens {
				tokens[i] = int32(i * 31 % cfg.VocabSize)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := inf.Logits(tokens); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(tokens))/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

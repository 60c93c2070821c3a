package models

import (
	"fmt"
	"math"
	"strconv"
)

// Numerical constants of the spec (docs/architectures.md).
const (
	// RMSEps is the rmsnorm epsilon: float32 machine epsilon, what PyTorch
	// uses when eps=None.
	RMSEps = 1.1920929e-07
	// LayerNormEps is the LayerNorm epsilon (nanoGPT and F.layer_norm).
	LayerNormEps = 1e-5
	// XSAEps guards the value normalisation of silia-xga's exclusive step.
	XSAEps = 1e-12
	// RoPEBase is the rotary embedding base.
	RoPEBase = 10000.0
)

// Inference is a plain Go forward pass of every family and knob: float32
// weights, float64 arithmetic, positions fed in order through a key/value
// cache (all at once for Logits and Loss, one by one when generating).
// It is deliberately simple: it is the independent reference that the
// gorgonia training graph is tested against (models/golden_test.go matches
// it to PyTorch), and what sample and eval use.
//
// Knob semantics (the same as tools/torch_models.py):
//   - rope off: learned absolute positions added to the token embedding
//     (gpt2: transformer.wpe.weight; other families: wpe.weight, shape
//     (block_size, width)), before the first norm in the non-gpt2 families;
//   - qk_norm: parameter-free rmsnorm of q and k over hd, after RoPE;
//   - norm: gpt2 "layer" is nanoGPT's LayerNorm (weight, bias when bias),
//     gpt2 "rms" is rmsnorm times a learnable weight; the other families'
//     norms are parameter-free ("rms" eps RMSEps, "layer" eps LayerNormEps);
//   - activation: gpt2's MLP activation, or act in the gated u*act(v);
//     gelu is the exact erf GELU;
//   - tie_embeddings off: a separate output matrix (lm_head.weight or
//     unembed.weight);
//   - dropout is ignored (inference).
//
// An Inference is read-only after construction and safe for concurrent use.
type Inference struct {
	cfg Config
	// d is the residual width, hd the head dim.
	d, hd int
	// tok is the token embedding (V, d), head the output matrix (V, d)
	// (the same slice when tied); pos the learned positions (block, d) or nil.
	tok, head, pos []float32
	layers         []layer
	// lnF is gpt2's final norm (nil elsewhere).
	lnF *norm
	// invFreq are RoPE's inverse frequencies, hd/2 of them.
	invFreq []float64
}

// linear is an nn.Linear: weight (out, in), optional bias.
type linear struct {
	w, b    []float32
	in, out int
}

// applyRows returns W x + b for every row x of xs. Four rows share each
// pass over a weight row.
func (l *linear) applyRows(xs [][]float64) [][]float64 {
	ys := make([][]float64, len(xs))
	for t := range ys {
		ys[t] = make([]float64, l.out)
	}
	for o := 0; o < l.out; o++ {
		w := l.w[o*l.in : (o+1)*l.in]
		var b float64
		if l.b != nil {
			b = float64(l.b[o])
		}
		t := 0
		for ; t+4 <= len(xs); t += 4 {
			s0, s1, s2, s3 := dot4(w, xs[t], xs[t+1], xs[t+2], xs[t+3])
			ys[t][o], ys[t+1][o], ys[t+2][o], ys[t+3][o] = s0+b, s1+b, s2+b, s3+b
		}
		for ; t < len(xs); t++ {
			ys[t][o] = dot(w, xs[t]) + b
		}
	}
	return ys
}

// dot4 returns the dot products of w with four vectors.
func dot4(w []float32, x0, x1, x2, x3 []float64) (s0, s1, s2, s3 float64) {
	x0, x1, x2, x3 = x0[:len(w)], x1[:len(w)], x2[:len(w)], x3[:len(w)]
	for i, wf := range w {
		wi := float64(wf)
		s0 += wi * x0[i]
		s1 += wi * x1[i]
		s2 += wi * x2[i]
		s3 += wi * x3[i]
	}
	return
}

// mapRows returns f of every row.
func mapRows(xs [][]float64, f func([]float64) []float64) [][]float64 {
	out := make([][]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// addRows adds ys to xs row by row, in place.
func addRows(xs, ys [][]float64) {
	for i := range xs {
		addTo(xs[i], ys[i])
	}
}

// dot returns sum w[i]*x[i] in float64; four partial sums keep the
// floating-point pipeline busy (len(x) >= len(w)).
func dot(w []float32, x []float64) float64 {
	x = x[:len(w)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(w); i += 4 {
		s0 += float64(w[i]) * x[i]
		s1 += float64(w[i+1]) * x[i+1]
		s2 += float64(w[i+2]) * x[i+2]
		s3 += float64(w[i+3]) * x[i+3]
	}
	for ; i < len(w); i++ {
		s0 += float64(w[i]) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// norm is gpt2's learnable norm: LayerNorm (weight, optional bias) or
// rmsnorm times weight.
type norm struct {
	layer bool
	w, b  []float32
}

func (n *norm) apply(x []float64) []float64 {
	var y []float64
	if n.layer {
		y = layerNorm(x)
	} else {
		y = rmsNorm(x)
	}
	for i := range y {
		y[i] *= float64(n.w[i])
		if n.b != nil {
			y[i] += float64(n.b[i])
		}
	}
	return y
}

// attention is one causal multi-head attention layer with a fused qkv(g)
// projection. globalSplit is gpt2's layout ([q|k|v] each of width d, heads
// inside); otherwise each head's parts*hd slice is [q|k|v(|g)].
type attention struct {
	qkv, out    linear
	parts       int
	globalSplit bool
	gate, xsa   bool
}

// layer is one block; which fields are set depends on the family.
type layer struct {
	// gpt2
	ln1, ln2 *norm
	attn     *attention
	fc, proj *linear
	// gpt2-rope-swiglu
	uv, swOut *linear
	// silia, silia-xga (attn1 also in attn for gpt2-rope-swiglu)
	attn1, attn2 *attention
	// split is the width of u in the gated families.
	split int
}

// kvCache holds one attention layer's keys and values per position, each
// H*hd long (keys after RoPE and QK-norm).
type kvCache struct{ k, v [][]float64 }

// NewInference builds the reference forward pass of cfg from weights named as
// in PyTorch (docs/architectures.md). Every parameter must be present with
// its exact shape; with tied embeddings the output name (lm_head.weight or
// unembed.weight) may be given too, but must then equal the embedding.
// Unknown names are an error. VocabSize and BlockSize must be set.
func NewInference(cfg Config, weights []NamedTensor) (*Inference, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("inference: %w", err)
	}
	if cfg.VocabSize <= 0 || cfg.BlockSize <= 0 {
		return nil, fmt.Errorf("inference: vocab_size and block_size must be > 0, got %d and %d", cfg.VocabSize, cfg.BlockSize)
	}
	byName, err := resolveWeights(cfg, weights)
	if err != nil {
		return nil, fmt.Errorf("inference: %w", err)
	}
	tokName, headName := TiedNames(cfg.Family)
	inf := &Inference{cfg: cfg, d: cfg.Width(), hd: cfg.HeadDim()}
	inf.tok, inf.head = byName[tokName], byName[headName]
	if !cfg.RoPE {
		if cfg.Family == FamilyGPT2 {
			inf.pos = byName["transformer.wpe.weight"]
		} else {
			inf.pos = byName["wpe.weight"]
		}
	}
	if cfg.RoPE {
		half := inf.hd / 2
		inf.invFreq = make([]float64, half)
		for i := range inf.invFreq {
			inf.invFreq[i] = 1 / math.Pow(RoPEBase, float64(2*i)/float64(inf.hd))
		}
	}
	lin := func(name string, in, out int, bias bool) *linear {
		l := &linear{w: byName[name+".weight"], in: in, out: out}
		if bias {
			l.b = byName[name+".bias"]
		}
		return l
	}
	d, H, hd := inf.d, cfg.NHead, inf.hd
	for i := 0; i < cfg.NLayer; i++ {
		var ly layer
		switch cfg.Family {
		case FamilyGPT2:
			p := "transformer.h." + strconv.Itoa(i) + "."
			gnorm := func(name string) *norm {
				n := &norm{layer: cfg.Norm == "layer", w: byName[p+name+".weight"]}
				if n.layer && cfg.Bias {
					n.b = byName[p+name+".bias"]
				}
				return n
			}
			ly.ln1, ly.ln2 = gnorm("ln_1"), gnorm("ln_2")
			ly.attn = &attention{qkv: *lin(p+"attn.c_attn", d, 3*d, cfg.Bias), out: *lin(p+"attn.c_proj", d, d, cfg.Bias), parts: 3, globalSplit: true}
			ly.fc = lin(p+"mlp.c_fc", d, 4*d, cfg.Bias)
			ly.proj = lin(p+"mlp.c_proj", 4*d, d, cfg.Bias)
		case FamilyGPT2RoPESwiGLU:
			p := "blocks." + strconv.Itoa(i) + "."
			ly.attn = &attention{qkv: *lin(p+"attn.qkv", d, 3*d, false), out: *lin(p+"attn.out", d, d, false), parts: 3}
			ly.uv = lin(p+"swiglu.uv", d, 8*d, false)
			ly.swOut = lin(p+"swiglu.out", 4*d, d, false)
			ly.split = 4 * d
		case FamilySilia:
			p := "blocks." + strconv.Itoa(i) + "."
			C, HC := cfg.NEmbd, H*cfg.NEmbd
			ly.attn1 = &attention{qkv: *lin(p+"attn1.qkv", C, 3*HC, false), out: *lin(p+"attn1.out", HC, 2*C, false), parts: 3}
			ly.attn2 = &attention{qkv: *lin(p+"attn2.qkv", C, 3*HC, false), out: *lin(p+"attn2.out", HC, C, false), parts: 3}
			ly.split = C
		case FamilySiliaXGA:
			p := "blocks." + strconv.Itoa(i) + "."
			dh, parts := cfg.HiddenXGA(), xgaParts(cfg)
			ly.attn1 = &attention{qkv: *lin(p+"attn1.qkv", d, parts*H*hd, false), out: *lin(p+"attn1.out", H*hd, 2*dh, false), parts: parts, gate: cfg.Gate, xsa: cfg.XSA}
			ly.attn2 = &attention{qkv: *lin(p+"attn2.qkv", dh, parts*H*hd, false), out: *lin(p+"attn2.out", H*hd, d, false), parts: parts, gate: cfg.Gate, xsa: cfg.XSA}
			ly.split = dh
		}
		inf.layers = append(inf.layers, ly)
	}
	if cfg.Family == FamilyGPT2 {
		inf.lnF = &norm{layer: cfg.Norm == "layer", w: byName["transformer.ln_f.weight"]}
		if inf.lnF.layer && cfg.Bias {
			inf.lnF.b = byName["transformer.ln_f.bias"]
		}
	}
	return inf, nil
}

// resolveWeights checks weights against StateDict(cfg) and returns them by
// name, with both names of a tied matrix filled in (see NewInference).
func resolveWeights(cfg Config, weights []NamedTensor) (map[string][]float32, error) {
	specs := StateDict(cfg)
	want := make(map[string][]int, len(specs))
	for _, s := range specs {
		want[s.Name] = s.Shape
	}
	byName := make(map[string][]float32, len(weights))
	for _, w := range weights {
		shape, ok := want[w.Name]
		if !ok {
			return nil, fmt.Errorf("unexpected weight %q for family %s with these knobs", w.Name, cfg.Family)
		}
		if _, dup := byName[w.Name]; dup {
			return nil, fmt.Errorf("weight %q given twice", w.Name)
		}
		if !sameShape(w.Shape, shape) {
			return nil, fmt.Errorf("weight %q has shape %v, want %v", w.Name, w.Shape, shape)
		}
		if len(w.Data) != numel(shape) {
			return nil, fmt.Errorf("weight %q has %d values, want %d", w.Name, len(w.Data), numel(shape))
		}
		byName[w.Name] = w.Data
	}
	tokName, headName := TiedNames(cfg.Family)
	if cfg.TieEmbeddings {
		head, hasHead := byName[headName]
		tok, hasTok := byName[tokName]
		switch {
		case hasHead && hasTok:
			for i := range tok {
				if math.Float32bits(tok[i]) != math.Float32bits(head[i]) {
					return nil, fmt.Errorf("tied weights %q and %q differ at element %d", tokName, headName, i)
				}
			}
		case hasHead:
			byName[tokName] = head
		case hasTok:
			byName[headName] = tok
		}
	}
	for _, s := range specs {
		if _, ok := byName[s.Name]; !ok {
			return nil, fmt.Errorf("missing weight %q (shape %v)", s.Name, s.Shape)
		}
	}

	return byName, nil
}

// Config returns the model configuration.
func (inf *Inference) Config() Config { return inf.cfg }

// xgaParts is 4 ([q|k|v|g]) with the gate, else 3.
func xgaParts(cfg Config) int {
	if cfg.Gate {
		return 4
	}
	return 3
}

// TiedNames returns the PyTorch names of the token embedding and of the
// output matrix of a family (the two names of one matrix when tied).
func TiedNames(family string) (embedding, output string) {
	if family == FamilyGPT2 {
		return "transformer.wte.weight", "lm_head.weight"
	}
	return "embed.weight", "unembed.weight"
}

// StateDict lists the names and shapes of a PyTorch state_dict of cfg, in
// PyTorch's order. With tied embeddings both names of the shared matrix are
// listed (as PyTorch's state_dict does). VocabSize and, without RoPE,
// BlockSize must be set.
func StateDict(cfg Config) []NamedTensor {
	var out []NamedTensor
	add := func(name string, shape ...int) { out = append(out, NamedTensor{Name: name, Shape: shape}) }
	d, V, H, hd := cfg.Width(), cfg.VocabSize, cfg.NHead, cfg.HeadDim()
	tokName, headName := TiedNames(cfg.Family)
	if cfg.Family == FamilyGPT2 {
		add(tokName, V, d)
		if !cfg.RoPE {
			add("transformer.wpe.weight", cfg.BlockSize, d)
		}
		normP := func(p string) {
			add(p+".weight", d)
			if cfg.Norm == "layer" && cfg.Bias {
				add(p+".bias", d)
			}
		}
		lin := func(p string, in, o int) {
			add(p+".weight", o, in)
			if cfg.Bias {
				add(p+".bias", o)
			}
		}
		for i := 0; i < cfg.NLayer; i++ {
			p := "transformer.h." + strconv.Itoa(i) + "."
			normP(p + "ln_1")
			lin(p+"attn.c_attn", d, 3*d)
			lin(p+"attn.c_proj", d, d)
			normP(p + "ln_2")
			lin(p+"mlp.c_fc", d, 4*d)
			lin(p+"mlp.c_proj", 4*d, d)
		}
		normP("transformer.ln_f")
		add(headName, V, d)
		return out
	}
	add(tokName, V, d)
	if !cfg.RoPE {
		add("wpe.weight", cfg.BlockSize, d)
	}
	for i := 0; i < cfg.NLayer; i++ {
		p := "blocks." + strconv.Itoa(i) + "."
		switch cfg.Family {
		case FamilyGPT2RoPESwiGLU:
			add(p+"attn.qkv.weight", 3*d, d)
			add(p+"attn.out.weight", d, d)
			add(p+"swiglu.uv.weight", 8*d, d)
			add(p+"swiglu.out.weight", d, 4*d)
		case FamilySilia:
			C, HC := cfg.NEmbd, H*cfg.NEmbd
			add(p+"attn1.qkv.weight", 3*HC, C)
			add(p+"attn1.out.weight", 2*C, HC)
			add(p+"attn2.qkv.weight", 3*HC, C)
			add(p+"attn2.out.weight", C, HC)
		case FamilySiliaXGA:
			dh, parts := cfg.HiddenXGA(), xgaParts(cfg)
			add(p+"attn1.qkv.weight", parts*H*hd, d)
			add(p+"attn1.out.weight", 2*dh, H*hd)
			add(p+"attn2.qkv.weight", parts*H*hd, dh)
			add(p+"attn2.out.weight", d, H*hd)
		}
	}
	add(headName, V, d)
	return out
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// decoder runs the model one token at a time; it holds one sequence's
// key/value caches.
type decoder struct {
	inf    *Inference
	pos    int
	caches []kvCache
}

func (inf *Inference) newDecoder() *decoder {
	n := len(inf.layers)
	if inf.cfg.Family == FamilySilia || inf.cfg.Family == FamilySiliaXGA {
		n *= 2
	}
	return &decoder{inf: inf, caches: make([]kvCache, n)}
}

// forward feeds toks at the next positions and returns their logits, one
// row per token. The caller checks the token range and, without RoPE, the
// positions. Processing several tokens at once only batches the matrix
// products; row r attends to the cache up to its own position.
func (dc *decoder) forward(toks []int32) [][]float64 {
	inf := dc.inf
	d := inf.d
	xs := make([][]float64, len(toks))
	for r, tok := range toks {
		x := make([]float64, d)
		for i := range x {
			x[i] = float64(inf.tok[int(tok)*d+i])
		}
		if inf.pos != nil {
			for i := range x {
				x[i] += float64(inf.pos[(dc.pos+r)*d+i])
			}
		}
		xs[r] = x
	}
	gated := inf.cfg.Family != FamilyGPT2
	if gated {
		xs = mapRows(xs, inf.freeNorm)
	}
	glu := func(split int) func([]float64) []float64 {
		return func(a []float64) []float64 { return inf.glu(a, split) }
	}
	c := 0
	for li := range inf.layers {
		ly := &inf.layers[li]
		switch inf.cfg.Family {
		case FamilyGPT2:
			addRows(xs, dc.attend(ly.attn, mapRows(xs, ly.ln1.apply), &dc.caches[c]))
			c++
			h := ly.fc.applyRows(mapRows(xs, ly.ln2.apply))
			for _, row := range h {
				for i := range row {
					row[i] = activate(inf.cfg.Activation, row[i])
				}
			}
			addRows(xs, ly.proj.applyRows(h))
		case FamilyGPT2RoPESwiGLU:
			addRows(xs, dc.attend(ly.attn, mapRows(xs, inf.freeNorm), &dc.caches[c]))
			c++
			uv := ly.uv.applyRows(mapRows(xs, inf.freeNorm))
			addRows(xs, ly.swOut.applyRows(mapRows(uv, glu(ly.split))))
		case FamilySilia, FamilySiliaXGA:
			a := dc.attend(ly.attn1, mapRows(xs, inf.freeNorm), &dc.caches[c])
			addRows(xs, dc.attend(ly.attn2, mapRows(a, glu(ly.split)), &dc.caches[c+1]))
			c += 2
		}
	}
	if gated {
		xs = mapRows(xs, inf.freeNorm)
	} else {
		xs = mapRows(xs, inf.lnF.apply)
	}
	dc.pos += len(toks)
	head := linear{w: inf.head, in: d, out: inf.cfg.VocabSize}
	return head.applyRows(xs)
}

// attend runs attention layer a on the rows xs at the decoder's next
// positions, appending their keys and values to the cache first.
func (dc *decoder) attend(a *attention, xs [][]float64, cache *kvCache) [][]float64 {
	inf := dc.inf
	H, hd := inf.cfg.NHead, inf.hd
	base := len(cache.k)
	ps := a.qkv.applyRows(xs)
	qs := make([][]float64, len(xs))
	gs := make([][]float64, len(xs))
	for r, p := range ps {
		q := make([]float64, H*hd)
		k := make([]float64, H*hd)
		v := make([]float64, H*hd)
		var g []float64
		if a.gate {
			g = make([]float64, H*hd)
		}
		for h := 0; h < H; h++ {
			for j := 0; j < hd; j++ {
				if a.globalSplit {
					W := H * hd
					q[h*hd+j] = p[h*hd+j]
					k[h*hd+j] = p[W+h*hd+j]
					v[h*hd+j] = p[2*W+h*hd+j]
				} else {
					off := h * a.parts * hd
					q[h*hd+j] = p[off+j]
					k[h*hd+j] = p[off+hd+j]
					v[h*hd+j] = p[off+2*hd+j]
					if a.gate {
						g[h*hd+j] = p[off+3*hd+j]
					}
				}
			}
			qh, kh := q[h*hd:(h+1)*hd], k[h*hd:(h+1)*hd]
			if inf.cfg.RoPE {
				inf.rope(qh, base+r)
				inf.rope(kh, base+r)
			}
			if inf.cfg.QKNorm {
				copy(qh, rmsNorm(qh))
				copy(kh, rmsNorm(kh))
			}
		}
		cache.k = append(cache.k, k)
		cache.v = append(cache.v, v)
		qs[r], gs[r] = q, g
	}
	ys := make([][]float64, len(xs))
	scale := 1 / math.Sqrt(float64(hd))
	for r := range xs {
		n := base + r + 1 // causal: positions 0..base+r
		q, g, v := qs[r], gs[r], cache.v[base+r]
		y := make([]float64, H*hd)
		scores := make([]float64, n)
		for h := 0; h < H; h++ {
			lo, hi := h*hd, (h+1)*hd
			mx := math.Inf(-1)
			for t := 0; t < n; t++ {
				var s float64
				kt := cache.k[t][lo:hi]
				for j, qv := range q[lo:hi] {
					s += qv * kt[j]
				}
				scores[t] = s * scale
				mx = math.Max(mx, scores[t])
			}
			var sum float64
			for t := range scores {
				scores[t] = math.Exp(scores[t] - mx)
				sum += scores[t]
			}
			yh := y[lo:hi]
			for t := 0; t < n; t++ {
				w := scores[t] / sum
				for j, vv := range cache.v[t][lo:hi] {
					yh[j] += w * vv
				}
			}
			if a.gate {
				for j := range yh {
					yh[j] *= sigmoid(g[lo+j])
				}
			}
			if a.xsa {
				vh := v[lo:hi]
				var nrm float64
				for _, vv := range vh {
					nrm += vv * vv
				}
				nrm = math.Max(math.Sqrt(nrm), XSAEps)
				var dt float64
				for j := range yh {
					dt += yh[j] * vh[j] / nrm
				}
				for j := range yh {
					yh[j] -= dt * vh[j] / nrm
				}
			}
		}
		ys[r] = y
	}
	return a.out.applyRows(ys)
}

// rope rotates one head vector in place at position pos (rotate-half form of
// the spec: y = [x1 cos + x2 sin, -x1 sin + x2 cos]).
func (inf *Inference) rope(x []float64, pos int) {
	half := len(x) / 2
	for i := 0; i < half; i++ {
		s, c := math.Sincos(float64(pos) * inf.invFreq[i])
		x1, x2 := x[i], x[i+half]
		x[i] = x1*c + x2*s
		x[i+half] = -x1*s + x2*c
	}
}

// freeNorm is the parameter-free norm of the non-gpt2 families.
func (inf *Inference) freeNorm(x []float64) []float64 {
	if inf.cfg.Norm == "layer" {
		return layerNorm(x)
	}
	return rmsNorm(x)
}

// glu returns u * act(v) where u = a[:split], v = a[split:].
func (inf *Inference) glu(a []float64, split int) []float64 {
	h := make([]float64, split)
	for i := range h {
		h[i] = a[i] * activate(inf.cfg.Activation, a[split+i])
	}
	return h
}

// rmsNorm returns x / sqrt(mean(x^2) + RMSEps).
func rmsNorm(x []float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+RMSEps)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v * r
	}
	return y
}

// layerNorm returns (x - mean) / sqrt(var + LayerNormEps) (biased variance).
func layerNorm(x []float64) []float64 {
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	var vr float64
	for _, v := range x {
		vr += (v - m) * (v - m)
	}
	vr /= float64(len(x))
	r := 1 / math.Sqrt(vr+LayerNormEps)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = (v - m) * r
	}
	return y
}

func activate(kind string, x float64) float64 {
	switch kind {
	case "gelu":
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	case "relu":
		return math.Max(x, 0)
	default: // silu (Validate allows nothing else)
		return x * sigmoid(x)
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func addTo(x, y []float64) {
	for i := range x {
		x[i] += y[i]
	}
}

// checkTokens verifies a sequence is non-empty, in the vocabulary and, for
// learned positions, no longer than the block size.
func (inf *Inference) checkTokens(tokens []int32) error {
	if len(tokens) == 0 {
		return fmt.Errorf("empty token sequence")
	}
	if inf.pos != nil && len(tokens) > inf.cfg.BlockSize {
		return fmt.Errorf("sequence of %d tokens exceeds block_size %d (learned positions)", len(tokens), inf.cfg.BlockSize)
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= inf.cfg.VocabSize {
			return fmt.Errorf("token %d at position %d outside the vocabulary [0, %d)", t, i, inf.cfg.VocabSize)
		}
	}
	return nil
}

// Logits returns the logits (T rows of V) of one sequence. T may exceed the
// block size only for RoPE models (which then run beyond their training
// length).
func (inf *Inference) Logits(tokens []int32) ([][]float32, error) {
	if err := inf.checkTokens(tokens); err != nil {
		return nil, fmt.Errorf("logits: %w", err)
	}
	rows := inf.newDecoder().forward(tokens)
	out := make([][]float32, len(rows))
	for t, l := range rows {
		row := make([]float32, len(l))
		for i, v := range l {
			row[i] = float32(v)
		}
		out[t] = row
	}
	return out, nil
}

// Loss returns the mean cross-entropy (nats per token) of predicting
// targets[t] after inputs[:t+1], for one sequence.
func (inf *Inference) Loss(inputs, targets []int32) (float64, error) {
	if len(inputs) != len(targets) {
		return 0, fmt.Errorf("loss: %d inputs but %d targets", len(inputs), len(targets))
	}
	if err := inf.checkTokens(inputs); err != nil {
		return 0, fmt.Errorf("loss: inputs: %w", err)
	}
	for i, t := range targets {
		if t < 0 || int(t) >= inf.cfg.VocabSize {
			return 0, fmt.Errorf("loss: target %d at position %d outside the vocabulary [0, %d)", t, i, inf.cfg.VocabSize)
		}
	}
	var total float64
	for t, logits := range inf.newDecoder().forward(inputs) {
		total += crossEntropy(logits, int(targets[t]))
	}
	return total / float64(len(inputs)), nil
}

// crossEntropy is -log softmax(logits)[target].
func crossEntropy(logits []float64, target int) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, v)
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s) - logits[target]
}

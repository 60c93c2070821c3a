package models

import (
	"fmt"
	"math/rand/v2"

	"github.com/tinyscale/tinyscale/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one trainable parameter of a Trainer.
type Param struct {
	// Name is the PyTorch parameter name of docs/architectures.md.
	Name string
	// Shape is PyTorch's shape (nn.Linear weights are (out, in)).
	Shape []int
	// Kind tells the optimiser how to treat it.
	Kind ParamKind

	value *tensor.Dense
	grad  *G.Node
}

// Value returns the parameter's data; the optimiser updates it in place and
// the next Step sees the update (gorgonia reads this very slice).
func (p *Param) Value() []float32 { return p.value.Float32s() }

// Grad returns the gradient of the mean loss computed by the last Step (nil
// before the first Step). The slice belongs to the trainer; it is rewritten
// by the next Step.
func (p *Param) Grad() []float32 {
	if p.grad == nil || p.grad.Value() == nil {
		return nil
	}
	if d, ok := p.grad.Value().(*tensor.Dense); ok && d.Dtype() == tensor.Float32 {
		return d.Float32s()
	}
	d, _ := p.grad.Value().Data().([]float32)
	return d
}

// Trainer is the gorgonia training graph of one model for batches of
// (batch, cfg.BlockSize) tokens. It is built and compiled once (one
// TapeMachine for forward+backward, one for the forward part alone) and
// reused every step. Every op is a tinyscale/ops op that owns its output
// buffers, so TapeMachine.Reset (which only drops its register references)
// frees nothing and a step allocates no tensors in steady state; gorgonia's
// own gradient-accumulation Adds run in place. The parameters' data are the
// very slices the graph reads. A Trainer is not safe for concurrent use.
type Trainer struct {
	cfg    Config
	batch  int
	seed   uint64
	params []*Param
	byName map[string]*Param
	train  *graph
	pcg    *rand.PCG
	step   uint64
}

// graph is the compiled gorgonia training graph: vm runs forward and
// backward, fwd only the forward part (same ops, same buffers).
type graph struct {
	g        *G.ExprGraph
	vm       G.VM
	fwd      G.VM
	tokens   *ops.Embedding
	head     *ops.LinearCrossEntropy // output head + loss, fused
	dropouts []*ops.Dropout
}

// NewTrainer builds the training graph of cfg for batches of batch
// sequences of cfg.BlockSize tokens, with parameters initialised from seed.
func NewTrainer(cfg Config, batch int, seed uint64) (*Trainer, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("batch must be > 0, got %d", batch)
	}
	if _, err := ops.CPU(); err != nil {
		return nil, fmt.Errorf("new trainer: %w", err)
	}
	specs, err := paramSpecs(cfg)
	if err != nil {
		return nil, fmt.Errorf("new trainer: %w", err)
	}
	t := &Trainer{cfg: cfg, batch: batch, seed: seed, byName: map[string]*Param{}, pcg: rand.NewPCG(seed, 0)}
	for i, v := range initValues(specs, seed) {
		s := specs[i]
		p := &Param{Name: s.name, Shape: append([]int(nil), s.shape...), Kind: s.kind,
			value: tensor.New(tensor.WithShape(s.shape...), tensor.WithBacking(v))}
		t.params = append(t.params, p)
		t.byName[p.Name] = p
	}
	if t.train, err = t.build(); err != nil {
		return nil, fmt.Errorf("new trainer (%s): %w", cfg.Family, err)
	}
	return t, nil
}

// CPUKernels names the CPU kernel class the ops run in this process
// ("generic", "avx2" or "avx512", forced with $TINYSCALE_CPU), for logs and
// benchmark reports; the error is that of a TINYSCALE_CPU value that cannot
// be honoured (NewTrainer returns it too).
func CPUKernels() (string, error) {
	k, err := ops.CPU()
	return k.String(), err
}

// Config returns the model configuration.
func (t *Trainer) Config() Config { return t.cfg }

// Batch returns the number of sequences per step.
func (t *Trainer) Batch() int { return t.batch }

// Params returns the parameters in PyTorch registration order.
func (t *Trainer) Params() []*Param { return t.params }

// SetStep sets the step counter that seeds dropout masks (mask of step s is
// drawn from PCG(seed, s)); a resumed run sets it to the checkpoint's step
// so its masks equal those of an uninterrupted run.
func (t *Trainer) SetStep(step uint64) { t.step = step }

// Step runs forward and backward on one batch: inputs and targets are
// batch*BlockSize row-major token ids. It returns the mean cross-entropy and
// leaves the gradients in Params()[i].Grad().
func (t *Trainer) Step(inputs, targets []int32) (float32, error) {
	t.pcg.Seed(t.seed^0x64726f70, t.step) // "drop"
	loss, err := t.train.run(inputs, targets)
	if err != nil {
		return 0, fmt.Errorf("train step: %w", err)
	}
	t.step++
	return loss, nil
}

// Loss runs the forward pass only (no dropout) on batch*BlockSize inputs and
// targets and returns the mean cross-entropy. It reuses the training graph's
// forward ops and buffers (no second copy of the activations) and does not
// touch the gradients of the last Step.
func (t *Trainer) Loss(inputs, targets []int32) (float32, error) {
	for _, d := range t.train.dropouts {
		d.Training = false
	}
	t.train.head.Training = false // loss only: no head gradients
	loss, err := t.train.runVM(t.train.fwd, inputs, targets)
	t.train.head.Training = true
	for _, d := range t.train.dropouts {
		d.Training = true
	}
	if err != nil {
		return 0, fmt.Errorf("eval loss: %w", err)
	}
	return loss, nil
}

// Weights returns a copy of every parameter, in Params() order.
func (t *Trainer) Weights() []NamedTensor {
	out := make([]NamedTensor, len(t.params))
	for i, p := range t.params {
		out[i] = NamedTensor{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), p.Value()...)}
	}
	return out
}

// SetWeights copies a full set of parameters (from Weights or a checkpoint)
// into the trainer. Every parameter must be present exactly once with its
// shape; unknown names are an error.
func (t *Trainer) SetWeights(ws []NamedTensor) error {
	seen := map[string]bool{}
	for _, w := range ws {
		p, ok := t.byName[w.Name]
		if !ok {
			return fmt.Errorf("set weights: unknown parameter %q for family %s", w.Name, t.cfg.Family)
		}
		if seen[w.Name] {
			return fmt.Errorf("set weights: parameter %q given twice", w.Name)
		}
		seen[w.Name] = true
		if !equalInts(w.Shape, p.Shape) || len(w.Data) != len(p.Value()) {
			return fmt.Errorf("set weights: %q has shape %v (%d values), want %v", w.Name, w.Shape, len(w.Data), p.Shape)
		}
	}
	for _, p := range t.params {
		if !seen[p.Name] {
			return fmt.Errorf("set weights: parameter %q missing", p.Name)
		}
	}
	for _, w := range ws {
		copy(t.byName[w.Name].Value(), w.Data)
	}
	return nil
}

func equalInts(a, b []int) bool {
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

func (gr *graph) run(inputs, targets []int32) (float32, error) {
	return gr.runVM(gr.vm, inputs, targets)
}

func (gr *graph) runVM(vm G.VM, inputs, targets []int32) (float32, error) {
	if err := gr.tokens.SetIDs(inputs); err != nil {
		return 0, err
	}
	if err := gr.head.SetTargets(targets); err != nil {
		return 0, err
	}
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		return 0, err
	}
	return gr.head.Loss(), nil
}

// build constructs and compiles the training graph over the parameters.
func (t *Trainer) build() (gr *graph, err error) {
	b := &builder{cfg: t.cfg, B: t.batch, T: t.cfg.BlockSize, N: t.batch * t.cfg.BlockSize,
		g: G.NewGraph(), t: t, nodes: map[string]*G.Node{}, rng: rand.New(t.pcg)}
	gr = &graph{g: b.g}
	b.gr = gr
	var loss *G.Node
	if t.cfg.Family == FamilyGPT2 {
		loss = b.gpt2()
	} else {
		loss = b.gated()
	}
	if b.err != nil {
		return nil, b.err
	}
	wrt := make(G.Nodes, len(t.params))
	for i, p := range t.params {
		wrt[i] = b.nodes[p.Name]
		if wrt[i] == nil {
			return nil, fmt.Errorf("parameter %s is not used by the graph", p.Name)
		}
	}
	// The forward program is compiled before the gradient nodes exist.
	prog, locMap, err := G.CompileFunction(b.g, wrt, G.Nodes{loss})
	if err != nil {
		return nil, fmt.Errorf("compile forward: %w", err)
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("gradients: %w", err)
	}
	for i, p := range t.params {
		p.grad = grads[i]
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compile graph: %v", r)
		}
	}()
	gr.fwd = G.NewTapeMachine(b.g, G.WithPrecompiled(prog, locMap))
	gr.vm = G.NewTapeMachine(b.g)
	return gr, nil
}

// builder assembles a graph; the first error sticks and later calls no-op.
type builder struct {
	cfg     Config
	B, T, N int
	g       *G.ExprGraph
	t       *Trainer
	nodes   map[string]*G.Node
	rng     *rand.Rand
	gr      *graph
	err     error
}

func (b *builder) fail(err error, what string) *G.Node {
	if b.err == nil && err != nil {
		b.err = fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// p returns the graph node of a parameter, bound to the parameter's data.
func (b *builder) p(name string) *G.Node {
	if b.err != nil {
		return nil
	}
	if n, ok := b.nodes[name]; ok {
		return n
	}
	par, ok := b.t.byName[name]
	if !ok {
		return b.fail(fmt.Errorf("no parameter %q", name), "graph")
	}
	n := G.NewTensor(b.g, tensor.Float32, len(par.Shape), G.WithShape(par.Shape...), G.WithName(name), G.WithValue(par.value))
	b.nodes[name] = n
	return n
}

// has reports whether the configuration has a parameter.
func (b *builder) has(name string) bool { _, ok := b.t.byName[name]; return ok }

// linear is x W^T (+ bias when the parameter name+".bias" exists).
func (b *builder) linear(x *G.Node, name string) *G.Node {
	w := b.p(name + ".weight")
	var bias *G.Node
	if b.has(name + ".bias") {
		bias = b.p(name + ".bias")
	}
	if b.err != nil {
		return nil
	}
	y, err := ops.NewLinear(x, w, bias)
	if err != nil {
		return b.fail(err, name)
	}
	return y
}

// linearW is x W^T for a bare weight name.
func (b *builder) linearW(x *G.Node, weight string) *G.Node {
	w := b.p(weight)
	if b.err != nil {
		return nil
	}
	y, err := ops.NewLinear(x, w, nil)
	if err != nil {
		return b.fail(err, weight)
	}
	return y
}

// norm applies cfg.Norm (RMS eps 1.19e-7 or LayerNorm eps 1e-5) with the
// named weight/bias when the configuration has them.
func (b *builder) norm(x *G.Node, name string) *G.Node {
	if b.err != nil {
		return nil
	}
	var w, bias *G.Node
	if name != "" && b.has(name+".weight") {
		w = b.p(name + ".weight")
	}
	if name != "" && b.has(name+".bias") {
		bias = b.p(name + ".bias")
	}
	kind, eps := ops.NormRMS, float32(ops.RMSEps)
	if b.cfg.Norm == "layer" {
		kind, eps = ops.NormLayer, ops.LayerEps
	}
	y, err := ops.NewNorm(x, w, bias, kind, eps)
	if err != nil {
		return b.fail(err, "norm "+name)
	}
	return y
}

func (b *builder) add(x, y *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	z, err := ops.NewAdd(x, y)
	if err != nil {
		return b.fail(err, "residual")
	}
	return z
}

// attnConfig is the attention configuration for this model.
func (b *builder) attnConfig() ops.AttnConfig {
	c := b.cfg
	return ops.AttnConfig{B: b.B, T: b.T, H: c.NHead, HD: c.HeadDim(), PerHead: c.Family != FamilyGPT2,
		RoPE: c.RoPE, QKNorm: c.QKNorm, Gate: c.Gate, XSA: c.XSA}
}

func (b *builder) attention(qkv *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	y, _, err := ops.NewAttention(qkv, b.attnConfig())
	if err != nil {
		return b.fail(err, "attention")
	}
	return y
}

// embed looks the batch's tokens up in table (and adds learned positions
// from pos when non-empty).
func (b *builder) embed(table, pos string) *G.Node {
	w := b.p(table)
	if b.err != nil {
		return nil
	}
	x, op, err := ops.NewEmbedding(w, b.N)
	if err != nil {
		return b.fail(err, table)
	}
	b.gr.tokens = op
	if pos == "" {
		return x
	}
	pw := b.p(pos)
	if b.err != nil {
		return nil
	}
	px, pop, err := ops.NewEmbedding(pw, b.N)
	if err != nil {
		return b.fail(err, pos)
	}
	ids := make([]int32, b.N)
	for i := range ids {
		ids[i] = int32(i % b.T)
	}
	if err := pop.SetIDs(ids); err != nil {
		return b.fail(err, pos)
	}
	return b.add(x, px)
}

// dropout applies the configured dropout (switched off by Loss).
func (b *builder) dropout(x *G.Node) *G.Node {
	if b.err != nil || b.cfg.Dropout == 0 {
		return x
	}
	y, op, err := ops.NewDropout(x, b.cfg.Dropout, b.rng)
	if err != nil {
		return b.fail(err, "dropout")
	}
	b.gr.dropouts = append(b.gr.dropouts, op)
	return y
}

// loss is the output head (the tied table or the untied head) and the mean
// cross-entropy in one fused op: the (B*T, V) logits are never
// materialised (ops.LinearCrossEntropy). It returns the scalar loss node.
func (b *builder) loss(x *G.Node, tied, untied string) *G.Node {
	name := untied
	if b.cfg.TieEmbeddings {
		name = tied
	}
	w := b.p(name)
	if b.err != nil {
		return nil
	}
	y, op, err := ops.NewLinearCrossEntropy(x, w)
	if err != nil {
		return b.fail(err, "output head "+name)
	}
	b.gr.head = op
	return y
}

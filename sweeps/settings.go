package sweeps

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// Keys that defaults:, an experiment and a sweep may set (the run settings).
var settingKeys = []string{"data", "tokenizer", "block_size", "batch_size", "grad_accum",
	"optimizer", "budget", "eval", "checkpoint", "seed", "model"}

// Keys only an experiment (or its sweep) may set: the match targets.
var targetKeys = []string{"params", "flops"}

// Keys that describe an experiment rather than set a run setting.
var experimentKeys = []string{"name", "models", "pair", "match", "sweep", "zip", "reference"}

var (
	optimizerNames  = []string{"adamw", "muon"}
	scheduleNames   = []string{"cosine", "wsd", "constant"}
	budgetKeys      = []string{BudgetSteps, BudgetTokens, BudgetFlops, BudgetSeconds}
	optimizerKeys   = []string{"name", "lr", "min_lr", "warmup", "schedule", "cooldown_frac", "betas", "eps", "weight_decay", "grad_clip", "momentum"}
	evalKeys        = []string{"every", "batches", "final_batches"}
	checkpointKeys  = []string{"every", "keep"}
	tokenizerKeys   = []string{"kind", "vocab_size"}
	modelKeys       = []string{"n_embd", "n_head", "n_layer", "rope", "qk_norm", "gate", "xsa", "activation", "tie_embeddings", "norm", "dropout", "bias"}
	modelEntryKeys  = append([]string{"family"}, modelKeys...)
	activationNames = []string{"silu", "gelu", "relu"}
	normNames       = []string{"rms", "layer"}
)

// Built-in defaults, used for every key neither defaults: nor the experiment sets.
const (
	defaultDataset = "stories"
	defaultNHead   = 4
	defaultNLayer  = 2
)

// settings is a run's configuration while layers (built-ins, defaults:, the
// experiment, the sweep point) are applied on top of each other.
type settings struct {
	data       string
	dataNode   *yaml.Node
	tok        tokenizer.Spec
	blockSize  int
	batchSize  int
	gradAccum  int
	opt        Optimizer
	budget     Budget
	budgetNode *yaml.Node
	eval       Eval
	ckpt       Checkpoint
	seed       uint64
	// modelLayers are model: mappings from defaults: and the experiment,
	// applied before a models: entry; sweepModel are model.* sweep values,
	// applied after it.
	modelLayers []*yaml.Node
	sweepModel  []*yaml.Node
	// targets for match:, with where they were set.
	params, flops         float64
	paramsNode, flopsNode *yaml.Node
}

// builtinSettings are the defaults of every run.
func builtinSettings() settings {
	return settings{
		data:      defaultDataset,
		tok:       tokenizer.Spec{}, // char, or ids for nanogpt data (data.Spec.TokenizerDefaults)
		blockSize: 64,
		batchSize: 8,
		gradAccum: 1,
		opt: Optimizer{Name: "adamw", LR: 3e-3, MinLR: 3e-4, Warmup: 0, Schedule: "cosine", CooldownFrac: 0.4,
			Betas: [2]float64{0.9, 0.95}, Eps: 1e-10, WeightDecay: 0.1, GradClip: 1.0, Momentum: 0.95},
		eval: Eval{Every: 100, Batches: 8, FinalBatches: 32},
		ckpt: Checkpoint{Every: 100, Keep: 2},
		seed: 1,
	}
}

// clone copies s so that layers applied to the copy do not leak back.
func (s settings) clone() settings {
	s.modelLayers = slices.Clip(s.modelLayers)
	s.sweepModel = slices.Clip(s.sweepModel)
	return s
}

// apply sets every key of the mapping n on s. what names n in errors;
// allowed lists the keys n may hold (keys in skip belong to the caller);
// inSweep routes model keys after the models: entry.
func (d *dec) apply(s *settings, n *yaml.Node, what string, allowed, skip []string, inSweep bool, datasets map[string]*dataset) error {
	ps, err := d.pairs(n, what)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if slices.Contains(skip, p.key) {
			continue
		}
		if !slices.Contains(allowed, p.key) {
			return d.unknownKey(p, what, append(slices.Clip(allowed), skip...))
		}
		if err := d.applyKey(s, p, inSweep, datasets); err != nil {
			return err
		}
	}
	return nil
}

// applyKey sets one top-level setting.
func (d *dec) applyKey(s *settings, p pair, inSweep bool, datasets map[string]*dataset) error {
	var err error
	switch p.key {
	case "data":
		var name string
		if name, err = d.str(p.v, "data"); err != nil {
			return fmt.Errorf("%w (a dataset name: %s)", err, strings.Join(datasetNames(datasets), ", "))
		}
		if _, ok := datasets[name]; !ok {
			return d.errf(p.v, "data: unknown dataset %q (defined under datasets: %s)", name, strings.Join(datasetNames(datasets), ", "))
		}
		s.data, s.dataNode = name, p.v
	case "tokenizer":
		err = d.applyTokenizer(&s.tok, p.v)
	case "block_size":
		s.blockSize, err = d.boundedCount(p.v, "block_size", 1, 1<<20)
	case "batch_size":
		s.batchSize, err = d.boundedCount(p.v, "batch_size", 1, 1<<20)
	case "grad_accum":
		s.gradAccum, err = d.boundedCount(p.v, "grad_accum", 1, 1<<20)
	case "optimizer":
		err = d.applyOptimizer(&s.opt, p.v)
	case "budget":
		s.budget, err = d.budget(p.v)
		s.budgetNode = p.v
	case "eval":
		err = d.applyEval(&s.eval, p.v)
	case "checkpoint":
		err = d.applyCheckpoint(&s.ckpt, p.v)
	case "seed":
		var v int64
		v, err = d.count(p.v, "seed", 0)
		s.seed = uint64(v)
	case "model":
		// Check keys and types now; the values are applied per family later.
		var scratch models.Config
		if err = d.applyModel(&scratch, p.v, "model", false); err != nil {
			return err
		}
		if inSweep {
			s.sweepModel = append(s.sweepModel, p.v)
		} else {
			s.modelLayers = append(s.modelLayers, p.v)
		}
	case "params":
		s.params, err = d.target(p.v, "params")
		s.paramsNode = p.v
	case "flops":
		s.flops, err = d.target(p.v, "flops")
		s.flopsNode = p.v
	default:
		return d.errf(p.k, "unknown key %q", p.key)
	}
	return err
}

// target decodes a match target: a positive count, suffixes allowed.
func (d *dec) target(n *yaml.Node, what string) (float64, error) {
	v, err := d.number(n, what, true)
	if err != nil {
		return 0, err
	}
	if v <= 0 {
		return 0, d.errf(n, "%s: want a positive count, got %s", what, describe(n))
	}
	return v, nil
}

func (d *dec) applyTokenizer(t *tokenizer.Spec, n *yaml.Node) error {
	ps, err := d.pairs(n, "tokenizer")
	if err != nil {
		return err
	}
	kindSet, vocabSet := false, false
	var vocabN *yaml.Node
	for _, p := range ps {
		switch p.key {
		case "kind":
			if t.Kind, err = d.enum(p.v, "tokenizer.kind", tokenizer.Kinds()); err != nil {
				return err
			}
			kindSet = true
		case "vocab_size":
			if t.VocabSize, err = d.smallCount(p.v, "tokenizer.vocab_size", 1); err != nil {
				return err
			}
			vocabSet, vocabN = true, p.v
		default:
			return d.unknownKey(p, "tokenizer", tokenizerKeys)
		}
	}
	// A kind without a vocab_size beside it drops the inherited vocab_size:
	// the new kind gets its own default.
	if vocabSet && (t.Kind == tokenizer.KindChar || t.Kind == tokenizer.KindByte) {
		return d.errf(vocabN, "tokenizer.vocab_size: not allowed for kind %s, whose vocabulary follows from the data (vocab_size is for bpe and ids)", t.Kind)
	}
	if kindSet && !vocabSet {
		t.VocabSize = 0
	}
	return nil
}

func (d *dec) applyOptimizer(o *Optimizer, n *yaml.Node) error {
	ps, err := d.pairs(n, "optimizer")
	if err != nil {
		return err
	}
	var nameN, schedN, momN, coolN *yaml.Node
	for _, p := range ps {
		w := "optimizer." + p.key
		switch p.key {
		case "name":
			o.Name, err = d.enum(p.v, w, optimizerNames)
			nameN = p.v
		case "lr":
			o.LR, err = d.floatIn(p.v, w, 0, 10, true, false)
		case "min_lr":
			o.MinLR, err = d.floatIn(p.v, w, 0, 10, false, false)
		case "warmup":
			o.Warmup, err = d.count(p.v, w, 0)
		case "schedule":
			o.Schedule, err = d.enum(p.v, w, scheduleNames)
			schedN = p.v
		case "cooldown_frac":
			o.CooldownFrac, err = d.floatIn(p.v, w, 0, 1, false, false)
			coolN = p.v
		case "betas":
			var items []*yaml.Node
			if items, err = d.list(p.v, w); err != nil {
				return err
			}
			if len(items) != 2 {
				return d.errf(p.v, "%s: want two numbers [beta1, beta2], got %d", w, len(items))
			}
			for i, it := range items {
				if o.Betas[i], err = d.floatIn(it, w, 0, 1, false, true); err != nil {
					return err
				}
			}
		case "eps":
			o.Eps, err = d.floatIn(p.v, w, 0, 1, true, false)
		case "weight_decay":
			o.WeightDecay, err = d.floatIn(p.v, w, 0, 10, false, false)
		case "grad_clip":
			o.GradClip, err = d.floatIn(p.v, w, 0, 1e9, false, false)
		case "momentum":
			o.Momentum, err = d.floatIn(p.v, w, 0, 1, false, true)
			momN = p.v
		default:
			return d.unknownKey(p, "optimizer", optimizerKeys)
		}
		if err != nil {
			return err
		}
	}
	// A key that does nothing beside the name or schedule given in the same
	// mapping is refused rather than hashed. (Inherited or swept
	// combinations are left alone: the key may matter for other runs.)
	switch {
	case nameN != nil && momN != nil && o.Name != "muon":
		return d.errf(momN, "optimizer.momentum: does nothing for optimizer %s (it is Muon's momentum); remove it or use name: muon", o.Name)
	case schedN != nil && coolN != nil && o.Schedule != "wsd":
		return d.errf(coolN, "optimizer.cooldown_frac: does nothing for schedule %s (it is the decay fraction of wsd); remove it or use schedule: wsd", o.Schedule)
	}
	return nil
}

// budget decodes a budget mapping; it replaces any inherited budget as a whole.
func (d *dec) budget(n *yaml.Node) (Budget, error) {
	allowed := strings.Join(budgetKeys, ", ")
	ps, err := d.pairs(n, "budget")
	if err != nil {
		return Budget{}, fmt.Errorf("%w: one of %s, e.g. {steps: 1000}", err, allowed)
	}
	if len(ps) != 1 {
		keys := make([]string, len(ps))
		for i, p := range ps {
			keys[i] = p.key
		}
		got := "none"
		if len(keys) > 0 {
			got = strings.Join(keys, " and ")
		}
		return Budget{}, d.errf(n, "budget: want exactly one of %s, got %s", allowed, got)
	}
	p := ps[0]
	b := Budget{Kind: p.key}
	w := "budget." + p.key
	switch p.key {
	case BudgetSteps:
		b.Steps, err = d.count(p.v, w, 1)
	case BudgetTokens:
		b.Tokens, err = d.count(p.v, w, 1)
	case BudgetFlops:
		b.Flops, err = d.target(p.v, w)
	case BudgetSeconds:
		b.Seconds, err = d.floatIn(p.v, w, 0, 1e9, true, false)
	default:
		return Budget{}, d.errf(p.k, "budget: unknown key %q (allowed: exactly one of %s)", p.key, allowed)
	}
	return b, err
}

func (d *dec) applyEval(e *Eval, n *yaml.Node) error {
	ps, err := d.pairs(n, "eval")
	if err != nil {
		return err
	}
	for _, p := range ps {
		w := "eval." + p.key
		switch p.key {
		case "every":
			e.Every, err = d.count(p.v, w, 0)
		case "batches":
			e.Batches, err = d.smallCount(p.v, w, 1)
		case "final_batches":
			// At least 1: final_val is what the report compares across runs.
			e.FinalBatches, err = d.smallCount(p.v, w, 1)
		default:
			return d.unknownKey(p, "eval", evalKeys)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *dec) applyCheckpoint(c *Checkpoint, n *yaml.Node) error {
	ps, err := d.pairs(n, "checkpoint")
	if err != nil {
		return err
	}
	for _, p := range ps {
		w := "checkpoint." + p.key
		switch p.key {
		case "every":
			c.Every, err = d.count(p.v, w, 1)
		case "keep":
			c.Keep, err = d.smallCount(p.v, w, 0)
		default:
			return d.unknownKey(p, "checkpoint", checkpointKeys)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyModel sets the keys of a model mapping on c; entry allows family.
func (d *dec) applyModel(c *models.Config, n *yaml.Node, what string, entry bool) error {
	ps, err := d.pairs(n, what)
	if err != nil {
		return err
	}
	allowed := modelKeys
	if entry {
		allowed = modelEntryKeys
	}
	for _, p := range ps {
		w := "model." + p.key
		switch p.key {
		case "family":
			if !entry {
				return d.errf(p.k, "%s: family is chosen by models: or pair:, not under model:", what)
			}
			c.Family, err = d.enum(p.v, w, models.Families())
		case "n_embd":
			c.NEmbd, err = d.boundedCount(p.v, w, 1, maxWidth)
		case "n_head":
			c.NHead, err = d.boundedCount(p.v, w, 1, 256)
		case "n_layer":
			c.NLayer, err = d.boundedCount(p.v, w, 1, 256)
		case "rope":
			c.RoPE, err = d.boolean(p.v, w)
		case "qk_norm":
			c.QKNorm, err = d.boolean(p.v, w)
		case "gate":
			c.Gate, err = d.boolean(p.v, w)
		case "xsa":
			c.XSA, err = d.boolean(p.v, w)
		case "tie_embeddings":
			c.TieEmbeddings, err = d.boolean(p.v, w)
		case "bias":
			c.Bias, err = d.boolean(p.v, w)
		case "activation":
			c.Activation, err = d.enum(p.v, w, activationNames)
		case "norm":
			c.Norm, err = d.enum(p.v, w, normNames)
		case "dropout":
			c.Dropout, err = d.floatIn(p.v, w, 0, 1, false, true)
		case "block_size", "vocab_size":
			return d.errf(p.k, "%s: %s is not a model key: block_size is set at the top level, vocab_size by the tokenizer", what, p.key)
		default:
			return d.unknownKey(p, what, allowed)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

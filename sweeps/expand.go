package sweeps

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/internal/pairkey"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/tokenizer"
	"go.yaml.in/yaml/v3"
)

// VocabFunc returns the vocabulary size V of tokenizer t built on dataset d.
// plan builds (or loads from the cache) the tokenizer; tests pass a constant.
type VocabFunc func(d data.Spec, t tokenizer.Spec) (int, error)

// MaxRuns bounds how many runs one file may expand to.
const MaxRuns = 10000

// maxWidth bounds the n_embd that match: searches.
const maxWidth = 1 << 15

// Expand resolves every experiment at every sweep point for every model into
// a Run, in file order: experiments, then grid points (the first sweep key
// varies slowest, zip groups after the sweep keys), then models. It checks
// each resolved configuration (model shape against its family, data files of
// the datasets that runs use, budgets) and that run names are unique. vocab
// is called once per distinct (dataset, tokenizer).
func (f *File) Expand(vocab VocabFunc) ([]Run, error) {
	d := &f.dec
	total := 0
	for _, e := range f.exps {
		n := len(e.entries)
		for _, a := range e.axes {
			n *= len(a.values)
			if n > MaxRuns {
				break
			}
		}
		total += n
		if n > MaxRuns || total > MaxRuns {
			return nil, d.errf(e.node, "experiment %s: the file expands to more than %d runs", e.name, MaxRuns)
		}
	}
	x := expander{f: f, vocab: vocab, vocabs: map[string]int{}, checked: map[string]bool{}, matched: map[string]int{}}
	runs := make([]Run, 0, total)
	names := map[string]*yaml.Node{}
	for _, e := range f.exps {
		sameFamily := map[string]int{}
		repeated := false
		for _, en := range e.entries {
			sameFamily[en.family]++
			repeated = repeated || sameFamily[en.family] > 1
		}
		for _, pt := range e.points() {
			s := e.base.clone()
			for _, a := range pt {
				if err := d.apply(&s, nest(a.key, a.k, a.v), "sweep", settingKeysAndTargets(), nil, true, f.datasets); err != nil {
					return nil, err
				}
			}
			for _, en := range e.entries {
				r, err := x.resolve(e, en, s, pt, sameFamily[en.family] > 1)
				if err != nil {
					return nil, err
				}
				shapeKey := ""
				if repeated {
					shapeKey = shape(r.Model)
				}
				r.PairKey = pairkey.Key(e.name, r.Sweep, shapeKey)
				r.ExperimentsSHA256, r.Reference = f.SHA256, e.ref
				if prev, dup := names[r.Name]; dup {
					return nil, d.errf(en.node, "experiment %s: two runs are named %s (the other from line %d): give the models different shapes or sweep values", e.name, r.Name, prev.Line)
				}
				if len(r.Name) > MaxRunNameBytes {
					return nil, d.errf(en.node, "experiment %s: run name %.40s… is %d bytes long (at most %d: run names name checkpoint folders and report and metrics files); shorten the experiment name or sweep fewer keys", e.name, r.Name, len(r.Name), MaxRunNameBytes)
				}
				names[r.Name] = en.node
				runs = append(runs, r)
			}
		}
	}
	return runs, nil
}

// MaxRunNameBytes is the longest run name a file may produce: a run's name
// (sanitised) is a checkpoint folder's name and part of report figure and
// export-metrics file names, which most filesystems cap at 255 bytes.
const MaxRunNameBytes = 200

func settingKeysAndTargets() []string {
	return append(append([]string{}, settingKeys...), targetKeys...)
}

// assign is one swept key's value at a grid point.
type assign struct {
	key  string
	k, v *yaml.Node
}

// points returns the grid: the cartesian product of the axes, first axis
// slowest. An experiment without sweep has one empty point.
func (e *experiment) points() [][]assign {
	pts := [][]assign{nil}
	for _, a := range e.axes {
		next := make([][]assign, 0, len(pts)*len(a.values))
		for _, p := range pts {
			for _, vals := range a.values {
				q := append([]assign(nil), p...)
				for i, v := range vals {
					q = append(q, assign{key: a.keys[i], k: a.keyNodes[i], v: v})
				}
				next = append(next, q)
			}
		}
		pts = next
	}
	return pts
}

// pointLabel is the k=v,... part of a run name.
func pointLabel(pt []assign) string {
	parts := make([]string, len(pt))
	for i, a := range pt {
		parts[i] = a.key + "=" + spell(a.v)
	}
	return strings.Join(parts, ",")
}

// expander holds the memo tables of one Expand call.
type expander struct {
	f       *File
	vocab   VocabFunc
	vocabs  map[string]int
	checked map[string]bool
	matched map[string]int
}

// resolve builds the Run of one model entry at one grid point.
func (x *expander) resolve(e *experiment, en entry, s settings, pt []assign, showShape bool) (Run, error) {
	f, d := x.f, &x.f.dec
	label := pointLabel(pt)
	where := "experiment " + e.name
	if label != "" {
		where += " at " + label
	}
	ds := f.datasets[s.data]
	spec := ds.spec
	if spec.Path != "" && !filepath.IsAbs(spec.Path) {
		spec.Path = filepath.Join(f.dir, spec.Path)
	}
	if !x.checked[spec.Name] {
		if err := spec.Validate(); err != nil {
			n := ds.node
			if n == nil {
				n = s.dataNode
			}
			var fe *data.FieldError
			if errors.As(err, &fe) && ds.keys[fe.Field] != nil {
				n = ds.keys[fe.Field] // the line of the offending key
			}
			msg := strings.TrimPrefix(err.Error(), "dataset "+spec.Name+": ")
			return Run{}, d.errf(n, "dataset %s (used by %s): %s", spec.Name, where, msg)
		}
		x.checked[spec.Name] = true
	}
	tok := spec.TokenizerDefaults(s.tok)
	if err := spec.ValidateTokenizer(tok); err != nil {
		return Run{}, d.errf(e.node, "%s: %v", where, err)
	}
	v, err := x.vocabSize(spec, tok)
	if err != nil {
		return Run{}, d.errf(e.node, "%s: vocabulary of %s tokenizer on dataset %s: %v", where, tok.Kind, spec.Name, err)
	}

	cfg, err := models.DefaultConfig(en.family)
	if err != nil {
		return Run{}, d.errf(en.node, "%s: %v", where, err)
	}
	cfg.NHead, cfg.NLayer = defaultNHead, defaultNLayer
	for _, l := range s.modelLayers {
		if err := d.applyModel(&cfg, l, "model", false); err != nil {
			return Run{}, err
		}
	}
	if r := resolve(en.node); r != nil && r.Kind == yaml.MappingNode {
		if err := d.applyModel(&cfg, en.node, where+": models entry", true); err != nil {
			return Run{}, err
		}
	}
	for _, l := range s.sweepModel {
		if err := d.applyModel(&cfg, l, "model", false); err != nil {
			return Run{}, err
		}
	}
	cfg.BlockSize, cfg.VocabSize = s.blockSize, v
	var match *Match
	switch e.match {
	case "params":
		match = &Match{By: "params", Target: s.params}
	case "flops":
		match = &Match{By: "flops", Target: s.flops}
	}
	if match != nil {
		cfg.NEmbd = 0
		if cfg.NEmbd, err = x.matchWidth(cfg, *match); err != nil {
			return Run{}, d.errf(en.node, "%s: %s: %v", where, en.family, err)
		}
	}
	if cfg.NEmbd == 0 {
		return Run{}, d.errf(en.node, "%s: %s has no n_embd: give it in the models entry or under model:, or use match: params", where, en.family)
	}
	if err := cfg.Validate(); err != nil {
		return Run{}, d.errf(en.node, "%s: model %s %s: %v", where, en.family, shape(cfg), err)
	}

	famSeg := en.family
	if showShape {
		famSeg += "-" + shape(cfg)
	}
	name := e.name + "/" + famSeg
	if label != "" {
		name += "/" + label
	}
	r := Run{
		Name: name, Experiment: e.name, Family: en.family, Model: cfg,
		Data: spec, Tokenizer: tok,
		BlockSize: s.blockSize, BatchSize: s.batchSize, GradAccum: s.gradAccum,
		Optimizer: s.opt, Budget: s.budget, Eval: s.eval, Checkpoint: s.ckpt, Seed: s.seed,
		Match: match,
	}
	if len(pt) > 0 {
		r.Sweep = map[string]string{}
		for _, a := range pt {
			r.Sweep[a.key] = spell(a.v)
		}
	}
	if r.Budget.Kind == "" {
		return Run{}, d.errf(e.node, "%s: no budget: set budget: {steps: 1000} (or tokens, flops, seconds) in defaults: or the experiment", where)
	}
	if err := r.resolveBudget(); err != nil {
		return Run{}, d.errf(s.budgetNode, "%s: %s: budget: %v", where, famSeg, err)
	}
	if float64(r.TotalSteps())*float64(r.TokensPerStep()) > 1<<62 {
		return Run{}, d.errf(s.budgetNode, "%s: run %s: budget of %d steps x %d tokens per step is too large", where, name, r.TotalSteps(), r.TokensPerStep())
	}
	if o := r.Optimizer; o.MinLR > o.LR {
		return Run{}, d.errf(e.node, "%s: run %s: optimizer.min_lr %v is above optimizer.lr %v (the schedule decays from lr to min_lr; min_lr defaults to 3e-4): set optimizer.min_lr to at most lr", where, name, o.MinLR, o.LR)
	}
	if steps := r.TotalSteps(); steps > 0 && r.Optimizer.Warmup >= steps {
		return Run{}, d.errf(e.node, "%s: run %s: optimizer.warmup %d is not below its %d steps", where, name, r.Optimizer.Warmup, steps)
	}
	if _, err := json.Marshal(r); err != nil {
		return Run{}, d.errf(e.node, "%s: %v", where, err)
	}
	return r, nil
}

// vocabSize calls the VocabFunc once per distinct dataset and tokenizer.
func (x *expander) vocabSize(spec data.Spec, tok tokenizer.Spec) (int, error) {
	key := fmt.Sprintf("%+v|%+v", spec, tok)
	if v, ok := x.vocabs[key]; ok {
		return v, nil
	}
	if x.vocab == nil {
		return 0, fmt.Errorf("no vocabulary function")
	}
	v, err := x.vocab(spec, tok)
	if err != nil {
		return 0, err
	}
	if v <= 0 || v > 1<<24 {
		return 0, fmt.Errorf("vocabulary size %d out of range [1, 2^24]", v)
	}
	x.vocabs[key] = v
	return v, nil
}

// shape is n_embd x n_head x n_layer, as in run names.
func shape(c models.Config) string {
	return fmt.Sprintf("%dx%dx%d", c.NEmbd, c.NHead, c.NLayer)
}

// matchWidth memoises MatchWidth within one Expand.
func (x *expander) matchWidth(cfg models.Config, m Match) (int, error) {
	key := fmt.Sprintf("%+v|%+v", cfg, m)
	if n, ok := x.matched[key]; ok {
		return n, nil
	}
	n, err := MatchWidth(cfg, m.By, m.Target)
	if err == nil {
		err = checkMatch(cfg, n, m)
	}
	if err == nil {
		x.matched[key] = n
	}
	return n, err
}

// MatchTolerance is how far (relative) the matched model's parameter count
// or FLOPs per token may be from the target of match:.
const MatchTolerance = 0.20

// MatchMetric is the matched quantity of cfg: total parameters (by =
// "params") or forward FLOPs per token ("flops").
func MatchMetric(cfg models.Config, by string) float64 {
	if by == "flops" {
		return float64(cfg.FlopsPerToken())
	}
	total, _ := cfg.ParamCounts()
	return float64(total)
}

// checkMatch refuses a matched width whose metric is further than
// MatchTolerance from the target: the target is out of reach of this
// family, shape and vocabulary.
func checkMatch(cfg models.Config, n int, m Match) error {
	cfg.NEmbd = n
	got := MatchMetric(cfg, m.By)
	dev := got/m.Target - 1
	if math.Abs(dev) <= MatchTolerance {
		return nil
	}
	what := "parameters"
	if m.By == "flops" {
		what = "FLOPs per token"
	}
	side := "the smallest"
	if dev < 0 {
		side = "the largest"
	}
	far := fmt.Sprintf("%+.1f%% from the target", 100*dev)
	if dev > 1 {
		far = fmt.Sprintf("%.3g× the target", got/m.Target)
	}
	return fmt.Errorf("match: %s %s is out of reach: %s valid model (n_embd %d, n_head %d, n_layer %d, vocab %d) has %s %s, %s (allowed ±%.0f%%); change the target, n_head/n_layer or the tokenizer",
		m.By, fmtCount(m.Target), side, n, cfg.NHead, cfg.NLayer, cfg.VocabSize, fmtCount(got), what, far, 100*MatchTolerance)
}

// fmtCount writes a count with thousands separators (1,234,567), in
// scientific notation beyond 1e15.
func fmtCount(v float64) string {
	if v >= 1e15 || v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	s := strconv.FormatInt(int64(v), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// MatchWidth returns the n_embd that brings cfg's total parameter count
// (by = "params") or forward FLOPs per token (by = "flops") closest to target,
// keeping everything else of cfg (family, n_head, n_layer, knobs, block and
// vocabulary size). Candidates are the even n_embd >= 8 for which the
// configuration is valid (for gpt2: divisible by n_head); ties go to the
// smaller width.
func MatchWidth(cfg models.Config, by string, target float64) (int, error) {
	metric := func(c models.Config) float64 { return MatchMetric(c, by) }
	if by != "params" && by != "flops" {
		return 0, fmt.Errorf("match: %q is not allowed (allowed: params, flops)", by)
	}
	// The metric grows with n_embd: binary-search the first even width whose
	// metric reaches the target, then take the nearest valid width on each side.
	width := func(k int) int { return 8 + 2*k }
	at := func(n int) float64 {
		c := cfg
		c.NEmbd = n
		return metric(c)
	}
	lo, hi := 0, (maxWidth-8)/2 // search k in [lo, hi]
	for lo < hi {
		mid := (lo + hi) / 2
		if at(width(mid)) >= target {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	valid := func(n int) bool {
		c := cfg
		c.NEmbd = n
		return c.Validate() == nil
	}
	best, bestDiff := 0, math.Inf(1)
	consider := func(n int) {
		if diff := math.Abs(at(n) - target); diff < bestDiff || (diff == bestDiff && n < best) {
			best, bestDiff = n, diff
		}
	}
	for n := width(lo) - 2; n >= 8; n -= 2 { // nearest valid below
		if valid(n) {
			consider(n)
			break
		}
	}
	for n := width(lo); n <= maxWidth; n += 2 { // nearest valid at or above
		if valid(n) {
			consider(n)
			break
		}
	}
	if best == 0 {
		c := cfg
		c.NEmbd = width(lo)
		return 0, fmt.Errorf("no even n_embd in [8, %d] gives a valid model: %v", maxWidth, c.Validate())
	}
	return best, nil
}

package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// knownFamilies fixes the order (and colours) of the families the project
// implements; other families follow, sorted by name.
var knownFamilies = [...]string{"gpt2", "gpt2-rope-swiglu", "silia", "silia-xga"}

// familyRank orders families: known ones first in knownFamilies order.
func familyRank(f string) int {
	for i, k := range knownFamilies {
		if f == k {
			return i
		}
	}
	return len(knownFamilies)
}

// lessFamily orders two family names.
func lessFamily(a, b string) bool {
	ra, rb := familyRank(a), familyRank(b)
	if ra != rb {
		return ra < rb
	}
	return a < b
}

// isBaseline reports whether a family is a GPT-2 style baseline (gpt2*),
// as opposed to a candidate (silia*) of the pair comparisons.
func isBaseline(f string) bool { return strings.HasPrefix(f, "gpt2") }

// run is a run of the dataset.
type run struct {
	*RunData
}

// group is a configuration: the runs of one experiment that are identical
// except for their seed.
type group struct {
	experiment string
	family     string
	rec        *RunData // the first run: its record (shape, learning rate, reference) is the configuration's
	pairKey    string   // equal for the groups of a matched pair
	runs       []run    // sorted by seed, then name
	paramsTot  int64
	paramsNE   int64
	flopsTok   int64
	lc         *lossCurve // computed by curve()
}

// label is the short legend label of a group, e.g. "silia C=64 H=4 L=2 lr=0.003".
func (g *group) label(withLR bool) string {
	s := g.family + " " + g.rec.Shape()
	if withLR && g.rec.LR > 0 {
		s += " lr=" + fmtG(g.rec.LR)
	}
	return s
}

// done returns the runs with status done.
func (g *group) done() []run {
	var out []run
	for _, r := range g.runs {
		if r.Status == StatusDone {
			out = append(out, r)
		}
	}
	return out
}

// finalRuns returns the runs whose final numbers count: the done ones, or,
// when none is done, every run that has a validation evaluation (their
// numbers are provisional and the status column says so).
func (g *group) finalRuns() (runs []run, final bool) {
	if d := g.done(); len(d) > 0 {
		return d, true
	}
	for _, r := range g.runs {
		if _, ok := r.finalVal(); ok {
			runs = append(runs, r)
		}
	}
	return runs, false
}

// finalVals returns the final validation losses of the done runs, by seed.
func (g *group) finalVals() map[uint64]float64 {
	out := map[uint64]float64{}
	for _, r := range g.done() {
		if e, ok := r.finalVal(); ok {
			out[r.Seed] = e.Loss
		}
	}
	return out
}

// finalValsBySeed returns the final validation losses of the done runs in
// seed order.
func (g *group) finalValsBySeed() []float64 {
	vals, _ := g.finalValsAndSeeds()
	return vals
}

// finalValsAndSeeds returns the final validation losses of the done runs
// and their seeds, in seed order.
func (g *group) finalValsAndSeeds() (vals []float64, seeds []uint64) {
	for _, r := range g.done() { // runs are sorted by seed
		if e, ok := r.finalVal(); ok {
			vals, seeds = append(vals, e.Loss), append(seeds, r.Seed)
		}
	}
	return vals, seeds
}

// status summarises the runs' states, e.g. "done", "2 done, 1 running
// (step 50/100)", with failures and their reasons.
func (g *group) status() string {
	if len(g.done()) == len(g.runs) {
		return StatusDone
	}
	var parts []string
	nd := len(g.done())
	if nd > 0 {
		parts = append(parts, fmt.Sprintf("%d done", nd))
	}
	for _, r := range g.runs {
		if r.Status != StatusDone {
			p := r.progress()
			if len(g.runs) > 1 {
				p = fmt.Sprintf("seed %d %s", r.Seed, p)
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "; ")
}

// analysis is the grouped view of a dataset that tables and figures share.
type analysis struct {
	experiments []string            // in report order
	groups      map[string][]*group // by experiment, in table order
	runs        []run               // all runs, by name
	warnings    []string            // configuration problems worth showing
	scalings    map[string]*scaling // by experiment and parameter kind (analysis.scaling)
}

// analyse parses configurations, groups runs that differ only by seed and
// orders experiments and groups.
func analyse(ds Dataset) (*analysis, error) {
	runs := make([]RunData, len(ds.Runs))
	copy(runs, ds.Runs) // sortRuns copies any row slice before sorting it
	sortRuns(runs)
	a := &analysis{groups: map[string][]*group{}, scalings: map[string]*scaling{}}
	byKey := map[string]*group{}
	var keys []string
	for i := range runs {
		rd := &runs[i]
		r := run{RunData: rd}
		a.runs = append(a.runs, r)
		pk := rd.PairKey
		if pk == "" {
			pk = rd.Name // no record: a configuration of its own
		}
		key := rd.Experiment + "\x00" + rd.Family + "\x00" + pk
		g, ok := byKey[key]
		if !ok {
			g = &group{
				experiment: rd.Experiment, family: rd.Family, rec: rd,
				pairKey:   pk,
				paramsTot: rd.ParamsTotal, paramsNE: rd.ParamsNonEmbedding, flopsTok: rd.FlopsPerToken,
			}
			byKey[key] = g
			keys = append(keys, key)
		}
		g.runs = append(g.runs, r)
	}
	seenExp := map[string]bool{}
	for _, k := range keys {
		g := byKey[k]
		sort.SliceStable(g.runs, func(i, j int) bool {
			if g.runs[i].Seed != g.runs[j].Seed {
				return g.runs[i].Seed < g.runs[j].Seed
			}
			return g.runs[i].Name < g.runs[j].Name
		})
		seeds := map[uint64]string{}
		for _, r := range g.runs {
			if prev, dup := seeds[r.Seed]; dup {
				a.warnings = append(a.warnings, fmt.Sprintf("runs %q and %q have the same configuration and seed %d", prev, r.Name, r.Seed))
			}
			seeds[r.Seed] = r.Name
		}
		a.groups[g.experiment] = append(a.groups[g.experiment], g)
		seenExp[g.experiment] = true
	}
	for _, e := range ds.Experiments {
		if seenExp[e] {
			a.experiments = append(a.experiments, e)
			delete(seenExp, e)
		}
	}
	var rest []string
	for e := range seenExp {
		rest = append(rest, e)
	}
	sort.Strings(rest)
	a.experiments = append(a.experiments, rest...)
	for _, e := range a.experiments {
		gs := a.groups[e]
		minParams := map[string]int64{}
		for _, g := range gs {
			if m, ok := minParams[g.pairKey]; !ok || g.paramsTot < m {
				minParams[g.pairKey] = g.paramsTot
			}
		}
		sort.SliceStable(gs, func(i, j int) bool {
			if gs[i].pairKey != gs[j].pairKey {
				// Pairs by the size of their smallest member, then by key.
				si, sj := minParams[gs[i].pairKey], minParams[gs[j].pairKey]
				if si != sj {
					return si < sj
				}
				return gs[i].pairKey < gs[j].pairKey
			}
			return lessFamily(gs[i].family, gs[j].family)
		})
	}
	return a, nil
}

// pair is a matched pair: a baseline and a candidate configuration of the
// same experiment and grid point.
type pair struct {
	experiment string
	key        string
	base, cand *group
}

// pairs returns the matched pairs of the experiment in table order: for each
// pair key, every (gpt2*, silia*) combination; when the families do not split
// that way, every combination in family order.
func (a *analysis) pairs(experiment string) []pair {
	byKey := map[string][]*group{}
	var keys []string
	for _, g := range a.groups[experiment] {
		if _, ok := byKey[g.pairKey]; !ok {
			keys = append(keys, g.pairKey)
		}
		byKey[g.pairKey] = append(byKey[g.pairKey], g)
	}
	var out []pair
	for _, k := range keys {
		gs := byKey[k]
		for i := range gs {
			for j := range gs {
				bi, bj := isBaseline(gs[i].family), isBaseline(gs[j].family)
				ok := false
				switch {
				case gs[i].family == gs[j].family:
				case bi && !bj:
					ok = true
				case bi == bj:
					ok = lessFamily(gs[i].family, gs[j].family)
				}
				if ok {
					out = append(out, pair{experiment: experiment, key: k, base: gs[i], cand: gs[j]})
				}
			}
		}
	}
	return out
}

// pairedDiffs returns cand − base final validation losses for the seeds that
// both configurations finished, sorted by seed.
func (p pair) pairedDiffs() (seeds []uint64, diffs []float64) {
	bv, cv := p.base.finalVals(), p.cand.finalVals()
	for s := range bv {
		if _, ok := cv[s]; ok {
			seeds = append(seeds, s)
		}
	}
	sort.Slice(seeds, func(i, j int) bool { return seeds[i] < seeds[j] })
	for _, s := range seeds {
		diffs = append(diffs, cv[s]-bv[s])
	}
	return seeds, diffs
}

// groupFinal holds a configuration's final numbers over its counted runs.
type groupFinal struct {
	n                   int // runs counted
	final               bool
	valMean, valStd     float64
	valCI               Interval // 95% t-interval of the mean validation loss
	valMin, valMax      float64
	trainMean, trainStd float64
	bpbMean             float64
	accMean             float64 // task accuracy of the last evaluation that has one
	tokens              float64 // mean tokens trained
	flops               float64 // mean FLOPs trained
	tokPerS             float64 // mean training throughput
	wallS               float64 // mean wall time in seconds
}

// final computes the configuration's final numbers.
func (g *group) final() groupFinal {
	runs, final := g.finalRuns()
	gf := groupFinal{final: final}
	var val, train, bpb, acc, tok, fl, tps, wall []float64
	for _, r := range runs {
		if e, ok := r.lastAccuracy(); ok {
			acc = append(acc, e.Accuracy)
		}
		if e, ok := r.finalVal(); ok {
			val = append(val, e.Loss)
			if !math.IsNaN(e.BPB) {
				bpb = append(bpb, e.BPB)
			}
		}
		if tl := r.finalTrainLoss(); !math.IsNaN(tl) {
			train = append(train, tl)
		}
		if s, ok := r.lastStep(); ok {
			tok = append(tok, float64(s.Tokens))
			fl = append(fl, s.Flops)
			if s.ElapsedS > 0 {
				wall = append(wall, s.ElapsedS)
				tps = append(tps, float64(s.Tokens)/s.ElapsedS)
			}
		}
	}
	if len(runs) == 0 {
		// Nothing evaluated yet: show how far training got.
		for _, r := range g.runs {
			if s, ok := r.lastStep(); ok {
				tok = append(tok, float64(s.Tokens))
				fl = append(fl, s.Flops)
				if s.ElapsedS > 0 {
					wall = append(wall, s.ElapsedS)
					tps = append(tps, float64(s.Tokens)/s.ElapsedS)
				}
			}
			if tl := r.finalTrainLoss(); !math.IsNaN(tl) {
				train = append(train, tl)
			}
		}
	}
	gf.n = len(val)
	gf.valMean, gf.valStd = Mean(val), Std(val)
	gf.valCI, _ = TInterval(val, ConfidenceLevel)
	gf.valMin, gf.valMax = MinMax(val)
	gf.trainMean, gf.trainStd = Mean(train), Std(train)
	gf.bpbMean = Mean(bpb)
	gf.accMean = Mean(acc)
	gf.tokens, gf.flops = Mean(tok), Mean(fl)
	gf.tokPerS, gf.wallS = Mean(tps), Mean(wall)
	return gf
}

package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure is one plot of the report, rendered to each requested format.
type Figure struct {
	// Name is the file stem, e.g. "loss_paper-pair_tokens".
	Name string
	// Title is the figure's title (also its heading in index.html).
	Title string
	// Caption explains what is drawn.
	Caption string
	plot    *plot.Plot
}

// maxCurvePoints bounds the points drawn per curve (long runs are strided).
const maxCurvePoints = 500

// maxGroupsPerLossFigure: experiments with more configurations get one loss
// figure per matched pair instead of one for the whole experiment.
const maxGroupsPerLossFigure = 8

// xAxis is an x-axis choice of the loss curves.
type xAxis struct {
	key   string
	label string
	of    func(Step) float64
	tick  func(float64) string
	log   bool
}

var lossAxes = []xAxis{
	{key: "steps", label: "training step", of: func(s Step) float64 { return float64(s.Step) }},
	{key: "tokens", label: "training tokens", of: func(s Step) float64 { return float64(s.Tokens) }, tick: siLabel, log: true},
	{key: "flops", label: "training compute (FLOPs)", of: func(s Step) float64 { return s.Flops }, tick: expLabel, log: true},
}

// slug turns a name into a safe file-name part.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// distinctLRs reports whether the groups use more than one learning rate.
func distinctLRs(gs []*group) bool {
	seen := map[float64]bool{}
	for _, g := range gs {
		seen[g.cfg.LR] = true
	}
	return len(seen) > 1
}

// shortStatus is the legend suffix of a configuration still in progress:
// "(running, step k/N)" for the most advanced unfinished run, "(failed)".
func (g *group) shortStatus() string {
	var best *run
	failed := 0
	for i, r := range g.runs {
		switch r.Status {
		case StatusDone:
		case StatusFailed:
			failed++
		default:
			if best == nil || r.Step > best.Step {
				best = &g.runs[i]
			}
		}
	}
	var parts []string
	if best != nil {
		parts = append(parts, best.progress())
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", failed))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// lossFigures draws training loss (EMA-smoothed, raw faint, seeds as mean
// with a min–max band) and validation points for every configuration of an
// experiment, against steps, tokens and FLOPs.
func (a *analysis) lossFigures(pal palette) ([]Figure, error) {
	var figs []Figure
	for _, e := range a.experiments {
		gs := a.groups[e]
		sets := [][]*group{gs}
		names := []string{slug(e)}
		if len(gs) > maxGroupsPerLossFigure {
			sets, names = nil, nil
			idx := map[string]int{}
			for _, g := range gs {
				i, ok := idx[g.pairKey]
				if !ok {
					i = len(sets)
					idx[g.pairKey] = i
					sets = append(sets, nil)
					names = append(names, slug(e)+"_"+slug(g.pairKey))
				}
				sets[i] = append(sets[i], g)
			}
		}
		withLR := distinctLRs(gs)
		for si, set := range sets {
			for _, ax := range lossAxes {
				title := "Training loss: " + e
				if len(sets) > 1 {
					title += " — " + set[0].pairKey
				}
				p := newPlot(title, ax.label, "loss (nats/token)")
				var allX []float64
				if err := a.drawLoss(p, set, ax, pal, withLR, &allX); err != nil {
					return nil, fmt.Errorf("loss figure %s: %w", e, err)
				}
				if ax.log && spansDecades(allX) {
					setLog(&p.X, ax.tick)
				}
				finish(p, len(set))
				figs = append(figs, Figure{
					Name:  "loss_" + names[si] + "_" + ax.key,
					Title: title + " vs " + ax.key,
					Caption: "Training loss (exponential moving average over about 2% of the run's steps, at most 100; raw values faint) and validation " +
						"loss (markers) per configuration; with several seeds the line is their mean and the band their " +
						"min–max. Runs still training are drawn as far as they got.",
					plot: p,
				})
			}
		}
	}
	return figs, nil
}

// lossCurve is a configuration's training curve, computed once and drawn
// against each x axis: the smoothed loss's mean, min and max over seeds at
// up to maxCurvePoints steps, each seed's raw loss (strided), and the
// validation loss's mean over seeds at each evaluated step.
type lossCurve struct {
	at           []Step // the step rows the mean/min/max points belong to
	mean, lo, hi []float64
	raw          [][]Step // per run, strided
	valAt        []Step   // rows of the evaluated steps (Step only when not logged)
	valMean      []float64
	valHasRow    []bool
}

// curve computes (once) the group's lossCurve.
func (g *group) curve() *lossCurve {
	if g.lc != nil {
		return g.lc
	}
	c := &lossCurve{}
	smoothed := make([][]float64, len(g.runs))
	var all []int64
	rowOf := map[int64]Step{}
	for i, r := range g.runs {
		ys := make([]float64, len(r.Steps))
		for j, s := range r.Steps {
			ys[j] = s.Loss
			all = append(all, s.Step)
		}
		smoothed[i] = EMA(ys, smoothingAlpha(len(ys)))
		c.raw = append(c.raw, strideSteps(r.Steps, maxCurvePoints))
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	all = slicesCompact(all)
	// Keep at most maxCurvePoints steps, evenly strided, always the last.
	if len(all) > maxCurvePoints {
		stride := (len(all) + maxCurvePoints - 1) / maxCurvePoints
		var kept []int64
		for i := 0; i < len(all); i += stride {
			kept = append(kept, all[i])
		}
		if kept[len(kept)-1] != all[len(all)-1] {
			kept = append(kept, all[len(all)-1])
		}
		all = kept
	}
	vals := make([]float64, 0, len(g.runs))
	for _, st := range all {
		vals = vals[:0]
		var row Step
		for i, r := range g.runs {
			j := sort.Search(len(r.Steps), func(k int) bool { return r.Steps[k].Step >= st })
			if j < len(r.Steps) && r.Steps[j].Step == st {
				row = r.Steps[j]
				if v := smoothed[i][j]; !math.IsNaN(v) {
					vals = append(vals, v)
				}
			}
		}
		if len(vals) == 0 {
			continue
		}
		rowOf[st] = row
		mn, mx := MinMax(vals)
		c.at = append(c.at, row)
		c.mean, c.lo, c.hi = append(c.mean, Mean(vals)), append(c.lo, mn), append(c.hi, mx)
	}
	// Validation points: mean over seeds at each evaluated step.
	byStep := map[int64][]float64{}
	for _, r := range g.runs {
		for _, ev := range r.Evals {
			if (ev.Split == SplitVal || ev.Split == SplitFinalVal) && !math.IsNaN(ev.Loss) && !math.IsInf(ev.Loss, 0) {
				byStep[ev.Step] = append(byStep[ev.Step], ev.Loss)
			}
		}
	}
	vsteps := make([]int64, 0, len(byStep))
	for st := range byStep {
		vsteps = append(vsteps, st)
	}
	sort.Slice(vsteps, func(i, j int) bool { return vsteps[i] < vsteps[j] })
	for _, st := range vsteps {
		row, ok := rowOf[st]
		if !ok {
			row, ok = g.stepRow(st)
		}
		if !ok {
			row = Step{Step: st}
		}
		c.valAt = append(c.valAt, row)
		c.valMean = append(c.valMean, Mean(byStep[st]))
		c.valHasRow = append(c.valHasRow, ok)
	}
	g.lc = c
	return c
}

// stepRow finds the logged row of a step in any of the group's runs.
func (g *group) stepRow(st int64) (Step, bool) {
	for _, r := range g.runs {
		j := sort.Search(len(r.Steps), func(k int) bool { return r.Steps[k].Step >= st })
		if j < len(r.Steps) && r.Steps[j].Step == st {
			return r.Steps[j], true
		}
	}
	return Step{}, false
}

// slicesCompact removes adjacent duplicates of a sorted slice.
func slicesCompact(xs []int64) []int64 {
	if len(xs) == 0 {
		return xs
	}
	out := xs[:1]
	for _, x := range xs[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// strideSteps keeps at most max rows, evenly strided, always the last.
func strideSteps(rows []Step, max int) []Step {
	if len(rows) <= max {
		return rows
	}
	stride := (len(rows) + max - 1) / max
	out := make([]Step, 0, max+1)
	for i := 0; i < len(rows); i += stride {
		out = append(out, rows[i])
	}
	if out[len(out)-1].Step != rows[len(rows)-1].Step {
		out = append(out, rows[len(rows)-1])
	}
	return out
}

// drawLoss adds the curves of the groups to p.
func (a *analysis) drawLoss(p *plot.Plot, gs []*group, ax xAxis, pal palette, withLR bool, allX *[]float64) error {
	famIdx := map[string]int{}
	for _, g := range gs {
		k := famIdx[g.family]
		famIdx[g.family] = k + 1
		col := pal.color(g.family, 0xff)
		c := g.curve()
		for _, rows := range c.raw {
			var raw plotter.XYs
			for _, s := range rows {
				if x := ax.of(s); !(ax.log && x <= 0) && !math.IsNaN(s.Loss) && !math.IsInf(s.Loss, 0) {
					raw = append(raw, plotter.XY{X: x, Y: s.Loss})
				}
			}
			if len(raw) > 1 {
				l, err := plotter.NewLine(raw)
				if err != nil {
					return err
				}
				l.Color = pal.color(g.family, 0x30)
				l.Width = vg.Points(0.5)
				p.Add(l)
			}
		}
		var mean, lo, hi plotter.XYs
		for i, s := range c.at {
			x := ax.of(s)
			if ax.log && x <= 0 {
				continue
			}
			mean = append(mean, plotter.XY{X: x, Y: c.mean[i]})
			lo = append(lo, plotter.XY{X: x, Y: c.lo[i]})
			hi = append(hi, plotter.XY{X: x, Y: c.hi[i]})
			*allX = append(*allX, x)
		}
		if len(g.runs) > 1 && len(mean) > 1 {
			poly := make(plotter.XYs, 0, len(lo)+len(hi))
			poly = append(poly, lo...)
			for i := len(hi) - 1; i >= 0; i-- {
				poly = append(poly, hi[i])
			}
			band, err := plotter.NewPolygon(poly)
			if err != nil {
				return err
			}
			band.Color = pal.color(g.family, 0x40)
			band.LineStyle.Width = 0
			p.Add(band)
		}
		label := g.label(withLR) + g.shortStatus()
		if len(g.runs) > 1 {
			label += fmt.Sprintf(" [%d seeds]", len(g.runs))
		}
		if len(mean) > 0 {
			l, err := plotter.NewLine(mean)
			if err != nil {
				return err
			}
			l.Color = col
			l.Width = vg.Points(1.5)
			l.Dashes = dashes[k%len(dashes)]
			p.Add(l)
			p.Legend.Add(label, l)
		}
		var vp plotter.XYs
		for i, s := range c.valAt {
			if !c.valHasRow[i] && ax.key != "steps" {
				continue // no logged row to place it by tokens or FLOPs
			}
			x := ax.of(s)
			if ax.log && x <= 0 {
				continue
			}
			vp = append(vp, plotter.XY{X: x, Y: c.valMean[i]})
			*allX = append(*allX, x)
		}
		if len(vp) > 0 {
			sc, err := plotter.NewScatter(vp)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: glyphs[k%len(glyphs)]}
			p.Add(sc)
			if len(mean) == 0 {
				p.Legend.Add(label, sc)
			}
		}
	}
	return nil
}

// sizePoint is a family's best configuration at one size.
type sizePoint struct {
	params float64
	mean   float64
	std    float64
	g      *group
}

// familySizes returns, per family (in family order), the finished
// configurations' final validation loss by size: at each size the
// configuration (e.g. learning rate) with the lowest mean. nonEmb selects the
// non-embedding count.
func familySizes(gs []*group, nonEmb bool) (families []string, pts map[string][]sizePoint) {
	pts = map[string][]sizePoint{}
	best := map[string]map[int64]sizePoint{}
	for _, g := range gs {
		vals := g.finalVals()
		if len(vals) == 0 {
			continue
		}
		var v []float64
		for _, x := range vals {
			v = append(v, x)
		}
		sort.Float64s(v)
		n := g.paramsTot
		if nonEmb {
			n = g.paramsNE
		}
		if n <= 0 {
			continue
		}
		sp := sizePoint{params: float64(n), mean: Mean(v), std: Std(v), g: g}
		if math.IsNaN(sp.std) {
			sp.std = 0
		}
		if best[g.family] == nil {
			best[g.family] = map[int64]sizePoint{}
			families = append(families, g.family)
		}
		if old, ok := best[g.family][n]; !ok || sp.mean < old.mean {
			best[g.family][n] = sp
		}
	}
	sort.Slice(families, func(i, j int) bool { return lessFamily(families[i], families[j]) })
	for _, f := range families {
		for _, sp := range best[f] {
			pts[f] = append(pts[f], sp)
		}
		sort.Slice(pts[f], func(i, j int) bool { return pts[f][i].params < pts[f][j].params })
	}
	return families, pts
}

// fitFamily fits the power law to a family's size points.
func fitFamily(pts []sizePoint) (PowerLaw, error) {
	n := make([]float64, len(pts))
	l := make([]float64, len(pts))
	for i, p := range pts {
		n[i], l[i] = p.params, p.mean
	}
	return FitPowerLaw(n, l)
}

// paramFigures draws final validation loss against parameters (total and
// non-embedding) with error bars over seeds and a power-law fit per family
// with at least three sizes; it also returns the headline statements.
func (a *analysis) paramFigures(pal palette) (figs []Figure, headlines []string, err error) {
	for _, e := range a.experiments {
		for _, kind := range []struct {
			key, label string
			nonEmb     bool
		}{{"total", "parameters (total, true count)", false}, {"non_embedding", "non-embedding parameters (true count)", true}} {
			fams, pts := familySizes(a.groups[e], kind.nonEmb)
			if len(fams) == 0 {
				continue
			}
			title := "Parameter efficiency: " + e
			p := newPlot(title, kind.label, "final validation loss (nats/token)")
			var xs []float64
			fits := map[string]PowerLaw{}
			fitErr := map[string]error{}
			for k, f := range fams {
				ep := errPoints{}
				for _, sp := range pts[f] {
					ep.XYs = append(ep.XYs, plotter.XY{X: sp.params, Y: sp.mean})
					ep.YErrors = append(ep.YErrors, struct{ Low, High float64 }{sp.std, sp.std})
					xs = append(xs, sp.params)
				}
				col := pal.color(f, 0xff)
				sc, err := plotter.NewScatter(ep.XYs)
				if err != nil {
					return nil, nil, err
				}
				sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: glyphs[k%len(glyphs)]}
				eb, err := plotter.NewYErrorBars(ep)
				if err != nil {
					return nil, nil, err
				}
				eb.Color = col
				p.Add(eb, sc)
				fit, ferr := fitFamily(pts[f])
				if ferr != nil {
					fitErr[f] = ferr
					p.Legend.Add(f, sc)
					continue
				}
				fits[f] = fit
				var line plotter.XYs
				for i := 0; i <= 100; i++ {
					n := math.Exp(math.Log(fit.NMin) + (math.Log(fit.NMax)-math.Log(fit.NMin))*float64(i)/100)
					line = append(line, plotter.XY{X: n, Y: fit.At(n)})
				}
				l, err := plotter.NewLine(line)
				if err != nil {
					return nil, nil, err
				}
				l.Color = col
				l.Dashes = dashes[1]
				p.Add(l)
				p.Legend.Add(fmt.Sprintf("%s: %s", f, fit), sc, l)
			}
			if distinctCount(xs) > 1 {
				setLog(&p.X, siLabel)
			}
			finish(p, len(fams))
			figs = append(figs, Figure{
				Name:  "params_" + slug(e) + "_" + kind.key,
				Title: title + " (" + kind.key + " parameters)",
				Caption: "Final validation loss ('final_val', else the last 'val') of finished runs against the true " +
					"parameter count; at each size the best configuration (e.g. learning rate); error bars ±1 sample " +
					"standard deviation over seeds; dashed: fitted L(N) = a·N^−b + c (families with at least 3 sizes).",
				plot: p,
			})
			headlines = append(headlines, headline(e, kind.key, fams, pts, fits, fitErr)...)
		}
	}
	return figs, headlines, nil
}

// headline states, for each candidate (silia*) family and each baseline
// (gpt2*) family of an experiment, how many baseline parameters one
// candidate parameter is worth at equal final validation loss: the baseline
// fit is inverted at each candidate size's loss and divided by that size.
func headline(exp, kind string, fams []string, pts map[string][]sizePoint, fits map[string]PowerLaw, fitErr map[string]error) []string {
	var out []string
	for _, cand := range fams {
		if isBaseline(cand) {
			continue
		}
		for _, base := range fams {
			if !isBaseline(base) {
				continue
			}
			prefix := fmt.Sprintf("%s (%s parameters): %s vs %s: ", exp, strings.ReplaceAll(kind, "_", "-"), cand, base)
			fit, ok := fits[base]
			if !ok {
				out = append(out, prefix+fmt.Sprintf("not enough %s sizes for a fit (have %d finished, need 3); no exchange rate.",
					base, len(pts[base])))
				continue
			}
			var ratios []float64
			extrap, beyond := 0, 0
			for _, sp := range pts[cand] {
				n := fit.Inverse(sp.mean)
				if math.IsInf(n, 1) {
					beyond++
					continue
				}
				if n < fit.NMin*(1-1e-6) || n > fit.NMax*(1+1e-6) {
					extrap++
				}
				ratios = append(ratios, n/sp.params)
			}
			s := prefix
			if len(ratios) > 0 {
				lo, hi := MinMax(ratios)
				if fmtG(lo) == fmtG(hi) {
					s += fmt.Sprintf("one %s parameter is worth %s %s parameters at equal validation loss", cand, fmtG(lo), base)
				} else {
					s += fmt.Sprintf("one %s parameter is worth %s–%s %s parameters at equal validation loss", cand, fmtG(lo), fmtG(hi), base)
				}
				s += fmt.Sprintf(" (%d %s sizes; %s fit %s over %s–%s)", len(ratios), cand, base, fit, siLabel(fit.NMin), siLabel(fit.NMax))
				if extrap > 0 {
					s += fmt.Sprintf("; %d of them extrapolate the fit beyond its sizes", extrap)
				}
			} else {
				s += "no " + cand + " size has a loss the " + base + " fit reaches"
			}
			if beyond > 0 {
				s += fmt.Sprintf("; %d %s sizes reach a loss below the %s fit's asymptote c=%s", beyond, cand, base, fmtG(fit.C))
			}
			out = append(out, s+".")
		}
	}
	return out
}

// computeFigures draws final validation loss against training FLOPs and
// against wall time, one point per configuration with error bars over seeds.
func (a *analysis) computeFigures(pal palette) ([]Figure, error) {
	var figs []Figure
	for _, e := range a.experiments {
		for _, kind := range []struct {
			key, label string
			x          func(groupFinal) float64
			tick       func(float64) string
		}{
			{"flops", "training compute (FLOPs)", func(f groupFinal) float64 { return f.flops }, expLabel},
			{"wall", "training wall time (seconds)", func(f groupFinal) float64 { return f.wallS }, secondsLabel},
		} {
			title := "Compute efficiency: " + e
			p := newPlot(title, kind.label, "final validation loss (nats/token)")
			var xs []float64
			fams := map[string]*errPoints{}
			var order []string
			for _, g := range a.groups[e] {
				vals := g.finalVals()
				if len(vals) == 0 {
					continue
				}
				gf := g.final()
				x := kind.x(gf)
				if !(x > 0) {
					continue
				}
				std := gf.valStd
				if math.IsNaN(std) {
					std = 0
				}
				ep, ok := fams[g.family]
				if !ok {
					ep = &errPoints{}
					fams[g.family] = ep
					order = append(order, g.family)
				}
				ep.XYs = append(ep.XYs, plotter.XY{X: x, Y: gf.valMean})
				ep.YErrors = append(ep.YErrors, struct{ Low, High float64 }{std, std})
				xs = append(xs, x)
			}
			if len(order) == 0 {
				continue
			}
			sort.Slice(order, func(i, j int) bool { return lessFamily(order[i], order[j]) })
			for k, f := range order {
				col := pal.color(f, 0xff)
				sc, err := plotter.NewScatter(fams[f].XYs)
				if err != nil {
					return nil, err
				}
				sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: glyphs[k%len(glyphs)]}
				eb, err := plotter.NewYErrorBars(*fams[f])
				if err != nil {
					return nil, err
				}
				eb.Color = col
				p.Add(eb, sc)
				p.Legend.Add(f, sc)
			}
			if distinctCount(xs) > 1 {
				setLog(&p.X, kind.tick)
			}
			finish(p, len(order))
			figs = append(figs, Figure{
				Name:  "compute_" + slug(e) + "_" + kind.key,
				Title: title + " (" + kind.key + ")",
				Caption: "Final validation loss of each finished configuration against its training " + kind.label +
					" (mean over seeds); error bars ±1 sample standard deviation over seeds.",
				plot: p,
			})
		}
	}
	return figs, nil
}

// lrFigures draws final validation loss against learning rate, one line per
// family and size, for experiments that vary the learning rate.
func (a *analysis) lrFigures(pal palette) ([]Figure, error) {
	var figs []Figure
	for _, e := range a.experiments {
		gs := a.groups[e]
		if !distinctLRs(gs) {
			continue
		}
		type series struct {
			family, shape string
			params        int64
			ep            errPoints
		}
		byKey := map[string]*series{}
		var keys []string
		for _, g := range gs {
			vals := g.finalVals()
			if len(vals) == 0 || !(g.cfg.LR > 0) {
				continue
			}
			gf := g.final()
			k := g.family + "\x00" + g.cfg.Shape()
			s, ok := byKey[k]
			if !ok {
				s = &series{family: g.family, shape: g.cfg.Shape(), params: g.paramsTot}
				byKey[k] = s
				keys = append(keys, k)
			}
			std := gf.valStd
			if math.IsNaN(std) {
				std = 0
			}
			s.ep.XYs = append(s.ep.XYs, plotter.XY{X: g.cfg.LR, Y: gf.valMean})
			s.ep.YErrors = append(s.ep.YErrors, struct{ Low, High float64 }{std, std})
		}
		if len(keys) == 0 {
			continue
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := byKey[keys[i]], byKey[keys[j]]
			if a.family != b.family {
				return lessFamily(a.family, b.family)
			}
			if a.params != b.params {
				return a.params < b.params
			}
			return a.shape < b.shape
		})
		title := "Learning-rate sensitivity: " + e
		p := newPlot(title, "peak learning rate", "final validation loss (nats/token)")
		famIdx := map[string]int{}
		for _, k := range keys {
			s := byKey[k]
			idx := famIdx[s.family]
			famIdx[s.family] = idx + 1
			sort.Sort(byX{&s.ep})
			col := pal.color(s.family, 0xff)
			l, sc, err := plotter.NewLinePoints(s.ep.XYs)
			if err != nil {
				return nil, err
			}
			l.Color = col
			l.Dashes = dashes[idx%len(dashes)]
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: glyphs[idx%len(glyphs)]}
			eb, err := plotter.NewYErrorBars(s.ep)
			if err != nil {
				return nil, err
			}
			eb.Color = col
			p.Add(eb, l, sc)
			label := s.family + " " + s.shape
			if s.params > 0 {
				label += " (" + siLabel(float64(s.params)) + ")"
			}
			p.Legend.Add(label, l, sc)
		}
		setLog(&p.X, lrLabel)
		finish(p, len(keys))
		figs = append(figs, Figure{
			Name:  "lr_" + slug(e),
			Title: title,
			Caption: "Final validation loss of finished configurations against the peak learning rate, per family " +
				"and size; error bars ±1 sample standard deviation over seeds.",
			plot: p,
		})
	}
	return figs, nil
}

// byX sorts errPoints by x, keeping errors aligned.
type byX struct{ *errPoints }

func (b byX) Len() int           { return len(b.XYs) }
func (b byX) Less(i, j int) bool { return b.XYs[i].X < b.XYs[j].X }
func (b byX) Swap(i, j int) {
	b.XYs[i], b.XYs[j] = b.XYs[j], b.XYs[i]
	b.YErrors[i], b.YErrors[j] = b.YErrors[j], b.YErrors[i]
}

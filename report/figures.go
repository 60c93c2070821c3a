package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
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
	legend  plot.Legend // drawn outside the data area (drawFigure)
}

// newFigure finishes p and moves its legend out of the data area.
func newFigure(name, title, caption string, p *plot.Plot) Figure {
	finish(p)
	return Figure{Name: name, Title: title, Caption: caption, plot: p, legend: takeLegend(p)}
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
	{key: "steps", label: "training step (optimiser steps)", of: func(s Step) float64 { return float64(s.Step) }},
	{key: "tokens", label: "training tokens (count)", of: func(s Step) float64 { return float64(s.Tokens) }, tick: siLabel, log: true},
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
		seen[g.rec.LR] = true
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
				switch {
				case ax.log && spansDecades(allX):
					setLog(&p.X, ax.tick)
				case ax.key == "steps":
					p.X.Min = 0
				default:
					p.X.Tick.Marker = niceTicker{label: ax.tick}
				}
				figs = append(figs, newFigure("loss_"+names[si]+"_"+ax.key, title+" vs "+ax.key,
					"Training loss (exponential moving average over about 2% of the run's steps, at most 100; raw values faint) per "+
						"configuration; with several seeds the line is their mean and the band their min–max (no band with one seed). "+
						"Filled markers: the periodic 'val' evaluation (mean over seeds); rings: the final 'final_val' evaluation, "+
						"a different protocol (more batches), drawn apart and never averaged with 'val'. "+
						"Runs still training are drawn as far as they got.", p))
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
	valAt        []Step   // rows of the 'val' evaluated steps (Step only when not logged)
	valMean      []float64
	valHasRow    []bool
	finAt        []Step // the same for the 'final_val' evaluations
	finMean      []float64
	finHasRow    []bool
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
	// Validation points, one protocol per series: 'val' and 'final_val'
	// are never averaged together.
	c.valAt, c.valMean, c.valHasRow = g.evalSeries(SplitVal, rowOf)
	c.finAt, c.finMean, c.finHasRow = g.evalSeries(SplitFinalVal, rowOf)
	g.lc = c
	return c
}

// evalSeries returns, for one split, the mean loss over seeds at each
// evaluated step with the step's logged row (hasRow false when none).
func (g *group) evalSeries(split string, rowOf map[int64]Step) (at []Step, mean []float64, hasRow []bool) {
	byStep := map[int64][]float64{}
	for _, r := range g.runs {
		for _, ev := range r.Evals {
			if ev.Split == split && !math.IsNaN(ev.Loss) && !math.IsInf(ev.Loss, 0) {
				byStep[ev.Step] = append(byStep[ev.Step], ev.Loss)
			}
		}
	}
	steps := make([]int64, 0, len(byStep))
	for st := range byStep {
		steps = append(steps, st)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	for _, st := range steps {
		row, ok := rowOf[st]
		if !ok {
			row, ok = g.stepRow(st)
		}
		if !ok {
			row = Step{Step: st}
		}
		at, mean, hasRow = append(at, row), append(mean, Mean(byStep[st])), append(hasRow, ok)
	}
	return at, mean, hasRow
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
		for _, series := range []struct {
			at    []Step
			mean  []float64
			row   []bool
			glyph draw.GlyphDrawer
		}{{c.valAt, c.valMean, c.valHasRow, glyphs[k%len(glyphs)]}, {c.finAt, c.finMean, c.finHasRow, draw.RingGlyph{}}} {
			var vp plotter.XYs
			for i, s := range series.at {
				if !series.row[i] && ax.key != "steps" {
					continue // no logged row to place it by tokens or FLOPs
				}
				x := ax.of(s)
				if ax.log && x <= 0 {
					continue
				}
				vp = append(vp, plotter.XY{X: x, Y: series.mean[i]})
				*allX = append(*allX, x)
			}
			if len(vp) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(vp)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: series.glyph}
			p.Add(sc)
			if len(mean) == 0 {
				p.Legend.Add(label, sc)
				mean = vp // one legend entry per configuration
			}
		}
	}
	return nil
}

// addErrPoints draws points with their 95% t-interval bars (points with one
// seed get none) and returns the scatter for the legend.
func addErrPoints(p *plot.Plot, xys plotter.XYs, ivs []Interval, col color.Color, glyph draw.GlyphDrawer) (*plotter.Scatter, error) {
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: glyph}
	var ep errPoints
	for i, iv := range ivs {
		if iv.N >= 2 && !math.IsNaN(iv.HalfWidth) {
			ep.XYs = append(ep.XYs, xys[i])
			ep.YErrors = append(ep.YErrors, struct{ Low, High float64 }{iv.HalfWidth, iv.HalfWidth})
		}
	}
	if len(ep.XYs) > 0 {
		eb, err := plotter.NewYErrorBars(ep)
		if err != nil {
			return nil, err
		}
		eb.Color = col
		p.Add(eb)
	}
	p.Add(sc)
	return sc, nil
}

// seedNote says what the error bars of a figure are, from the number of
// seeds behind each point: none with one seed (n = 1), else the 95%
// t-interval of the mean.
func seedNote(ns []int) string {
	if len(ns) == 0 {
		return ""
	}
	lo, hi := ns[0], ns[0]
	for _, n := range ns {
		lo, hi = min(lo, n), max(hi, n)
	}
	nr := strconv.Itoa(hi)
	if lo != hi {
		nr = strconv.Itoa(lo) + "–" + strconv.Itoa(hi)
	}
	switch {
	case hi < 2:
		return "n = 1 seed per point: no error bars (one seed gives no interval)."
	case lo < 2:
		return "Error bars: 95% t-interval of the mean over n = " + nr + " seeds; points with n = 1 have none."
	}
	return "Error bars: 95% t-interval of the mean over n = " + nr + " seeds."
}

// paramFigures draws final validation loss against parameters (total and
// non-embedding) with 95% intervals over seeds and, for families whose fit
// has residual degrees of freedom, the fitted law; it also returns the
// headline statements.
func (a *analysis) paramFigures(pal palette) (figs []Figure, headlines []string, err error) {
	for _, e := range a.experiments {
		for _, kind := range []struct {
			key, label string
		}{{"total", "parameters (total, true count)"}, {"non_embedding", "non-embedding parameters (true count)"}} {
			s := a.scaling(e, kind.key)
			if len(s.families) == 0 {
				continue
			}
			title := "Parameter efficiency: " + e
			p := newPlot(title, kind.label, "final validation loss (nats/token)")
			var xs []float64
			var ns []int
			var drawn, notDrawn []string
			bestOf := false
			for k, f := range s.families {
				ff := s.fits[f]
				var xys plotter.XYs
				var ivs []Interval
				for _, sp := range ff.pts {
					xys = append(xys, plotter.XY{X: sp.params, Y: sp.mean})
					ivs = append(ivs, sp.iv)
					xs = append(xs, sp.params)
					ns = append(ns, sp.iv.N)
					bestOf = bestOf || sp.choices > 1
				}
				col := pal.color(f, 0xff)
				sc, err := addErrPoints(p, xys, ivs, col, glyphs[k%len(glyphs)])
				if err != nil {
					return nil, nil, err
				}
				if !ff.usable() {
					p.Legend.Add(f, sc)
					notDrawn = append(notDrawn, ff.why())
					continue
				}
				law := ff.law
				var line plotter.XYs
				for i := 0; i <= 100; i++ {
					n := math.Exp(math.Log(law.NMin) + (math.Log(law.NMax)-math.Log(law.NMin))*float64(i)/100)
					line = append(line, plotter.XY{X: n, Y: law.At(n)})
				}
				l, err := plotter.NewLine(line)
				if err != nil {
					return nil, nil, err
				}
				l.Color = col
				l.Dashes = dashes[1]
				p.Add(l)
				p.Legend.Add(fmt.Sprintf("%s: %s (dof %d, RMSE %s)", f, law, law.DOF, fmtE(law.RMSE)), sc, l)
				drawn = append(drawn, f)
			}
			if distinctCount(xs) > 1 {
				setLog(&p.X, siLabel)
			}
			caption := "Final validation loss ('final_val', else the last 'val') of finished runs against the true " +
				"parameter count, mean over seeds. " + seedNote(ns)
			if bestOf {
				caption += " At each size the configuration (e.g. learning rate) with the lowest mean is shown: a best-of over the sweep, chosen on the same split it reports, so it is biased low."
			}
			if len(drawn) > 0 {
				caption += " Dashed: L(N) = a·N^-b + c fitted to the size means (" + PowerLawMethod + ") for " + strings.Join(drawn, ", ") + "."
			}
			for _, w := range notDrawn {
				caption += " No law drawn: " + w + "."
			}
			figs = append(figs, newFigure("params_"+slug(e)+"_"+kind.key, title+" ("+kind.key+" parameters)", caption, p))
			headlines = append(headlines, s.headlines()...)
		}
	}
	return figs, headlines, nil
}

// scaling returns (once) the scaling analysis of an experiment.
func (a *analysis) scaling(exp, kind string) *scaling {
	key := exp + "\x00" + kind
	if s, ok := a.scalings[key]; ok {
		return s
	}
	s := a.analyseScaling(exp, kind)
	a.scalings[key] = s
	return s
}

// computeFigures draws final validation loss against training FLOPs and
// against wall time, one point per configuration with its interval over seeds.
func (a *analysis) computeFigures(pal palette) ([]Figure, error) {
	var figs []Figure
	for _, e := range a.experiments {
		for _, kind := range []struct {
			key, label string
			x          func(groupFinal) float64
			tick       func(float64) string
		}{
			{"flops", "training compute (FLOPs)", func(f groupFinal) float64 { return f.flops }, expLabel},
			{"wall", "training wall time (s)", func(f groupFinal) float64 { return f.wallS }, secondsLabel},
		} {
			title := "Compute efficiency: " + e
			p := newPlot(title, kind.label, "final validation loss (nats/token)")
			var xs []float64
			var ns []int
			xys := map[string]plotter.XYs{}
			ivs := map[string][]Interval{}
			var order []string
			for _, g := range a.groups[e] {
				vals := g.finalValsBySeed()
				if len(vals) == 0 {
					continue
				}
				x := kind.x(g.final())
				if !(x > 0) {
					continue
				}
				iv, _ := TInterval(vals, ConfidenceLevel)
				if _, ok := xys[g.family]; !ok {
					order = append(order, g.family)
				}
				xys[g.family] = append(xys[g.family], plotter.XY{X: x, Y: iv.Mean})
				ivs[g.family] = append(ivs[g.family], iv)
				xs = append(xs, x)
				ns = append(ns, iv.N)
			}
			if len(order) == 0 {
				continue
			}
			sort.Slice(order, func(i, j int) bool { return lessFamily(order[i], order[j]) })
			for k, f := range order {
				sc, err := addErrPoints(p, xys[f], ivs[f], pal.color(f, 0xff), glyphs[k%len(glyphs)])
				if err != nil {
					return nil, err
				}
				p.Legend.Add(f, sc)
			}
			if distinctCount(xs) > 1 {
				setLog(&p.X, kind.tick)
			}
			figs = append(figs, newFigure("compute_"+slug(e)+"_"+kind.key, title+" ("+kind.key+")",
				"Final validation loss of each finished configuration against its training "+kind.label+
					" (mean over seeds). "+seedNote(ns), p))
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
			xys           plotter.XYs
			ivs           []Interval
		}
		byKey := map[string]*series{}
		var keys []string
		var ns []int
		for _, g := range gs {
			vals := g.finalValsBySeed()
			if len(vals) == 0 || !(g.rec.LR > 0) {
				continue
			}
			k := g.family + "\x00" + g.rec.Shape()
			s, ok := byKey[k]
			if !ok {
				s = &series{family: g.family, shape: g.rec.Shape(), params: g.paramsTot}
				byKey[k] = s
				keys = append(keys, k)
			}
			iv, _ := TInterval(vals, ConfidenceLevel)
			s.xys = append(s.xys, plotter.XY{X: g.rec.LR, Y: iv.Mean})
			s.ivs = append(s.ivs, iv)
			ns = append(ns, iv.N)
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
			order := make([]int, len(s.xys))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(i, j int) bool { return s.xys[order[i]].X < s.xys[order[j]].X })
			xys := make(plotter.XYs, len(order))
			ivs := make([]Interval, len(order))
			for i, o := range order {
				xys[i], ivs[i] = s.xys[o], s.ivs[o]
			}
			col := pal.color(s.family, 0xff)
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, err
			}
			l.Color = col
			l.Dashes = dashes[idx%len(dashes)]
			p.Add(l)
			sc, err := addErrPoints(p, xys, ivs, col, glyphs[idx%len(glyphs)])
			if err != nil {
				return nil, err
			}
			label := s.family + " " + s.shape
			if s.params > 0 {
				label += " (" + siLabel(float64(s.params)) + " params)"
			}
			p.Legend.Add(label, l, sc)
		}
		setLog(&p.X, lrLabel)
		figs = append(figs, newFigure("lr_"+slug(e), title,
			"Final validation loss of finished configurations against the peak learning rate, per family "+
				"and size (mean over seeds). "+seedNote(ns), p))
	}
	return figs, nil
}

package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// ConfidenceLevel is the level of every interval the report states.
const ConfidenceLevel = 0.95

// sizePoint is a family's chosen configuration at one size: its final
// validation losses over seeds, their mean and the 95% t-interval of the mean.
type sizePoint struct {
	params float64
	vals   []float64 // final validation loss per finished seed, by seed
	seeds  []uint64  // the seeds of vals
	mean   float64
	iv     Interval // t-interval of the mean (NaN bounds when n = 1)
	g      *group
	// choices is the number of configurations (e.g. learning rates) this
	// size's point was the best of.
	choices int
}

// familySizes returns, per family (in family order), the finished
// configurations' final validation loss by size: at each size the
// configuration (e.g. learning rate) with the lowest mean, which is a best-of
// over the sweep selected on the reported split (the caption says so).
// nonEmb selects the non-embedding count.
func familySizes(gs []*group, nonEmb bool) (families []string, pts map[string][]sizePoint) {
	pts = map[string][]sizePoint{}
	best := map[string]map[int64]sizePoint{}
	count := map[string]map[int64]int{}
	for _, g := range gs {
		vals, seeds := g.finalValsAndSeeds()
		if len(vals) == 0 {
			continue
		}
		n := g.paramsTot
		if nonEmb {
			n = g.paramsNE
		}
		if n <= 0 {
			continue
		}
		iv, _ := TInterval(vals, ConfidenceLevel)
		sp := sizePoint{params: float64(n), vals: vals, seeds: seeds, mean: iv.Mean, iv: iv, g: g}
		if best[g.family] == nil {
			best[g.family] = map[int64]sizePoint{}
			count[g.family] = map[int64]int{}
			families = append(families, g.family)
		}
		count[g.family][n]++
		if old, ok := best[g.family][n]; !ok || sp.mean < old.mean {
			best[g.family][n] = sp
		}
	}
	sort.Slice(families, func(i, j int) bool { return lessFamily(families[i], families[j]) })
	for _, f := range families {
		for n, sp := range best[f] {
			sp.choices = count[f][n]
			pts[f] = append(pts[f], sp)
		}
		sort.Slice(pts[f], func(i, j int) bool { return pts[f][i].params < pts[f][j].params })
	}
	return families, pts
}

// familyFit is a family's power-law fit over its size points.
type familyFit struct {
	family string
	pts    []sizePoint
	law    PowerLaw
	err    error // why there is no fit at all
}

// usable reports whether the fit exists and has residual degrees of freedom.
func (f *familyFit) usable() bool { return f.err == nil && f.law.Usable() }

// why says, when the fit is not usable, why not (for captions and headlines).
func (f *familyFit) why() string {
	switch {
	case errors.Is(f.err, errFewSizes):
		return fmt.Sprintf("%s has %d finished size(s); a fit of L(N) = a·N^-b + c needs at least 4 (3 parameters plus 1 residual degree of freedom)", f.family, len(f.pts))
	case f.err != nil:
		return fmt.Sprintf("%s: %v", f.family, f.err)
	case !f.law.Usable():
		return fmt.Sprintf("the %s fit of L(N) = a·N^-b + c to %d sizes has %d residual degrees of freedom: with 3 parameters it passes through every point (RMSE %s), so it is not evidence of a law; run at least 4 sizes",
			f.family, f.law.Points, f.law.DOF, fmtE(f.law.RMSE))
	}
	return ""
}

// fitPoints fits the power law to size points with the given means.
func fitPoints(pts []sizePoint, means []float64) (PowerLaw, error) {
	n := make([]float64, len(pts))
	for i, p := range pts {
		n[i] = p.params
	}
	return FitPowerLaw(n, means)
}

// exchangeRate is how many baseline parameters one candidate parameter is
// worth at one candidate size, at equal final validation loss.
type exchangeRate struct {
	candParams, candLoss float64
	baseParams           float64 // baseline size with the candidate's loss on the fit (+Inf: below its asymptote)
	rate                 float64 // baseParams / candParams
	lo, hi               float64 // 95% percentile-bootstrap interval; NaN when there is none
	noInterval           string  // why there is no interval
	replicates, failed   int     // bootstrap resamples, and those whose baseline fit failed
	paired               bool    // seeds were resampled jointly across all points (see exchangeRates)
	extrapolated         bool    // the baseline size lies outside the fitted sizes
}

// scaling is one experiment's size analysis for one parameter count.
type scaling struct {
	experiment, kind string // kind: total or non_embedding
	families         []string
	fits             map[string]*familyFit
	rates            map[string][]exchangeRate // by "cand\x00base"; only for usable baseline fits
}

// analyseScaling fits each family and, for every usable baseline fit,
// computes the exchange rate of each candidate size with its bootstrap
// interval over seeds.
func (a *analysis) analyseScaling(exp, kind string) *scaling {
	fams, pts := familySizes(a.groups[exp], kind == "non_embedding")
	s := &scaling{experiment: exp, kind: kind, families: fams, fits: map[string]*familyFit{}, rates: map[string][]exchangeRate{}}
	for _, f := range fams {
		ff := &familyFit{family: f, pts: pts[f]}
		means := make([]float64, len(pts[f]))
		for i, p := range pts[f] {
			means[i] = p.mean
		}
		ff.law, ff.err = fitPoints(pts[f], means)
		s.fits[f] = ff
	}
	for _, cand := range fams {
		if isBaseline(cand) {
			continue
		}
		for _, base := range fams {
			if !isBaseline(base) || !s.fits[base].usable() {
				continue
			}
			s.rates[cand+"\x00"+base] = exchangeRates(exp+"/"+kind+"/"+cand+"/"+base, s.fits[base], pts[cand])
		}
	}
	return s
}

// exchangeRates inverts the baseline fit at each candidate size's mean loss
// and bootstraps the ratio over seeds: each replicate resamples, with
// replacement, the seeds of every baseline and candidate point, refits the
// baseline law and recomputes every ratio.
func exchangeRates(salt string, base *familyFit, cand []sizePoint) []exchangeRate {
	law := base.law
	out := make([]exchangeRate, len(cand))
	for i, sp := range cand {
		n := law.Inverse(sp.mean)
		out[i] = exchangeRate{candParams: sp.params, candLoss: sp.mean, baseParams: n, rate: n / sp.params,
			lo: math.NaN(), hi: math.NaN()}
		out[i].extrapolated = !math.IsInf(n, 1) && (n < law.NMin*(1-1e-6) || n > law.NMax*(1+1e-6))
	}
	single := false
	for _, p := range base.pts {
		single = single || len(p.vals) < 2
	}
	for i, sp := range cand {
		if single || len(sp.vals) < 2 {
			out[i].noInterval = "n = 1 seed at some size: no interval over seeds"
		}
	}
	if single {
		return out
	}
	// When every point finished the same seeds, a resample draws seeds
	// (with replacement) once and takes every point's mean over them: the
	// runs of one seed share their initialisation and data streams, so their
	// losses may move together, and a joint resample keeps that. Otherwise
	// each point's seeds are resampled on their own.
	seeds := base.pts[0].seeds
	paired := true
	for _, p := range append(append([]sizePoint(nil), base.pts...), cand...) {
		paired = paired && slices.Equal(p.seeds, seeds)
	}
	rng := newBootstrapRNG(salt)
	reps := make([][]float64, len(cand))
	means := make([]float64, len(base.pts))
	cm := make([]float64, len(cand))
	idx := make([]int, len(seeds))
	at := func(xs []float64) float64 {
		if !paired {
			return resampleMean(rng, xs)
		}
		s := 0.0
		for _, i := range idx {
			s += xs[i]
		}
		return s / float64(len(idx))
	}
	failed := 0
	for b := 0; b < BootstrapReplicates; b++ {
		if paired {
			for i := range idx {
				idx[i] = rng.IntN(len(seeds))
			}
		}
		for i, p := range base.pts {
			means[i] = at(p.vals)
		}
		for i, sp := range cand {
			if len(sp.vals) >= 2 {
				cm[i] = at(sp.vals)
			}
		}
		fit, err := fitPoints(base.pts, means)
		if err != nil {
			failed++
			continue
		}
		for i, sp := range cand {
			if len(sp.vals) >= 2 {
				reps[i] = append(reps[i], fit.Inverse(cm[i])/sp.params)
			}
		}
	}
	for i := range cand {
		out[i].replicates, out[i].failed, out[i].paired = BootstrapReplicates, failed, paired
		if out[i].noInterval == "" && len(reps[i]) > 0 {
			out[i].lo, out[i].hi = percentileInterval(reps[i], ConfidenceLevel)
		} else if out[i].noInterval == "" {
			out[i].noInterval = "every bootstrap refit failed"
		}
	}
	return out
}

// fmtRate formats an exchange rate; +Inf reads "∞".
func fmtRate(x float64) string {
	if math.IsInf(x, 1) {
		return "∞"
	}
	return fmtG(x)
}

// headlines states the exchange rates of the scaling analysis, or why
// there are none.
func (s *scaling) headlines() []string {
	var out []string
	for _, cand := range s.families {
		if isBaseline(cand) {
			continue
		}
		for _, base := range s.families {
			if !isBaseline(base) {
				continue
			}
			prefix := fmt.Sprintf("%s (%s parameters): %s vs %s: ", s.experiment, strings.ReplaceAll(s.kind, "_", "-"), cand, base)
			bf := s.fits[base]
			if !bf.usable() {
				out = append(out, prefix+"no exchange rate is stated: "+bf.why()+". The matched-pair table compares the pairs size by size with paired t intervals.")
				continue
			}
			rates := s.rates[cand+"\x00"+base]
			var parts []string
			extrap, beyond := 0, 0
			for _, r := range rates {
				if math.IsInf(r.baseParams, 1) {
					beyond++
					continue
				}
				p := fmt.Sprintf("%s at %s %s parameters", fmtRate(r.rate), siLabel(r.candParams), cand)
				if r.noInterval == "" {
					p = fmt.Sprintf("%s (95%% CI %s–%s) at %s %s parameters", fmtRate(r.rate), fmtRate(r.lo), fmtRate(r.hi), siLabel(r.candParams), cand)
				} else {
					p += " (" + r.noInterval + ")"
				}
				if r.extrapolated {
					extrap++
					p += " [extrapolated]"
				}
				parts = append(parts, p)
			}
			st := prefix
			if len(parts) > 0 {
				st += fmt.Sprintf("one %s parameter is worth, in %s parameters at equal final validation loss, %s", cand, base, strings.Join(parts, "; "))
			} else {
				st += "no " + cand + " size has a loss the " + base + " fit reaches"
			}
			law := bf.law
			st += fmt.Sprintf(". %s fit %s over %d sizes %s–%s: %d residual dof, RMSE %s", base, law, law.Points,
				siLabel(law.NMin), siLabel(law.NMax), law.DOF, fmtE(law.RMSE))
			if len(rates) > 0 && rates[0].replicates > 0 {
				how := "each point's seeds resampled on their own"
				if rates[0].paired {
					how = "seeds resampled jointly across sizes and families"
				}
				st += fmt.Sprintf("; intervals: percentile bootstrap over seeds (%s), %d resamples", how, rates[0].replicates)
				if rates[0].failed > 0 {
					st += fmt.Sprintf(" (%d refits failed and are left out)", rates[0].failed)
				}
			}
			if extrap > 0 {
				st += fmt.Sprintf("; %d of the rates extrapolate the fit beyond its sizes", extrap)
			}
			if beyond > 0 {
				st += fmt.Sprintf("; %d %s sizes reach a loss below the %s fit's asymptote c = %s", beyond, cand, base, fmtG(law.C))
			}
			out = append(out, st+".")
		}
	}
	return out
}

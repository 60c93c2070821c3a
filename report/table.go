package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Table is a report table, written as Markdown and as CSV with the same
// columns and cells (numbers fixed-format, NaN as an empty cell).
type Table struct {
	// Name is the file stem, e.g. "param_efficiency".
	Name string
	// Title is the Markdown heading.
	Title string
	// Note is printed under the heading (Markdown only).
	Note   string
	Header []string
	Rows   [][]string
}

// Markdown renders the table as a GitHub-flavoured Markdown document.
func (t Table) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", t.Title)
	if t.Note != "" {
		fmt.Fprintf(&b, "%s\n\n", t.Note)
	}
	if len(t.Rows) == 0 {
		b.WriteString("(no rows)\n")
		return b.Bytes()
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdEscape(c) + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|")
	for range t.Header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	return b.Bytes()
}

// CSV renders the header and rows as RFC 4180 CSV.
func (t Table) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(t.Header); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	if err := w.WriteAll(t.Rows); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	return b.Bytes(), nil
}

// mdEscape makes a cell safe inside a Markdown table row.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// fmtF formats x with prec decimals; NaN and infinities give "".
func fmtF(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return ""
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// fmtG formats x with 4 significant digits; NaN gives "".
func fmtG(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// fmtE formats x in scientific notation with 3 significant digits.
func fmtE(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return ""
	}
	return strconv.FormatFloat(x, 'e', 2, 64)
}

// fmtI formats an integer, empty when zero (unknown).
func fmtI(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// paramNote explains which parameter count the report shows.
const paramNote = "Parameter counts are the true counts of the implemented code (tied embedding counted once). " +
	"The Silia paper's text gives 8·H·C² per layer; its published code, and this project, have 9·H·C², " +
	"so Silia counts here are higher than the paper's (e.g. 819,200 rather than 786,432 for C=64, H=4, L=2)."

// paramTable is the parameter-efficiency table: one row per configuration
// (runs identical except for the seed), matched pairs adjacent.
func (a *analysis) paramTable() Table {
	t := Table{
		Name:  "param_efficiency",
		Title: "Parameter efficiency",
		Note: paramNote + " Losses are mean and sample standard deviation over finished seeds, with the 95% t-interval " +
			"of the mean validation loss (empty with one seed) " +
			"(over the runs reached so far when none has finished; see status). Validation loss is the " +
			"'final_val' evaluation, else the last 'val' one; training loss the last 'train' evaluation, else the " +
			"smoothed training loss; accuracy is the last task evaluation's (synthetic tasks only). " +
			"Wall time is training time (summed over resumes).",
		Header: []string{"experiment", "family", "shape", "lr", "seeds", "params_total", "params_non_embedding",
			"flops_per_token", "tokens_trained", "train_loss", "train_loss_std", "val_loss", "val_loss_std", "val_loss_ci95_lo", "val_loss_ci95_hi",
			"val_bpb", "accuracy", "tokens_per_s", "wall_s", "status"},
	}
	for _, e := range a.experiments {
		for _, g := range a.groups[e] {
			f := g.final()
			t.Rows = append(t.Rows, []string{
				e, g.family, g.rec.Shape(), fmtG(g.rec.LR), strconv.Itoa(len(g.runs)),
				fmtI(g.paramsTot), fmtI(g.paramsNE), fmtI(g.flopsTok), fmtF(f.tokens, 0),
				fmtF(f.trainMean, 4), fmtF(f.trainStd, 4), fmtF(f.valMean, 4), fmtF(f.valStd, 4), fmtF(f.valCI.Lo, 4), fmtF(f.valCI.Hi, 4),
				fmtF(f.bpbMean, 4), fmtF(f.accMean, 4), fmtF(f.tokPerS, 0), fmtF(f.wallS, 1), g.status(),
			})
		}
	}
	return t
}

// pairResult is a matched pair's comparison: the per-seed differences of
// final validation loss and their paired t-interval.
type pairResult struct {
	pair
	seeds        []uint64
	baseLoss     []float64 // by seed
	candLoss     []float64
	delta        Interval // of cand − base
	verdict      string
	baseN, candN int
}

// pairResults compares the matched pairs of an experiment.
func (a *analysis) pairResults(e string) ([]pairResult, error) {
	var out []pairResult
	for _, p := range a.pairs(e) {
		seeds, diffs := p.pairedDiffs()
		bv, cv := p.base.finalVals(), p.cand.finalVals()
		r := pairResult{pair: p, seeds: seeds}
		for _, s := range seeds {
			r.baseLoss, r.candLoss = append(r.baseLoss, bv[s]), append(r.candLoss, cv[s])
		}
		iv, err := TInterval(diffs, ConfidenceLevel)
		if err != nil {
			return nil, fmt.Errorf("pair %s: %w", p.key, err)
		}
		r.delta = iv
		switch {
		case len(diffs) == 0:
			r.verdict = "no seed finished by both"
		case len(diffs) == 1:
			r.verdict = "n=1, no interval"
		case iv.ContainsZero():
			r.verdict = "within noise"
		case iv.Hi < 0:
			r.verdict = p.cand.family + " better"
		default:
			r.verdict = p.base.family + " better"
		}
		out = append(out, r)
	}
	return out, nil
}

// pairTable compares each matched pair's final validation loss, paired by
// seed, with a 95% t-interval of the difference.
func (a *analysis) pairTable() (Table, error) {
	t := Table{
		Name:  "pairs",
		Title: "Matched pairs",
		Note: "Difference in final validation loss, candidate − baseline (negative: the candidate is better), " +
			"paired by seed over the seeds both finished, with a 95% paired t-interval (Student's t with " +
			"n−1 degrees of freedom; none with n = 1). 'within noise': the interval contains 0. " + paramNote,
		Header: []string{"experiment", "pair", "baseline", "candidate", "baseline_params", "candidate_params",
			"n", "seeds", "baseline_val_loss", "candidate_val_loss", "delta_val_loss", "ci95_lo", "ci95_hi", "verdict"},
	}
	for _, e := range a.experiments {
		prs, err := a.pairResults(e)
		if err != nil {
			return t, err
		}
		for _, r := range prs {
			ss := make([]string, len(r.seeds))
			for i, s := range r.seeds {
				ss[i] = strconv.FormatUint(s, 10)
			}
			t.Rows = append(t.Rows, []string{
				e, r.key, r.base.family + " " + r.base.rec.Shape(), r.cand.family + " " + r.cand.rec.Shape(),
				fmtI(r.base.paramsTot), fmtI(r.cand.paramsTot), strconv.Itoa(len(r.seeds)), strings.Join(ss, " "),
				fmtF(Mean(r.baseLoss), 4), fmtF(Mean(r.candLoss), 4), fmtF(r.delta.Mean, 4), fmtF(r.delta.Lo, 4), fmtF(r.delta.Hi, 4), r.verdict,
			})
		}
	}
	return t, nil
}

// claim compares a configuration's measured final validation loss with the
// number its experiment's reference: publishes for the family.
type claim struct {
	experiment, family string
	g                  *group
	source             string
	published          float64
	measured           Interval // t-interval of the mean over seeds
	verdict            string
}

// claims lists, for every configuration whose runs carry a published
// reference, published against measured.
func (a *analysis) claims() []claim {
	var out []claim
	for _, e := range a.experiments {
		for _, g := range a.groups[e] {
			if g.rec.ReferenceSource == "" || math.IsNaN(g.rec.ReferenceValLoss) {
				continue
			}
			iv, _ := TInterval(g.finalValsBySeed(), ConfidenceLevel)
			c := claim{experiment: e, family: g.family, g: g, source: g.rec.ReferenceSource,
				published: g.rec.ReferenceValLoss, measured: iv}
			switch {
			case iv.N == 0:
				c.verdict = "not measured yet"
			case iv.N == 1:
				c.verdict = "n=1, no interval"
			case c.published >= iv.Lo && c.published <= iv.Hi:
				c.verdict = "consistent (published inside the interval)"
			case c.published < iv.Lo:
				c.verdict = "measured higher than published"
			default:
				c.verdict = "measured lower than published"
			}
			out = append(out, c)
		}
	}
	return out
}

// claimsTable shows published against measured final validation losses.
func (a *analysis) claimsTable() Table {
	t := Table{
		Name:  "claims",
		Title: "Published against measured",
		Note: "Final validation loss an experiment's reference: says was published for a family, against the measured " +
			"mean over finished seeds with its 95% t-interval (none with n = 1). The published number is compared as " +
			"stated: tokenizer, data and budget must match the source for the comparison to mean anything.",
		Header: []string{"experiment", "family", "shape", "params_total", "source", "published_val_loss",
			"measured_val_loss", "n", "ci95_lo", "ci95_hi", "measured_minus_published", "verdict"},
	}
	for _, c := range a.claims() {
		t.Rows = append(t.Rows, []string{
			c.experiment, c.family, c.g.rec.Shape(), fmtI(c.g.paramsTot), c.source, fmtF(c.published, 4),
			fmtF(c.measured.Mean, 4), strconv.Itoa(c.measured.N), fmtF(c.measured.Lo, 4), fmtF(c.measured.Hi, 4),
			fmtF(c.measured.Mean-c.published, 4), c.verdict,
		})
	}
	return t
}

// runsTable lists every run with its state, failures with their reasons.
func (a *analysis) runsTable() Table {
	t := Table{
		Name:   "runs",
		Title:  "Runs",
		Note:   "Every run in the database; failed runs with the step and reason they failed.",
		Header: []string{"run", "experiment", "family", "seed", "status", "step", "steps_total", "final_val_loss", "host", "blas"},
	}
	for _, r := range a.runs {
		fv := math.NaN()
		if e, ok := r.finalVal(); ok {
			fv = e.Loss
		}
		status := r.progress()
		if r.Nonreproducible {
			status += " (nonreproducible)"
		}
		t.Rows = append(t.Rows, []string{
			r.Name, r.Experiment, r.Family, strconv.FormatUint(r.Seed, 10), status,
			strconv.FormatInt(r.Step, 10), strconv.FormatInt(r.StepsTotal, 10), fmtF(fv, 4), r.Host, r.BLAS,
		})
	}
	return t
}

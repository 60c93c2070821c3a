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
		Note: paramNote + " Losses are mean and sample standard deviation over finished seeds " +
			"(over the runs reached so far when none has finished; see status). Validation loss is the " +
			"'final_val' evaluation, else the last 'val' one; training loss the last 'train' evaluation, else the " +
			"smoothed training loss; accuracy is the last task evaluation's (synthetic tasks only). " +
			"Wall time is training time (summed over resumes).",
		Header: []string{"experiment", "family", "shape", "lr", "seeds", "params_total", "params_non_embedding",
			"flops_per_token", "tokens_trained", "train_loss", "train_loss_std", "val_loss", "val_loss_std",
			"val_bpb", "accuracy", "tokens_per_s", "wall_s", "status"},
	}
	for _, e := range a.experiments {
		for _, g := range a.groups[e] {
			f := g.final()
			t.Rows = append(t.Rows, []string{
				e, g.family, g.cfg.Shape(), fmtG(g.cfg.LR), strconv.Itoa(len(g.runs)),
				fmtI(g.paramsTot), fmtI(g.paramsNE), fmtI(g.flopsTok), fmtF(f.tokens, 0),
				fmtF(f.trainMean, 4), fmtF(f.trainStd, 4), fmtF(f.valMean, 4), fmtF(f.valStd, 4),
				fmtF(f.bpbMean, 4), fmtF(f.accMean, 4), fmtF(f.tokPerS, 0), fmtF(f.wallS, 1), g.status(),
			})
		}
	}
	return t
}

// pairTable compares each matched pair's final validation loss, paired by
// seed, with a 95% t-interval of the difference.
func (a *analysis) pairTable() (Table, error) {
	t := Table{
		Name:  "pairs",
		Title: "Matched pairs",
		Note: "Difference in final validation loss, candidate − baseline (negative: the candidate is better), " +
			"paired by seed over the seeds both finished, with a 95% confidence interval from the t-distribution " +
			"with n−1 degrees of freedom. 'within noise': the interval contains 0. " + paramNote,
		Header: []string{"experiment", "pair", "baseline", "candidate", "baseline_params", "candidate_params",
			"n", "seeds", "baseline_val_loss", "candidate_val_loss", "delta_val_loss", "ci95_lo", "ci95_hi", "verdict"},
	}
	for _, e := range a.experiments {
		for _, p := range a.pairs(e) {
			seeds, diffs := p.pairedDiffs()
			bv, cv := p.base.finalVals(), p.cand.finalVals()
			var bl, cl []float64
			for _, s := range seeds {
				bl, cl = append(bl, bv[s]), append(cl, cv[s])
			}
			iv, err := TInterval(diffs, 0.95)
			if err != nil {
				return t, fmt.Errorf("pair %s: %w", p.key, err)
			}
			verdict := ""
			switch {
			case len(diffs) == 0:
				verdict = "no seed finished by both"
			case len(diffs) == 1:
				verdict = "n=1, no interval"
			case iv.ContainsZero():
				verdict = "within noise"
			case iv.Hi < 0:
				verdict = p.cand.family + " better"
			default:
				verdict = p.base.family + " better"
			}
			ss := make([]string, len(seeds))
			for i, s := range seeds {
				ss[i] = strconv.FormatUint(s, 10)
			}
			t.Rows = append(t.Rows, []string{
				e, p.key, p.base.family + " " + p.base.cfg.Shape(), p.cand.family + " " + p.cand.cfg.Shape(),
				fmtI(p.base.paramsTot), fmtI(p.cand.paramsTot), strconv.Itoa(len(diffs)), strings.Join(ss, " "),
				fmtF(Mean(bl), 4), fmtF(Mean(cl), 4), fmtF(iv.Mean, 4), fmtF(iv.Lo, 4), fmtF(iv.Hi, 4), verdict,
			})
		}
	}
	return t, nil
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

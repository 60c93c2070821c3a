package export

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tinyscale/tinyscale/store"
)

// StepColumns are the first columns of every run's CSV file, in order; see
// docs/metrics.md. Evaluation columns follow (EvalColumns, then three per
// task split).
var StepColumns = []string{"step", "tokens", "flops", "wall_time", "elapsed_s", "loss", "lr", "grad_norm", "step_ms"}

// EvalColumns are the evaluation columns every run's CSV file has after
// StepColumns, for the standard splits: the loss (nats per token) and bits
// per byte of the evaluation on the training split, the validation split
// and the final validation.
var EvalColumns = []string{"train_eval_loss", "train_eval_bpb", "val_loss", "val_bpb", "final_val_loss", "final_val_bpb"}

// standardSplits maps a standard split to its column prefix in EvalColumns.
var standardSplits = map[string]string{store.SplitTrain: "train_eval", store.SplitVal: "val", store.SplitFinalVal: "final_val"}

// CSV renders one run as CSV: a header row, then one row per step number
// that has a logged training step or an evaluation, in step order. Missing
// values (no evaluation at that step, a NaN, an evaluation-only row's
// training columns) are empty cells; numbers are plain decimal; wall_time is
// Unix seconds with microseconds, from the stored timestamp of the step (of
// the row's first evaluation when the step was not logged). Evaluations on
// task splits (neither train, val nor final_val) add the columns
// <task>_loss, <task>_bpb and <task>_accuracy, tasks sorted by name.
func CSV(rd RunData) ([]byte, error) {
	var tasks []string
	seenTask := map[string]bool{}
	for _, e := range rd.Evals {
		if _, ok := standardSplits[e.Split]; !ok && !seenTask[e.Split] {
			seenTask[e.Split] = true
			tasks = append(tasks, e.Split)
		}
	}
	sort.Strings(tasks)
	header := append(append([]string{}, StepColumns...), EvalColumns...)
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	prefix := map[string]string{}
	for s, p := range standardSplits {
		prefix[s] = p
	}
	for _, t := range tasks {
		p := columnName(t)
		for _, suffix := range []string{"_loss", "_bpb", "_accuracy"} {
			if _, dup := col[p+suffix]; dup {
				return nil, fmt.Errorf("evaluation split %q gives the column %s, which is taken", t, p+suffix)
			}
			col[p+suffix] = len(header)
			header = append(header, p+suffix)
		}
		prefix[t] = p
	}

	type row struct {
		cells []string
		time  bool // wall_time set from a logged step
	}
	rows := map[int64]*row{}
	var order []int64
	get := func(step int64) *row {
		r, ok := rows[step]
		if !ok {
			r = &row{cells: make([]string, len(header))}
			r.cells[0] = strconv.FormatInt(step, 10)
			rows[step] = r
			order = append(order, step)
		}
		return r
	}
	for _, s := range rd.Steps {
		r := get(s.Step)
		c := r.cells
		c[col["tokens"]] = strconv.FormatInt(s.Tokens, 10)
		c[col["flops"]] = formatFloat(s.Flops)
		c[col["wall_time"]] = unixSeconds(s.Time)
		c[col["elapsed_s"]] = formatFloat(s.ElapsedS)
		c[col["loss"]] = formatFloat(s.Loss)
		c[col["lr"]] = formatFloat(s.LR)
		c[col["grad_norm"]] = formatFloat(s.GradNorm)
		c[col["step_ms"]] = formatFloat(s.StepMS)
		r.time = true
	}
	for _, e := range rd.Evals {
		r := get(e.Step)
		if !r.time && r.cells[col["wall_time"]] == "" {
			r.cells[col["wall_time"]] = unixSeconds(e.Time)
		}
		p := prefix[e.Split]
		r.cells[col[p+"_loss"]] = formatFloat(e.Loss)
		r.cells[col[p+"_bpb"]] = formatFloat(e.BPB)
		if i, ok := col[p+"_accuracy"]; ok && e.Accuracy != nil {
			r.cells[i] = formatFloat(*e.Accuracy)
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })

	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return nil, err
	}
	for _, s := range order {
		if err := w.Write(rows[s].cells); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// IndexColumns are the columns of runs.csv, one row per exported run.
var IndexColumns = []string{"run", "experiment", "family", "status", "params_total", "params_non_embedding",
	"flops_per_token", "steps_total", "budget_tokens", "step", "nonreproducible",
	"seed", "lr", "width", "n_head", "n_layer", "vocab_size", "pair_key", "sweep_json", "file"}

// runsIndex renders runs.csv: what each exported run is (its registration
// and its typed run record: seed, peak learning rate, shape, pair key, swept
// values) and which file holds its history.
func runsIndex(runs []store.Run, format string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(IndexColumns); err != nil {
		return nil, err
	}
	for _, r := range runs {
		file := RunPath(r.Name) + ".csv"
		if format == FormatTFEvents {
			file = RunPath(r.Name) + "/"
		}
		nonrepro := "false"
		if r.Nonreproducible {
			nonrepro = "true"
		}
		i := strconv.FormatInt
		rec := r.Record
		if err := w.Write([]string{r.Name, r.Experiment, r.Family, r.Status, i(r.ParamsTotal, 10), i(r.ParamsNonEmbedding, 10),
			i(r.FlopsPerToken, 10), i(r.StepsTotal, 10), i(r.BudgetTokens, 10), i(r.Step, 10), nonrepro,
			strconv.FormatUint(rec.Seed, 10), formatFloat(rec.LR), strconv.Itoa(rec.Width), strconv.Itoa(rec.NHead),
			strconv.Itoa(rec.NLayer), strconv.Itoa(rec.VocabSize), rec.PairKey, rec.SweepJSON, file}); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// unixSeconds formats t as Unix seconds with six decimals, exactly (the
// store keeps microseconds); the zero time is empty.
func unixSeconds(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	us := t.UnixMicro()
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	return fmt.Sprintf("%s%d.%06d", sign, us/1e6, us%1e6)
}

// columnName lower-cases a split name and replaces anything but letters,
// digits and '_' with '_'.
func columnName(split string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(split) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

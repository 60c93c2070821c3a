package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/internal/sysmem"
	"github.com/tinyscale/tinyscale/runner"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// Plan states of a run, from comparing it with the results database.
const (
	stateNew     = "new"     // not in the database, or registered but never started
	stateDone    = "done"    // finished with this exact configuration
	stateChanged = "changed" // in the database under another configuration hash
	stateRunning = "running" // being trained (or interrupted while training)
	stateFailed  = "failed"  // failed with this configuration
)

// planCmd expands and validates an experiments file and shows every run it
// would train, with its size, cost and state in the results database. It
// only reads the database.
type planCmd struct{ e env }

func newPlanCmd(e env) command { return planCmd{e: e} }

// Name implements command.
func (planCmd) Name() string { return "plan" }

// Summary implements command.
func (planCmd) Summary() string {
	return "expand and check an experiments file; list its runs, sizes, budgets and states"
}

// planRow is one run in `plan --json`.
type planRow struct {
	Name               string          `json:"name"`
	Experiment         string          `json:"experiment"`
	Family             string          `json:"family"`
	Shape              string          `json:"shape"` // n_embd x n_head x n_layer
	Width              int             `json:"width"` // residual-stream width d
	ParamsTotal        int64           `json:"params_total"`
	ParamsNonEmbedding int64           `json:"params_non_embedding"`
	FlopsPerToken      int64           `json:"flops_per_token"` // forward; training is 3x
	TrainFlopsPerToken int64           `json:"train_flops_per_token"`
	StepsTotal         int64           `json:"steps_total"`   // 0 for a seconds budget
	BudgetTokens       int64           `json:"budget_tokens"` // 0 for a seconds budget
	TrainFlops         float64         `json:"train_flops"`   // analytic, whole run
	MemoryBytes        int64           `json:"memory_bytes"`  // training memory estimate (runner.EstimateMemory)
	Budget             sweeps.Budget   `json:"budget"`
	Nonreproducible    bool            `json:"nonreproducible"`
	State              string          `json:"state"`
	ChangedKeys        []string        `json:"changed_keys,omitempty"` // state changed: what differs from the database
	Hash               string          `json:"hash"`
	Config             json.RawMessage `json:"config"`
	EstimateSeconds    *float64        `json:"estimate_s,omitempty"` // --estimate: wall time on this machine
}

// Run implements command.
func (c planCmd) Run(ctx context.Context, args []string) error {
	err := c.plan(ctx, args)
	if err != nil && ctx.Err() != nil {
		// Not "experiments.yaml:14: …: train tokenizer: context canceled":
		// the file is fine, the user stopped plan.
		return fmt.Errorf("plan interrupted (it writes nothing but finished data cache entries): %w", ctx.Err())
	}
	return err
}

func (c planCmd) plan(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	file := fs.String("f", defaultExperimentsFile, "experiments `FILE`")
	dbFlag := fs.String("db", "", "results database `PATH` to compare with (default: the file's db key, else "+defaultDBFile+")")
	cache := fs.String("cache", "", "data cache `DIR` (default $XDG_CACHE_HOME/tinyscale or .tinyscale-cache)")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	memFlag := fs.String("mem", "", "check memory estimates against `SIZE` (e.g. 64G: the node that will train) instead of this machine's available memory; 0 skips the check")
	estimate := fs.Bool("estimate", false, "time a few training steps of each distinct model shape here and estimate each run's wall time and the total (see bench -f)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tinyscale plan [-f FILE] [--db PATH] [--json]\n\n"+
			"Reads FILE, checks it and expands its sweeps into runs (building each tokenizer once, cached,\n"+
			"to know the vocabulary size), then lists every run with its shape, parameter counts,\n"+
			"FLOPs per token, budget and state in the results database: new, done, changed (its\n"+
			"configuration differs from the database's), running or failed. Trains nothing.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cacheDir := *cache
	if cacheDir == "" {
		cacheDir = data.DefaultCacheDir()
	}
	f, err := sweeps.Load(*file)
	if err != nil {
		return err
	}
	runs, err := f.Expand(func(d data.Spec, t tokenizer.Spec) (int, error) {
		// Builds the tokenizer only when V is not known up front; cached.
		return data.VocabSize(ctx, d, t, cacheDir)
	})
	if err != nil {
		return err
	}
	avail := sysmem.Available
	if *memFlag != "" {
		n, err := parseSize(*memFlag)
		if err != nil {
			return usagef("--mem %q: %v", *memFlag, err)
		}
		avail = func() (sysmem.Limit, error) {
			if n == 0 {
				return sysmem.Limit{}, errors.New("memory check off (--mem 0)")
			}
			return sysmem.Limit{Bytes: n, Source: "--mem " + *memFlag}, nil
		}
	}
	mem, err := checkRuns(ctx, runs, cacheDir, avail)
	if err != nil {
		return err
	}
	dbPath, err := resolveDBPath(*dbFlag, *file)
	if err != nil {
		return err
	}
	stored, dbExists, err := storedRuns(ctx, dbPath, c.e)
	if err != nil {
		return err
	}
	rows := make([]planRow, len(runs))
	for i, r := range runs {
		total, nonEmb := r.Model.ParamCounts()
		rows[i] = planRow{
			Name: r.Name, Experiment: r.Experiment, Family: r.Family,
			Shape: fmt.Sprintf("%dx%dx%d", r.Model.NEmbd, r.Model.NHead, r.Model.NLayer), Width: r.Model.Width(),
			ParamsTotal: total, ParamsNonEmbedding: nonEmb,
			FlopsPerToken: r.Model.FlopsPerToken(), TrainFlopsPerToken: r.Model.TrainFlopsPerToken(),
			StepsTotal: r.TotalSteps(), BudgetTokens: r.BudgetTokens(), TrainFlops: r.TrainFlops(),
			MemoryBytes: mem[r.Name].Total,
			Budget:      r.Budget, Nonreproducible: r.Nonreproducible(),
			State: runState(r, stored), Hash: r.Hash(), Config: r.ConfigJSON(),
		}
		if rows[i].State == stateChanged {
			rows[i].ChangedKeys = changedKeys(stored[r.Name].ConfigJSON, r.ConfigJSON())
		}
	}
	var est *sweepEstimate
	if *estimate {
		e, err := planEstimate(ctx, runs, c.e)
		if err != nil {
			return err
		}
		for i := range rows {
			rows[i].EstimateSeconds = &e.Runs[i].Seconds
		}
		est = &e
	}
	if *asJSON {
		enc := json.NewEncoder(c.e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return fmt.Errorf("write plan: %w", err)
		}
		return nil
	}
	if err := writePlanTable(c.e.stdout, rows, runs, *file, dbPath, dbExists); err != nil {
		return err
	}
	if est != nil {
		return writePlanEstimate(c.e.stdout, *est)
	}
	return nil
}

// parseSize reads a memory size: a number with an optional unit K, M, G or
// T (powers of 1024, as Slurm's --mem; KB/KiB... spellings too).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	units := []struct {
		suffix string
		mult   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}
	upper := strings.ToUpper(t)
	upper = strings.TrimSuffix(strings.TrimSuffix(upper, "IB"), "B")
	for _, u := range units {
		if strings.HasSuffix(upper, u.suffix) {
			mult, upper = u.mult, strings.TrimSuffix(upper, u.suffix)
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(upper), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*float64(mult) > 1<<62 {
		return 0, errors.New("want a size such as 64G, 512M or 0 (K, M, G, T are powers of 1024)")
	}
	return int64(v * float64(mult)), nil
}

// checkRuns prepares (cached) the dataset of every run, once per distinct
// dataset and tokenizer, and checks that the run can train on it
// (runner.CheckData: block_size against the split sizes, token ids against
// vocab_size) and that its memory estimate fits in what the machine has
// (runner.CheckMemory; skipped when avail fails). It returns the estimates,
// or one error naming every run that cannot train.
func checkRuns(ctx context.Context, runs []sweeps.Run, cacheDir string, avail func() (sysmem.Limit, error)) (map[string]runner.MemoryEstimate, error) {
	lim, limErr := avail()
	mem := make(map[string]runner.MemoryEstimate, len(runs))
	prepare := runner.PrepareData(cacheDir)
	type prepared struct {
		ds  *runner.Dataset
		err error
	}
	seen := map[string]prepared{}
	var problems []string
	for _, r := range runs {
		key, err := json.Marshal(struct {
			D data.Spec
			T tokenizer.Spec
			V int
		}{r.Data, r.Tokenizer, r.Model.VocabSize})
		if err != nil {
			return nil, err
		}
		p, ok := seen[string(key)]
		if !ok {
			p.ds, p.err = prepare(ctx, r)
			seen[string(key)] = p
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err = p.err
		var tokens int64
		if err == nil {
			tokens = int64(len(p.ds.Train) + len(p.ds.Val))
			err = runner.CheckData(r, p.ds)
		}
		mem[r.Name] = runner.EstimateMemory(r, tokens)
		if err == nil && limErr == nil {
			err = runner.CheckMemory(mem[r.Name], lim)
		}
		if err != nil {
			problems = append(problems, r.Name+": "+err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%d of %d runs cannot train:\n  %s", len(problems), len(runs), strings.Join(problems, "\n  "))
	}
	return mem, nil
}

// storedRuns reads every run of the database at path, by name. A missing
// database is not an error: every run is new.
func storedRuns(ctx context.Context, path string, e env) (map[string]store.Run, bool, error) {
	db, err := store.OpenReadOnly(path, store.WithLogger(e.log))
	if errors.Is(err, store.ErrNoDatabase) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer db.Close()
	list, err := db.ListRuns(ctx)
	if err != nil {
		return nil, true, fmt.Errorf("read runs of %s: %w", path, err)
	}
	m := make(map[string]store.Run, len(list))
	for _, r := range list {
		m[r.Name] = r
	}
	return m, true, nil
}

// runState compares a planned run with its database row.
func runState(r sweeps.Run, stored map[string]store.Run) string {
	s, ok := stored[r.Name]
	switch {
	case !ok:
		return stateNew
	case s.ConfigHash != r.Hash():
		return stateChanged
	case s.Status == store.StatusDone:
		return stateDone
	case s.Status == store.StatusRunning:
		return stateRunning
	case s.Status == store.StatusFailed:
		return stateFailed
	}
	return stateNew
}

// changedKeys lists the dotted keys whose values differ between two
// configuration JSON objects (all keys when the stored one is unreadable).
func changedKeys(stored, planned []byte) []string {
	var a, b any
	if json.Unmarshal(stored, &a) != nil || json.Unmarshal(planned, &b) != nil {
		return []string{"(stored configuration unreadable)"}
	}
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", a, fa)
	flatten("", b, fb)
	var keys []string
	for k, v := range fb {
		if w, ok := fa[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range fa {
		if _, ok := fb[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// flatten writes the leaves of a decoded JSON value under dotted keys.
func flatten(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, c := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, c, out)
		}
		return
	}
	b, _ := json.Marshal(v)
	out[prefix] = string(b)
}

// writePlanTable prints the human-readable plan.
func writePlanTable(w io.Writer, rows []planRow, runs []sweeps.Run, file, dbPath string, dbExists bool) error {
	hasMatch := false
	for _, r := range runs {
		hasMatch = hasMatch || r.Match != nil
	}
	header := []string{"NAME", "FAMILY", "SHAPE", "PARAMS", "NON-EMB"}
	if hasMatch {
		header = append(header, "TARGET")
	}
	header = append(header, "FLOPS/TOK", "STEPS", "TOKENS", "MEMORY", "STATE")
	table := [][]string{header}
	counts := map[string]int{}
	nonrepro := 0
	var totalTokens int64
	var totalFlops float64
	for i, row := range rows {
		r := runs[i]
		counts[row.State]++
		totalTokens += row.BudgetTokens
		totalFlops += row.TrainFlops
		line := []string{row.Name, row.Family, row.Shape, commas(row.ParamsTotal), commas(row.ParamsNonEmbedding)}
		if hasMatch {
			t := "-"
			if r.Match != nil {
				dev := sweeps.MatchMetric(r.Model, r.Match.By)/r.Match.Target - 1
				t = fmt.Sprintf("%s %s (%+.1f%%)", r.Match.By, siFormat(r.Match.Target), 100*dev)
			}
			line = append(line, t)
		}
		steps, tokens := commas(row.StepsTotal), commas(row.BudgetTokens)
		if row.Nonreproducible {
			steps, tokens = strconv.FormatFloat(r.Budget.Seconds, 'g', -1, 64)+"s*", "-"
			nonrepro++
		}
		state := row.State
		if len(row.ChangedKeys) > 0 {
			state += " (" + strings.Join(row.ChangedKeys, ", ") + ")"
		}
		line = append(line, siFormat(float64(row.FlopsPerToken)), steps, tokens, sysmem.FormatBytes(row.MemoryBytes), state)
		table = append(table, line)
	}
	// Words left-aligned, numbers right-aligned.
	left := map[string]bool{"NAME": true, "FAMILY": true, "SHAPE": true, "TARGET": true, "STATE": true}
	widths := make([]int, len(header))
	for _, line := range table {
		for j, cell := range line {
			widths[j] = max(widths[j], len(cell))
		}
	}
	var b strings.Builder
	for _, line := range table {
		for j, cell := range line {
			pad := strings.Repeat(" ", widths[j]-len(cell))
			if j > 0 {
				b.WriteString("  ")
			}
			if left[header[j]] {
				b.WriteString(cell)
				if j < len(line)-1 {
					b.WriteString(pad)
				}
			} else {
				b.WriteString(pad + cell)
			}
		}
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	var parts []string
	for _, s := range []string{stateNew, stateDone, stateChanged, stateRunning, stateFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	where := dbPath
	if !dbExists {
		where += " (not created yet)"
	}
	fmt.Fprintf(w, "\n%d runs from %s: %s; results database %s\n", len(rows), file, strings.Join(parts, ", "), where)
	fmt.Fprintf(w, "total budget: %s training tokens, %s training FLOPs (analytic)\n", siFormat(float64(totalTokens)), siFormat(totalFlops))
	fmt.Fprintln(w, "SHAPE is n_embd x n_head x n_layer; FLOPS/TOK is forward (training is 3x); MEMORY is the training estimate.")
	if nonrepro > 0 {
		fmt.Fprintf(w, "* %d run(s) have a wall-clock (seconds) budget: their length depends on the machine, not reproducible.\n", nonrepro)
	}
	if counts[stateChanged] > 0 {
		fmt.Fprintln(w, "changed: the database holds these runs under another configuration; `tinyscale run --fresh --only NAME` retrains them.")
	}
	return nil
}

// commas writes n with thousands separators: 4,194,304.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// siFormat writes v with three significant digits and a K/M/G/T/P suffix: 8.52M.
func siFormat(v float64) string {
	units := []string{"", "K", "M", "G", "T", "P", "E"}
	i := 0
	for v >= 999.5 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + units[i]
}

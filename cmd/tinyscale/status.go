package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tinyscale/tinyscale/store"
)

// statusCmd prints the progress of every run in the results database. It
// only reads: it never creates or migrates the database, and works while
// another process is training (WAL).
type statusCmd struct{ e env }

func newStatusCmd(e env) command { return statusCmd{e: e} }

// Name implements command.
func (statusCmd) Name() string { return "status" }

// Summary implements command.
func (statusCmd) Summary() string { return "show the progress of the runs in the results database" }

// statusRow is one run in `status --json`; unknown values are null.
type statusRow struct {
	Name        string   `json:"name"`
	Experiment  string   `json:"experiment"`
	Family      string   `json:"family"`   // from the run record
	Seed        uint64   `json:"seed"`     // from the run record
	PairKey     string   `json:"pair_key"` // from the run record
	Status      string   `json:"status"`
	Step        int64    `json:"step"`
	StepsTotal  *int64   `json:"steps_total"`
	LastLoss    *float64 `json:"last_loss"`
	BestValLoss *float64 `json:"best_val_loss"`
	FailReason  *string  `json:"fail_reason"` // why a failed run failed; null otherwise
	FailStep    *int64   `json:"fail_step"`   // last logged step when it failed; null otherwise
	stalled     bool     // running without a live lease (text output only)
}

// Run implements command.
func (c statusCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	dbFlag := fs.String("db", "", "results database `PATH` (default: the db key of -f, else "+defaultDBFile+")")
	file := fs.String("f", defaultExperimentsFile, "experiments `FILE`, read only for its db key")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tinyscale status [--db PATH] [-f FILE] [--json]\n\n%s.\n\nflags:\n", c.Summary())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := resolveDBPath(*dbFlag, *file)
	if err != nil {
		return err
	}
	db, err := store.OpenReadOnly(path, store.WithLogger(c.e.log))
	if errors.Is(err, store.ErrNoDatabase) {
		return fmt.Errorf("no results database at %s (run `tinyscale run` first)", path)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	sums, err := db.RunSummaries(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]statusRow, 0, len(sums))
	for _, s := range sums {
		r := statusRow{Name: s.Name, Experiment: s.Experiment, Family: s.Family, Seed: s.Seed, PairKey: s.PairKey,
			Status: s.Status, Step: s.Step,
			LastLoss: finite(s.LastLoss), BestValLoss: finite(s.BestValLoss), stalled: s.Stalled(now)}
		if s.StepsTotal > 0 {
			r.StepsTotal = &s.StepsTotal
		}
		if s.FailReason != "" {
			r.FailReason = &s.FailReason
		}
		if s.Status == store.StatusFailed {
			r.FailStep = &s.FailStep
		}
		rows = append(rows, r)
	}
	if *asJSON {
		enc := json.NewEncoder(c.e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return fmt.Errorf("write status: %w", err)
		}
		return nil
	}
	return writeStatusTable(c, path, rows)
}

// writeStatusTable prints rows as an aligned table with a count per status.
func writeStatusTable(c statusCmd, path string, rows []statusRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(c.e.stdout, "no runs in %s yet\n", path)
		return err
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tSTEP\tPROGRESS\tLAST LOSS\tBEST VAL LOSS\tREASON")
	count := map[string]int{}
	stalled := 0
	for _, r := range rows {
		count[r.Status]++
		status := r.Status
		if r.stalled {
			status += " (stalled)"
			stalled++
		}
		steps, progress := strconv.FormatInt(r.Step, 10), "-"
		if r.StepsTotal != nil {
			steps += "/" + strconv.FormatInt(*r.StepsTotal, 10)
			progress = fmt.Sprintf("%.1f%%", 100*float64(r.Step)/float64(*r.StepsTotal))
		}
		reason := ""
		if r.FailReason != nil {
			reason = *r.FailReason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, status, steps, progress, fmtLoss(r.LastLoss), fmtLoss(r.BestValLoss), reason)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	// The REASON column is empty for most runs: no trailing blanks.
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(c.e.stdout, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return fmt.Errorf("write status: %w", err)
		}
	}
	fmt.Fprintf(c.e.stdout, "\n%d runs:", len(rows))
	sep := " "
	for _, s := range []string{store.StatusDone, store.StatusRunning, store.StatusPending, store.StatusFailed} {
		if count[s] > 0 {
			fmt.Fprintf(c.e.stdout, "%s%d %s", sep, count[s], s)
			sep = ", "
		}
	}
	if stalled > 0 {
		fmt.Fprintf(c.e.stdout, "; %d stalled (no live lease: its process died; `tinyscale run` resumes it)", stalled)
	}
	_, err := fmt.Fprintln(c.e.stdout)
	return err
}

// finite drops NaN and infinities, which JSON cannot carry.
func finite(f *float64) *float64 {
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) {
		return nil
	}
	return f
}

func fmtLoss(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', 4, 64)
}

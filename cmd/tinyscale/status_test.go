package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// statusFixture builds a database with a finished, a running (with a NaN
// last loss) and a pending run, and keeps it open as a training process
// would.
func statusFixture(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	for _, name := range []string{"pair/gpt2", "pair/silia", "pair/silia-xga"} {
		storetest.MustAddRun(t, db, storetest.Run(name, "h-"+name))
	}
	steps := func(run string, losses ...float64) {
		var rows []store.Step
		for i, l := range losses {
			rows = append(rows, store.Step{Step: int64(i + 1), Loss: l})
		}
		if err := db.WriteSteps(ctx, run, rows); err != nil {
			t.Fatal(err)
		}
	}
	steps("pair/gpt2", 4, 3, 2.5)
	for _, e := range []store.Eval{
		{Run: "pair/gpt2", Step: 2, Split: store.SplitVal, Loss: 2.75},
		{Run: "pair/gpt2", Step: 3, Split: store.SplitFinalVal, Loss: 2.625},
	} {
		if err := db.WriteEval(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.MarkFinished(ctx, "pair/gpt2"); err != nil {
		t.Fatal(err)
	}
	steps("pair/silia", 4, math.NaN())
	if err := db.SetStatus(ctx, "pair/silia", store.StatusRunning, ""); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ClaimRun(ctx, "pair/silia", "pid-1", time.Hour); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	return db.Path()
}

func runStatus(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(context.Background(), append([]string{"status"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func TestStatusJSON(t *testing.T) {
	path := statusFixture(t)
	out, errs, code := runStatus(t, "--db", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bad JSON %q: %v", out, err)
	}
	want := []map[string]any{
		{"name": "pair/gpt2", "experiment": "test", "family": "gpt2", "seed": 0.0, "pair_key": "", "status": "done", "step": 3.0, "steps_total": 100.0, "last_loss": 2.5, "best_val_loss": 2.625},
		{"name": "pair/silia", "status": "running", "step": 2.0, "steps_total": 100.0, "last_loss": nil, "best_val_loss": nil},
		{"name": "pair/silia-xga", "status": "pending", "step": 0.0, "steps_total": 100.0, "last_loss": nil, "best_val_loss": nil},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows: %s", len(got), out)
	}
	for i := range want {
		for k, v := range want[i] {
			if gv, ok := got[i][k]; !ok || gv != v {
				t.Errorf("row %d %s = %v, want %v", i, k, gv, v)
			}
		}
	}
}

func TestStatusTable(t *testing.T) {
	path := statusFixture(t)
	dir := t.TempDir()
	yaml := filepath.Join(dir, "experiments.yaml")
	if err := os.WriteFile(yaml, []byte("db: "+path+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The database path comes from the YAML's db key.
	out, errs, code := runStatus(t, "-f", yaml)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("want header, 3 runs, blank, summary; got:\n%s", out)
	}
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:4] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("STATUS column not aligned at %d in %q", col, l)
		}
	}
	for _, want := range []string{"pair/gpt2  ", "3/100", "3.0%", "2.5000", "2.6250"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("gpt2 line %q lacks %q", lines[1], want)
		}
	}
	if got := lines[5]; got != "3 runs: 1 done, 1 running, 1 pending" {
		t.Errorf("summary line %q", got)
	}
}

// TestStatusStalled: a running run whose process died (its lease expired)
// is flagged in the table.
func TestStatusStalled(t *testing.T) {
	ctx := context.Background()
	past := func() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }
	db := storetest.MustOpenDB(t, store.WithClock(past))
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	if ok, err := db.ClaimRun(ctx, "r", "pid-1", time.Minute); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := db.SetStatus(ctx, "r", store.StatusRunning, ""); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runStatus(t, "--db", db.Path())
	if code != 0 || !strings.Contains(out, "running (stalled)") || !strings.Contains(out, "1 stalled") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", code, out, errs)
	}
}

func TestStatusErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.db")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"missing database", []string{"--db", missing}, 1, "no results database at " + missing + " (run `tinyscale run` first)"},
		{"stray argument", []string{"--db", missing, "extra"}, 2, `unexpected argument "extra"`},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := runStatus(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("status created %s", missing)
	}
	// An empty database prints a friendly line; help exits 0.
	empty := storetest.MustOpenDB(t)
	out, _, code := runStatus(t, "--db", empty.Path())
	if code != 0 || !strings.Contains(out, "no runs in") {
		t.Fatalf("empty db: exit %d, %q", code, out)
	}
	if _, errs, code := runStatus(t, "-h"); code != 0 || !strings.Contains(errs, "--json") && !strings.Contains(errs, "-json") {
		t.Fatalf("help: exit %d, %q", code, errs)
	}
}

// TestStatusShowsFailReason: a failed run's reason is in the table and in
// --json (run tells users to look there).
func TestStatusShowsFailReason(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("ok", "h1"))
	storetest.MustAddRun(t, db, storetest.Run("bad", "h2"))
	if err := db.WriteSteps(ctx, "bad", []store.Step{{Step: 22, Loss: math.NaN()}}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetStatus(ctx, "bad", store.StatusFailed, "loss is NaN at step 22"); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runStatus(t, "--db", db.Path())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	if !strings.Contains(lines[0], "REASON") {
		t.Errorf("header %q has no REASON column", lines[0])
	}
	var badLine string
	for _, l := range lines {
		if strings.HasPrefix(l, "bad ") {
			badLine = l
		}
	}
	if !strings.Contains(badLine, "failed") || !strings.HasSuffix(badLine, "loss is NaN at step 22") {
		t.Errorf("failed run's line %q lacks its reason", badLine)
	}
	out, errs, code = runStatus(t, "--db", db.Path(), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := any(nil)
		if r["name"] == "bad" {
			want = "loss is NaN at step 22"
		}
		if got, ok := r["fail_reason"]; !ok || got != want {
			t.Errorf("%v: fail_reason %v (present %v), want %v", r["name"], got, ok, want)
		}
		wantStep := any(nil)
		if r["name"] == "bad" {
			wantStep = 22.0
		}
		if got, ok := r["fail_step"]; !ok || got != wantStep {
			t.Errorf("%v: fail_step %v (present %v), want %v", r["name"], got, ok, wantStep)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/store"
)

// runEvals maps run name to its evals, exact bits.
func runEvals(t *testing.T, dbPath string) map[string]string {
	t.Helper()
	db, err := store.OpenReadOnly(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	runs, _ := db.ListRuns(ctx)
	out := map[string]string{}
	for _, r := range runs {
		evals, err := db.Evals(ctx, r.Name)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, e := range evals {
			acc := "-"
			if e.Accuracy != nil {
				acc = fmt.Sprintf("%x", math.Float64bits(*e.Accuracy))
			}
			fmt.Fprintf(&b, "%d %s %x %x %s;", e.Step, e.Split, math.Float64bits(e.Loss), math.Float64bits(e.BPB), acc)
		}
		out[r.Name] = r.Status + " " + b.String()
	}
	return out
}

// TestShardAutoAndMergeEqualsSingleProcess: the two runs of the sweep
// trained as a two-task Slurm array (one shard database each), merged,
// equal a single-process run on every step loss and eval; the merged
// database serves sample; the wrong array shape and `auto` outside an
// engine are refused.
func TestShardAutoAndMergeEqualsSingleProcess(t *testing.T) {
	const steps = 20
	cache := t.TempDir()
	refDir, refArgs := runTestDir(t, steps, cache)
	if out, errs, code := runTinyscale(refArgs...); code != 0 {
		t.Fatalf("reference: exit %d\n%s\n%s", code, out, errs)
	}
	refDB := filepath.Join(refDir, "results.db")

	dir, _ := runTestDir(t, steps, cache)
	yaml := filepath.Join(dir, "experiments.yaml")
	shardArgs := func(k int) []string {
		return []string{"run", "-f", yaml, "--db", filepath.Join(dir, "shards", fmt.Sprintf("task-%d.db", k)), "--cache", cache, "--shard", "auto"}
	}
	for _, k := range []string{"", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"} {
		os.Unsetenv(k)
	}
	if _, errs, code := runTinyscale(shardArgs(0)...); code != 2 || !strings.Contains(errs, "neither is set") {
		t.Fatalf("--shard auto outside an engine: exit %d, %s", code, errs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-f", yaml, "--cache", cache, "--shard", "auto"}, "--shard auto needs --db"},
		{append(shardArgs(0), "--shard-count", "-2"), "--shard-count -2: want a positive number of shards"},
	} {
		if _, errs, code := runTinyscale(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %s; want exit 2 and %q", tc.args[5:], code, errs, tc.want)
		}
	}
	t.Setenv("SLURM_ARRAY_TASK_MIN", "0")
	t.Setenv("SLURM_ARRAY_TASK_MAX", "1")
	t.Setenv("SLURM_ARRAY_TASK_STEP", "1")
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "2")
	for k := 0; k < 2; k++ {
		t.Setenv("SLURM_ARRAY_TASK_ID", fmt.Sprint(k))
		if out, errs, code := runTinyscale(shardArgs(k)...); code != 0 || !strings.Contains(out, "1 done") {
			t.Fatalf("task %d: exit %d\n%s\n%s", k, code, out, errs)
		}
	}
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "3")
	if _, errs, code := runTinyscale(shardArgs(1)...); code != 2 || !strings.Contains(errs, "SLURM_ARRAY_TASK_COUNT=3") {
		t.Fatalf("bad array: exit %d, %s", code, errs)
	}

	merged := filepath.Join(dir, "results.db")
	in := []string{filepath.Join(dir, "shards", "task-1.db"), filepath.Join(dir, "shards", "task-0.db")}
	out, errs, code := runTinyscale(append([]string{"merge", "-o", merged}, in...)...)
	if code != 0 || !strings.Contains(out, "2 runs (2 done)") {
		t.Fatalf("merge: exit %d\n%s\n%s", code, out, errs)
	}
	sameRunLosses(t, runLosses(t, merged), runLosses(t, refDB))
	want, got := runEvals(t, refDB), runEvals(t, merged)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("merged evals differ from a single process:\n%v\nvs\n%v", got, want)
	}
	refStatus, _, _ := runTinyscale("status", "--db", refDB, "--json")
	mergedStatus, _, _ := runTinyscale("status", "--db", merged, "--json")
	if refStatus == "" || mergedStatus != refStatus {
		t.Errorf("status of the merged database:\n%s\nsingle process:\n%s", mergedStatus, refStatus)
	}
	// report.json of both: equal but for wall-clock seconds.
	wall := regexp.MustCompile(`"wall_s": [0-9.e+-]+`)
	reportJSON := func(db string) string {
		out := filepath.Join(t.TempDir(), "report")
		if _, errs, code := runTinyscale("report", "--db", db, "--out", out, "--formats", "png"); code != 0 {
			t.Fatalf("report of %s: exit %d %s", db, code, errs)
		}
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		return wall.ReplaceAllString(string(b), `"wall_s": X`)
	}
	if a, b := reportJSON(merged), reportJSON(refDB); a != b {
		t.Errorf("report.json of the merged database differs from a single process's beyond wall_s")
	}
	db, _ := store.OpenReadOnly(merged)
	plan, ok, _ := db.Meta(context.Background(), store.MetaPlanSHA256)
	runs, _ := db.ListRuns(context.Background())
	db.Close()
	if !ok || len(plan) != 64 {
		t.Errorf("merged plan hash %q", plan)
	}
	for _, r := range runs {
		if s, _, code := runTinyscale("sample", "--db", merged, "--run", r.Name, "--prompt", "a", "--tokens", "3"); code != 0 || s == "" {
			t.Errorf("sample %s on the merged database: exit %d", r.Name, code)
		}
	}
	// The shard databases record which shard they are.
	sdb, _ := store.OpenReadOnly(in[0])
	idx, _, _ := sdb.Meta(context.Background(), store.MetaShardIndex)
	sdb.Close()
	if idx != "1" {
		t.Errorf("task-1.db records shard index %q", idx)
	}
	if _, errs, code := runTinyscale("merge", merged); code != 2 || !strings.Contains(errs, "-o OUT.db is required") {
		t.Errorf("merge without -o: exit %d %s", code, errs)
	}
}

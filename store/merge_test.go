package store_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// fixRun is one run of a fixture database.
type fixRun struct {
	name, hash string
	status     string  // pending, running, failed or done
	steps      int     // logged steps
	bias       float64 // added to every loss: a different curve
}

var quiet = slog.New(slog.DiscardHandler)

// mkDB writes a results database dir/file with runs; each run with steps
// gets an eval every 5 steps and a checkpoint file at its last step.
func mkDB(t testing.TB, dir, file string, meta map[string]string, runs ...fixRun) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, file)
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	db, err := store.Open(path, store.WithLogger(quiet), store.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for k, v := range meta {
		if err := db.SetMeta(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range runs {
		storetest.MustAddRun(t, db, storetest.Run(r.name, r.hash))
		var rows []store.Step
		for s := 1; s <= r.steps; s++ {
			rows = append(rows, store.Step{Step: int64(s), Tokens: int64(64 * s), Flops: float64(1000 * s),
				Loss: 3/float64(s) + r.bias, LR: 1e-3, GradNorm: 0.5, StepMS: 1, ElapsedS: float64(s), Time: clock})
		}
		if err := db.WriteSteps(ctx, r.name, rows); err != nil {
			t.Fatal(err)
		}
		for s := 5; s <= r.steps; s += 5 {
			if err := db.WriteEval(ctx, store.Eval{Run: r.name, Step: int64(s), Split: store.SplitVal, Loss: 2/float64(s) + r.bias, BPB: 1, Time: clock}); err != nil {
				t.Fatal(err)
			}
		}
		if r.steps > 0 {
			ck := filepath.Join(dir, file+".ckpt", strings.ReplaceAll(r.name, "/", "_"), fmt.Sprintf("step-%09d.ckpt", r.steps))
			os.MkdirAll(filepath.Dir(ck), 0o755)
			body := []byte(fmt.Sprintf("checkpoint of %s at %d bias %v", r.name, r.steps, r.bias))
			if err := os.WriteFile(ck, body, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(body)
			if err := db.RecordCheckpoint(ctx, store.Checkpoint{Run: r.name, Step: int64(r.steps), Path: ck,
				SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(body)), Time: clock}); err != nil {
				t.Fatal(err)
			}
		}
		switch r.status {
		case store.StatusDone, store.StatusFailed, store.StatusRunning:
			if err := db.SetStatus(ctx, r.name, r.status, "boom"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path
}

// dump renders every row of every table of the database at path.
func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, tbl := range []string{"meta", "runs", "steps", "evals", "samples", "checkpoints"} {
		order := " ORDER BY 1, 2, 3"
		if tbl == "meta" {
			order = " ORDER BY 1"
		}
		rows, err := db.Query(`SELECT * FROM ` + tbl + order)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintf(&b, "%s %v\n", tbl, vals)
		}
		rows.Close()
	}
	return b.String()
}

func fileSum(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// permutations returns every ordering of xs.
func permutations(xs []string) [][]string {
	if len(xs) <= 1 {
		return [][]string{append([]string(nil), xs...)}
	}
	var out [][]string
	for i := range xs {
		rest := append(append([]string(nil), xs[:i]...), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{xs[i]}, p...))
		}
	}
	return out
}

func TestMerge(t *testing.T) {
	plan := map[string]string{store.MetaPlanSHA256: "p1"}
	type input struct {
		meta map[string]string
		runs []fixRun
	}
	tests := []struct {
		name   string
		inputs []input
		want   map[string]string // run -> "status/steps/index of the source input"
		err    string            // refusal: substring; "" for success
	}{
		{
			name: "disjoint shards",
			inputs: []input{
				{plan, []fixRun{{"a", "ha", "done", 20, 0}, {"b", "hb", "pending", 0, 0}}},
				{plan, []fixRun{{"a", "ha", "pending", 0, 0}, {"b", "hb", "done", 20, 0}}},
			},
			want: map[string]string{"a": "done/20/0", "b": "done/20/1"},
		},
		{
			name: "done beats failed beats partial beats pending",
			inputs: []input{
				{plan, []fixRun{{"a", "ha", "pending", 0, 0}, {"b", "hb", "running", 7, 0}, {"c", "hc", "failed", 3, 0}}},
				{plan, []fixRun{{"a", "ha", "running", 12, 0}, {"b", "hb", "pending", 0, 0}, {"c", "hc", "done", 20, 0}}},
				{plan, []fixRun{{"a", "ha", "failed", 4, 0}, {"b", "hb", "running", 9, 1}, {"c", "hc", "running", 15, 0}}},
			},
			want: map[string]string{"a": "failed/4/2", "b": "running/9/2", "c": "done/20/1"},
		},
		{
			name: "identical done copies",
			inputs: []input{
				{plan, []fixRun{{"a", "ha", "done", 10, 0}}},
				{plan, []fixRun{{"a", "ha", "done", 10, 0}}},
			},
			want: map[string]string{"a": "done/10/*"},
		},
		{
			name: "config hash differs",
			inputs: []input{
				{plan, []fixRun{{"a", "ha", "done", 10, 0}}},
				{plan, []fixRun{{"a", "OTHER", "pending", 0, 0}}},
			},
			err: `run "a" has config hash`,
		},
		{
			name: "two done copies with different curves",
			inputs: []input{
				{plan, []fixRun{{"a", "ha", "done", 10, 0}}},
				{plan, []fixRun{{"a", "ha", "done", 10, 0.5}}},
			},
			err: "different curves",
		},
		{
			name: "shards of different experiments files",
			inputs: []input{
				{plan, []fixRun{{"a", "ha", "done", 10, 0}}},
				{map[string]string{store.MetaPlanSHA256: "p2"}, []fixRun{{"b", "hb", "done", 10, 0}}},
			},
			err: "different experiments files",
		},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			sums := map[string]string{}
			for i, in := range tc.inputs {
				p := mkDB(t, filepath.Join(dir, "shards"), fmt.Sprintf("task-%d.db", i), in.meta, in.runs...)
				paths = append(paths, p)
				sums[p] = fileSum(t, p)
			}
			var first string
			for k, order := range permutations(paths) {
				out := filepath.Join(dir, fmt.Sprintf("merged-%d.db", k))
				sum, err := store.Merge(ctx, out, order, quiet)
				if tc.err != "" {
					if !errors.Is(err, store.ErrMergeConflict) || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("order %v: err %v, want a merge conflict mentioning %q", order, err, tc.err)
					}
					// Both sources are named.
					if strings.Count(err.Error(), filepath.Join(dir, "shards")) < 2 {
						t.Errorf("error does not name both sources: %v", err)
					}
					if _, serr := os.Stat(out); serr == nil {
						t.Errorf("refused merge left %s behind", out)
					}
					continue
				}
				if err != nil {
					t.Fatalf("order %v: %v", order, err)
				}
				db, err := store.OpenReadOnly(out)
				if err != nil {
					t.Fatal(err)
				}
				for run, want := range tc.want {
					r, err := db.GetRun(ctx, run)
					if err != nil {
						t.Fatal(err)
					}
					steps, _ := db.Steps(ctx, run)
					got := fmt.Sprintf("%s/%d/", r.Status, len(steps))
					src := "*"
					if !strings.HasSuffix(want, "*") {
						src = fmt.Sprint(indexOf(paths, sum.Source[run]))
					}
					if got+src != want {
						t.Errorf("run %s: got %s from %s, want %s", run, got+src, sum.Source[run], want)
					}
					// Checkpoints resolve and were verified.
					cks, _ := db.Checkpoints(ctx, run)
					for _, c := range cks {
						if _, err := os.Stat(c.Path); err != nil {
							t.Errorf("run %s: checkpoint %s: %v", run, c.Path, err)
						}
					}
					if len(steps) > 0 && len(cks) != 1 {
						t.Errorf("run %s: %d checkpoint records, want 1", run, len(cks))
					}
				}
				db.Close()
				d := dump(t, out)
				if k == 0 {
					first = d
				} else if d != first {
					t.Fatalf("order %v gives a different database:\n%s\nvs\n%s", order, d, first)
				}
				// Idempotent: merging again into the same output, and merging
				// the output with its own inputs, change nothing.
				if _, err := store.Merge(ctx, out, order, quiet); err != nil {
					t.Fatal(err)
				}
				if d2 := dump(t, out); d2 != d {
					t.Fatalf("merging again changed the output:\n%s\nvs\n%s", d2, d)
				}
				out2 := filepath.Join(dir, fmt.Sprintf("again-%d.db", k))
				if _, err := store.Merge(ctx, out2, append([]string{out}, order...), quiet); err != nil {
					t.Fatal(err)
				}
				if d3 := dump(t, out2); d3 != d {
					t.Fatalf("merging the output with its inputs changed it:\n%s\nvs\n%s", d3, d)
				}
			}
			for p, s := range sums {
				if fileSum(t, p) != s {
					t.Errorf("input %s was modified", p)
				}
			}
		})
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// TestMergeCopiesEveryColumnAndChecksCheckpoints: all run columns ride
// along, checkpoint paths are rewritten relative to the output and a
// corrupt checkpoint is not carried.
func TestMergeCopiesEveryColumnAndChecksCheckpoints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := mkDB(t, filepath.Join(dir, "shards"), "a.db", nil, fixRun{"x", "hx", "failed", 5, 0}, fixRun{"y", "hy", "done", 5, 0})
	db := storetest.MustOpenPath(t, a)
	if err := db.SetRunEnv(ctx, "x", store.RunEnv{Host: "node3", GoVersion: "go1.26", TinyscaleVersion: "v9", BLAS: "openblas"}); err != nil {
		t.Fatal(err)
	}
	// Give every column of run x a non-default value where its type and
	// constraints allow, so that any column (also of later migrations) that
	// merge failed to carry shows up below.
	cols, err := db.SQL().QueryContext(ctx, `SELECT name, type FROM pragma_table_info('runs')`)
	if err != nil {
		t.Fatal(err)
	}
	var set [][2]string
	for cols.Next() {
		var n, typ string
		cols.Scan(&n, &typ)
		set = append(set, [2]string{n, typ})
	}
	cols.Close()
	for _, c := range set {
		if c[0] == "name" || c[0] == "status" || c[0] == "config_json" {
			continue
		}
		v := map[string]any{"INTEGER": int64(42), "REAL": 0.5, "TEXT": "v-" + c[0]}[c[1]]
		db.SQL().ExecContext(ctx, `UPDATE runs SET "`+c[0]+`" = ? WHERE name = 'x'`, v) // constraint failures left as they are
	}
	cks, _ := db.Checkpoints(ctx, "y")
	db.Close()
	os.WriteFile(cks[0].Path, []byte("corrupted"), 0o644)

	out := filepath.Join(dir, "results.db")
	sum, err := store.Merge(ctx, out, []string{a}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Checkpoints != 1 || len(sum.DroppedCheckpoints) != 1 || !strings.Contains(sum.DroppedCheckpoints[0], "y step 5") {
		t.Errorf("checkpoints carried %d, dropped %v", sum.Checkpoints, sum.DroppedCheckpoints)
	}
	m, err := store.OpenReadOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	src, _ := store.OpenReadOnly(a)
	defer src.Close()
	for _, n := range []string{"x", "y"} {
		got, _ := m.GetRun(ctx, n)
		want, _ := src.GetRun(ctx, n)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("run %s:\n got %+v\nwant %+v", n, got, want)
		}
	}
	rawRow := func(db *store.DB) string {
		rows, err := db.SQL().QueryContext(ctx, `SELECT * FROM runs WHERE name = 'x'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		names, _ := rows.Columns()
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Next()
		rows.Scan(ptrs...)
		return fmt.Sprint(names, vals)
	}
	if got, want := rawRow(m), rawRow(src); got != want {
		t.Errorf("runs row of x:\n got %s\nwant %s", got, want)
	}
	var rec string
	m.SQL().QueryRowContext(ctx, `SELECT path FROM checkpoints WHERE run = 'x'`).Scan(&rec)
	if rec != "shards/a.db.ckpt/x/step-000000005.ckpt" {
		t.Errorf("recorded path %q, want it relative to the merged database", rec)
	}
}

func TestMergeRefusesOtherSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	a := mkDB(t, dir, "a.db", nil, fixRun{"x", "hx", "done", 5, 0})
	b := mkDB(t, dir, "b.db", nil, fixRun{"y", "hy", "done", 5, 0})
	raw, err := sql.Open("sqlite", "file:"+b)
	if err != nil {
		t.Fatal(err)
	}
	raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", store.SchemaVersion()+1))
	raw.Close()
	_, err = store.Merge(context.Background(), filepath.Join(dir, "out.db"), []string{a, b}, quiet)
	if err == nil || !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), "schema version") {
		t.Fatalf("err %v, want a schema version refusal naming %s", err, b)
	}
}

// TestMergeRemovesFilesOfKilledMerges: a merge killed before its rename
// (kill -9) leaves its temporary output and journal beside OUT; the next
// merge into OUT removes them once their process is gone (they stayed for
// ever, each as large as the output), and keeps a running merge's.
func TestMergeRemovesFilesOfKilledMerges(t *testing.T) {
	dir := t.TempDir()
	a := mkDB(t, dir, "a.db", nil, fixRun{"x", "hx", "done", 5, 0})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	stale := fmt.Sprintf(".out.db.merge-p%d-123", dead.Process.Pid)
	live := fmt.Sprintf(".out.db.merge-p%d-456", os.Getpid())
	for _, name := range []string{stale, stale + "-journal", ".out.db.merge-1754800847", ".out.db.merge-1754800847-journal", live} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Merge(context.Background(), filepath.Join(dir, "out.db"), []string{a}, quiet); err != nil {
		t.Fatal(err)
	}
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".merge-") {
			left = append(left, e.Name())
		}
	}
	if len(left) != 1 || left[0] != live {
		t.Errorf("left %q, want only the running merge's %q", left, live)
	}
}

package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/ goldens")

// TestExportCSVGolden compares every exported file with testdata/csv/.
func TestExportCSVGolden(t *testing.T) {
	db := fixtureDB(t)
	out := filepath.Join(t.TempDir(), "metrics")
	res, err := Export(context.Background(), db, Options{Format: FormatCSV, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"runs.csv", "exp/gpt2/seed=1.csv", "exp/silia/seed=1.csv", "other/x_y.csv"}
	if strings.Join(res.Files, " ") != strings.Join(want, " ") || res.Runs != 3 {
		t.Fatalf("files %q, runs %d; want %q, 3", res.Files, res.Runs, want)
	}
	for _, f := range res.Files {
		got, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "csv", filepath.FromSlash(f))
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		exp, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, exp) {
			t.Errorf("%s differs from %s:\n got:\n%s\nwant:\n%s", f, golden, got, exp)
		}
		// Every file is rectangular CSV that encoding/csv reads back.
		recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
		if err != nil || len(recs) < 1 {
			t.Errorf("%s: not readable CSV: %v", f, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("export left %d entries beside the output, want only it", len(entries))
	}
}

// TestCSVRowsAndCells checks the properties the golden encodes: one row per
// step, empty cells for missing values, plain decimals.
func TestCSVRowsAndCells(t *testing.T) {
	db := fixtureDB(t)
	steps, _ := db.Steps(context.Background(), "exp/gpt2/seed=1")
	evals, _ := db.Evals(context.Background(), "exp/gpt2/seed=1")
	b, err := CSV(RunData{Steps: steps, Evals: evals})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := recs[0]
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	if len(recs) != 1+5 { // steps 0 (eval only), 1, 2, 3, 4
		t.Fatalf("%d rows, want 6", len(recs))
	}
	tests := []struct {
		row  int
		col  string
		want string
	}{
		{1, "step", "0"}, {1, "loss", ""}, {1, "val_loss", "4.5"}, {1, "wall_time", "1796040000.750000"},
		{2, "lr", "0.00001"}, {2, "flops", "3072000"}, {2, "val_loss", ""},
		{3, "grad_norm", ""}, {3, "train_eval_loss", "3.8"}, {3, "train_eval_bpb", ""}, {3, "val_bpb", "5.625"},
		{4, "loss", "inf"},
		{5, "flops", "12288000"}, {5, "final_val_bpb", "4.75"}, {5, "copy_task_accuracy", "0.875"}, {5, "copy_task_bpb", ""},
	}
	for _, tc := range tests {
		i, ok := col[tc.col]
		if !ok {
			t.Fatalf("no column %q in %q", tc.col, head)
		}
		if got := recs[tc.row][i]; got != tc.want {
			t.Errorf("row %d %s = %q, want %q", tc.row, tc.col, got, tc.want)
		}
	}
}

func TestExportRefusesExistingOutput(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "metrics")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// An empty folder is taken.
	if _, err := Export(context.Background(), db, Options{Format: FormatCSV, Out: out, Run: "exp/silia"}); err != nil {
		t.Fatalf("export into an empty folder: %v", err)
	}
	before, _ := os.ReadFile(filepath.Join(out, "runs.csv"))
	// A second export into it is refused and changes nothing.
	_, err := Export(context.Background(), db, Options{Format: FormatTFEvents, Out: out})
	if !errors.Is(err, ErrOutExists) || !strings.Contains(err.Error(), out) {
		t.Fatalf("err = %v, want ErrOutExists naming %s", err, out)
	}
	after, _ := os.ReadFile(filepath.Join(out, "runs.csv"))
	if !bytes.Equal(before, after) {
		t.Error("refused export changed runs.csv")
	}
	// A file is refused too.
	f := filepath.Join(dir, "file")
	os.WriteFile(f, []byte("x"), 0o644)
	if _, err := Export(context.Background(), db, Options{Format: FormatCSV, Out: f}); err == nil {
		t.Error("export onto a file succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d entries in %s, want 2 (no temporary folder left)", len(entries), dir)
	}
}

func TestExportBadOptions(t *testing.T) {
	db := fixtureDB(t)
	out := filepath.Join(t.TempDir(), "o")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"format", Options{Format: "parquet", Out: out}, `unknown export format "parquet" (want csv or tfevents)`},
		{"no match", Options{Format: FormatCSV, Out: out, Run: "nope*"}, `--run "nope*" matches none of the 3 runs`},
		{"bad glob", Options{Format: FormatCSV, Out: out, Run: "[x"}, `bad run pattern "[x"`},
		{"empty out", Options{Format: FormatCSV}, `empty output folder`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Export(context.Background(), db, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed export created the output folder")
			}
		})
	}
}

// TestExportInterrupted: an export interrupted at any point (the context
// turns cancelled after its k-th check, for every k until the export
// completes) fails, leaves no output folder and no temporary folder beside
// it; some of those stops fall inside the per-run loop, after the temporary
// folder exists, so its cleanup is exercised.
func TestExportInterrupted(t *testing.T) {
	db := fixtureDB(t)
	inLoop := 0
	for k := 0; ; k++ {
		parent := t.TempDir()
		out := filepath.Join(parent, "o")
		_, err := Export(&cancelAfter{Context: context.Background(), left: k}, db, Options{Format: FormatCSV, Out: out})
		if err == nil {
			if k == 0 {
				t.Fatal("export with a cancelled context succeeded")
			}
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("stop after %d checks: %v, want context.Canceled", k, err)
		}
		if strings.Contains(err.Error(), "export interrupted") {
			inLoop++
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("stop after %d checks: the output folder exists", k)
		}
		if left, _ := filepath.Glob(filepath.Join(parent, ".o.*")); len(left) > 0 {
			t.Errorf("stop after %d checks: left %v", k, left)
		}
		if k > 10000 {
			t.Fatal("export never completed")
		}
	}
	if inLoop == 0 {
		t.Error("no stop fell inside the per-run loop")
	}
}

// cancelAfter is a context whose Err turns context.Canceled after left
// calls (and whose Done channel closes then).
type cancelAfter struct {
	context.Context
	mu   sync.Mutex
	left int
	done chan struct{}
}

func (c *cancelAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		c.left--
		return nil
	}
	if c.done == nil {
		c.done = make(chan struct{})
		close(c.done)
	}
	return context.Canceled
}

func (c *cancelAfter) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done // nil (never) until Err has turned
}

// TestExportRemovesPartialsOfKilledExports: the temporary folders that
// killed exports left beside the output (kill -9 leaves them; they used to
// stay for ever) are removed by the next export there; a running export's
// folder is kept.
func TestExportRemovesPartialsOfKilledExports(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	stale := []string{
		fmt.Sprintf(".metrics.partial-p%d-123", dead.Process.Pid),
		".metrics.partial-3545380003", // an older version's name, no pid
	}
	live := fmt.Sprintf(".metrics.partial-p%d-456", os.Getpid())
	for _, name := range append(stale, live, ".other.partial-1") {
		if err := os.MkdirAll(filepath.Join(dir, name, "exp"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Export(context.Background(), db, Options{Format: FormatCSV, Out: filepath.Join(dir, "metrics")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{live, ".other.partial-1", "metrics"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
}

func TestRunPathAndMatch(t *testing.T) {
	for in, want := range map[string]string{
		"paper-pair/silia/seed=1": "paper-pair/silia/seed=1",
		"../evil":                 "_/evil",
		"a//b":                    "a/_/b",
		"sp ace/ü":                "sp_ace/_",
	} {
		if got := RunPath(in); got != want {
			t.Errorf("RunPath(%q) = %q, want %q", in, got, want)
		}
	}
}

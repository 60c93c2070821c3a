package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportMetricsCommand(t *testing.T) {
	db := statusFixture(t)
	dir := t.TempDir()
	csvOut := filepath.Join(dir, "csv")
	out, errs, code := runCmd(t, "export-metrics", "--db", db, "--format", "csv", "--out", csvOut, "--run", "pair/gpt2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "wrote 1 runs (2 files, csv) to " + csvOut + "\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	b, err := os.ReadFile(filepath.Join(csvOut, "pair", "gpt2.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "step,tokens,") {
		t.Errorf("pair/gpt2.csv:\n%s", b)
	}
	// A second export into the same folder is refused (exit 1), with the reason.
	_, errs, code = runCmd(t, "export-metrics", "--db", db, "--format", "tfevents", "--out", csvOut)
	if code != 1 || !strings.Contains(errs, "exists and is not empty") {
		t.Errorf("second export: exit %d, stderr %q", code, errs)
	}
	tbOut := filepath.Join(dir, "tb")
	out, errs, code = runCmd(t, "export-metrics", "--db", db, "--format", "tfevents", "--out", tbOut)
	if code != 0 || !strings.Contains(out, "tensorboard --logdir "+tbOut) {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if m, _ := filepath.Glob(filepath.Join(tbOut, "pair", "*", "events.out.tfevents.*")); len(m) != 3 {
		t.Errorf("event files %q, want 3", m)
	}
}

func TestExportMetricsUsage(t *testing.T) {
	db := statusFixture(t)
	out := filepath.Join(t.TempDir(), "o")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--db", db, "--out", out}, 2, "--format is required"},
		{[]string{"--db", db, "--format", "json", "--out", out}, 2, `--format "json": want csv or tfevents`},
		{[]string{"--db", db, "--format", "csv"}, 2, "--out is required"},
		{[]string{"--db", filepath.Join(t.TempDir(), "none.db"), "--format", "csv", "--out", out}, 1, "no results database at"},
		{[]string{"--db", db, "--format", "csv", "--out", out, "--run", "zzz"}, 1, `--run "zzz" matches none of the 3 runs`},
	}
	for _, tc := range tests {
		_, errs, code := runCmd(t, append([]string{"export-metrics"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

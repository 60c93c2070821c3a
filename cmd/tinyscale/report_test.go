package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/store"
)

// reportFixtureDB writes a matched pair (gpt2 vs silia, one seed, both
// finished) and a failed run through the store API.
func reportFixtureDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "results.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	add := func(name, family string, params int64, final float64, status string) {
		cfg := `{"experiment":"pair","family":"` + family + `","model":{"family":"` + family +
			`","n_embd":64,"n_head":4,"n_layer":2},"optimizer":{"lr":0.003},"seed":1,"block_size":64}`
		if err := db.UpsertRun(ctx, store.Run{Name: name, Experiment: "pair", Family: family, ConfigJSON: []byte(cfg),
			ConfigHash: "h-" + name, ParamsTotal: params, ParamsNonEmbedding: params / 2, FlopsPerToken: 2 * params,
			StepsTotal: 4, Record: store.RunRecord{Width: 64, HeadDim: 16, NHead: 4, NLayer: 2, Seed: 1, LR: 3e-3,
				PairKey: "pair", SweepJSON: `{"seed":"1"}`}}); err != nil {
			t.Fatal(err)
		}
		var rows []store.Step
		for s := int64(1); s <= 4; s++ {
			rows = append(rows, store.Step{Step: s, Tokens: 512 * s, Flops: float64(512*s) * 6 * float64(params),
				Loss: final + 1/float64(s), LR: 3e-3, StepMS: 100, ElapsedS: 0.1 * float64(s)})
		}
		if err := db.WriteSteps(ctx, name, rows); err != nil {
			t.Fatal(err)
		}
		if status == store.StatusDone {
			if err := db.WriteEval(ctx, store.Eval{Run: name, Step: 4, Split: store.SplitFinalVal, Loss: final, BPB: final / 3}); err != nil {
				t.Fatal(err)
			}
			if err := db.WriteSample(ctx, store.Sample{Run: name, Step: 4, Prompt: "The", Text: "The <end> & more"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.SetStatus(ctx, name, status, "out of memory"); err != nil {
			t.Fatal(err)
		}
	}
	add("pair/gpt2/seed=1", "gpt2", 800_000, 2.5, store.StatusDone)
	add("pair/silia/seed=1", "silia", 819_200, 2.45, store.StatusDone)
	add("pair/silia-xga/seed=1", "silia-xga", 3_800_064, 9, store.StatusFailed)
	return path
}

// runReport runs `tinyscale report args...` and returns its error and stdout.
func runReport(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	e := env{stdout: &out, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}
	err := newReportCmd(e).Run(context.Background(), args)
	return out.String(), err
}

func readDir(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestReportWritesIdenticalFolders(t *testing.T) {
	db := reportFixtureDB(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	out, err := runReport(t, "--db", db, "--out", a, "--formats", "png,svg,pdf", "--dpi", "40")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "3 runs") || !strings.Contains(out, filepath.Join(a, "index.html")) {
		t.Errorf("stdout %q", out)
	}
	if _, err := runReport(t, "--db", db, "--out", b, "--formats", "pdf,svg", "--dpi", "40"); err != nil {
		t.Fatal(err)
	}
	fa, fb := readDir(t, a), readDir(t, b)
	if len(fa) != len(fb) || len(fa) == 0 {
		t.Fatalf("%d files then %d", len(fa), len(fb))
	}
	for name, x := range fa {
		if !bytes.Equal(x, fb[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	for _, want := range []string{"index.html", "tables/pairs.md", "tables/pairs.csv", "tables/param_efficiency.csv",
		"figures/loss_pair_steps.png", "figures/loss_pair_steps.svg", "figures/loss_pair_steps.pdf",
		"figures/loss_pair_steps-1col.pdf", "report.json", "tables/claims.csv"} {
		if _, ok := fa[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
	page := string(fa["index.html"])
	for _, want := range []string{"The &lt;end&gt; &amp; more", "failed at step 4: out of memory", "n=1, no interval"} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// A second run over the same folder replaces it.
	if _, err := runReport(t, "--db", db, "--out", a, "--formats", "png", "--dpi", "40"); err != nil {
		t.Fatalf("rerun over a previous report: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a, "figures", "loss_pair_steps.svg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale svg kept after a png-only rerun: %v", err)
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	db, err := store.Open(empty)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	newer := filepath.Join(dir, "newer.db")
	db, err = store.Open(newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	foreign := filepath.Join(dir, "thesis")
	os.MkdirAll(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, "chapter1.tex"), []byte("x"), 0o644)
	good := reportFixtureDB(t)

	tests := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"missing db", []string{"--db", filepath.Join(dir, "nope.db")}, "no results database at", false},
		{"empty db", []string{"--db", empty}, "no runs in the results database", false},
		{"newer schema", []string{"--db", newer}, "schema version 999", false},
		{"bad format", []string{"--db", good, "--formats", "png,gif"}, `unknown figure format "gif"`, true},
		{"bad dpi", []string{"--db", good, "--dpi", "0"}, "--dpi 0", true},
		{"foreign out", []string{"--db", good, "--out", foreign}, "does not hold a tinyscale report", false},
		{"missing -f", []string{"--db", good, "-f", filepath.Join(dir, "nope.yaml")}, "nope.yaml", false},
		{"extra arg", []string{"--db", good, "now"}, "unexpected argument", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"--out", out}, tt.args...)
			_, err := runReport(t, args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if got := errors.As(err, new(usageError)); got != tt.usage {
				t.Errorf("usage error = %v, want %v", got, tt.usage)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output folder created despite the error")
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(foreign, "chapter1.tex")); string(b) != "x" {
		t.Error("foreign folder touched")
	}
}

// TestReportDispatch runs the command through main's dispatcher: exit codes
// and messages as a user sees them.
func TestReportDispatch(t *testing.T) {
	good := reportFixtureDB(t)
	out := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"ok", []string{"report", "--db", good, "--out", out, "--dpi", "40"}, 0, ""},
		{"missing db", []string{"report", "--db", filepath.Join(t.TempDir(), "x.db"), "--out", out}, 1, "no results database at"},
		{"bad format", []string{"report", "--db", good, "--out", out, "--formats", "gif"}, 2, `unknown figure format "gif"`},
		{"help", []string{"report", "--help"}, 0, "usage: tinyscale report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o, e bytes.Buffer
			code := runMain(context.Background(), tt.args, &o, &e)
			if code != tt.code || !strings.Contains(e.String(), tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, e.String(), tt.code, tt.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(out, "index.html")); err != nil {
		t.Errorf("no index.html after a successful report: %v", err)
	}
}

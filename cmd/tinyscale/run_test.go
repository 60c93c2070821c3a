package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/runner"
	"github.com/tinyscale/tinyscale/store"
)

// runTestYAML is a tiny sweep: two real models on a small synthetic corpus.
const runTestYAML = `db: results.db
defaults:
  data: tiny
  tokenizer: {kind: char}
  block_size: 16
  batch_size: 4
  optimizer: {name: adamw, lr: 1e-2, min_lr: 1e-3, warmup: 5, schedule: cosine}
  budget: {steps: STEPS}
  eval: {every: 20, batches: 1, final_batches: 2}
  checkpoint: {every: 10, keep: 3}
  seed: 1
datasets:
  tiny: {kind: synthetic, generator: stories, tokens: 20000}
experiments:
  - name: pair
    models:
      - {family: gpt2, n_embd: 8, n_head: 2, n_layer: 1, dropout: 0.1}
      - {family: silia, n_embd: 8, n_head: 2, n_layer: 1}
`

// runTestDir writes the experiments file into a fresh directory and returns
// the directory and the common arguments of `tinyscale run`.
func runTestDir(t *testing.T, steps int, cache string) (dir string, args []string) {
	t.Helper()
	dir = t.TempDir()
	y := strings.Replace(runTestYAML, "STEPS", strconv.Itoa(steps), 1)
	if err := os.WriteFile(filepath.Join(dir, "experiments.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, []string{"run", "-f", filepath.Join(dir, "experiments.yaml"), "--db", filepath.Join(dir, "results.db"), "--cache", cache}
}

func runTinyscale(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = runMain(context.Background(), args, &o, &e)
	return o.String(), e.String(), code
}

// runLosses maps run name to its logged losses (index step-1).
func runLosses(t *testing.T, dbPath string) map[string][]float64 {
	t.Helper()
	db, err := store.OpenReadOnly(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	runs, err := db.ListRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, r := range runs {
		steps, err := db.Steps(ctx, r.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range steps {
			if s.Step != int64(i+1) {
				t.Fatalf("%s: row %d is step %d", r.Name, i, s.Step)
			}
			out[r.Name] = append(out[r.Name], s.Loss)
		}
	}
	return out
}

func sameRunLosses(t *testing.T, got, want map[string][]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d runs, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Fatalf("%s: %d steps, want %d", name, len(g), len(w))
		}
		for i := range w {
			if math.Float64bits(g[i]) != math.Float64bits(w[i]) {
				t.Fatalf("%s step %d: loss %v, uninterrupted %v", name, i+1, g[i], w[i])
			}
		}
	}
}

func TestRunCommandTrainsSkipsAndRefusesChangedConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("trains real models")
	}
	cache := t.TempDir()
	dir, args := runTestDir(t, 20, cache)
	out, errs, code := runTinyscale(args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "2 done, 0 failed, 0 skipped") || !strings.Contains(errs, "blas=") {
		t.Errorf("stdout %q\nstderr %s", out, errs)
	}
	ls := runLosses(t, filepath.Join(dir, "results.db"))
	if len(ls) != 2 || len(ls["pair/gpt2"]) != 20 {
		t.Fatalf("losses %v", ls)
	}
	out, _, code = runTinyscale(args...)
	if code != 0 || !strings.Contains(out, "0 done, 0 failed, 2 skipped") {
		t.Errorf("second run: exit %d, %q", code, out)
	}
	// Change the learning rate: resuming is refused with instructions.
	y, _ := os.ReadFile(filepath.Join(dir, "experiments.yaml"))
	os.WriteFile(filepath.Join(dir, "experiments.yaml"), bytes.Replace(y, []byte("lr: 1e-2"), []byte("lr: 2e-2"), 1), 0o644)
	_, errs, code = runTinyscale(args...)
	if code != 1 || !strings.Contains(errs, "tinyscale run --fresh --only") || !strings.Contains(errs, "configuration changed") {
		t.Errorf("changed config: exit %d\n%s", code, errs)
	}
	// --fresh --only resets just that run; the other changed run is left
	// alone (with a warning) and still refused without --fresh.
	out, errs, code = runTinyscale(append(args, "--fresh", "--only", "pair/silia")...)
	if code != 0 || !strings.Contains(out, "1 done, 0 failed, 0 skipped") || !strings.Contains(errs, "not selected, left alone") {
		t.Errorf("--fresh --only: exit %d\n%s\n%s", code, out, errs)
	}
	if ls := runLosses(t, filepath.Join(dir, "results.db")); len(ls["pair/silia"]) != 20 {
		t.Errorf("silia after --fresh: %d steps", len(ls["pair/silia"]))
	}
	if _, errs, code = runTinyscale(args...); code != 1 || !strings.Contains(errs, `"pair/gpt2"`) {
		t.Errorf("gpt2 still changed: exit %d\n%s", code, errs)
	}
}

func TestRunCommandBadFlags(t *testing.T) {
	dir := t.TempDir()
	yaml := filepath.Join(dir, "experiments.yaml")
	os.WriteFile(yaml, []byte(strings.Replace(runTestYAML, "STEPS", "20", 1)), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad shard", []string{"run", "-f", yaml, "--shard", "3/2"}, 2, "want K/N"},
		{"bad glob", []string{"run", "-f", yaml, "--only", "[", "--cache", dir}, 2, "bad --only pattern"},
		{"no match", []string{"run", "-f", yaml, "--only", "nope", "--cache", dir}, 1, "matches no run"},
		{"missing file", []string{"run", "-f", filepath.Join(dir, "none.yaml")}, 1, "none.yaml"},
		{"extra arg", []string{"run", "x"}, 2, "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := runTinyscale(tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d (want %d), stderr %q lacks %q", code, tc.code, errs, tc.want)
			}
		})
	}
}

// runChildEnv carries the arguments of a child `tinyscale run` process
// (TestRunChildProcess), separated by \x1f.
const runChildEnv = "TINYSCALE_TEST_RUN_CHILD"

// TestRunChildProcess is the body of the child process of
// TestRunKillAndResume; it is skipped in normal test runs.
func TestRunChildProcess(t *testing.T) {
	args := os.Getenv(runChildEnv)
	if args == "" {
		t.Skip("child process only")
	}
	ctx, stop := signalContext() // as main: SIGTERM and SIGINT stop gracefully
	code := runMain(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// TestRunSignalAndResume sends SIGTERM (as Slurm or a shell's kill does) to
// `tinyscale run` at seeded random points — in a step, a flush, an eval or a
// checkpoint — and restarts it each time: every stop must checkpoint the
// interrupted run at its last logged step and say so, and the final curves
// equal an uninterrupted run's bit for bit.
func TestRunSignalAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns training processes")
	}
	const steps = 60
	cache := t.TempDir()
	refDir, refArgs := runTestDir(t, steps, cache)
	if out, errs, code := runTinyscale(refArgs...); code != 0 {
		t.Fatalf("reference: exit %d\n%s\n%s", code, out, errs)
	}
	want := runLosses(t, filepath.Join(refDir, "results.db"))

	dir, args := runTestDir(t, steps, cache)
	dbPath := filepath.Join(dir, "results.db")
	logged := func() int64 {
		db, err := store.OpenReadOnly(dbPath)
		if err != nil {
			return 0
		}
		defer db.Close()
		runs, _ := db.ListRuns(context.Background())
		var n int64
		for _, r := range runs {
			n += r.Step
		}
		return n
	}
	msgRE := regexp.MustCompile(`interrupted; run (\S+) checkpointed at step (\d+)`)
	rng := rand.New(rand.NewPCG(11, 2026))
	stops := 0
	for try := 1; try <= 8; try++ {
		stderr := &lockedBuffer{}
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunChildProcess$")
		cmd.Env = append(os.Environ(), runChildEnv+"="+strings.Join(args, "\x1f"))
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		target := min(logged()+2+rng.Int64N(13), 2*steps-3)
		deadline := time.Now().Add(60 * time.Second)
		// The signal handler is installed before the "training" line.
		for (logged() < target || !strings.Contains(stderr.String(), "msg=training")) && time.Now().Before(deadline) {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("try %d: child failed: %v\n%s", try, err, stderr.String())
				}
				done <- nil
			case <-time.After(2 * time.Millisecond):
			}
			if len(done) > 0 {
				break
			}
		}
		time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		sent := time.Now()
		err := <-done
		took := time.Since(sent)
		if err == nil {
			t.Logf("try %d: the sweep finished before SIGTERM", try)
			break
		}
		m := msgRE.FindStringSubmatch(stderr.String())
		outside := strings.Contains(stderr.String(), "interrupted outside a training step")
		if m == nil && !outside {
			t.Fatalf("try %d: no truthful checkpoint message after SIGTERM (%v):\n%s", try, err, stderr.String())
		}
		stops++
		// Nothing lost: every run's logged steps end at its newest checkpoint.
		db, err := store.OpenReadOnly(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		runs, _ := db.ListRuns(context.Background())
		for _, r := range runs {
			ck, _ := db.Checkpoints(context.Background(), r.Name)
			var ckStep int64
			if len(ck) > 0 {
				ckStep = ck[0].Step
			}
			if r.Status != "done" && r.Step != ckStep {
				t.Errorf("try %d: run %s logged %d steps but its newest checkpoint is at %d", try, r.Name, r.Step, ckStep)
			}
			if m != nil && r.Name == m[1] && strconv.FormatInt(ckStep, 10) != m[2] {
				t.Errorf("try %d: message says step %s, newest checkpoint %d", try, m[2], ckStep)
			}
		}
		db.Close()
		what := "outside a step"
		if m != nil {
			what = m[1] + " checkpointed at step " + m[2]
		}
		t.Logf("try %d: SIGTERM at %d steps logged; %s; exited %v after the signal", try, target, what, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("try %d: took %v to stop", try, took)
		}
	}
	if stops < 3 {
		t.Fatalf("only %d SIGTERMs landed mid-sweep", stops)
	}
	if out, errs, code := runTinyscale(args...); code != 0 {
		t.Fatalf("final session: exit %d\n%s\n%s", code, out, errs)
	}
	sameRunLosses(t, runLosses(t, dbPath), want)
}

// TestRunKillAndResume is the headline test: `tinyscale run` (this test
// binary re-executed as the child) is killed with SIGKILL at seeded random
// points and restarted each time; the final curves equal an uninterrupted
// run's bit for bit.
func TestRunKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns training processes")
	}
	const steps = 60
	cache := t.TempDir()
	refDir, refArgs := runTestDir(t, steps, cache)
	if out, errs, code := runTinyscale(refArgs...); code != 0 {
		t.Fatalf("reference: exit %d\n%s\n%s", code, out, errs)
	}
	want := runLosses(t, filepath.Join(refDir, "results.db"))

	dir, args := runTestDir(t, steps, cache)
	dbPath := filepath.Join(dir, "results.db")
	var stderr bytes.Buffer
	start := func() (*exec.Cmd, chan error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunChildProcess$")
		cmd.Env = append(os.Environ(), runChildEnv+"="+strings.Join(args, "\x1f"))
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, done
	}
	logged := func() int64 {
		db, err := store.OpenReadOnly(dbPath)
		if err != nil {
			return 0
		}
		defer db.Close()
		runs, _ := db.ListRuns(context.Background())
		var n int64
		for _, r := range runs {
			n += r.Step
		}
		return n
	}
	rng := rand.New(rand.NewPCG(7, 2026))
	mid := 0
	for kill := 1; kill <= 4; kill++ {
		target := min(logged()+5+rng.Int64N(30), 2*steps-5)
		cmd, done := start()
		deadline := time.Now().Add(60 * time.Second)
	wait:
		for logged() < target && time.Now().Before(deadline) {
			select {
			case err := <-done:
				t.Fatalf("child ended before %d steps were logged: %v\n%s", target, err, stderr.String())
			case <-time.After(5 * time.Millisecond):
				continue wait
			}
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		n := logged()
		t.Logf("kill %d: SIGKILL with %d steps logged (target %d)", kill, n, target)
		if n > 0 && n < 2*steps {
			mid++
		}
	}
	if mid < 3 {
		t.Fatalf("only %d kills landed mid-sweep", mid)
	}
	_, done := start()
	if err := <-done; err != nil {
		t.Fatalf("final session: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "resumed from checkpoint") {
		t.Errorf("never resumed from a checkpoint:\n%s", stderr.String())
	}
	sameRunLosses(t, runLosses(t, dbPath), want)
}

// TestInterruptMessage: run's message after Ctrl-C says whether the
// checkpoint was written, never claims it when it was not.
func TestInterruptMessage(t *testing.T) {
	disk := errors.New("no space left on device")
	tests := []struct {
		name string
		err  error
		want string
		ok   bool
	}{
		{"not interrupted", disk, "", false},
		{"between runs", fmt.Errorf("run a: %w", context.Canceled), "no step was left unsaved", true},
		{"checkpointed", fmt.Errorf("run a: %w", &runner.InterruptedError{Run: "a", Step: 12, Checkpointed: true, LastCkpt: 12, Cause: context.Canceled}),
			"run a checkpointed at step 12", true},
		{"first step", fmt.Errorf("run a: %w", &runner.InterruptedError{Run: "a", Step: 0, Checkpointed: true, Cause: context.Canceled}),
			"interrupted; run a stopped in its first step (nothing to save yet): rerun `tinyscale run` to start it", true},
		{"not checkpointed", fmt.Errorf("run a: %w", &runner.InterruptedError{Run: "a", Step: 12, LastCkpt: 10, Cause: context.Canceled, Err: disk}),
			"run a stopped at step 12 but its checkpoint could NOT be written (no space left on device): rerun `tinyscale run` to resume from step 10", true},
	}
	for _, tc := range tests {
		got, ok := interruptMessage(tc.err)
		if ok != tc.ok || !strings.Contains(got, tc.want) || (tc.name == "not checkpointed" && strings.Contains(got, "checkpointed at")) {
			t.Errorf("%s: %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestDBGone: a results database deleted (or replaced) while run trained is
// reported, not "checkpointed at step N" or "2 done" about a file no rerun
// will open.
func TestDBGone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.db")
	writeFile(t, path, "x")
	opened, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(path) // as SQLite holds it: its inode is not reused
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := dbGone(path, opened); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	os.Remove(path)
	want := "the results database " + path + " was deleted while run was training"
	if err := dbGone(path, opened); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("deleted: %v, want prefix %q", err, want)
	}
	writeFile(t, path, "y")
	if err := dbGone(path, opened); err == nil || !strings.Contains(err.Error(), "was replaced by another file") {
		t.Errorf("replaced: %v", err)
	}
}

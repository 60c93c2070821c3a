package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// slurmE2EEnv opts in to TestSlurmEndToEnd; .ci/run sets it after starting
// a one-node cluster (.ci/slurm-cluster.sh) and exporting SLURM_CONF.
const slurmE2EEnv = "TINYSCALE_SLURM_E2E"

// slurmYAML is a three-run sweep of tiny models, long enough (a few
// seconds per run) for a requeue to land mid-run.
const slurmYAML = `defaults:
  data: tiny
  tokenizer: {kind: char}
  block_size: 16
  batch_size: 4
  optimizer: {name: adamw, lr: 1e-2, min_lr: 1e-3, warmup: 5, schedule: cosine}
  budget: {steps: 8000}
  eval: {every: 1000, batches: 1, final_batches: 2}
  checkpoint: {every: 500, keep: 2}
  seed: 1
datasets:
  tiny: {kind: synthetic, generator: stories, tokens: 20000}
experiments:
  - name: e2e
    models:
      - {family: gpt2, n_embd: 8, n_head: 2, n_layer: 1, dropout: 0.1}
      - {family: silia, n_embd: 8, n_head: 2, n_layer: 1}
      - {family: gpt2, n_embd: 16, n_head: 2, n_layer: 1}
`

// lockedBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// dumpDB renders every row of every table, for whole-database comparisons.
func dumpDB(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, tbl := range []string{"meta", "runs", "steps", "evals", "samples", "checkpoints"} {
		rows, err := db.Query(`SELECT * FROM ` + tbl + ` ORDER BY 1, 2`)
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

// TestSlurmEndToEnd runs a sweep on a real Slurm cluster with `launch slurm
// --submit --wait`, requeues one array task mid-run (it gets SIGTERM,
// checkpoints, and resumes when it starts again), and checks that the merged
// database equals a single-process run bit for bit on every step loss and
// eval, and that merging again changes nothing.
func TestSlurmEndToEnd(t *testing.T) {
	if os.Getenv(slurmE2EEnv) == "" {
		t.Skipf("set %s=1 with a running Slurm cluster (SLURM_CONF) to run; .ci/run does", slurmE2EEnv)
	}
	if _, err := exec.LookPath("sbatch"); err != nil {
		t.Fatalf("%s is set but there is no sbatch: %v", slurmE2EEnv, err)
	}
	root := t.TempDir()
	bin := filepath.Join(root, "tinyscale")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(root, "experiments.yaml")
	if err := os.WriteFile(file, []byte(slurmYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sweep")

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var launchOut, launchErr lockedBuffer
	launchCmd := exec.CommandContext(ctx, bin, "launch", "slurm", "-f", file, "--dir", dir, "--parallel", "2", "--submit", "--wait")
	launchCmd.Stdout, launchCmd.Stderr = &launchOut, &launchErr
	if err := launchCmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- launchCmd.Wait() }()
	defer func() {
		if t.Failed() {
			for _, f := range []string{"task-0.out", "task-1.out", "task-2.out", "merge.out"} {
				b, _ := os.ReadFile(filepath.Join(dir, "logs", f))
				t.Logf("--- %s\n%s", f, b)
			}
		}
	}()

	// Requeue task 0 once its first checkpoint exists (mid-run).
	var arrayID string
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if arrayID == "" {
			if _, rest, ok := strings.Cut(launchOut.String(), "array job "); ok {
				arrayID, _, _ = strings.Cut(rest, "\n")
			}
		}
		cks, _ := filepath.Glob(filepath.Join(dir, "shards", "task-0.db.ckpt", "*", "step-*.ckpt"))
		if arrayID != "" && len(cks) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("launch ended before task 0 checkpointed: %v\n%s\n%s", err, launchOut.String(), launchErr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of task 0 after 4 minutes\n%s\n%s", launchOut.String(), launchErr.String())
		}
	}
	if out, err := exec.Command("scontrol", "requeue", arrayID+"_0").CombinedOutput(); err != nil {
		t.Fatalf("scontrol requeue %s_0: %v %s", arrayID, err, out)
	}
	t.Logf("requeued %s_0", arrayID)

	// Meanwhile, the reference: one process, one database.
	refDB := filepath.Join(root, "ref", "results.db")
	if out, err := exec.Command(bin, "run", "-f", file, "--db", refDB, "--cache", filepath.Join(root, "ref-cache")).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}

	if err := <-done; err != nil {
		t.Fatalf("launch slurm --submit --wait: %v\n%s\n%s", err, launchOut.String(), launchErr.String())
	}
	log0, _ := os.ReadFile(filepath.Join(dir, "logs", "task-0.out"))
	for _, want := range []string{"restart 1", "resumed from checkpoint"} {
		if !strings.Contains(string(log0), want) {
			t.Errorf("task 0's log lacks %q (requeued mid-run, resumed from its checkpoint)", want)
		}
	}

	merged := filepath.Join(dir, "results.db")
	sameRunLosses(t, runLosses(t, merged), runLosses(t, refDB))
	if got, want := runEvals(t, merged), runEvals(t, refDB); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("merged evals differ from the single-process run:\n%v\nvs\n%v", got, want)
	}
	for name, ev := range runEvals(t, merged) {
		if !strings.HasPrefix(ev, "done ") {
			t.Errorf("run %s is not done in the merged database: %s", name, ev)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "report")); err != nil {
		t.Errorf("no report: %v", err)
	}

	// Merging again, and merging the output with its inputs, change nothing.
	before := dumpDB(t, merged)
	shards, _ := filepath.Glob(filepath.Join(dir, "shards", "task-*.db"))
	if out, err := exec.Command(bin, append([]string{"merge", "-o", merged}, shards...)...).CombinedOutput(); err != nil {
		t.Fatalf("merge again: %v\n%s", err, out)
	}
	if after := dumpDB(t, merged); after != before {
		t.Errorf("merging again changed results.db")
	}
	again := filepath.Join(dir, "again.db")
	if out, err := exec.Command(bin, append([]string{"merge", "-o", again, merged}, shards...)...).CombinedOutput(); err != nil {
		t.Fatalf("merge with its inputs: %v\n%s", err, out)
	}
	if dumpDB(t, again) != before {
		t.Errorf("merging results.db with its own inputs changed it")
	}
}

package runner

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
)

// childEnv, when set to a database path, makes the test binary train
// killRun() into that database and exit (see TestKillAndResume).
const childEnv = "TINYSCALE_RUNNER_TRAIN_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(trainChild(path))
	}
	os.Exit(m.Run())
}

// killRun is the run the kill test trains: long enough to be killed mid-way.
func killRun() sweeps.Run {
	r := fakeRun("kill/fake/seed=7", 7)
	r.Optimizer.Name = "muon"
	r.Budget.Steps = 200
	// Checkpoints every 30 steps with step rows flushed every 25: a kill
	// can land while the store holds rows past the newest checkpoint, which
	// the resume must truncate and log again.
	r.Checkpoint.Every = 30
	return r
}

// trainChild trains killRun in the database at path, as a separate process
// with the default owner (host:pid) and the default flush batching.
func trainChild(path string) int {
	db, err := store.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	w := &fakeWorld{configure: func(_ int, m *fakeModel) { m.delay = 2 * time.Millisecond }}
	_, err = Run(context.Background(), Options{
		DB: db, Runs: []sweeps.Run{killRun()},
		Log:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
		NewModel: w.newModel, Data: fakeData, Generate: fakeGenerate,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKillAndResume runs the training in a child process, kills it with
// SIGKILL at seeded random points several times, restarts it each time, and
// checks that the final curve equals an uninterrupted run's bit for bit.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	r := killRun()
	want := reference(t, r)
	dbPath := filepath.Join(t.TempDir(), "results.db")
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2026, 11))
	var stderr strings.Builder
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dbPath)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	step := func() int64 {
		got, err := db.GetRun(ctx, r.Name)
		if err != nil {
			return 0
		}
		return got.Step
	}
	midRun := 0
	for kill := 0; kill < 5; kill++ {
		target := min(step()+3+rng.Int64N(25), r.Budget.Steps-10)
		cmd := start()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(20 * time.Second)
		for step() < target && time.Now().Before(deadline) {
			select {
			case err := <-exited:
				t.Fatalf("child exited before step %d: %v\n%s", target, err, stderr.String())
			case <-time.After(2 * time.Millisecond):
			}
		}
		time.Sleep(time.Duration(rng.IntN(15000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited // reaped: the dead owner's pid is gone
		s := step()
		var ck int64
		if cks, _ := db.Checkpoints(ctx, r.Name); len(cks) > 0 {
			ck = cks[0].Step
		}
		t.Logf("kill %d: SIGKILL with steps logged to %d, newest checkpoint %d (target %d)", kill+1, s, ck, target)
		if s > 0 && s < r.Budget.Steps {
			midRun++
		}
	}
	if midRun < 3 {
		t.Fatalf("only %d of 5 kills landed mid-run", midRun)
	}
	cmd := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final session: %v\n%s", err, stderr.String())
	}
	if n := strings.Count(stderr.String(), "resumed from checkpoint"); n < 3 {
		t.Errorf("resumed %d times, want >= 3", n)
	}
	got, _ := db.GetRun(ctx, r.Name)
	if got.Status != store.StatusDone {
		t.Fatalf("status %s", got.Status)
	}
	sameBits(t, losses(t, db, r.Name), want)
}

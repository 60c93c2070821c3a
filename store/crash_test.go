package store_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// Environment of the crashing child process.
const (
	crashDBEnv   = "TINYSCALE_STORE_CRASH_DB"
	crashModeEnv = "TINYSCALE_STORE_CRASH_MODE"
)

const (
	committedSteps = 10
	// crashBatch is large enough that SQLite spills uncommitted pages of the
	// batch into the WAL file before the process dies.
	crashBatch = 30000
)

// TestCrashMidTransaction re-executes the test binary as a child that
// commits a batch of steps, then dies (SIGKILL or os.Exit) inside the next
// WriteSteps transaction, just before COMMIT. The parent then opens the
// database: no row of the dead batch may be visible, and the file must be
// intact and writable.
func TestCrashMidTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	for _, mode := range []string{"sigkill", "exit"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.db")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashDBEnv+"="+path, crashModeEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("child did not die: %v\n%s", err, out)
			}
			if mode == "sigkill" {
				if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("child not killed by SIGKILL: %v\n%s", err, out)
				}
			} else if exit.ExitCode() != 3 {
				t.Fatalf("child exit code %d, want 3\n%s", exit.ExitCode(), out)
			}
			if fi, err := os.Stat(path + "-wal"); err == nil {
				t.Logf("WAL left by the dead child: %d bytes", fi.Size())
			}

			ctx := context.Background()
			db := storetest.MustOpenPath(t, path)
			if got := pragma(t, db, "integrity_check"); got != "ok" {
				t.Fatalf("integrity_check = %q", got)
			}
			steps, err := db.Steps(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) != committedSteps || steps[len(steps)-1].Step != committedSteps {
				t.Fatalf("%d steps visible after crash, want the %d committed", len(steps), committedSteps)
			}
			if r, err := db.GetRun(ctx, "r"); err != nil || r.Step != committedSteps {
				t.Fatalf("run step = %d, %v; want %d", r.Step, err, committedSteps)
			}
			// The successor writes the lost steps again.
			if err := db.WriteSteps(ctx, "r", stepRows(committedSteps+1, 50)); err != nil {
				t.Fatalf("write after crash: %v", err)
			}
			if steps, _ := db.Steps(ctx, "r"); len(steps) != committedSteps+50 {
				t.Fatalf("%d steps after rewrite", len(steps))
			}
		})
	}
}

// TestCrashChild is the child half of TestCrashMidTransaction; it does
// nothing unless run by it.
func TestCrashChild(t *testing.T) {
	path, mode := os.Getenv(crashDBEnv), os.Getenv(crashModeEnv)
	if path == "" {
		t.Skip("child process of TestCrashMidTransaction")
	}
	ctx := context.Background()
	armed := false
	die := func() {
		if !armed {
			return
		}
		if mode == "exit" {
			os.Exit(3)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // wait for the signal
	}
	db, err := store.Open(path, store.WithBeforeCommit(die))
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	if err := db.WriteSteps(ctx, "r", stepRows(1, committedSteps)); err != nil {
		t.Fatal(err)
	}
	armed = true
	err = db.WriteSteps(ctx, "r", stepRows(committedSteps+1, crashBatch))
	t.Fatalf("WriteSteps returned (%v) instead of dying", err)
}

// stepRows returns n steps starting at from.
func stepRows(from, n int64) []store.Step {
	rows := make([]store.Step, n)
	for i := range rows {
		s := from + int64(i)
		rows[i] = store.Step{Step: s, Tokens: 4096 * s, Flops: 1e9 * float64(s), Loss: 1 / float64(s),
			LR: 3e-4, GradNorm: 1, StepMS: 25, ElapsedS: 0.025 * float64(s)}
	}
	return rows
}

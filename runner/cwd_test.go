package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/store/storetest"
)

// TestResumeFromAnotherWorkingDirectory reproduces issue 9's first failure:
// `tinyscale run --db X/results.db` from the parent of X, interrupted, then
// resumed from inside X (and again after X was moved) must continue from its
// checkpoint, not report "checkpoint unusable" and retrain from step 0.
func TestResumeFromAnotherWorkingDirectory(t *testing.T) {
	ctx := context.Background()
	r := fakeRun("t/cwd", 3)
	want := reference(t, r)
	root := t.TempDir()
	t.Chdir(root)

	run := func(dbPath string, stopAt int) (string, error) {
		db := storetest.MustOpenPath(t, dbPath)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		w := &fakeWorld{configure: func(i int, m *fakeModel) {
			if stopAt > 0 {
				m.onStep = func(n int) {
					if n == stopAt {
						cancel()
					}
				}
			}
		}}
		o, logs := testOptions(db, w, r)
		_, err := Run(cctx, o)
		db.Close()
		return logs.String(), err
	}
	// Session 1 from the parent: interrupted at step 15 (checkpoint 15).
	if _, err := run(filepath.Join("X", "results.db"), 15); !errors.Is(err, context.Canceled) {
		t.Fatalf("session 1: %v", err)
	}
	// Session 2 from inside X: resumes from 15, interrupted at its 10th step (25).
	t.Chdir(filepath.Join(root, "X"))
	logs, err := run("results.db", 10)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("session 2: %v", err)
	}
	if strings.Contains(logs, "unusable") || !strings.Contains(logs, "resumed from checkpoint") || !strings.Contains(logs, "step=15") {
		t.Fatalf("session 2 did not resume from step 15:\n%s", logs)
	}
	// Session 3 after the folder moved, by absolute path from elsewhere.
	t.Chdir(root)
	if err := os.Rename(filepath.Join(root, "X"), filepath.Join(root, "Y")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	logs, err = run(filepath.Join(root, "Y", "results.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs, "unusable") || !strings.Contains(logs, "step=25") {
		t.Fatalf("session 3 did not resume from step 25:\n%s", logs)
	}
	db := storetest.MustOpenPath(t, filepath.Join(root, "Y", "results.db"))
	sameBits(t, losses(t, db, r.Name), want)
}

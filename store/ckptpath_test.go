package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// TestCheckpointPathsRelativeToDB: records are stored relative to the
// database's directory and resolve from any working directory and after the
// folder is moved; absolute and working-directory-relative records of older
// versions still resolve.
func TestCheckpointPathsRelativeToDB(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, "X")
	dbPath := filepath.Join(dir, "results.db")
	db := storetest.MustOpenPath(t, dbPath)
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	write := func(rel string) string {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newRec := write("results.db.ckpt/r/step-000000001.ckpt")
	if err := db.RecordCheckpoint(ctx, store.Checkpoint{Run: "r", Step: 1, Path: newRec, SHA256: "x", Bytes: 1}); err != nil {
		t.Fatal(err)
	}
	// Old records: absolute, and relative to the writer's working directory
	// (root, the parent of X).
	absRec := write("results.db.ckpt/r/step-000000002.ckpt")
	write("results.db.ckpt/r/step-000000003.ckpt")
	for _, rec := range []struct {
		step int64
		path string
	}{{2, absRec}, {3, "X/results.db.ckpt/r/step-000000003.ckpt"}} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO checkpoints (run, step, path, sha256, bytes, created_at)
			VALUES ('r', ?, ?, 'x', 1, '2026-01-01T00:00:00.000000Z')`, rec.step, rec.path); err != nil {
			t.Fatal(err)
		}
	}
	var stored string
	db.SQL().QueryRowContext(ctx, `SELECT path FROM checkpoints WHERE step = 1`).Scan(&stored)
	if stored != "results.db.ckpt/r/step-000000001.ckpt" {
		t.Errorf("stored path %q, want it relative to the database's directory", stored)
	}
	check := func(db *store.DB, where string) {
		t.Helper()
		cks, err := db.Checkpoints(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if len(cks) != 3 {
			t.Fatalf("%s: %d records", where, len(cks))
		}
		for _, c := range cks {
			if _, err := os.Stat(c.Path); err != nil {
				t.Errorf("%s: step %d resolves to %s: %v", where, c.Step, c.Path, err)
			}
		}
	}
	check(db, "same process")
	db.Close()

	// Moved folder, opened from an unrelated working directory by a relative path.
	moved := filepath.Join(root, "moved", "Y")
	os.MkdirAll(filepath.Dir(moved), 0o755)
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(root, "moved"))
	db2, err := store.OpenReadOnly(filepath.Join("Y", "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	check(db2, "after move")
}

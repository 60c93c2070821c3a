// Package storetest helps other packages' tests use a real, temporary
// results database.
package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/tinyscale/tinyscale/store"
)

// MustOpenDB opens a fresh results database in tb's temporary directory and
// closes it when the test ends. Its path is db.Path().
func MustOpenDB(tb testing.TB, opts ...store.Option) *store.DB {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "results.db"), opts...)
}

// MustOpenPath opens (creating or migrating) the database at path and closes
// it when the test ends. The store's log is discarded unless opts set a
// logger.
func MustOpenPath(tb testing.TB, path string, opts ...store.Option) *store.DB {
	tb.Helper()
	opts = append([]store.Option{store.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	db, err := store.Open(path, opts...)
	if err != nil {
		tb.Fatalf("open results database: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close results database: %v", err)
		}
	})
	return db
}

// Run returns a minimal valid run called name with config hash hash.
func Run(name, hash string) store.Run {
	return store.Run{
		Name:       name,
		Experiment: "test",
		Family:     "gpt2",
		ConfigJSON: []byte(fmt.Sprintf(`{"name":%q}`, name)),
		ConfigHash: hash,
		StepsTotal: 100,
	}
}

// MustAddRun registers run r in db or fails the test.
func MustAddRun(tb testing.TB, db *store.DB, r store.Run) {
	tb.Helper()
	if err := db.UpsertRun(context.Background(), r); err != nil {
		tb.Fatalf("add run: %v", err)
	}
}

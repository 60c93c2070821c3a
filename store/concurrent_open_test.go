package store_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/tinyscale/tinyscale/store"
)

// Environment of the child processes of TestConcurrentFirstOpenProcesses.
const (
	openDBEnv   = "TINYSCALE_STORE_OPEN_DB"
	openIterEnv = "TINYSCALE_STORE_OPEN_ROUNDS"
)

// checkFresh opens path (which may be created by a racing opener), registers
// a run and checks the schema is the newest.
func checkFresh(path, runName string) error {
	db, err := store.Open(path)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	if v != store.SchemaVersion() {
		return fmt.Errorf("schema version %d, want %d", v, store.SchemaVersion())
	}
	if err := db.UpsertRun(ctx, store.Run{Name: runName, Experiment: "e", Family: "gpt2", ConfigHash: "h", ConfigJSON: []byte("{}")}); err != nil {
		return err
	}
	return nil
}

// TestConcurrentFirstOpen races several independent handles (each its own
// connection pool, as separate processes would have) creating and migrating
// one fresh file: every one must open it, none may see SQLITE_BUSY.
func TestConcurrentFirstOpen(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for r := 0; r < rounds; r++ {
		path := filepath.Join(t.TempDir(), "fresh.db")
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = checkFresh(path, fmt.Sprintf("r%d", i))
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d opener %d: %v", r, i, err)
			}
		}
	}
}

// TestConcurrentFirstOpenProcesses does the same with separate processes
// (the test binary re-executed), six per fresh file.
func TestConcurrentFirstOpenProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	const procs, rounds = 6, 4
	for r := 0; r < rounds; r++ {
		path := filepath.Join(t.TempDir(), "fresh.db")
		var wg sync.WaitGroup
		outs := make([][]byte, procs)
		errs := make([]error, procs)
		for i := 0; i < procs; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentFirstOpenChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), openDBEnv+"="+path, openIterEnv+"="+strconv.Itoa(i))
				outs[i], errs[i] = cmd.CombinedOutput()
			}(i)
		}
		wg.Wait()
		for i := range errs {
			if errs[i] != nil {
				t.Fatalf("round %d child %d: %v\n%s", r, i, errs[i], outs[i])
			}
		}
	}
}

// TestConcurrentFirstOpenChild is the child of TestConcurrentFirstOpenProcesses.
func TestConcurrentFirstOpenChild(t *testing.T) {
	path := os.Getenv(openDBEnv)
	if path == "" {
		t.Skip("child process of TestConcurrentFirstOpenProcesses")
	}
	if err := checkFresh(path, "child"+os.Getenv(openIterEnv)); err != nil {
		t.Fatal(err)
	}
}

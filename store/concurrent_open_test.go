package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestOpenUnwritableDirectory: a directory SQLite cannot write in (it must
// create the -wal and -shm files beside the database) gets a message that
// says so instead of "unable to open database file (14)".
func TestOpenUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	for _, existing := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.db")
		if existing {
			db, err := store.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		_, err := store.Open(path)
		if err == nil || !strings.Contains(err.Error(), "directory "+dir+" is not writable") {
			t.Errorf("existing %v: err %v", existing, err)
		}
	}
}

// TestDiagnoseOpen checks the messages for each case with a fake probe
// (the real check needs a non-root user; see TestOpenUnwritableDirectory).
func TestDiagnoseOpen(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "there.db")
	if err := os.WriteFile(existing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cantOpen := errors.New("unable to open database file (14)")
	denied := func(string) error { return os.ErrPermission }
	tests := []struct {
		path  string
		probe func(string) error
		want  string
	}{
		{filepath.Join(dir, "new.db"), denied, "cannot create results database " + filepath.Join(dir, "new.db") + ": directory " + dir + " is not writable"},
		{existing, denied, "cannot open results database " + existing + " for writing: directory " + dir + " is not writable (SQLite creates " + existing + "-wal and -shm beside it)"},
		{existing, func(string) error { return nil }, "unable to open database file (14)"},
	}
	for _, tc := range tests {
		if got := store.DiagnoseOpen(tc.path, cantOpen, tc.probe).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestOpenWaitsForCreatingWriter is the deterministic form of the race of
// TestConcurrentFirstOpen: while another connection holds the write lock of
// a new file that is not yet in WAL mode (as the first opener does while it
// switches the file to WAL), SQLite answers the journal_mode pragma of a
// second opener with SQLITE_BUSY at once, without its busy handler. Open
// must wait for the lock instead of failing.
func TestOpenWaitsForCreatingWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("CREATE TABLE creating (x)"); err != nil { // takes the write lock
		t.Fatal(err)
	}
	const hold = 300 * time.Millisecond
	time.AfterFunc(hold, func() { tx.Rollback() })
	start := time.Now()
	db, err := store.Open(path)
	if err != nil {
		t.Fatalf("Open while another connection creates the file: %v", err)
	}
	defer db.Close()
	if d := time.Since(start); d < hold/2 {
		t.Errorf("Open returned after %v, before the writer let go", d)
	}
	if v, err := db.Version(context.Background()); err != nil || v != store.SchemaVersion() {
		t.Errorf("version %d, %v", v, err)
	}
}

// TestOpenReadOnlyInUnwritableDirectory: a database in a folder this user
// cannot write (a colleague's results, a read-only share) can still be read
// (status, plan, report, sample, eval, export) when no writer left a -wal
// file; with one, the error says what to do.
func TestOpenReadOnlyInUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.db")
	w, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.UpsertRun(ctx, store.Run{Name: "r", Experiment: "e", Family: "gpt2", ConfigHash: "h", ConfigJSON: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	r, err := store.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly in an unwritable folder: %v", err)
	}
	runs, err := r.ListRuns(ctx)
	r.Close()
	if err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
	// A -wal left by a writer cannot be replayed without writing.
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(path+"-wal", []byte("not empty"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o555)
	if _, err := store.OpenReadOnly(path); err == nil || !strings.Contains(err.Error(), "copy "+path+" and "+path+"-wal to a writable folder") {
		t.Errorf("with a -wal: %v", err)
	}
}

// TestOpenDirectoryAsDatabase: a --db that names a folder is refused with
// that reason (SQLite said "disk I/O error (10)" or "unable to open database
// file (14)"), by writing and reading opens alike.
func TestOpenDirectoryAsDatabase(t *testing.T) {
	dir := t.TempDir()
	want := "results database " + dir + " is a directory, not a database file (give a file path such as " + filepath.Join(dir, "results.db") + ")"
	for name, open := range map[string]func(string, ...store.Option) (*store.DB, error){"Open": store.Open, "OpenReadOnly": store.OpenReadOnly} {
		db, err := open(dir)
		if err == nil {
			db.Close()
			t.Fatalf("%s(%s): no error", name, dir)
		}
		if err.Error() != want {
			t.Errorf("%s: %q, want %q", name, err, want)
		}
	}
}

// TestExplainLocked: SQLITE_BUSY after the whole busy timeout says which
// process holds such a database (a shard's writer keeps an exclusive lock).
func TestExplainLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "task-0.db")
	holder, err := sql.Open("sqlite", "file:"+path+"?_pragma=locking_mode(EXCLUSIVE)")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	holder.SetMaxOpenConns(1)
	if _, err := holder.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var n int
	busy := other.QueryRow("SELECT count(*) FROM t").Scan(&n)
	if busy == nil {
		t.Fatal("read of an exclusively locked database succeeded")
	}
	got := store.ExplainLocked(path, fmt.Errorf("read schema version: %w", busy), 10000).Error()
	want := "results database " + path + " is locked by another process (waited 10 s): a `tinyscale run --shard auto` task holds its shard database"
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "SQLITE_BUSY") {
		t.Errorf("got %q, want prefix %q and the SQLite error", got, want)
	}
	if other := errors.New("file is not a database (26)"); store.ExplainLocked(path, other, 10000) != other {
		t.Error("a non-busy error was rewritten")
	}
}

// TestReadOnlyOpenOfLockedShardFailsFast: a reader of a rollback-journal
// database held by its writer (a shard of run --shard auto, which keeps an
// exclusive lock while it trains) gives up after 1 s, not 10 s during
// which Ctrl-C did nothing, saying who holds it.
func TestReadOnlyOpenOfLockedShardFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "task-0.db")
	w, err := store.Open(path, store.WithSingleWriter())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.UpsertRun(context.Background(), store.Run{Name: "r", Experiment: "e", Family: "gpt2", ConfigHash: "h", ConfigJSON: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := store.OpenReadOnly(path)
	took := time.Since(start)
	if err == nil {
		r.Close()
		t.Fatal("read-only open of a locked shard succeeded")
	}
	if want := "results database " + path + " is locked by another process (waited 1 s)"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
	if took > 5*time.Second {
		t.Errorf("gave up after %v, want about 1 s", took)
	}
}

// TestOpenUnreadableFile: a database file this user may not read (or, to
// write, may not write) is refused with the reason, not SQLite's "unable
// to open database file (14)" or "attempt to write a readonly database".
func TestOpenUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads and writes any file")
	}
	path := filepath.Join(t.TempDir(), "r.db")
	w, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	for _, tc := range []struct {
		mode os.FileMode
		open func(string, ...store.Option) (*store.DB, error)
		want string
	}{
		{0o000, store.OpenReadOnly, "cannot read results database " + path + ": open " + path + ": permission denied (fix its permissions, or copy it to read it)"},
		{0o444, store.Open, "cannot open results database " + path + " for writing: open " + path + ": permission denied (fix its permissions, or copy it to read it)"},
	} {
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		db, err := tc.open(path)
		if err == nil {
			db.Close()
			t.Errorf("mode %o: no error", tc.mode)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("mode %o: %q, want %q", tc.mode, err, tc.want)
		}
	}
}

// TestOpenRefusesForeignDatabase: another program's SQLite file (tables, no
// schema version) is refused by writing and reading opens and left as it
// was; `tinyscale run` used to add its tables to it, and readers advised
// migrating it.
func TestOpenRefusesForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE notes (x); INSERT INTO notes VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	want := path + " is an SQLite database but not a tinyscale results database (schema version 0, tables: notes): it is left as it is; choose another --db"
	for name, open := range map[string]func(string, ...store.Option) (*store.DB, error){"Open": store.Open, "OpenReadOnly": store.OpenReadOnly} {
		db, err := open(path)
		if err == nil {
			db.Close()
			t.Fatalf("%s: no error", name)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %q, want %q", name, err, want)
		}
	}
	raw, _ = sql.Open("sqlite", "file:"+path)
	defer raw.Close()
	var n int
	if err := raw.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d tables in the file after the opens (%v), want 1", n, err)
	}
}

// TestOpenWithContextStopsWaitingForALock: a writing open of a database
// another process holds (a second task on one shard, a run on a shard
// still being written) waits up to the 10 s busy timeout; with
// WithContext, cancelling (Ctrl-C) ends the wait at once.
func TestOpenWithContextStopsWaitingForALock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "task-0.db")
	w, err := store.Open(path, store.WithSingleWriter())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.UpsertRun(context.Background(), store.Run{Name: "r", Experiment: "e", Family: "gpt2", ConfigHash: "h", ConfigJSON: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	db, err := store.Open(path, store.WithSingleWriter(), store.WithContext(ctx))
	took := time.Since(start)
	if err == nil {
		db.Close()
		t.Fatal("opened a database another connection holds exclusively")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if took > 5*time.Second {
		t.Errorf("stopped after %v, want soon after the cancel (200 ms)", took)
	}
}

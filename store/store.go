// Package store is tinyscale's results database: one SQLite file (via the
// pure-Go modernc.org/sqlite driver) holding runs, per-step training metrics,
// evaluations, samples and checkpoint records.
//
// Every connection runs in WAL mode with a busy timeout, foreign keys on and
// synchronous=NORMAL, set as per-connection pragmas in the DSN so that every
// connection of the pool gets them. Write transactions begin IMMEDIATE, so two
// writers never deadlock upgrading a read lock. The schema is versioned with
// PRAGMA user_version and migrated forward by the SQL files embedded from
// migrations/; see docs/schema.md for the tables and the migration policy.
//
// A training process claims a run with a lease (ClaimRun/RenewLease) so that
// two processes never train the same run, and a crashed process's run is
// taken over once its lease expires.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMS is how long a connection waits for another writer's lock.
const busyTimeoutMS = 10000

// readerBusyTimeoutMS is how long a read-only open of a rollback-journal
// database waits for its lock (see open).
const readerBusyTimeoutMS = 1000

// walFile reports whether the SQLite file at path is in WAL mode (header
// bytes 18 and 19, the file format versions, are 2); a file that cannot be
// read counts as WAL, the default of the databases this package creates.
func walFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return true
	}
	return h[18] == 2 && h[19] == 2
}

// timeFormat is how timestamps are stored: UTC, fixed width, so that string
// order is time order and SQLite's date functions accept it.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// Run statuses.
const (
	StatusPending = "pending"
	StatusRunning = "running"
	StatusDone    = "done"
	StatusFailed  = "failed"
)

// Standard evaluation splits; task evaluations use the task's name.
const (
	SplitTrain    = "train"
	SplitVal      = "val"
	SplitFinalVal = "final_val"
)

var (
	// ErrNotFound is returned when a run (or the row asked for) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConfigChanged is matched (errors.Is) by a *ConfigChangedError.
	ErrConfigChanged = errors.New("run configuration changed")
	// ErrSchemaTooNew is matched (errors.Is) by a *SchemaTooNewError.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
	// ErrLeaseLost is returned by RenewLease when the caller no longer owns
	// the run's lease: another process has taken the run over, or it was
	// released. The caller must stop writing to the run.
	ErrLeaseLost = errors.New("lease lost")
	// ErrNoDatabase is returned by OpenReadOnly when the file does not exist.
	ErrNoDatabase = errors.New("no results database")
	// ErrSchemaTooOld is matched (errors.Is) by a *SchemaTooOldError.
	ErrSchemaTooOld = errors.New("database schema is older than this binary")
)

// SchemaTooOldError reports, to a read-only opener, a database whose schema
// is older than this binary's: a writing command must migrate it first. A
// database that a writer is creating at this moment reads this way for a few
// milliseconds (each migration commits on its own).
type SchemaTooOldError struct {
	Path   string // database file
	DB     int    // the database's PRAGMA user_version
	Binary int    // the schema version this binary reads
}

func (e *SchemaTooOldError) Error() string {
	return fmt.Sprintf("open %s read-only: schema version %d is older than %d; open it once with a writing command (e.g. tinyscale run) to migrate it",
		e.Path, e.DB, e.Binary)
}

// Is makes errors.Is(err, ErrSchemaTooOld) true.
func (e *SchemaTooOldError) Is(target error) bool { return target == ErrSchemaTooOld }

// SchemaTooNewError reports a database written by a newer tinyscale.
type SchemaTooNewError struct {
	Path   string // database file
	DB     int    // the database's PRAGMA user_version
	Binary int    // the newest schema version this binary knows
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("%s has schema version %d but this tinyscale knows only up to version %d: upgrade tinyscale",
		e.Path, e.DB, e.Binary)
}

// Is makes errors.Is(err, ErrSchemaTooNew) true.
func (e *SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// ConfigChangedError reports that a run already exists with a different
// configuration hash. Rerun with a new name, or reset the run
// (`tinyscale run --fresh`, DB.ResetRun) to discard its results.
type ConfigChangedError struct {
	Run        string
	StoredHash string // hash in the database
	NewHash    string // hash of the configuration being registered
}

func (e *ConfigChangedError) Error() string {
	return fmt.Sprintf("run %q: configuration changed (stored hash %s, new hash %s); rename the run or start it fresh to discard its results",
		e.Run, shortHash(e.StoredHash), shortHash(e.NewHash))
}

// Is makes errors.Is(err, ErrConfigChanged) true.
func (e *ConfigChangedError) Is(target error) bool { return target == ErrConfigChanged }

func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// DB is an open results database. It is safe for concurrent use.
type DB struct {
	sql      *sql.DB
	path     string
	now      func() time.Time
	log      *slog.Logger
	readOnly bool
	// singleWriter selects the shared-storage journal mode (WithSingleWriter).
	singleWriter bool
	// beforeCommit, when set (tests only), runs just before each write
	// transaction commits.
	beforeCommit func()
	// target, when positive (tests only), stops migrations at that version.
	target int
	// busyMS is how long the first connection waits for a lock.
	busyMS int
	// openCtx, when set (WithContext), bounds the open: connecting, waiting
	// for a lock, migrating.
	openCtx context.Context
}

// Option configures Open and OpenReadOnly.
type Option func(*DB)

// WithClock replaces time.Now (lease expiry and timestamps); for tests.
func WithClock(now func() time.Time) Option { return func(d *DB) { d.now = now } }

// WithContext makes the open itself (connecting, waiting up to the busy
// timeout for another process's lock, migrating) stop when ctx is done, so
// that Ctrl-C is not deaf while a command waits for a locked database.
func WithContext(ctx context.Context) Option { return func(d *DB) { d.openCtx = ctx } }

// WithLogger sets the logger for migrations and other notable events.
func WithLogger(l *slog.Logger) Option { return func(d *DB) { d.log = l } }

// Open opens the database at path for reading and writing, creating the file
// (and its directory) if needed, and migrates it to the newest schema. A
// database whose schema is newer than this binary knows is refused with a
// *SchemaTooNewError and left untouched.
func Open(path string, opts ...Option) (*DB, error) {
	return open(context.Background(), path, false, opts)
}

// OpenReadOnly opens an existing database for reading only; it never creates
// a file (a missing one is an error matching ErrNoDatabase) and never
// migrates: an older schema than this binary knows is an error too.
// Reading works while another process writes (WAL).
func OpenReadOnly(path string, opts ...Option) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s", ErrNoDatabase, path)
		}
		return nil, fmt.Errorf("open results database: %w", err)
	}
	return open(context.Background(), path, true, opts)
}

func open(ctx context.Context, path string, readOnly bool, opts []Option) (*DB, error) {
	if path == "" {
		return nil, errors.New("open results database: empty path")
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("results database %s is a directory, not a database file (give a file path such as %s)", path, filepath.Join(path, "results.db"))
	} else if err == nil {
		// SQLite says only "unable to open database file (14)" or, later,
		// "attempt to write a readonly database (8)".
		flag, verb := os.O_RDWR, "cannot open results database %s for writing: %w"
		if readOnly {
			flag, verb = os.O_RDONLY, "cannot read results database %s: %w"
		}
		if f, err := os.OpenFile(path, flag, 0); errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf(verb+" (fix its permissions, or copy it to read it)", path, err)
		} else if err == nil {
			f.Close()
		}
	}
	d := &DB{path: path, now: time.Now, log: slog.Default(), readOnly: readOnly}
	for _, o := range opts {
		o(d)
	}
	if d.openCtx != nil {
		ctx = d.openCtx
	}
	if !readOnly {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("open results database: %w", err)
			}
		}
	}
	d.busyMS = busyTimeoutMS
	if readOnly && !walFile(path) {
		// A rollback-journal database (a shard, a merge's output) is
		// locked for as long as its one writer runs: waiting 10 s for it
		// (deaf to Ctrl-C) does not help, a transient commit takes less.
		d.busyMS = readerBusyTimeoutMS
	}
	src := dsn(path, readOnly, d.singleWriter, d.busyMS)
	db, err := sql.Open("sqlite", src)
	if err != nil {
		return nil, fmt.Errorf("open results database %s: %w", path, err)
	}
	if d.singleWriter && !readOnly {
		db.SetMaxOpenConns(1) // the exclusive lock belongs to one connection
	}
	d.sql = db
	err = d.connectAndMigrate(ctx)
	if err != nil && readOnly {
		var ok bool
		if ok, err = d.reopenImmutable(ctx, err); ok {
			return d, nil
		}
	}
	if err != nil {
		if !readOnly {
			err = diagnoseOpen(path, err, dirWritable)
		}
		return nil, explainLocked(path, err, d.busyMS)
	}
	return d, nil
}

// explainLocked says who holds a database that stayed locked for the whole
// busy timeout: a shard database (run --shard auto, merge's output) keeps its
// lock for as long as its writer runs. Other errors are returned as they are.
func explainLocked(path string, err error, waitedMS int) error {
	if !isBusy(err) {
		return err
	}
	return fmt.Errorf("results database %s is locked by another process (waited %.0f s): a `tinyscale run --shard auto` task holds its shard database, and `tinyscale merge` its output, for as long as it writes; read a task's progress from its log, and merge once the tasks have ended: %w", path, float64(waitedMS)/1000, err)
}

// connectAndMigrate opens the first connection and migrates (or, read-only,
// checks the schema); on error the handle is closed.
func (d *DB) connectAndMigrate(ctx context.Context) error {
	if err := d.firstConnect(ctx); err != nil {
		d.sql.Close()
		return fmt.Errorf("open %s: %w", d.path, err)
	}
	if err := d.migrate(ctx); err != nil {
		d.sql.Close()
		return err
	}
	return nil
}

// reopenImmutable retries a read-only open that failed because SQLite could
// not create the -shm file beside a WAL database in a folder this process
// cannot write (a colleague's results, a read-only share). With no -wal
// file there is no writer and nothing to replay, so the file is opened as
// immutable. It returns false and the error to report otherwise.
func (d *DB) reopenImmutable(ctx context.Context, err error) (bool, error) {
	var se *sqlite.Error
	if !errors.As(err, &se) || (se.Code()&0xff != sqlite3.SQLITE_READONLY && se.Code()&0xff != sqlite3.SQLITE_CANTOPEN) {
		return false, err
	}
	dir := filepath.Dir(d.path)
	perr := dirWritable(dir)
	if perr == nil {
		return false, err
	}
	if fi, serr := os.Stat(d.path + "-wal"); serr == nil && fi.Size() > 0 {
		return false, fmt.Errorf("cannot read results database %s: directory %s is not writable (%v) and holds %s-wal, which SQLite must replay by writing beside it; copy %s and %s-wal to a writable folder and read the copy: %w",
			d.path, dir, perr, d.path, d.path, d.path, err)
	}
	db, oerr := sql.Open("sqlite", dsn(d.path, true, false, d.busyMS)+"&immutable=1")
	if oerr != nil {
		return false, err
	}
	d.sql = db
	if cerr := d.connectAndMigrate(ctx); cerr != nil {
		return false, fmt.Errorf("%w (and read as immutable: %v)", err, cerr)
	}
	d.log.Debug("results database opened immutable: its directory is not writable", "path", d.path)
	return true, nil
}

// conn opens a connection, giving up when ctx is done even while the
// driver runs the DSN's pragmas (journal_mode and locking_mode wait up to the
// busy timeout for another process's lock, without looking at ctx); a
// connection made after that is closed.
func (d *DB) conn(ctx context.Context) (*sql.Conn, error) {
	if ctx.Done() == nil {
		return d.sql.Conn(ctx)
	}
	type result struct {
		c   *sql.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := d.sql.Conn(context.WithoutCancel(ctx))
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// firstConnect opens the pool's first connection, retrying while SQLite
// answers SQLITE_BUSY for up to the busy timeout. Switching a brand-new file
// to WAL (the journal_mode pragma of the DSN) takes an exclusive lock for
// which SQLite does not always call the busy handler, so processes creating
// one fresh database at the same moment can get SQLITE_BUSY at once. Once the
// file is in WAL mode (persistent) later connections never take that path.
func (d *DB) firstConnect(ctx context.Context) error {
	deadline := time.Now().Add(time.Duration(d.busyMS) * time.Millisecond)
	wait := time.Millisecond
	for {
		c, err := d.conn(ctx)
		if err == nil {
			return c.Close() // back to the pool, pragmas applied
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// diagnoseOpen explains SQLite's "unable to open database file" and
// "readonly database" when their cause is a directory this process cannot
// write in (SQLite creates the file and its -wal and -shm beside it); probe
// reports whether a directory is writable. Other errors are returned as they
// are.
func diagnoseOpen(path string, err error, probe func(dir string) error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		// The driver sometimes reports only the message with its code.
		if msg := err.Error(); !strings.Contains(msg, "(14)") && !strings.Contains(msg, "(8)") {
			return err
		}
	} else if c := se.Code() & 0xff; c != sqlite3.SQLITE_CANTOPEN && c != sqlite3.SQLITE_READONLY {
		return err
	}
	dir := filepath.Dir(path)
	perr := probe(dir)
	if perr == nil {
		return err
	}
	if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
		return fmt.Errorf("cannot create results database %s: directory %s is not writable (%v); choose a writable --db or fix the permissions: %w", path, dir, perr, err)
	}
	return fmt.Errorf("cannot open results database %s for writing: directory %s is not writable (SQLite creates %s-wal and -shm beside it) (%v); copy the database to a writable folder or fix the permissions (status, plan and report only read it): %w", path, dir, path, perr, err)
}

// dirWritable reports whether this process can create a file in dir.
func dirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".tinyscale-probe-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// dsn builds the driver's data source name: a file: URI (the path escaped so
// that '?', '#' and '%' in file names survive) with per-connection pragmas:
// read-only; one exclusive writer with a rollback journal (singleWriter,
// WithSingleWriter); or WAL for writers sharing the file.
func dsn(path string, readOnly, singleWriter bool, busyMS int) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyMS))
	q.Add("_pragma", "foreign_keys(1)")
	switch {
	case readOnly:
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	case singleWriter:
		q.Add("_pragma", "locking_mode(EXCLUSIVE)")
		q.Add("_pragma", "journal_mode(TRUNCATE)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	default:
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + p + "?" + q.Encode()
}

// Path returns the database file name given to Open.
func (d *DB) Path() string { return d.path }

// SQL returns the underlying handle, for ad-hoc read queries (report) and
// tests. Writes should go through the typed methods.
func (d *DB) SQL() *sql.DB { return d.sql }

// Close closes the database.
func (d *DB) Close() error {
	if err := d.sql.Close(); err != nil {
		return fmt.Errorf("close results database %s: %w", d.path, err)
	}
	return nil
}

// inTx runs fn in one write transaction (BEGIN IMMEDIATE) and commits it.
func (d *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if d.beforeCommit != nil {
		d.beforeCommit()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// fmtTime formats t for storage; the zero time is NULL.
func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeFormat)
}

// parseTime parses a stored timestamp; NULL is the zero time.
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeFormat, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp %q: %w", s.String, err)
	}
	return t, nil
}

// nullFloat stores NaN as NULL (SQLite would do so anyway).
func nullFloat(f float64) any {
	if math.IsNaN(f) {
		return nil
	}
	return f
}

// floatOrNaN reads a nullable REAL: NULL is NaN.
func floatOrNaN(f sql.NullFloat64) float64 {
	if !f.Valid {
		return math.NaN()
	}
	return f.Float64
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

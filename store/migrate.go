package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one forward-only schema step: applying it takes the database
// from user_version Version-1 to Version.
type migration struct {
	Version int
	Name    string
	SQL     string
}

// loadMigrations reads NNN_name.sql files from fsys (a directory "migrations")
// and checks that their versions run 1, 2, ... without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".sql" {
			continue
		}
		num, _, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || len(num) != 3 {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql with NNN from 001", name)
		}
		b, err := fs.ReadFile(fsys, "migrations/"+name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d (versions must be 1, 2, ... without gaps or duplicates)", m.Name, i+1)
		}
	}
	return ms, nil
}

// fills are Go steps of a migration that SQL cannot express, run right after
// the migration's SQL in its transaction: version 3 fills the typed run
// record of existing rows from their config_json.
var fills = map[int]func(context.Context, *sql.Tx) error{
	3: backfillRunRecords,
}

// SchemaVersion is the newest schema version (PRAGMA user_version) this
// binary can create and read.
func SchemaVersion() int {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		// The embedded files are checked by the package's tests.
		panic(err)
	}
	return len(ms)
}

// Version returns the database's schema version (PRAGMA user_version).
func (d *DB) Version(ctx context.Context) (int, error) {
	return userVersion(ctx, d.sql)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func userVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrate brings the database to the newest schema (read-write), or checks
// that it is already there (read-only).
func (d *DB) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		return err
	}
	target := len(ms)
	if d.target > 0 && d.target < target {
		target = d.target
	}
	return d.migrateTo(ctx, ms, target)
}

// migrateTo applies ms[cur:target], each in its own IMMEDIATE transaction
// that re-reads user_version first, so that two processes opening a fresh
// file at once apply every migration exactly once.
func (d *DB) migrateTo(ctx context.Context, ms []migration, target int) error {
	cur, err := userVersion(ctx, d.sql)
	if err != nil {
		return fmt.Errorf("open %s: %w", d.path, err)
	}
	if cur > len(ms) {
		return &SchemaTooNewError{Path: d.path, DB: cur, Binary: len(ms)}
	}
	if cur == 0 && d.readOnly { // writers check under the write lock, below
		if err := notTinyscale(ctx, d.sql, d.path); err != nil {
			return err
		}
	}
	if d.readOnly {
		if cur < target {
			return &SchemaTooOldError{Path: d.path, DB: cur, Binary: target}
		}
		return nil
	}
	for _, m := range ms[cur:target] {
		applied := false
		err := d.inTx(ctx, func(tx *sql.Tx) error {
			v, err := userVersion(ctx, tx)
			if err != nil {
				return err
			}
			if v >= m.Version {
				return nil // another process got here first
			}
			if v != m.Version-1 {
				return fmt.Errorf("schema version %d, cannot apply %s", v, m.Name)
			}
			if v == 0 { // re-checked under the write lock
				if err := notTinyscale(ctx, tx, d.path); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			if fill := fills[m.Version]; fill != nil {
				if err := fill(ctx, tx); err != nil {
					return fmt.Errorf("apply %s: %w", m.Name, err)
				}
			}
			// PRAGMA takes no bound parameters; Version is an int we parsed.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
				return fmt.Errorf("set schema version %d: %w", m.Version, err)
			}
			applied = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", d.path, err)
		}
		if applied && cur > 0 {
			d.log.Info("migrated results database", "path", d.path, "migration", m.Name, "version", m.Version)
		}
	}
	return nil
}

// notTinyscale refuses a database at schema version 0 that already holds
// tables: another program's SQLite file, which migrating would fill with
// tinyscale's tables (a new results database has none).
func notTinyscale(ctx context.Context, q interface {
	queryer
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, path string) error {
	rows, err := q.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return fmt.Errorf("open %s: list tables: %w", path, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("open %s: list tables: %w", path, err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("open %s: list tables: %w", path, err)
	}
	if len(names) == 0 {
		return nil
	}
	// Outside a transaction a writer may have created a new file's first
	// schema (and its version, in one transaction) since user_version was
	// read: read it again; tables are never there at version 0 otherwise.
	if v, err := userVersion(ctx, q); err != nil || v > 0 {
		return err
	}
	if len(names) > 5 {
		names = append(names[:5], "…")
	}
	return fmt.Errorf("%s is an SQLite database but not a tinyscale results database (schema version 0, tables: %s): it is left as it is; choose another --db", path, strings.Join(names, ", "))
}

package store

import "io/fs"

// WithBeforeCommit makes every write transaction call f just before COMMIT.
func WithBeforeCommit(f func()) Option { return func(d *DB) { d.beforeCommit = f } }

// WithTargetVersion stops migrations at version v, as an older tinyscale
// would have left the database.
func WithTargetVersion(v int) Option { return func(d *DB) { d.target = v } }

// LoadMigrations exposes loadMigrations: the number of migrations in fsys.
func LoadMigrations(fsys fs.FS) (int, error) {
	ms, err := loadMigrations(fsys)
	return len(ms), err
}

// DiagnoseOpen exposes diagnoseOpen.
var DiagnoseOpen = diagnoseOpen

// ExplainLocked exposes explainLocked.
var ExplainLocked = explainLocked

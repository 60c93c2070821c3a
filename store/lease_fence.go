package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// leaseKey is the context key of the fencing owner.
type leaseKey struct{}

// WithLease returns a context under which the run writes of this package —
// WriteSteps, WriteEval, WriteSample, RecordCheckpoint, DeleteCheckpoint,
// TruncateAfter and SetStatus — are fenced on owner's lease: in the same
// transaction as the write, the run's lease_owner must still be owner, or
// the write is not made and fails with an error matching ErrLeaseLost. A
// trainer that lost its lease (it stalled past the expiry and another
// process took the run over) so never overwrites the new owner's rows.
func WithLease(ctx context.Context, owner string) context.Context {
	return context.WithValue(ctx, leaseKey{}, owner)
}

// leaseFrom returns the fencing owner of ctx.
func leaseFrom(ctx context.Context) (string, bool) {
	o, ok := ctx.Value(leaseKey{}).(string)
	return o, ok && o != ""
}

// checkLease fails with ErrLeaseLost when ctx is fenced and run's lease is
// not held by the fencing owner. A missing run passes (the write reports it).
func checkLease(ctx context.Context, tx *sql.Tx, run string) error {
	owner, ok := leaseFrom(ctx)
	if !ok {
		return nil
	}
	var cur sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT lease_owner FROM runs WHERE name = ?`, run).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.String != owner {
		holder := cur.String
		if !cur.Valid {
			holder = "nobody"
		}
		return fmt.Errorf("run %q is now leased by %s, not %s: %w", run, holder, owner, ErrLeaseLost)
	}
	return nil
}

// execer is what a fenced write executes on: the pool or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// fenced runs the write fn on the pool when ctx is not fenced, else in an
// IMMEDIATE transaction after checkLease.
func (d *DB) fenced(ctx context.Context, run string, fn func(ex execer) error) error {
	if _, ok := leaseFrom(ctx); !ok {
		return fn(d.sql)
	}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkLease(ctx, tx, run); err != nil {
			return err
		}
		return fn(tx)
	})
}

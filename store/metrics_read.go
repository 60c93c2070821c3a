package store

import (
	"context"
	"database/sql"
	"fmt"
)

// StepsAfter returns at most limit of run's logged steps with a step number
// greater than after, in step order (limit <= 0 means no limit). It is one
// short read (WAL readers never block the training process's writes); the
// dashboard polls it to extend a live curve without rereading the history.
func (d *DB) StepsAfter(ctx context.Context, run string, after int64, limit int) ([]Step, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := d.sql.QueryContext(ctx, `SELECT step, tokens, flops, loss, lr, grad_norm, step_ms, elapsed_s, wall_time
		FROM steps WHERE run = ? AND step > ? ORDER BY step LIMIT ?`, run, after, limit)
	if err != nil {
		return nil, fmt.Errorf("steps of run %q after %d: %w", run, after, err)
	}
	return collect(rows, fmt.Sprintf("steps of run %q after %d", run, after), scanStep)
}

// LastSteps returns the last logged step of every run that has one, by run
// name, in one query (a primary-key lookup per run, not a scan of steps).
func (d *DB) LastSteps(ctx context.Context) (map[string]Step, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT s.run, s.step, s.tokens, s.flops, s.loss, s.lr, s.grad_norm, s.step_ms, s.elapsed_s, s.wall_time
		FROM runs r CROSS JOIN steps s
		WHERE s.run = r.name AND s.step = (SELECT s2.step FROM steps s2 WHERE s2.run = r.name ORDER BY s2.step DESC LIMIT 1)`)
	if err != nil {
		return nil, fmt.Errorf("last steps: %w", err)
	}
	type named struct {
		run string
		s   Step
	}
	list, err := collect(rows, "last steps", func(r *sql.Rows) (named, error) {
		var n named
		var flops, loss, lr, gn, ms, el sql.NullFloat64
		var ts sql.NullString
		if err := r.Scan(&n.run, &n.s.Step, &n.s.Tokens, &flops, &loss, &lr, &gn, &ms, &el, &ts); err != nil {
			return n, err
		}
		fillStep(&n.s, flops, loss, lr, gn, ms, el)
		var err error
		n.s.Time, err = parseTime(ts)
		return n, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Step, len(list))
	for _, n := range list {
		out[n.run] = n.s
	}
	return out, nil
}

// scanStep scans the columns step, tokens, flops, loss, lr, grad_norm,
// step_ms, elapsed_s, wall_time.
func scanStep(r *sql.Rows) (Step, error) {
	var s Step
	var flops, loss, lr, gn, ms, el sql.NullFloat64
	var ts sql.NullString
	if err := r.Scan(&s.Step, &s.Tokens, &flops, &loss, &lr, &gn, &ms, &el, &ts); err != nil {
		return s, err
	}
	fillStep(&s, flops, loss, lr, gn, ms, el)
	var err error
	s.Time, err = parseTime(ts)
	return s, err
}

func fillStep(s *Step, flops, loss, lr, gn, ms, el sql.NullFloat64) {
	s.Flops, s.Loss, s.LR = floatOrNaN(flops), floatOrNaN(loss), floatOrNaN(lr)
	s.GradNorm, s.StepMS, s.ElapsedS = floatOrNaN(gn), floatOrNaN(ms), floatOrNaN(el)
}

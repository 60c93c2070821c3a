package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Run is one row of the runs table: a fully resolved configuration plus its
// progress. Zero times are NULL in the database.
type Run struct {
	Name       string          // unique, e.g. "paper-pair/silia/seed=1"
	Experiment string          // experiment (sweep) it belongs to
	Family     string          // model family
	ConfigJSON json.RawMessage // canonical resolved configuration (sweeps.Run.ConfigJSON)
	ConfigHash string          // hex sha256 of ConfigJSON (sweeps.Run.Hash)

	ParamsTotal        int64 // parameters including embeddings
	ParamsNonEmbedding int64 // parameters excluding embeddings
	FlopsPerToken      int64 // forward FLOPs per token (training is 3×)
	StepsTotal         int64 // planned optimiser steps; 0 when unknown (seconds budget)
	BudgetTokens       int64 // planned training tokens; 0 when unknown

	// Nonreproducible is set when the losses cannot be promised bit for bit
	// (e.g. resumed under another BLAS or tinyscale version).
	Nonreproducible bool

	Status     string // StatusPending, StatusRunning, StatusDone or StatusFailed
	FailReason string // set when Status is StatusFailed
	FailStep   int64  // last logged step when it failed
	Step       int64  // last logged training step

	CreatedAt  time.Time
	StartedAt  time.Time // first time it went running
	FinishedAt time.Time // when it became done or failed
	UpdatedAt  time.Time

	Host             string // machine of the last process that trained it
	GoVersion        string
	TinyscaleVersion string
	BLAS             string // "openblas 0.3.26 (Haswell)" or "pure-go"

	LeaseOwner     string    // process holding the run, "" if none
	LeaseExpiresAt time.Time // when that lease lapses

	// Record is what the run is (shape, seed, learning rate, pair, sweep
	// point), written once at registration.
	Record RunRecord
}

// RunEnv describes the process that trains a run.
type RunEnv struct {
	Host, GoVersion, TinyscaleVersion, BLAS string
}

// RunSummary is one line of `tinyscale status`.
type RunSummary struct {
	Name        string
	Experiment  string
	Family      string // from the run record
	Seed        uint64
	PairKey     string
	Status      string
	Step        int64
	StepsTotal  int64
	LastLoss    *float64 // loss of the last logged step; nil if none or NaN
	BestValLoss *float64 // lowest val/final_val eval loss; nil if none

	LeaseOwner     string    // process holding the run, "" if none
	LeaseExpiresAt time.Time // when that lease lapses

	FailReason string // why it failed (status failed), e.g. "loss is NaN at step 22"
	FailStep   int64  // last logged step when it failed
}

// Stalled reports whether the run is marked running but no process holds a
// live lease on it at now (its trainer crashed or was killed); the next
// `tinyscale run` resumes it.
func (s RunSummary) Stalled(now time.Time) bool {
	return s.Status == StatusRunning && (s.LeaseOwner == "" || !now.Before(s.LeaseExpiresAt))
}

func validStatus(s string) error {
	switch s {
	case StatusPending, StatusRunning, StatusDone, StatusFailed:
		return nil
	}
	return fmt.Errorf("invalid run status %q (want pending, running, done or failed)", s)
}

const runColumns = `name, experiment, family, config_json, config_hash,
	params_total, params_non_embedding, flops_per_token, steps_total, budget_tokens,
	nonreproducible, status, fail_reason, fail_step, step,
	created_at, started_at, finished_at, updated_at,
	host, go_version, tinyscale_version, blas, lease_owner, lease_expires_at,
	` + recordColumns

type rowScanner interface{ Scan(dest ...any) error }

func scanRun(s rowScanner) (Run, error) {
	var (
		r                               Run
		cfg                             string
		nonrepro                        int
		failReason, leaseOwner          sql.NullString
		failStep                        sql.NullInt64
		created, started, finished, upd sql.NullString
		leaseExp                        sql.NullString
		rec                             recordScan
	)
	err := s.Scan(append([]any{&r.Name, &r.Experiment, &r.Family, &cfg, &r.ConfigHash,
		&r.ParamsTotal, &r.ParamsNonEmbedding, &r.FlopsPerToken, &r.StepsTotal, &r.BudgetTokens,
		&nonrepro, &r.Status, &failReason, &failStep, &r.Step,
		&created, &started, &finished, &upd,
		&r.Host, &r.GoVersion, &r.TinyscaleVersion, &r.BLAS, &leaseOwner, &leaseExp}, rec.dests(&r.Record)...)...)
	if err != nil {
		return Run{}, err
	}
	rec.finish(&r.Record)
	r.ConfigJSON = json.RawMessage(cfg)
	r.Nonreproducible = nonrepro != 0
	r.FailReason, r.FailStep, r.LeaseOwner = failReason.String, failStep.Int64, leaseOwner.String
	for _, p := range []struct {
		dst *time.Time
		src sql.NullString
	}{{&r.CreatedAt, created}, {&r.StartedAt, started}, {&r.FinishedAt, finished}, {&r.UpdatedAt, upd}, {&r.LeaseExpiresAt, leaseExp}} {
		t, err := parseTime(p.src)
		if err != nil {
			return Run{}, fmt.Errorf("run %q: %w", r.Name, err)
		}
		*p.dst = t
	}
	return r, nil
}

// UpsertRun registers a run. A new name is inserted (status pending unless
// r.Status says otherwise); an existing name with the same ConfigHash is left
// as it is; an existing name with a different hash is refused with a
// *ConfigChangedError (errors.Is ErrConfigChanged): results are never
// silently mixed across configurations. Use ResetRun to start over.
func (d *DB) UpsertRun(ctx context.Context, r Run) error {
	if r.Name == "" || r.ConfigHash == "" {
		return fmt.Errorf("upsert run: name and config hash are required (name %q)", r.Name)
	}
	if r.Status == "" {
		r.Status = StatusPending
	}
	if err := validStatus(r.Status); err != nil {
		return fmt.Errorf("upsert run %q: %w", r.Name, err)
	}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT config_hash FROM runs WHERE name = ?`, r.Name).Scan(&stored)
		switch {
		case err == nil:
			if stored != r.ConfigHash {
				return &ConfigChangedError{Run: r.Name, StoredHash: stored, NewHash: r.ConfigHash}
			}
			// The published reference is not part of the run's identity:
			// the experiments file may add or correct it at any time.
			_, err := tx.ExecContext(ctx, `UPDATE runs SET reference_source = ?, reference_val_loss = ? WHERE name = ?`,
				r.Record.ReferenceSource, r.Record.referenceArg(), r.Name)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		return insertRun(ctx, tx, r, d.now())
	})
	if err != nil {
		return fmt.Errorf("upsert run %q: %w", r.Name, err)
	}
	return nil
}

func insertRun(ctx context.Context, tx *sql.Tx, r Run, now time.Time) error {
	cfg := string(r.ConfigJSON)
	if cfg == "" {
		cfg = "{}"
	}
	created := r.CreatedAt
	if created.IsZero() {
		created = now
	}
	args := append([]any{r.Name, r.Experiment, r.Family, cfg, r.ConfigHash,
		r.ParamsTotal, r.ParamsNonEmbedding, r.FlopsPerToken, r.StepsTotal, r.BudgetTokens,
		boolInt(r.Nonreproducible), r.Status, nullString(r.FailReason), nil, r.Step,
		fmtTime(created), fmtTime(r.StartedAt), fmtTime(r.FinishedAt), fmtTime(now),
		r.Host, r.GoVersion, r.TinyscaleVersion, r.BLAS, nullString(r.LeaseOwner), fmtTime(r.LeaseExpiresAt)},
		r.Record.args()...)
	_, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`)
		VALUES (?`+strings.Repeat(", ?", len(args)-1)+`)`, args...)
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ResetRun discards every result of run name (steps, evals, samples,
// checkpoint records) and registers it again with the configuration r, as
// pending at step 0 (`tinyscale run --fresh`). r.Name must be name or empty.
// The run's lease is kept, so a caller that claimed the run still holds it;
// checkpoint files on disk are the caller's to delete (list them first with
// Checkpoints). Resetting a run that does not exist simply registers it.
func (d *DB) ResetRun(ctx context.Context, name string, r Run) error {
	if r.Name == "" {
		r.Name = name
	}
	if r.Name != name {
		return fmt.Errorf("reset run %q: configuration is for run %q", name, r.Name)
	}
	if r.ConfigHash == "" {
		return fmt.Errorf("reset run %q: config hash is required", name)
	}
	now := d.now()
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var owner, exp sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT lease_owner, lease_expires_at FROM runs WHERE name = ?`, name).Scan(&owner, &exp)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for _, t := range []string{"steps", "evals", "samples", "checkpoints", "runs"} {
			col := "run"
			if t == "runs" {
				col = "name"
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE `+col+` = ?`, name); err != nil {
				return fmt.Errorf("delete %s: %w", t, err)
			}
		}
		nr := Run{
			Name: r.Name, Experiment: r.Experiment, Family: r.Family, ConfigJSON: r.ConfigJSON, ConfigHash: r.ConfigHash,
			ParamsTotal: r.ParamsTotal, ParamsNonEmbedding: r.ParamsNonEmbedding, FlopsPerToken: r.FlopsPerToken,
			StepsTotal: r.StepsTotal, BudgetTokens: r.BudgetTokens, Status: StatusPending,
			Host: r.Host, GoVersion: r.GoVersion, TinyscaleVersion: r.TinyscaleVersion, BLAS: r.BLAS,
			LeaseOwner: owner.String, Record: r.Record,
		}
		if nr.LeaseExpiresAt, err = parseTime(exp); err != nil {
			return err
		}
		return insertRun(ctx, tx, nr, now)
	})
	if err != nil {
		return fmt.Errorf("reset run %q: %w", name, err)
	}
	return nil
}

// GetRun returns the run called name, or an error matching ErrNotFound.
func (d *DB) GetRun(ctx context.Context, name string) (Run, error) {
	r, err := scanRun(d.sql.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("get run %q: %w", name, err)
	}
	return r, nil
}

// ListRuns returns every run ordered by experiment, then name.
func (d *DB) ListRuns(ctx context.Context) ([]Run, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+runColumns+` FROM runs ORDER BY experiment, name`)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// ClaimRun takes the lease on run name for owner until now+ttl. It succeeds
// (true) when the run has no lease, its lease has expired, or owner already
// holds it (a re-claim renews it); it returns false when another owner holds
// a live lease or the run is done. Claims are one UPDATE in an IMMEDIATE
// transaction, so of any number of concurrent claimants (goroutines or
// processes) exactly one wins. A missing run is an error matching ErrNotFound.
func (d *DB) ClaimRun(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if owner == "" || ttl <= 0 {
		return false, fmt.Errorf("claim run %q: need an owner and a positive ttl (owner %q, ttl %v)", name, owner, ttl)
	}
	now := d.now()
	won := false
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs
			SET lease_owner = ?, lease_expires_at = ?, updated_at = ?
			WHERE name = ? AND status <> 'done'
			  AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at IS NULL OR lease_expires_at <= ?)`,
			owner, fmtTime(now.Add(ttl)), fmtTime(now), name, owner, fmtTime(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			won = true
			return nil
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE name = ?`, name).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim run %q: %w", name, err)
	}
	return won, nil
}

// RenewLease extends owner's lease on run name to now+ttl. It fails with an
// error matching ErrLeaseLost when owner no longer holds the lease (it was
// taken over after expiring, or released); the caller must then stop.
func (d *DB) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	if owner == "" || ttl <= 0 {
		return fmt.Errorf("renew lease on %q: need an owner and a positive ttl (owner %q, ttl %v)", name, owner, ttl)
	}
	now := d.now()
	res, err := d.sql.ExecContext(ctx, `UPDATE runs SET lease_expires_at = ?, updated_at = ?
		WHERE name = ? AND lease_owner = ?`, fmtTime(now.Add(ttl)), fmtTime(now), name, owner)
	if err != nil {
		return fmt.Errorf("renew lease on %q: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("renew lease on %q: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("renew lease on %q for %s: %w", name, owner, ErrLeaseLost)
	}
	return nil
}

// ReleaseLease gives up owner's lease on run name (e.g. on Ctrl-C) so that
// another process may resume it at once. Releasing a lease one does not hold
// is a no-op.
func (d *DB) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := d.sql.ExecContext(ctx, `UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
		WHERE name = ? AND lease_owner = ?`, fmtTime(d.now()), name, owner)
	if err != nil {
		return fmt.Errorf("release lease on %q: %w", name, err)
	}
	return nil
}

// SetStatus moves run name to status. running sets started_at (first time
// only) and clears a previous failure; done and failed set finished_at and
// release the lease; failed records reason and the last logged step; pending
// clears failure and finish fields.
func (d *DB) SetStatus(ctx context.Context, name, status, reason string) error {
	if err := validStatus(status); err != nil {
		return fmt.Errorf("set status of %q: %w", name, err)
	}
	now := fmtTime(d.now())
	var q string
	args := []any{status, now}
	switch status {
	case StatusRunning:
		q = `started_at = coalesce(started_at, ?), fail_reason = NULL, fail_step = NULL, finished_at = NULL`
		args = append(args, now)
	case StatusDone:
		q = `finished_at = ?, fail_reason = NULL, fail_step = NULL, lease_owner = NULL, lease_expires_at = NULL`
		args = append(args, now)
	case StatusFailed:
		q = `finished_at = ?, fail_reason = ?, fail_step = step, lease_owner = NULL, lease_expires_at = NULL`
		args = append(args, now, reason)
	case StatusPending:
		q = `finished_at = NULL, fail_reason = NULL, fail_step = NULL`
	}
	args = append(args, name)
	var res sql.Result
	err := d.fenced(ctx, name, func(ex execer) (err error) {
		res, err = ex.ExecContext(ctx, `UPDATE runs SET status = ?, updated_at = ?, `+q+` WHERE name = ?`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("set status of %q to %s: %w", name, status, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set status of %q: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("set status of %q: %w", name, ErrNotFound)
	}
	return nil
}

// MarkFinished marks run name done (finished_at now, lease released).
func (d *DB) MarkFinished(ctx context.Context, name string) error {
	return d.SetStatus(ctx, name, StatusDone, "")
}

// MarkNonreproducible flags run name as not reproducible bit for bit; why is
// logged.
func (d *DB) MarkNonreproducible(ctx context.Context, name, why string) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE runs SET nonreproducible = 1, updated_at = ? WHERE name = ?`, fmtTime(d.now()), name)
	if err != nil {
		return fmt.Errorf("mark %q nonreproducible: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("mark %q nonreproducible: %w", name, ErrNotFound)
	}
	d.log.Warn("run is not bit-for-bit reproducible", "run", name, "why", why)
	return nil
}

// SetRunEnv records the environment of the process about to train run name.
// When the run already has logged steps and its recorded BLAS or tinyscale
// version differs from env's, the run is also marked nonreproducible.
func (d *DB) SetRunEnv(ctx context.Context, name string, env RunEnv) error {
	var why string
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var step int64
		var blas, ver string
		err := tx.QueryRowContext(ctx, `SELECT step, blas, tinyscale_version FROM runs WHERE name = ?`, name).Scan(&step, &blas, &ver)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if step > 0 && blas != "" && blas != env.BLAS {
			why = fmt.Sprintf("resumed with BLAS %q after %q", env.BLAS, blas)
		}
		if step > 0 && ver != "" && ver != env.TinyscaleVersion {
			why = fmt.Sprintf("resumed with tinyscale %q after %q", env.TinyscaleVersion, ver)
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET host = ?, go_version = ?, tinyscale_version = ?, blas = ?,
			nonreproducible = nonreproducible OR ?, updated_at = ? WHERE name = ?`,
			env.Host, env.GoVersion, env.TinyscaleVersion, env.BLAS, boolInt(why != ""), fmtTime(d.now()), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("set environment of run %q: %w", name, err)
	}
	if why != "" {
		d.log.Warn("run is not bit-for-bit reproducible", "run", name, "why", why)
	}
	return nil
}

// RunSummaries returns one summary per run, ordered by experiment and name
// (the run_summary view).
func (d *DB) RunSummaries(ctx context.Context) ([]RunSummary, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT s.name, s.experiment, s.status, s.step, s.steps_total,
		s.last_loss, s.best_val_loss, r.lease_owner, r.lease_expires_at, r.fail_reason, r.fail_step,
		r.family, r.seed, r.pair_key
		FROM run_summary s JOIN runs r ON r.name = s.name ORDER BY s.experiment, s.name`)
	if err != nil {
		return nil, fmt.Errorf("run summaries: %w", err)
	}
	defer rows.Close()
	var out []RunSummary
	for rows.Next() {
		var s RunSummary
		var last, best sql.NullFloat64
		var owner, exp, reason sql.NullString
		var failStep sql.NullInt64
		var seed int64
		if err := rows.Scan(&s.Name, &s.Experiment, &s.Status, &s.Step, &s.StepsTotal, &last, &best, &owner, &exp, &reason, &failStep,
			&s.Family, &seed, &s.PairKey); err != nil {
			return nil, fmt.Errorf("run summaries: %w", err)
		}
		s.LeaseOwner, s.FailReason, s.FailStep, s.Seed = owner.String, reason.String, failStep.Int64, uint64(seed)
		if s.LeaseExpiresAt, err = parseTime(exp); err != nil {
			return nil, fmt.Errorf("run summaries: %w", err)
		}
		if last.Valid {
			s.LastLoss = &last.Float64
		}
		if best.Valid {
			s.BestValLoss = &best.Float64
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run summaries: %w", err)
	}
	return out, nil
}

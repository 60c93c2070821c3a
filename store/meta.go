package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Meta keys written by `tinyscale run --shard auto` and checked by Merge.
const (
	// MetaExperimentsSHA256 is the hex sha256 of the experiments file's bytes.
	MetaExperimentsSHA256 = "experiments_sha256"
	// MetaPlanSHA256 is the hex sha256 of the expanded plan: every run's
	// name and config hash in expansion order (runner.PlanHash). It decides
	// which run lands on which shard, so shards that disagree on it are never
	// merged.
	MetaPlanSHA256 = "plan_sha256"
	// MetaShardIndex and MetaShardCount are the shard's 0-based index and the
	// number of shards.
	MetaShardIndex = "shard_index"
	MetaShardCount = "shard_count"
)

// SetMeta stores value under key (replacing it).
func (d *DB) SetMeta(ctx context.Context, key, value string) error {
	if _, err := d.sql.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, key, value); err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}

// Meta returns the value stored under key; ok is false when there is none.
func (d *DB) Meta(ctx context.Context, key string) (value string, ok bool, err error) {
	err = d.sql.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("meta %s: %w", key, err)
	}
	return value, true, nil
}

// AllMeta returns every meta key and value.
func (d *DB) AllMeta(ctx context.Context) (map[string]string, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT key, value FROM meta ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("meta: %w", err)
		}
		out[k] = v
	}
	return out, rows.Err()
}

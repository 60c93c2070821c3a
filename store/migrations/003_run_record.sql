-- 003_run_record: the typed run record. What a run is (shape, seed, learning
-- rate, matched pair, sweep point, the experiments file it came from) is
-- written once, as plain columns, when sweeps expands the run; report, status
-- and every other reader take it from here instead of re-deriving it from
-- config_json or the run name. Rows of databases made before this version are
-- filled in from their config_json by store's back-fill (backfillRunRecords),
-- which runs in the same transaction as this file.

ALTER TABLE runs ADD COLUMN width              INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN head_dim           INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN n_head             INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN n_layer            INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN vocab_size         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN seed               INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lr                 REAL    NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pair_key           TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN match_by           TEXT    NOT NULL DEFAULT ''
                            CHECK (match_by IN ('', 'params', 'flops'));
ALTER TABLE runs ADD COLUMN match_target       REAL    NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN sweep_json         TEXT    NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN experiments_sha256 TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN reference_source   TEXT    NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN reference_val_loss REAL;

CREATE INDEX runs_pair ON runs (experiment, pair_key, family);

-- 001_init: the results database of tinyscale.
-- Timestamps are TEXT in UTC, fixed width: 2006-01-02T15:04:05.000000Z
-- (sortable as strings; julianday() and datetime() accept them).
-- A REAL column holding NULL means "unknown or not a number" (NaN).

CREATE TABLE runs (
    name                 TEXT    PRIMARY KEY,
    experiment           TEXT    NOT NULL DEFAULT '',
    family               TEXT    NOT NULL DEFAULT '',
    config_json          TEXT    NOT NULL DEFAULT '{}',
    config_hash          TEXT    NOT NULL,
    params_total         INTEGER NOT NULL DEFAULT 0,
    params_non_embedding INTEGER NOT NULL DEFAULT 0,
    flops_per_token      INTEGER NOT NULL DEFAULT 0,
    steps_total          INTEGER NOT NULL DEFAULT 0,
    budget_tokens        INTEGER NOT NULL DEFAULT 0,
    nonreproducible      INTEGER NOT NULL DEFAULT 0 CHECK (nonreproducible IN (0, 1)),
    status               TEXT    NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'running', 'done', 'failed')),
    fail_reason          TEXT,
    fail_step            INTEGER,
    step                 INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT    NOT NULL,
    started_at           TEXT,
    finished_at          TEXT,
    updated_at           TEXT    NOT NULL,
    host                 TEXT    NOT NULL DEFAULT '',
    go_version           TEXT    NOT NULL DEFAULT '',
    tinyscale_version    TEXT    NOT NULL DEFAULT '',
    blas                 TEXT    NOT NULL DEFAULT '',
    lease_owner          TEXT,
    lease_expires_at     TEXT
) STRICT;

CREATE INDEX runs_experiment ON runs (experiment, name);

CREATE TABLE steps (
    run        TEXT    NOT NULL REFERENCES runs (name) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    tokens     INTEGER NOT NULL,
    flops      REAL    NOT NULL,
    loss       REAL,
    lr         REAL,
    grad_norm  REAL,
    step_ms    REAL,
    elapsed_s  REAL,
    wall_time  TEXT    NOT NULL,
    PRIMARY KEY (run, step)
) STRICT, WITHOUT ROWID;

CREATE TABLE evals (
    run        TEXT    NOT NULL REFERENCES runs (name) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    split      TEXT    NOT NULL,
    loss       REAL,
    bpb        REAL,
    accuracy   REAL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (run, step, split)
) STRICT, WITHOUT ROWID;

CREATE TABLE samples (
    run        TEXT    NOT NULL REFERENCES runs (name) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    prompt     TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (run, step, prompt)
) STRICT;

CREATE TABLE checkpoints (
    run        TEXT    NOT NULL REFERENCES runs (name) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    path       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    bytes      INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (run, step)
) STRICT;

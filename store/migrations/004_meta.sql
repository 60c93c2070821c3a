-- 004_meta: key/value facts about the database as a whole. A shard database
-- (`tinyscale run --shard auto`) records the experiments file it was made
-- for (experiments_sha256: the file's bytes; plan_sha256: every run's name
-- and config hash in expansion order) and its shard (shard_index,
-- shard_count), so that `tinyscale merge` never mixes shards of different
-- files.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

package store

// WithSingleWriter opens the database for one writing process on shared
// storage (a shard database of `tinyscale run --shard auto` on NFS, Lustre,
// a Kubernetes volume): a rollback journal (journal_mode=TRUNCATE) instead of
// WAL, locking_mode=EXCLUSIVE, synchronous=FULL, and a single connection.
//
// Why: WAL needs shared memory between the processes of one host
// (sqlite.org/wal.html: "All processes using a database must be on the same
// host computer; WAL does not work over a network filesystem"), and POSIX
// advisory locks are broken on many NFS implementations
// (sqlite.org/faq.html#q5). With one writer per file and the lock taken once
// and held (EXCLUSIVE locking mode), correctness does not depend on the
// network filesystem's locking; the rollback journal still makes every
// transaction atomic across a crash. The cost: while the writer holds the
// file, other processes cannot read it (they get "database is locked" after
// the busy timeout); read shards after their tasks end, or read the merged
// database.
func WithSingleWriter() Option { return func(d *DB) { d.singleWriter = true } }

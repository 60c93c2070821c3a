package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tinyscale/tinyscale/internal/atomicfile"
	"github.com/tinyscale/tinyscale/internal/leftover"
)

// ErrMergeConflict is matched (errors.Is) by every refusal of Merge to
// combine inputs that disagree: a run whose configuration hash differs
// between two inputs, a run done in two inputs with different curves, or
// shards of different experiments files.
var ErrMergeConflict = errors.New("merge conflict")

// MergeSummary says what Merge wrote.
type MergeSummary struct {
	// Inputs are the databases read (the existing output among them).
	Inputs []string
	// Runs counts the merged runs by status.
	Runs map[string]int
	// Source maps each run to the input its rows came from.
	Source map[string]string
	// Status maps each run to its merged status.
	Status map[string]string
	// Checkpoints is the number of checkpoint records carried, their files
	// verified against their sha256.
	Checkpoints int
	// DroppedCheckpoints lists records not carried because their file was
	// missing or did not match its recorded sha256 or size.
	DroppedCheckpoints []string
}

// Merge combines the results databases inputs into out, in one transaction
// on a temporary file renamed over out at the end; inputs are opened
// read-only and never modified. An existing out is read as one more input,
// so nothing in it is lost and merging again changes nothing.
//
// Every run's rows (the runs row, all columns, and its rows of every table
// with a run column) come from exactly one input, chosen by: done > failed >
// partial with the most steps > pending; between equal candidates, the one
// whose content digest sorts first (so the result does not depend on the
// order of inputs). Refused (ErrMergeConflict, both sources named): a run
// whose config hash differs between inputs; a run done in two inputs with
// different curves (step losses, learning rates, gradient norms or evals);
// inputs whose recorded plans (MetaPlanSHA256) differ. All inputs must have
// this binary's schema version. Checkpoint records are carried with their
// paths rewritten relative to out's directory after their files' sha256 was
// verified; records whose file is missing or does not match are dropped and
// listed in the summary.
func Merge(ctx context.Context, out string, inputs []string, log *slog.Logger) (MergeSummary, error) {
	if log == nil {
		log = slog.Default()
	}
	sum := MergeSummary{Runs: map[string]int{}, Source: map[string]string{}, Status: map[string]string{}}
	if len(inputs) == 0 {
		return sum, errors.New("merge: no input databases")
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return sum, fmt.Errorf("merge: %w", err)
	}
	paths, err := mergeInputs(absOut, inputs)
	if err != nil {
		return sum, err
	}
	sum.Inputs = paths
	if err := checkNoWAL(absOut); err != nil {
		return sum, err
	}

	srcs := make([]*mergeSource, 0, len(paths))
	defer func() {
		for _, s := range srcs {
			s.db.Close()
		}
	}()
	for _, p := range paths {
		db, err := OpenReadOnly(p, WithLogger(log), WithContext(ctx))
		if err != nil {
			return sum, fmt.Errorf("merge: input %s: %w", p, err)
		}
		s := &mergeSource{path: p, db: db}
		srcs = append(srcs, s)
		if err := s.load(ctx); err != nil {
			return sum, fmt.Errorf("merge: input %s: %w", p, err)
		}
	}
	if err := sameTables(srcs); err != nil {
		return sum, err
	}
	meta, err := mergeMeta(srcs, log)
	if err != nil {
		return sum, err
	}
	chosen, err := chooseRuns(ctx, srcs)
	if err != nil {
		return sum, err
	}

	// Build the output beside out, then rename it into place.
	if err := os.MkdirAll(filepath.Dir(absOut), 0o755); err != nil {
		return sum, fmt.Errorf("merge: %w", err)
	}
	removeStaleMerges(filepath.Dir(absOut), filepath.Base(absOut))
	tmpf, err := os.CreateTemp(filepath.Dir(absOut), fmt.Sprintf(".%s.merge-p%d-*", filepath.Base(absOut), os.Getpid()))
	if err != nil {
		return sum, fmt.Errorf("merge: %w", err)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	os.Remove(tmp)
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
		os.Remove(tmp + "-journal")
	}()
	dst, err := Open(tmp, WithSingleWriter(), WithLogger(log), WithContext(ctx))
	if err != nil {
		return sum, fmt.Errorf("merge: create output: %w", err)
	}
	// The temporary file becomes out only after the commit, an fsync and
	// the rename, so a crash before that leaves nothing anyone reads: no
	// syncs while building it, and a page cache large enough that the one
	// big transaction does not spill (each spill syncs the journal).
	for _, p := range []string{"PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144"} {
		if _, err := dst.sql.ExecContext(ctx, p); err != nil {
			dst.Close()
			return sum, fmt.Errorf("merge: %s: %w", p, err)
		}
	}
	// Checkpoint paths are written relative to out's directory (the temp
	// file lives there too).
	dst.path = absOut
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	err = dst.inTx(ctx, func(tx *sql.Tx) error {
		for _, k := range slices.Sorted(maps.Keys(meta)) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, k, meta[k]); err != nil {
				return fmt.Errorf("write meta: %w", err)
			}
		}
		for _, name := range names {
			c := chosen[name]
			if err := copyRun(ctx, tx, dst, c, &sum, log); err != nil {
				return fmt.Errorf("run %q from %s: %w", name, c.src.path, err)
			}
			sum.Runs[c.status]++
			sum.Source[name] = c.src.path
			sum.Status[name] = c.status
		}
		return nil
	})
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return sum, fmt.Errorf("merge into %s: %w", out, err)
	}
	for _, s := range srcs {
		s.db.Close()
	}
	srcs = nil
	if err := syncFile(tmp); err != nil {
		return sum, fmt.Errorf("merge: %w", err)
	}
	if err := os.Rename(tmp, absOut); err != nil {
		return sum, fmt.Errorf("merge: %w", err)
	}
	ok = true
	if err := atomicfile.SyncDir(filepath.Dir(absOut)); err != nil {
		return sum, fmt.Errorf("merge: %w", err)
	}
	return sum, nil
}

// mergeInputs returns the absolute, de-duplicated input paths, with an
// existing out added.
func mergeInputs(absOut string, inputs []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) error {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		key := abs
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			key = r
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, abs)
		}
		return nil
	}
	for _, p := range inputs {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("merge: input %s: %w", p, err)
		}
		if err := add(p); err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
	}
	if _, err := os.Stat(absOut); err == nil {
		if err := add(absOut); err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// checkNoWAL refuses an output that another process may have open: a
// non-empty write-ahead log beside it would be replayed onto the new file.
func checkNoWAL(out string) error {
	if fi, err := os.Stat(out + "-wal"); err == nil && fi.Size() > 0 {
		return fmt.Errorf("merge: %s-wal exists and is not empty: another process may have %s open (or it was not closed cleanly); close it, or checkpoint it with sqlite3 %s 'PRAGMA wal_checkpoint(TRUNCATE)', then merge again",
			out, out, out)
	}
	return nil
}

// mergeTable is one table of the schema and how its rows belong to runs.
type mergeTable struct {
	name    string
	cols    []string
	pk      []string // primary key columns in key order
	runCol  string   // "name" for runs, "run" for per-run tables
	pathCol bool     // checkpoints: has a path to rewrite
}

// mergeSource is one input database.
type mergeSource struct {
	path   string
	db     *DB
	tables []mergeTable
	meta   map[string]string
	runs   map[string]*mergeCandidate
}

// mergeCandidate is one input's copy of a run.
type mergeCandidate struct {
	src        *mergeSource
	name       string
	status     string
	step       int64
	configHash string
	curve      string // digest of the losses and evals
	content    string // digest of every row (lease and checkpoint paths excepted)
	digested   bool   // curve and content are computed (only for ties: digests cost a read of every row)
}

// ensureDigest computes c's digests once.
func (c *mergeCandidate) ensureDigest(ctx context.Context) error {
	if c.digested {
		return nil
	}
	if err := c.src.digest(ctx, c); err != nil {
		return fmt.Errorf("merge: input %s: run %q: %w", c.src.path, c.name, err)
	}
	c.digested = true
	return nil
}

// perRunTables are merged run by run; meta is merged as a whole. A table
// that is neither is refused so that no rows are silently lost.
func (s *mergeSource) load(ctx context.Context) error {
	v, err := s.db.Version(ctx)
	if err != nil {
		return err
	}
	if v != SchemaVersion() {
		return fmt.Errorf("schema version %d, this tinyscale writes %d", v, SchemaVersion())
	}
	rows, err := s.db.sql.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var runsTable *mergeTable
	for _, n := range names {
		t, err := tableInfo(ctx, s.db.sql, n)
		if err != nil {
			return err
		}
		switch {
		case n == "meta":
			continue
		case n == "runs":
			t.runCol = "name"
		case slices.Contains(t.cols, "run"):
			t.runCol = "run"
		default:
			return fmt.Errorf("table %s has no run column; this merge does not know how to combine it", n)
		}
		t.pathCol = n == "checkpoints"
		s.tables = append(s.tables, t)
	}
	// runs first (foreign keys), then the per-run tables by name.
	sort.SliceStable(s.tables, func(i, j int) bool { return s.tables[i].name == "runs" && s.tables[j].name != "runs" })
	for i := range s.tables {
		if s.tables[i].name == "runs" {
			runsTable = &s.tables[i]
		}
	}
	if runsTable == nil {
		return errors.New("no runs table")
	}
	if s.meta, err = s.db.AllMeta(ctx); err != nil {
		return err
	}
	s.runs = map[string]*mergeCandidate{}
	rr, err := s.db.sql.QueryContext(ctx, `SELECT name, status, step, config_hash FROM runs`)
	if err != nil {
		return err
	}
	for rr.Next() {
		c := &mergeCandidate{src: s}
		if err := rr.Scan(&c.name, &c.status, &c.step, &c.configHash); err != nil {
			rr.Close()
			return err
		}
		s.runs[c.name] = c
	}
	rr.Close()
	if err := rr.Err(); err != nil {
		return err
	}
	return nil
}

// curveColumns are the columns that make a run's curve: two done copies
// must agree on them.
var curveColumns = map[string][]string{
	"steps": {"step", "tokens", "flops", "loss", "lr", "grad_norm"},
	"evals": {"step", "split", "loss", "bpb", "accuracy"},
}

// skipInContent are columns left out of the content digest: they differ
// between copies of the same rows (checkpoint paths are rewritten; lease
// fields change on release).
var skipInContent = map[string]bool{"checkpoints.path": true, "runs.lease_owner": true, "runs.lease_expires_at": true}

// digest computes c's curve and content digests.
func (s *mergeSource) digest(ctx context.Context, c *mergeCandidate) error {
	content, curve := sha256.New(), sha256.New()
	for _, t := range s.tables {
		err := t.each(ctx, s.db.sql, c.name, func(vals []any) error {
			fmt.Fprintf(content, "%s\x00", t.name)
			for i, v := range vals {
				if !skipInContent[t.name+"."+t.cols[i]] {
					writeValue(content, v)
				}
			}
			if cc, ok := curveColumns[t.name]; ok {
				fmt.Fprintf(curve, "%s\x00", t.name)
				for i, v := range vals {
					if slices.Contains(cc, t.cols[i]) {
						writeValue(curve, v)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	c.content = hex.EncodeToString(content.Sum(nil))
	c.curve = hex.EncodeToString(curve.Sum(nil))
	return nil
}

// writeValue feeds one SQLite value to h unambiguously (type tag, exact bits).
func writeValue(h hash.Hash, v any) {
	var b [9]byte
	switch x := v.(type) {
	case nil:
		h.Write([]byte{'N'})
	case int64:
		b[0] = 'I'
		binary.LittleEndian.PutUint64(b[1:], uint64(x))
		h.Write(b[:])
	case float64:
		b[0] = 'F'
		binary.LittleEndian.PutUint64(b[1:], math.Float64bits(x))
		h.Write(b[:])
	case string:
		b[0] = 'S'
		binary.LittleEndian.PutUint64(b[1:], uint64(len(x)))
		h.Write(b[:])
		io.WriteString(h, x)
	case []byte:
		b[0] = 'B'
		binary.LittleEndian.PutUint64(b[1:], uint64(len(x)))
		h.Write(b[:])
		h.Write(x)
	default:
		fmt.Fprintf(h, "?%T:%v", v, v)
	}
}

// tableInfo reads a table's columns and primary key.
func tableInfo(ctx context.Context, q *sql.DB, name string) (mergeTable, error) {
	t := mergeTable{name: name}
	rows, err := q.QueryContext(ctx, `SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, name)
	if err != nil {
		return t, fmt.Errorf("columns of %s: %w", name, err)
	}
	defer rows.Close()
	pk := map[int]string{}
	for rows.Next() {
		var col string
		var k int
		if err := rows.Scan(&col, &k); err != nil {
			return t, err
		}
		t.cols = append(t.cols, col)
		if k > 0 {
			pk[k] = col
		}
	}
	for i := 1; i <= len(pk); i++ {
		t.pk = append(t.pk, pk[i])
	}
	return t, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// each calls fn with every row of run in t, in primary key order.
func (t mergeTable) each(ctx context.Context, q *sql.DB, run string, fn func([]any) error) error {
	cols := make([]string, len(t.cols))
	for i, c := range t.cols {
		cols[i] = quoteIdent(c)
	}
	query := `SELECT ` + strings.Join(cols, ", ") + ` FROM ` + quoteIdent(t.name) + ` WHERE ` + quoteIdent(t.runCol) + ` = ?`
	if len(t.pk) > 0 {
		pk := make([]string, len(t.pk))
		for i, c := range t.pk {
			pk[i] = quoteIdent(c)
		}
		query += ` ORDER BY ` + strings.Join(pk, ", ")
	}
	rows, err := q.QueryContext(ctx, query, run)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.name, err)
	}
	defer rows.Close()
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", t.name, err)
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sameTables checks that every input has the same tables and columns.
func sameTables(srcs []*mergeSource) error {
	sig := func(s *mergeSource) string {
		var b strings.Builder
		for _, t := range s.tables {
			fmt.Fprintf(&b, "%s(%s) ", t.name, strings.Join(t.cols, ","))
		}
		return b.String()
	}
	want := sig(srcs[0])
	for _, s := range srcs[1:] {
		if got := sig(s); got != want {
			return fmt.Errorf("merge: %s and %s have different tables: %s vs %s", srcs[0].path, s.path, want, got)
		}
	}
	return nil
}

// mergeMeta combines the inputs' meta keys: plans must agree; the file hash
// is kept when all inputs agree on it (files that differ only where the plan
// does not, e.g. in comments, are merged with a warning naming both); shard
// keys are not carried.
func mergeMeta(srcs []*mergeSource, log *slog.Logger) (map[string]string, error) {
	out := map[string]string{}
	var planFrom, fileFrom string
	fileAgrees := true
	for _, s := range srcs {
		if p, ok := s.meta[MetaPlanSHA256]; ok {
			if prev, had := out[MetaPlanSHA256]; had && prev != p {
				return nil, fmt.Errorf("%w: %s and %s were made from different experiments files (plan %.16s vs %.16s): merge only shards of one sweep",
					ErrMergeConflict, planFrom, s.path, prev, p)
			}
			out[MetaPlanSHA256], planFrom = p, s.path
		}
		if f, ok := s.meta[MetaExperimentsSHA256]; ok {
			if prev, had := out[MetaExperimentsSHA256]; had && prev != f && fileAgrees {
				fileAgrees = false
				log.Warn("shards were made from experiments files that differ only outside their runs (same plan: every run's name and configuration agree); merging",
					"first", fileFrom, "second", s.path)
			}
			out[MetaExperimentsSHA256], fileFrom = f, s.path
		}
	}
	if !fileAgrees {
		delete(out, MetaExperimentsSHA256)
	}
	return out, nil
}

// rank orders candidates: done > failed > partial (by steps) > pending.
func (c *mergeCandidate) rank() (int, int64) {
	switch {
	case c.status == StatusDone:
		return 3, c.step
	case c.status == StatusFailed:
		return 2, c.step
	case c.step > 0:
		return 1, c.step
	}
	return 0, 0
}

// rankLess reports whether a ranks below b (ignoring content).
func rankLess(a, b *mergeCandidate) bool {
	ra, sa := a.rank()
	rb, sb := b.rank()
	return ra < rb || ra == rb && sa < sb
}

// better reports whether a should be chosen over b; equal ranks are decided
// by content digest (computed then), so the choice never depends on the
// order of the inputs.
func better(ctx context.Context, a, b *mergeCandidate) (bool, error) {
	ra, sa := a.rank()
	rb, sb := b.rank()
	if ra != rb {
		return ra > rb, nil
	}
	if sa != sb {
		return sa > sb, nil
	}
	if err := a.ensureDigest(ctx); err != nil {
		return false, err
	}
	if err := b.ensureDigest(ctx); err != nil {
		return false, err
	}
	if a.content != b.content {
		return a.content < b.content, nil
	}
	return a.src.path < b.src.path, nil
}

// chooseRuns picks one source per run, refusing conflicts.
func chooseRuns(ctx context.Context, srcs []*mergeSource) (map[string]*mergeCandidate, error) {
	all := map[string][]*mergeCandidate{}
	for _, s := range srcs {
		for n, c := range s.runs {
			all[n] = append(all[n], c)
		}
	}
	chosen := map[string]*mergeCandidate{}
	for _, n := range slices.Sorted(maps.Keys(all)) {
		cs := all[n]
		for _, c := range cs[1:] {
			if c.configHash != cs[0].configHash {
				return nil, fmt.Errorf("%w: run %q has config hash %.16s in %s but %.16s in %s: these are different runs under one name",
					ErrMergeConflict, n, cs[0].configHash, cs[0].src.path, c.configHash, c.src.path)
			}
		}
		var done, top []*mergeCandidate
		for _, c := range cs {
			if c.status == StatusDone {
				done = append(done, c)
			}
			switch {
			case len(top) == 0 || rankLess(top[0], c):
				top = []*mergeCandidate{c}
			case !rankLess(c, top[0]):
				top = append(top, c)
			}
		}
		best := top[0]
		for _, c := range top[1:] {
			b, err := better(ctx, c, best)
			if err != nil {
				return nil, err
			}
			if b {
				best = c
			}
		}
		for _, d := range done[min(1, len(done)):] {
			if err := d.ensureDigest(ctx); err != nil {
				return nil, err
			}
			if err := done[0].ensureDigest(ctx); err != nil {
				return nil, err
			}
			if d.curve != done[0].curve {
				return nil, fmt.Errorf("%w: run %q is done in both %s and %s with different curves (losses or evals differ): refusing to pick one",
					ErrMergeConflict, n, done[0].src.path, d.src.path)
			}
		}
		chosen[n] = best
	}
	return chosen, nil
}

// copyRun inserts c's rows into the output transaction.
func copyRun(ctx context.Context, tx *sql.Tx, dst *DB, c *mergeCandidate, sum *MergeSummary, log *slog.Logger) error {
	for _, t := range c.src.tables {
		cols := make([]string, len(t.cols))
		pathIdx, shaIdx, bytesIdx, stepIdx := -1, -1, -1, -1
		for i, col := range t.cols {
			cols[i] = quoteIdent(col)
			if t.pathCol {
				switch col {
				case "path":
					pathIdx = i
				case "sha256":
					shaIdx = i
				case "bytes":
					bytesIdx = i
				case "step":
					stepIdx = i
				}
			}
		}
		ins := newBatchInsert(ctx, tx, t.name, cols)
		err := t.each(ctx, c.src.db.sql, c.name, func(vals []any) error {
			if t.pathCol && pathIdx >= 0 {
				rec, _ := vals[pathIdx].(string)
				want, _ := vals[shaIdx].(string)
				size, _ := vals[bytesIdx].(int64)
				file := c.src.db.ResolveCheckpointPath(rec)
				if err := verifyFile(file, want, size); err != nil {
					sum.DroppedCheckpoints = append(sum.DroppedCheckpoints, fmt.Sprintf("%s step %v: %v", c.name, vals[stepIdx], err))
					log.Warn("checkpoint not carried", "run", c.name, "step", vals[stepIdx], "err", err)
					return nil
				}
				vals = slices.Clone(vals)
				vals[pathIdx] = dst.recordedCheckpointPath(file)
				sum.Checkpoints++
			}
			return ins.add(vals)
		})
		if err == nil {
			err = ins.flush()
		}
		ins.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// batchInsert inserts rows into one table many per statement (the per
// statement overhead dominates a row-at-a-time copy).
type batchInsert struct {
	ctx   context.Context
	tx    *sql.Tx
	table string
	cols  []string
	args  []any
	n     int
	full  *sql.Stmt // prepared statement for a full batch
}

// insertBatchRows is the number of rows per INSERT (well under SQLite's
// limit of 32766 bound parameters).
const insertBatchRows = 256

func newBatchInsert(ctx context.Context, tx *sql.Tx, table string, cols []string) *batchInsert {
	return &batchInsert{ctx: ctx, tx: tx, table: table, cols: cols}
}

func (b *batchInsert) query(rows int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(b.cols)), ", ") + ")"
	return `INSERT INTO ` + quoteIdent(b.table) + ` (` + strings.Join(b.cols, ", ") + `) VALUES ` +
		strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

func (b *batchInsert) add(vals []any) error {
	b.args = append(b.args, vals...)
	b.n++
	if b.n < insertBatchRows {
		return nil
	}
	if b.full == nil {
		st, err := b.tx.PrepareContext(b.ctx, b.query(insertBatchRows))
		if err != nil {
			return fmt.Errorf("prepare %s: %w", b.table, err)
		}
		b.full = st
	}
	if _, err := b.full.ExecContext(b.ctx, b.args...); err != nil {
		return fmt.Errorf("write %s: %w", b.table, err)
	}
	b.args, b.n = b.args[:0], 0
	return nil
}

func (b *batchInsert) flush() error {
	if b.n == 0 {
		return nil
	}
	if _, err := b.tx.ExecContext(b.ctx, b.query(b.n), b.args...); err != nil {
		return fmt.Errorf("write %s: %w", b.table, err)
	}
	b.args, b.n = b.args[:0], 0
	return nil
}

func (b *batchInsert) close() {
	if b.full != nil {
		b.full.Close()
	}
}

// verifyFile checks that path has the given hex sha256 and size.
func verifyFile(path, wantSHA string, wantSize int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA || n != wantSize {
		return fmt.Errorf("%s does not match its record (sha256 %.16s, %d bytes; recorded %.16s, %d bytes)", path, got, n, wantSHA, wantSize)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// removeStaleMerges removes the temporary output databases (and their
// journals) beside out that merges killed part-way left:
// ".<base>.merge-p<pid>-*" whose process is gone, and ".<base>.merge-*" of
// older versions, with no pid. Those of merges still running are kept.
func removeStaleMerges(dir, base string) {
	for _, name := range leftover.Stale(dir, "."+base+".merge-", false) {
		os.Remove(filepath.Join(dir, name))
	}
}

// Package export writes the training history of a results database in open
// formats that other tools read: one CSV file per run (steps and evaluations,
// one row per step, ready for pandas or polars) or one TensorBoard event file
// per run (TFRecord framing, Event/Summary protos with scalar values) that
// TensorBoard, W&B's `wandb sync --sync-tensorboard` and Aim's
// `aim convert tensorboard` read.
//
// It only reads the store. Nothing here depends on TensorFlow or a protobuf
// runtime: the few proto fields needed are encoded by hand (tfevents.go).
// Output is deterministic: the same database gives byte-identical files (wall
// times come from the stored timestamps, never from the clock). The output
// folder is written atomically: everything goes into a temporary sibling
// folder that is renamed into place at the end, and an existing non-empty
// folder is refused, so no file is ever overwritten and an interrupted export
// leaves nothing behind.
package export

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tinyscale/tinyscale/internal/atomicfile"
	"github.com/tinyscale/tinyscale/internal/leftover"
	"github.com/tinyscale/tinyscale/internal/runglob"
	"github.com/tinyscale/tinyscale/store"
)

// Export formats.
const (
	FormatCSV      = "csv"
	FormatTFEvents = "tfevents"
)

// Formats lists the formats Export writes.
func Formats() []string { return []string{FormatCSV, FormatTFEvents} }

// ErrNoRuns is matched by the error Export returns when no run is selected.
var ErrNoRuns = errors.New("no runs to export")

// ErrOutExists is matched by the error Export returns when the output folder
// already exists and is not empty.
var ErrOutExists = errors.New("output folder exists and is not empty")

// Options configures Export.
type Options struct {
	// Format is FormatCSV or FormatTFEvents.
	Format string
	// Out is the output folder. It must not exist, or be empty.
	Out string
	// Run selects runs by name with a path.Match glob (where * does not cross
	// '/'); a run also matches when the glob matches a '/'-prefix of its name,
	// so "paper-pair" selects a whole experiment. Empty selects every run.
	Run string
}

// Result says what Export wrote.
type Result struct {
	// Files are the written files, slash-separated and relative to Out, in
	// the order written (runs.csv first, then one per run in run order).
	Files []string
	// Runs is the number of runs exported.
	Runs int
}

// RunData is one run's history as the exporters see it.
type RunData struct {
	Run   store.Run
	Steps []store.Step // ascending step
	Evals []store.Eval // ascending step, then split
	file  string       // output path relative to Out (slash-separated)
}

// Export writes the selected runs of db to opts.Out in opts.Format.
func Export(ctx context.Context, db *store.DB, opts Options) (Result, error) {
	if opts.Format != FormatCSV && opts.Format != FormatTFEvents {
		return Result{}, fmt.Errorf("unknown export format %q (want %s)", opts.Format, strings.Join(Formats(), " or "))
	}
	if opts.Out == "" {
		return Result{}, errors.New("export: empty output folder")
	}
	if opts.Run != "" {
		if err := runglob.Check(opts.Run); err != nil {
			return Result{}, fmt.Errorf("bad run pattern %q: %w", opts.Run, err)
		}
	}
	if err := checkOut(opts.Out); err != nil {
		return Result{}, err
	}
	runs, err := db.ListRuns(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("export: %w", err)
	}
	var sel []store.Run
	for _, r := range runs {
		if opts.Run == "" || runglob.Match(opts.Run, r.Name) {
			sel = append(sel, r)
		}
	}
	if len(sel) == 0 {
		if opts.Run != "" {
			return Result{}, fmt.Errorf("%w: --run %q matches none of the %d runs in %s", ErrNoRuns, opts.Run, len(runs), db.Path())
		}
		return Result{}, fmt.Errorf("%w: %s has no runs", ErrNoRuns, db.Path())
	}
	index, err := runsIndex(sel, opts.Format)
	if err != nil {
		return Result{}, err
	}
	// Files are written one run at a time (memory holds one run's history)
	// into a temporary folder that becomes opts.Out only when all are done.
	tmp, err := newTempDir(opts.Out)
	if err != nil {
		return Result{}, err
	}
	defer tmp.cleanup() // a no-op once committed
	if err := tmp.write("runs.csv", index); err != nil {
		return Result{}, err
	}
	order := []string{"runs.csv"}
	owner := map[string]string{}
	for _, r := range sel {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("export interrupted, nothing written: %w", err)
		}
		rd := RunData{Run: r}
		if rd.Steps, err = db.Steps(ctx, r.Name); err != nil {
			return Result{}, fmt.Errorf("export: %w", err)
		}
		if rd.Evals, err = db.Evals(ctx, r.Name); err != nil {
			return Result{}, fmt.Errorf("export: %w", err)
		}
		var b []byte
		var name string
		switch opts.Format {
		case FormatCSV:
			name = RunPath(r.Name) + ".csv"
			b, err = CSV(rd)
		case FormatTFEvents:
			name = RunPath(r.Name) + "/" + EventFileName(rd)
			b, err = TFEvents(rd)
		}
		if err != nil {
			return Result{}, fmt.Errorf("export run %q: %w", r.Name, err)
		}
		key := strings.ToLower(name) // case-insensitive file systems
		if prev, ok := owner[key]; ok {
			return Result{}, fmt.Errorf("export: runs %q and %q would both be written to %s", prev, r.Name, name)
		}
		owner[key] = r.Name
		if err := tmp.write(name, b); err != nil {
			return Result{}, err
		}
		order = append(order, name)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("export interrupted, nothing written: %w", err)
	}
	if err := tmp.commit(); err != nil {
		return Result{}, err
	}
	return Result{Files: order, Runs: len(sel)}, nil
}

// RunPath maps a run name to a relative, slash-separated output path: each
// '/'-separated part of the name becomes a folder level (TensorBoard shows
// nested folders as nested runs), characters other than letters, digits and
// ._-+=,@ become '_', and empty, "." and ".." parts become "_".
func RunPath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		var b strings.Builder
		for _, c := range p {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("._-+=,@", c):
				b.WriteRune(c)
			default:
				b.WriteByte('_')
			}
		}
		s := b.String()
		if s == "" || s == "." || s == ".." {
			s = "_"
		}
		parts[i] = s
	}
	return strings.Join(parts, "/")
}

// checkOut refuses an output that exists and is not an empty folder.
func checkOut(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("export: %s exists and is not a folder", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("export to %s: %w (%d entries); nothing is overwritten: choose a new --out or remove it", dir, ErrOutExists, len(entries))
	}
	return nil
}

// tempDir is an export being written: a hidden folder beside the output
// folder, renamed to it by commit.
type tempDir struct {
	path, out string
	done      bool
}

func newTempDir(out string) (*tempDir, error) {
	out = filepath.Clean(out)
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	removeStalePartials(parent, filepath.Base(out))
	tmp, err := os.MkdirTemp(parent, fmt.Sprintf(".%s.partial-p%d-", filepath.Base(out), os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &tempDir{path: tmp, out: out}, nil
}

// removeStalePartials removes the temporary folders beside the output folder
// base that exports killed part-way left (".<base>.partial-p<pid>-*" whose
// process is gone, and ".<base>.partial-*" of older versions, with no pid);
// those of exports still running are kept.
func removeStalePartials(parent, base string) {
	for _, name := range leftover.Stale(parent, "."+base+".partial-", true) {
		os.RemoveAll(filepath.Join(parent, name))
	}
}

// write stores data under the slash-separated relative name, fsynced.
func (t *tempDir) write(name string, data []byte) error {
	p := filepath.Join(t.path, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := writeSynced(p, data); err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	return nil
}

// commit renames the folder to the output folder, which must not exist or
// be empty.
func (t *tempDir) commit() error {
	if err := os.Chmod(t.path, 0o755); err != nil { // MkdirTemp makes it 0700
		return fmt.Errorf("export: %w", err)
	}
	// An empty folder given as --out is replaced: os.Remove removes only
	// empty folders, so nothing is lost even if one was filled meanwhile.
	if st, err := os.Stat(t.out); err == nil && st.IsDir() {
		if err := os.Remove(t.out); err != nil {
			return fmt.Errorf("export: %w (nothing written)", err)
		}
	}
	if err := os.Rename(t.path, t.out); err != nil {
		// A folder created meanwhile, or a non-empty one, is never replaced.
		return fmt.Errorf("export: move the finished export into %s: %w", t.out, err)
	}
	t.done = true
	return atomicfile.SyncDir(filepath.Dir(t.out))
}

// cleanup removes the folder unless it was committed.
func (t *tempDir) cleanup() {
	if !t.done {
		os.RemoveAll(t.path)
	}
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// formatFloat writes f in plain decimal (no exponent), the shortest form that
// reads back to the same float64; NaN is the empty string and infinities are
// "inf" and "-inf" (pandas and polars read both).
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return ""
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Package runner trains the runs of a sweep: optimisers (AdamW, Muon),
// learning-rate schedules, the training loop, evaluation, checkpoints and
// exact resume. See docs/runner.md.
//
// The runner talks to the model, the data and the results database through
// the small interfaces below, so that it can be tested with a fake model and
// a failing store; Wire fills them with the real packages.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/tinyscale/tinyscale/internal/runglob"
	"github.com/tinyscale/tinyscale/internal/sysmem"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
)

// Model is a training graph: a fixed list of parameters, one forward+backward
// per Step (gradients valid afterwards, overwritten by the next Step) and a
// forward-only Loss. inputs and targets are B*T row-major token ids.
type Model interface {
	Params() []Param
	Step(inputs, targets []int32) (float32, error)
	Loss(inputs, targets []int32) (float32, error)
}

// MicroStepSetter is implemented by models with per-step randomness
// (dropout): on resume the runner tells them how many Step calls an
// uninterrupted run would have made.
type MicroStepSetter interface {
	SetMicroStep(n uint64)
}

// ModelFactory builds the training graph of cfg for micro-batches of batch
// sequences, initialised from seed.
type ModelFactory func(cfg models.Config, batch int, seed uint64) (Model, error)

// Dataset is a prepared dataset: tokenised splits and the tokenizer.
type Dataset struct {
	Train, Val []int32
	// BytesPerToken converts loss to bits per byte: loss/ln2/BytesPerToken.
	BytesPerToken float64
	// TokenizerJSON is stored in every checkpoint.
	TokenizerJSON json.RawMessage
	// Decode turns token ids into text (for samples); nil disables samples.
	Decode func([]int32) string
	// Accuracy evaluates synthetic tasks (mqar, copy) on the current
	// weights and returns accuracies by eval split name (e.g. "mqar",
	// "mqar_exact"); nil for plain language modelling.
	Accuracy func(ctx context.Context, weights []models.NamedTensor) (map[string]float64, error)
}

// DataFunc prepares the dataset of a run.
type DataFunc func(ctx context.Context, r sweeps.Run) (*Dataset, error)

// GenerateFunc samples n new tokens after prompt from the weights of cfg,
// deterministically for a given seed.
type GenerateFunc func(cfg models.Config, weights []models.NamedTensor, prompt []int32, n int, seed uint64) ([]int32, error)

// Store is the part of *store.DB the runner uses.
type Store interface {
	Path() string
	UpsertRun(ctx context.Context, r store.Run) error
	ResetRun(ctx context.Context, name string, r store.Run) error
	GetRun(ctx context.Context, name string) (store.Run, error)
	ClaimRun(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	RenewLease(ctx context.Context, name, owner string, ttl time.Duration) error
	ReleaseLease(ctx context.Context, name, owner string) error
	SetStatus(ctx context.Context, name, status, reason string) error
	SetRunEnv(ctx context.Context, name string, env store.RunEnv) error
	MarkNonreproducible(ctx context.Context, name, why string) error
	WriteSteps(ctx context.Context, run string, rows []store.Step) error
	WriteEval(ctx context.Context, e store.Eval) error
	WriteSample(ctx context.Context, s store.Sample) error
	RecordCheckpoint(ctx context.Context, c store.Checkpoint) error
	DeleteCheckpoint(ctx context.Context, run string, step int64) error
	Checkpoints(ctx context.Context, run string) ([]store.Checkpoint, error)
	TruncateAfter(ctx context.Context, run string, step int64) error
}

var _ Store = (*store.DB)(nil)

// Shard selects the K-th of N slices of the runs (1 ≤ K ≤ N).
type Shard struct{ K, N int }

// ParseShard parses "K/N" (1-based K); the empty string is the whole sweep.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{1, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return Shard{}, fmt.Errorf("bad shard %q: want K/N with 1 <= K <= N, e.g. 1/4", s)
	}
	return Shard{k, n}, nil
}

// Contains reports whether the run at index i (0-based, in expansion order
// of the whole experiments file) is in the shard: runs are dealt round-robin,
// run i to shard i%N+1, so shards are balanced and every process that reads
// the same file agrees on them.
func (s Shard) Contains(i int) bool {
	if s.N <= 1 {
		return true
	}
	return i%s.N == s.K-1
}

// Select returns the runs (all of the file, in expansion order) whose name
// matches the glob only (path.Match syntax, where * does not cross '/'; the
// empty glob matches everything; a run also matches when only matches a
// '/'-prefix of its name, so --only paper-pair selects a whole experiment)
// and whose index lies in shard, in expansion order.
func Select(runs []sweeps.Run, only string, shard Shard) ([]sweeps.Run, error) {
	if only != "" {
		if err := runglob.Check(only); err != nil {
			return nil, fmt.Errorf("bad --only pattern %q: %w", only, err)
		}
	}
	out := []sweeps.Run{} // never nil: Options.Selected nil means "all"
	for i, r := range runs {
		if only != "" && !runglob.Match(only, r.Name) {
			continue
		}
		if shard.Contains(i) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Options configures Run.
type Options struct {
	// DB is the results database; checkpoints go to <DB.Path()>.ckpt/.
	DB Store
	// Runs is every run of the experiments file in expansion order; all are
	// registered, Selected are trained.
	Runs []sweeps.Run
	// Selected is the subset to train (see Select); nil means Runs.
	Selected []sweeps.Run
	// Fresh discards the selected runs' results and checkpoints first.
	Fresh bool
	// Owner identifies this process in leases; default host:pid.
	Owner string
	// WaitForLease waits for a lease held by another owner to expire instead
	// of skipping the run (a shard database has one legitimate writer: a
	// lease in it belongs to a predecessor that was killed before it could
	// release it, e.g. on another node before a requeue).
	WaitForLease bool
	// LeaseTTL is the lease length (default 2 minutes), renewed every TTL/3.
	LeaseTTL time.Duration
	// FlushEvery is the number of steps buffered per store transaction (25).
	FlushEvery int
	// FlushInterval also writes the buffered steps once this long has passed
	// since the last write (default 2 s), so that live viewers (status, serve)
	// see a slow run move between FlushEvery batches; negative: count only.
	// It decides when rows are written, never what they hold.
	FlushInterval time.Duration
	// BLAS runs Muon's Newton–Schulz products (nil: gonum's pure-Go BLAS);
	// pass the blas.Impl installed in gorgonia. Call it from one goroutine.
	BLAS Sgemm
	// Env is recorded on every run trained (host, versions, BLAS).
	Env store.RunEnv
	// Log receives progress and warnings (default slog.Default()).
	Log *slog.Logger
	// Progress, when non-nil and Terminal, receives a live progress line.
	Progress io.Writer
	// Terminal selects the live line over periodic log lines.
	Terminal bool
	// ProgressEvery is the interval of log progress lines (default 30s).
	ProgressEvery time.Duration

	// NewModel, Data and Generate connect the runner to the real packages
	// (see Wire); Generate may be nil (no samples).
	NewModel ModelFactory
	Data     DataFunc
	Generate GenerateFunc

	// MemAvailable reports the memory the process may still use (default
	// sysmem.Available); a run whose estimate (EstimateMemory) exceeds it
	// fails before its model is built. An error skips the check.
	MemAvailable func() (sysmem.Limit, error)

	// now is the clock (tests may replace it); nil means time.Now.
	now func() time.Time
}

// Summary counts what Run did.
type Summary struct {
	Done, Failed, Skipped int
}

// ErrConfigChanged is matched by the error Run returns when a selected run's
// resolved configuration differs from the registered one.
var ErrConfigChanged = store.ErrConfigChanged

// Run registers every run in opts.Runs, then trains the selected runs that
// are not done, in order. A run whose loss becomes NaN/Inf is marked failed
// and the next run goes on; database and disk errors, and cancellation, stop
// Run (after a final checkpoint on cancellation) with an error.
func Run(ctx context.Context, opts Options) (Summary, error) {
	var sum Summary
	if err := opts.defaults(); err != nil {
		return sum, err
	}
	sel := opts.Selected
	if sel == nil {
		sel = opts.Runs
	}
	selected := map[string]bool{}
	for _, r := range sel {
		selected[r.Name] = true
	}
	var changed []string
	for _, r := range opts.Runs {
		err := opts.DB.UpsertRun(ctx, StoreRun(r))
		var cc *store.ConfigChangedError
		switch {
		case err == nil:
		case errors.As(err, &cc) && selected[r.Name] && !opts.Fresh:
			changed = append(changed, fmt.Sprintf("run %q: its configuration changed since it was registered (stored hash %.16s, now %.16s)",
				r.Name, cc.StoredHash, cc.NewHash))
		case errors.As(err, &cc) && selected[r.Name]:
			// --fresh: reset when it is claimed.
		case errors.As(err, &cc):
			opts.Log.Warn("configuration changed; not selected, left alone", "run", r.Name)
		default:
			return sum, fmt.Errorf("register runs: %w", err)
		}
	}
	if len(changed) > 0 {
		return sum, fmt.Errorf("%w:\n  %s\nrefusing to resume with a different configuration. To discard the old results and start fresh: tinyscale run --fresh --only NAME (e.g. --only %q); to keep them, rename the experiment",
			ErrConfigChanged, strings.Join(changed, "\n  "), changedName(changed[0]))
	}
	prog := newProgress(opts, len(sel))
	for i, r := range sel {
		prog.startRun(i, r)
		res, err := trainRun(ctx, &opts, r, prog)
		prog.endRun()
		switch {
		case err != nil:
			return sum, fmt.Errorf("run %s: %w", r.Name, err)
		case res == resultDone:
			sum.Done++
		case res == resultFailed:
			sum.Failed++
		default:
			sum.Skipped++
		}
	}
	opts.Log.Info("sweep finished", "done", sum.Done, "failed", sum.Failed, "skipped", sum.Skipped)
	return sum, nil
}

// changedName extracts the quoted run name from a changed-config line.
func changedName(line string) string {
	_, rest, _ := strings.Cut(line, `run "`)
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

func (o *Options) defaults() error {
	if o.DB == nil {
		return errors.New("runner: no results database")
	}
	if o.NewModel == nil || o.Data == nil {
		return errors.New("runner: NewModel and Data are required (see runner.Wire)")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.MemAvailable == nil {
		o.MemAvailable = sysmem.Available
	}
	if o.Owner == "" {
		o.Owner = DefaultOwner()
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 2 * time.Minute
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 25
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 2 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 30 * time.Second
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.Env.BLAS == "" {
		o.Env.BLAS = "gonum (pure Go)"
	}
	return nil
}

// StoreRun converts a resolved run to its store registration.
func StoreRun(r sweeps.Run) store.Run {
	total, nonEmb := r.Model.ParamCounts()
	return store.Run{
		Name: r.Name, Experiment: r.Experiment, Family: r.Family,
		ConfigJSON: r.ConfigJSON(), ConfigHash: r.Hash(),
		ParamsTotal: total, ParamsNonEmbedding: nonEmb, FlopsPerToken: r.Model.FlopsPerToken(),
		StepsTotal: r.TotalSteps(), BudgetTokens: r.BudgetTokens(), Nonreproducible: r.Nonreproducible(),
		Record: RunRecord(r),
	}
}

// RunRecord is the typed record of a resolved run (what it is), as the
// store keeps it.
func RunRecord(r sweeps.Run) store.RunRecord {
	rec := store.RunRecord{
		Width: r.Model.Width(), HeadDim: r.Model.HeadDim(), NHead: r.Model.NHead, NLayer: r.Model.NLayer,
		VocabSize: r.Model.VocabSize, Seed: r.Seed, LR: r.Optimizer.LR, PairKey: r.PairKey,
		SweepJSON: r.SweepJSON(), ExperimentsSHA256: r.ExperimentsSHA256,
	}
	if r.Match != nil {
		rec.MatchBy, rec.MatchTarget = r.Match.By, r.Match.Target
	}
	rec.ReferenceSource, rec.ReferenceValLoss, _ = r.ReferenceValLoss()
	return rec
}

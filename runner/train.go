package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
)

// runResult is what happened to one run.
type runResult int

const (
	resultSkipped runResult = iota
	resultDone
	resultFailed
)

// errLeaseLost marks a run stopped because another process took its lease.
var errLeaseLost = errors.New("lease lost")

// sampleTokens is the length of the sample generated at every eval.
const sampleTokens = 64

// samplePromptTokens is the number of validation tokens used as the prompt.
const samplePromptTokens = 8

// DefaultOwner is the lease owner of this process (store.ProcessOwner:
// host, pid, PID namespace, boot id and process start time).
func DefaultOwner() string { return store.ProcessOwner() }

// trainRun claims, resumes and trains one run.
func trainRun(ctx context.Context, o *Options, r sweeps.Run, prog *progress) (runResult, error) {
	log := o.Log.With("run", r.Name)
	cur, err := o.DB.GetRun(ctx, r.Name)
	if err != nil {
		return 0, err
	}
	if !o.Fresh {
		switch cur.Status {
		case store.StatusDone:
			log.Info("already done; skipping")
			return resultSkipped, nil
		case store.StatusFailed:
			if cur.Step == 0 && strings.HasPrefix(cur.FailReason, memoryReasonPrefix) {
				// Refused for memory before any step: whether it fits
				// depends on the machine, so try again here.
				log.Info("failed earlier for lack of memory; trying again on this machine", "reason", cur.FailReason)
				break
			}
			log.Info("failed earlier; skipping (rerun with --fresh --only NAME to retry)", "reason", cur.FailReason, "step", cur.FailStep)
			return resultSkipped, nil
		}
	}
	reset := func() error {
		if err := o.DB.ResetRun(ctx, r.Name, StoreRun(r)); err != nil {
			return err
		}
		if err := os.RemoveAll(CheckpointDir(o.DB.Path(), r.Name)); err != nil {
			return fmt.Errorf("remove old checkpoints: %w", err)
		}
		log.Info("started fresh: previous results and checkpoints discarded")
		return nil
	}
	resetDone := false
	if o.Fresh && cur.Status == store.StatusDone {
		// A done run cannot be claimed (nobody trains it): reset it first.
		if err := reset(); err != nil {
			return 0, err
		}
		resetDone = true
	}
	ok, err := claim(ctx, o, r.Name, log)
	if err == nil && !ok && o.WaitForLease {
		ok, err = waitForLease(ctx, o, r.Name, log)
	}
	if err != nil {
		return 0, err
	}
	if !ok {
		log.Info("claimed by another process; skipping", "owner", cur.LeaseOwner)
		return resultSkipped, nil
	}
	defer func() {
		// Best effort: done/failed already released it; after a crash the
		// lease simply expires.
		o.DB.ReleaseLease(context.WithoutCancel(ctx), r.Name, o.Owner)
	}()
	if o.Fresh && !resetDone {
		if err := reset(); err != nil {
			return 0, err
		}
	}

	// From here every write to the run is fenced on our lease: after losing
	// it, a write fails with store.ErrLeaseLost instead of overwriting the
	// new owner's rows.
	lctx, cancel := context.WithCancelCause(store.WithLease(ctx, o.Owner))
	defer cancel(nil)
	var wg sync.WaitGroup
	stopRenew := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(o.LeaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-stopRenew:
				return
			case <-lctx.Done():
				return
			case <-tick.C:
				if err := o.DB.RenewLease(lctx, r.Name, o.Owner, o.LeaseTTL); err != nil {
					if errors.Is(err, store.ErrLeaseLost) {
						cancel(fmt.Errorf("%w: %v", errLeaseLost, err))
					} else {
						log.Warn("lease renewal failed; retrying", "err", err)
					}
				}
			}
		}
	}()
	defer func() { close(stopRenew); wg.Wait() }()

	t, err := newTraining(lctx, o, r, log, prog)
	if reason, ok := asRunFailure(err); ok {
		if err := o.DB.SetStatus(ctx, r.Name, store.StatusFailed, reason); err != nil {
			return 0, err
		}
		log.Error("run failed; going on with the next run", "reason", reason)
		return resultFailed, nil
	}
	if err != nil {
		return 0, err
	}
	res, err := t.train(lctx)
	lost := errors.Is(context.Cause(lctx), errLeaseLost) || errors.Is(err, store.ErrLeaseLost)
	if err != nil && lost && ctx.Err() == nil {
		log.Warn("another process took over this run; stopping it here", "cause", context.Cause(lctx))
		return resultSkipped, nil
	}
	return res, err
}

// claim takes the run's lease. A lease whose owner is certainly dead (a
// process of this host, PID namespace and boot that no longer exists; see
// store.OwnerCertainlyDead) is taken over at once; any other lease is
// waited out until it expires.
func claim(ctx context.Context, o *Options, name string, log *slog.Logger) (bool, error) {
	ok, err := o.DB.ClaimRun(ctx, name, o.Owner, o.LeaseTTL)
	if err != nil || ok {
		return ok, err
	}
	cur, err := o.DB.GetRun(ctx, name)
	if err != nil {
		return false, err
	}
	if !store.OwnerCertainlyDead(cur.LeaseOwner) {
		return false, nil
	}
	log.Info("taking over the lease of a dead process", "owner", cur.LeaseOwner)
	// Claim as the dead owner (a re-claim), release, then claim as ourselves:
	// only the last, atomic claim decides between concurrent takers.
	if ok, err := o.DB.ClaimRun(ctx, name, cur.LeaseOwner, o.LeaseTTL); err != nil || !ok {
		return false, err
	}
	if err := o.DB.ReleaseLease(ctx, name, cur.LeaseOwner); err != nil {
		return false, err
	}
	return o.DB.ClaimRun(ctx, name, o.Owner, o.LeaseTTL)
}

// training is the state of one run being trained.
type training struct {
	o *Options
	// stop is the command's context (Ctrl-C, SIGTERM): evaluations, which
	// otherwise run to completion, give up between batches when it ends.
	stop context.Context
	// evalPending: the periodic evaluation of the current step was stopped
	// before it finished; it is done first when training resumes.
	evalPending bool
	r           sweeps.Run
	log         *slog.Logger
	db          Store
	prog        *progress
	ds          *Dataset
	model       Model
	opt         *Optimizer
	sched       Schedule
	smp         *sampler

	params    []Param     // the model's parameters
	acc       [][]float32 // gradient accumulators (grad_accum > 1)
	optParams []Param     // what the optimiser updates (grads from acc when accumulating)

	B, T, accum int
	total       int64   // 0 for a seconds budget
	limitS      float64 // seconds budget
	estTotal    int64   // seconds budget: estimated total steps (schedule horizon)

	step      int64   // completed optimiser steps
	elapsedS  float64 // training seconds before this session
	sessStart time.Time
	sessStep  int64
	lastCkpt  int64
	pending   []store.Step
	lastFlush time.Time // when pending was last written (or the session began)
	ckptDir   string
	in, tg    []int32

	taskWarned bool // the task eval failure was logged
}

func newTraining(ctx context.Context, o *Options, r sweeps.Run, log *slog.Logger, prog *progress) (*training, error) {
	t := &training{o: o, r: r, log: log, db: o.DB, prog: prog,
		B: r.BatchSize, T: r.BlockSize, accum: max(r.GradAccum, 1),
		total: r.TotalSteps(), ckptDir: CheckpointDir(o.DB.Path(), r.Name)}
	if t.B <= 0 || t.T <= 0 {
		return nil, fmt.Errorf("batch_size %d and block_size %d must be > 0", t.B, t.T)
	}
	if r.Nonreproducible() {
		t.limitS = r.Budget.Seconds
		if t.limitS <= 0 {
			return nil, fmt.Errorf("seconds budget %v must be > 0", t.limitS)
		}
	} else if t.total <= 0 {
		return nil, fmt.Errorf("budget resolves to %d steps", t.total)
	}
	if err := o.DB.SetRunEnv(ctx, r.Name, o.Env); err != nil {
		return nil, err
	}
	if r.Nonreproducible() {
		if err := o.DB.MarkNonreproducible(ctx, r.Name, "seconds budget: the number of steps depends on the machine"); err != nil {
			return nil, err
		}
	}
	ds, err := o.Data(ctx, r)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// The run's data cannot be prepared (a missing file, ids outside
		// the vocabulary): that run fails, the sweep goes on.
		return nil, &RunFailure{fmt.Errorf("prepare data: %w", err)}
	}
	if err := CheckData(r, ds); err != nil {
		return nil, &RunFailure{err}
	}
	if err := t.checkMemory(int64(len(ds.Train) + len(ds.Val))); err != nil {
		return nil, err
	}
	t.ds = ds
	if t.model, err = o.NewModel(r.Model, t.B, r.Seed); err != nil {
		return nil, fmt.Errorf("build model: %w", err)
	}
	t.params = t.model.Params()
	t.optParams = t.params
	if t.accum > 1 {
		t.optParams = make([]Param, len(t.params))
		t.acc = make([][]float32, len(t.params))
		for i, p := range t.params {
			buf := make([]float32, len(p.Value()))
			t.acc[i] = buf
			q := p
			q.Grad = func() []float32 { return buf }
			t.optParams[i] = q
		}
	}
	oc := r.Optimizer
	if t.opt, err = NewOptimizer(oc.Name, t.optParams, hyperFor(oc), o.BLAS); err != nil {
		return nil, err
	}
	t.sched = Schedule{Kind: oc.Schedule, LR: oc.LR, MinLR: oc.MinLR, Warmup: oc.Warmup,
		DecayIters: t.total, CooldownFrac: oc.CooldownFrac}
	if t.sched.Kind == "" {
		t.sched.Kind = "cosine"
	}
	if err := t.sched.Validate(); err != nil {
		return nil, err
	}
	t.smp = newSampler(r.Seed, streamBatches)
	t.in = make([]int32, t.B*t.T)
	t.tg = make([]int32, t.B*t.T)
	if err := t.resume(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// hyperFor is the optimiser hyper-parameters of a resolved run: every value
// is used as given (sweeps resolves defaults; zero is a value, not unset).
// Muon's momentum warm-up starts at min(0.85, momentum), so a momentum below
// the usual start is used from the first step instead of being ramped down to.
func hyperFor(oc sweeps.Optimizer) Hyper {
	h := DefaultHyper()
	h.Beta1, h.Beta2 = oc.Betas[0], oc.Betas[1]
	h.Eps = oc.Eps
	h.WeightDecay = oc.WeightDecay
	h.Momentum = oc.Momentum
	h.MomentumStart = min(h.MomentumStart, h.Momentum)
	return h
}

// checkMemory fails the run when its memory estimate exceeds what the
// machine has left (after returning this process's free heap to the OS).
func (t *training) checkMemory(dataTokens int64) error {
	est := EstimateMemory(t.r, dataTokens)
	lim, err := t.o.MemAvailable()
	if err != nil {
		t.log.Debug("memory check skipped", "err", err)
		return nil
	}
	if est.Total > lim.Bytes {
		// Garbage of the previous run may still be held: return it, re-read.
		debug.FreeOSMemory()
		if lim, err = t.o.MemAvailable(); err != nil {
			return nil
		}
	}
	if err := CheckMemory(est, lim); err != nil {
		return &RunFailure{err}
	}
	t.log.Info("memory estimate", "estimate", est.String(), "available", lim.String())
	return nil
}

// resume loads the newest valid checkpoint (falling back past corrupt ones)
// and truncates the store's rows after its step.
func (t *training) resume(ctx context.Context) error {
	removeTempFiles(t.ckptDir)
	recs, err := t.db.Checkpoints(ctx, t.r.Name)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		c, err := loadVerified(rec)
		if err != nil {
			if !errors.Is(err, ErrCorruptCheckpoint) && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			t.log.Warn("checkpoint unusable; trying the previous one", "step", rec.Step, "path", rec.Path, "err", err)
			if err := t.db.DeleteCheckpoint(ctx, t.r.Name, rec.Step); err != nil {
				return err
			}
			continue
		}
		if c.Meta.ConfigHash != t.r.Hash() {
			return fmt.Errorf("%w: checkpoint %s was written with configuration %.16s, the run is now %.16s; to discard its results and start fresh: tinyscale run --fresh --only %q (or rename the experiment to keep them)",
				ErrConfigChanged, rec.Path, c.Meta.ConfigHash, t.r.Hash(), t.r.Name)
		}
		if err := t.restore(c); err != nil {
			return fmt.Errorf("restore %s: %w", rec.Path, err)
		}
		t.log.Info("resumed from checkpoint", "step", t.step, "path", rec.Path)
		break
	}
	// Steps, evals and samples logged after the checkpoint are discarded and
	// logged again, so the store holds one clean curve.
	if err := t.db.TruncateAfter(ctx, t.r.Name, t.step); err != nil {
		return err
	}
	t.lastCkpt = t.step
	return nil
}

// loadVerified reads a recorded checkpoint and checks it against its record.
func loadVerified(rec store.Checkpoint) (*ckptContent, error) {
	b, err := os.ReadFile(rec.Path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if sum := sha256.Sum256(b); rec.SHA256 != "" && hex.EncodeToString(sum[:]) != rec.SHA256 {
		return nil, fmt.Errorf("%w: %s does not match the sha256 recorded in the database", ErrCorruptCheckpoint, rec.Path)
	}
	c, err := decodeCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", rec.Path, err)
	}
	if c.Meta.Step != rec.Step {
		return nil, fmt.Errorf("%w: %s holds step %d, recorded as %d", ErrCorruptCheckpoint, rec.Path, c.Meta.Step, rec.Step)
	}
	return c, nil
}

// restore sets weights, optimiser state, RNG and counters from c.
func (t *training) restore(c *ckptContent) error {
	for _, p := range t.params {
		src := c.tensor("param/" + p.Name)
		if src == nil {
			return fmt.Errorf("missing parameter %s", p.Name)
		}
		dst := p.Value()
		if len(src.Data) != len(dst) {
			return fmt.Errorf("parameter %s has %d values, model wants %d", p.Name, len(src.Data), len(dst))
		}
		copy(dst, src.Data)
	}
	opt := map[string][]float32{}
	for _, nt := range c.Tensors {
		if len(nt.Name) > 6 && nt.Name[:6] == "param/" {
			continue
		}
		opt[nt.Name] = nt.Data
	}
	if err := t.opt.SetState(c.Meta.OptSteps, opt); err != nil {
		return err
	}
	if err := t.smp.restore(c.Meta.RNG, c.Meta.Cursor); err != nil {
		return err
	}
	t.step = c.Meta.Step
	if m, ok := t.model.(MicroStepSetter); ok {
		m.SetMicroStep(uint64(t.step) * uint64(t.accum))
	}
	t.elapsedS = c.Meta.ElapsedS
	t.estTotal = c.Meta.EstTotal
	t.evalPending = c.Meta.EvalPending
	return nil
}

// weights copies the current parameters.
func (t *training) weights() []models.NamedTensor {
	out := make([]models.NamedTensor, len(t.params))
	for i, p := range t.params {
		out[i] = models.NamedTensor{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), p.Value()...)}
	}
	return out
}

func (t *training) now() time.Time { return t.o.now() }

// elapsed is the training wall time across sessions.
func (t *training) elapsed() float64 { return t.elapsedS + t.now().Sub(t.sessStart).Seconds() }

// train runs the loop to the end of the budget.
func (t *training) train(ctx context.Context) (runResult, error) {
	if err := t.db.SetStatus(ctx, t.r.Name, store.StatusRunning, ""); err != nil {
		return 0, err
	}
	t.sessStart = t.now()
	t.sessStep = t.step
	tokensPerStep := int64(t.B) * int64(t.T) * int64(t.accum)
	fpt := float64(t.r.Model.TrainFlopsPerToken())
	// A step's store writes, evaluation and checkpoint run to completion
	// even when a Ctrl-C or SIGTERM lands in the middle of them (work is
	// not cancelled by it, only by a lost lease); the stop is taken at the
	// next step boundary, where interrupted writes the checkpoint.
	work, stopWork := leaseOnly(ctx)
	defer stopWork()
	t.stop = ctx
	if t.evalPending { // stopped during this step's evaluation last time
		if err := t.evaluate(work); err != nil {
			if errors.Is(err, ErrStoppedInEval) {
				return 0, t.interrupted(ctx) // at a checkpointed step: nothing to write
			}
			return 0, err
		}
		t.evalPending = false
	}
	for {
		if t.total > 0 && t.step >= t.total {
			break
		}
		if t.limitS > 0 && t.elapsed() >= t.limitS {
			t.log.Info("seconds budget reached", "step", t.step, "seconds", t.elapsed())
			break
		}
		if ctx.Err() != nil {
			return 0, t.interrupted(ctx)
		}
		t0 := t.now()
		loss, err := t.forwardBackward()
		if errors.Is(err, errStepStopped) {
			return 0, t.interrupted(ctx)
		}
		if err != nil {
			return 0, fmt.Errorf("step %d: %w", t.step+1, err)
		}
		grads := make([][]float32, len(t.optParams))
		for i, p := range t.optParams {
			grads[i] = p.Grad()
		}
		var norm float64
		if !isBad(loss) {
			norm = ClipGradNorm(grads, t.r.Optimizer.GradClip)
		}
		it := t.step
		lr := t.lrAt(it)
		row := store.Step{Step: it + 1, Loss: loss, LR: lr, GradNorm: norm}
		if isBad(loss) || isBad(norm) {
			return t.fail(work, row, tokensPerStep, fpt, t0, loss, norm)
		}
		t.opt.Step(it, lr)
		t.step++
		row.Tokens = t.step * tokensPerStep
		row.Flops = float64(row.Tokens) * fpt
		row.StepMS = float64(t.now().Sub(t0).Microseconds()) / 1000
		row.ElapsedS = t.elapsed()
		t.pending = append(t.pending, row)
		if len(t.pending) >= t.o.FlushEvery || t.flushDue() {
			if err := t.flush(work); err != nil {
				return 0, err
			}
		}
		t.estimateTotal()
		sps := t.stepsPerSecond()
		t.prog.update(t.step, t.displayTotal(), loss, sps*float64(tokensPerStep), sps)
		if e := t.r.Eval.Every; e > 0 && t.step%e == 0 {
			if err := t.evaluate(work); err != nil {
				if errors.Is(err, ErrStoppedInEval) {
					// The checkpoint of this step says its evaluation is
					// still to do: a rerun does it first, exactly.
					t.evalPending = true
					return 0, t.interrupted(ctx)
				}
				return 0, err
			}
		}
		if c := t.r.Checkpoint.Every; c > 0 && t.step%c == 0 {
			if err := t.checkpoint(work); err != nil {
				return 0, err
			}
		}
	}
	if t.step > t.lastCkpt {
		if err := t.checkpoint(work); err != nil {
			return 0, err
		}
	}
	if err := t.flush(work); err != nil {
		return 0, err
	}
	if err := t.finalEval(work); err != nil {
		if errors.Is(err, ErrStoppedInEval) {
			// The final checkpoint is written: a rerun only evaluates.
			return 0, t.interrupted(ctx) // at a checkpointed step: nothing to write
		}
		return 0, err
	}
	if err := t.db.SetStatus(work, t.r.Name, store.StatusDone, ""); err != nil {
		return 0, err
	}
	t.log.Info("run done", "steps", t.step, "seconds", fmt.Sprintf("%.1f", t.elapsed()))
	return resultDone, nil
}

func isBad(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }

// errStepStopped: the command was stopped between two micro-batches of a
// step, which was abandoned (nothing of it applied).
var errStepStopped = errors.New("stopped between micro-batches")

// forwardBackward runs grad_accum micro-batches and returns the mean loss;
// with accumulation the mean gradient is left in t.acc.
func (t *training) forwardBackward() (float64, error) {
	if t.accum == 1 {
		t.smp.fill(t.ds.Train, t.B, t.T, t.in, t.tg)
		l, err := t.model.Step(t.in, t.tg)
		return float64(l), err
	}
	rng, err := t.smp.state()
	if err != nil {
		return 0, err
	}
	cursor := t.smp.cursor
	var sum float64
	for m := 0; m < t.accum; m++ {
		if m > 0 && t.stop != nil && t.stop.Err() != nil {
			// Stopped inside a long step (grad_accum micro-batches): undo
			// the batches drawn, so that the checkpoint of the last whole
			// step resumes exactly; the step is taken again then.
			if err := t.smp.restore(rng, cursor); err != nil {
				return 0, err
			}
			if ms, ok := t.model.(MicroStepSetter); ok {
				ms.SetMicroStep(uint64(t.step) * uint64(t.accum))
			}
			return 0, errStepStopped
		}
		t.smp.fill(t.ds.Train, t.B, t.T, t.in, t.tg)
		l, err := t.model.Step(t.in, t.tg)
		if err != nil {
			return 0, err
		}
		sum += float64(l)
		for i, p := range t.params {
			g, a := p.Grad(), t.acc[i]
			if m == 0 {
				copy(a, g)
				continue
			}
			for j, v := range g {
				a[j] += v
			}
		}
	}
	inv := 1 / float32(t.accum)
	for _, a := range t.acc {
		for j := range a {
			a[j] *= inv
		}
	}
	return sum / float64(t.accum), nil
}

// lrAt is the schedule at 0-based step it.
func (t *training) lrAt(it int64) float64 {
	s := t.sched
	if t.limitS > 0 {
		s.DecayIters = t.estTotal
		if s.DecayIters == 0 {
			s.DecayIters = math.MaxInt64 / 4 // horizon not estimated yet
		}
	}
	return s.At(it)
}

// estimateTotal fixes the schedule horizon of a seconds budget after 10
// steps of this session, from their speed.
func (t *training) estimateTotal() {
	if t.limitS <= 0 || t.estTotal > 0 || t.step-t.sessStep < 10 {
		return
	}
	per := t.now().Sub(t.sessStart).Seconds() / float64(t.step-t.sessStep)
	rest := (t.limitS - t.elapsed()) / math.Max(per, 1e-9)
	t.estTotal = t.step + int64(math.Max(rest, 1))
	t.log.Info("seconds budget: schedule horizon estimated", "steps", t.estTotal)
}

func (t *training) displayTotal() int64 {
	if t.total > 0 {
		return t.total
	}
	return t.estTotal
}

// stepsPerSecond is this session's training speed.
func (t *training) stepsPerSecond() float64 {
	d := t.now().Sub(t.sessStart).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(t.step-t.sessStep) / d
}

// fail records a NaN/Inf step and marks the run failed.
func (t *training) fail(ctx context.Context, row store.Step, perStep int64, fpt float64, t0 time.Time, loss, norm float64) (runResult, error) {
	row.Tokens = row.Step * perStep
	row.Flops = float64(row.Tokens) * fpt
	row.StepMS = float64(t.now().Sub(t0).Microseconds()) / 1000
	row.ElapsedS = t.elapsed()
	t.pending = append(t.pending, row)
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	what, val := "loss", loss
	if !isBad(loss) {
		what, val = "gradient norm", norm
	}
	reason := fmt.Sprintf("%s is %v at step %d", what, val, row.Step)
	if err := t.db.SetStatus(ctx, t.r.Name, store.StatusFailed, reason); err != nil {
		return 0, err
	}
	t.log.Error("run failed; going on with the next run", "reason", reason)
	return resultFailed, nil
}

// flush writes the buffered step rows in one transaction.
func (t *training) flush(ctx context.Context) error {
	if len(t.pending) == 0 {
		return nil
	}
	if err := t.db.WriteSteps(ctx, t.r.Name, t.pending); err != nil {
		return err
	}
	t.pending = t.pending[:0]
	t.lastFlush = t.now()
	return nil
}

// flushDue reports whether FlushInterval has passed since the last write of
// step rows (the first call of a session starts the interval).
func (t *training) flushDue() bool {
	if t.o.FlushInterval < 0 {
		return false
	}
	now := t.now()
	if t.lastFlush.IsZero() {
		t.lastFlush = now
		return false
	}
	return now.Sub(t.lastFlush) >= t.o.FlushInterval
}

// InterruptedError is returned when a run stops on cancellation (Ctrl-C,
// SIGTERM). It matches the cancellation cause with errors.Is, and says
// truthfully whether the state at Step is in a durable checkpoint.
type InterruptedError struct {
	Run          string
	Step         int64 // completed optimiser steps when it stopped
	Checkpointed bool  // a checkpoint of Step is recorded (written now or earlier)
	LastCkpt     int64 // the newest recorded checkpoint's step (resume point)
	Cause        error // the cancellation cause
	Err          error // why the checkpoint could not be written (Checkpointed false)
}

func (e *InterruptedError) Error() string {
	if e.Checkpointed {
		return fmt.Sprintf("interrupted at step %d of run %s; checkpoint of step %d saved", e.Step, e.Run, e.Step)
	}
	return fmt.Sprintf("interrupted at step %d of run %s; its checkpoint could NOT be written (%v): a rerun resumes from step %d",
		e.Step, e.Run, e.Err, e.LastCkpt)
}

// Unwrap returns the cause and the checkpoint error.
func (e *InterruptedError) Unwrap() []error { return []error{e.Cause, e.Err} }

// leaseOnly returns a context carrying ctx's values that is cancelled when
// ctx is cancelled because the run's lease was lost, and not by any other
// cancellation.
func leaseOnly(ctx context.Context) (context.Context, func()) {
	w, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if cause := context.Cause(ctx); errors.Is(cause, errLeaseLost) {
			cancel(cause)
		}
	})
	return w, func() { stop(); cancel(nil) }
}

// interrupted saves a checkpoint after cancellation (Ctrl-C) so no work is
// lost, then returns an *InterruptedError saying whether it did.
func (t *training) interrupted(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, errLeaseLost) {
		return cause
	}
	ie := &InterruptedError{Run: t.r.Name, Step: t.step, Cause: cause, Checkpointed: true}
	if t.step > t.lastCkpt {
		bg := context.WithoutCancel(ctx)
		if err := t.checkpoint(bg); err != nil {
			ie.Checkpointed, ie.Err, ie.LastCkpt = false, err, t.lastCkpt
			t.log.Error("interrupted; checkpoint NOT saved", "step", t.step, "resumes_from", t.lastCkpt, "err", err)
			return ie
		}
		t.log.Info("interrupted; checkpoint saved", "step", t.step)
	}
	ie.LastCkpt = t.lastCkpt
	return ie
}

// checkpoint flushes the steps, writes the checkpoint file durably, records
// it and prunes old ones.
func (t *training) checkpoint(ctx context.Context) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	rng, err := t.smp.state()
	if err != nil {
		return err
	}
	optT, optState := t.opt.State()
	c := &ckptContent{Meta: ckptMeta{
		Run: t.r.Name, Step: t.step, ConfigHash: t.r.Hash(), Config: t.r.ConfigJSON(),
		Tokenizer: t.ds.TokenizerJSON, RNG: rng, Cursor: t.smp.cursor, OptSteps: optT,
		ElapsedS: t.elapsed(), EstTotal: t.estTotal, EvalPending: t.evalPending,
	}}
	for _, p := range t.params {
		c.Tensors = append(c.Tensors, namedData{Name: "param/" + p.Name, Shape: p.Shape, Data: p.Value()})
	}
	for _, p := range t.params {
		for _, prefix := range []string{"adam.m/", "adam.v/", "muon.buf/"} {
			if d, ok := optState[prefix+p.Name]; ok {
				c.Tensors = append(c.Tensors, namedData{Name: prefix + p.Name, Shape: p.Shape, Data: d})
			}
		}
	}
	path := checkpointFile(t.ckptDir, t.step)
	sha, size, err := writeCheckpoint(path, c)
	if err != nil {
		return fmt.Errorf("checkpoint at step %d: %w", t.step, err)
	}
	// Record only while we still own the run (narrows the window in which a
	// process that lost its lease could write over the new owner's run).
	if err := t.db.RenewLease(ctx, t.r.Name, t.o.Owner, t.o.LeaseTTL); err != nil {
		return err
	}
	if err := t.db.RecordCheckpoint(ctx, store.Checkpoint{Run: t.r.Name, Step: t.step, Path: path,
		SHA256: sha, Bytes: size}); err != nil {
		return err
	}
	t.lastCkpt = t.step
	return t.prune(ctx)
}

// prune keeps the newest r.Checkpoint.Keep checkpoints (0: all).
func (t *training) prune(ctx context.Context) error {
	keep := t.r.Checkpoint.Keep
	if keep <= 0 {
		return nil
	}
	recs, err := t.db.Checkpoints(ctx, t.r.Name)
	if err != nil {
		return err
	}
	for i, rec := range recs {
		if i < keep {
			continue
		}
		// Forget the record first: a record never points at a missing file.
		if err := t.db.DeleteCheckpoint(ctx, t.r.Name, rec.Step); err != nil {
			return err
		}
		if err := os.Remove(rec.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove old checkpoint: %w", err)
		}
	}
	return nil
}

// ErrStoppedInEval stops an evaluation (eval.batches batches may take long)
// when the command is stopped (Ctrl-C, SIGTERM): the step's checkpoint is
// then written with the evaluation marked pending, and a rerun evaluates
// that step first, exactly as an uninterrupted run would have.
var ErrStoppedInEval = errors.New("stopped during an evaluation")

// evalLoss is the mean loss over batches filled by fill. It gives up with
// ErrStoppedInEval when the command is stopped.
func (t *training) evalLoss(n int, fill func(b int, in, tg []int32)) (float64, error) {
	in := make([]int32, t.B*t.T)
	tg := make([]int32, t.B*t.T)
	var sum float64
	for b := 0; b < n; b++ {
		if t.stop != nil && t.stop.Err() != nil {
			return 0, ErrStoppedInEval
		}
		fill(b, in, tg)
		l, err := t.model.Loss(in, tg)
		if err != nil {
			return 0, fmt.Errorf("eval loss: %w", err)
		}
		sum += float64(l)
	}
	return sum / float64(n), nil
}

func (t *training) bpb(loss float64) float64 {
	if t.ds.BytesPerToken <= 0 {
		return math.NaN()
	}
	return loss / math.Ln2 / t.ds.BytesPerToken
}

// evaluate logs train and val loss on eval.batches random batches drawn from
// an RNG seeded by (seed, step), a sample, and the task accuracy.
func (t *training) evaluate(ctx context.Context) error {
	n := max(t.r.Eval.Batches, 1)
	for k, split := range []struct {
		name string
		src  []int32
	}{{store.SplitTrain, t.ds.Train}, {store.SplitVal, t.ds.Val}} {
		smp := newSampler(t.r.Seed, streamEval^uint64(t.step)<<1^uint64(k))
		loss, err := t.evalLoss(n, func(_ int, in, tg []int32) { smp.fill(split.src, t.B, t.T, in, tg) })
		if err != nil {
			return err
		}
		if err := t.db.WriteEval(ctx, store.Eval{Run: t.r.Name, Step: t.step, Split: split.name, Loss: loss, BPB: t.bpb(loss)}); err != nil {
			return err
		}
	}
	if err := t.sample(ctx); err != nil {
		return err
	}
	return t.taskEval(ctx)
}

// finalEval evaluates on eval.final_batches batches of validation windows at
// fixed, evenly spaced positions (split final_val), comparable across runs.
func (t *training) finalEval(ctx context.Context) error {
	n := max(t.r.Eval.FinalBatches, 1)
	starts := evenStarts(len(t.ds.Val), t.T, n*t.B)
	loss, err := t.evalLoss(n, func(b int, in, tg []int32) { fillAt(t.ds.Val, t.T, starts[b*t.B:(b+1)*t.B], in, tg) })
	if err != nil {
		return err
	}
	if err := t.db.WriteEval(ctx, store.Eval{Run: t.r.Name, Step: t.step, Split: store.SplitFinalVal, Loss: loss, BPB: t.bpb(loss)}); err != nil {
		return err
	}
	bpb := "n/a (token ids: no bytes per token)"
	if b := t.bpb(loss); !math.IsNaN(b) {
		bpb = fmt.Sprintf("%.4f", b)
	}
	t.log.Info("final eval", "val_loss", fmt.Sprintf("%.4f", loss), "bpb", bpb)
	return t.taskEval(ctx)
}

// sample stores a short generation with a fixed per-eval seed.
func (t *training) sample(ctx context.Context) error {
	if t.o.Generate == nil || t.ds.Decode == nil {
		return nil
	}
	prompt := t.ds.Val[:min(samplePromptTokens, len(t.ds.Val))]
	seed := rand.NewPCG(t.r.Seed, uint64(t.step)).Uint64()
	out, err := t.o.Generate(t.r.Model, t.weights(), prompt, sampleTokens, seed)
	if err != nil {
		t.log.Warn("sample failed", "step", t.step, "err", err)
		return nil
	}
	return t.db.WriteSample(ctx, store.Sample{Run: t.r.Name, Step: t.step, Prompt: t.ds.Decode(prompt), Text: t.ds.Decode(out)})
}

// taskEval stores the synthetic task's accuracy, when there is a task.
func (t *training) taskEval(ctx context.Context) error {
	if t.ds.Accuracy == nil {
		return nil
	}
	accs, err := t.ds.Accuracy(ctx, t.weights())
	if err != nil {
		// An evaluation problem must not stop training: warn (once) and go on.
		if !t.taskWarned {
			t.log.Warn("task accuracy eval failed; training goes on", "step", t.step, "err", err)
			t.taskWarned = true
		}
		return nil
	}
	splits := make([]string, 0, len(accs))
	for s := range accs {
		splits = append(splits, s)
	}
	slices.Sort(splits)
	for _, s := range splits {
		acc := accs[s]
		if err := t.db.WriteEval(ctx, store.Eval{Run: t.r.Name, Step: t.step, Split: s, Loss: math.NaN(), BPB: math.NaN(), Accuracy: &acc}); err != nil {
			return err
		}
	}
	return nil
}

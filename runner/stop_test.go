package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/internal/sysmem"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
	"github.com/tinyscale/tinyscale/sweeps"
)

// cancellingStore cancels the training context (a Ctrl-C or SIGTERM) inside
// a chosen store call, which then runs with the cancelled context.
type cancellingStore struct {
	*store.DB
	cancel context.CancelFunc
	// at names the call ("WriteSteps", "WriteEval", "RecordCheckpoint")
	// and n its 1-based count at which to cancel.
	at string
	n  int

	counts map[string]int
}

func (c *cancellingStore) hit(name string) {
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[name]++
	if name == c.at && c.counts[name] == c.n {
		c.cancel()
	}
}

func (c *cancellingStore) WriteSteps(ctx context.Context, run string, rows []store.Step) error {
	c.hit("WriteSteps")
	return c.DB.WriteSteps(ctx, run, rows)
}

func (c *cancellingStore) WriteEval(ctx context.Context, e store.Eval) error {
	c.hit("WriteEval")
	return c.DB.WriteEval(ctx, e)
}

func (c *cancellingStore) RecordCheckpoint(ctx context.Context, ck store.Checkpoint) error {
	c.hit("RecordCheckpoint")
	return c.DB.RecordCheckpoint(ctx, ck)
}

// TestSignalDuringFlushEvalCheckpoint: a graceful stop (context cancelled)
// landing inside a step flush, an evaluation or a checkpoint still writes
// the checkpoint of the current step, reports it truthfully, leaves complete
// evaluations, and the resumed run equals an uninterrupted one bit for bit.
func TestSignalDuringFlushEvalCheckpoint(t *testing.T) {
	r := fakeRun("t/stop", 9)
	want := reference(t, r)
	tests := []struct {
		at       string
		n        int
		wantStep int64 // the checkpoint the stop must leave
	}{
		{"WriteSteps", 4, 14},       // FlushEvery 4: flushes after steps 4, 8, 10 (checkpoint), 14
		{"WriteEval", 3, 20},        // train eval of step 20
		{"WriteEval", 4, 20},        // val eval of step 20
		{"RecordCheckpoint", 2, 20}, // recording the checkpoint of step 20
	}
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpenDB(t)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			cs := &cancellingStore{DB: db, cancel: cancel, at: tc.at, n: tc.n}
			o, _ := testOptions(cs, &fakeWorld{}, r)
			o.FlushEvery = 4
			_, err := Run(cctx, o)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			var ie *InterruptedError
			if !errors.As(err, &ie) || !ie.Checkpointed || ie.Step != tc.wantStep {
				t.Fatalf("err %v (%+v), want an InterruptedError with a checkpoint at step %d", err, ie, tc.wantStep)
			}
			cks, _ := db.Checkpoints(ctx, r.Name)
			if len(cks) == 0 || cks[0].Step != tc.wantStep {
				t.Fatalf("checkpoints %+v, want the newest at step %d", cks, tc.wantStep)
			}
			if got, _ := db.GetRun(ctx, r.Name); got.Step != tc.wantStep {
				t.Errorf("logged step %d, want %d", got.Step, tc.wantStep)
			}
			o.DB = db
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			sameBits(t, losses(t, db, r.Name), want)
			evs, err := db.Evals(ctx, r.Name)
			if err != nil {
				t.Fatal(err)
			}
			splits := map[int64]int{}
			for _, e := range evs {
				if e.Split == store.SplitTrain || e.Split == store.SplitVal {
					splits[e.Step]++
				}
			}
			for _, s := range []int64{10, 20, 30, 40} {
				if splits[s] != 2 {
					t.Errorf("step %d has %d of the train/val evals, want 2", s, splits[s])
				}
			}
		})
	}
}

// TestInterruptWithoutCheckpointSaysSo: when the stop's checkpoint cannot be
// written the error says so (no "checkpointed" claim).
func TestInterruptWithoutCheckpointSaysSo(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/stopfail", 3)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fs := &failingStore{DB: db, failRecord: 1}
	w := &fakeWorld{configure: func(i int, m *fakeModel) {
		m.onStep = func(n int) {
			if n == 5 {
				cancel()
			}
		}
	}}
	o, _ := testOptions(fs, w, r)
	_, err := Run(cctx, o)
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Checkpointed || ie.Step != 5 || !errors.Is(err, errDisk) {
		t.Fatalf("err %v (%+v), want an InterruptedError without checkpoint at step 5 wrapping the disk error", err, ie)
	}
}

// TestDataProblemsFailRunAndNextGoesOn: a block_size larger than the
// dataset, token ids outside the vocabulary, or a dataset that cannot be
// prepared fail that run with the reason recorded; the sweep goes on.
func TestDataProblemsFailRunAndNextGoesOn(t *testing.T) {
	tests := []struct {
		name   string
		data   func(ctx context.Context, r sweeps.Run) (*Dataset, error)
		reason string
	}{
		{"block larger than data", func(ctx context.Context, r sweeps.Run) (*Dataset, error) {
			ds, err := fakeData(ctx, r)
			ds.Val = ds.Val[:5]
			return ds, err
		}, "dataset too small: train 2700 and val 5 tokens, need more than block_size+1 = 9 in each"},
		{"token id outside vocabulary", func(ctx context.Context, r sweeps.Run) (*Dataset, error) {
			ds, err := fakeData(ctx, r)
			ds.Train[100] = int32(r.Model.VocabSize) + 3
			return ds, err
		}, "token id 15 in the training split is not below the model's vocab_size 12"},
		{"prepare fails", func(ctx context.Context, r sweeps.Run) (*Dataset, error) {
			return nil, errors.New("token id 300 in the .bin files is not below tokenizer vocab_size 256")
		}, "prepare data: token id 300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpenDB(t)
			bad, good := fakeRun("t/bad", 1), fakeRun("t/good", 2)
			o, _ := testOptions(db, &fakeWorld{}, bad, good)
			o.Data = func(ctx context.Context, r sweeps.Run) (*Dataset, error) {
				if r.Name == bad.Name {
					return tc.data(ctx, r)
				}
				return fakeData(ctx, r)
			}
			sum, err := Run(ctx, o)
			if err != nil {
				t.Fatalf("sweep stopped: %v", err)
			}
			if sum.Failed != 1 || sum.Done != 1 {
				t.Fatalf("summary %+v, want 1 failed and 1 done", sum)
			}
			b, _ := db.GetRun(ctx, bad.Name)
			if b.Status != store.StatusFailed || !strings.Contains(b.FailReason, tc.reason) || b.LeaseOwner != "" {
				t.Errorf("bad run: status %s reason %q lease %q; want failed with %q", b.Status, b.FailReason, b.LeaseOwner, tc.reason)
			}
		})
	}
}

// TestRunBeyondMemoryFails: a run whose memory estimate exceeds what the
// machine has left fails with the estimate and the limit in its reason; the
// next run goes on.
func TestRunBeyondMemoryFails(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	big, small := fakeRun("t/big", 1), fakeRun("t/small", 2)
	big.Model.NEmbd, big.Model.NLayer = 4096, 8
	o, _ := testOptions(db, &fakeWorld{}, big, small)
	need := EstimateMemory(big, 3000).Total
	o.MemAvailable = func() (sysmem.Limit, error) { return sysmem.Limit{Bytes: need - 1, Source: "test limit"}, nil }
	sum, err := Run(ctx, o)
	if err != nil || sum.Failed != 1 || sum.Done != 1 {
		t.Fatalf("summary %+v, err %v; want 1 failed, 1 done", sum, err)
	}
	b, _ := db.GetRun(ctx, big.Name)
	for _, want := range []string{"needs about " + sysmem.FormatBytes(need), "parameters", "optimiser state", "activations at batch 4 × block 8", "available: " + sysmem.FormatBytes(need-1) + " (test limit)"} {
		if !strings.Contains(b.FailReason, want) {
			t.Errorf("reason %q lacks %q", b.FailReason, want)
		}
	}
}

// TestHyperHonoursZeros: the resolved optimiser settings are used as they
// are; zero is a value (momentum 0, betas [0, 0]), not "unset".
func TestHyperHonoursZeros(t *testing.T) {
	oc := fakeRun("t/h", 1).Optimizer
	oc.Name, oc.Momentum, oc.Betas, oc.WeightDecay = "muon", 0, [2]float64{0, 0}, 0
	h := hyperFor(oc)
	if h.Momentum != 0 || h.Beta1 != 0 || h.Beta2 != 0 || h.WeightDecay != 0 || h.Eps != oc.Eps {
		t.Errorf("hyper %+v from %+v", h, oc)
	}
	// With momentum below Muon's warm-up start the warm-up does not ramp
	// down to it: momentum 0 is no momentum from the first step.
	if mu := MuonMomentum(0, h); mu != 0 {
		t.Errorf("Muon momentum at step 0 = %v, want 0", mu)
	}
	oc.Momentum, oc.Betas = 0.95, [2]float64{0.8, 0.9}
	h = hyperFor(oc)
	if h.Momentum != 0.95 || h.MomentumStart != 0.85 || h.Beta1 != 0.8 || h.Beta2 != 0.9 {
		t.Errorf("hyper %+v from %+v", h, oc)
	}
}

// TestFinalEvalLogWithoutBytes: for token-id data (no bytes per token) the
// final eval log says bits per byte does not apply instead of bpb=NaN.
func TestFinalEvalLogWithoutBytes(t *testing.T) {
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/ids", 1)
	o, logs := testOptions(db, &fakeWorld{}, r)
	o.Data = func(ctx context.Context, r sweeps.Run) (*Dataset, error) {
		ds, err := fakeData(ctx, r)
		ds.BytesPerToken = 0
		return ds, err
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Contains(out, "NaN") || !strings.Contains(out, `bpb="n/a (token ids: no bytes per token)"`) {
		t.Errorf("final eval log:\n%s", out)
	}
}

// TestMemoryFailureRetriedOnABiggerMachine: a run refused for memory never
// trained, and whether it fits depends on the machine: the next `run` (on a
// node with more memory, or after other processes ended) tries it again,
// while other failed runs stay skipped.
func TestMemoryFailureRetriedOnABiggerMachine(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/mem", 1)
	o, _ := testOptions(db, &fakeWorld{}, r)
	need := EstimateMemory(r, 3000).Total
	o.MemAvailable = func() (sysmem.Limit, error) { return sysmem.Limit{Bytes: need / 2, Source: "small node"}, nil }
	if sum, err := Run(ctx, o); err != nil || sum.Failed != 1 {
		t.Fatalf("small node: %+v %v", sum, err)
	}
	o.MemAvailable = func() (sysmem.Limit, error) { return sysmem.Limit{Bytes: 2 * need, Source: "big node"}, nil }
	if sum, err := Run(ctx, o); err != nil || sum.Done != 1 {
		t.Fatalf("big node: %+v %v", sum, err)
	}
	if got, _ := db.GetRun(ctx, r.Name); got.Status != store.StatusDone || got.FailReason != "" {
		t.Errorf("after the retry: status %s reason %q", got.Status, got.FailReason)
	}
}

// evalBits is every evaluation of run (step, split, loss bits), in order.
func evalBits(t *testing.T, db *store.DB, run string) []string {
	t.Helper()
	evs, err := db.Evals(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%d %s %x", e.Step, e.Split, math.Float64bits(e.Loss)))
	}
	return out
}

// TestSignalDuringLongEvalStopsAtOnce: a Ctrl-C in the middle of an
// evaluation of many batches stops it at the next batch (it used to run
// every batch first: eval.batches 1e9 never stopped), checkpoints the step
// with its evaluation pending, and the rerun evaluates that step first, so
// steps and evals equal an uninterrupted run's bit for bit. A stop in the
// final evaluation leaves the final checkpoint and the rerun evaluates.
func TestSignalDuringLongEvalStopsAtOnce(t *testing.T) {
	r := fakeRun("t/longeval", 5)
	r.Eval.Batches = 50 // step 10's eval: Loss calls 1-100, step 20's: 101-200, final: 401-404
	ref := storetest.MustOpenDB(t)
	o, _ := testOptions(ref, &fakeWorld{}, r)
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	want, wantEvals := losses(t, ref, r.Name), evalBits(t, ref, r.Name)
	for _, tc := range []struct {
		name     string
		at       int   // the Loss call that cancels
		wantStep int64 // the checkpoint the stop leaves
	}{
		{"periodic", 130, 20},
		{"final", 402, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpenDB(t)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			after := 0
			w := &fakeWorld{configure: func(_ int, m *fakeModel) {
				m.onLoss = func(n int) {
					if n == tc.at {
						cancel()
					}
					if n > tc.at {
						after++
					}
				}
			}}
			o, _ := testOptions(db, w, r)
			_, err := Run(cctx, o)
			var ie *InterruptedError
			if !errors.As(err, &ie) || !ie.Checkpointed || ie.Step != tc.wantStep || ie.LastCkpt != tc.wantStep {
				t.Fatalf("err %v (%+v), want an InterruptedError checkpointed at step %d", err, ie, tc.wantStep)
			}
			if after > 0 {
				t.Errorf("%d evaluation batches ran after the stop, want 0", after)
			}
			o.DB = db
			o.NewModel = (&fakeWorld{}).newModel
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			sameBits(t, losses(t, db, r.Name), want)
			if got := evalBits(t, db, r.Name); !slices.Equal(got, wantEvals) {
				t.Errorf("evals after the rerun\n%q\nwant (uninterrupted)\n%q", got, wantEvals)
			}
		})
	}
}

// TestSignalInsideLongStepStopsAtOnce: a Ctrl-C between the micro-batches
// of a long step (grad_accum 1e6 never stopped) abandons that step at the
// next micro-batch, checkpoints the last whole step, and the rerun's curve
// equals an uninterrupted run's bit for bit.
func TestSignalInsideLongStepStopsAtOnce(t *testing.T) {
	r := fakeRun("t/longstep", 6)
	r.GradAccum = 25
	r.Budget.Steps = 12
	r.Eval.Every, r.Checkpoint.Every = 5, 5
	want := reference(t, r)
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const at = 7*25 + 10 // inside step 8
	after := 0
	w := &fakeWorld{configure: func(_ int, m *fakeModel) {
		m.onStep = func(n int) {
			if n == at {
				cancel()
			}
			if n > at {
				after++
			}
		}
	}}
	o, _ := testOptions(db, w, r)
	_, err := Run(cctx, o)
	var ie *InterruptedError
	if !errors.As(err, &ie) || !ie.Checkpointed || ie.Step != 7 {
		t.Fatalf("err %v (%+v), want an InterruptedError checkpointed at step 7", err, ie)
	}
	if after > 0 {
		t.Errorf("%d micro-batches ran after the stop, want 0", after)
	}
	o.DB = db
	o.NewModel = (&fakeWorld{}).newModel
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	sameBits(t, losses(t, db, r.Name), want)
}

package runner

import (
	"errors"
	"fmt"

	"github.com/tinyscale/tinyscale/internal/sysmem"
	"github.com/tinyscale/tinyscale/sweeps"
)

// RunFailure is an error that fails one run (recorded as its fail_reason)
// without stopping the sweep: a problem of the run's configuration or data,
// not of the machine or the database.
type RunFailure struct{ Err error }

func (e *RunFailure) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *RunFailure) Unwrap() error { return e.Err }

// CheckData reports why run r cannot train on ds, or nil: each split must
// hold more than block_size+1 tokens (a window and its shifted target), and
// every token id must be below the model's vocab_size. `tinyscale plan`
// calls it to catch these before training; the runner calls it again.
func CheckData(r sweeps.Run, ds *Dataset) error {
	if T := r.BlockSize; len(ds.Train) < T+2 || len(ds.Val) < T+2 {
		return fmt.Errorf("dataset too small: train %d and val %d tokens, need more than block_size+1 = %d in each (lower block_size or use more data)",
			len(ds.Train), len(ds.Val), T+1)
	}
	V := r.Model.VocabSize
	for _, split := range []struct {
		name string
		ids  []int32
	}{{"training", ds.Train}, {"validation", ds.Val}} {
		for _, id := range split.ids {
			if id < 0 || int(id) >= V {
				return fmt.Errorf("token id %d in the %s split is not below the model's vocab_size %d", id, split.name, V)
			}
		}
	}
	return nil
}

// asRunFailure reports whether err fails only its run, and its reason.
func asRunFailure(err error) (string, bool) {
	var f *RunFailure
	if errors.As(err, &f) {
		return err.Error(), true
	}
	return "", false
}

// MemoryEstimate is what training a run holds in memory, in bytes.
type MemoryEstimate struct {
	Params      int64 // weights and gradients (models.Config.TrainBytes)
	Optimizer   int64 // AdamW moments / Muon buffers, gradient accumulators
	Activations int64 // at batch_size × block_size
	Data        int64 // the tokenised splits
	Eval        int64 // the weight copy of samples and task evals
	Total       int64
	Batch, T    int
}

// EstimateMemory estimates the memory of training r on dataTokens tokens
// (train + val; 0 when not known yet).
func EstimateMemory(r sweeps.Run, dataTokens int64) MemoryEstimate {
	P, _ := r.Model.ParamCounts()
	cfg := r.Model
	cfg.BlockSize = r.BlockSize
	m := MemoryEstimate{Batch: r.BatchSize, T: r.BlockSize}
	m.Params = 8 * P
	m.Activations = cfg.TrainBytes(r.BatchSize) - m.Params
	m.Optimizer = 8 * P // two moments (Muon's one buffer is smaller)
	if r.GradAccum > 1 {
		m.Optimizer += 4 * P
	}
	m.Data = 4 * dataTokens
	m.Eval = 4 * P
	m.Total = m.Params + m.Optimizer + m.Activations + m.Data + m.Eval
	return m
}

// String is the total and its parts.
func (m MemoryEstimate) String() string {
	return sysmem.FormatBytes(m.Total) + " (" + m.parts() + ")"
}

func (m MemoryEstimate) parts() string {
	f := sysmem.FormatBytes
	return fmt.Sprintf("parameters and gradients %s, optimiser state %s, activations at batch %d × block %d %s, data %s, eval copy %s",
		f(m.Params), f(m.Optimizer), m.Batch, m.T, f(m.Activations), f(m.Data), f(m.Eval))
}

// memoryReasonPrefix starts every CheckMemory error: a run failed with it
// never trained and is tried again by the next `tinyscale run`.
const memoryReasonPrefix = "needs about "

// CheckMemory refuses an estimate above the available memory.
func CheckMemory(m MemoryEstimate, lim sysmem.Limit) error {
	if m.Total <= lim.Bytes {
		return nil
	}
	return fmt.Errorf(memoryReasonPrefix+"%s of memory (%s); available: %s. Lower batch_size (use grad_accum for the same tokens per step), block_size or the model size",
		sysmem.FormatBytes(m.Total), m.parts(), lim)
}

package runner

import (
	"errors"
	"fmt"

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

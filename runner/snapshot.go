package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
)

// ErrNoCheckpoint is matched by LoadLatest's error when a run has no usable
// checkpoint.
var ErrNoCheckpoint = errors.New("no usable checkpoint")

// Snapshot is the content of a durable checkpoint that sample, eval and
// export need: the step, the resolved run, the tokenizer and the weights.
type Snapshot struct {
	Step      int64
	Run       sweeps.Run
	Tokenizer json.RawMessage
	Params    []models.NamedTensor
	// Path is the checkpoint file it was read from.
	Path string
}

// CheckpointLister is the part of the store LoadLatest reads.
type CheckpointLister interface {
	Checkpoints(ctx context.Context, run string) ([]store.Checkpoint, error)
}

// LoadLatest returns the newest durable, checksum-valid checkpoint of run.
// Corrupt or missing files are skipped with a warning (the previous one is
// used); no usable checkpoint is an error matching ErrNoCheckpoint.
func LoadLatest(ctx context.Context, db *store.DB, run string) (*Snapshot, error) {
	return loadLatest(ctx, db, run, slog.Default())
}

func loadLatest(ctx context.Context, db CheckpointLister, run string, log *slog.Logger) (*Snapshot, error) {
	recs, err := db.Checkpoints(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint of %s: %w", run, err)
	}
	for _, rec := range recs {
		c, err := loadVerified(rec)
		if err != nil {
			if errors.Is(err, ErrCorruptCheckpoint) || errors.Is(err, os.ErrNotExist) {
				log.Warn("checkpoint unusable; trying the previous one", "run", run, "step", rec.Step, "err", err)
				continue
			}
			return nil, err
		}
		s := &Snapshot{Step: c.Meta.Step, Tokenizer: c.Meta.Tokenizer, Path: rec.Path}
		if err := json.Unmarshal(c.Meta.Config, &s.Run); err != nil {
			return nil, fmt.Errorf("checkpoint %s: config: %w", rec.Path, err)
		}
		for _, t := range c.Tensors {
			if name, ok := strings.CutPrefix(t.Name, "param/"); ok {
				s.Params = append(s.Params, models.NamedTensor{Name: name, Shape: t.Shape, Data: t.Data})
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("run %s: %w (%d recorded)", run, ErrNoCheckpoint, len(recs))
}

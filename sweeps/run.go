package sweeps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// Run is one concrete training run: the fully resolved configuration that the
// runner trains and the store records. Its JSON form (ConfigJSON) is canonical
// and its Hash identifies the configuration.
type Run struct {
	// Name is unique and stable: <experiment>/<family>[/<k=v,...>].
	Name string `json:"name"`
	// Experiment is the name of the experiment the run was expanded from.
	Experiment string `json:"experiment"`
	// Family is the model family (same as Model.Family).
	Family string `json:"family"`
	// Model is the model shape and knobs; BlockSize and VocabSize are filled.
	Model models.Config `json:"model"`
	// Data is the dataset the run trains on.
	Data data.Spec `json:"data"`
	// Tokenizer is the tokenizer built on Data.
	Tokenizer tokenizer.Spec `json:"tokenizer"`
	// BlockSize is the context length T.
	BlockSize int `json:"block_size"`
	// BatchSize is the number of sequences per micro-batch.
	BatchSize int `json:"batch_size"`
	// GradAccum is the number of micro-batches per optimiser step.
	GradAccum int `json:"grad_accum"`
	// Optimizer is the optimiser and learning-rate schedule.
	Optimizer Optimizer `json:"optimizer"`
	// Budget is the training budget, resolved to steps where possible.
	Budget Budget `json:"budget"`
	// Eval says how often and how much to evaluate.
	Eval Eval `json:"eval"`
	// Checkpoint says how often to checkpoint and how many to keep.
	Checkpoint Checkpoint `json:"checkpoint"`
	// Seed seeds weight initialisation and batch sampling.
	Seed uint64 `json:"seed"`
	// Match records the target the model shape was chosen for (match: params
	// or match: flops); nil when the shape was given.
	Match *Match `json:"match,omitempty"`
	// Sweep holds the values of the swept keys for this run, in the YAML's
	// spelling (the same pairs as in the name).
	Sweep map[string]string `json:"sweep,omitempty"`

	// The fields below are what the run is to the report, not part of its
	// configuration: they are left out of ConfigJSON, so they change no hash.

	// PairKey is equal for the runs of the experiment that form a matched
	// pair: the experiment and the swept values but the seed ("pair/params=1M"),
	// plus the shape ("/64x4x2") when the experiment lists a family twice.
	// Runs with equal (Experiment, PairKey, Family) differ only by seed.
	PairKey string `json:"-"`
	// ExperimentsSHA256 is the hex SHA-256 of the experiments file.
	ExperimentsSHA256 string `json:"-"`
	// Reference is the experiment's published numbers (reference:), nil
	// when it declares none.
	Reference *Reference `json:"-"`
}

// Optimizer is the optimiser and its learning-rate schedule.
type Optimizer struct {
	// Name is adamw or muon (muon for 2-D hidden matrices, AdamW for the rest).
	Name string `json:"name"`
	// LR is the peak learning rate.
	LR float64 `json:"lr"`
	// MinLR is the learning rate at the end of the schedule.
	MinLR float64 `json:"min_lr"`
	// Warmup is the number of linear warm-up steps.
	Warmup int64 `json:"warmup"`
	// Schedule is cosine, wsd (warmup-stable-decay) or constant.
	Schedule string `json:"schedule"`
	// CooldownFrac is the fraction of steps of the wsd decay phase.
	CooldownFrac float64 `json:"cooldown_frac"`
	// Betas are AdamW's (beta1, beta2).
	Betas [2]float64 `json:"betas"`
	// Eps is AdamW's epsilon.
	Eps float64 `json:"eps"`
	// WeightDecay is the decoupled weight decay.
	WeightDecay float64 `json:"weight_decay"`
	// GradClip is the global gradient-norm clip (0: off).
	GradClip float64 `json:"grad_clip"`
	// Momentum is Muon's momentum.
	Momentum float64 `json:"momentum"`
}

// Budget kinds: the key the user wrote under budget:.
const (
	BudgetSteps   = "steps"
	BudgetTokens  = "tokens"
	BudgetFlops   = "flops"
	BudgetSeconds = "seconds"
)

// Budget is a training budget. Kind names the one key the YAML gave; for
// tokens and flops budgets Steps holds the resolved number of optimiser steps
// (rounded up), so that TotalSteps is Steps for every budget but seconds.
type Budget struct {
	// Kind is steps, tokens, flops or seconds.
	Kind string `json:"kind"`
	// Steps is the number of optimiser steps (given, or resolved).
	Steps int64 `json:"steps,omitempty"`
	// Tokens is the given token budget.
	Tokens int64 `json:"tokens,omitempty"`
	// Flops is the given analytic training-FLOPs budget.
	Flops float64 `json:"flops,omitempty"`
	// Seconds is the given wall-clock budget (not reproducible).
	Seconds float64 `json:"seconds,omitempty"`
}

// Eval says how often and on how many batches to evaluate.
type Eval struct {
	// Every is the number of steps between evaluations (0: final only).
	Every int64 `json:"every"`
	// Batches is the number of validation batches per evaluation.
	Batches int `json:"batches"`
	// FinalBatches is the number of validation batches of the final evaluation.
	FinalBatches int `json:"final_batches"`
}

// Checkpoint says how often to checkpoint and how many checkpoints to keep.
type Checkpoint struct {
	// Every is the number of steps between checkpoints.
	Every int64 `json:"every"`
	// Keep is how many checkpoints to keep on disk (0: all).
	Keep int `json:"keep"`
}

// Match records how a model's width was chosen.
type Match struct {
	// By is params or flops.
	By string `json:"by"`
	// Target is the parameter count or forward FLOPs per token aimed at.
	Target float64 `json:"target"`
}

// ConfigJSON returns the canonical JSON of the resolved configuration: the
// fields in declaration order, map keys sorted, no insignificant space.
func (r Run) ConfigJSON() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Only NaN or Inf floats can make Marshal fail; Expand rejects them.
		panic(fmt.Sprintf("sweeps: marshal run %s: %v", r.Name, err))
	}
	return b
}

// Hash is the hex SHA-256 of ConfigJSON.
func (r Run) Hash() string {
	s := sha256.Sum256(r.ConfigJSON())
	return hex.EncodeToString(s[:])
}

// ShortHash is the first 16 hex characters of Hash, for display.
func (r Run) ShortHash() string { return r.Hash()[:16] }

// TokensPerStep is batch_size × block_size × grad_accum.
func (r Run) TokensPerStep() int64 {
	return int64(r.BatchSize) * int64(r.BlockSize) * int64(max(r.GradAccum, 1))
}

// TotalSteps is the number of optimiser steps of the run; 0 for a seconds
// budget, whose length is not known in advance.
func (r Run) TotalSteps() int64 {
	if r.Budget.Kind == BudgetSeconds {
		return 0
	}
	return r.Budget.Steps
}

// BudgetTokens is the number of training tokens the run sees:
// TotalSteps × TokensPerStep (0 for a seconds budget).
func (r Run) BudgetTokens() int64 { return r.TotalSteps() * r.TokensPerStep() }

// TrainFlops is the analytic training FLOPs of the whole run:
// Model.TrainFlopsPerToken × BudgetTokens (0 for a seconds budget).
func (r Run) TrainFlops() float64 {
	return float64(r.Model.TrainFlopsPerToken()) * float64(r.BudgetTokens())
}

// Nonreproducible reports whether the run's length depends on the machine
// (a seconds budget).
func (r Run) Nonreproducible() bool { return r.Budget.Kind == BudgetSeconds }

// resolveBudget fills Budget.Steps for tokens and flops budgets (rounding up,
// so that the run sees at least the budget).
func (r *Run) resolveBudget() error {
	tps := float64(r.TokensPerStep())
	if tps <= 0 {
		return fmt.Errorf("tokens per step is %g", tps)
	}
	var steps float64
	switch r.Budget.Kind {
	case BudgetSteps, BudgetSeconds:
		return nil
	case BudgetTokens:
		steps = math.Ceil(float64(r.Budget.Tokens) / tps)
	case BudgetFlops:
		fpt := float64(r.Model.TrainFlopsPerToken())
		if fpt <= 0 {
			return fmt.Errorf("model has %g training FLOPs per token", fpt)
		}
		steps = math.Ceil(r.Budget.Flops / (fpt * tps))
	default:
		return fmt.Errorf("unknown budget kind %q", r.Budget.Kind)
	}
	if steps > math.MaxInt64/4 {
		return fmt.Errorf("budget of %s resolves to %g steps, too many", r.Budget.Kind, steps)
	}
	r.Budget.Steps = max(int64(steps), 1)
	return nil
}

package runner

import (
	"fmt"
	"math"
)

// Schedule computes the learning rate at a 0-based step.
type Schedule struct {
	// Kind is cosine, wsd or constant.
	Kind string
	// LR is the peak learning rate, MinLR the floor.
	LR, MinLR float64
	// Warmup is the number of linear warm-up steps.
	Warmup int64
	// DecayIters is lr_decay_iters: the run's total steps.
	DecayIters int64
	// CooldownFrac is the fraction of DecayIters spent in wsd's cosine cooldown.
	CooldownFrac float64
}

// Validate checks the kind and ranges.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "cosine", "wsd", "constant":
	default:
		return fmt.Errorf("unknown schedule %q (allowed: cosine, wsd, constant)", s.Kind)
	}
	if s.Warmup < 0 {
		return fmt.Errorf("warmup %d must be >= 0", s.Warmup)
	}
	if s.Kind == "wsd" && (s.CooldownFrac < 0 || s.CooldownFrac > 1) {
		return fmt.Errorf("cooldown_frac %v must be in [0, 1]", s.CooldownFrac)
	}
	return nil
}

// At returns the learning rate at 0-based step it.
//
// Warm-up (all kinds): lr*(it+1)/(warmup+1) for it < warmup (nanoGPT).
// cosine: min_lr + ½(1+cos(π·r))(lr-min_lr), r = (it-warmup)/(decay-warmup); min_lr past decay.
// wsd: lr until decay-cooldown, then the same cosine from lr to min_lr over the
// cooldown (cooldown = round(cooldown_frac·decay) steps); min_lr past decay.
// constant: lr after warm-up.
func (s Schedule) At(it int64) float64 {
	if it < s.Warmup {
		return s.LR * float64(it+1) / float64(s.Warmup+1)
	}
	switch s.Kind {
	case "constant":
		return s.LR
	case "wsd":
		if it >= s.DecayIters {
			return s.MinLR
		}
		cool := int64(math.Round(s.CooldownFrac * float64(s.DecayIters)))
		start := s.DecayIters - cool
		if start < s.Warmup {
			start = s.Warmup
		}
		if it < start || s.DecayIters <= start {
			return s.LR
		}
		r := float64(it-start) / float64(s.DecayIters-start)
		return s.MinLR + 0.5*(1+math.Cos(math.Pi*r))*(s.LR-s.MinLR)
	default: // cosine
		if it > s.DecayIters {
			return s.MinLR
		}
		if s.DecayIters <= s.Warmup {
			return s.LR
		}
		r := float64(it-s.Warmup) / float64(s.DecayIters-s.Warmup)
		return s.MinLR + 0.5*(1+math.Cos(math.Pi*r))*(s.LR-s.MinLR)
	}
}

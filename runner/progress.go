package runner

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tinyscale/tinyscale/sweeps"
)

// progress reports training progress: a live line rewritten in place on a
// terminal, or a log line every ProgressEvery otherwise.
type progress struct {
	w     io.Writer // nil: log lines only
	log   *slog.Logger
	every time.Duration
	now   func() time.Time
	n     int // runs in the sweep
	i     int // current run index
	name  string
	last  time.Time // last log line or terminal redraw
	drawn bool      // a live line is on the terminal
}

func newProgress(o Options, n int) *progress {
	p := &progress{log: o.Log, every: o.ProgressEvery, now: o.now, n: n}
	if o.Terminal && o.Progress != nil {
		p.w = o.Progress
	}
	return p
}

func (p *progress) startRun(i int, r sweeps.Run) {
	p.i, p.name = i, r.Name
	p.last = time.Time{}
	p.log.Info("run", "index", fmt.Sprintf("%d/%d", i+1, p.n), "name", r.Name, "steps", r.TotalSteps(), "config", r.ShortHash())
}

// update reports one step; total is 0 when unknown; stepsPerS and tokPerS
// are this session's speeds.
func (p *progress) update(step, total int64, loss, tokPerS, stepsPerS float64) {
	now := p.now()
	eta := "?"
	if stepsPerS > 0 && total >= step {
		eta = time.Duration(float64(total-step) / stepsPerS * float64(time.Second)).Round(time.Second).String()
	}
	if p.w != nil {
		if now.Sub(p.last) < 100*time.Millisecond && step != total {
			return
		}
		p.last, p.drawn = now, true
		fmt.Fprintf(p.w, "\r\033[K[run %d/%d] %s  step %d/%s  loss %.4f  %s tok/s  ETA %s",
			p.i+1, p.n, p.name, step, totalStr(total), loss, human(tokPerS), eta)
		return
	}
	if now.Sub(p.last) < p.every && step != total {
		return
	}
	p.last = now
	p.log.Info("progress", "run", p.name, "sweep", fmt.Sprintf("%d/%d", p.i+1, p.n), "step", step, "total", totalStr(total),
		"loss", fmt.Sprintf("%.4f", loss), "tok_per_s", human(tokPerS), "eta", eta)
}

func (p *progress) endRun() {
	if p.w != nil && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func totalStr(total int64) string {
	if total <= 0 {
		return "?"
	}
	return fmt.Sprint(total)
}

// human formats a rate with a k/M suffix.
func human(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

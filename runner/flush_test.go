package runner

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store/storetest"
)

// steppingClock advances by step on every reading: a slow run, in effect.
type steppingClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *steppingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// TestFlushInterval: on a slow run the buffered step rows are written once
// FlushInterval has passed, not only every FlushEvery steps (a live viewer
// sees the run move), and the rows written are the same bits either way.
func TestFlushInterval(t *testing.T) {
	r := fakeRun("t/flush", 5)
	want := reference(t, r)
	tests := []struct {
		name     string
		interval time.Duration
		minCalls int
		maxCalls int
	}{
		// 40 steps, checkpoints every 10 flush too: 4 checkpoints + the final flush at most.
		{"count only", -1, 1, 5},
		// every reading of the clock is 1 s later: at least one write every other step.
		{"every 2s of a slow run", 2 * time.Second, 20, 41},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.MustOpenDB(t)
			cs := &cancellingStore{DB: db, cancel: func() {}}
			o, _ := testOptions(cs, &fakeWorld{}, r)
			o.FlushEvery = 1000
			o.FlushInterval = tc.interval
			clock := &steppingClock{t: time.Unix(1_700_000_000, 0), step: time.Second}
			o.now = clock.now
			if _, err := Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			if n := cs.counts["WriteSteps"]; n < tc.minCalls || n > tc.maxCalls {
				t.Errorf("WriteSteps called %d times, want %d..%d", n, tc.minCalls, tc.maxCalls)
			}
			sameBits(t, losses(t, db, r.Name), want)
		})
	}
}

package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
	"github.com/tinyscale/tinyscale/sweeps"
)

// fakeClock advances by tick on every reading.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	tick time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.tick)
	return c.t
}

func TestSecondsBudgetStopsAtFirstStepPastLimit(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/seconds", 1)
	r.Budget = sweeps.Budget{Kind: sweeps.BudgetSeconds, Seconds: 2}
	o, _ := testOptions(db, &fakeWorld{}, r)
	o.now = (&fakeClock{t: time.Unix(1e9, 0), tick: 7 * time.Millisecond}).now
	if sum, err := Run(ctx, o); err != nil || sum.Done != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	steps, _ := db.Steps(ctx, r.Name)
	n := len(steps)
	if n < 10 {
		t.Fatalf("only %d steps", n)
	}
	if last, prev := steps[n-1].ElapsedS, steps[n-2].ElapsedS; prev >= 2 || last < 2-0.2 {
		t.Errorf("stopped with elapsed %v after %v; limit 2s", last, prev)
	}
	got, _ := db.GetRun(ctx, r.Name)
	if !got.Nonreproducible || got.StepsTotal != 0 || got.Status != store.StatusDone {
		t.Errorf("run row: nonreproducible %v steps_total %d status %s", got.Nonreproducible, got.StepsTotal, got.Status)
	}
	// The schedule horizon was estimated: the learning rate decays.
	if steps[n-1].LR >= steps[n/2].LR {
		t.Errorf("lr did not decay: mid %v last %v", steps[n/2].LR, steps[n-1].LR)
	}
}

func TestInterruptCheckpointsAndResumes(t *testing.T) {
	ctx := context.Background()
	r := fakeRun("t/interrupt", 6)
	want := reference(t, r)
	db := storetest.MustOpenDB(t)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &fakeWorld{configure: func(i int, m *fakeModel) {
		if i == 0 {
			m.onStep = func(n int) {
				if n == 15 {
					cancel() // Ctrl-C during step 15
				}
			}
		}
	}}
	o, _ := testOptions(db, w, r)
	if _, err := Run(cctx, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	cks, _ := db.Checkpoints(ctx, r.Name)
	if len(cks) == 0 || cks[0].Step != 15 {
		t.Fatalf("checkpoints %+v, want one at step 15", cks)
	}
	got, _ := db.GetRun(ctx, r.Name)
	if got.LeaseOwner != "" || got.Step != 15 {
		t.Errorf("after interrupt: lease %q step %d", got.LeaseOwner, got.Step)
	}
	o.Owner = "test:other"
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	sameBits(t, losses(t, db, r.Name), want)
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		want     []string
	}{
		{"terminal", true, []string{"\r\x1b[K[run 1/1] t/progress  step 40/40  loss ", "tok/s  ETA 0s"}},
		{"log", false, []string{`msg=progress run=t/progress sweep=1/1 step=40 total=40`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.MustOpenDB(t)
			o, logs := testOptions(db, &fakeWorld{}, fakeRun("t/progress", 1))
			var buf bytes.Buffer
			o.Progress, o.Terminal = &buf, tc.terminal
			if _, err := Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			out := buf.String() + logs.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%q", w, out)
				}
			}
		})
	}
}

func TestFreshRestartsDoneRun(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/fresh", 1)
	o, _ := testOptions(db, &fakeWorld{}, r)
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	o.Fresh = true
	sum, err := Run(ctx, o)
	if err != nil || sum.Done != 1 {
		t.Fatalf("--fresh on a done run: %+v %v", sum, err)
	}
	if n := len(losses(t, db, r.Name)); n != 40 {
		t.Errorf("%d steps after --fresh", n)
	}
}

func TestLeaseLostStopsRun(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/stolen", 1)
	next := fakeRun("t/after", 2)
	w := &fakeWorld{configure: func(i int, m *fakeModel) {
		if i == 0 {
			m.delay = 3 * time.Millisecond
			m.onStep = func(n int) {
				if n == 10 { // another process takes the run over
					db.ReleaseLease(ctx, r.Name, "test:1")
					db.ClaimRun(ctx, r.Name, "thief:1", time.Hour)
				}
			}
		}
	}}
	o, logs := testOptions(db, w, r, next)
	o.LeaseTTL = 30 * time.Millisecond
	sum, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 1 || sum.Done != 1 {
		t.Fatalf("summary %+v\n%s", sum, logs)
	}
	if !strings.Contains(logs.String(), "another process took over") {
		t.Errorf("no lease-lost warning:\n%s", logs)
	}
	got, _ := db.GetRun(ctx, r.Name)
	if got.LeaseOwner != "thief:1" || got.Status == store.StatusDone {
		t.Errorf("stolen run: owner %q status %s", got.LeaseOwner, got.Status)
	}
}

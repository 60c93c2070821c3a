package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// clock is a settable test clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestClaimRun(t *testing.T) {
	ctx := context.Background()
	const ttl = time.Minute
	tests := []struct {
		name  string
		setup func(t *testing.T, db *store.DB, c *clock) // before "b" claims
		want  bool
	}{
		{"unclaimed", func(*testing.T, *store.DB, *clock) {}, true},
		{"live lease of another owner", func(t *testing.T, db *store.DB, c *clock) { mustClaim(t, db, "a") }, false},
		{"expired lease of another owner", func(t *testing.T, db *store.DB, c *clock) {
			mustClaim(t, db, "a")
			c.advance(ttl)
		}, true},
		{"almost expired lease of another owner", func(t *testing.T, db *store.DB, c *clock) {
			mustClaim(t, db, "a")
			c.advance(ttl - time.Millisecond)
		}, false},
		{"own lease", func(t *testing.T, db *store.DB, c *clock) { mustClaim(t, db, "b") }, true},
		{"released lease", func(t *testing.T, db *store.DB, c *clock) {
			mustClaim(t, db, "a")
			if err := db.ReleaseLease(ctx, "r", "a"); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"done run", func(t *testing.T, db *store.DB, c *clock) {
			if err := db.MarkFinished(ctx, "r"); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"failed run", func(t *testing.T, db *store.DB, c *clock) {
			mustClaim(t, db, "a")
			if err := db.SetStatus(ctx, "r", store.StatusFailed, "x"); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			db := storetest.MustOpenDB(t, store.WithClock(c.now))
			storetest.MustAddRun(t, db, storetest.Run("r", "h"))
			tt.setup(t, db, c)
			got, err := db.ClaimRun(ctx, "r", "b", ttl)
			if err != nil || got != tt.want {
				t.Fatalf("ClaimRun = %v, %v; want %v", got, err, tt.want)
			}
			r, _ := db.GetRun(ctx, "r")
			if got && (r.LeaseOwner != "b" || !r.LeaseExpiresAt.Equal(c.now().Add(ttl))) {
				t.Fatalf("lease after claim: %q until %v", r.LeaseOwner, r.LeaseExpiresAt)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		db := storetest.MustOpenDB(t)
		storetest.MustAddRun(t, db, storetest.Run("r", "h"))
		if _, err := db.ClaimRun(ctx, "nope", "a", ttl); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ClaimRun(nope) err = %v", err)
		}
		if _, err := db.ClaimRun(ctx, "r", "", ttl); err == nil {
			t.Error("empty owner accepted")
		}
		if _, err := db.ClaimRun(ctx, "r", "a", 0); err == nil {
			t.Error("zero ttl accepted")
		}
	})
}

func mustClaim(t *testing.T, db *store.DB, owner string) {
	t.Helper()
	ok, err := db.ClaimRun(context.Background(), "r", owner, time.Minute)
	if err != nil || !ok {
		t.Fatalf("ClaimRun(%s) = %v, %v", owner, ok, err)
	}
}

// TestConcurrentClaims races many claimants, on one handle and on two
// handles (separate pools, as two processes would be) on one file: exactly
// one wins each run.
func TestConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	h1 := storetest.MustOpenPath(t, path)
	h2 := storetest.MustOpenPath(t, path)
	const runs, claimants = 5, 16
	for i := range runs {
		storetest.MustAddRun(t, h1, storetest.Run(fmt.Sprintf("r%d", i), "h"))
	}
	tests := []struct {
		name    string
		handles []*store.DB
	}{
		{"one handle", []*store.DB{h1}},
		{"two handles", []*store.DB{h1, h2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range runs {
				run := fmt.Sprintf("r%d", i)
				if err := h1.ResetRun(ctx, run, storetest.Run(run, "h")); err != nil {
					t.Fatal(err)
				}
				// Clear leases left by the previous subtest.
				if _, err := h1.SQL().Exec(`UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL`); err != nil {
					t.Fatal(err)
				}
			}
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				winners = map[string][]string{}
				errs    []error
			)
			start := make(chan struct{})
			for c := range claimants {
				db := tt.handles[c%len(tt.handles)]
				owner := fmt.Sprintf("owner-%d", c)
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for i := range runs {
						run := fmt.Sprintf("r%d", i)
						ok, err := db.ClaimRun(ctx, run, owner, time.Hour)
						mu.Lock()
						if err != nil {
							errs = append(errs, err)
						}
						if ok {
							winners[run] = append(winners[run], owner)
						}
						mu.Unlock()
					}
				}()
			}
			close(start)
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("claim errors: %v", errs)
			}
			for i := range runs {
				run := fmt.Sprintf("r%d", i)
				w := winners[run]
				if len(w) != 1 {
					t.Fatalf("%s: winners %v, want exactly one", run, w)
				}
				r, err := h2.GetRun(ctx, run)
				if err != nil || r.LeaseOwner != w[0] {
					t.Fatalf("%s: lease owner %q, winner %q (%v)", run, r.LeaseOwner, w[0], err)
				}
			}
		})
	}
}

// TestLeaseExpiryTakeover: a process that stops renewing (crashed) loses its
// run to a successor once the lease expires, and learns so on its next renew.
func TestLeaseExpiryTakeover(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "r.db")
	crashed := storetest.MustOpenPath(t, path, store.WithClock(c.now))
	successor := storetest.MustOpenPath(t, path, store.WithClock(c.now))
	storetest.MustAddRun(t, crashed, storetest.Run("r", "h"))
	const ttl = 30 * time.Second

	if ok, err := crashed.ClaimRun(ctx, "r", "pid-1", ttl); !ok || err != nil {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	c.advance(20 * time.Second)
	if err := crashed.RenewLease(ctx, "r", "pid-1", ttl); err != nil {
		t.Fatalf("renew: %v", err)
	}
	c.advance(20 * time.Second) // 40s: renewed lease runs to 50s
	if ok, err := successor.ClaimRun(ctx, "r", "pid-2", ttl); ok || err != nil {
		t.Fatalf("claim of a renewed lease = %v, %v; want false", ok, err)
	}
	c.advance(11 * time.Second) // 51s: pid-1 crashed and stopped renewing
	if ok, err := successor.ClaimRun(ctx, "r", "pid-2", ttl); !ok || err != nil {
		t.Fatalf("takeover = %v, %v; want true", ok, err)
	}
	if err := crashed.RenewLease(ctx, "r", "pid-1", ttl); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("renew after takeover err = %v, want ErrLeaseLost", err)
	}
	if ok, _ := crashed.ClaimRun(ctx, "r", "pid-1", ttl); ok {
		t.Fatal("old owner re-claimed a live lease")
	}
	if err := successor.RenewLease(ctx, "r", "pid-2", ttl); err != nil {
		t.Fatalf("successor renew: %v", err)
	}
	// Releasing someone else's lease does nothing.
	if err := crashed.ReleaseLease(ctx, "r", "pid-1"); err != nil {
		t.Fatal(err)
	}
	if r, _ := successor.GetRun(ctx, "r"); r.LeaseOwner != "pid-2" {
		t.Fatalf("lease owner %q after foreign release", r.LeaseOwner)
	}
}

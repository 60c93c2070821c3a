package runner

import (
	"context"
	"log/slog"
	"time"

	"github.com/tinyscale/tinyscale/store"
)

// waitForLease polls until the lease on run name can be claimed (it expired
// or was released) and claims it; false when the run became done meanwhile.
// Cancellation returns the context's error.
func waitForLease(ctx context.Context, o *Options, name string, log *slog.Logger) (bool, error) {
	logged := false
	for {
		cur, err := o.DB.GetRun(ctx, name)
		if err != nil {
			return false, err
		}
		if cur.Status == store.StatusDone {
			return false, nil
		}
		wait := time.Until(cur.LeaseExpiresAt)
		wait = min(max(wait, time.Second), o.LeaseTTL)
		if !logged {
			log.Info("another owner holds the lease; waiting for it to be released or to expire",
				"owner", cur.LeaseOwner, "expires", cur.LeaseExpiresAt.UTC().Format(time.RFC3339))
			logged = true
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(wait):
		}
		ok, err := claim(ctx, o, name, log)
		if err != nil || ok {
			return ok, err
		}
	}
}

package store_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// TestOwnerCertainlyDead: only a process of this host, PID namespace and
// boot that is gone (or whose pid was reused) is judged dead; a live worker
// in another container with the same hostname is not.
func TestOwnerCertainlyDead(t *testing.T) {
	self := store.ProcessOwner()
	if !strings.Contains(self, ":pidns=") || strings.Contains(self, "pidns=:") {
		t.Skip("no /proc here:", self)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	live, err := store.OwnerOfPID(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	dead.Start()
	deadOwner, _ := store.OwnerOfPID(dead.Process.Pid)
	dead.Wait()
	if deadOwner == "" {
		deadOwner = strings.Replace(live, ":"+itoa(cmd.Process.Pid)+":", ":"+itoa(dead.Process.Pid)+":", 1)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	field := func(owner, key, val string) string {
		parts := strings.Split(owner, ":")
		for i, p := range parts {
			if strings.HasPrefix(p, key+"=") {
				parts[i] = key + "=" + val
			}
		}
		return strings.Join(parts, ":")
	}
	host, _ := os.Hostname()
	tests := []struct {
		name  string
		owner string
		want  bool
	}{
		{"live process", live, false},
		{"this process", self, false},
		{"exited process", deadOwner, true},
		{"pid reused (other start time)", field(live, "start", "1"), true},
		{"other PID namespace, same hostname", field(deadOwner, "pidns", "4026599999"), false},
		{"other boot", field(deadOwner, "boot", "00000000000000000000000000000000"), false},
		{"other host", strings.Replace(deadOwner, host+":", "elsewhere:", 1), false},
		{"old host:pid form", host + ":" + itoa(dead.Process.Pid), false},
		{"garbage", "x", false},
	}
	for _, tc := range tests {
		if got := store.OwnerCertainlyDead(tc.owner); got != tc.want {
			t.Errorf("%s (%s): dead = %v, want %v", tc.name, tc.owner, got, tc.want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestFencedWritesAfterLeaseLost: a process whose lease was taken over
// cannot write steps, evals, samples, checkpoints or status any more; the
// new owner's rows stay as they are.
func TestFencedWritesAfterLeaseLost(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := storetest.MustOpenDB(t, store.WithClock(c.now))
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	if ok, _ := db.ClaimRun(ctx, "r", "old", time.Minute); !ok {
		t.Fatal("claim")
	}
	oldCtx := store.WithLease(ctx, "old")
	if err := db.WriteSteps(oldCtx, "r", []store.Step{{Step: 1, Loss: 1}}); err != nil {
		t.Fatalf("owner's write refused: %v", err)
	}
	c.advance(2 * time.Minute)
	if ok, _ := db.ClaimRun(ctx, "r", "new", time.Minute); !ok {
		t.Fatal("takeover")
	}
	newCtx := store.WithLease(ctx, "new")
	if err := db.WriteSteps(newCtx, "r", []store.Step{{Step: 1, Loss: 7}}); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"steps":  func() error { return db.WriteSteps(oldCtx, "r", []store.Step{{Step: 1, Loss: 99}}) },
		"eval":   func() error { return db.WriteEval(oldCtx, store.Eval{Run: "r", Step: 1, Split: "val", Loss: 99}) },
		"sample": func() error { return db.WriteSample(oldCtx, store.Sample{Run: "r", Step: 1, Prompt: "a", Text: "b"}) },
		"checkpoint": func() error {
			return db.RecordCheckpoint(oldCtx, store.Checkpoint{Run: "r", Step: 1, Path: "x", SHA256: "y"})
		},
		"delete ckpt": func() error { return db.DeleteCheckpoint(oldCtx, "r", 1) },
		"truncate":    func() error { return db.TruncateAfter(oldCtx, "r", 0) },
		"status done": func() error { return db.SetStatus(oldCtx, "r", store.StatusDone, "") },
		"status fail": func() error { return db.SetStatus(oldCtx, "r", store.StatusFailed, "x") },
	}
	for name, w := range writes {
		if err := w(); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("%s by the old owner: err %v, want ErrLeaseLost", name, err)
		}
	}
	steps, _ := db.Steps(ctx, "r")
	evals, _ := db.Evals(ctx, "r")
	r, _ := db.GetRun(ctx, "r")
	if len(steps) != 1 || steps[0].Loss != 7 || len(evals) != 0 || r.Status != store.StatusPending || r.LeaseOwner != "new" {
		t.Errorf("new owner's run changed: steps %+v evals %+v run %s/%s", steps, evals, r.Status, r.LeaseOwner)
	}
	if err := db.SetStatus(newCtx, "r", store.StatusDone, ""); err != nil {
		t.Errorf("new owner's status: %v", err)
	}
}

package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
	"github.com/tinyscale/tinyscale/sweeps"
)

func TestShardFromEnv(t *testing.T) {
	slurm := func(id, lo, hi, step, count string) map[string]string {
		return map[string]string{EnvSlurmTaskID: id, EnvSlurmTaskMin: lo, EnvSlurmTaskMax: hi, EnvSlurmTaskStep: step, EnvSlurmTaskCount: count}
	}
	tests := []struct {
		name  string
		env   map[string]string
		count int
		want  Shard
		err   string // substring of the error; "" for success
	}{
		{"slurm first", slurm("0", "0", "3", "1", "4"), 0, Shard{1, 4}, ""},
		{"slurm last", slurm("3", "0", "3", "1", "4"), 0, Shard{4, 4}, ""},
		{"slurm no step var", slurm("2", "0", "4", "", "5"), 0, Shard{3, 5}, ""},
		{"slurm count agrees", slurm("1", "0", "1", "1", "2"), 2, Shard{2, 2}, ""},
		{"slurm strided", slurm("3", "1", "7", "2", "4"), 0, Shard{}, "SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=7 SLURM_ARRAY_TASK_STEP=2 SLURM_ARRAY_TASK_COUNT=4"},
		{"slurm offset", slurm("5", "5", "8", "1", "4"), 0, Shard{}, "plain 0..N-1"},
		{"slurm sparse", slurm("0", "0", "9", "1", "3"), 0, Shard{}, "SLURM_ARRAY_TASK_COUNT=3"},
		{"slurm explicit count, subset resubmitted", slurm("17", "3", "17", "14", "2"), 140, Shard{18, 140}, ""},
		{"slurm explicit count from env", map[string]string{EnvSlurmTaskID: "3", EnvShardCount: "5"}, 0, Shard{4, 5}, ""},
		{"slurm explicit count too small", slurm("7", "0", "7", "1", "8"), 5, Shard{}, "SLURM_ARRAY_TASK_ID=7 outside 0..4"},
		{"slurm missing min", map[string]string{EnvSlurmTaskID: "0", EnvSlurmTaskMax: "1", EnvSlurmTaskCount: "2"}, 0, Shard{}, "SLURM_ARRAY_TASK_MIN"},
		{"k8s flag", map[string]string{EnvJobIndex: "2"}, 3, Shard{3, 3}, ""},
		{"k8s env", map[string]string{EnvJobIndex: "0", EnvShardCount: "7"}, 0, Shard{1, 7}, ""},
		{"k8s flag beats env", map[string]string{EnvJobIndex: "4", EnvShardCount: "2"}, 5, Shard{5, 5}, ""},
		{"k8s no count", map[string]string{EnvJobIndex: "0"}, 0, Shard{}, "--shard-count N"},
		{"k8s out of range", map[string]string{EnvJobIndex: "3"}, 3, Shard{}, "outside 0..2"},
		{"k8s bad count", map[string]string{EnvJobIndex: "0", EnvShardCount: "x"}, 0, Shard{}, "TINYSCALE_SHARD_COUNT"},
		{"nowhere", map[string]string{}, 0, Shard{}, "neither is set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ShardFromEnv(func(k string) string { return tc.env[k] }, tc.count)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want it to mention %q", err, tc.err)
			}
		})
	}
}

func TestPlanHash(t *testing.T) {
	a, b := fakeRun("p/a", 1), fakeRun("p/b", 2)
	h := PlanHash([]sweeps.Run{a, b})
	if h != PlanHash([]sweeps.Run{a, b}) || len(h) != 64 {
		t.Fatalf("plan hash %q not stable", h)
	}
	if h == PlanHash([]sweeps.Run{b, a}) {
		t.Error("order does not change the plan hash (it decides run→shard)")
	}
	c := b
	c.Seed = 3
	if h == PlanHash([]sweeps.Run{a, c}) {
		t.Error("a config change does not change the plan hash")
	}
}

// TestSingleWriterShardWaitsForDeadLease: a shard database (single-writer
// mode) whose run is leased by a process on another node (killed before it
// released the lease) is trained once the lease expires, not skipped.
func TestSingleWriterShardWaitsForDeadLease(t *testing.T) {
	ctx := context.Background()
	r := fakeRun("t/shard", 4)
	want := reference(t, r)
	db := storetest.MustOpenDB(t, store.WithSingleWriter())
	if err := db.UpsertRun(ctx, StoreRun(r)); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ClaimRun(ctx, r.Name, "node7:4242", 1500*time.Millisecond); !ok || err != nil {
		t.Fatal(ok, err)
	}
	o, logs := testOptions(db, &fakeWorld{}, r)
	o.WaitForLease = true
	sum, err := Run(ctx, o)
	if err != nil || sum.Done != 1 {
		t.Fatalf("%+v %v\n%s", sum, err, logs)
	}
	if !strings.Contains(logs.String(), "waiting for it to be released or to expire") {
		t.Errorf("no wait logged:\n%s", logs)
	}
	sameBits(t, losses(t, db, r.Name), want)
	var mode string
	db.SQL().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	if mode != "truncate" {
		t.Errorf("journal_mode %q, want truncate", mode)
	}
}

package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tinyscale/tinyscale/store"
)

// BenchmarkMerge merges the shards of a sweep of n runs, one shard per run:
// every shard registers all n runs and trains one of them (steps logged
// steps, an eval every 5, one checkpoint file), as `run --shard auto` leaves
// them. go test -run '^$' -bench Merge ./store/
func BenchmarkMerge(b *testing.B) {
	for _, tc := range []struct{ runs, steps int }{{16, 2000}, {140, 2000}} {
		b.Run(fmt.Sprintf("runs=%d/steps=%d", tc.runs, tc.steps), func(b *testing.B) {
			dir := b.TempDir()
			var shards []string
			for k := 0; k < tc.runs; k++ {
				var runs []fixRun
				for i := 0; i < tc.runs; i++ {
					r := fixRun{name: fmt.Sprintf("sweep/run=%03d", i), hash: fmt.Sprintf("h%d", i), status: "pending"}
					if i == k {
						r.status, r.steps = "done", tc.steps
					}
					runs = append(runs, r)
				}
				shards = append(shards, mkDB(b, filepath.Join(dir, "shards"), fmt.Sprintf("task-%d.db", k), nil, runs...))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out := filepath.Join(dir, fmt.Sprintf("out-%d.db", i))
				if _, err := store.Merge(context.Background(), out, shards, quiet); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tc.runs*tc.steps)/b.Elapsed().Seconds()*float64(b.N), "steps/s")
		})
	}
	// Reference: the same number of step rows written the way training logs
	// them (store.WriteSteps, 25 steps per transaction).
	b.Run("reference=WriteSteps/runs=16/steps=2000", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			db, err := store.Open(filepath.Join(b.TempDir(), "ref.db"), store.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for r := 0; r < 16; r++ {
				name := fmt.Sprintf("run=%d", r)
				if err := db.UpsertRun(ctx, store.Run{Name: name, ConfigHash: "h"}); err != nil {
					b.Fatal(err)
				}
				rows := make([]store.Step, 0, 25)
				for s := 1; s <= 2000; s++ {
					rows = append(rows, store.Step{Step: int64(s), Tokens: int64(s), Loss: 1, LR: 1, GradNorm: 1})
					if len(rows) == 25 {
						if err := db.WriteSteps(ctx, name, rows); err != nil {
							b.Fatal(err)
						}
						rows = rows[:0]
					}
				}
			}
			db.Close()
		}
		b.ReportMetric(float64(16*2000)/b.Elapsed().Seconds()*float64(b.N), "steps/s")
	})
}

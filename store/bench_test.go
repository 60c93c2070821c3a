package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tinyscale/tinyscale/store/storetest"
)

// BenchmarkWriteSteps measures logging throughput: one WriteSteps call (one
// transaction) per iteration, for several batch sizes. batch=1 is the
// reference: a transaction per step. Reports rows/s and µs/row.
func BenchmarkWriteSteps(b *testing.B) {
	for _, batch := range []int64{1, 50, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.MustOpenDB(b)
			storetest.MustAddRun(b, db, storetest.Run("r", "h"))
			next := int64(1)
			for b.Loop() {
				if err := db.WriteSteps(ctx, "r", stepRows(next, batch)); err != nil {
					b.Fatal(err)
				}
				next += batch
			}
			rows := float64(next - 1)
			b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e6/rows, "µs/row")
		})
	}
}

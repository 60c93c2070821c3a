package export

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// BenchmarkExport exports 12 runs of 10,000 steps (and 40 evaluations each)
// in each format.
func BenchmarkExport(b *testing.B) {
	ctx := context.Background()
	db := storetest.MustOpenDB(b)
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("pair/run%02d", i)
		storetest.MustAddRun(b, db, storetest.Run(name, "h"+name))
		var rows []store.Step
		for s := 1; s <= 10000; s++ {
			rows = append(rows, store.Step{Step: int64(s), Tokens: int64(512 * s), Flops: 3e6 * float64(s), Loss: 3 + 1/float64(s),
				LR: 1e-3, GradNorm: 0.5, StepMS: 10, ElapsedS: 0.01 * float64(s), Time: t0})
		}
		if err := db.WriteSteps(ctx, name, rows); err != nil {
			b.Fatal(err)
		}
		for s := int64(250); s <= 10000; s += 250 {
			if err := db.WriteEval(ctx, store.Eval{Run: name, Step: s, Split: store.SplitVal, Loss: 3, BPB: 4, Time: t0}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, format := range Formats() {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				if _, err := Export(ctx, db, Options{Format: format, Out: filepath.Join(b.TempDir(), "o")}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

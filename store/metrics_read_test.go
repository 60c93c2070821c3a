package store_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

func TestStepsAfterAndLastSteps(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	when := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, n := range []string{"a", "b", "c"} {
		storetest.MustAddRun(t, db, storetest.Run(n, "h"+n))
	}
	var rows []store.Step
	for i := int64(1); i <= 10; i++ {
		rows = append(rows, store.Step{Step: i, Tokens: 10 * i, Flops: float64(i), Loss: 5 - float64(i)/10, LR: 1e-3,
			GradNorm: math.NaN(), StepMS: 2, ElapsedS: 0.002 * float64(i), Time: when.Add(time.Duration(i) * time.Second)})
	}
	if err := db.WriteSteps(ctx, "a", rows); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteSteps(ctx, "b", rows[:3]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		after      int64
		limit      int
		first, num int64
	}{{0, 0, 1, 10}, {7, 0, 8, 3}, {2, 4, 3, 4}, {10, 0, 0, 0}, {-5, 2, 1, 2}}
	for _, tc := range tests {
		got, err := db.StepsAfter(ctx, "a", tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(got)) != tc.num || (tc.num > 0 && got[0].Step != tc.first) {
			t.Errorf("StepsAfter(%d, %d): %d rows from %v, want %d from %d", tc.after, tc.limit, len(got), got, tc.num, tc.first)
		}
		for i, s := range got {
			w := rows[s.Step-1]
			if s.Tokens != w.Tokens || s.Loss != w.Loss || !math.IsNaN(s.GradNorm) || !s.Time.Equal(w.Time) || (i > 0 && s.Step != got[i-1].Step+1) {
				t.Errorf("row %+v, want %+v", s, w)
			}
		}
	}
	last, err := db.LastSteps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 2 || last["a"].Step != 10 || last["b"].Step != 3 || last["b"].ElapsedS != rows[2].ElapsedS || !last["a"].Time.Equal(rows[9].Time) {
		t.Errorf("LastSteps = %+v", last)
	}
	if _, ok := last["c"]; ok {
		t.Error("run without steps in LastSteps")
	}
}

package serve

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// benchDB holds 12 runs of 10,000 steps each, like a finished default sweep
// scaled to the paper's step count.
func benchDB(b *testing.B) *store.DB {
	b.Helper()
	ctx := context.Background()
	db := storetest.MustOpenDB(b)
	for i := 0; i < 12; i++ {
		name := "pair/run" + string(rune('a'+i))
		r := storetest.Run(name, "h"+name)
		r.StepsTotal = 10000
		storetest.MustAddRun(b, db, r)
		rows := make([]store.Step, 0, 1000)
		for s := 1; s <= 10000; s++ {
			rows = append(rows, store.Step{Step: int64(s), Tokens: int64(512 * s), Loss: 3, LR: 1e-3, StepMS: 10, ElapsedS: 0.01 * float64(s), Time: t0})
			if len(rows) == cap(rows) {
				if err := db.WriteSteps(ctx, name, rows); err != nil {
					b.Fatal(err)
				}
				rows = rows[:0]
			}
		}
		if err := db.SetStatus(ctx, name, store.StatusRunning, ""); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkPoll is the database and encoding work of one poll of the page
// for one drawn running run: /api/runs plus /api/steps with the 25 steps the
// runner writes per transaction.
func BenchmarkPoll(b *testing.B) {
	db := benchDB(b)
	s := New(db, Options{Now: func() time.Time { return t0 }})
	b.ResetTimer()
	for b.Loop() {
		for _, u := range []string{"/api/runs", "/api/steps?run=pair/runa&after=9975"} {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
			if w.Code != 200 {
				b.Fatalf("%s: %d", u, w.Code)
			}
		}
	}
}

// BenchmarkFirstLoad is one run's whole history (10,000 steps), as the page
// loads it when a curve is first drawn.
func BenchmarkFirstLoad(b *testing.B) {
	db := benchDB(b)
	s := New(db, Options{})
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/api/steps?run=pair/runa&after=0", nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

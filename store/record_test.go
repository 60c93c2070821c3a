package store_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// TestRunRecordBackfill migrates a version-2 database whose runs carry only
// config_json and checks the typed record migration 003 fills in.
func TestRunRecordBackfill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	old, err := store.Open(path, store.WithTargetVersion(2))
	if err != nil {
		t.Fatal(err)
	}
	ins := `INSERT INTO runs (name, experiment, family, config_json, config_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`
	for _, r := range []struct{ name, exp, fam, cfg string }{
		{"pair/gpt2-rope-swiglu/params=1M,seed=2", "pair", "gpt2-rope-swiglu",
			`{"name":"pair/gpt2-rope-swiglu/params=1M,seed=2","model":{"family":"gpt2-rope-swiglu","n_embd":44,"n_head":4,"n_layer":2,"vocab_size":70},"optimizer":{"lr":0.003},"seed":2,"match":{"by":"params","target":1000000},"sweep":{"seed":"2","params":"1M"}}`},
		{"abl/gpt2-64x4x2", "abl", "gpt2", `{"model":{"family":"gpt2","n_embd":64,"n_head":4,"n_layer":2},"seed":1}`},
		{"abl/gpt2-128x4x2", "abl", "gpt2", `{"model":{"family":"gpt2","n_embd":128,"n_head":4,"n_layer":2},"seed":1}`},
		{"abl/silia", "abl", "silia", `{"model":{"family":"silia","n_embd":64,"n_head":4,"n_layer":2},"seed":1}`},
	} {
		if _, err := old.SQL().Exec(ins, r.name, r.exp, r.fam, r.cfg, "h"); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	db := storetest.MustOpenPath(t, path)
	tests := []struct {
		name string
		want store.RunRecord
	}{
		{"pair/gpt2-rope-swiglu/params=1M,seed=2", store.RunRecord{Width: 176, HeadDim: 44, NHead: 4, NLayer: 2, VocabSize: 70,
			Seed: 2, LR: 0.003, PairKey: "pair/params=1M", MatchBy: "params", MatchTarget: 1e6, SweepJSON: `{"params":"1M","seed":"2"}`}},
		{"abl/gpt2-64x4x2", store.RunRecord{Width: 64, HeadDim: 16, NHead: 4, NLayer: 2, Seed: 1, PairKey: "abl/64x4x2", SweepJSON: "{}"}},
		{"abl/silia", store.RunRecord{Width: 64, HeadDim: 64, NHead: 4, NLayer: 2, Seed: 1, PairKey: "abl/64x4x2", SweepJSON: "{}"}},
	}
	for _, tt := range tests {
		r, err := db.GetRun(ctx, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(r.Record.ReferenceValLoss) {
			t.Errorf("%s: reference val loss %v, want NaN", tt.name, r.Record.ReferenceValLoss)
		}
		r.Record.ReferenceValLoss = 0
		if r.Record != tt.want {
			t.Errorf("%s: record\n got %+v\nwant %+v", tt.name, r.Record, tt.want)
		}
	}
}

// TestRunRecordRoundTrip registers a run with a record and reads it back;
// re-registering with the same hash updates only the reference.
func TestRunRecordRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := storetest.Run("e/silia/seed=3", "h")
	r.Record = store.RunRecord{Width: 64, HeadDim: 16, NHead: 4, NLayer: 2, VocabSize: 65, Seed: 1<<63 + 5, LR: 1e-3,
		PairKey: "e", MatchBy: "flops", MatchTarget: 2e6, SweepJSON: `{"seed":"3"}`, ExperimentsSHA256: "abc",
		ReferenceSource: "paper", ReferenceValLoss: 1.48}
	storetest.MustAddRun(t, db, r)
	got, err := db.GetRun(ctx, r.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Record != r.Record {
		t.Fatalf("record\n got %+v\nwant %+v", got.Record, r.Record)
	}
	r2 := r
	r2.Record.ReferenceSource, r2.Record.ReferenceValLoss = "paper v2", 1.5
	r2.Record.Width = 999 // part of the identity: never rewritten
	storetest.MustAddRun(t, db, r2)
	got, _ = db.GetRun(ctx, r.Name)
	want := r.Record
	want.ReferenceSource, want.ReferenceValLoss = "paper v2", 1.5
	if got.Record != want {
		t.Fatalf("after re-registration\n got %+v\nwant %+v", got.Record, want)
	}
	sw, err := got.Record.Sweep()
	if err != nil || sw["seed"] != "3" {
		t.Fatalf("Sweep() = %v, %v", sw, err)
	}
}

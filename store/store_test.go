package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

func pragma(t *testing.T, db *store.DB, name string) string {
	t.Helper()
	var v string
	if err := db.SQL().QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenSetsPragmasOnEveryConnection(t *testing.T) {
	db := storetest.MustOpenDB(t)
	ctx := context.Background()
	// Hold two connections at once so the pool must open a second one.
	c1, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	want := map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "synchronous": "1"}
	for _, c := range []*sql.Conn{c1, c2} {
		for name, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", name, err)
			}
			if got != w {
				t.Errorf("PRAGMA %s = %q, want %q", name, got, w)
			}
		}
	}
}

func TestOpenEscapesPath(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a b.db", "q?x.db", "h#1.db", "p%41.db", "sub/dir/r.db"} {
		path := filepath.Join(dir, name)
		db, err := store.Open(path)
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("Open(%q) did not create that file: %v", name, err)
		}
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	latest := store.SchemaVersion()
	if latest < 2 {
		t.Fatalf("SchemaVersion() = %d, want >= 2", latest)
	}
	tests := []struct {
		name string
		from int // 0: empty file
	}{
		{"from empty", 0},
		{"from version 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.db")
			if tt.from > 0 {
				old, err := store.Open(path, store.WithTargetVersion(tt.from))
				if err != nil {
					t.Fatal(err)
				}
				if v, _ := old.Version(ctx); v != tt.from {
					t.Fatalf("fixture at version %d, want %d", v, tt.from)
				}
				// A version-1 database with data, written with plain SQL as
				// version 1 of tinyscale would have.
				for _, q := range []string{
					`INSERT INTO runs (name, config_hash, created_at, updated_at, step) VALUES ('r1', 'h', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 2)`,
					`INSERT INTO steps (run, step, tokens, flops, loss, wall_time) VALUES ('r1', 1, 10, 1, 3.5, '2026-01-01T00:00:00.000000Z'), ('r1', 2, 20, 2, 3.25, '2026-01-01T00:00:01.000000Z')`,
					`INSERT INTO evals (run, step, split, loss, created_at) VALUES ('r1', 2, 'val', 3.4, '2026-01-01T00:00:01.000000Z')`,
				} {
					if _, err := old.SQL().Exec(q); err != nil {
						t.Fatalf("fixture: %v", err)
					}
				}
				if _, err := old.SQL().Exec("SELECT * FROM run_summary"); err == nil {
					t.Fatal("version 1 fixture already has run_summary")
				}
				old.Close()
			}
			db := storetest.MustOpenPath(t, path)
			if v, err := db.Version(ctx); err != nil || v != latest {
				t.Fatalf("Version() = %d, %v; want %d", v, err, latest)
			}
			if got := pragma(t, db, "integrity_check"); got != "ok" {
				t.Fatalf("integrity_check = %q", got)
			}
			sums, err := db.RunSummaries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.from == 0 {
				if len(sums) != 0 {
					t.Fatalf("fresh database has runs: %+v", sums)
				}
				return
			}
			if len(sums) != 1 || sums[0].Step != 2 || sums[0].LastLoss == nil || *sums[0].LastLoss != 3.25 ||
				sums[0].BestValLoss == nil || *sums[0].BestValLoss != 3.4 {
				t.Fatalf("summaries after migration = %+v", sums)
			}
			// Reopening applies nothing and keeps the data.
			db2 := storetest.MustOpenPath(t, path)
			if steps, err := db2.Steps(ctx, "r1"); err != nil || len(steps) != 2 {
				t.Fatalf("Steps after reopen = %v, %v", steps, err)
			}
		})
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for name, open := range map[string]func(string, ...store.Option) (*store.DB, error){
		"Open": store.Open, "OpenReadOnly": store.OpenReadOnly,
	} {
		t.Run(name, func(t *testing.T) {
			db, err := open(path)
			if err == nil {
				db.Close()
				t.Fatal("opened a database with a newer schema")
			}
			var tooNew *store.SchemaTooNewError
			if !errors.Is(err, store.ErrSchemaTooNew) || !errors.As(err, &tooNew) {
				t.Fatalf("err = %v, want ErrSchemaTooNew", err)
			}
			if tooNew.DB != 99 || tooNew.Binary != store.SchemaVersion() {
				t.Errorf("versions = %d, %d", tooNew.DB, tooNew.Binary)
			}
			for _, want := range []string{"99", fmt.Sprintf("version %d", store.SchemaVersion()), path} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestLoadMigrationsValidates(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("CREATE TABLE x (a);")}
	tests := []struct {
		name    string
		files   []string
		want    int
		wantErr string
	}{
		{"ok", []string{"001_a.sql", "002_b.sql", "README"}, 2, ""},
		{"gap", []string{"001_a.sql", "003_c.sql"}, 0, "expected version 2"},
		{"duplicate", []string{"001_a.sql", "001_b.sql"}, 0, "expected version 2"},
		{"starts at 2", []string{"002_a.sql"}, 0, "expected version 1"},
		{"bad name", []string{"1_a.sql"}, 0, "NNN_name.sql"},
		{"no underscore", []string{"001.sql"}, 0, "NNN_name.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["migrations/"+f] = sql
			}
			n, err := store.LoadMigrations(fsys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("LoadMigrations = %d, %v; want %d", n, err, tt.want)
			}
		})
	}
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := store.OpenReadOnly(missing); !errors.Is(err, store.ErrNoDatabase) {
		t.Fatalf("OpenReadOnly(missing) err = %v, want ErrNoDatabase", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadOnly created %s", missing)
	}

	// A writer keeps the database open (and in the middle of a run) while a
	// reader opens it.
	w := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, w, storetest.Run("r", "h"))
	if err := w.WriteSteps(ctx, "r", []store.Step{{Step: 1, Loss: 2}}); err != nil {
		t.Fatal(err)
	}
	r, err := store.OpenReadOnly(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := w.WriteSteps(ctx, "r", []store.Step{{Step: 2, Loss: 1.5}}); err != nil {
		t.Fatal(err)
	}
	steps, err := r.Steps(ctx, "r")
	if err != nil || len(steps) != 2 {
		t.Fatalf("reader Steps = %v, %v; want 2 rows", steps, err)
	}
	if err := r.WriteSteps(ctx, "r", []store.Step{{Step: 3}}); err == nil {
		t.Fatal("read-only handle wrote")
	}

	// An older schema is not migrated by a reader.
	old := filepath.Join(dir, "old.db")
	o, err := store.Open(old, store.WithTargetVersion(1))
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	_, err = store.OpenReadOnly(old)
	var tooOld *store.SchemaTooOldError
	if !errors.As(err, &tooOld) || !errors.Is(err, store.ErrSchemaTooOld) || tooOld.DB != 1 || tooOld.Binary != store.SchemaVersion() ||
		!strings.Contains(err.Error(), "older") {
		t.Fatalf("OpenReadOnly(old schema) err = %v, want a *SchemaTooOldError 1 < %d", err, store.SchemaVersion())
	}
}

func TestUpsertRun(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := storetest.Run("exp/a", "hash-a")
	r.ParamsTotal, r.ParamsNonEmbedding, r.FlopsPerToken = 1000, 800, 2000
	if err := db.UpsertRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetRun(ctx, "exp/a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusPending || got.ParamsTotal != 1000 || got.ParamsNonEmbedding != 800 ||
		got.FlopsPerToken != 2000 || string(got.ConfigJSON) != string(r.ConfigJSON) || got.CreatedAt.IsZero() {
		t.Fatalf("GetRun = %+v", got)
	}
	if err := db.WriteSteps(ctx, "exp/a", []store.Step{{Step: 1, Loss: 1}}); err != nil {
		t.Fatal(err)
	}
	// Same hash: no-op, progress kept.
	if err := db.UpsertRun(ctx, r); err != nil {
		t.Fatalf("same hash: %v", err)
	}
	if got, _ := db.GetRun(ctx, "exp/a"); got.Step != 1 {
		t.Fatalf("same-hash upsert reset step to %d", got.Step)
	}
	// Different hash: refused with both hashes.
	changed := r
	changed.ConfigHash = "hash-b"
	err = db.UpsertRun(ctx, changed)
	var cc *store.ConfigChangedError
	if !errors.Is(err, store.ErrConfigChanged) || !errors.As(err, &cc) || cc.StoredHash != "hash-a" || cc.NewHash != "hash-b" {
		t.Fatalf("changed hash err = %v", err)
	}
	if got, _ := db.GetRun(ctx, "exp/a"); got.ConfigHash != "hash-a" {
		t.Fatalf("hash overwritten: %q", got.ConfigHash)
	}
	if _, err := db.GetRun(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRun(nope) err = %v", err)
	}
	for _, bad := range []store.Run{{Name: "x"}, {ConfigHash: "h"}, {Name: "x", ConfigHash: "h", Status: "odd"}} {
		if err := db.UpsertRun(ctx, bad); err == nil {
			t.Errorf("UpsertRun(%+v) accepted", bad)
		}
	}
	b := storetest.Run("b", "h")
	b.Experiment = "aaa"
	storetest.MustAddRun(t, db, b)
	runs, err := db.ListRuns(ctx)
	if err != nil || len(runs) != 2 || runs[0].Name != "b" || runs[1].Name != "exp/a" {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
}

func TestResetRun(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("r", "old"))
	fillRun(t, db, "r", 10)
	if ok, err := db.ClaimRun(ctx, "r", "me", time.Minute); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := db.SetStatus(ctx, "r", store.StatusFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ClaimRun(ctx, "r", "me", time.Minute); !ok || err != nil {
		t.Fatalf("re-claim failed run: %v %v", ok, err)
	}
	if err := db.ResetRun(ctx, "r", storetest.Run("r", "new")); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got.ConfigHash != "new" || got.Status != store.StatusPending || got.Step != 0 || got.FailReason != "" || got.LeaseOwner != "me" {
		t.Fatalf("after reset: %+v", got)
	}
	assertCounts(t, db, "r", 0, 0, 0, 0)
	if err := db.ResetRun(ctx, "r", storetest.Run("other", "h")); err == nil {
		t.Fatal("reset with another run's config accepted")
	}
	if err := db.ResetRun(ctx, "brand-new", store.Run{ConfigHash: "h"}); err != nil {
		t.Fatalf("reset of a new run: %v", err)
	}
}

func TestSetStatus(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	fillRun(t, db, "r", 7)
	steps := []struct {
		status, reason string
		check          func(store.Run) bool
	}{
		{store.StatusRunning, "", func(r store.Run) bool { return !r.StartedAt.IsZero() && r.FinishedAt.IsZero() }},
		{store.StatusFailed, "loss is NaN", func(r store.Run) bool {
			return r.FailReason == "loss is NaN" && r.FailStep == 7 && !r.FinishedAt.IsZero() && r.LeaseOwner == ""
		}},
		{store.StatusRunning, "", func(r store.Run) bool { return r.FailReason == "" && r.FinishedAt.IsZero() }},
		{store.StatusDone, "", func(r store.Run) bool { return !r.FinishedAt.IsZero() && r.LeaseOwner == "" }},
		{store.StatusPending, "", func(r store.Run) bool { return r.FinishedAt.IsZero() }},
	}
	for _, s := range steps {
		if _, err := db.ClaimRun(ctx, "r", "me", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := db.SetStatus(ctx, "r", s.status, s.reason); err != nil {
			t.Fatalf("SetStatus(%s): %v", s.status, err)
		}
		got, err := db.GetRun(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != s.status || !s.check(got) {
			t.Fatalf("after SetStatus(%s): %+v", s.status, got)
		}
	}
	if err := db.SetStatus(ctx, "r", "paused", ""); err == nil {
		t.Error("invalid status accepted")
	}
	if err := db.SetStatus(ctx, "nope", store.StatusDone, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetStatus(nope) err = %v", err)
	}
	if err := db.MarkFinished(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetRun(ctx, "r"); got.Status != store.StatusDone {
		t.Fatalf("MarkFinished: status %s", got.Status)
	}
}

func TestSetRunEnv(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	env := store.RunEnv{Host: "h1", GoVersion: "go1.26", TinyscaleVersion: "v1", BLAS: "openblas"}
	tests := []struct {
		name      string
		steps     int64
		env       store.RunEnv
		wantNonRe bool
	}{
		{"first", 0, env, false},
		{"same env after steps", 5, env, false},
		{"other host", 5, store.RunEnv{Host: "h2", GoVersion: "go1.26", TinyscaleVersion: "v1", BLAS: "openblas"}, false},
		{"other blas", 5, store.RunEnv{Host: "h2", GoVersion: "go1.26", TinyscaleVersion: "v1", BLAS: "pure-go"}, true},
	}
	for _, tt := range tests {
		if tt.steps > 0 {
			fillRun(t, db, "r", tt.steps)
		}
		if err := db.SetRunEnv(ctx, "r", tt.env); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, _ := db.GetRun(ctx, "r")
		if got.Host != tt.env.Host || got.BLAS != tt.env.BLAS || got.Nonreproducible != tt.wantNonRe {
			t.Fatalf("%s: %+v", tt.name, got)
		}
	}
	if err := db.SetRunEnv(ctx, "nope", env); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetRunEnv(nope) err = %v", err)
	}
}

func TestStepsRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	when := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	in := []store.Step{
		{Step: 1, Tokens: 512, Flops: 1.5e9, Loss: 4.25, LR: 1e-3, GradNorm: 0.5, StepMS: 12.5, ElapsedS: 0.0125, Time: when},
		{Step: 2, Tokens: 1024, Flops: 3e9, Loss: math.NaN(), LR: 1e-3, GradNorm: math.Inf(1), StepMS: 11, ElapsedS: 0.0235, Time: when},
	}
	if err := db.WriteSteps(ctx, "r", in); err != nil {
		t.Fatal(err)
	}
	out, err := db.Steps(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0] != in[0] || !math.IsNaN(out[1].Loss) || !math.IsInf(out[1].GradNorm, 1) || out[1].Tokens != 1024 {
		t.Fatalf("Steps = %+v", out)
	}
	if got, _ := db.GetRun(ctx, "r"); got.Step != 2 {
		t.Fatalf("run step = %d, want 2", got.Step)
	}
	// Rewriting a step replaces it; an older batch does not move step back.
	if err := db.WriteSteps(ctx, "r", []store.Step{{Step: 1, Loss: 9}}); err != nil {
		t.Fatal(err)
	}
	out, _ = db.Steps(ctx, "r")
	if len(out) != 2 || out[0].Loss != 9 {
		t.Fatalf("after rewrite: %+v", out)
	}
	if got, _ := db.GetRun(ctx, "r"); got.Step != 2 {
		t.Fatalf("run step = %d after rewriting step 1", got.Step)
	}
	if err := db.WriteSteps(ctx, "nope", []store.Step{{Step: 1}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("WriteSteps(nope) err = %v", err)
	}
	if err := db.WriteSteps(ctx, "r", nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

func TestEvalsSamplesCheckpoints(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	acc := 0.75
	evals := []store.Eval{
		{Run: "r", Step: 10, Split: store.SplitVal, Loss: 3, BPB: 1.2},
		{Run: "r", Step: 20, Split: store.SplitVal, Loss: 2.5, BPB: 1.0},
		{Run: "r", Step: 20, Split: store.SplitTrain, Loss: 2.0, BPB: 0.9},
		{Run: "r", Step: 30, Split: store.SplitFinalVal, Loss: 2.6, BPB: math.NaN()},
		{Run: "r", Step: 30, Split: "mqar", Loss: 1, BPB: math.NaN(), Accuracy: &acc},
	}
	for _, e := range evals {
		if err := db.WriteEval(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Evals(ctx, "r")
	if err != nil || len(got) != 5 {
		t.Fatalf("Evals = %v, %v", got, err)
	}
	if got[4].Split != "mqar" || got[4].Accuracy == nil || *got[4].Accuracy != 0.75 || got[0].Accuracy != nil || !math.IsNaN(got[3].BPB) {
		t.Fatalf("Evals = %+v", got)
	}
	best, err := db.BestValLoss(ctx, "r")
	if err != nil || best.Step != 20 || best.Loss != 2.5 {
		t.Fatalf("BestValLoss = %+v, %v", best, err)
	}
	if _, err := db.BestValLoss(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("BestValLoss(nope) err = %v", err)
	}
	if err := db.WriteEval(ctx, store.Eval{Run: "nope", Step: 1, Split: "val"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("WriteEval(nope) err = %v", err)
	}

	for _, s := range []store.Sample{{Run: "r", Step: 20, Prompt: "Once", Text: "Once upon"}, {Run: "r", Step: 10, Prompt: "A", Text: "A b"}} {
		if err := db.WriteSample(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	samples, err := db.Samples(ctx, "r")
	if err != nil || len(samples) != 2 || samples[0].Step != 10 || samples[1].Text != "Once upon" {
		t.Fatalf("Samples = %+v, %v", samples, err)
	}

	for _, step := range []int64{100, 300, 200} {
		c := store.Checkpoint{Run: "r", Step: step, Path: "ckpt/" + string(rune('a'+step/100)), SHA256: "ab", Bytes: step}
		if err := db.RecordCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RecordCheckpoint(ctx, store.Checkpoint{Run: "r", Step: 1}); err == nil {
		t.Fatal("checkpoint without path accepted")
	}
	cks, err := db.Checkpoints(ctx, "r")
	if err != nil || len(cks) != 3 || cks[0].Step != 300 || cks[1].Step != 200 || cks[2].Step != 100 {
		t.Fatalf("Checkpoints = %+v, %v (want newest first)", cks, err)
	}
	if err := db.DeleteCheckpoint(ctx, "r", 100); err != nil {
		t.Fatal(err)
	}
	if cks, _ := db.Checkpoints(ctx, "r"); len(cks) != 2 {
		t.Fatalf("after delete: %d checkpoints", len(cks))
	}
}

func TestTruncateAfter(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("r", "h"))
	storetest.MustAddRun(t, db, storetest.Run("other", "h"))
	fillRun(t, db, "r", 50)
	fillRun(t, db, "other", 50)
	if err := db.TruncateAfter(ctx, "r", 30); err != nil {
		t.Fatal(err)
	}
	assertCounts(t, db, "r", 30, 3, 3, 5)
	assertCounts(t, db, "other", 50, 5, 5, 5)
	if got, _ := db.GetRun(ctx, "r"); got.Step != 30 {
		t.Fatalf("run step = %d, want 30", got.Step)
	}
	steps, _ := db.Steps(ctx, "r")
	if steps[len(steps)-1].Step != 30 {
		t.Fatalf("last step %d", steps[len(steps)-1].Step)
	}
	// Truncating beyond the end changes nothing.
	if err := db.TruncateAfter(ctx, "r", 1000); err != nil {
		t.Fatal(err)
	}
	assertCounts(t, db, "r", 30, 3, 3, 5)
	if got, _ := db.GetRun(ctx, "r"); got.Step != 30 {
		t.Fatalf("run step = %d, want 30", got.Step)
	}
	if err := db.TruncateAfter(ctx, "nope", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TruncateAfter(nope) err = %v", err)
	}
}

func TestRunSummaries(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("a", "h"))
	storetest.MustAddRun(t, db, storetest.Run("b", "h"))
	fillRun(t, db, "a", 20)
	sums, err := db.RunSummaries(ctx)
	if err != nil || len(sums) != 2 {
		t.Fatalf("RunSummaries = %v, %v", sums, err)
	}
	a, b := sums[0], sums[1]
	// fillRun: loss of step s is 10/s; val evals every 10 steps with loss 5/s.
	if a.Name != "a" || a.Step != 20 || a.StepsTotal != 100 || a.LastLoss == nil || *a.LastLoss != 0.5 ||
		a.BestValLoss == nil || *a.BestValLoss != 0.25 {
		t.Errorf("summary a = %+v", a)
	}
	if b.Name != "b" || b.Step != 0 || b.LastLoss != nil || b.BestValLoss != nil || b.Status != store.StatusPending {
		t.Errorf("summary b = %+v", b)
	}
}

// fillRun logs steps 1..n of run (loss 10/s), a val eval every 10 steps
// (loss 5/s), a sample every 10 steps and 5 checkpoints.
func fillRun(t *testing.T, db *store.DB, run string, n int64) {
	t.Helper()
	ctx := context.Background()
	var rows []store.Step
	for s := int64(1); s <= n; s++ {
		rows = append(rows, store.Step{Step: s, Tokens: 64 * s, Flops: float64(s), Loss: 10 / float64(s), LR: 1e-3, StepMS: 10})
		if s%10 == 0 {
			if err := db.WriteEval(ctx, store.Eval{Run: run, Step: s, Split: store.SplitVal, Loss: 5 / float64(s)}); err != nil {
				t.Fatal(err)
			}
			if err := db.WriteSample(ctx, store.Sample{Run: run, Step: s, Prompt: "p", Text: "t"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.WriteSteps(ctx, run, rows); err != nil {
		t.Fatal(err)
	}
	for s := int64(1); s <= 5; s++ {
		if err := db.RecordCheckpoint(ctx, store.Checkpoint{Run: run, Step: s * 10, Path: "x", SHA256: "y"}); err != nil {
			t.Fatal(err)
		}
	}
}

func assertCounts(t *testing.T, db *store.DB, run string, steps, evals, samples, checkpoints int) {
	t.Helper()
	for table, want := range map[string]int{"steps": steps, "evals": evals, "samples": samples, "checkpoints": checkpoints} {
		var got int
		if err := db.SQL().QueryRow("SELECT count(*) FROM "+table+" WHERE run = ?", run).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s rows of %s = %d, want %d", table, run, got, want)
		}
	}
}

func TestRunSummaryStalled(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		s    store.RunSummary
		want bool
	}{
		{"running, live lease", store.RunSummary{Status: store.StatusRunning, LeaseOwner: "a", LeaseExpiresAt: now.Add(time.Second)}, false},
		{"running, expired lease", store.RunSummary{Status: store.StatusRunning, LeaseOwner: "a", LeaseExpiresAt: now}, true},
		{"running, no lease", store.RunSummary{Status: store.StatusRunning}, true},
		{"pending, no lease", store.RunSummary{Status: store.StatusPending}, false},
		{"done", store.RunSummary{Status: store.StatusDone}, false},
	}
	for _, tt := range tests {
		if got := tt.s.Stalled(now); got != tt.want {
			t.Errorf("%s: Stalled = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOpenBadFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"not a database", junk},
		{"a directory", dir},
		{"empty path", ""},
	}
	for _, tt := range tests {
		for _, open := range []func(string, ...store.Option) (*store.DB, error){store.Open, store.OpenReadOnly} {
			db, err := open(tt.path)
			if err == nil {
				db.Close()
				t.Errorf("%s: opened", tt.name)
				continue
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("%s: error %q does not name the file", tt.name, err)
			}
		}
	}
}

// TestOpenReadOnlyAfterWriterClosed reads a database whose writer has
// closed it cleanly (no -wal or -shm file left).
func TestOpenReadOnlyAfterWriterClosed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	w, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustAddRun(t, w, storetest.Run("r", "h"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := store.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if runs, err := r.ListRuns(ctx); err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
}

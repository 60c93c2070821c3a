package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
	"github.com/tinyscale/tinyscale/sweeps"
)

// syncBuffer is a log sink safe for the lease goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testOptions(db Store, w *fakeWorld, runs ...sweeps.Run) (Options, *syncBuffer) {
	logs := &syncBuffer{}
	return Options{
		DB: db, Runs: runs, Owner: "test:1",
		Log:      slog.New(slog.NewTextHandler(logs, nil)),
		NewModel: w.newModel, Data: fakeData, Generate: fakeGenerate,
		FlushInterval: -1, // flushes by count only: tests that count writes stay exact on a slow machine
	}, logs
}

// losses returns the logged training losses of run, indexed by step-1.
func losses(t *testing.T, db *store.DB, run string) []float64 {
	t.Helper()
	steps, err := db.Steps(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(steps))
	for i, s := range steps {
		if s.Step != int64(i+1) {
			t.Fatalf("step rows not contiguous: row %d is step %d", i, s.Step)
		}
		out[i] = s.Loss
	}
	return out
}

func sameBits(t *testing.T, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d steps logged, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("step %d: loss %v (bits %x), uninterrupted run has %v (bits %x)",
				i+1, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
		}
	}
}

// reference trains r uninterrupted in a fresh database and returns its losses.
func reference(t *testing.T, r sweeps.Run) []float64 {
	t.Helper()
	db := storetest.MustOpenDB(t)
	o, _ := testOptions(db, &fakeWorld{}, r)
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return losses(t, db, r.Name)
}

func TestRunTrainsLogsAndCheckpoints(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/fake/seed=1", 1)
	o, _ := testOptions(db, &fakeWorld{}, r)
	sum, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 1 {
		t.Fatalf("summary %+v", sum)
	}
	ls := losses(t, db, r.Name)
	if len(ls) != 40 {
		t.Fatalf("%d steps", len(ls))
	}
	if !(ls[39] < ls[0]) {
		t.Errorf("loss did not fall: first %v last %v", ls[0], ls[39])
	}
	steps, _ := db.Steps(ctx, r.Name)
	if s := steps[9]; s.Tokens != 10*4*8 || s.LR <= 0 || s.GradNorm <= 0 || s.Flops != float64(s.Tokens)*float64(r.Model.TrainFlopsPerToken()) {
		t.Errorf("step 10 row: %+v", s)
	}
	evals, _ := db.Evals(ctx, r.Name)
	splits := map[string]int{}
	for _, e := range evals {
		splits[e.Split]++
		if e.Split == store.SplitVal && math.Abs(e.BPB-e.Loss/math.Ln2) > 1e-9 {
			t.Errorf("bpb %v for loss %v with 1 byte/token", e.BPB, e.Loss)
		}
	}
	if splits[store.SplitTrain] != 4 || splits[store.SplitVal] != 4 || splits[store.SplitFinalVal] != 1 {
		t.Errorf("eval splits %v", splits)
	}
	samples, _ := db.Samples(ctx, r.Name)
	if len(samples) != 4 {
		t.Errorf("%d samples, want 4", len(samples))
	}
	cks, _ := db.Checkpoints(ctx, r.Name)
	if len(cks) != 3 || cks[0].Step != 40 || cks[2].Step != 20 {
		t.Errorf("checkpoints %+v, want steps 40, 30, 20", cks)
	}
	files, _ := filepath.Glob(filepath.Join(CheckpointDir(db.Path(), r.Name), "*"))
	if len(files) != 3 {
		t.Errorf("checkpoint files %v, want 3", files)
	}
	got, _ := db.GetRun(ctx, r.Name)
	if got.Status != store.StatusDone || got.Step != 40 || got.BLAS == "" || got.LeaseOwner != "" {
		t.Errorf("run row %+v", got)
	}
	// A second invocation skips the finished run.
	sum, err = Run(ctx, o)
	if err != nil || sum.Skipped != 1 {
		t.Fatalf("rerun: %+v %v", sum, err)
	}
}

func TestResumeIsBitIdentical(t *testing.T) {
	muon := fakeRun("t/muon", 2)
	muon.Optimizer.Name, muon.Optimizer.Schedule, muon.Optimizer.CooldownFrac = "muon", "wsd", 0.4
	muon.GradAccum = 2
	tests := []struct {
		name    string
		r       sweeps.Run
		crashAt int // micro-step (model.Step call) that "crashes"
	}{
		{"adamw crash mid-interval", fakeRun("t/adamw", 1), 27},
		{"adamw crash right after checkpoint", fakeRun("t/adamw", 1), 21},
		{"muon accum wsd", muon, 2*33 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := reference(t, tc.r)
			db := storetest.MustOpenDB(t)
			w := &fakeWorld{configure: func(i int, m *fakeModel) {
				if i == 0 {
					m.errAt = tc.crashAt
				}
			}}
			o, _ := testOptions(db, w, tc.r)
			o.FlushEvery = 1 // steps after the checkpoint reach the DB before the crash
			if _, err := Run(context.Background(), o); !errors.Is(err, errCrash) {
				t.Fatalf("first session: %v, want the simulated crash", err)
			}
			if n := len(losses(t, db, tc.r.Name)); n < 20 {
				t.Fatalf("only %d steps before the crash", n)
			}
			o.Owner = "test:2" // a new process; the old lease must be released
			if _, err := Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			sameBits(t, losses(t, db, tc.r.Name), want)
		})
	}
}

func TestNaNFailsRunAndNextGoesOn(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	bad, good := fakeRun("t/bad", 1), fakeRun("t/good", 2)
	w := &fakeWorld{configure: func(i int, m *fakeModel) {
		if i == 0 {
			m.nanAt = 7
		}
	}}
	o, _ := testOptions(db, w, bad, good)
	sum, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || sum.Done != 1 {
		t.Fatalf("summary %+v", sum)
	}
	b, _ := db.GetRun(ctx, bad.Name)
	if b.Status != store.StatusFailed || b.FailStep != 7 || !strings.Contains(b.FailReason, "NaN at step 7") {
		t.Errorf("failed run: status %s step %d reason %q", b.Status, b.FailStep, b.FailReason)
	}
	g, _ := db.GetRun(ctx, good.Name)
	if g.Status != store.StatusDone {
		t.Errorf("next run: %s", g.Status)
	}
}

func TestCorruptCheckpointFallsBack(t *testing.T) {
	r := fakeRun("t/corrupt", 3)
	want := reference(t, r)
	damage := []struct {
		name string
		fn   func(path string) error
	}{
		{"flipped byte", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x40
			return os.WriteFile(p, b, 0o644)
		}},
		{"truncated", func(p string) error {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			return os.Truncate(p, fi.Size()/2)
		}},
		{"missing", os.Remove},
	}
	for _, tc := range damage {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpenDB(t)
			w := &fakeWorld{configure: func(i int, m *fakeModel) {
				if i == 0 {
					m.errAt = 35
				}
			}}
			o, logs := testOptions(db, w, r)
			if _, err := Run(ctx, o); !errors.Is(err, errCrash) {
				t.Fatalf("first session: %v", err)
			}
			cks, _ := db.Checkpoints(ctx, r.Name)
			if len(cks) == 0 || cks[0].Step != 30 {
				t.Fatalf("checkpoints %+v", cks)
			}
			if err := tc.fn(cks[0].Path); err != nil {
				t.Fatal(err)
			}
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "checkpoint unusable") || !strings.Contains(logs.String(), "step=20") {
				t.Errorf("no warning about the bad checkpoint / resume from 20:\n%s", logs)
			}
			sameBits(t, losses(t, db, r.Name), want)
		})
	}
}

func TestConfigChangedRefusesResume(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/cfg", 1)
	w := &fakeWorld{configure: func(i int, m *fakeModel) {
		if i == 0 {
			m.errAt = 15
		}
	}}
	o, _ := testOptions(db, w, r)
	Run(ctx, o)
	r2 := r
	r2.Optimizer.LR *= 2
	o.Runs = []sweeps.Run{r2}
	_, err := Run(ctx, o)
	if !errors.Is(err, ErrConfigChanged) {
		t.Fatalf("err = %v, want ErrConfigChanged", err)
	}
	for _, s := range []string{"tinyscale run --fresh --only", `"t/cfg"`, "rename the experiment"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	o.Fresh = true
	if sum, err := Run(ctx, o); err != nil || sum.Done != 1 {
		t.Fatalf("--fresh: %+v %v", sum, err)
	}
	got, _ := db.GetRun(ctx, r.Name)
	if got.ConfigHash != r2.Hash() {
		t.Errorf("hash after --fresh %s, want %s", got.ConfigHash, r2.Hash())
	}
	sameBits(t, losses(t, db, r.Name), reference(t, r2))
}

// failingStore fails chosen calls, simulating a broken database.
type failingStore struct {
	*store.DB
	failWriteSteps int // fail the n-th WriteSteps call (1-based); 0 never
	failRecord     int // fail the n-th RecordCheckpoint call
	nWrite, nRec   int
}

var errDisk = errors.New("disk I/O error (simulated)")

func (f *failingStore) WriteSteps(ctx context.Context, run string, rows []store.Step) error {
	f.nWrite++
	if f.nWrite == f.failWriteSteps {
		return errDisk
	}
	return f.DB.WriteSteps(ctx, run, rows)
}

func (f *failingStore) RecordCheckpoint(ctx context.Context, c store.Checkpoint) error {
	f.nRec++
	if f.nRec == f.failRecord {
		return errDisk
	}
	return f.DB.RecordCheckpoint(ctx, c)
}

func TestStoreAndDiskErrorsStopCleanly(t *testing.T) {
	r := fakeRun("t/dberr", 4)
	want := reference(t, r)
	tests := []struct {
		name  string
		setup func(t *testing.T, db *store.DB) Store
		// lastGood is the newest checkpoint the store may hold afterwards.
		lastGood int64
	}{
		{"write steps fails", func(t *testing.T, db *store.DB) Store {
			return &failingStore{DB: db, failWriteSteps: 3}
		}, 20},
		{"record checkpoint fails", func(t *testing.T, db *store.DB) Store {
			return &failingStore{DB: db, failRecord: 2}
		}, 10},
		{"checkpoint directory unwritable", func(t *testing.T, db *store.DB) Store {
			// A file where the run's checkpoint directory should be.
			dir := CheckpointDir(db.Path(), r.Name)
			os.MkdirAll(filepath.Dir(dir), 0o755)
			if err := os.WriteFile(dir, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return db
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpenDB(t)
			w := &fakeWorld{}
			o, _ := testOptions(tc.setup(t, db), w, r, fakeRun("t/next", 5))
			o.FlushEvery = 4
			sum, err := Run(ctx, o)
			if err == nil {
				t.Fatalf("no error; summary %+v", sum)
			}
			if sum.Done != 0 {
				t.Errorf("went on after a storage error: %+v", sum)
			}
			if nx, _ := db.GetRun(ctx, "t/next"); nx.Step != 0 {
				t.Errorf("next run trained after a storage error")
			}
			got, _ := db.GetRun(ctx, r.Name)
			if got.Status == store.StatusDone || got.Status == store.StatusFailed || got.LeaseOwner != "" {
				t.Errorf("run row after error: status %s lease %q", got.Status, got.LeaseOwner)
			}
			cks, _ := db.Checkpoints(ctx, r.Name)
			if len(cks) > 0 && cks[0].Step > tc.lastGood {
				t.Errorf("checkpoint at step %d recorded, newest good is %d", cks[0].Step, tc.lastGood)
			}
			// Healthy again: the run resumes and ends identical.
			os.Remove(CheckpointDir(db.Path(), r.Name)) // only removes the blocking file
			o.DB = db
			if _, err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			sameBits(t, losses(t, db, r.Name), want)
		})
	}
}

func TestLoadLatest(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/snap", 1)
	w := &fakeWorld{}
	o, _ := testOptions(db, w, r)
	if _, err := LoadLatest(ctx, db, r.Name); err == nil {
		// The run does not exist yet: no checkpoints.
		t.Fatal("snapshot before training")
	}
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	s, err := LoadLatest(ctx, db, r.Name)
	if err != nil {
		t.Fatal(err)
	}
	if s.Step != 40 || s.Run.Hash() != r.Hash() || string(s.Tokenizer) != `{"kind":"fake"}` || len(s.Params) != 3 {
		t.Fatalf("snapshot step %d hash ok %v tok %s params %d", s.Step, s.Run.Hash() == r.Hash(), s.Tokenizer, len(s.Params))
	}
	m := w.models[0]
	if s.Params[0].Name != "embed.weight" || !equalF32(s.Params[0].Data, m.E) || !equalF32(s.Params[1].Data, m.W) {
		t.Error("snapshot weights differ from the trained model")
	}
	// Corrupt the newest: LoadLatest returns the previous one.
	cks, _ := db.Checkpoints(ctx, r.Name)
	os.Truncate(cks[0].Path, 100)
	s, err = LoadLatest(ctx, db, r.Name)
	if err != nil || s.Step != 30 {
		t.Fatalf("after corruption: %v, step %v", err, s)
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestLeases(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	r := fakeRun("t/lease", 1)
	if err := db.UpsertRun(ctx, StoreRun(r)); err != nil {
		t.Fatal(err)
	}
	// A live process (this one) holds it: skipped.
	if ok, err := db.ClaimRun(ctx, r.Name, DefaultOwner(), 3600e9); !ok || err != nil {
		t.Fatal(ok, err)
	}
	o, _ := testOptions(db, &fakeWorld{}, r)
	o.Owner = "otherhost:1"
	if sum, err := Run(ctx, o); err != nil || sum.Skipped != 1 {
		t.Fatalf("claimed run: %+v %v", sum, err)
	}
	// A dead process of this host, PID namespace and boot holds it: taken
	// over at once.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start a process:", err)
	}
	dead, err := store.OwnerOfPID(cmd.Process.Pid)
	if err != nil {
		t.Skip("no /proc:", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	db.ReleaseLease(ctx, r.Name, DefaultOwner())
	if ok, _ := db.ClaimRun(ctx, r.Name, dead, 3600e9); !ok {
		t.Fatal("setup claim failed")
	}
	o.Owner = DefaultOwner()
	if sum, err := Run(ctx, o); err != nil || sum.Done != 1 {
		t.Fatalf("dead owner's run: %+v %v", sum, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSelectAndShard(t *testing.T) {
	var runs []sweeps.Run
	for _, n := range []string{"a/gpt2/seed=1", "a/gpt2/seed=2", "a/silia/seed=1", "b/silia/seed=1", "b/gpt2/seed=1"} {
		runs = append(runs, sweeps.Run{Name: n})
	}
	names := func(rs []sweeps.Run) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Name)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		only  string
		shard string
		want  string
	}{
		{"", "", "a/gpt2/seed=1,a/gpt2/seed=2,a/silia/seed=1,b/silia/seed=1,b/gpt2/seed=1"},
		{"a", "", "a/gpt2/seed=1,a/gpt2/seed=2,a/silia/seed=1"},
		{"*/silia", "", "a/silia/seed=1,b/silia/seed=1"},
		{"a/gpt2/seed=2", "", "a/gpt2/seed=2"},
		{"", "1/2", "a/gpt2/seed=1,a/silia/seed=1,b/gpt2/seed=1"},
		{"", "2/2", "a/gpt2/seed=2,b/silia/seed=1"},
		{"b", "1/2", "b/gpt2/seed=1"},
		{"", "6/6", ""},
	}
	for _, tc := range tests {
		sh, err := ParseShard(tc.shard)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Select(runs, tc.only, sh)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			t.Errorf("only %q shard %q: nil selection (would mean all runs)", tc.only, tc.shard)
		}
		if names(got) != tc.want {
			t.Errorf("only %q shard %q: %s, want %s", tc.only, tc.shard, names(got), tc.want)
		}
	}
	for _, bad := range []string{"0/2", "3/2", "1", "a/b", "1/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("shard %q accepted", bad)
		}
	}
}

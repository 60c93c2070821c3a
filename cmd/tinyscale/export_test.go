package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/runner"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

func TestExportSnapshot(t *testing.T) {
	for _, family := range models.Families() {
		t.Run(family, func(t *testing.T) {
			s := testSnapshot(t, family, false)
			path := filepath.Join(t.TempDir(), "m.safetensors")
			n, err := exportSnapshot(s, path)
			if err != nil {
				t.Fatal(err)
			}
			if total, _ := s.cfg.ParamCounts(); n != total {
				t.Errorf("reported %d parameters, config has %d", n, total)
			}
			cfg, tok, params, err := models.LoadSafetensors(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg != s.cfg || string(tok) != string(s.tokenizer) {
				t.Errorf("config %+v tokenizer %s; want %+v %s", cfg, tok, s.cfg, s.tokenizer)
			}
			if len(params) != len(s.params) {
				t.Fatalf("%d params, want %d", len(params), len(s.params))
			}
			for i := range params {
				if params[i].Name != s.params[i].Name || !slices.Equal(params[i].Data, s.params[i].Data) {
					t.Errorf("param %d: %q differs", i, params[i].Name)
				}
			}
		})
	}
	bad := testSnapshot(t, models.FamilySilia, false)
	bad.params = bad.params[1:]
	if _, err := exportSnapshot(bad, filepath.Join(t.TempDir(), "m.safetensors")); err == nil {
		t.Error("export with a missing parameter: no error")
	}
}

// TestModelCommandsEndToEnd trains a tiny silia model with the real runner
// and trainer for a few steps, then samples, evaluates and exports its
// checkpoint through the command line.
func TestModelCommandsEndToEnd(t *testing.T) {
	ctx := context.Background()
	db, r, cfg := trainedTinyRun(t)
	dbPath := db.Path()

	out1, stderr, code := runCmd(t, "sample", "--db", dbPath, "--run", r.Name, "--prompt", "the ", "--tokens", "12", "--seed", "5")
	if code != 0 {
		t.Fatalf("sample: exit %d: %s", code, stderr)
	}
	out2, _, _ := runCmd(t, "sample", "--db", dbPath, "--run", r.Name, "--prompt", "the ", "--tokens", "12", "--seed", "5")
	if out1 != out2 || !strings.HasPrefix(out1, "the ") || utf8.RuneCountInString(strings.TrimSuffix(out1, "\n")) != 16 {
		t.Errorf("samples %q and %q: want the same prompt + 12 characters", out1, out2)
	}

	textPath := filepath.Join(t.TempDir(), "val.txt")
	writeFile(t, textPath, strings.Repeat(fixtureText, 3))
	stdout, stderr, code := runCmd(t, "eval", "--db", dbPath, "--run", r.Name, "--text", textPath, "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	var res evalResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("eval --json output %q: %v", stdout, err)
	}
	if res.Step != 4 || res.Run != r.Name || res.Tokens != 3*len(fixtureText)-1 || !(res.Loss > 0 && res.Loss < 2*math.Log(float64(cfg.VocabSize))) {
		t.Errorf("eval result %+v", res)
	}

	outPath := filepath.Join(t.TempDir(), "m.safetensors")
	if _, stderr, code := runCmd(t, "export", "--db", dbPath, "--run", r.Name, "--out", outPath); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	snap, err := runner.LoadLatest(ctx, db, r.Name)
	if err != nil {
		t.Fatal(err)
	}
	gotCfg, gotTok, params, err := models.LoadSafetensors(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if gotCfg != cfg || string(gotTok) != string(snap.Tokenizer) || len(params) != len(snap.Params) {
		t.Fatalf("export: config %+v, %d params; want %+v, %d", gotCfg, len(params), cfg, len(snap.Params))
	}
	for i := range params {
		if params[i].Name != snap.Params[i].Name || !slices.Equal(params[i].Data, snap.Params[i].Data) {
			t.Errorf("exported %q differs from the checkpoint", params[i].Name)
		}
	}
}

// TestExportRefusesExistingFile: export does not silently overwrite a file;
// --force replaces it.
func TestExportRefusesExistingFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.safetensors")
	writeFile(t, out, "precious")
	_, stderr, code := runCmd(t, "export", "--db", out+".db", "--run", "x", "--out", out)
	if code != 1 || !strings.Contains(stderr, "--out "+out+" exists") || !strings.Contains(stderr, "--force") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Error("existing file changed")
	}
	// With --force the check passes (and the missing database is the error).
	if _, stderr, _ := runCmd(t, "export", "--db", out+".db", "--run", "x", "--out", out, "--force"); !strings.Contains(stderr, "no results database") {
		t.Errorf("--force: stderr %q", stderr)
	}
	// A folder is never a file to replace, with or without --force (it
	// failed after the export with "rename …: file exists").
	folder := filepath.Join(t.TempDir(), "d.safetensors")
	os.Mkdir(folder, 0o755)
	want := "tinyscale export: --out " + folder + " is a folder; give a file name such as " + filepath.Join(folder, "model.safetensors") + "\n"
	for _, force := range []string{"--force=false", "--force"} {
		if _, stderr, code := runCmd(t, "export", "--db", out+".db", "--run", "x", "--out", folder, force); code != 1 || stderr != want {
			t.Errorf("%s onto a folder: exit %d, stderr %q, want %q", force, code, stderr, want)
		}
	}
}

// trainedTinyRun trains a 4-step silia run on fixtureText into a fresh
// database and returns it, the run and its model configuration.
func trainedTinyRun(t *testing.T) (*store.DB, sweeps.Run, models.Config) {
	t.Helper()
	ctx := context.Background()
	tok := tokenizer.NewChar(fixtureText)
	tj, _ := tok.MarshalJSON()
	ids := tok.Encode(strings.Repeat(fixtureText, 30))
	cfg, _ := models.DefaultConfig(models.FamilySilia)
	cfg.NEmbd, cfg.NHead, cfg.NLayer, cfg.BlockSize, cfg.VocabSize = 8, 2, 1, 8, tok.VocabSize()
	r := sweeps.Run{
		Name: "e2e/silia", Experiment: "e2e", Family: cfg.Family, Model: cfg,
		BlockSize: 8, BatchSize: 2, GradAccum: 1,
		Optimizer: sweeps.Optimizer{Name: "adamw", LR: 1e-2, MinLR: 1e-3, Warmup: 1, Schedule: "cosine",
			Betas: [2]float64{0.9, 0.95}, Eps: 1e-10, WeightDecay: 0.1, GradClip: 1, Momentum: 0.95},
		Budget:     sweeps.Budget{Kind: sweeps.BudgetSteps, Steps: 4},
		Eval:       sweeps.Eval{Every: 2, Batches: 1, FinalBatches: 1},
		Checkpoint: sweeps.Checkpoint{Every: 2, Keep: 2},
		Seed:       1,
	}
	db := storetest.MustOpenDB(t)
	n := len(ids) * 9 / 10
	_, err := runner.Run(ctx, runner.Options{
		DB: db, Runs: []sweeps.Run{r}, Owner: "test:1", Log: slog.New(slog.DiscardHandler),
		NewModel: runner.NewTrainerModel,
		Data: func(context.Context, sweeps.Run) (*runner.Dataset, error) {
			return &runner.Dataset{Train: ids[:n], Val: ids[n:], BytesPerToken: 1, TokenizerJSON: tj}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return db, r, cfg
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

const issueFile = "../../sweeps/testdata/issue.yaml"

func runPlan(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(context.Background(), append([]string{"plan"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// planJSON runs plan --json on file against dbPath and decodes the rows.
func planJSON(t *testing.T, file, dbPath, cache string) []map[string]any {
	t.Helper()
	out, errs, code := runPlan(t, "-f", file, "--db", dbPath, "--cache", cache, "--json")
	if code != 0 {
		t.Fatalf("plan exit %d: %s", code, errs)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("plan --json output is not a JSON array: %v\n%s", err, out)
	}
	return rows
}

func TestPlanJSONIssueFile(t *testing.T) {
	dir := t.TempDir()
	rows := planJSON(t, issueFile, filepath.Join(dir, "absent.db"), filepath.Join(dir, "cache"))
	perExp := map[string]int{}
	for _, r := range rows {
		for _, k := range []string{"name", "experiment", "family", "params_total", "params_non_embedding",
			"flops_per_token", "budget_tokens", "config", "state", "hash", "nonreproducible", "steps_total", "shape"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("row %v has no %q", r["name"], k)
			}
		}
		perExp[r["experiment"].(string)]++
		if r["state"] != stateNew {
			t.Errorf("%v: state %v without a database, want new", r["name"], r["state"])
		}
		cfg := r["config"].(map[string]any)
		model := cfg["model"].(map[string]any)
		if cfg["name"] != r["name"] || model["vocab_size"].(float64) < 2 || r["steps_total"].(float64) != 200 ||
			r["budget_tokens"].(float64) != 200*8*64 || r["params_total"].(float64) <= r["params_non_embedding"].(float64) ||
			len(r["hash"].(string)) != 64 {
			t.Errorf("row %v", r)
		}
	}
	if len(rows) != 20 || perExp["paper-pair"] != 4 || perExp["ladder"] != 12 || perExp["xga-ablation"] != 4 {
		t.Errorf("%d runs %v, want 20: 4 paper-pair, 12 ladder, 4 xga-ablation", len(rows), perExp)
	}
}

// TestPlanStates compares with a database holding runs done, running,
// failed, registered only, and under another configuration.
func TestPlanStates(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	dbPath := filepath.Join(dir, "results.db")
	rows := planJSON(t, issueFile, dbPath, cache)

	ctx := context.Background()
	db := storetest.MustOpenPath(t, dbPath)
	want := map[string]string{}
	for i, status := range []string{store.StatusDone, store.StatusRunning, store.StatusFailed, store.StatusPending, "other-hash"} {
		name, hash := rows[i]["name"].(string), rows[i]["hash"].(string)
		config := rows[i]["config"].(map[string]any)
		want[name] = status
		if status == "other-hash" { // the database trained it with another lr
			config["optimizer"].(map[string]any)["lr"] = 0.5
			hash = strings.Repeat("0", 64)
		}
		cfg, err := json.Marshal(config)
		if err != nil {
			t.Fatal(err)
		}
		r := storetest.Run(name, hash)
		r.ConfigJSON = cfg
		switch status {
		case "other-hash":
			want[name] = stateChanged
		case store.StatusPending:
			want[name] = stateNew
		}
		storetest.MustAddRun(t, db, r)
		if status != store.StatusPending && status != "other-hash" {
			if err := db.SetStatus(ctx, name, status, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range planJSON(t, issueFile, dbPath, cache) {
		w, ok := want[r["name"].(string)]
		if !ok {
			w = stateNew
		}
		if r["state"] != w {
			t.Errorf("%v: state %v, want %s", r["name"], r["state"], w)
		}
		if keys, _ := r["changed_keys"].([]any); (w == stateChanged) != (len(keys) == 1 && keys[0] == "optimizer.lr") {
			t.Errorf("%v: changed_keys %v", r["name"], keys)
		}
	}

	out, errs, code := runPlan(t, "-f", issueFile, "--db", dbPath, "--cache", cache)
	if code != 0 {
		t.Fatalf("plan exit %d: %s", code, errs)
	}
	for _, s := range []string{"NAME", "PARAMS", "NON-EMB", "FLOPS/TOK", "STATE", "TARGET", "params 1M",
		"paper-pair/silia/seed=1", "ladder/silia/params=1M,optimizer.lr=0.003",
		"20 runs from " + issueFile + ": 16 new, 1 done, 1 changed, 1 running, 1 failed",
		"changed (optimizer.lr)", "total budget: 2.05M training tokens"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}

func TestPlanSecondsBudgetIsMarked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "exp.yaml")
	src := "defaults: {budget: {seconds: 600}}\nexperiments:\n  - {name: quick, models: [{family: silia, n_embd: 8}]}\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runPlan(t, "-f", file, "--db", filepath.Join(dir, "r.db"), "--cache", filepath.Join(dir, "cache"))
	if code != 0 {
		t.Fatalf("plan exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "600s*") || !strings.Contains(out, "not reproducible") {
		t.Errorf("seconds budget not marked:\n%s", out)
	}
	rows := planJSON(t, file, filepath.Join(dir, "r.db"), filepath.Join(dir, "cache"))
	if len(rows) != 1 || rows[0]["nonreproducible"] != true || rows[0]["steps_total"].(float64) != 0 {
		t.Errorf("rows %v", rows)
	}
}

func TestPlanDefaultExperimentsFile(t *testing.T) {
	dir := t.TempDir()
	rows := planJSON(t, "../../experiments.yaml", filepath.Join(dir, "r.db"), filepath.Join(dir, "cache"))
	fams := map[string]bool{}
	for _, r := range rows {
		fams[r["family"].(string)] = true
		if r["nonreproducible"] != false {
			t.Errorf("%v: the default experiment must be reproducible", r["name"])
		}
	}
	if !fams["gpt2-rope-swiglu"] || !fams["silia"] {
		t.Errorf("default experiment families %v, want the gpt2-rope-swiglu / silia pair", fams)
	}
}

func TestPlanErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("experiments:\n  - name: x\n    models: [{family: gpt3}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"-f", issueFile, "more"}, 2, `unexpected argument "more"`},
		{"missing file", []string{"-f", filepath.Join(dir, "none.yaml")}, 1, "no such file"},
		{"bad file", []string{"-f", bad}, 1, bad + `:3: model.family: "gpt3" is not allowed (allowed: gpt2, gpt2-rope-swiglu, silia, silia-xga)`},
		{"help", []string{"--help"}, 0, "usage: tinyscale plan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := runPlan(t, append(tc.args, "--cache", filepath.Join(dir, "cache"))...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, tc.code, tc.want)
			}
		})
	}
}

func TestCommasAndSI(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {4194304, "4,194,304"}, {-1234, "-1,234"}}
	for _, tc := range tests {
		if got := commas(tc.n); got != tc.want {
			t.Errorf("commas(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	si := []struct {
		v    float64
		want string
	}{{0, "0"}, {512, "512"}, {8519680, "8.52M"}, {1e15, "1P"}, {999.6, "1K"}}
	for _, tc := range si {
		if got := siFormat(tc.v); got != tc.want {
			t.Errorf("si(%g) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestPlanPaperCounts is issue 3's check through the CLI: with the paper's
// byte-level BPE of 8192 tokens, plan reports the published parameter counts
// of the paper pair (4,194,304 and 819,200). The corpus is a 2M-character
// slice of GOROOT, so the tokenizer trains in seconds.
func TestPlanPaperCounts(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../examples/paper-v1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yml := strings.Replace(string(src), "tokens: 8M", "tokens: 2M", 1)
	file := filepath.Join(dir, "paper.yaml")
	if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"paper-v1/gpt2-rope-swiglu/seed=1": 4_194_304,
		"paper-v1/silia/seed=1":            819_200,
	}
	for _, r := range planJSON(t, file, filepath.Join(dir, "absent.db"), filepath.Join(dir, "cache")) {
		name := r["name"].(string)
		if w, ok := want[name]; ok {
			if got := r["params_total"].(float64); got != w {
				t.Errorf("%s: params_total %v, want %v", name, got, w)
			}
			delete(want, name)
		}
	}
	if len(want) != 0 {
		t.Errorf("runs missing from plan: %v", want)
	}
}

// TestPlanEstimate: plan --estimate times each distinct shape and prints
// every run's estimated time and the total; --json carries estimate_s.
func TestPlanEstimate(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-f", "testdata/estimate.yaml", "--db", filepath.Join(dir, "absent.db"), "--cache", filepath.Join(dir, "cache"), "--estimate"}
	out, errs, code := runPlan(t, args...)
	if code != 0 {
		t.Fatalf("plan --estimate exit %d: %s", code, errs)
	}
	for _, s := range []string{"estimated wall time on this machine", "tiny/silia/seed=2", "30s*", "total: ", "for 5 runs"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	rows := planJSON(t, "testdata/estimate.yaml", filepath.Join(dir, "absent.db"), filepath.Join(dir, "cache"))
	if _, ok := rows[0]["estimate_s"]; ok {
		t.Errorf("estimate_s without --estimate: %v", rows[0])
	}
	out, errs, code = runPlan(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("plan --estimate --json exit %d: %s", code, errs)
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		s, ok := r["estimate_s"].(float64)
		if !ok || s <= 0 || (r["name"] == "clock/silia" && s != 30) {
			t.Errorf("run %v: estimate_s %v", r["name"], r["estimate_s"])
		}
	}
}

// TestPlanCatchesDataProblems: a block_size larger than the dataset, and
// nanogpt token ids not below the tokenizer's vocab_size, are refused by
// plan (naming the run and the numbers) instead of surfacing during run.
func TestPlanCatchesDataProblems(t *testing.T) {
	dir := t.TempDir()
	nano := filepath.Join(dir, "nano")
	if err := os.MkdirAll(nano, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := func(name string, ids ...uint16) {
		b := make([]byte, 2*len(ids))
		for i, id := range ids {
			b[2*i], b[2*i+1] = byte(id), byte(id>>8)
		}
		if err := os.WriteFile(filepath.Join(nano, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]uint16, 200)
	for i := range ids {
		ids[i] = uint16(i % 50)
	}
	ids[17] = 300
	bin("train.bin", ids...)
	bin("val.bin", ids[:100]...)
	file := filepath.Join(dir, "e.yaml")
	yaml := `defaults:
  budget: {steps: 5}
datasets:
  tiny: {kind: synthetic, generator: stories, tokens: 2K}
  nano: {kind: nanogpt, path: ` + nano + `}
experiments:
  - name: big-block
    data: tiny
    block_size: 512
    models: [{family: gpt2, n_embd: 16, n_head: 2, n_layer: 1}]
  - name: ids
    data: nano
    block_size: 8
    tokenizer: {kind: ids, vocab_size: 256}
    models: [{family: gpt2, n_embd: 16, n_head: 2, n_layer: 1}]
  - name: fine
    data: tiny
    block_size: 16
    models: [{family: gpt2, n_embd: 16, n_head: 2, n_layer: 1}]
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runPlan(t, "-f", file, "--db", filepath.Join(dir, "r.db"), "--cache", filepath.Join(dir, "cache"))
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errs)
	}
	for _, want := range []string{
		"2 of 3 runs cannot train",
		"big-block/gpt2: dataset too small: train 1800 and val 200 tokens, need more than block_size+1 = 513",
		"ids/gpt2: dataset nano: token id 300 in the .bin files is not below tokenizer vocab_size 256",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "fine/") {
		t.Errorf("the good run is named:\n%s", errs)
	}
}

// TestPlanRefusesWhatMemoryCannotHold: a 20B-parameter match target is
// reachable but no test machine holds it: plan refuses it with the
// estimate and the limit. Plans that fit show their estimate.
func TestPlanRefusesWhatMemoryCannotHold(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "e.yaml")
	yaml := `defaults:
  budget: {steps: 5}
datasets:
  tiny: {kind: synthetic, generator: stories, tokens: 20K}
experiments:
  - name: huge
    data: tiny
    pair: [gpt2, silia]
    match: params
    params: 20G
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	_, errs, code := runPlan(t, "-f", file, "--db", filepath.Join(dir, "r.db"), "--cache", cache)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errs)
	}
	for _, want := range []string{"2 of 2 runs cannot train", "huge/gpt2: needs about", "GB of memory", "optimiser state", "activations at batch 8 × block 64", "; available: "} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	rows := planJSON(t, issueFile, filepath.Join(dir, "absent.db"), cache)
	for _, r := range rows {
		if m, ok := r["memory_bytes"].(float64); !ok || m < 1e6 {
			t.Errorf("%v: memory_bytes %v", r["name"], r["memory_bytes"])
		}
	}
}

// TestPlanMemFlag: --mem checks the plan against another machine's memory
// (plan on a login node for a cluster node); 0 skips the check.
func TestPlanMemFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "e.yaml")
	yaml := "defaults:\n  budget: {steps: 5}\ndatasets:\n  tiny: {kind: synthetic, generator: stories, tokens: 20K}\nexperiments:\n  - name: e\n    data: tiny\n    models: [{family: gpt2, n_embd: 16, n_head: 2, n_layer: 1}]\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", file, "--db", filepath.Join(dir, "r.db"), "--cache", filepath.Join(dir, "cache")}
	if _, errs, code := runPlan(t, append(args, "--mem", "1M")...); code != 1 || !strings.Contains(errs, "available: 1.05 MB (--mem 1M)") {
		t.Errorf("--mem 1M: exit %d, %s", code, errs)
	}
	for _, ok := range []string{"0", "64G", "2TiB", "512MB"} {
		if _, errs, code := runPlan(t, append(args, "--mem", ok)...); code != 0 {
			t.Errorf("--mem %s: exit %d, %s", ok, code, errs)
		}
	}
	if _, errs, code := runPlan(t, append(args, "--mem", "lots")...); code != 2 || !strings.Contains(errs, `--mem "lots"`) {
		t.Errorf("--mem lots: exit %d, %s", code, errs)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestInterruptedCommandsSaySo: merge, export-metrics, plan, run (preparing
// data) and eval stopped by
// Ctrl-C (a cancelled context) say that they were interrupted and what was
// left, instead of an internal step's "PRAGMA synchronous = OFF: context
// canceled", "steps of run X: context canceled" or plan's "FILE:LINE: …
// train tokenizer: context canceled", which blamed the file; nothing is written.
func TestInterruptedCommandsSaySo(t *testing.T) {
	db, r, _ := trainedTinyRun(t)
	dir := t.TempDir()
	text := filepath.Join(dir, "text.txt")
	writeFile(t, text, fixtureText)
	out := filepath.Join(dir, "merged.db")
	yaml := filepath.Join(dir, "experiments.yaml")
	writeFile(t, yaml, "datasets:\n  d: {kind: text, path: "+text+"}\ndefaults:\n  data: d\n  tokenizer: {kind: bpe, vocab_size: 300}\n  budget: {steps: 10}\n"+
		"experiments:\n  - name: e\n    models: [{family: gpt2, n_embd: 8, n_head: 2, n_layer: 1}]\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		args []string
		want string
		gone string // must not exist afterwards
	}{
		{[]string{"merge", "-o", out, db.Path()},
			"tinyscale merge: merge interrupted; " + out + " is as it was (the merge is one transaction): rerun it: context canceled\n", out},
		{[]string{"export-metrics", "--db", db.Path(), "--format", "csv", "--out", filepath.Join(dir, "metrics")},
			"tinyscale export-metrics: export interrupted, nothing written: context canceled\n", filepath.Join(dir, "metrics")},
		{[]string{"plan", "-f", yaml, "--db", filepath.Join(dir, "none.db"), "--cache", filepath.Join(dir, "cache")},
			"tinyscale plan: plan interrupted (it writes nothing but finished data cache entries): context canceled\n", ""},
		{[]string{"run", "-f", yaml, "--db", filepath.Join(dir, "run.db"), "--cache", filepath.Join(dir, "cache")},
			"tinyscale run: interrupted outside a training step (preparing data, resuming or between runs): no step was left unsaved; rerun `tinyscale run` to go on\n", ""},
		{[]string{"eval", "--db", db.Path(), "--run", r.Name, "--text", text},
			"tinyscale eval: eval of " + text + " interrupted: context canceled\n", ""},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		code := runMain(ctx, tc.args, &stdout, &stderr)
		if code != 1 || stderr.String() != tc.want {
			t.Errorf("%s: exit %d, stderr %q, want exit 1 and %q", tc.args[0], code, stderr.String(), tc.want)
		}
		if tc.gone != "" {
			if _, err := os.Stat(tc.gone); err == nil {
				t.Errorf("%s: %s was written", tc.args[0], tc.gone)
			}
		}
	}
}

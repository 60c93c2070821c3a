package sweeps

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// loadExpand loads path and expands it with V = 8192.
func loadExpand(path string) ([]Run, error) {
	f, err := Load(path)
	if err != nil {
		return nil, err
	}
	return f.Expand(fixedVocab(8192))
}

// TestBadInput checks the exact message (file:line, offending value, what is
// allowed) for every fixture under testdata/bad.
func TestBadInput(t *testing.T) {
	tests := []struct {
		file string // testdata/bad/<file>.yaml
		want string // the error after "testdata/bad/<file>.yaml"
	}{
		{"bad_experiment_name", `:4: experiment name "my/exp": use letters, digits, '.', '_' and '-'`},
		{"bad_suffix", `:2: budget.tokens: want a number, got "2X" (a count may end in K, M, G or T: 2M, 0.5M, 1e15)`},
		{"betas_one", `:3: optimizer.betas: want two numbers [beta1, beta2], got 1`},
		{"budget_missing", `:2: experiment e: no budget: set budget: {steps: 1000} (or tokens, flops, seconds) in defaults: or the experiment`},
		{"budget_scalar", `:2: budget: want a mapping, got 1000: one of steps, tokens, flops, seconds, e.g. {steps: 1000}`},
		{"budget_two_keys", `:2: budget: want exactly one of steps, tokens, flops, seconds, got steps and tokens`},
		{"budget_unknown_key", `:2: budget: unknown key "epochs" (allowed: exactly one of steps, tokens, flops, seconds)`},
		{"budget_zero", `:2: budget.steps: want a whole number from 1 to 2^53, got 0`},
		{"binary", `:3: not valid YAML: invalid UTF-8 (byte 0x89) at byte offset 33 (an experiments file is UTF-8 text)`},
		{"control_character", `:4: not valid YAML: control character U+0001 at byte offset 57 (an experiments file is UTF-8 text)`},
		{"db_control_character", `:1: db: "a\x00b.db": a file name cannot hold control characters`},
		{"cooldown_for_cosine", `:5: optimizer.cooldown_frac: does nothing for schedule cosine (it is the decay fraction of wsd); remove it or use schedule: wsd`},
		{"dataset_seed_not_synthetic", `:5: dataset mytext: seed is only for kind synthetic (it seeds the generator); kind text reads its data as it is`},
		{"duplicate_experiment", `:6: experiment name "e" is used twice (first on line 4)`},
		{"duplicate_key", `:4: defaults: key "seed" appears twice (first on line 3)`},
		{"duplicate_run_names", `:7: experiment e: two runs are named e/silia-16x4x2 (the other from line 6): give the models different shapes or sweep values`},
		{"email_unknown_group", `:8: dataset mail (used by experiment e): group "eggs" matches no subdirectory of testdata/mail (groups there: easy-ham-1, spam-1)`},
		{"empty", `:1: empty file: want db:, defaults:, datasets: and experiments:`},
		{"empty_sweep", `:6: experiment e: empty sweep: give at least one key with a list of values, e.g. sweep: {seed: [1, 2]}`},
		{"empty_sweep_list", `:7: experiment e: empty sweep: seed has no values`},
		{"field_on_email", `:8: dataset mail: field is only for kinds jsonl and parquet, not email`},
		{"final_batches_zero", `:3: eval.final_batches: want a whole number from 1 to 2^53, got 0`},
		{"fractional_count", `:2: budget.steps: want a number, got "0.5K5" (a count may end in K, M, G or T: 2M, 0.5M, 1e15)`},
		{"groups_empty", `:8: dataset mail: groups: the list is empty (omit groups to read every group)`},
		{"groups_on_text", `:8: dataset mytext: groups is only for kind email, not text`},
		{"heads_not_dividing", `:5: experiment e: model gpt2 30x4x2: n_head 4 does not divide n_embd 30 (gpt2 splits n_embd into heads)`},
		{"knob_wrong_family", `:5: experiment e at model.gate=true: model silia 16x4x2: gate is only available for family silia-xga, not silia`},
		{"lr_negative", `:3: optimizer.lr: -1e-3 is out of range (0, 10]`},
		{"lr_overflow", `:3: optimizer.lr: 1e400 is too large for a number (at most about 1.8e308)`},
		{"match_unreachable_large", `:5: experiment e: gpt2: match: params 1,000,000,000,000 is out of reach: the largest valid model (n_embd 32768, n_head 4, n_layer 2, vocab 8192) has 26,041,253,888 parameters, -97.4% from the target (allowed ±20%); change the target, n_head/n_layer or the tokenizer`},
		{"match_unreachable_small", `:5: experiment e: gpt2: match: params 10 is out of reach: the smallest valid model (n_embd 8, n_head 4, n_layer 2, vocab 8192) has 67,808 parameters, 6.78e+03× the target (allowed ±20%); change the target, n_head/n_layer or the tokenizer`},
		{"llmc_val_fraction", `:8: dataset shards: val_fraction does nothing for kind llmc without tokens: the *val*.bin shards are the validation split (with a tokens cap, val_fraction sizes their cap)`},
		{"match_unknown", `:6: experiment e: match: "width" is not allowed (allowed: params, flops)`},
		{"match_with_n_embd", `:7: experiment e: n_embd is chosen by match: params; remove it from the models entry`},
		{"match_without_target", `:6: experiment e: match: params needs a target: add params: 1M to the experiment or sweep: {params: [0.5M, 1M]}`},
		{"min_lr_above_lr", `:5: experiment e: run e/silia: optimizer.min_lr 0.003 is above optimizer.lr 0.001 (the schedule decays from lr to min_lr; min_lr defaults to 3e-4): set optimizer.min_lr to at most lr`},
		{"missing_data_file", `:5: dataset mytext (used by experiment e): path testdata/bad/does-not-exist.txt does not exist`},
		{"model_block_size", `:3: model: block_size is not a model key: block_size is set at the top level, vocab_size by the tokenizer`},
		{"models_and_pair", `:6: experiment e: give either models: or pair:, not both`},
		{"momentum_for_adamw", `:3: optimizer.momentum: does nothing for optimizer adamw (it is Muon's momentum); remove it or use name: muon`},
		{"multi_document", `:6: a second YAML document starts here ("---"): an experiments file holds exactly one document (put every experiment under one experiments: list)`},
		{"nanogpt_val_fraction", `:8: dataset nano: val_fraction does nothing for kind nanogpt without tokens: val.bin is the validation split (with a tokens cap, val_fraction sizes the val.bin cap)`},
		{"no_experiments", `:1: no experiments: list at least one under experiments:`},
		{"no_models", `:4: experiment e: no models: list the families under models: or pair:`},
		{"no_n_embd", `:5: experiment e: silia has no n_embd: give it in the models entry or under model:, or use match: params`},
		{"not_whole", `:2: budget.steps: want a whole number, got 100.5`},
		{"not_yaml", `:1: not valid YAML: did not find expected ',' or '}'`},
		{"pair_of_three", `:5: experiment e: pair: want two families, got 3 (use models: for other counts)`},
		{"parquet_no_files", `:8: dataset pq (used by experiment e): directory testdata/data contains no *.parquet files`},
		{"params_without_match", `:6: experiment e: params is a match target: add match: params to size each family to it`},
		{"rope_odd_head", `:5: experiment e: model silia 15x4x2: rope needs an even head dim, got 15`},
		{"run_name_too_long", `:5: experiment ` + strings.Repeat("x", 250) + `: run name ` + strings.Repeat("x", 40) + `… is 256 bytes long (at most 200: run names name checkpoint folders and report and metrics files); shorten the experiment name or sweep fewer keys`},
		{"sweep_bad_value", `:7: optimizer.schedule: "linear" is not allowed (allowed: cosine, wsd, constant)`},
		{"sweep_duplicate_value", `:7: experiment e: sweep optimizer.lr: value 0.003 appears twice (first on line 7)`},
		{"sweep_family", `:6: experiment e: cannot sweep model.family: list the families under models: or pair:`},
		{"sweep_scalar", `:6: experiment e: sweep seed: want a list, got 3 (write a list even for one value: [3])`},
		{"sweep_unknown_key", `:7: experiment e: unknown sweep key "optimiser.lr" (sweepable: data, tokenizer, block_size, batch_size, grad_accum, optimizer, budget, eval, checkpoint, seed, model, params, flops and their dotted sub-keys, e.g. optimizer.lr, model.gate)`},
		{"sweep_unknown_subkey", `:7: unknown key "learning_rate" in optimizer (allowed: name, lr, min_lr, warmup, schedule, cooldown_frac, betas, eps, weight_decay, grad_clip, momentum)`},
		{"seed_above_2_53", `:6: seed: want a whole number from 0 to 2^53, got 9007199254740993`},
		{"split_synthetic", `:8: dataset synth (used by experiment e): split "tail" is not allowed for kind synthetic (it has no documents to split by)`},
		{"split_unknown", `:8: dataset mytext: split: "random" is not allowed (allowed: interleaved, tail)`},
		{"synthetic_with_path", `:4: dataset synth: path is not allowed for kind synthetic`},
		{"too_many_runs", `:4: experiment e: the file expands to more than 10000 runs`},
		{"unknown_dataset", `:7: data: unknown dataset "shakespeare" (defined under datasets: mytext, stories)`},
		{"unknown_dataset_kind", `:4: dataset mydata: kind: "csv" is not allowed (allowed: email, goroot, jsonl, llmc, nanogpt, parquet, synthetic, text)`},
		{"unknown_defaults_key", `:3: unknown key "learning_rate" in defaults (allowed: data, tokenizer, block_size, batch_size, grad_accum, optimizer, budget, eval, checkpoint, seed, model)`},
		{"unknown_experiment_key", `:6: unknown key "sweeps" in experiment e (allowed: data, tokenizer, block_size, batch_size, grad_accum, optimizer, budget, eval, checkpoint, seed, model, params, flops, name, models, pair, match, sweep, zip, reference)`},
		{"reference_unknown_family", `:9: experiment e: reference: val_loss: family "gpt2" is not trained by the experiment (it trains: gpt2-rope-swiglu, silia)`},
		{"reference_bad_loss", `:9: experiment e: reference: val_loss: silia: want a number, got "low"`},
		{"reference_no_source", `:8: experiment e: reference: no source: say where the numbers come from`},
		{"reference_unknown_key", `:10: unknown key "test_loss" in experiment e: reference (allowed: source, val_loss)`},
		{"unknown_family", `:5: model.family: "gpt3" is not allowed (allowed: gpt2, gpt2-rope-swiglu, silia, silia-xga)`},
		{"unknown_family_pair", `:5: experiment e: pair: "llama" is not allowed (allowed: gpt2, gpt2-rope-swiglu, silia, silia-xga)`},
		{"unknown_generator", `:4: dataset synth: generator: "poems" is not allowed (allowed: copy, mqar, stories)`},
		{"unknown_model_key", `:5: unknown key "heads" in experiment e: models entry (allowed: family, n_embd, n_head, n_layer, rope, qk_norm, gate, xsa, activation, tie_embeddings, norm, dropout, bias)`},
		{"unknown_optimizer_key", `:3: unknown key "lrr" in optimizer (allowed: name, lr, min_lr, warmup, schedule, cooldown_frac, betas, eps, weight_decay, grad_clip, momentum)`},
		{"unknown_tokenizer", `:3: tokenizer.kind: "sentencepiece" is not allowed (allowed: bpe, byte, char, ids)`},
		{"unknown_top_key", `:3: unknown key "experimnts" in the top level (allowed: db, defaults, datasets, experiments)`},
		{"vocab_for_char", `:3: tokenizer.vocab_size: not allowed for kind char, whose vocabulary follows from the data (vocab_size is for bpe and ids)`},
		{"warmup_too_long", `:5: experiment e: run e/silia: optimizer.warmup 100 is not below its 100 steps`},
		{"wrong_type_bool", `:5: model.gate: want true or false, got "yes"`},
		{"wrong_type_lr", `:3: optimizer.lr: want a number, got "fast"`},
		{"wrong_type_optimizer", `:3: optimizer: want a mapping, got "adamw"`},
		{"wrong_type_quoted_number", `:3: block_size: want a number, got "64"`},
		{"wrong_type_steps", `:2: budget.steps: want a number, got true`},
		{"zip_and_sweep_same_key", `:7: experiment e: optimizer.lr is swept twice (also on line 6)`},
		{"zip_unequal", `:8: experiment e: zip lists must have equal lengths: optimizer.min_lr has 2 values, optimizer.lr has 3`},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tc.file+".yaml")
			seen[path] = true
			_, err := loadExpand(path)
			if err == nil {
				t.Fatalf("no error, want %s", path+tc.want)
			}
			if got := err.Error(); got != path+tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, path+tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line <= 0 || e.File != path {
				t.Errorf("error %#v is not an *Error with file and line", err)
			}
		})
	}
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[f] {
			t.Errorf("fixture %s has no test case", f)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}

// TestLargeDocumentMessages: a document too large is refused with a message
// that speaks of aliases only when it has some, and an oversized file is
// refused before it is parsed.
func TestLargeDocumentMessages(t *testing.T) {
	var b strings.Builder
	b.WriteString("defaults:\n  budget: {steps: 10}\nexperiments:\n  - name: e\n    models: [{family: silia, n_embd: 16}]\n    sweep:\n      seed: [")
	for i := 0; i < maxNodes; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteString("]\n")
	_, err := Parse("big.yaml", []byte(b.String()))
	if err == nil || strings.Contains(err.Error(), "alias") || !strings.Contains(err.Error(), "big.yaml:1: document too large: more than 1000000 YAML nodes") {
		t.Errorf("large plain document: %v", err)
	}
	aliases := "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
	prev := "a"
	for i := 0; i < 7; i++ {
		name := fmt.Sprintf("b%d", i)
		aliases += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	_, err = Parse("bomb.yaml", []byte(aliases))
	if err == nil || !strings.Contains(err.Error(), "after expanding aliases") {
		t.Errorf("alias bomb: %v", err)
	}
	huge := make([]byte, maxFileBytes+1)
	for i := range huge {
		huge[i] = '#'
	}
	_, err = Parse("huge.yaml", huge)
	if err == nil || !strings.Contains(err.Error(), "huge.yaml: file is 16777217 bytes; an experiments file may be at most 16777216 bytes (16 MiB)") {
		t.Errorf("huge file: %v", err)
	}
}

// TestEmptyExtraDocumentsAccepted: a leading or trailing "---" (an empty
// document) ignores nothing and is accepted.
func TestEmptyExtraDocumentsAccepted(t *testing.T) {
	body := "defaults:\n  budget: {steps: 10}\nexperiments:\n  - name: e\n    models: [{family: silia, n_embd: 16}]\n"
	for _, src := range []string{"---\n" + body, body + "---\n", "---\n" + body + "...\n---\n"} {
		if _, err := Parse("x.yaml", []byte(src)); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

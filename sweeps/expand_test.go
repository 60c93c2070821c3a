package sweeps

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/tokenizer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixedVocab returns v for every dataset and tokenizer (the paper's V=8192).
func fixedVocab(v int) VocabFunc {
	return func(data.Spec, tokenizer.Spec) (int, error) { return v, nil }
}

func mustExpand(t *testing.T, path string, v int) []Run {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := f.Expand(fixedVocab(v))
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func byName(runs []Run) map[string]Run {
	m := map[string]Run{}
	for _, r := range runs {
		m[r.Name] = r
	}
	return m
}

func TestExpandIssueFile(t *testing.T) {
	f, err := Load("testdata/issue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.DB != "results.db" {
		t.Errorf("DB = %q, want results.db", f.DB)
	}
	if got := f.Experiments(); !slices.Equal(got, []string{"paper-pair", "ladder", "xga-ablation"}) {
		t.Errorf("experiments %v", got)
	}
	runs, err := f.Expand(fixedVocab(8192))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	want := []string{
		"paper-pair/gpt2-rope-swiglu/seed=1", "paper-pair/silia/seed=1",
		"paper-pair/gpt2-rope-swiglu/seed=2", "paper-pair/silia/seed=2",
	}
	for _, p := range []string{"0.5M", "1M", "2M"} {
		for _, lr := range []string{"0.001", "0.003"} {
			for _, fam := range []string{"gpt2-rope-swiglu", "silia"} {
				want = append(want, fmt.Sprintf("ladder/%s/params=%s,optimizer.lr=%s", fam, p, lr))
			}
		}
	}
	for _, g := range []string{"false", "true"} {
		for _, x := range []string{"false", "true"} {
			want = append(want, fmt.Sprintf("xga-ablation/silia-xga/model.gate=%s,model.xsa=%s", g, x))
		}
	}
	if !slices.Equal(names, want) {
		t.Fatalf("names\n got %q\nwant %q", names, want)
	}

	// The paper's published counts at V=8192 (docs/architectures.md).
	m := byName(runs)
	for _, tc := range []struct {
		name         string
		total, nonEm int64
	}{
		{"paper-pair/gpt2-rope-swiglu/seed=1", 4_194_304, 2_097_152},
		{"paper-pair/silia/seed=2", 819_200, 294_912},
	} {
		total, nonEm := m[tc.name].Model.ParamCounts()
		if total != tc.total || nonEm != tc.nonEm {
			t.Errorf("%s: params %d / %d, want %d / %d", tc.name, total, nonEm, tc.total, tc.nonEm)
		}
	}

	// Pair members share everything but the model; hashes are unique.
	hashes := map[string]string{}
	for i, r := range runs {
		if prev, dup := hashes[r.Hash()]; dup {
			t.Errorf("%s and %s have the same hash", prev, r.Name)
		}
		hashes[r.Hash()] = r.Name
		if r.Experiment == "xga-ablation" {
			continue
		}
		if i%2 == 1 {
			a, b := runs[i-1], r
			if !reflect.DeepEqual(a.Data, b.Data) || a.Tokenizer != b.Tokenizer || a.Budget != b.Budget || a.Seed != b.Seed ||
				a.Optimizer != b.Optimizer || a.BlockSize != b.BlockSize || a.BatchSize != b.BatchSize {
				t.Errorf("pair %s / %s differ outside the model", a.Name, b.Name)
			}
		}
	}

	// Inherited defaults reach every run.
	r := m["ladder/silia/params=1M,optimizer.lr=0.003"]
	if r.Optimizer.LR != 3e-3 || r.Optimizer.MinLR != 3e-4 || r.Optimizer.Schedule != "wsd" || r.Optimizer.Warmup != 20 ||
		r.Eval.Every != 50 || r.Eval.Batches != 4 || r.Checkpoint.Every != 50 || r.TotalSteps() != 200 ||
		r.Data.Tokens != 200000 || r.Tokenizer.Kind != "char" || r.Model.VocabSize != 8192 || r.Model.BlockSize != 64 {
		t.Errorf("resolved config %s", r.ConfigJSON())
	}
	if r.Match == nil || r.Match.By != "params" || r.Match.Target != 1e6 {
		t.Errorf("match %+v", r.Match)
	}
	if r.Sweep["params"] != "1M" || r.Sweep["optimizer.lr"] != "0.003" {
		t.Errorf("sweep %v", r.Sweep)
	}
	if x := m["xga-ablation/silia-xga/model.gate=false,model.xsa=true"]; x.Model.Gate || !x.Model.XSA {
		t.Errorf("sweep did not set gate/xsa: %+v", x.Model)
	}
}

// TestLadderMatch checks that match: params picks, for every run, the n_embd
// whose total is closest to the target among all valid widths.
func TestLadderMatch(t *testing.T) {
	runs := mustExpand(t, "testdata/issue.yaml", 8192)
	want := map[string][2]int64{ // n_embd, achieved total at V=8192
		"ladder/gpt2-rope-swiglu/params=0.5M,optimizer.lr=0.001": {12, 466_944},
		"ladder/silia/params=0.5M,optimizer.lr=0.001":            {44, 499_840},
		"ladder/gpt2-rope-swiglu/params=1M,optimizer.lr=0.001":   {22, 968_704},
		"ladder/silia/params=1M,optimizer.lr=0.001":              {74, 1_000_480},
		"ladder/gpt2-rope-swiglu/params=2M,optimizer.lr=0.001":   {38, 1_984_512},
		"ladder/silia/params=2M,optimizer.lr=0.001":              {120, 2_019_840},
	}
	m := byName(runs)
	for name, w := range want {
		r := m[name]
		total, _ := r.Model.ParamCounts()
		if int64(r.Model.NEmbd) != w[0] || total != w[1] {
			t.Errorf("%s: n_embd %d total %d, want %d %d", name, r.Model.NEmbd, total, w[0], w[1])
		}
		for n := 8; n <= 512; n += 2 {
			c := r.Model
			c.NEmbd = n
			if c.Validate() != nil {
				continue
			}
			other, _ := c.ParamCounts()
			if math.Abs(float64(other)-r.Match.Target) < math.Abs(float64(total)-r.Match.Target) {
				t.Errorf("%s: n_embd %d gives %d, closer to %g than %d", name, n, other, r.Match.Target, total)
			}
		}
	}
}

func TestMatchWidth(t *testing.T) {
	tests := []struct {
		family string
		heads  int
		by     string
		target float64
		want   int
	}{
		{models.FamilyGPT2RoPESwiGLU, 4, "params", 4_194_304, 64},
		{models.FamilySilia, 4, "params", 819_200, 64},
		{models.FamilySilia, 4, "params", 1, 8},       // below the smallest: clamp
		{models.FamilyGPT2, 4, "params", 965_264, 92}, // exact
		{models.FamilyGPT2, 3, "params", 965_264, 90}, // 92 is not a multiple of 3
		{models.FamilyGPT2, 4, "params", 1e6, 96},
		{models.FamilySiliaXGA, 4, "flops", 2e6, 22}, // 1,933,888 FLOPs/token
		{models.FamilySilia, 4, "flops", 1.9e6, 64},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s-%s-%g", tc.family, tc.by, tc.target), func(t *testing.T) {
			c, err := models.DefaultConfig(tc.family)
			if err != nil {
				t.Fatal(err)
			}
			c.NHead, c.NLayer, c.BlockSize, c.VocabSize = tc.heads, 2, 64, 8192
			got, err := MatchWidth(c, tc.by, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("MatchWidth = %d, want %d", got, tc.want)
			}
		})
	}
	if _, err := MatchWidth(models.Config{Family: "silia"}, "width", 1); err == nil {
		t.Error("MatchWidth accepted by=width")
	}
}

// TestV2Sweep checks that the paper's v2 sweep, written as one short YAML
// (docs/experiments.md), expands to its 140 runs.
func TestV2Sweep(t *testing.T) {
	runs := mustExpand(t, "testdata/v2.yaml", 16384)
	if len(runs) != 140 {
		t.Fatalf("%d runs, want 140", len(runs))
	}
	type key struct {
		target float64
		block  int
		lr     float64
	}
	seen := map[key]bool{}
	for _, r := range runs {
		if r.Family != models.FamilySiliaXGA || r.Optimizer.Name != "muon" || r.TotalSteps() != 20000 ||
			r.Optimizer.Warmup != 1000 || r.Optimizer.CooldownFrac != 0.6 || r.Tokenizer.VocabSize != 16384 || r.BatchSize != 8 {
			t.Fatalf("%s: %s", r.Name, r.ConfigJSON())
		}
		if math.Abs(r.Optimizer.MinLR*10-r.Optimizer.LR) > 1e-12 {
			t.Errorf("%s: lr %g min_lr %g not paired", r.Name, r.Optimizer.LR, r.Optimizer.MinLR)
		}
		seen[key{r.Match.Target, r.BlockSize, r.Optimizer.LR}] = true
	}
	if len(seen) != 140 {
		t.Errorf("%d distinct (size, block, lr) points, want 140", len(seen))
	}
	if got, want := runs[0].Name, "v2/silia-xga/params=0.5M,block_size=128,optimizer.lr=0.0007,optimizer.min_lr=7e-5"; got != want {
		t.Errorf("first run %q, want %q", got, want)
	}
}

func TestFeatures(t *testing.T) {
	runs := mustExpand(t, "testdata/good_features.yaml", 100)
	m := byName(runs)
	if len(runs) != 2+4+8+2 {
		var names []string
		for _, r := range runs {
			names = append(names, r.Name)
		}
		t.Fatalf("%d runs: %q", len(runs), names)
	}

	// Two gpt2 entries: names carry the shape; entry beats experiment beats defaults; sweep beats all.
	a, b := m["layers/gpt2-16x2x3/model.activation=silu"], m["layers/gpt2-32x2x4/model.activation=silu"]
	if a.Model.NLayer != 3 || b.Model.NLayer != 4 || a.Model.NHead != 2 || a.Model.Activation != "silu" || a.BatchSize != 4 || a.BlockSize != 32 {
		t.Errorf("layering: %+v / %+v", a.Model, b.Model)
	}

	// Budgets: one kind each, resolved to steps (rounded up).
	tests := []struct {
		name             string
		steps, tokens    int64
		nonreproducible  bool
		resolvedFromKind string
	}{
		{"budgets/silia/budget=steps:10", 10, 10 * 4 * 32, false, BudgetSteps},
		{"budgets/silia/budget=tokens:2K", 16, 16 * 128, false, BudgetTokens}, // ceil(2000/128)
		{"budgets/silia/budget=seconds:1.5", 0, 0, true, BudgetSeconds},
	}
	for _, tc := range tests {
		r, ok := m[tc.name]
		if !ok {
			t.Fatalf("no run %s", tc.name)
		}
		if r.TotalSteps() != tc.steps || r.BudgetTokens() != tc.tokens || r.Nonreproducible() != tc.nonreproducible || r.Budget.Kind != tc.resolvedFromKind {
			t.Errorf("%s: steps %d tokens %d nonrepro %v kind %s", tc.name, r.TotalSteps(), r.BudgetTokens(), r.Nonreproducible(), r.Budget.Kind)
		}
		if r.Tokenizer.Kind != "byte" || r.Data.Name != "local" || r.Data.Path != filepath.Join("testdata", "data", "corpus.txt") {
			t.Errorf("%s: tokenizer %+v data %+v", tc.name, r.Tokenizer, r.Data)
		}
	}
	fl := m["budgets/silia/budget=flops:1e9"]
	perStep := float64(fl.Model.TrainFlopsPerToken()) * float64(fl.TokensPerStep())
	if want := int64(math.Ceil(1e9 / perStep)); fl.TotalSteps() != want || fl.TrainFlops() < 1e9 || fl.TrainFlops()-perStep >= 1e9 {
		t.Errorf("flops budget: %d steps (want %d), %g FLOPs", fl.TotalSteps(), want, fl.TrainFlops())
	}

	// Zip groups vary together and multiply with the grid: 2 seeds x 2 x 2.
	z := m["zipped/silia/seed=2,optimizer.lr=0.002,optimizer.min_lr=0.0002,optimizer.warmup=0,eval.every=5"]
	if z.Seed != 2 || z.Optimizer.LR != 2e-3 || z.Optimizer.MinLR != 2e-4 || z.Optimizer.Warmup != 0 || z.Eval.Every != 5 || z.Optimizer.Name != "adamw" {
		t.Errorf("zip point: %s", z.ConfigJSON())
	}

	// match: flops picks widths whose forward FLOPs/token are closest to 2M.
	for _, fam := range []string{"gpt2-rope-swiglu", "silia-xga"} {
		r := m["flops-match/"+fam]
		got := float64(r.Model.FlopsPerToken())
		c := r.Model
		c.NEmbd += 2
		up := float64(c.FlopsPerToken())
		if r.Match == nil || r.Match.By != "flops" || math.Abs(up-2e6) < math.Abs(got-2e6) {
			t.Errorf("%s: %g FLOPs/token (next width %g)", fam, got, up)
		}
	}
}

func TestVocabCalledOncePerDatasetAndTokenizer(t *testing.T) {
	f, err := Load("testdata/issue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	_, err = f.Expand(func(d data.Spec, tk tokenizer.Spec) (int, error) {
		calls++
		if d.Name != "stories" || tk.Kind != "char" {
			t.Errorf("vocab asked for %+v %+v", d, tk)
		}
		return 65, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("vocab called %d times, want 1", calls)
	}
	if _, err := f.Expand(func(data.Spec, tokenizer.Spec) (int, error) { return 0, fmt.Errorf("boom") }); err == nil {
		t.Error("a failing VocabFunc did not fail Expand")
	}
}

// TestGoldenConfigJSON pins the canonical JSON (and so the hash) of one run:
// a change here changes every run's hash and marks finished runs "changed".
func TestGoldenConfigJSON(t *testing.T) {
	runs := mustExpand(t, "testdata/issue.yaml", 8192)
	r := byName(runs)["paper-pair/silia/seed=1"]
	var buf bytes.Buffer
	if err := json.Indent(&buf, r.ConfigJSON(), "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("\n")
	golden := filepath.Join("testdata", "golden", "paper-pair-silia-seed1.json")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("ConfigJSON changed (go test ./sweeps -update to accept):\n%s", buf.Bytes())
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact.Bytes(), r.ConfigJSON()) {
		t.Error("ConfigJSON is not compact")
	}
	if len(r.Hash()) != 64 || r.ShortHash() != r.Hash()[:16] {
		t.Errorf("hash %q", r.Hash())
	}
	// Round trip: the runner reads runs back from their JSON.
	var back Run
	if err := json.Unmarshal(r.ConfigJSON(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Hash() != r.Hash() {
		t.Error("JSON round trip changed the hash")
	}
	// Expanding again gives the same hashes.
	again := byName(mustExpand(t, "testdata/issue.yaml", 8192))
	for _, r := range runs {
		if again[r.Name].Hash() != r.Hash() {
			t.Errorf("%s: hash not stable", r.Name)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in       string
		want     float64
		suffixed bool
		bad      bool
	}{
		{"200000", 200000, false, false},
		{"2M", 2e6, true, false},
		{"0.5M", 5e5, true, false},
		{"2K", 2000, true, false},
		{"2k", 2000, true, false},
		{"1G", 1e9, true, false},
		{"1.5T", 1.5e12, true, false},
		{"1e15", 1e15, false, false},
		{"3e-3", 0.003, false, false},
		{"1_000", 1000, false, false},
		{"0x10", 16, false, false},
		{"2X", 0, false, true},
		{"M", 0, false, true},
		{"1e400", 0, false, true},
		{"inf", 0, false, true},
		{"NaN", 0, false, true},
		{"", 0, false, true},
	}
	for _, tc := range tests {
		got, suffixed, err := parseNumber(tc.in)
		if (err != nil) != tc.bad || got != tc.want || suffixed != tc.suffixed {
			t.Errorf("parseNumber(%q) = %g, %v, %v; want %g, %v, bad=%v", tc.in, got, suffixed, err, tc.want, tc.suffixed, tc.bad)
		}
	}
}

func TestSpell(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"3e-3", "0.003"},
		{"0.0030", "0.003"},
		{"7e-5", "7e-5"},
		{"1e15", "1e15"},
		{"1.0", "1"},
		{"0.5M", "0.5M"},
		{"200000", "200000"},
		{"true", "true"},
		{"stories", "stories"},
		{"[0.9, 0.95]", "0.9_0.95"},
		{"{tokens: 2M}", "tokens:2M"},
	}
	for _, tc := range tests {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte("v: "+tc.yaml), &doc); err != nil {
			t.Fatal(err)
		}
		n := doc.Content[0].Content[1]
		if got := spell(n); got != tc.want {
			t.Errorf("spell(%s) = %q, want %q", tc.yaml, got, tc.want)
		}
	}
}

func TestParseInMemory(t *testing.T) {
	src := []byte("defaults: {budget: {steps: 10}}\nexperiments:\n  - {name: x, models: [{family: gpt2, n_embd: 16}]}\n")
	f, err := Parse("mem.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := f.Expand(fixedVocab(65))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Name != "x/gpt2" || f.DB != "" || runs[0].Data.Name != "stories" || runs[0].Tokenizer.Kind != "char" {
		t.Errorf("runs %+v", runs)
	}
	if len(f.Datasets()) != 1 {
		t.Errorf("datasets %+v", f.Datasets())
	}
}

// TestCountsInYAML checks how counts are written in a file: suffixes,
// exponents, underscores and hex all decode to the same whole numbers.
func TestCountsInYAML(t *testing.T) {
	tests := []struct {
		yaml string
		want int64
	}{
		{"1000", 1000}, {"1_000", 1000}, {"1e3", 1000}, {"1K", 1000}, {"1k", 1000},
		{"0.5K", 500}, {"0x40", 64}, {"2M", 2_000_000}, {"0.001G", 1_000_000},
	}
	for _, tc := range tests {
		src := "defaults: {budget: {steps: " + tc.yaml + "}}\nexperiments: [{name: x, models: [{family: gpt2, n_embd: 16}]}]"
		f, err := Parse("counts.yaml", []byte(src))
		if err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		runs, err := f.Expand(fixedVocab(10))
		if err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		if got := runs[0].TotalSteps(); got != tc.want {
			t.Errorf("steps: %s = %d, want %d", tc.yaml, got, tc.want)
		}
	}
}

package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestReportJSON checks report.json against its golden, that it holds the
// numbers the tables and headline state, and that every key it uses is
// documented in docs/report.md.
func TestReportJSON(t *testing.T) {
	rep := buildFixture(t)
	b := rep.Files["report.json"]
	checkGolden(t, "report.json", b)
	var jr jsonReport
	if err := json.Unmarshal(b, &struct{ *jsonReport }{&jr}); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["schema"] != JSONSchema {
		t.Errorf("schema %v", raw["schema"])
	}
	exps := raw["experiments"].([]any)
	scale := exps[0].(map[string]any)
	if scale["name"] != "scale" {
		t.Fatalf("first experiment %v", scale["name"])
	}
	// The exchange rates with intervals, as in the headline.
	var rates []map[string]any
	for _, s := range scale["scaling"].([]any) {
		sm := s.(map[string]any)
		if sm["parameters"] != "total" {
			continue
		}
		for _, f := range sm["fits"].([]any) {
			fm := f.(map[string]any)
			if fm["family"] == "gpt2-rope-swiglu" && (fm["dof"].(float64) != 1 || fm["usable"] != true || math.Abs(fm["b"].(float64)-fixB) > 1e-3) {
				t.Errorf("gpt2 fit %v", fm)
			}
		}
		for _, r := range sm["exchange_rates"].([]any) {
			rates = append(rates, r.(map[string]any))
		}
	}
	if len(rates) != 2 {
		t.Fatalf("rates %v", rates)
	}
	for _, r := range rates {
		if math.Abs(r["rate"].(float64)-fixRatio) > 0.02 || !(r["ci95_lo"].(float64) < fixRatio && fixRatio < r["ci95_hi"].(float64)) {
			t.Errorf("rate %v", r)
		}
	}
	pairs := scale["pairs"].([]any)
	if d := pairs[0].(map[string]any)["delta_val_loss"].(map[string]any); d["n"].(float64) != 2 || d["ci95_lo"] == nil {
		t.Errorf("pair delta %v", d)
	}
	if len(raw["runs"].([]any)) != len(fixture().Runs) {
		t.Errorf("runs: %d", len(raw["runs"].([]any)))
	}
	// Every key is documented.
	doc, err := os.ReadFile(filepath.Join("..", "docs", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	collectKeys(raw, keys)
	var missing []string
	for k := range keys {
		if !regexp.MustCompile("`" + regexp.QuoteMeta(k) + "`").Match(doc) {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("report.json keys not documented in docs/report.md: %s", strings.Join(missing, ", "))
	}
}

func collectKeys(v any, keys map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			keys[k] = true
			collectKeys(e, keys)
		}
	case []any:
		for _, e := range x {
			collectKeys(e, keys)
		}
	}
}

// TestReportJSONOneSeed: with one seed no interval is given (nulls), and
// the reasons say n = 1.
func TestReportJSONOneSeed(t *testing.T) {
	rep, err := Build(oneSeed(fixture()), Options{DPI: goldenDPI})
	if err != nil {
		t.Fatal(err)
	}
	s := string(rep.Files["report.json"])
	if strings.Contains(s, `"ci95_lo": 0`) || strings.Contains(s, `"ci95_lo": 1`) || strings.Contains(s, `"ci95_lo": 2`) {
		t.Error("an interval with one seed")
	}
	if !strings.Contains(s, `"no_interval": "n = 1 seed at some size: no interval over seeds"`) {
		t.Error("no reason for the missing exchange-rate interval")
	}
}

// TestBootstrapUnpairedWhenSeedsDiffer: when the points did not finish the
// same seeds, each point's seeds are resampled on their own, and the report
// says so.
func TestBootstrapUnpairedWhenSeedsDiffer(t *testing.T) {
	ds := fixture()
	var keep []RunData
	for _, r := range ds.Runs {
		if r.Experiment == "scale" && r.Family == "gpt2-rope-swiglu" && r.ParamsTotal == 32_000_000 && r.Seed == 2 {
			continue
		}
		keep = append(keep, r)
	}
	ds.Runs = append(keep, func() RunData {
		r := fixRun("scale", "gpt2-rope-swiglu", 3, 160, 4, 5, 32_000_000, 3e-3, fixLaw(32e6)+0.01, StatusDone, fixSteps)
		return r
	}())
	rep, err := Build(ds, Options{DPI: goldenDPI})
	if err != nil {
		t.Fatal(err)
	}
	s := string(rep.Files["report.json"])
	if !strings.Contains(s, `"bootstrap_paired": false`) || strings.Contains(s, `"bootstrap_paired": true`) {
		t.Errorf("want unpaired resampling:\n%s", s)
	}
	if !strings.Contains(string(rep.Files["tables/headline.md"]), "each point's seeds resampled on their own") {
		t.Errorf("headline does not say how it resampled:\n%s", rep.Files["tables/headline.md"])
	}
}

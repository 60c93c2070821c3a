package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/cmpimg"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenDPI keeps the golden PNG small.
const goldenDPI = 40

// fixtureReports memoises buildFixture by formats: the tests only read
// the reports, and building one takes a while on a loaded machine.
var fixtureReports = map[string]*Report{}

// buildFixture builds the fixture report (once per list of formats).
func buildFixture(t *testing.T, formats ...string) *Report {
	t.Helper()
	key := strings.Join(formats, ",")
	if rep, ok := fixtureReports[key]; ok {
		return rep
	}
	rep, err := Build(fixture(), Options{Formats: formats, DPI: goldenDPI})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	fixtureReports[key] = rep
	return rep
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGoldenTables(t *testing.T) {
	rep := buildFixture(t)
	for _, name := range []string{"param_efficiency.md", "param_efficiency.csv", "pairs.md", "pairs.csv", "claims.md", "claims.csv", "runs.md", "runs.csv", "headline.md"} {
		t.Run(name, func(t *testing.T) {
			got, ok := rep.Files["tables/"+name]
			if !ok {
				t.Fatalf("no tables/%s in the report", name)
			}
			checkGolden(t, name, got)
		})
	}
}

// TestHeadline checks the exchange rate against the fixture's known law:
// each Silia size has the loss of a GPT-2 model twice its size, and the
// bootstrap interval over seeds must hold it.
func TestHeadline(t *testing.T) {
	rep := buildFixture(t)
	var total string
	for _, h := range rep.Headlines {
		if strings.HasPrefix(h, "scale (total parameters): silia vs gpt2-rope-swiglu") {
			total = h
		}
	}
	if total == "" {
		t.Fatalf("no headline for scale/total in %q", rep.Headlines)
	}
	ms := regexp.MustCompile(`([0-9.]+) \(95% CI ([0-9.]+)–([0-9.]+)\) at ([0-9.]+[kM]) silia`).FindAllStringSubmatch(total, -1)
	if len(ms) != 2 {
		t.Fatalf("want two rates with intervals (one per silia size): %s", total)
	}
	for _, m := range ms {
		r, _ := strconv.ParseFloat(m[1], 64)
		lo, _ := strconv.ParseFloat(m[2], 64)
		hi, _ := strconv.ParseFloat(m[3], 64)
		if r < fixRatio*0.99 || r > fixRatio*1.01 || !(lo <= fixRatio && fixRatio <= hi) || !(lo < hi) {
			t.Errorf("rate %v [%v, %v], want %v inside: %s", r, lo, hi, fixRatio, total)
		}
	}
	for _, want := range []string{"1 residual dof", "RMSE", "percentile bootstrap over seeds (seeds resampled jointly across sizes and families), 1000 resamples"} {
		if !strings.Contains(total, want) {
			t.Errorf("headline lacks %q: %s", want, total)
		}
	}
	// Experiment lr has one size per family: no fit, and it must say so.
	found := false
	for _, h := range rep.Headlines {
		if strings.HasPrefix(h, "lr (total parameters): silia vs gpt2:") {
			found = true
			if !strings.Contains(h, "needs at least 4") || strings.Contains(h, "worth") {
				t.Errorf("lr headline should say there are not enough sizes: %s", h)
			}
		}
	}
	if !found {
		t.Errorf("no headline for experiment lr in %q", rep.Headlines)
	}
}

// TestThreeSizesNoHeadline: with three sizes the fit has no residual degrees
// of freedom; the report says so, states no exchange rate and draws no law.
func TestThreeSizesNoHeadline(t *testing.T) {
	rep, err := Build(withoutSize(fixture(), "scale", 32_000_000), Options{DPI: goldenDPI})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range rep.Headlines {
		if !strings.HasPrefix(h, "scale (") {
			continue
		}
		if strings.Contains(h, "worth") || !strings.Contains(h, "0 residual degrees of freedom") || !strings.Contains(h, "no exchange rate is stated") {
			t.Errorf("3-size headline: %s", h)
		}
	}
	for _, f := range rep.Figures {
		if f.Name == "params_scale_total" && (!strings.Contains(f.Caption, "No law drawn") || strings.Contains(f.Caption, "Dashed")) {
			t.Errorf("caption: %s", f.Caption)
		}
	}
	// report.json: the fit is there with dof 0, marked unusable, and no rate.
	var jr struct {
		Experiments []struct {
			Name    string
			Scaling []struct {
				Fits []struct {
					Family string
					DOF    int
					Usable bool
					Reason string
				}
				Rates []any `json:"exchange_rates"`
			}
		}
	}
	if err := json.Unmarshal(rep.Files["report.json"], &jr); err != nil {
		t.Fatal(err)
	}
	for _, sc := range jr.Experiments[0].Scaling {
		if len(sc.Rates) != 0 {
			t.Errorf("3 sizes, yet exchange rates: %v", sc.Rates)
		}
		for _, f := range sc.Fits {
			if f.Family == "gpt2-rope-swiglu" && (f.DOF != 0 || f.Usable || !strings.Contains(f.Reason, "0 residual degrees of freedom")) {
				t.Errorf("fit %+v", f)
			}
		}
	}
}

// TestOneSeedNoErrorBars: with one seed per configuration no figure draws an
// error bar, and the captions say n = 1.
func TestOneSeedNoErrorBars(t *testing.T) {
	rep, err := Build(oneSeed(fixture()), Options{DPI: goldenDPI})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Figures {
		if strings.HasPrefix(f.Name, "loss_") {
			continue
		}
		if !strings.Contains(f.Caption, "n = 1 seed per point: no error bars") || strings.Contains(f.Caption, "Error bars:") {
			t.Errorf("%s caption: %s", f.Name, f.Caption)
		}
	}
	if strings.Contains(string(rep.Files["tables/headline.md"]), "95% CI") {
		t.Errorf("one seed, yet an interval:\n%s", rep.Files["tables/headline.md"])
	}
	// Points with n = 1 draw exactly what a plain scatter draws: no bar.
	xys := plotter.XYs{{X: 1, Y: 2}, {X: 2, Y: 3}}
	withBars, plain := newPlot("t", "x", "y"), newPlot("t", "x", "y")
	if _, err := addErrPoints(withBars, xys, []Interval{{N: 1, HalfWidth: math.NaN()}, {N: 1, HalfWidth: math.NaN()}}, color.Black, draw.CircleGlyph{}); err != nil {
		t.Fatal(err)
	}
	sc, _ := plotter.NewScatter(xys)
	sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
	plain.Add(sc)
	a, _ := render(withBars, plot.Legend{}, "png", goldenDPI, figSizes[0])
	b, _ := render(plain, plot.Legend{}, "png", goldenDPI, figSizes[0])
	if !bytes.Equal(a, b) {
		t.Error("points with n = 1 drew more than their markers")
	}
}

// TestFigureGoldens compares one figure of every kind (loss vs steps, tokens
// and FLOPs; parameters total and non-embedding; compute FLOPs and wall
// time; learning rate), at both sizes, with its golden PNG exactly, using
// gonum's cmpimg. Regenerate with go test ./report/ -run FigureGoldens -regen.
func TestFigureGoldens(t *testing.T) {
	rep := buildFixture(t)
	kinds := []string{
		"loss_scale_steps", "loss_scale_tokens", "loss_scale_flops", "params_scale_total",
		"params_scale_non_embedding", "compute_scale_flops", "compute_scale_wall", "lr_lr",
	}
	for _, k := range kinds {
		for _, sz := range figSizes {
			name := k + sz.suffix + ".png"
			t.Run(name, func(t *testing.T) {
				got, ok := rep.Files["figures/"+name]
				if !ok {
					t.Fatalf("missing figures/%s", name)
				}
				path := filepath.Join("testdata", "figures", name)
				if *cmpimg.GenerateTestData { // -regen
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./report/ -run FigureGoldens -regen)", err)
				}
				ok, err = cmpimg.Equal("png", got, want)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					bad := filepath.Join(t.TempDir(), name)
					os.WriteFile(bad, got, 0o644)
					t.Errorf("%s differs from its golden (got written to %s)", name, bad)
				}
			})
		}
	}
}

// TestFigureSizes: every figure comes at double- and single-column width,
// in every requested format.
func TestFigureSizes(t *testing.T) {
	rep := buildFixture(t, "svg", "pdf")
	dpi := float64(goldenDPI)
	for _, f := range rep.Figures {
		for _, sz := range figSizes {
			for _, format := range []string{"png", "svg", "pdf"} {
				if _, ok := rep.Files["figures/"+f.Name+sz.suffix+"."+format]; !ok {
					t.Errorf("missing figures/%s%s.%s", f.Name, sz.suffix, format)
				}
			}
			img, err := png.Decode(bytes.NewReader(rep.Files["figures/"+f.Name+sz.suffix+".png"]))
			if err != nil {
				t.Fatal(err)
			}
			wantW := int(float64(sz.width)/72*dpi + 0.5)
			if d := img.Bounds().Size(); abs(d.X-wantW) > 1 || float64(d.Y) < float64(sz.height)/72*dpi-1 {
				t.Errorf("%s%s.png is %v, want %d wide and at least %v high", f.Name, sz.suffix, d, wantW, float64(sz.height)/72*dpi)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestDeterministic(t *testing.T) {
	a := buildFixture(t, "svg", "pdf")
	b := buildFixture(t, "pdf", "svg")
	if len(a.Files) != len(b.Files) {
		t.Fatalf("%d files then %d", len(a.Files), len(b.Files))
	}
	for name, x := range a.Files {
		if !bytes.Equal(x, b.Files[name]) {
			t.Errorf("%s differs between two builds", name)
		}
	}
	for name, x := range a.Files {
		if strings.HasSuffix(name, ".pdf") && !bytes.Contains(x, []byte("/CreationDate (D:20000101000000)")) {
			t.Errorf("%s: creation date not pinned", name)
		}
	}
	// Written twice to disk: byte-identical trees.
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := a.WriteDir(out); err != nil {
		t.Fatal(err)
	}
	first := readTree(t, out)
	if err := b.WriteDir(out); err != nil {
		t.Fatalf("rewriting a previous report: %v", err)
	}
	second := readTree(t, out)
	if len(first) != len(a.Files)+1 || len(second) != len(first) { // + the manifest (.tinyscale-report)
		t.Fatalf("trees hold %d and %d files, report %d", len(first), len(second), len(a.Files))
	}
	for name, x := range first {
		if !bytes.Equal(x, second[name]) {
			t.Errorf("%s differs between two writes", name)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary folders left beside the report: %v", entries)
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIndexHTML(t *testing.T) {
	rep := buildFixture(t, "svg")
	page := string(rep.Files["index.html"])
	for _, want := range []string{
		"upon a &lt;b&gt;time&lt;/b&gt; &amp; seed 1", // samples escaped, latest step only
		"running, step 12/20",
		"failed at step 7: loss is NaN at step 7",
		`src="figures/params_scale_total.png"`,
		`href="figures/params_scale_total.svg"`,
		"true counts of the implemented code",
		"one silia parameter is worth",
		`href="figures/params_scale_total-1col.png"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(page, "old sample") {
		t.Error("index.html shows a sample older than the run's latest")
	}
	if strings.Contains(page, "<b>time</b>") {
		t.Error("sample text not escaped")
	}
	for name := range rep.Files {
		if strings.HasPrefix(name, "figures/") && strings.HasSuffix(name, ".png") && !strings.HasSuffix(name, "-1col.png") {
			stem := strings.TrimSuffix(strings.TrimPrefix(name, "figures/"), ".png")
			if !strings.Contains(page, `src="figures/`+stem+`.png"`) {
				t.Errorf("index.html does not show %s", name)
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		ds   Dataset
		opts Options
		want string
	}{
		{"empty", Dataset{}, Options{}, "no runs"},
		{"format", fixture(), Options{Formats: []string{"gif"}}, `unknown figure format "gif"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.ds, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Build(Dataset{}, Options{}); !errors.Is(err, ErrNoRuns) {
		t.Errorf("empty dataset: %v, want ErrNoRuns", err)
	}
}

func TestWriteDirRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := &Report{Files: map[string][]byte{"index.html": []byte(generatorMeta)}}
	err := rep.WriteDir(dir)
	if err == nil || !strings.Contains(err.Error(), "does not hold a tinyscale report") {
		t.Fatalf("WriteDir over a foreign folder: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "thesis.tex")); string(b) != "precious" {
		t.Error("foreign file touched")
	}
}

// TestBuildSparse: runs without steps, with only NaN or infinite losses or
// without a configuration still give a complete report (nothing panics,
// figures decode).
func TestBuildSparse(t *testing.T) {
	nanRun := fixRun("x", "silia", 1, 64, 4, 2, 819_200, 1e-3, 2.5, StatusFailed, 3)
	for i := range nanRun.Steps {
		nanRun.Steps[i].Loss = math.NaN()
	}
	nanRun.Status = StatusDone // a finished run whose validation diverged
	nanRun.Evals = append(nanRun.Evals, Eval{Step: 3, Split: SplitFinalVal, Loss: math.Inf(1), BPB: math.Inf(1), Accuracy: math.NaN()})
	ds := Dataset{Runs: []RunData{
		{Name: "x/gpt2/seed=1", Experiment: "x", Family: "gpt2", Status: StatusPending},
		nanRun,
		{Name: "bare", Status: StatusRunning, Step: 2, Steps: []Step{{Step: 1, Loss: 3}, {Step: 2, Loss: math.Inf(1)}, {Step: 3, Loss: 2.5}}},
	}}
	rep, err := Build(ds, Options{DPI: goldenDPI, Formats: []string{"svg", "pdf"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range rep.Files {
		if strings.HasSuffix(name, ".png") {
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	if !strings.Contains(string(rep.Files["tables/runs.md"]), "running, step 2 |") {
		t.Errorf("runs table:\n%s", rep.Files["tables/runs.md"])
	}
}

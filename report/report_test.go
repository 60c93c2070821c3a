package report

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenDPI keeps the golden PNG small.
const goldenDPI = 40

// buildFixture builds the fixture report once per call.
func buildFixture(t *testing.T, formats ...string) *Report {
	t.Helper()
	rep, err := Build(fixture(), Options{Formats: formats, DPI: goldenDPI})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
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
	for _, name := range []string{"param_efficiency.md", "param_efficiency.csv", "pairs.md", "pairs.csv", "runs.md", "runs.csv", "headline.md"} {
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
// each Silia size has the loss of a GPT-2 model twice its size.
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
	m := regexp.MustCompile(`worth ([0-9.]+)(?:–([0-9.]+))? gpt2`).FindStringSubmatch(total)
	if m == nil {
		t.Fatalf("headline without a ratio: %s", total)
	}
	for _, s := range m[1:] {
		if s == "" {
			continue
		}
		r, _ := strconv.ParseFloat(s, 64)
		if r < fixRatio*0.99 || r > fixRatio*1.01 {
			t.Errorf("ratio %v, want %v: %s", r, fixRatio, total)
		}
	}
	// Experiment lr has one size per family: no fit, and it must say so.
	found := false
	for _, h := range rep.Headlines {
		if strings.HasPrefix(h, "lr (total parameters): silia vs gpt2:") {
			found = true
			if !strings.Contains(h, "not enough gpt2 sizes") {
				t.Errorf("lr headline should say there are not enough sizes: %s", h)
			}
		}
	}
	if !found {
		t.Errorf("no headline for experiment lr in %q", rep.Headlines)
	}
}

func TestFiguresDecodeAndGolden(t *testing.T) {
	rep := buildFixture(t)
	wantFigs := []string{
		"params_scale_total", "params_scale_non_embedding", "loss_scale_steps", "loss_scale_tokens",
		"loss_scale_flops", "loss_lr_steps", "compute_scale_flops", "compute_scale_wall", "lr_lr",
	}
	for _, name := range wantFigs {
		b, ok := rep.Files["figures/"+name+".png"]
		if !ok {
			t.Errorf("missing figures/%s.png", name)
			continue
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s.png does not decode: %v", name, err)
			continue
		}
		// 16 cm × 10 cm at goldenDPI.
		dpi := float64(goldenDPI)
		wantW, wantH := int(16/2.54*dpi+0.5), int(10/2.54*dpi+0.5)
		if d := img.Bounds().Size(); abs(d.X-wantW) > 1 || abs(d.Y-wantH) > 1 {
			t.Errorf("%s.png is %v, want about %dx%d", name, d, wantW, wantH)
		}
	}
	got, err := png.Decode(bytes.NewReader(rep.Files["figures/params_scale_total.png"]))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "params_scale_total.png")
	if *update {
		if err := os.WriteFile(golden, rep.Files["figures/params_scale_total.png"], 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if diff, total := pixelDiff(got, want, 48); diff > total/100 {
		t.Errorf("params_scale_total.png differs from the golden in %d of %d pixels", diff, total)
	}
}

// pixelDiff counts pixels whose channels differ by more than tol (0–255).
func pixelDiff(a, b image.Image, tol int) (diff, total int) {
	if a.Bounds() != b.Bounds() {
		return 1, 0
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			total++
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			if abs(int(ar>>8)-int(br>>8)) > tol || abs(int(ag>>8)-int(bg>>8)) > tol || abs(int(ab>>8)-int(bb>>8)) > tol {
				diff++
			}
		}
	}
	return diff, total
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
	if len(first) != len(a.Files) || len(second) != len(first) {
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
		if strings.HasPrefix(name, "figures/") && strings.HasSuffix(name, ".png") {
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

package models

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/safetensors"
)

// golden is one parity case written by tools/make_goldens.py from the
// independent PyTorch references (tools/torch_models.py).
type golden struct {
	name            string
	cfg             Config
	weights         []NamedTensor // every state_dict entry, PyTorch names
	inputs, targets []int32       // B*T row-major
	batch, seqLen   int
	logits          []float32 // B*T*V
	loss            float64
	grads           map[string][]float32 // d loss / d param, by first PyTorch name
	longIn          []int32              // RoPE models: 2*block tokens
	longLogits      []float32
	paramOrder      []string // PyTorch's named_parameters() order
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no goldens in testdata/golden (regenerate: /usr/bin/python3 tools/make_goldens.py)")
	}
	sort.Strings(files)
	return files
}

func loadGolden(t *testing.T, path string) *golden {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g := &golden{name: strings.TrimSuffix(filepath.Base(path), ".safetensors"), grads: map[string][]float32{}}
	if err := json.Unmarshal([]byte(f.Metadata["config"]), &g.cfg); err != nil {
		t.Fatalf("%s: config metadata: %v", path, err)
	}
	if err := json.Unmarshal([]byte(f.Metadata["named_parameters"]), &g.paramOrder); err != nil {
		t.Fatalf("%s: named_parameters metadata: %v", path, err)
	}
	if g.loss, err = strconv.ParseFloat(f.Metadata["loss"], 64); err != nil {
		t.Fatalf("%s: loss metadata: %v", path, err)
	}
	f32 := func(x safetensors.Tensor) []float32 {
		v, err := x.Float32s()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}
	i32 := func(x safetensors.Tensor) []int32 {
		v, err := x.Int32s()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}
	for _, x := range f.Tensors {
		switch {
		case x.Name == "inputs":
			g.inputs, g.batch, g.seqLen = i32(x), x.Shape[0], x.Shape[1]
		case x.Name == "targets":
			g.targets = i32(x)
		case x.Name == "logits":
			g.logits = f32(x)
		case x.Name == "loss":
		case x.Name == "long_inputs":
			g.longIn = i32(x)
		case x.Name == "long_logits":
			g.longLogits = f32(x)
		case strings.HasPrefix(x.Name, "grad/"):
			g.grads[strings.TrimPrefix(x.Name, "grad/")] = f32(x)
		default:
			g.weights = append(g.weights, NamedTensor{Name: x.Name, Shape: x.Shape, Data: f32(x)})
		}
	}
	if g.inputs == nil || g.targets == nil || g.logits == nil || len(g.grads) == 0 {
		t.Fatalf("%s: incomplete golden", path)
	}
	return g
}

// relClose reports whether |got-want| <= tol*|want| (+ a tiny floor for zeros).
func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Abs(want)+1e-7
}

func TestGoldenStateDictNames(t *testing.T) {
	for _, path := range goldenFiles(t) {
		g := loadGolden(t, path)
		t.Run(g.name, func(t *testing.T) {
			want := map[string][]int{}
			for _, s := range StateDict(g.cfg) {
				want[s.Name] = s.Shape
			}
			if len(want) != len(g.weights) {
				t.Errorf("StateDict has %d names, PyTorch state_dict %d", len(want), len(g.weights))
			}
			for _, w := range g.weights {
				shape, ok := want[w.Name]
				if !ok {
					t.Errorf("PyTorch name %q missing from StateDict", w.Name)
				} else if !sameShape(shape, w.Shape) {
					t.Errorf("%q: StateDict shape %v, PyTorch %v", w.Name, shape, w.Shape)
				}
			}
			// StateDict without the tied alias is named_parameters(), in order.
			_, head := TiedNames(g.cfg.Family)
			var order []string
			for _, s := range StateDict(g.cfg) {
				if !(g.cfg.TieEmbeddings && s.Name == head) {
					order = append(order, s.Name)
				}
			}
			if !slices.Equal(order, g.paramOrder) {
				t.Errorf("StateDict order %v,\nPyTorch named_parameters %v", order, g.paramOrder)
			}
			// The unique parameters add up to the analytic count.
			var n int64
			for name, gr := range g.grads {
				if _, ok := want[name]; !ok {
					t.Errorf("gradient of unknown parameter %q", name)
				}
				n += int64(len(gr))
			}
			if total, _ := g.cfg.ParamCounts(); n != total {
				t.Errorf("PyTorch has %d parameters, ParamCounts says %d", n, total)
			}
		})
	}
}

func TestGoldenInferenceParity(t *testing.T) {
	const tol = 1e-4
	for _, path := range goldenFiles(t) {
		g := loadGolden(t, path)
		t.Run(g.name, func(t *testing.T) {
			inf, err := NewInference(g.cfg, g.weights)
			if err != nil {
				t.Fatal(err)
			}
			V := g.cfg.VocabSize
			var loss float64
			for b := 0; b < g.batch; b++ {
				in := g.inputs[b*g.seqLen : (b+1)*g.seqLen]
				tg := g.targets[b*g.seqLen : (b+1)*g.seqLen]
				logits, err := inf.Logits(in)
				if err != nil {
					t.Fatal(err)
				}
				bad := 0
				for ti, row := range logits {
					for v, got := range row {
						want := g.logits[(b*g.seqLen+ti)*V+v]
						if !relClose(float64(got), float64(want), tol) {
							if bad < 5 {
								t.Errorf("logits[%d,%d,%d] = %g, PyTorch %g", b, ti, v, got, want)
							}
							bad++
						}
					}
				}
				l, err := inf.Loss(in, tg)
				if err != nil {
					t.Fatal(err)
				}
				loss += l / float64(g.batch)
			}
			if !relClose(loss, g.loss, tol) {
				t.Errorf("loss = %.8f, PyTorch %.8f", loss, g.loss)
			}
			if g.longIn != nil {
				if !g.cfg.RoPE || len(g.longIn) <= g.cfg.BlockSize {
					t.Fatal("long sequence golden for a non-RoPE model or not beyond the block")
				}
				logits, err := inf.Logits(g.longIn)
				if err != nil {
					t.Fatal(err)
				}
				for ti, row := range logits {
					for v, got := range row {
						if want := g.longLogits[ti*V+v]; !relClose(float64(got), float64(want), tol) {
							t.Fatalf("beyond-block logits[%d,%d] = %g, PyTorch %g", ti, v, got, want)
						}
					}
				}
			}
		})
	}
}

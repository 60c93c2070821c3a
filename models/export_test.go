package models

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/safetensors"
)

// uniqueParams drops the output alias of a tied matrix (the trainer's view).
func uniqueParams(cfg Config, ws []NamedTensor) []NamedTensor {
	_, head := TiedNames(cfg.Family)
	var out []NamedTensor
	for _, w := range ws {
		if cfg.TieEmbeddings && w.Name == head {
			continue
		}
		out = append(out, w)
	}
	return out
}

// TestExportGoldens round-trips every golden model through
// SaveSafetensors/LoadSafetensors. With TINYSCALE_EXPORT_DIR set, the files
// are also written there for tools/check_export.py, which loads them into
// the PyTorch references with strict load_state_dict.
func TestExportGoldens(t *testing.T) {
	tokJSON := []byte(`{"kind":"byte","vocab_size":37}`)
	outDir := os.Getenv("TINYSCALE_EXPORT_DIR")
	for _, path := range goldenFiles(t) {
		g := loadGolden(t, path)
		t.Run(g.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "m.safetensors")
			if outDir != "" {
				file = filepath.Join(outDir, g.name+".safetensors")
			}
			params := uniqueParams(g.cfg, g.weights)
			if err := SaveSafetensors(file, g.cfg, tokJSON, params); err != nil {
				t.Fatal(err)
			}
			// The file holds exactly PyTorch's state_dict names (tied: both).
			raw, err := safetensors.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var names, want []string
			for _, x := range raw.Tensors {
				names = append(names, x.Name)
			}
			for _, w := range g.weights {
				want = append(want, w.Name)
			}
			slices.Sort(names)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("exported names %v, PyTorch state_dict %v", names, want)
			}
			if raw.Metadata[MetaFamily] != g.cfg.Family || raw.Metadata[MetaTokenizer] != string(tokJSON) || raw.Metadata["format"] != "pt" {
				t.Errorf("metadata %v", raw.Metadata)
			}

			cfg, tok, got, err := LoadSafetensors(file)
			if err != nil {
				t.Fatal(err)
			}
			if cfg != g.cfg {
				t.Errorf("config %+v, want %+v", cfg, g.cfg)
			}
			if string(tok) != string(tokJSON) {
				t.Errorf("tokenizer %s, want %s", tok, tokJSON)
			}
			if len(got) != len(params) {
				t.Fatalf("%d params loaded, want %d", len(got), len(params))
			}
			byName := map[string]NamedTensor{}
			for _, p := range params {
				byName[p.Name] = p
			}
			for _, p := range got {
				w, ok := byName[p.Name]
				if !ok || !reflect.DeepEqual(w.Shape, p.Shape) || !slices.Equal(w.Data, p.Data) {
					t.Errorf("param %q changed in the round trip", p.Name)
				}
			}
			inf, err := NewInference(cfg, got)
			if err != nil {
				t.Fatal(err)
			}
			l, err := inf.Loss(g.inputs[:g.seqLen], g.targets[:g.seqLen])
			if err != nil || l <= 0 {
				t.Errorf("loss of the reloaded model: %v, %v", l, err)
			}
		})
	}
}

func TestSaveSafetensorsRejects(t *testing.T) {
	cfg := infTinyConfig(t, FamilySiliaXGA, nil)
	good := uniqueParams(cfg, infRandomWeights(cfg, 4))
	cases := []struct {
		name   string
		cfg    Config
		tok    []byte
		params []NamedTensor
		want   string
	}{
		{"missing", cfg, nil, good[:len(good)-1], "missing weight"},
		{"bad tokenizer", cfg, []byte("{"), good, "tokenizer is not valid JSON"},
		{"bad config", func() Config { c := cfg; c.NLayer = 0; return c }(), nil, good, "n_layer"},
		{"no vocab", func() Config { c := cfg; c.VocabSize = 0; return c }(), nil, good, "vocab_size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.safetensors")
			err := SaveSafetensors(path, tc.cfg, tc.tok, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if _, serr := os.Stat(path); serr == nil {
				t.Error("a file was written despite the error")
			}
		})
	}
}

func TestLoadSafetensorsRejects(t *testing.T) {
	cfg := infTinyConfig(t, FamilySilia, nil)
	ws := infRandomWeights(cfg, 5)
	dir := t.TempDir()
	write := func(name string, meta map[string]string, mod func(*safetensors.Tensor)) string {
		f := &safetensors.File{Metadata: meta}
		for _, w := range ws {
			x := safetensors.FromFloat32(w.Name, w.Shape, w.Data)
			if mod != nil {
				mod(&x)
			}
			f.Tensors = append(f.Tensors, x)
		}
		p := filepath.Join(dir, name)
		if err := safetensors.WriteFile(p, f); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cj := `{"family":"silia","n_embd":8,"n_head":2,"n_layer":2,"block_size":6,"vocab_size":11,"rope":true,"qk_norm":true,"activation":"silu","tie_embeddings":true,"norm":"rms"}`
	cases := []struct {
		name string
		path string
		want string
	}{
		{"ok", write("ok", map[string]string{"config": cj}, nil), ""},
		{"no config", write("noconfig", nil, nil), "no \"config\""},
		{"family mismatch", write("fam", map[string]string{"config": cj, "family": "gpt2"}, nil), "disagrees"},
		{"bad config json", write("badjson", map[string]string{"config": "{"}, nil), "config metadata"},
		{"tied differ", write("tied", map[string]string{"config": cj}, func(x *safetensors.Tensor) {
			if x.Name == "unembed.weight" {
				x.Data = slices.Clone(x.Data)
				x.Data[0] ^= 1
			}
		}), "differ"},
		{"int weights", write("int", map[string]string{"config": cj}, func(x *safetensors.Tensor) {
			if x.Name == "blocks.0.attn1.out.weight" {
				x.DType = safetensors.I32
			}
		}), "want F32"},
		{"missing file", filepath.Join(dir, "nope"), "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, params, err := LoadSafetensors(tc.path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(params) != len(ws)-1 {
					t.Errorf("%d params, want %d (tied alias left out)", len(params), len(ws)-1)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

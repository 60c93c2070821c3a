package models

import (
	"encoding/json"
	"fmt"

	"github.com/tinyscale/tinyscale/safetensors"
)

// Metadata keys of an exported safetensors file.
const (
	// MetaFamily holds the model family name.
	MetaFamily = "family"
	// MetaConfig holds the models.Config as JSON (the YAML model keys:
	// family, n_embd, n_head, n_layer, block_size, vocab_size and the knobs).
	MetaConfig = "config"
	// MetaTokenizer holds the tokenizer's JSON (tokenizer.FromJSON reads it).
	MetaTokenizer = "tokenizer"
)

// SaveSafetensors writes a model to path in the safetensors format, under
// exactly the PyTorch state_dict names, so that
// model.load_state_dict(load_file(path)) works with strict loading. With tied
// embeddings both names of the shared matrix are written (the data is
// duplicated), as PyTorch's state_dict holds both. params must hold every
// parameter of cfg (a tied matrix under either name or both); they are
// checked against StateDict(cfg). The file is written atomically (temporary
// file, fsync, rename). __metadata__ holds "family", "config" (JSON),
// "format" ("pt") and, when tokenizerJSON is not empty, "tokenizer".
func SaveSafetensors(path string, cfg Config, tokenizerJSON []byte, params []NamedTensor) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	if cfg.VocabSize <= 0 || cfg.BlockSize <= 0 {
		return fmt.Errorf("export %s: vocab_size and block_size must be > 0, got %d and %d", path, cfg.VocabSize, cfg.BlockSize)
	}
	byName, err := resolveWeights(cfg, params)
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("export %s: encode config: %w", path, err)
	}
	meta := map[string]string{MetaFamily: cfg.Family, MetaConfig: string(cj), "format": "pt"}
	if len(tokenizerJSON) > 0 {
		if !json.Valid(tokenizerJSON) {
			return fmt.Errorf("export %s: tokenizer is not valid JSON", path)
		}
		meta[MetaTokenizer] = string(tokenizerJSON)
	}
	f := &safetensors.File{Metadata: meta}
	for _, s := range StateDict(cfg) {
		f.Tensors = append(f.Tensors, safetensors.FromFloat32(s.Name, s.Shape, byName[s.Name]))
	}
	if err := safetensors.WriteFile(path, f); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// LoadSafetensors reads a file written by SaveSafetensors (or by PyTorch
// with the same names and metadata). It returns the configuration, the
// tokenizer JSON (nil when absent) and the parameters in StateDict order;
// the output alias of a tied matrix is checked equal to the embedding and
// left out, so the result matches the trainer's parameter list.
func LoadSafetensors(path string) (Config, []byte, []NamedTensor, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return Config{}, nil, nil, fmt.Errorf("load model: %w", err)
	}
	cj, ok := f.Metadata[MetaConfig]
	if !ok {
		return Config{}, nil, nil, fmt.Errorf("load model %s: no %q in __metadata__ (not a tinyscale export?)", path, MetaConfig)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(cj), &cfg); err != nil {
		return Config{}, nil, nil, fmt.Errorf("load model %s: config metadata: %w", path, err)
	}
	if fam, ok := f.Metadata[MetaFamily]; ok && fam != cfg.Family {
		return Config{}, nil, nil, fmt.Errorf("load model %s: family metadata %q disagrees with config family %q", path, fam, cfg.Family)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, nil, fmt.Errorf("load model %s: %w", path, err)
	}
	if cfg.VocabSize <= 0 || cfg.BlockSize <= 0 {
		return Config{}, nil, nil, fmt.Errorf("load model %s: vocab_size and block_size must be > 0, got %d and %d", path, cfg.VocabSize, cfg.BlockSize)
	}
	var ws []NamedTensor
	for _, t := range f.Tensors {
		data, err := t.Float32s()
		if err != nil {
			return Config{}, nil, nil, fmt.Errorf("load model %s: %w", path, err)
		}
		ws = append(ws, NamedTensor{Name: t.Name, Shape: t.Shape, Data: data})
	}
	byName, err := resolveWeights(cfg, ws)
	if err != nil {
		return Config{}, nil, nil, fmt.Errorf("load model %s: %w", path, err)
	}
	_, headName := TiedNames(cfg.Family)
	var out []NamedTensor
	for _, s := range StateDict(cfg) {
		if cfg.TieEmbeddings && s.Name == headName {
			continue
		}
		out = append(out, NamedTensor{Name: s.Name, Shape: s.Shape, Data: byName[s.Name]})
	}
	var tok []byte
	if tj, ok := f.Metadata[MetaTokenizer]; ok {
		tok = []byte(tj)
	}
	return cfg, tok, out, nil
}

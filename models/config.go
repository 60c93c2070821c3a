// Package models implements the four model families of tinyscale (gpt2,
// gpt2-rope-swiglu, silia, silia-xga) exactly as docs/architectures.md in the
// shared specification describes them.
//
// Shape legend used throughout the package:
//
//	B batch, T sequence length, V vocabulary, L layers, H heads,
//	hd head dim, C embedding width (n_embd), d model width.
//
// This file holds the configuration, its validation, and the analytic
// parameter and FLOP counts that plan and budgets rely on.
package models

import (
	"fmt"
	"sort"
	"strings"
)

// Family names.
const (
	FamilyGPT2           = "gpt2"
	FamilyGPT2RoPESwiGLU = "gpt2-rope-swiglu"
	FamilySilia          = "silia"
	FamilySiliaXGA       = "silia-xga"
)

// Families lists every implemented family name, sorted.
func Families() []string {
	f := []string{FamilyGPT2, FamilyGPT2RoPESwiGLU, FamilySilia, FamilySiliaXGA}
	sort.Strings(f)
	return f
}

// Config is one model's shape and ablation knobs. The YAML/JSON keys are the
// keys users write under `model:` or in a `models:` list entry.
type Config struct {
	Family string `yaml:"family" json:"family"`
	// NEmbd is the embedding width C for gpt2 and silia and the head dim hd for
	// gpt2-rope-swiglu and silia-xga (as in the reference code).
	NEmbd  int `yaml:"n_embd" json:"n_embd"`
	NHead  int `yaml:"n_head" json:"n_head"`
	NLayer int `yaml:"n_layer" json:"n_layer"`
	// BlockSize and VocabSize come from the run (block_size, tokenizer).
	BlockSize int `yaml:"block_size,omitempty" json:"block_size"`
	VocabSize int `yaml:"vocab_size,omitempty" json:"vocab_size"`

	// RoPE: rotary positions on q,k. Off means learned absolute positions (wpe).
	RoPE bool `yaml:"rope" json:"rope"`
	// QKNorm: parameter-free RMSNorm of q and k over hd after RoPE.
	QKNorm bool `yaml:"qk_norm" json:"qk_norm"`
	// Gate: sigmoid head gate (silia-xga only).
	Gate bool `yaml:"gate" json:"gate"`
	// XSA: exclusive self-attention step (silia-xga only).
	XSA bool `yaml:"xsa" json:"xsa"`
	// Activation: silu | gelu | relu. For gpt2 it is the MLP activation; for the
	// gated families it is the gate activation of u*act(v).
	Activation string `yaml:"activation" json:"activation"`
	// TieEmbeddings shares the token embedding with the output head.
	TieEmbeddings bool `yaml:"tie_embeddings" json:"tie_embeddings"`
	// Norm: rms | layer. gpt2 norms carry a learnable weight (and bias when
	// Bias); the other families use parameter-free norms, as the reference code.
	Norm string `yaml:"norm" json:"norm"`
	// Dropout probability (gpt2 only).
	Dropout float64 `yaml:"dropout" json:"dropout"`
	// Bias: biases in gpt2's linear layers and LayerNorms (gpt2 only).
	Bias bool `yaml:"bias" json:"bias"`
}

// DefaultConfig returns the reference defaults of a family (shape left zero).
func DefaultConfig(family string) (Config, error) {
	c := Config{Family: family, TieEmbeddings: true}
	switch family {
	case FamilyGPT2:
		c.Activation, c.Norm, c.Bias = "gelu", "layer", true
	case FamilyGPT2RoPESwiGLU, FamilySilia:
		c.Activation, c.Norm, c.RoPE, c.QKNorm = "silu", "rms", true, true
	case FamilySiliaXGA:
		c.Activation, c.Norm, c.RoPE, c.QKNorm, c.Gate, c.XSA = "silu", "rms", true, true, true, true
	default:
		return Config{}, fmt.Errorf("unknown model family %q (allowed: %s)", family, strings.Join(Families(), ", "))
	}
	return c, nil
}

// Width is the residual-stream width: C for gpt2 and silia, hd*H otherwise.
func (c Config) Width() int {
	switch c.Family {
	case FamilyGPT2RoPESwiGLU, FamilySiliaXGA:
		return c.NEmbd * c.NHead
	default:
		return c.NEmbd
	}
}

// HeadDim is the per-head dimension.
func (c Config) HeadDim() int {
	switch c.Family {
	case FamilyGPT2:
		if c.NHead == 0 {
			return 0
		}
		return c.NEmbd / c.NHead
	default:
		return c.NEmbd
	}
}

// AttnWidth is the width of the concatenated heads of one attention layer.
func (c Config) AttnWidth() int {
	if c.Family == FamilySilia {
		return c.NHead * c.NEmbd
	}
	return c.Width()
}

// HiddenXGA is silia-xga's d_hidden = floor(4d/3).
func (c Config) HiddenXGA() int { return 4 * c.Width() / 3 }

// Validate checks the shape and that every knob makes sense for the family.
// Block and vocabulary sizes are checked only when set (plan fills them).
func (c Config) Validate() error {
	if _, err := DefaultConfig(c.Family); err != nil {
		return err
	}
	if c.NEmbd <= 0 {
		return fmt.Errorf("n_embd must be > 0, got %d", c.NEmbd)
	}
	if c.NHead <= 0 {
		return fmt.Errorf("n_head must be > 0, got %d", c.NHead)
	}
	if c.NLayer <= 0 {
		return fmt.Errorf("n_layer must be > 0, got %d", c.NLayer)
	}
	if c.BlockSize < 0 || c.VocabSize < 0 {
		return fmt.Errorf("block_size and vocab_size must be >= 0, got %d and %d", c.BlockSize, c.VocabSize)
	}
	if c.Family == FamilyGPT2 && c.NEmbd%c.NHead != 0 {
		return fmt.Errorf("n_head %d does not divide n_embd %d (gpt2 splits n_embd into heads)", c.NHead, c.NEmbd)
	}
	if c.RoPE && c.HeadDim()%2 != 0 {
		return fmt.Errorf("rope needs an even head dim, got %d", c.HeadDim())
	}
	switch c.Activation {
	case "silu", "gelu", "relu":
	default:
		return fmt.Errorf("activation %q not allowed (allowed: silu, gelu, relu)", c.Activation)
	}
	switch c.Norm {
	case "rms", "layer":
	default:
		return fmt.Errorf("norm %q not allowed (allowed: rms, layer)", c.Norm)
	}
	if c.Family != FamilySiliaXGA && c.Gate {
		return fmt.Errorf("gate is only available for family %s, not %s", FamilySiliaXGA, c.Family)
	}
	if c.Family != FamilySiliaXGA && c.XSA {
		return fmt.Errorf("xsa is only available for family %s, not %s", FamilySiliaXGA, c.Family)
	}
	if c.Family != FamilyGPT2 && c.Dropout != 0 {
		return fmt.Errorf("dropout is only available for family %s, not %s", FamilyGPT2, c.Family)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("dropout must be in [0, 1), got %g", c.Dropout)
	}
	if c.Family != FamilyGPT2 && c.Bias {
		return fmt.Errorf("bias is only available for family %s, not %s", FamilyGPT2, c.Family)
	}
	return nil
}

// ParamCounts returns the exact number of trainable parameters and the number
// of non-embedding parameters (total minus token embedding, untied output
// head and learned position table). VocabSize and, without RoPE, BlockSize
// must be set.
func (c Config) ParamCounts() (total, nonEmbedding int64) {
	d := int64(c.Width())
	V := int64(c.VocabSize)
	L := int64(c.NLayer)
	var emb int64 = V * d
	if !c.TieEmbeddings {
		emb += V * d
	}
	if !c.RoPE {
		emb += int64(c.BlockSize) * d
	}
	var perLayer, final int64
	switch c.Family {
	case FamilyGPT2:
		C := d
		var b int64
		if c.Bias {
			b = 1
		}
		norm := C // weight
		if c.Bias && c.Norm == "layer" {
			norm += C
		}
		perLayer = 2*norm + (3*C*C + b*3*C) + (C*C + b*C) + (4*C*C + b*4*C) + (4*C*C + b*C)
		final = norm
	case FamilyGPT2RoPESwiGLU:
		perLayer = 16 * d * d
	case FamilySilia:
		C := d
		H := int64(c.NHead)
		perLayer = 9 * C * H * C
	case FamilySiliaXGA:
		dh := int64(c.HiddenXGA())
		q := int64(4) // q,k,v,g
		if !c.Gate {
			q = 3
		}
		perLayer = q*d*d + d*2*dh + q*d*dh + d*d
	}
	nonEmbedding = L*perLayer + final
	return nonEmbedding + emb, nonEmbedding
}

// MatmulParams is the number of weights used in matrix multiplies per token,
// excluding embeddings and the output head (biases and norms excluded).
func (c Config) MatmulParams() int64 {
	d := int64(c.Width())
	L := int64(c.NLayer)
	switch c.Family {
	case FamilyGPT2:
		return L * 12 * d * d
	case FamilyGPT2RoPESwiGLU:
		return L * 16 * d * d
	case FamilySilia:
		return L * 9 * int64(c.NHead) * d * d
	case FamilySiliaXGA:
		dh := int64(c.HiddenXGA())
		q := int64(4)
		if !c.Gate {
			q = 3
		}
		return L * (q*d*d + d*2*dh + q*d*dh + d*d)
	}
	return 0
}

// AttentionLayers is the number of causal attention layers per block.
func (c Config) AttentionLayers() int {
	if c.Family == FamilySilia || c.Family == FamilySiliaXGA {
		return 2
	}
	return 1
}

// FlopsPerToken is the analytic forward FLOPs per token of the spec:
// 2*(matmul params + V*d) + per attention layer 2*2*T*width, T = BlockSize.
// Training FLOPs per token are 3x this (TrainFlopsPerToken).
func (c Config) FlopsPerToken() int64 {
	f := 2 * (c.MatmulParams() + int64(c.VocabSize)*int64(c.Width()))
	attn := int64(c.NLayer*c.AttentionLayers()) * 2 * 2 * int64(c.BlockSize) * int64(c.AttnWidth())
	return f + attn
}

// TrainFlopsPerToken is 3x the forward FLOPs per token.
func (c Config) TrainFlopsPerToken() int64 { return 3 * c.FlopsPerToken() }

package models

import (
	"fmt"

	"github.com/tinyscale/tinyscale/ops"
	G "gorgonia.org/gorgonia"
)

// gated builds gpt2-rope-swiglu, silia and silia-xga (docs/architectures.md
// sections 2-4) and returns the mean loss (output head fused with the
// cross-entropy). Norms are parameter-free (cfg.Norm); qkv rows are per head
// [q|k|v] (silia-xga with gate: [q|k|v|g]).
//
//	x = norm(embed[idx] (+ wpe[pos] when rope is off))
//	gpt2-rope-swiglu: y = x + out(attn(qkv(norm(x)))); x = y + out(u*act(v)), [u|v] = uv(norm(y))
//	silia / silia-xga: [u|v] = attn1(norm(x)); x = x + attn2(u*act(v))
//	logits = norm(x) embed^T (or unembed^T when untied)
func (b *builder) gated() *G.Node {
	pos := ""
	if !b.cfg.RoPE {
		pos = "wpe.weight"
	}
	x := b.norm(b.embed("embed.weight", pos), "")
	mha := func(x *G.Node, name string) *G.Node {
		return b.linearW(b.attention(b.linearW(x, name+".qkv.weight")), name+".out.weight")
	}
	for i := 0; i < b.cfg.NLayer; i++ {
		p := fmt.Sprintf("blocks.%d.", i)
		switch b.cfg.Family {
		case FamilyGPT2RoPESwiGLU:
			y := b.add(x, mha(b.norm(x, ""), p+"attn"))
			h := b.gatedAct(b.linearW(b.norm(y, ""), p+"swiglu.uv.weight"))
			x = b.add(y, b.linearW(h, p+"swiglu.out.weight"))
		default:
			h := b.gatedAct(mha(b.norm(x, ""), p+"attn1"))
			x = b.add(x, mha(h, p+"attn2"))
		}
	}
	return b.loss(b.norm(x, ""), "embed.weight", "unembed.weight")
}

// gatedAct is u * act(v) on [u | v] (first half u).
func (b *builder) gatedAct(x *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	y, err := ops.NewGatedAct(x, b.cfg.Activation)
	if err != nil {
		return b.fail(err, "gate")
	}
	return y
}

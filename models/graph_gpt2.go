package models

import (
	"fmt"

	"github.com/tinyscale/tinyscale/ops"
	G "gorgonia.org/gorgonia"
)

// gpt2 builds nanoGPT's forward pass and returns the mean loss of logits (B*T, V), computed by the fused head:
//
//	x = drop(wte[idx] + wpe[pos]); per block
//	x = x + drop(c_proj(attn(c_attn(ln_1(x)))))
//	x = x + drop(mlp.c_proj(act(c_fc(ln_2(x)))))
//	logits = ln_f(x) wte^T
//
// c_attn's output row is [q(all heads) | k | v] (nanoGPT's split(n_embd)).
// Dropout is applied to the embeddings and the two residual branches; nanoGPT
// also drops attention probabilities, which the fused attention does not.
func (b *builder) gpt2() *G.Node {
	pos := ""
	if !b.cfg.RoPE {
		pos = "transformer.wpe.weight"
	}
	x := b.dropout(b.embed("transformer.wte.weight", pos))
	for i := 0; i < b.cfg.NLayer; i++ {
		p := fmt.Sprintf("transformer.h.%d.", i)
		a := b.linear(b.attention(b.linear(b.norm(x, p+"ln_1"), p+"attn.c_attn")), p+"attn.c_proj")
		x = b.add(x, b.dropout(a))
		h := b.linear(b.norm(x, p+"ln_2"), p+"mlp.c_fc")
		h = b.act(h)
		x = b.add(x, b.dropout(b.linear(h, p+"mlp.c_proj")))
	}
	return b.loss(b.norm(x, "transformer.ln_f"), "transformer.wte.weight", "lm_head.weight")
}

// act applies cfg.Activation element-wise (gelu is the exact erf form).
func (b *builder) act(x *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	y, err := ops.NewAct(x, b.cfg.Activation)
	if err != nil {
		return b.fail(err, "activation")
	}
	return y
}

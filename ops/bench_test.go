package ops

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAttention measures the fused attention kernel's forward and
// backward on silia-like shapes (B 8, T 64, H 4, hd 64, rope + qk-norm) and
// the plain reference forward beside it.
func BenchmarkAttention(b *testing.B) {
	c := AttnConfig{B: 8, T: 64, H: 4, HD: 64, PerHead: true, RoPE: true, QKNorm: true}
	rng := rand.New(rand.NewPCG(1, 1))
	n := c.B * c.T
	qkv := randSlice(rng, n*c.H*c.Parts()*c.HD, 1)
	dout := randSlice(rng, n*c.H*c.HD, 1)
	out := make([]float32, n*c.H*c.HD)
	dqkv := make([]float32, len(qkv))
	op := newAttentionOp(c)
	b.Run("forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			op.forward(out, qkv)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			op.backward(dqkv, qkv, dout)
		}
	})
	b.Run("reference-forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			AttentionRef(out, qkv, c)
		}
	})
}

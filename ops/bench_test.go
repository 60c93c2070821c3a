package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkAttention measures the fused attention kernel's forward and
// backward on silia shapes (rope + qk-norm): the unit-test size (B 8, T 64,
// H 4, hd 64) and the paper config's (B 16, T 256, H 4, hd 64), also with
// silia-xga's gate and exclusive step (-xga), beside the row-at-a-time
// kernel it replaced (rowwise-*), in the same run; and the plain reference
// forward at the small size.
func BenchmarkAttention(b *testing.B) {
	for _, c := range []AttnConfig{
		{B: 8, T: 64, H: 4, HD: 64, PerHead: true, RoPE: true, QKNorm: true},
		{B: 16, T: 256, H: 4, HD: 64, PerHead: true, RoPE: true, QKNorm: true},
		{B: 16, T: 256, H: 4, HD: 64, PerHead: true, RoPE: true, QKNorm: true, Gate: true, XSA: true},
	} {
		name := fmt.Sprintf("B%d-T%d", c.B, c.T)
		if c.Gate {
			name += "-xga"
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			n := c.B * c.T
			qkv := randSlice(rng, n*c.H*c.Parts()*c.HD, 1)
			dout := randSlice(rng, n*c.H*c.HD, 1)
			out := make([]float32, n*c.H*c.HD)
			dqkv := make([]float32, len(qkv))
			op := newAttentionOp(c)
			b.Run("forward", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					op.forward(out, qkv)
				}
			})
			b.Run("backward", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					op.backward(dqkv, qkv, dout)
				}
			})
			old := newAttentionOp(c)
			b.Run("rowwise-forward", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					old.forwardRowwise(out, qkv)
				}
			})
			b.Run("rowwise-backward", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					old.backwardRowwise(dqkv, qkv, dout)
				}
			})
			if c.T <= 64 {
				b.Run("reference-forward", func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						AttentionRef(out, qkv, c)
					}
				})
			}
		})
	}
}

package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RoPE is the standalone rotary embedding (rotate-half form, base 10000) of
// x viewed as (B, T, H, hd), stored as (B*T, H*hd). The fused Attention op
// applies the same rotation to q and k itself; this op serves graphs that
// need RoPE elsewhere and pins the kernel down in tests.
type RoPE struct {
	base
	b, t, h, hd int
	cos, sin    []float32
	y           *tensor.Dense
}

// NewRoPE rotates x (B*T, H*hd) by position t of each row.
func NewRoPE(x *G.Node, b, t, h, hd int) (*G.Node, error) {
	if s := x.Shape(); s.Dims() != 2 || s[0] != b*t || s[1] != h*hd || hd%2 != 0 {
		return nil, fmt.Errorf("rope: input %v, want (%d, %d) with an even head dim", s, b*t, h*hd)
	}
	op := &RoPE{base: newBase("RoPE", x.Shape(), 2, 2), b: b, t: t, h: h, hd: hd}
	op.cos, op.sin = RopeTables(t, hd)
	return G.ApplyOp(op, x)
}

// rotate applies the rotation (or, with inverse, its transpose) row by row.
func (op *RoPE) rotate(y, x []float32, inverse bool) {
	half := op.hd / 2
	for r := 0; r < op.b*op.t; r++ {
		p := r % op.t
		cs, sn := op.cos[p*half:(p+1)*half], op.sin[p*half:(p+1)*half]
		for h := 0; h < op.h; h++ {
			o := r*op.h*op.hd + h*op.hd
			copy(y[o:o+op.hd], x[o:o+op.hd])
			if inverse {
				ropeBwd(y[o:o+op.hd], cs, sn)
			} else {
				Rope(y[o:o+op.hd], y[o:o+op.hd], cs, sn)
			}
		}
	}
}

// Do rotates x.
func (op *RoPE) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.shape.TotalSize())
	if err != nil {
		return nil, err
	}
	y := outBuf(&op.y, op.shape)
	op.rotate(y.Float32s(), in[0], false)
	return y, nil
}

// DiffWRT: the input.
func (op *RoPE) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns dx = R^T dy.
func (op *RoPE) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&ropeBwdOp{base: newBase("RoPEBwd", op.shape, 2, 2), fwd: op}, grad)
	return G.Nodes{d}, err
}

type ropeBwdOp struct {
	base
	fwd *RoPE
	d   *tensor.Dense
}

func (op *ropeBwdOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.shape.TotalSize())
	if err != nil {
		return nil, err
	}
	d := outBuf(&op.d, op.shape)
	op.fwd.rotate(d.Float32s(), in[0], true)
	return d, nil
}

package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Embedding looks rows of a (V, C) table up by integer ids: y[r] = W[ids[r]].
// The ids live in the op (SetIDs before each run). Its backward scatters the
// output gradient into a dense (V, C) gradient, the only V×C buffer it owns.
type Embedding struct {
	base
	v, c int
	ids  []int32
	y    *tensor.Dense
}

// NewEmbedding builds the lookup of n ids into table w (V, C).
func NewEmbedding(w *G.Node, n int) (*G.Node, *Embedding, error) {
	s := w.Shape()
	if s.Dims() != 2 || n <= 0 {
		return nil, nil, fmt.Errorf("embedding: table %v must be (V, C) and n=%d > 0", s, n)
	}
	op := &Embedding{base: newBase("Embedding", []int{n, s[1]}, 2, 2), v: s[0], c: s[1], ids: make([]int32, n)}
	y, err := G.ApplyOp(op, w)
	return y, op, err
}

// SetIDs copies the ids the next run looks up; each must be in [0, V).
func (op *Embedding) SetIDs(ids []int32) error {
	if len(ids) != len(op.ids) {
		return fmt.Errorf("embedding: got %d ids, want %d", len(ids), len(op.ids))
	}
	for i, id := range ids {
		if id < 0 || int(id) >= op.v {
			return fmt.Errorf("embedding: id %d at position %d out of range [0, %d)", id, i, op.v)
		}
	}
	copy(op.ids, ids)
	return nil
}

// Do gathers the rows.
func (op *Embedding) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.v*op.c)
	if err != nil {
		return nil, err
	}
	y := outBuf(&op.y, op.shape)
	EmbeddingRef(y.Float32s(), in[0], op.ids, op.c)
	return y, nil
}

// EmbeddingRef is the reference gather y[r] = w[ids[r]].
func EmbeddingRef(y, w []float32, ids []int32, c int) {
	for r, id := range ids {
		copy(y[r*c:(r+1)*c], w[int(id)*c:(int(id)+1)*c])
	}
}

// DiffWRT: the table.
func (op *Embedding) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns the scattered dense gradient of the table.
func (op *Embedding) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	b := &embeddingBwd{base: newBase("EmbeddingBwd", []int{op.v, op.c}, 2, 2), fwd: op}
	dw, err := G.ApplyOp(b, grad)
	return G.Nodes{dw}, err
}

type embeddingBwd struct {
	base
	fwd *Embedding
	dw  *tensor.Dense
}

func (op *embeddingBwd) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, len(op.fwd.ids)*op.fwd.c)
	if err != nil {
		return nil, err
	}
	dw := outBuf(&op.dw, op.shape)
	d := dw.Float32s()
	zero(d)
	c := op.fwd.c
	for r, id := range op.fwd.ids {
		dst, src := d[int(id)*c:(int(id)+1)*c], in[0][r*c:(r+1)*c]
		for j, g := range src {
			dst[j] += g
		}
	}
	return dw, nil
}

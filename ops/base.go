// Package ops holds tinyscale's fused gorgonia operations. Every op has a
// hand-written backward pass (SymDiff returns nodes built from companion
// backward ops that share state with the forward op through its struct) and a
// plain, obviously-correct reference kernel beside the fast one; the tests
// hold each fast kernel to its reference and check gradients by finite
// differences.
//
// Conventions: all tensors are float32 and row-major; activations are 2-D
// (N, C) with N = B*T rows. Stateful ops hash by instance (name and address)
// so gorgonia never merges two look-alike nodes.
//
// Buffers: gorgonia's TapeMachine.Reset only forgets its register values;
// what re-allocates every step is each op's Do returning a fresh tensor. The
// ops here allocate their output (and saved state) once, on the first run,
// and return the same *tensor.Dense every run after, so a Reset+RunAll of a
// graph built from them allocates no tensors in steady state, without
// UsePreallocDo.
// Gradients are only valid until the next run of the same graph.
//
// Matrix products go through gorgonia.WhichBLAS (OpenBLAS when the binary
// installs it, gonum otherwise) from the tape's single goroutine; attention's
// per-head work runs on Workers() goroutines with its own tile kernels
// (attention_kernels.go: AVX2/FMA assembly where available, gonum otherwise),
// held to the plain reference kernel AttentionRef by the tests.
package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// base implements the boilerplate of gorgonia.Op shared by every op here.
type base struct {
	name  string
	dims  []int // dims of each input, then the output (0 = scalar)
	shape tensor.Shape
}

func newBase(name string, outShape []int, dims ...int) base {
	return base{name: name, dims: dims, shape: tensor.Shape(append([]int(nil), outShape...))}
}

// Arity reports the number of inputs.
func (b *base) Arity() int { return len(b.dims) - 1 }

// Type returns the op's function type: float32 tensors of the given dims.
func (b *base) Type() hm.Type {
	ts := make([]hm.Type, len(b.dims))
	for i, d := range b.dims {
		if d == 0 {
			ts[i] = tensor.Float32
		} else {
			ts[i] = G.TensorType{Dims: d, Of: tensor.Float32}
		}
	}
	return hm.NewFnType(ts...)
}

// InferShape returns the fixed output shape chosen at construction.
func (b *base) InferShape(...G.DimSizer) (tensor.Shape, error) { return b.shape.Clone(), nil }

// ReturnsPtr is false: outputs are the op's own buffers.
func (b *base) ReturnsPtr() bool { return false }

// CallsExtern is false: no cgo/cuda.
func (b *base) CallsExtern() bool { return false }

// OverwritesInput is -1: inputs are never overwritten.
func (b *base) OverwritesInput() int { return -1 }

// WriteHash writes the op name and the instance address (ops are stateful).
func (b *base) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s@%p", b.name, b) }

// Hashcode is the fnv-32a of WriteHash.
func (b *base) Hashcode() uint32 {
	h := fnv.New32a()
	b.WriteHash(h)
	return h.Sum32()
}

// String names the op.
func (b *base) String() string { return b.name }

// outBuf returns a reusable dense output of the op's shape.
func outBuf(d **tensor.Dense, shape tensor.Shape) *tensor.Dense {
	if *d == nil {
		*d = tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(largeFloats(shape.TotalSize())))
	}
	return *d
}

// f32 returns the float32 data of a tensor value.
func f32(v G.Value) ([]float32, error) {
	if d, ok := v.(*tensor.Dense); ok && d.Dtype() == tensor.Float32 {
		return d.Float32s(), nil // no reflection, no allocation
	}
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("expected a tensor, got %T", v)
	}
	d, ok := t.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("expected float32 data, got %T", t.Data())
	}
	return d, nil
}

// scalar returns the float32 value of a scalar gorgonia value.
func scalar(v G.Value) (float32, error) {
	switch s := v.(type) {
	case *G.F32:
		return float32(*s), nil
	case *G.F64:
		return float32(*s), nil
	case tensor.Tensor:
		d, err := f32(s)
		if err != nil {
			return 0, err
		}
		if len(d) != 1 {
			return 0, fmt.Errorf("expected a scalar, got %d elements", len(d))
		}
		return d[0], nil
	}
	return 0, fmt.Errorf("expected a scalar, got %T", v)
}

// inputs checks the arity and extracts float32 slices of the expected sizes.
func inputs(name string, vs []G.Value, sizes ...int) ([][]float32, error) {
	if len(vs) != len(sizes) {
		return nil, fmt.Errorf("%s: expected %d inputs, got %d", name, len(sizes), len(vs))
	}
	out := make([][]float32, len(vs))
	for i, v := range vs {
		d, err := f32(v)
		if err != nil {
			return nil, fmt.Errorf("%s input %d: %w", name, i, err)
		}
		if sizes[i] >= 0 && len(d) != sizes[i] {
			return nil, fmt.Errorf("%s input %d: expected %d elements, got %d", name, i, sizes[i], len(d))
		}
		out[i] = d
	}
	return out, nil
}

// Workers is the number of goroutines parallel kernels use.
func Workers() int { return runtime.GOMAXPROCS(0) }

// parallelFor runs f(worker, lo, hi) over [0, n) split into contiguous
// chunks on at most Workers() goroutines, none with fewer than grain indices
// (small work runs inline, without goroutines).
func parallelFor(n, grain int, f func(worker, lo, hi int)) {
	w := Workers()
	if grain < 1 {
		grain = 1
	}
	if m := n / grain; w > m {
		w = m
	}
	if w <= 1 {
		if n > 0 {
			f(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for k := 0; k < w; k++ {
		lo, hi := k*chunk, min((k+1)*chunk, n)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(k, lo, hi int) {
			defer wg.Done()
			f(k, lo, hi)
		}(k, lo, hi)
	}
	wg.Wait()
}

func zero(x []float32) {
	for i := range x {
		x[i] = 0
	}
}

// taskPool runs f(worker, i) for every task index i in [0, n) on at most
// Workers() goroutines that take the next index from a shared counter, so a
// worker slowed down by a busy machine does not hold up the others. Each
// index is computed wholly by one worker, so results do not depend on the
// schedule. It lives in an op (attention: one task per (batch, head); the
// packed head: one per group of row blocks) so that a run allocates only its
// goroutines. Not reentrant.
type taskPool struct {
	next atomic.Int64
	wg   sync.WaitGroup
}

// each runs f(worker, i) for every i in [0, n) and returns when all are done.
func (tp *taskPool) each(n int, f func(worker, i int)) {
	w := min(Workers(), n)
	if w <= 1 {
		for i := 0; i < n; i++ {
			f(0, i)
		}
		return
	}
	tp.next.Store(0)
	tp.wg.Add(w)
	for k := 0; k < w; k++ {
		go tp.work(k, n, f)
	}
	tp.wg.Wait()
}

func (tp *taskPool) work(k, n int, f func(worker, i int)) {
	defer tp.wg.Done()
	for {
		i := int(tp.next.Add(1) - 1)
		if i >= n {
			return
		}
		f(k, i)
	}
}

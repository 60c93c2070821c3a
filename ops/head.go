package ops

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LinearCrossEntropy is the output head and its loss in one op: the mean
// softmax cross-entropy of logits = x W^T, x (N, C), W (V, C), against
// integer targets held in the op (SetTargets before each run). The (N, V)
// logits are never materialised: rows go in chunks of about headChunkFloats
// logits. For each chunk the forward pass computes the logits (one product),
// the loss and dlogits = (softmax - onehot)/N in place (CrossEntropy's row
// kernel), and, when Training, the chunk's dx = dlogits W and its share of
// dW += dlogits^T x (two more products). The backward ops only hand out
// those buffers, rescaled when the upstream gradient is not 1 (never, when
// the loss is the graph's cost). Chunks run in a fixed order, so the result
// is the same from run to run; dW is summed over chunks in that order.
//
// The reference is LinearRef followed by CrossEntropyRef; the gradients are
// those of Linear and CrossEntropy composed.
type LinearCrossEntropy struct {
	base
	n, c, v int
	chunk   int // rows per chunk
	targets []int32
	rowLoss []float64
	loss    G.F32
	logits  []float32     // chunk × V scratch
	dx, dw  *tensor.Dense // gradients for upstream gradient gx, gw
	gx, gw  float32
	fresh   bool // dx, dw are those of the last forward
	fma     bool
	kern    Kernels     // avx2, avx512: the packed path (packedPath); generic: BLAS
	block   int         // rows per block of the packed path (0: headBlockRows)
	packed  *headPacked // the packed path's buffers

	// Training makes the forward pass compute the gradients too (default
	// true). Set it false for forward-only evaluation (loss only, about a
	// third of the work); a backward pass then fails.
	Training bool
}

// headChunkFloats is the size of the logits chunk of LinearCrossEntropy:
// 4 Mi floats (16 MiB), 512 rows at V = 8192.
const headChunkFloats = 1 << 22

// NewLinearCrossEntropy builds the loss node over x (N, C) and the head
// weight w (V, C) (PyTorch's nn.Linear layout, no bias).
func NewLinearCrossEntropy(x, w *G.Node) (*G.Node, *LinearCrossEntropy, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 2 || ws.Dims() != 2 || xs[1] != ws[1] {
		return nil, nil, fmt.Errorf("linear cross-entropy: x %v and W %v do not match (want x (N,C), W (V,C))", xs, ws)
	}
	n, c, v := xs[0], xs[1], ws[0]
	chunk := max(16, headChunkFloats/v/16*16)
	chunk = min(chunk, n)
	op := &LinearCrossEntropy{base: newBase("LinearCrossEntropy", nil, 2, 2, 0), n: n, c: c, v: v, chunk: chunk,
		targets: make([]int32, n), rowLoss: make([]float64, n), fma: haveFMA, kern: cpuKernels, Training: true}
	op.shape = tensor.ScalarShape()
	y, err := G.ApplyOp(op, x, w)
	return y, op, err
}

// SetTargets copies the targets of the next run; each must be in [0, V).
func (op *LinearCrossEntropy) SetTargets(t []int32) error {
	return setTargets("linear cross-entropy", op.targets, t, op.v)
}

// Loss returns the value computed by the last run.
func (op *LinearCrossEntropy) Loss() float32 { return float32(op.loss) }

// Do computes the mean loss (and, when Training, dx and dW).
func (op *LinearCrossEntropy) Do(vs ...G.Value) (G.Value, error) {
	in, err := inputs(op.name, vs, op.n*op.c, op.v*op.c)
	if err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	var dx, dw []float32
	if op.Training {
		dx = outBuf(&op.dx, tensor.Shape{op.n, op.c}).Float32s()
		dw = outBuf(&op.dw, tensor.Shape{op.v, op.c}).Float32s()
	}
	if op.packedPath() {
		op.doPacked(x, w, dx, dw)
	} else {
		op.doBLAS(x, w, dx, dw)
	}
	invN := 1 / float64(op.n)
	var s float64
	for _, l := range op.rowLoss {
		s += l
	}
	op.loss = G.F32(s * invN)
	op.gx, op.gw, op.fresh = 1, 1, op.Training
	return &op.loss, nil
}

// doBLAS is Do on gorgonia's BLAS (OpenBLAS where loaded), chunk by chunk:
// it sets op.rowLoss and, when Training, dx and dw.
func (op *LinearCrossEntropy) doBLAS(x, w, dx, dw []float32) {
	if op.logits == nil {
		op.logits = make([]float32, op.chunk*op.v)
	}
	bl := G.WhichBLAS()
	invN := 1 / float64(op.n)
	for lo := 0; lo < op.n; lo += op.chunk {
		hi := min(lo+op.chunk, op.n)
		r := hi - lo
		l, xc := op.logits[:r*op.v], x[lo*op.c:hi*op.c]
		bl.Sgemm(blas.NoTrans, blas.Trans, r, op.v, op.c, 1, xc, op.c, w, op.c, 0, l, op.v)
		logitRows(r, op.v, func(a, b int) {
			for i := a; i < b; i++ {
				row := l[i*op.v : (i+1)*op.v]
				op.rowLoss[lo+i] = xentRow(row, row, int(op.targets[lo+i]), invN, op.fma)
			}
		})
		if !op.Training {
			continue
		}
		bl.Sgemm(blas.NoTrans, blas.NoTrans, r, op.c, op.v, 1, l, op.v, w, op.c, 0, dx[lo*op.c:hi*op.c], op.c)
		var beta float32
		if lo > 0 {
			beta = 1
		}
		bl.Sgemm(blas.Trans, blas.NoTrans, op.v, op.c, r, 1, l, op.v, xc, op.c, beta, dw, op.c)
	}
}

// headAVX2MaxC is the widest x the AVX2 class runs on the packed path; wider
// heads go to BLAS. At N 4096, V 8192 on the AVX-512 Xeon with AVX2 forced
// and OpenBLAS's Haswell kernels (2 threads, 2026-12-02) the packed path took
// 87, 168, 345 ms a call at C 64, 128, 256 against BLAS's 110, 189, 330
// (the 6-row kernels read the dW partial, V×C, 48 rows at a time). The
// AVX-512 class is faster at all three (63, 120, 253 against 94, 148, 270).
const headAVX2MaxC = 128

// packedPath says whether Do runs on the packed path (head_packed.go):
// avx512, and avx2 up to headAVX2MaxC features; else BLAS.
func (op *LinearCrossEntropy) packedPath() bool {
	return op.kern >= KernelsAVX512 || op.kern == KernelsAVX2 && op.c <= headAVX2MaxC
}

// DiffWRT: x and W.
func (op *LinearCrossEntropy) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns dx and dW.
func (op *LinearCrossEntropy) SymDiff(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&headBwd{base: newBase("LinearCrossEntropyDX", []int{op.n, op.c}, 2, 0, 2), fwd: op}, ins[0], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&headBwd{base: newBase("LinearCrossEntropyDW", []int{op.v, op.c}, 2, 0, 2), fwd: op, w: true}, ins[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// headBwd hands out dx (or dW, when w) of the last forward pass, rescaled in
// place to the upstream gradient.
type headBwd struct {
	base
	fwd *LinearCrossEntropy
	w   bool
}

func (op *headBwd) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	if len(vs) != 2 {
		return nil, fmt.Errorf("%s: expected 2 inputs, got %d", op.name, len(vs))
	}
	g, err := scalar(vs[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op.name, err)
	}
	if !f.fresh {
		return nil, fmt.Errorf("%s: no gradients: the forward pass did not run in training mode", op.name)
	}
	buf, held := f.dx, &f.gx
	if op.w {
		buf, held = f.dw, &f.gw
	}
	if g != *held {
		if *held == 0 {
			return nil, fmt.Errorf("%s: gradients were zeroed by a zero upstream gradient; run the forward pass again", op.name)
		}
		c := g / *held
		d := buf.Float32s()
		parallelFor(len(d), 1<<15, func(_, lo, hi int) { scaleRow(d[lo:hi], c, f.fma) })
		*held = g
	}
	return buf, nil
}

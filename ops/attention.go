package ops

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AttnConfig describes a fused causal self-attention layer.
type AttnConfig struct {
	// B batch, T sequence length, H heads, HD head dim.
	B, T, H, HD int
	// PerHead: each head's slice of a qkv row is [q|k|v] (or [q|k|v|g] with
	// Gate), as the silia families view qkv as (B,T,H,parts*hd). Otherwise the
	// row is [Q|K|V] across heads, as nanoGPT's c_attn split(n_embd).
	PerHead bool
	// RoPE rotates q and k (rotate-half, base 10000) by position.
	RoPE bool
	// QKNorm RMS-normalises q and k over hd (after RoPE), eps RMSEps.
	QKNorm bool
	// Gate multiplies each head's output by sigmoid(g) (needs PerHead).
	Gate bool
	// XSA removes from each head's output its component along its own token's
	// normalised value vector: y -= (y.vn) vn, vn = v/max(||v||, 1e-12).
	XSA bool
}

// Parts is the number of hd-wide slices per head in a qkv row (3 or 4).
func (c AttnConfig) Parts() int {
	if c.Gate {
		return 4
	}
	return 3
}

// Validate checks the configuration.
func (c AttnConfig) Validate() error {
	if c.B <= 0 || c.T <= 0 || c.H <= 0 || c.HD <= 0 {
		return fmt.Errorf("attention: B, T, H, HD must be > 0, got %d %d %d %d", c.B, c.T, c.H, c.HD)
	}
	if c.RoPE && c.HD%2 != 0 {
		return fmt.Errorf("attention: rope needs an even head dim, got %d", c.HD)
	}
	if c.Gate && !c.PerHead {
		return fmt.Errorf("attention: the gate needs the per-head qkv layout")
	}
	return nil
}

// off is the column offset of part p (0 q, 1 k, 2 v, 3 g) of head h in a qkv row.
func (c AttnConfig) off(p, h int) int {
	if c.PerHead {
		return (h*c.Parts() + p) * c.HD
	}
	return (p*c.H + h) * c.HD
}

// RopeTables returns cos and sin of freq[t,i] = t / 10000^(2i/hd), (T, hd/2).
func RopeTables(t, hd int) (cos, sin []float32) {
	d := hd / 2
	cos, sin = make([]float32, t*d), make([]float32, t*d)
	for p := 0; p < t; p++ {
		for i := 0; i < d; i++ {
			invFreq := float32(1 / math.Pow(10000, float64(2*i)/float64(hd)))
			f := float64(float32(p) * invFreq)
			cos[p*d+i], sin[p*d+i] = float32(math.Cos(f)), float32(math.Sin(f))
		}
	}
	return cos, sin
}

// Rope rotates x (hd) at the position whose tables are cos, sin (hd/2) into y:
// y = [x1 c + x2 s, -x1 s + x2 c]. y and x may alias.
func Rope(y, x, cos, sin []float32) {
	d := len(cos)
	for i := 0; i < d; i++ {
		x1, x2 := x[i], x[i+d]
		y[i] = x1*cos[i] + x2*sin[i]
		y[i+d] = -x1*sin[i] + x2*cos[i]
	}
}

// ropeBwd maps dy to dx in place (the transpose rotation).
func ropeBwd(d, cos, sin []float32) {
	h := len(cos)
	for i := 0; i < h; i++ {
		d1, d2 := d[i], d[i+h]
		d[i] = d1*cos[i] - d2*sin[i]
		d[i+h] = d1*sin[i] + d2*cos[i]
	}
}

// rmsInPlace normalises x by its RMS and returns 1/rms.
func rmsInPlace(x []float32) float32 {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	rs := float32(1 / math.Sqrt(ss/float64(len(x))+RMSEps))
	for i := range x {
		x[i] *= rs
	}
	return rs
}

// dot is sum a[i]*b[i] with gonum's pure-Go/assembly kernel, which is safe
// to call from many goroutines at once (unlike a run-time OpenBLAS behind
// gorgonia.WhichBLAS).
func dot(a, b []float32) float32 { return gonum.Implementation{}.Sdot(len(a), a, 1, b[:len(a)], 1) }

// axpy is y += a*x with gonum's pure-Go/assembly kernel.
func axpy(a float32, x, y []float32) {
	gonum.Implementation{}.Saxpy(len(x), a, x, 1, y[:len(x)], 1)
}

const xsaEps = 1e-12

// attnPrefetch is how many rows ahead the row loops over qkv and dqkv ask
// for their cache lines (prefetch): rows 3 KiB apart (P1-Silia) each start a
// new page, where the hardware prefetchers stop.
const attnPrefetch = 4

// Attention is fused causal multi-head self-attention from the qkv projection
// (B*T, H*parts*hd) to the concatenated heads (B*T, H*hd): RoPE, QK-norm,
// softmax(q k^T/sqrt(hd) + causal) v flash-style (blocks of attnBlock query
// rows against their unmasked keys as small tile products, never a masked
// T×T tensor; per-row max and 1/sum kept; scores recomputed in backward), then
// the optional sigmoid gate and exclusive step. Batch×heads run on Workers()
// goroutines, each with its own scratch; the tile products use an AVX2/FMA
// (or AVX-512) micro-kernel where the CPU has one and gonum's serial Sgemm
// otherwise (attention_kernels.go), the work on single rows (RoPE and
// QK-norm, their backward, the softmax rows, the gate's sigmoid) row kernels
// of the op's kernel class (attn_rows.go).
type Attention struct {
	base
	cfg      AttnConfig
	cos, sin []float32
	// saved for backward, laid out (B, H, T, hd) / (B, H, T): the rotated,
	// normalised q and k, o, each softmax row's scaled max and 1/sum (so
	// backward's p = e^(s/sqrt(hd) − smax)·sinv, no logarithm per row), 1/rms
	// of q and k
	qn, kn, o  []float32
	smax, sinv []float32
	rsq, rsk   []float32
	// lse: the log-sum-exp of forwardRowwise (tests), allocated by it
	lse     []float32
	scratch []float32
	y       *tensor.Dense
	// fma: the tile products run on the AVX2/FMA micro-kernel (when the
	// CPU has it), otherwise on gonum's serial Sgemm.
	fma bool
	// rows: the class of the row kernels (attn_rows.go): RoPE and QK-norm
	// of q and k, their backward, the softmax rows, o's normalisation, the
	// gate's sigmoid, the row dots and the prefetches (vector classes only).
	rows Kernels
	pool taskPool
}

// NewAttention applies fused attention to qkv (B*T, H*parts*hd).
func NewAttention(qkv *G.Node, cfg AttnConfig) (*G.Node, *Attention, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	n, w := cfg.B*cfg.T, cfg.H*cfg.Parts()*cfg.HD
	if s := qkv.Shape(); s.Dims() != 2 || s[0] != n || s[1] != w {
		return nil, nil, fmt.Errorf("attention: qkv %v, want (%d, %d)", s, n, w)
	}
	op := newAttentionOp(cfg)
	y, err := G.ApplyOp(op, qkv)
	return y, op, err
}

func newAttentionOp(cfg AttnConfig) *Attention {
	n := cfg.B * cfg.T
	sz := n * cfg.H * cfg.HD
	op := &Attention{base: newBase("Attention", []int{n, cfg.H * cfg.HD}, 2, 2), cfg: cfg,
		qn: largeFloats(sz), kn: largeFloats(sz), o: largeFloats(sz),
		smax: make([]float32, n*cfg.H), sinv: make([]float32, n*cfg.H), rsq: make([]float32, n*cfg.H), rsk: make([]float32, n*cfg.H),
		fma: haveFMA, rows: cpuKernels}
	if cfg.RoPE {
		op.cos, op.sin = RopeTables(cfg.T, cfg.HD)
	}
	return op
}

// workerScratch returns worker k's scratch of size per and its tile
// products (with their packing buffers, which follow per in the scratch).
func (op *Attention) workerScratch(k, per int) ([]float32, attnTiles) {
	all := per + attnPackSize(op.cfg.T, op.cfg.HD)
	sc := op.scratch[k*all : (k+1)*all]
	return sc[:per], newAttnTiles(op.fma, op.cfg.T, op.cfg.HD, sc[per:])
}

// ensureScratch sizes the scratch for Workers() workers of per floats each
// plus their packing buffers; it allocates only when that grows.
func (op *Attention) ensureScratch(per int) {
	if need := Workers() * (per + attnPackSize(op.cfg.T, op.cfg.HD)); len(op.scratch) < need {
		op.scratch = largeFloats(need)
	}
}

// Do runs the forward pass.
func (op *Attention) Do(vs ...G.Value) (G.Value, error) {
	c := op.cfg
	in, err := inputs(op.name, vs, c.B*c.T*c.H*c.Parts()*c.HD)
	if err != nil {
		return nil, err
	}
	y := outBuf(&op.y, op.shape)
	op.forward(y.Float32s(), in[0])
	return y, nil
}

// prepQK writes head h's rotated and normalised q and k of batch b (x is the
// batch's qkv rows) into op.qn, op.kn at bh, and their 1/rms into op.rsq, op.rsk.
func (op *Attention) prepQK(bh, h int, x []float32) {
	c := op.cfg
	T, hd := c.T, c.HD
	stride := c.H * c.Parts() * hd
	qo, ko := c.off(0, h), c.off(1, h)
	pf := op.rows >= KernelsAVX2
	parts, np := c.partRanges(h)
	for t := 0; t < T; t++ {
		row := x[t*stride:]
		if pf && t+attnPrefetch < T { // v too, for packForward
			ahead := x[(t+attnPrefetch)*stride:]
			for _, r := range parts[:np] {
				prefetch(ahead[r[0]:r[1]])
			}
		}
		st := (bh*T + t) * hd
		q, kk := op.qn[st:st+hd], op.kn[st:st+hd]
		if c.RoPE { // copy, rotate and normalise in one pass over each row
			cs, sn := op.cos[t*hd/2:(t+1)*hd/2], op.sin[t*hd/2:(t+1)*hd/2]
			rq := ropeNormRow(op.rows, q, row[qo:qo+hd], cs, sn, c.QKNorm)
			rk := ropeNormRow(op.rows, kk, row[ko:ko+hd], cs, sn, c.QKNorm)
			if c.QKNorm {
				op.rsq[bh*T+t], op.rsk[bh*T+t] = rq, rk
			}
			continue
		}
		copy(q, row[qo:qo+hd])
		copy(kk, row[ko:ko+hd])
		if c.QKNorm {
			op.rsq[bh*T+t] = rmsInPlace(q)
			op.rsk[bh*T+t] = rmsInPlace(kk)
		}
	}
}

// partRanges returns head h's q, k and v column ranges [lo, hi) in a qkv (or
// dqkv) row, r[:n]: one range in the per-head layout, where they are
// contiguous, three otherwise.
func (c AttnConfig) partRanges(h int) (r [3][2]int, n int) {
	if c.PerHead {
		r[0] = [2]int{c.off(0, h), c.off(0, h) + 3*c.HD}
		return r, 1
	}
	for p := range 3 {
		r[p] = [2]int{c.off(p, h), c.off(p, h) + c.HD}
	}
	return r, 3
}

// forward computes, per (batch, head) on parallel workers, blocks of
// attnBlock query rows at once: the causal score tile q kᵀ against the keys
// up to the block's last row (tiles past the diagonal skipped), the row
// softmax of the scaled scores in place (log-sum-exp saved), o = P v as one
// product (masked terms skipped), then o's rows divided by the softmax sums.
func (op *Attention) forward(out, qkv []float32) {
	c := op.cfg
	T, hd, H := c.T, c.HD, c.H
	stride := H * c.Parts() * hd
	scale := float32(1 / math.Sqrt(float64(hd)))
	br := min(attnBlock, T)
	op.ensureScratch(br*T + br + hd)
	op.pool.each(c.B*H, func(k, bh int) {
		sc, w := op.workerScratch(k, br*T+br+hd)
		S, inv, sg := sc[:br*T], sc[br*T:br*T+br], sc[br*T+br:]
		b, h := bh/H, bh%H
		x := qkv[b*T*stride : (b+1)*T*stride]
		op.prepQK(bh, h, x)
		Q, K := op.qn[bh*T*hd:(bh+1)*T*hd], op.kn[bh*T*hd:(bh+1)*T*hd]
		O := op.o[bh*T*hd : (bh+1)*T*hd]
		smax, sinv := op.smax[bh*T:(bh+1)*T], op.sinv[bh*T:(bh+1)*T]
		V := x[c.off(2, h):]
		w.packForward(K, V, stride)
		for r0 := 0; r0 < T; r0 += br {
			rb := min(br, T-r0)
			n := r0 + rb
			w.qk(S, T, Q[r0*hd:], K, r0, rb)
			for li := 0; li < rb; li++ {
				i := r0 + li
				row := S[li*T : li*T+n]
				m := attnRowMax(op.rows, row[:i+1]) * scale
				l := attnExpSum(op.rows, row[:i+1], scale, m)
				clear(row[i+1:])
				inv[li] = 1 / l
				smax[i], sinv[i] = m, inv[li]
			}
			w.pv(O[r0*hd:], S, T, V, stride, r0, rb)
			for li := 0; li < rb; li++ { // normalise o rather than P, then the epilogue
				i := r0 + li
				o := O[i*hd : (i+1)*hd]
				yo := (b*T+i)*H*hd + h*hd
				if !c.Gate && !c.XSA {
					attnScaleCopyRow(op.rows, out[yo:yo+hd], o, inv[li])
					continue
				}
				attnScaleRow(op.rows, o, inv[li])
				if c.Gate {
					attnSigmoidRow(op.rows, sg, x[i*stride+c.off(3, h):i*stride+c.off(3, h)+hd])
				}
				epilogue(out[yo:yo+hd], o, x[i*stride:], sg, c, h)
			}
		}
	})
}

// epilogue writes y = gate/xsa(o) for one row of one head; sg is the row's
// sigmoid(g) with the gate (nil: computed here with sigmoid).
func epilogue(y, o, row, sg []float32, c AttnConfig, h int) {
	hd := c.HD
	copy(y, o)
	if c.Gate {
		g := row[c.off(3, h) : c.off(3, h)+hd]
		for d := range y {
			if sg != nil {
				y[d] *= sg[d]
			} else {
				y[d] *= sigmoid(g[d])
			}
		}
	}
	if c.XSA {
		v := row[c.off(2, h) : c.off(2, h)+hd]
		n := max(float32(math.Sqrt(float64(dot(v, v)))), xsaEps)
		a := dot(y, v) / (n * n)
		axpy(-a, v, y)
	}
}

// DiffWRT: the qkv input.
func (op *Attention) DiffWRT(n int) []bool { return trues(n) }

// SymDiff returns d(qkv).
func (op *Attention) SymDiff(ins G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	c := op.cfg
	b := &attentionBwd{base: newBase("AttentionBwd", []int{c.B * c.T, c.H * c.Parts() * c.HD}, 2, 2, 2), fwd: op}
	d, err := G.ApplyOp(b, ins[0], grad)
	return G.Nodes{d}, err
}

type attentionBwd struct {
	base
	fwd *Attention
	d   *tensor.Dense
}

func (op *attentionBwd) Do(vs ...G.Value) (G.Value, error) {
	c := op.fwd.cfg
	in, err := inputs(op.name, vs, c.B*c.T*c.H*c.Parts()*c.HD, c.B*c.T*c.H*c.HD)
	if err != nil {
		return nil, err
	}
	out := outBuf(&op.d, op.shape)
	op.fwd.backward(out.Float32s(), in[0], in[1])
	return out, nil
}

// backward computes dqkv from qkv and dout using the saved forward state
// (rotated, normalised q and k, o and the log-sum-exp): per (batch, head) and
// block of attnBlock query rows, P is recomputed from q kᵀ, dP = dO vᵀ,
// dS = P∘(dP − rowsum(dO∘o))/sqrt(hd), then dv += Pᵀ dO, dk += dSᵀ q and
// dq = dS k, each as one tile product (dv and dk as their transposes, dvᵀ +=
// dOᵀ P, so that P and dS are read in place). The blocks run last to first,
// so the first block's products (which cover every key) set dk and dv rather
// than add to zeroed buffers. dq, dk and dv are kept in the worker's scratch
// and written into dqkv row by row at the end, each row's parts in one pass.
// Without the gate and the exclusive step, dO is read from dout in place.
func (op *Attention) backward(dqkv, qkv, dout []float32) {
	c := op.cfg
	T, hd, H := c.T, c.HD, c.H
	stride := H * c.Parts() * hd
	scale := float32(1 / math.Sqrt(float64(hd)))
	br := min(attnBlock, T)
	per := 6*T*hd + T + 2*br*T + hd
	op.ensureScratch(per)
	op.pool.each(c.B*H, func(k, bh int) {
		sc, w := op.workerScratch(k, per)
		take := func(n int) []float32 { s := sc[:n:n]; sc = sc[n:]; return s }
		// dOs: dO when the gate or the exclusive step change it (else dO is
		// read in place from dout), then dk's rows; dKt, dVt: dk, dv
		// transposed (the products' outputs); dVx: the exclusive step's dv
		// term; dVr: dv's rows
		dOs, dQ, dKt, dVt, dVx, dVr := take(T*hd), take(T*hd), take(T*hd), take(T*hd), take(T*hd), take(T*hd)
		D, P, dS, sg := take(T), take(br*T), take(br*T), take(hd)
		b, h := bh/H, bh%H
		dO, ldo := dOs, hd
		if !c.Gate && !c.XSA {
			dO, ldo = dout[b*T*H*hd+h*hd:], H*hd
		}
		// epilogue backward: dO, dv (xsa), dg (gate)
		pf := op.rows >= KernelsAVX2
		qo, ko, vo := c.off(0, h), c.off(1, h), c.off(2, h)
		for i := 0; i < T; i++ {
			if pf && i+attnPrefetch < T { // dout's row, and v's for packBackward
				r := (b*T + i + attnPrefetch)
				prefetch(dout[r*H*hd+h*hd : r*H*hd+(h+1)*hd])
				prefetch(qkv[r*stride+vo : r*stride+vo+hd])
			}
			row := qkv[(b*T+i)*stride:]
			drow := dqkv[(b*T+i)*stride:]
			o := op.o[(bh*T+i)*hd : (bh*T+i+1)*hd]
			gy := dout[(b*T+i)*H*hd+h*hd : (b*T+i)*H*hd+(h+1)*hd]
			if !c.Gate && !c.XSA {
				D[i] = attnDot(op.rows, gy, o)
				continue
			}
			do := dOs[i*hd : (i+1)*hd]
			dv := dVx[i*hd : (i+1)*hd]
			copy(do, gy)
			var g []float32
			if c.Gate {
				g = row[c.off(3, h) : c.off(3, h)+hd]
				attnSigmoidRow(op.rows, sg, g)
			}
			if c.XSA {
				v := row[c.off(2, h) : c.off(2, h)+hd]
				nv := float32(math.Sqrt(float64(dot(v, v))))
				n := max(nv, xsaEps)
				// y1 = gated o; vn = v/n
				var a, cc float32 // a = y1.vn, cc = dy.vn
				for d := 0; d < hd; d++ {
					y1 := o[d]
					if g != nil {
						y1 *= sg[d]
					}
					a += y1 * v[d] / n
					cc += gy[d] * v[d] / n
				}
				// dvn = -a dy - cc y1; dy1 = dy - cc vn
				var vdv float32
				for d := 0; d < hd; d++ {
					y1 := o[d]
					if g != nil {
						y1 *= sg[d]
					}
					dvn := -a*gy[d] - cc*y1
					dv[d] = dvn // temporarily dvn
					vdv += v[d] / n * dvn
					do[d] = gy[d] - cc*v[d]/n
				}
				for d := 0; d < hd; d++ {
					if nv > xsaEps {
						dv[d] = (dv[d] - v[d]/n*vdv) / nv
					} else {
						dv[d] /= xsaEps
					}
				}
			}
			if c.Gate {
				dg := drow[c.off(3, h) : c.off(3, h)+hd]
				for d := 0; d < hd; d++ {
					s := sg[d]
					dg[d] = do[d] * o[d] * s * (1 - s)
					do[d] *= s
				}
			}
			D[i] = attnDot(op.rows, do, o)
		}
		// attention core backward, attnBlock query rows at a time, with
		// the probabilities recomputed from the saved log-sum-exp
		Q, K := op.qn[bh*T*hd:(bh+1)*T*hd], op.kn[bh*T*hd:(bh+1)*T*hd]
		smax, sinv := op.smax[bh*T:(bh+1)*T], op.sinv[bh*T:(bh+1)*T]
		V := qkv[b*T*stride+c.off(2, h):]
		w.packBackward(K, V, stride)
		last := (T - 1) / br * br
		for r0 := last; r0 >= 0; r0 -= br {
			rb := min(br, T-r0)
			n := r0 + rb
			w.qk(P, T, Q[r0*hd:], K, r0, rb)
			w.dov(dS, T, dO[r0*ldo:], ldo, V, stride, r0, rb)
			for li := 0; li < rb; li++ {
				i := r0 + li
				prow, srow := P[li*T:li*T+n], dS[li*T:li*T+n]
				softmaxBwdRow(op.rows, prow[:i+1], srow[:i+1], scale, smax[i], sinv[i], D[i], scale)
				clear(prow[i+1:])
				clear(srow[i+1:])
			}
			// the first block (r0 == last, n == T) sets dkᵀ and dvᵀ
			beta := float32(1)
			if r0 == last {
				beta = 0
			}
			if w.fma {
				w.accT(dVt, T, dO[r0*ldo:], ldo, P, T, r0, n, rb, beta)
				w.accT(dKt, T, Q[r0*hd:], hd, dS, T, r0, n, rb, beta)
			} else { // gonum: dv, dk as rows, in dVt's and dKt's buffers
				w.acc(dVt, hd, P, T, dO[r0*ldo:], ldo, n, rb, beta)
				w.acc(dKt, hd, dS, T, Q[r0*hd:], hd, n, rb, beta)
			}
			w.pv(dQ[r0*hd:], dS, T, K, hd, r0, rb)
		}
		dK, dV := dKt, dVt
		if w.fma {
			dK, dV = dOs, dVr
			transposeRows(dK, hd, dKt, T, hd, T)
			transposeRows(dV, hd, dVt, T, hd, T)
		}
		// QK-norm and RoPE backward, written straight into dqkv, and dv
		var cs, sn []float32
		parts, np := c.partRanges(h)
		for t := 0; t < T; t++ {
			drow := dqkv[(b*T+t)*stride:]
			if pf && t+attnPrefetch < T {
				ahead := dqkv[(b*T+t+attnPrefetch)*stride:]
				for _, r := range parts[:np] {
					prefetch(ahead[r[0]:r[1]])
				}
			}
			st := (bh*T + t) * hd
			if c.RoPE {
				cs, sn = op.cos[t*hd/2:(t+1)*hd/2], op.sin[t*hd/2:(t+1)*hd/2]
			}
			qkBwdRow(op.rows, drow[qo:qo+hd], dQ[t*hd:(t+1)*hd], op.qn[st:st+hd], cs, sn, op.rsq[bh*T+t], c.QKNorm, c.RoPE)
			qkBwdRow(op.rows, drow[ko:ko+hd], dK[t*hd:(t+1)*hd], op.kn[st:st+hd], cs, sn, op.rsk[bh*T+t], c.QKNorm, c.RoPE)
			dv := drow[vo : vo+hd]
			copy(dv, dV[t*hd:(t+1)*hd])
			if c.XSA {
				for d, x := range dVx[t*hd : (t+1)*hd] {
					dv[d] += x
				}
			}
		}
	})
}

// AttentionRef is the plain reference: per head, materialise q, k, v, the
// full masked T×T score matrix and softmax, in float64.
func AttentionRef(out, qkv []float32, c AttnConfig) {
	T, hd, H := c.T, c.HD, c.H
	stride := H * c.Parts() * hd
	var cos, sin []float32
	if c.RoPE {
		cos, sin = RopeTables(T, hd)
	}
	get := func(b, t, p, h int) []float32 {
		r := qkv[(b*T+t)*stride+c.off(p, h):]
		x := make([]float32, hd)
		copy(x, r[:hd])
		if p < 2 && c.RoPE {
			Rope(x, append([]float32(nil), x...), cos[t*hd/2:(t+1)*hd/2], sin[t*hd/2:(t+1)*hd/2])
		}
		if p < 2 && c.QKNorm {
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			rs := 1 / math.Sqrt(ss/float64(hd)+RMSEps)
			for i := range x {
				x[i] = float32(float64(x[i]) * rs)
			}
		}
		return x
	}
	for b := 0; b < c.B; b++ {
		for h := 0; h < H; h++ {
			att := make([][]float64, T)
			for i := 0; i < T; i++ {
				att[i] = make([]float64, T)
				qi := get(b, i, 0, h)
				for j := 0; j < T; j++ {
					if j > i {
						att[i][j] = math.Inf(-1)
						continue
					}
					kj := get(b, j, 1, h)
					var s float64
					for d := range qi {
						s += float64(qi[d]) * float64(kj[d])
					}
					att[i][j] = s / math.Sqrt(float64(hd))
				}
				m := math.Inf(-1)
				for _, s := range att[i] {
					m = math.Max(m, s)
				}
				var l float64
				for j := range att[i] {
					att[i][j] = math.Exp(att[i][j] - m)
					l += att[i][j]
				}
				y := make([]float64, hd)
				for j := 0; j <= i; j++ {
					vj := get(b, j, 2, h)
					for d := range y {
						y[d] += att[i][j] / l * float64(vj[d])
					}
				}
				if c.Gate {
					g := get(b, i, 3, h)
					for d := range y {
						y[d] *= 1 / (1 + math.Exp(-float64(g[d])))
					}
				}
				if c.XSA {
					v := get(b, i, 2, h)
					var n, yv float64
					for d := range v {
						n += float64(v[d]) * float64(v[d])
					}
					n = math.Max(math.Sqrt(n), xsaEps)
					for d := range v {
						yv += y[d] * float64(v[d]) / n
					}
					for d := range y {
						y[d] -= yv * float64(v[d]) / n
					}
				}
				for d := range y {
					out[(b*T+i)*H*hd+h*hd+d] = float32(y[d])
				}
			}
		}
	}
}

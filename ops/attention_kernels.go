package ops

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Tile kernels of the fused attention op. Every product goes through gonum's
// Sgemm on tiles of at most gemmTile×gemmTile outputs: gonum runs a product
// of fewer than 4 such blocks serially on the calling goroutine (no
// goroutines, no allocation), with its assembly dot/axpy kernels, so many
// attention workers can call it at once. OpenBLAS (gorgonia.WhichBLAS) is not
// used here: its threads spin and its calls must be serialised.

// gemmTile is gonum's Sgemm block size; a product of one such block of C is
// computed serially.
const gemmTile = 64

// attnBlock is the number of query rows processed together in the attention
// kernels (a score tile is attnBlock × T).
const attnBlock = 64

var sgemmImpl gonum.Implementation

// gemm is C = alpha op(A) op(B) + beta C (row-major, m×n, inner k), split into
// output tiles of at most gemmTile×gemmTile so that gonum computes each
// serially on this goroutine.
func gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	for i0 := 0; i0 < m; i0 += gemmTile {
		mb := min(gemmTile, m-i0)
		var ai []float32
		if tA {
			ai = a[i0:]
		} else {
			ai = a[i0*lda:]
		}
		for j0 := 0; j0 < n; j0 += gemmTile {
			nb := min(gemmTile, n-j0)
			var bj []float32
			if tB {
				bj = b[j0*ldb:]
			} else {
				bj = b[j0:]
			}
			sgemmImpl.Sgemm(ta, tb, mb, nb, k, alpha, ai, lda, bj, ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}

// causalNT sets C[i, j] = alpha a_i·b_j for the rb query rows i whose
// absolute positions are r0+i (a starts at row r0, b at row 0) and the
// unmasked keys j <= r0+i; k is the vector length. Masked entries of C are
// left as they were.
func causalNT(c []float32, ldc int, a []float32, lda int, b []float32, ldb int, r0, rb, k int, alpha float32) {
	if r0 > 0 { // keys before the block: all unmasked
		gemm(false, true, rb, r0, k, alpha, a, lda, b, ldb, 0, c, ldc)
	}
	for i := 0; i < rb; i++ { // the diagonal block, row by row
		gemm(false, true, 1, i+1, k, alpha, a[i*lda:], lda, b[r0*ldb:], ldb, 0, c[i*ldc+r0:], ldc)
	}
}

// expf is e^x in float32 (Cephes expf: range reduction by ln 2 and a degree-6
// polynomial; relative error about 1e-7). It returns 0 below -87.3 (where
// e^x leaves the normal float32 range) and +Inf above 88.7; NaN stays NaN.
func expf(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	if x != x || x > 88.72283 {
		return x * float32(math.Inf(1)) // NaN or +Inf
	}
	if x < -87.33654 {
		return 0
	}
	t := x * log2e
	var n int32
	if t < 0 {
		n = int32(t - 0.5)
	} else {
		n = int32(t + 0.5)
	}
	fn := float32(n)
	r := x - fn*ln2hi - fn*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	// scale by 2^n in two steps so that n = 128 (x near 88.7) does not overflow the exponent
	if n > 127 {
		return p * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	if n < -126 {
		return p * math.Float32frombits(uint32(n+126+127)<<23) * 0x1p-126
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// knr is the column width of the micro-kernels' register tile (and of
// packB's panels); kmrMax bounds their row count.
const knr, kmrMax = 16, 16

// kmr is the row count of the micro-kernel that gemmPacked runs, microKern:
// kern16x16z where the CPU has AVX-512F, kern6x16 otherwise (pickMicroKernel).
// Both sum each element of C in the same order, so the choice does not change
// results. Set once at start-up, read-only after.
var kmr, microKern = pickMicroKernel()

func up16(x int) int { return (x + knr - 1) / knr * knr }

// packB copies op(B) (k×n; B[p][j] = b[p*ldb+j], or b[j*ldb+p] when tB) into
// 16-column panels for kern6x16: panel q at pb[q*16*k:], element [p][j] at
// p*16+j, the last panel zero-padded. pb needs k*up16(n) floats.
func packB(pb []float32, tB bool, k, n int, b []float32, ldb int) {
	for j0 := 0; j0 < n; j0 += knr {
		cw := min(knr, n-j0)
		panel := pb[j0*k : (j0+knr)*k]
		if tB {
			if cw == knr {
				packPanelT16(panel, k, b[j0*ldb:], ldb)
				continue
			}
			for j := 0; j < cw; j++ {
				for p, v := range b[(j0+j)*ldb : (j0+j)*ldb+k] {
					panel[p*knr+j] = v
				}
			}
			for p := 0; p < k; p++ {
				clear(panel[p*knr+cw : (p+1)*knr])
			}
			continue
		}
		for p := 0; p < k; p++ {
			dst := panel[p*knr : (p+1)*knr]
			copy(dst, b[p*ldb+j0:p*ldb+j0+cw])
			clear(dst[cw:])
		}
	}
}

// packPanelT16 sets panel[p*16+j] = b[j*ldb+p] for j < 16, p < k: one full
// 16-column panel of a transposed B.
func packPanelT16(panel []float32, k int, b []float32, ldb int) {
	packT16(panel, knr, k, b, ldb)
}

// packT16 sets dst[q*lddst+j] = src[j*ld+q] for j < 16, q < count: a 16-row
// strip of src transposed. It writes dst in order (16 contiguous stores per
// q, one load from each of the 16 rows) instead of scattering each source row
// down a column, which cost ~9 % of a P1-Silia step as packB's transposed
// panels and ~4 % as gemmPacked's transposed A (CPU profiles, 2026-12-01).
func packT16(dst []float32, lddst, count int, src []float32, ld int) {
	if count <= 0 {
		return
	}
	_ = src[15*ld+count-1]
	_ = dst[(count-1)*lddst+15]
	if haveFMA && count >= 8 { // register transposes, then the rest here
		c8 := count &^ 7
		packT16x8(dst, lddst, src, ld, c8)
		if c8 == count {
			return
		}
		dst, src, count = dst[c8*lddst:], src[c8:], count-c8
	}
	r0, r1, r2, r3 := src[0*ld:0*ld+count], src[1*ld:1*ld+count], src[2*ld:2*ld+count], src[3*ld:3*ld+count]
	r4, r5, r6, r7 := src[4*ld:4*ld+count], src[5*ld:5*ld+count], src[6*ld:6*ld+count], src[7*ld:7*ld+count]
	r8, r9, r10, r11 := src[8*ld:8*ld+count], src[9*ld:9*ld+count], src[10*ld:10*ld+count], src[11*ld:11*ld+count]
	r12, r13, r14, r15 := src[12*ld:12*ld+count], src[13*ld:13*ld+count], src[14*ld:14*ld+count], src[15*ld:15*ld+count]
	for q := 0; q < count; q++ {
		d := (*[16]float32)(dst[q*lddst : q*lddst+16])
		d[0], d[1], d[2], d[3] = r0[q], r1[q], r2[q], r3[q]
		d[4], d[5], d[6], d[7] = r4[q], r5[q], r6[q], r7[q]
		d[8], d[9], d[10], d[11] = r8[q], r9[q], r10[q], r11[q]
		d[12], d[13], d[14], d[15] = r12[q], r13[q], r14[q], r15[q]
	}
}

// gemmPacked is C = op(A)·B + beta C (beta 0 or 1; m×n, inner k) on the
// AVX2/FMA micro-kernel, serially on this goroutine. B is packed by packB
// with panel stride ks >= k (only its first k rows are used). A is read in
// place when it is not transposed; a transposed A and the last, short row
// panel go through pa (kmrMax*knr floats for the edge tile, then kmr*k). Causal limits, ignored when negative:
// for the 6-row panel of C starting at row i0 with mb rows, only the 16-wide
// column panels starting below nLim+i0+mb are computed (the caller discards
// the entries past its diagonal), only the terms p < kLim+i0+mb are summed
// (the caller guarantees A is zero past them), and, with kLo >= 0, only the
// terms p >= i0-kLo (the caller guarantees A is zero before them: skipping
// exact zeros leaves every sum's bits as they were). With beta 0 the full
// tiles are stored by the micro-kernel's storing twin (microKernSet: C is not
// cleared first, same bits), and the column panels that nLim skips are left
// as they were, not zeroed.
func gemmPacked(pa []float32, tA bool, m, n, k, nLim, kLim, kLo int, a []float32, lda int, pb []float32, ks int, beta float32, c []float32, ldc int) {
	set := beta == 0
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if set {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	kern := microKern
	if set {
		kern = microKernSet(kmr)
	}
	// The edge tile comes from pa too: a local array would escape to the heap
	// through the micro-kernel's function value (one allocation per call).
	tmp, pa := pa[:kmrMax*knr], pa[kmrMax*knr:]
	for i0 := 0; i0 < m; i0 += kmr {
		mb := min(kmr, m-i0)
		kk, nn := k, n
		if kLim >= 0 {
			kk = min(k, kLim+i0+mb)
		}
		if nLim >= 0 {
			nn = min(n, nLim+i0+mb)
		}
		p0 := 0 // the first term summed
		if kLo >= 0 {
			p0 = min(max(0, i0-kLo), kk)
		}
		if kk <= p0 || nn <= 0 {
			if set { // nothing to sum: zero
				for i := i0; i < i0+mb; i++ {
					clear(c[i*ldc : i*ldc+n])
				}
			}
			continue
		}
		var ap []float32
		ld := lda
		switch {
		case tA:
			ap, ld = pa[:kmr*kk], kk
			p16 := kk / 16 * 16
			for q0 := p0 &^ 15; q0 < p16; q0 += 16 {
				packT16(ap[q0:], kk, mb, a[q0*lda+i0:], lda)
			}
			for p := max(p16, p0); p < kk; p++ {
				for i, v := range a[p*lda+i0 : p*lda+i0+mb] {
					ap[i*kk+p] = v
				}
			}
			clear(ap[mb*kk:])
		case mb < kmr:
			ap, ld = pa[:kmr*kk], kk
			for i := 0; i < mb; i++ {
				copy(ap[i*kk:(i+1)*kk], a[(i0+i)*lda:])
			}
			clear(ap[mb*kk:])
		default:
			ap = a[i0*lda : (i0+kmr-1)*lda+kk] // bounds for the kernel's reads
		}
		for j0 := 0; j0 < nn; j0 += knr {
			panel := pb[j0*ks+p0*knr : j0*ks+kk*knr]
			cw := min(knr, n-j0)
			if mb == kmr && cw == knr {
				_ = c[(i0+kmr-1)*ldc+j0+knr-1]
				kern(kk-p0, &ap[p0], ld, &panel[0], &c[i0*ldc+j0], ldc)
				continue
			}
			clear(tmp[:])
			microKern(kk-p0, &ap[p0], ld, &panel[0], &tmp[0], knr)
			storeEdge(c[i0*ldc+j0:], ldc, tmp, mb, cw, set)
		}
	}
}

// gemmCausalT sets c (m × n, row stride ldc) to a·b + beta c (beta 0 or 1)
// on the micro-kernels that read B in place, serially on this goroutine: a
// is m × k, row-major (lda), b is k × n with row stride ldb, and b[p][j] is
// zero for j > r0+p (a causal block of P or dS whose rows are the queries
// r0..r0+k), so for the 16 columns at j0 the terms p < j0-r0 are skipped
// (exact zeros: the bits are those of the full sums). pa holds the edge tile
// and short row panels (kmrMax*knr + kmr*k floats); edge holds a last,
// narrow column panel of b (k*knr floats).
func gemmCausalT(pa, edge []float32, m, n, k, r0 int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	set := beta == 0
	kern, add := microKernB(kmr, set), microKernB(kmr, false)
	tmp, pa := pa[:kmrMax*knr], pa[kmrMax*knr:]
	for i0 := 0; i0 < m; i0 += kmr {
		mb := min(kmr, m-i0)
		var ap []float32
		ld := lda
		if mb < kmr {
			ap, ld = pa[:kmr*k], k
			for i := 0; i < mb; i++ {
				copy(ap[i*k:(i+1)*k], a[(i0+i)*lda:])
			}
			clear(ap[mb*k:])
		} else if k > 0 {
			ap = a[i0*lda : (i0+kmr-1)*lda+k] // bounds for the kernel's reads
		}
		for j0 := 0; j0 < n; j0 += knr {
			cw := min(knr, n-j0)
			p0 := min(max(0, j0-r0), k)
			if p0 == k { // nothing to sum
				if set {
					for i := i0; i < i0+mb; i++ {
						clear(c[i*ldc+j0 : i*ldc+j0+cw])
					}
				}
				continue
			}
			bp, ldbp := b[p0*ldb+j0:(k-1)*ldb+j0+cw], ldb
			if cw < knr { // pack the narrow panel, zero-padded, so no read passes b's rows
				for p := p0; p < k; p++ {
					dst := edge[(p-p0)*knr : (p-p0+1)*knr]
					copy(dst, b[p*ldb+j0:p*ldb+j0+cw])
					clear(dst[cw:])
				}
				bp, ldbp = edge[:(k-p0)*knr], knr
			}
			if mb == kmr && cw == knr {
				_ = c[(i0+kmr-1)*ldc+j0+knr-1]
				kern(k-p0, &ap[p0], ld, &bp[0], ldbp, &c[i0*ldc+j0], ldc)
				continue
			}
			clear(tmp[:])
			add(k-p0, &ap[p0], ld, &bp[0], ldbp, &tmp[0], knr)
			storeEdge(c[i0*ldc+j0:], ldc, tmp, mb, cw, set)
		}
	}
}

// transposeRows sets dst[q*lddst+i] = src[i*ld+q] for i < rows, q < count
// (packT16 on each 16 rows, then a plain loop).
func transposeRows(dst []float32, lddst int, src []float32, ld, rows, count int) {
	r16 := rows &^ 15
	for i0 := 0; i0 < r16; i0 += 16 {
		packT16(dst[i0:], lddst, count, src[i0*ld:], ld)
	}
	for i := r16; i < rows; i++ {
		for q, v := range src[i*ld : i*ld+count] {
			dst[q*lddst+i] = v
		}
	}
}

// attnTiles is one attention worker's tile products for one (batch, head)
// at a time, with sequence length t and head dim hd: on the AVX2/FMA kernel
// (fma) with B operands packed once per head into the worker's buffers, or on
// gonum's serial Sgemm. Scores are raw dot products (not scaled).
type attnTiles struct {
	fma   bool
	t, hd int
	// pa: A panel; kt: kᵀ (hd × t); vt: vᵀ (hd × t); kv: v or k (t × hd);
	// blk: a block of rows of dO or q, transposed (hd × attnBlock); edge:
	// gemmCausalT's narrow panel (attnBlock × 16).
	pa, kt, vt, kv, blk, edge []float32
}

// attnPackSize is the size of one worker's packing buffers.
func attnPackSize(t, hd int) int {
	br := min(attnBlock, t)
	return kmrMax*knr + kmr*max(t, hd) + 2*hd*up16(t) + t*up16(hd) + br*up16(hd) + br*knr
}

// newAttnTiles carves a worker's packing buffers from buf (attnPackSize).
func newAttnTiles(fma bool, t, hd int, buf []float32) attnTiles {
	w := attnTiles{fma: fma, t: t, hd: hd}
	if !fma {
		return w
	}
	take := func(n int) []float32 { s := buf[:n:n]; buf = buf[n:]; return s }
	w.pa = take(kmrMax*knr + kmr*max(t, hd))
	w.kt, w.vt = take(hd*up16(t)), take(hd*up16(t))
	w.kv = take(t * up16(hd))
	w.blk = take(min(attnBlock, t) * up16(hd))
	w.edge = take(min(attnBlock, t) * knr)
	return w
}

// packForward packs kᵀ and v (ldv: v's row stride) of one head.
func (w attnTiles) packForward(k, v []float32, ldv int) {
	if w.fma {
		packB(w.kt, true, w.hd, w.t, k, w.hd)
		if w.hd%knr != 0 { // else pv reads v in place
			packB(w.kv, false, w.t, w.hd, v, ldv)
		}
	}
}

// gemmNNInPlace sets c (m × n, n a multiple of 16) = a · b with b (k × n,
// row stride ldb) read in place by the micro-kernels' kern*B twins, serially
// on this goroutine; only the terms p < kLim+i0+mb of the row panel at i0
// are summed (a is zero past them). The same sums as gemmPacked on packed b
// (same bits); pa as gemmPacked's.
func gemmNNInPlace(pa []float32, m, n, k, kLim int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	set, add := microKernB(kmr, true), microKernB(kmr, false)
	tmp, pa := pa[:kmrMax*knr], pa[kmrMax*knr:]
	for i0 := 0; i0 < m; i0 += kmr {
		mb := min(kmr, m-i0)
		kk := min(k, kLim+i0+mb)
		var ap []float32
		ld := lda
		if mb < kmr {
			ap, ld = pa[:kmr*kk], kk
			for i := 0; i < mb; i++ {
				copy(ap[i*kk:(i+1)*kk], a[(i0+i)*lda:])
			}
			clear(ap[mb*kk:])
		} else {
			ap = a[i0*lda : (i0+kmr-1)*lda+kk]
		}
		for j0 := 0; j0 < n; j0 += knr {
			bp := b[j0 : (kk-1)*ldb+j0+knr]
			if mb == kmr {
				_ = c[(i0+kmr-1)*ldc+j0+knr-1]
				set(kk, &ap[0], ld, &bp[0], ldb, &c[i0*ldc+j0], ldc)
				continue
			}
			clear(tmp[:])
			add(kk, &ap[0], ld, &bp[0], ldb, &tmp[0], knr)
			for i := 0; i < mb; i++ {
				copy(c[(i0+i)*ldc+j0:(i0+i)*ldc+j0+knr], tmp[i*knr:])
			}
		}
	}
}

// packBackward packs kᵀ, vᵀ and (when pv cannot read it in place) k of one
// head.
func (w attnTiles) packBackward(k, v []float32, ldv int) {
	if w.fma {
		packB(w.kt, true, w.hd, w.t, k, w.hd)
		packB(w.vt, true, w.hd, w.t, v, ldv)
		if w.hd%knr != 0 {
			packB(w.kv, false, w.t, w.hd, k, w.hd)
		}
	}
}

// qk sets s[i, j] = q_{r0+i}·k_j for the rb rows of the block at r0 (q
// starts at row r0) and the keys j <= r0+i; s is rb × (r0+rb) with row
// stride lds, its masked entries to be discarded.
func (w attnTiles) qk(s []float32, lds int, q, k []float32, r0, rb int) {
	if w.fma {
		gemmPacked(w.pa, false, rb, r0+rb, w.hd, r0, -1, -1, q, w.hd, w.kt, w.hd, 0, s, lds)
		return
	}
	causalNT(s, lds, q, w.hd, k, w.hd, r0, rb, w.hd, 1)
}

// dov is qk for dO (row stride ldo) and v (row stride ldv):
// dp[i, j] = dO_{r0+i}·v_j.
func (w attnTiles) dov(dp []float32, lds int, dO []float32, ldo int, v []float32, ldv, r0, rb int) {
	if w.fma {
		gemmPacked(w.pa, false, rb, r0+rb, w.hd, r0, -1, -1, dO, ldo, w.vt, w.hd, 0, dp, lds)
		return
	}
	causalNT(dp, lds, dO, ldo, v, ldv, r0, rb, w.hd, 1)
}

// pv sets o (rb × hd) = p · x[0:r0+rb] where p (row stride lds) is zero past
// each row's diagonal; x is v (row stride ldx) or k, read in place when hd is
// a multiple of 16, else packed by packForward or packBackward.
func (w attnTiles) pv(o []float32, p []float32, lds int, x []float32, ldx, r0, rb int) {
	if w.fma && w.hd%knr == 0 {
		gemmNNInPlace(w.pa, rb, w.hd, r0+rb, r0, p, lds, x, ldx, o, w.hd)
		return
	}
	if w.fma {
		gemmPacked(w.pa, false, rb, w.hd, r0+rb, -1, r0, -1, p, lds, w.kv, w.t, 0, o, w.hd)
		return
	}
	gemm(false, false, rb, w.hd, r0+rb, 1, p, lds, x, ldx, 0, o, w.hd)
}

// acc sets c (n × hd, row stride ldc) to p[0:rb, 0:n]ᵀ · x[0:rb] (row stride
// ldx) + beta c on gonum's Sgemm: dv, dk for the generic class (accT is the
// vector classes').
func (w attnTiles) acc(c []float32, ldc int, p []float32, lds int, x []float32, ldx, n, rb int, beta float32) {
	gemm(true, false, n, w.hd, rb, 1, p, lds, x, ldx, beta, c, ldc)
}

// accT sets ct (hd × n, row stride ldc: the transpose of dv or dk) to
// x[0:rb]ᵀ · p[0:rb, 0:n] + beta ct, beta 0 or 1, where x (row stride ldx) is
// the block's rows of dO or q and p's rows (row stride lds) are those of the
// query block at r0, zero past their diagonal (so key j gets nothing from
// the block's rows before j-r0: skipped). Computing the transpose lets the
// kernel read p in place; only the small block of x is transposed.
func (w attnTiles) accT(ct []float32, ldc int, x []float32, ldx int, p []float32, lds int, r0, n, rb int, beta float32) {
	if w.fma {
		transposeRows(w.blk, rb, x, ldx, rb, w.hd)
		gemmCausalT(w.pa, w.edge, w.hd, n, rb, r0, w.blk, rb, p, lds, beta, ct, ldc)
		return
	}
	gemm(true, false, w.hd, n, rb, 1, x, ldx, p, lds, beta, ct, ldc)
}

// storeEdge writes an edge tile's first mb rows and cw columns from tmp
// (row stride knr) into c (row stride ldc): stored when set, added otherwise.
func storeEdge(c []float32, ldc int, tmp []float32, mb, cw int, set bool) {
	for i := 0; i < mb; i++ {
		row := c[i*ldc : i*ldc+cw]
		if set {
			copy(row, tmp[i*knr:])
			continue
		}
		for j := range row {
			row[j] += tmp[i*knr+j]
		}
	}
}

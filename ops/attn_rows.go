package ops

import "math"

// Row kernels of the fused attention op: the work on one q, k or o row of
// one head outside the tile products. Each takes the kernel class k; the
// generic class is the plain Go loop written here, which is the reference
// the vector classes are held to (TestAttnRowKernels). The AVX2/FMA kernels
// (attn_rows_amd64.s) do the first multiple of 8 elements of each half-row
// (or row) and the Go loop the rest, so any length works. The q/k/o row
// kernels are 8-lane only: at the head dims in use (hd 16-128, half-rows of
// 8-64) 16-lane variants would save a few instructions per row, not worth a
// third path, so the avx2 and avx512 classes give the same bits there. The
// softmax rows (up to T long, exp-bound) have AVX-512 kernels
// (attn_rows_z_amd64.s) that also do the remainder, under a lane mask.

// attnExpSum sets x[j] = e^(a·x[j] − b) (Cephes expf) and returns the sum of
// the results: the softmax row of the forward. AVX-512 sums in 16 lanes
// (the remainder under a mask), AVX2 in 8 (the remainder on a copy padded
// with −Inf/a, which adds 0), generic in order, so the classes' sums differ in
// their last bits.
func attnExpSum(k Kernels, x []float32, a, b float32) float32 {
	if k >= KernelsAVX512 {
		return expSum16(x, a, b)
	}
	var s float32
	j0 := 0
	if k >= KernelsAVX2 {
		if j0 = len(x) &^ 7; j0 > 0 {
			s = expScaled8(x[:j0], a, b)
		}
		if j0 < len(x) && a != 0 { // the rest through the same kernel, padded
			var buf [8]float32
			pad := float32(math.Inf(-1)) // a·pad = −Inf: e^−Inf = 0 adds nothing
			if a < 0 {
				pad = -pad
			}
			n := copy(buf[:], x[j0:])
			for j := n; j < 8; j++ {
				buf[j] = pad
			}
			s += expScaled8(buf[:], a, b)
			copy(x[j0:], buf[:n])
			return s
		}
	}
	for j := j0; j < len(x); j++ {
		p := expf(a*x[j] - b)
		x[j] = p
		s += p
	}
	return s
}

// ropeNormRow sets y = RoPE(x) for one row (hd = 2·len(cos); cos, sin: the
// row's position's tables), y[i] = x[i]c + x[i+d]s, y[i+d] = x[i+d]c − x[i]s,
// and with norm scales y to unit RMS, returning 1/rms = 1/sqrt(mean(y²) +
// RMSEps) (sum of squares in float64); without norm it returns 1. y and x
// may alias.
func ropeNormRow(k Kernels, y, x, cos, sin []float32, norm bool) float32 {
	d := len(cos)
	y, x, sin = y[:2*d], x[:2*d], sin[:d]
	if norm && k >= KernelsAVX2 && d >= 8 && d%8 == 0 {
		return ropeNorm8(y, x, cos, sin, RMSEps)
	}
	var ss float64
	i0 := 0
	if k >= KernelsAVX2 && d >= 8 {
		i0 = d &^ 7
		ss = ropeSumSq8(y, x, cos, sin)
	}
	for i := i0; i < d; i++ {
		x1, x2 := x[i], x[i+d]
		y1, y2 := x1*cos[i]+x2*sin[i], x2*cos[i]-x1*sin[i]
		y[i], y[i+d] = y1, y2
		ss += float64(y1)*float64(y1) + float64(y2)*float64(y2)
	}
	if !norm {
		return 1
	}
	rs := float32(1 / math.Sqrt(ss/float64(2*d)+RMSEps))
	attnScaleRow(k, y, rs)
	return rs
}

// attnDot is Σ a[i]·b[i] over len(a) (b at least as long): gonum's Sdot
// (the dot of the generic class, as before), on AVX2 two 8-lane FMA
// accumulators and the remainder in order.
func attnDot(k Kernels, a, b []float32) float32 {
	b = b[:len(a)]
	if k < KernelsAVX2 {
		return dot(a, b)
	}
	i0 := len(a) &^ 7
	s := attnDot8(a[:i0], b[:i0])
	for i := i0; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// attnSigmoidRow sets s[i] = 1/(1 + e^(−g[i])) (len(g) elements): the
// attention gate. Generic: sigmoid (float64 math.Exp); vector classes: the
// Cephes expf of attnExpSum, then one float32 division per element.
func attnSigmoidRow(k Kernels, s, g []float32) {
	s = s[:len(g)]
	if k < KernelsAVX2 {
		for i, v := range g {
			s[i] = sigmoid(v)
		}
		return
	}
	copy(s, g)
	attnExpSum(k, s, -1, 0)
	for i, e := range s {
		s[i] = 1 / (1 + e)
	}
}

// attnScaleRow sets x[i] *= s.
func attnScaleRow(k Kernels, x []float32, s float32) {
	i0 := 0
	if k >= KernelsAVX2 {
		i0 = len(x) &^ 7
		attnScale8(x[:i0], s)
	}
	for i := i0; i < len(x); i++ {
		x[i] *= s
	}
}

// attnScaleCopyRow sets o[i] *= s and y[i] = o[i] (len(o) elements).
func attnScaleCopyRow(k Kernels, y, o []float32, s float32) {
	y = y[:len(o)]
	i0 := 0
	if k >= KernelsAVX2 {
		i0 = len(o) &^ 7
		attnScaleTo8(y[:i0], o[:i0], s)
	}
	for i := i0; i < len(o); i++ {
		o[i] *= s
		y[i] = o[i]
	}
}

// attnRowMax returns the largest element of x (len(x) > 0; NaNs: unspecified
// which element is returned, as any shift of a row with a NaN gives NaNs).
func attnRowMax(k Kernels, x []float32) float32 {
	m := x[0]
	i0 := 1
	if k >= KernelsAVX2 && len(x) >= 8 {
		i0 = len(x) &^ 7
		m = attnMax8(x[:i0])
	}
	for _, v := range x[i0:] {
		if v > m {
			m = v
		}
	}
	return m
}

// qkBwdRow writes into dst the gradient of one q or k row before RoPE and
// QK-norm, from dx, the gradient of the rotated, normalised row xn with
// 1/rms rs (both saved by the forward): the norm's backward dx' = rs·(dx −
// xn·mean(dx∘xn)) (with norm), then RoPE's transpose dst[i] = dx'[i]c −
// dx'[i+d]s, dst[i+d] = dx'[i]s + dx'[i+d]c (with rope; cos, sin as in
// ropeNormRow), else a copy. dx is not changed; dst must not alias it.
func qkBwdRow(k Kernels, dst, dx, xn, cos, sin []float32, rs float32, norm, rope bool) {
	hd := len(dx)
	dst = dst[:hd]
	var m float32
	if norm {
		xn = xn[:hd]
		m = attnDot(k, dx, xn) / float32(hd)
	}
	if !rope {
		if !norm {
			copy(dst, dx)
			return
		}
		for i, v := range dx {
			dst[i] = rs * (v - xn[i]*m)
		}
		return
	}
	d := len(cos)
	sin = sin[:d]
	_ = dx[2*d-1]
	i0 := 0
	if k >= KernelsAVX2 && d >= 8 {
		i0 = d &^ 7
		if norm {
			normRopeBwd8(dst, dx, xn, cos, sin, rs, m)
		} else {
			ropeBwd8(dst, dx, cos, sin)
		}
	}
	for i := i0; i < d; i++ {
		d1, d2 := dx[i], dx[i+d]
		if norm {
			d1, d2 = rs*(d1-xn[i]*m), rs*(d2-xn[i+d]*m)
		}
		dst[i], dst[i+d] = d1*cos[i]-d2*sin[i], d1*sin[i]+d2*cos[i]
	}
}

// softmaxBwdRow recomputes one row of probabilities from its raw scores, row
// max and 1/sum, p[j] = e^(a·p[j] − b)·c, and turns dP into dS in place,
// ds[j] = p[j]·(ds[j] − di)·scale, for j < len(p) (Cephes expf: every
// class computes the same exponentials as attnExpSum's).
func softmaxBwdRow(k Kernels, p, ds []float32, a, b, c, di, scale float32) {
	ds = ds[:len(p)]
	if k >= KernelsAVX512 {
		softmaxBwd16(p, ds, a, b, c, di, scale)
		return
	}
	j0 := 0
	if k >= KernelsAVX2 {
		j0 = len(p) &^ 7
		softmaxBwd8(p[:j0], ds[:j0], a, b, c, di, scale)
		if j0 < len(p) { // the rest through the same kernel, on a copy
			var pb, db [8]float32
			n := copy(pb[:], p[j0:])
			copy(db[:], ds[j0:])
			softmaxBwd8(pb[:], db[:], a, b, c, di, scale)
			copy(p[j0:], pb[:n])
			copy(ds[j0:], db[:n])
			return
		}
	}
	for j := j0; j < len(p); j++ {
		e := expf(a*p[j]-b) * c
		p[j], ds[j] = e, e*(ds[j]-di)*scale
	}
}

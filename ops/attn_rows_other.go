//go:build !amd64

package ops

import "math"

// Plain-Go twins of the amd64 attention row kernels (never called here: only
// the generic class exists off amd64). Same contract as attn_rows_amd64.go.

func ropeSumSq8(y, x, cos, sin []float32) float64 {
	d := len(cos)
	var ss float64
	for i := 0; i < d&^7; i++ {
		x1, x2 := x[i], x[i+d]
		y1, y2 := x1*cos[i]+x2*sin[i], x2*cos[i]-x1*sin[i]
		y[i], y[i+d] = y1, y2
		ss += float64(y1)*float64(y1) + float64(y2)*float64(y2)
	}
	return ss
}

func ropeNorm8(y, x, cos, sin []float32, eps float64) float32 {
	d := len(cos)
	ss := ropeSumSq8(y, x, cos, sin)
	rs := float32(1 / math.Sqrt(ss/float64(2*d)+eps))
	for i := range y[:2*d] {
		y[i] *= rs
	}
	return rs
}

func attnDot8(a, b []float32) float32 {
	var s float32
	for i, v := range a[:len(a)&^7] {
		s += v * b[i]
	}
	return s
}

func attnScale8(x []float32, s float32) {
	for i := range x[:len(x)&^7] {
		x[i] *= s
	}
}

func attnScaleTo8(y, o []float32, s float32) {
	for i := range o[:len(o)&^7] {
		o[i] *= s
		y[i] = o[i]
	}
}

func attnMax8(x []float32) float32 {
	m := x[0]
	for _, v := range x[:len(x)&^7] {
		m = max(m, v)
	}
	return m
}

func normRopeBwd8(dst, dx, xn, cos, sin []float32, rs, m float32) {
	d := len(cos)
	for i := 0; i < d&^7; i++ {
		d1, d2 := rs*(dx[i]-xn[i]*m), rs*(dx[i+d]-xn[i+d]*m)
		dst[i], dst[i+d] = d1*cos[i]-d2*sin[i], d1*sin[i]+d2*cos[i]
	}
}

func ropeBwd8(dst, dx, cos, sin []float32) {
	d := len(cos)
	for i := 0; i < d&^7; i++ {
		d1, d2 := dx[i], dx[i+d]
		dst[i], dst[i+d] = d1*cos[i]-d2*sin[i], d1*sin[i]+d2*cos[i]
	}
}

func packT16x8(dst []float32, lddst int, src []float32, ld, count int) {
	for q := 0; q < count&^7; q++ {
		for j := 0; j < 16; j++ {
			dst[q*lddst+j] = src[j*ld+q]
		}
	}
}

func prefetch(x []float32) {}

func softmaxBwd8(p, ds []float32, a, b, c, di, scale float32) {
	for j := range p[:len(p)&^7] {
		e := expf(a*p[j]-b) * c
		p[j], ds[j] = e, e*(ds[j]-di)*scale
	}
}

func expSum16(x []float32, a, b float32) float32 {
	var s float32
	for j, v := range x {
		x[j] = expf(a*v - b)
		s += x[j]
	}
	return s
}

func softmaxBwd16(p, ds []float32, a, b, c, di, scale float32) {
	for j := range p {
		e := expf(a*p[j]-b) * c
		p[j], ds[j] = e, e*(ds[j]-di)*scale
	}
}

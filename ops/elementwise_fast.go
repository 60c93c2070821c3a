package ops

// vecMul sets d = a·b and vecAdd d = a+b element-wise (len(a), len(b) ≥
// len(d)): single float32 operations, so the AVX blocks and the scalar tail
// give exactly the plain loop's result. Large vectors are split over
// Workers() goroutines.
func vecMul(d, a, b []float32) { vecOp(d, a, b, true) }

// vecAdd sets d = a+b element-wise (see vecMul).
func vecAdd(d, a, b []float32) { vecOp(d, a, b, false) }

func vecOp(d, a, b []float32, mul bool) {
	parallelFor(len(d), 1<<15, func(_, lo, hi int) {
		dd, aa, bb := d[lo:hi], a[lo:hi], b[lo:hi]
		j := 0
		if haveFMA {
			if mul {
				vecMul8(dd, aa, bb)
			} else {
				vecAdd8(dd, aa, bb)
			}
			j = len(dd) / 8 * 8
		}
		for ; j < len(dd); j++ {
			if mul {
				dd[j] = aa[j] * bb[j]
			} else {
				dd[j] = aa[j] + bb[j]
			}
		}
	})
}

package runner

import "github.com/tinyscale/tinyscale/ops"

// adamw4 is adamWCoef.update on n (a multiple of 4) elements in AVX2 float64
// lanes, bit-identical to the Go loop (adamw_amd64.s).
//
//go:noescape
func adamw4(value, grad, m, v *float32, n int, c *adamWCoef)

// adamVector says whether AdamW runs adamw4: the ops' kernel class of this
// process (ops.CPU, TINYSCALE_CPU) is avx2 or above. Set once at start-up.
var adamVector = adamVectorFor(ops.CPU())

func adamVectorFor(k ops.Kernels, _ error) bool { return k >= ops.KernelsAVX2 }

// updateVector runs the first len(grad)&^3 elements on adamw4 when vector
// and returns how many it did.
func (c *adamWCoef) updateVector(value, grad, m, v []float32, vector bool) int {
	n := len(grad) &^ 3
	if !vector || n == 0 {
		return 0
	}
	_, _, _ = value[n-1], m[n-1], v[n-1]
	adamw4(&value[0], &grad[0], &m[0], &v[0], n, c)
	return n
}

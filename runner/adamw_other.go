//go:build !amd64

package runner

import "github.com/tinyscale/tinyscale/ops"

// adamVector: no vector AdamW kernel off amd64.
const adamVector = false

// adamVectorFor: no class runs a vector AdamW kernel off amd64.
func adamVectorFor(ops.Kernels, error) bool { return false }

// updateVector does nothing off amd64 (the Go loop does every element).
func (c *adamWCoef) updateVector(value, grad, m, v []float32, vector bool) int { return 0 }

//go:build !amd64

package asmgemm

// Supported reports whether this CPU runs the AVX2/FMA kernel: never off amd64.
func Supported() bool { return false }

func kern6x16(k int, a, b, c *float32, ldc int) { panic("asmgemm: no kernel on this architecture") }

package asmgemm

import "golang.org/x/sys/cpu"

// Supported reports whether this CPU runs the AVX2/FMA kernel.
func Supported() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// kern6x16 is implemented in kernel_amd64.s.
//
//go:noescape
func kern6x16(k int, a, b, c *float32, ldc int)

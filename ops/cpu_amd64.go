package ops

import "golang.org/x/sys/cpu"

// detectKernels returns the best kernel class of this CPU (and OS: x/sys/cpu
// checks that the OS saves the vector registers).
func detectKernels() Kernels {
	switch {
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasAVX512F:
		return KernelsAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return KernelsAVX2
	}
	return KernelsGeneric
}

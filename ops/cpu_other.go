//go:build !amd64

package ops

// detectKernels: only the plain-Go kernels exist off amd64.
func detectKernels() Kernels { return KernelsGeneric }

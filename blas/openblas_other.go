//go:build !((darwin || freebsd || linux || netbsd) && (amd64 || arm64))

package blas

import "fmt"

// openOpenBLAS reports that run-time loading is not supported on this OS/architecture.
func openOpenBLAS(Options) (Impl, Info, error) {
	return nil, Info{}, fmt.Errorf("%w: run-time loading not supported on this OS/architecture", ErrUnavailable)
}

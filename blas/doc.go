// Package blas picks the BLAS implementation tinyscale's matrix products run
// on: OpenBLAS, loaded at run time with purego when the shared library is
// installed, or gonum's pure-Go implementation otherwise. No cgo is involved,
// so a machine without a C toolchain or without OpenBLAS still builds and runs
// tinyscale.
//
// The package holds no global state: [Load] returns a value and the caller
// decides whether to install it, e.g. with gorgonia.Use(impl), which also
// installs it in gorgonia.org/tensor (tensor.Use), where gorgonia's matrix
// products reach the BLAS.
package blas

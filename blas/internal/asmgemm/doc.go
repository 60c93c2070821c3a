// Package asmgemm is a measurement, not a product: a hand-written AVX2/FMA
// SGEMM micro-kernel (6×16 register tile, the same Plan 9 assembly an avo
// generator would emit) behind a minimal packing driver, so that its speed can
// be compared with OpenBLAS (see BenchmarkCompare and docs/performance.md). The
// blas package uses it for large products in its gonum fallback (blas.AsmGonum).
package asmgemm

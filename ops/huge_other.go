//go:build !linux

package ops

// hugeFloats returns n zeroed floats (huge pages are only asked for on
// Linux).
func hugeFloats(n int, _ *hugeMaps) []float32 { return make([]float32, n) }

func unmapAll(*hugeMaps) {}

// largeFloats returns n zeroed floats (no huge-page advice off Linux).
func largeFloats(n int) []float32 { return make([]float32, n) }

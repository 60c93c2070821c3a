package ops

import "testing"

// TestLargeFloats: largeFloats returns n zeroed, writable floats whether or
// not the slice spans a 2 MiB page to advise (the advice changes no value).
func TestLargeFloats(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 1 << 20, 3<<20 + 5} {
		x := largeFloats(n)
		if len(x) != n {
			t.Fatalf("n %d: len %d", n, len(x))
		}
		for i := range x {
			if x[i] != 0 {
				t.Fatalf("n %d: x[%d] = %v, want 0", n, i, x[i])
			}
			x[i] = float32(i)
		}
		for i := range x {
			if x[i] != float32(i) {
				t.Fatalf("n %d: x[%d] = %v after writing %d", n, i, x[i], i)
			}
		}
	}
}

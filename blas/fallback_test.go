package blas

import (
	"strings"
	"testing"
)

// TestFallbackReasonIsOneLine: the reason OpenBLAS did not load is logged
// as one line (several libraries tried give several errors: they are
// joined with "; ", not with newlines that a log prints as literal \n).
func TestFallbackReasonIsOneLine(t *testing.T) {
	_, info, err := Open(Options{Backend: Auto, Libraries: []string{"/nonexistent/libopenblas-a.so", "/nonexistent/libopenblas-b.so"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Fallback == "" || strings.Contains(info.Fallback, "\n") {
		t.Fatalf("Fallback %q: want one non-empty line", info.Fallback)
	}
	if !strings.Contains(info.Fallback, "libopenblas-a.so") || !strings.Contains(info.Fallback, "; ") || !strings.Contains(info.Fallback, "libopenblas-b.so") {
		t.Errorf("Fallback %q does not name both libraries", info.Fallback)
	}
}

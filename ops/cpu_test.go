package ops

import (
	"strings"
	"testing"
)

func TestParseKernels(t *testing.T) {
	tests := []struct {
		in      string
		best    Kernels
		want    Kernels
		wantErr string
	}{
		{"", KernelsAVX512, KernelsAVX512, ""},
		{"auto", KernelsAVX2, KernelsAVX2, ""},
		{"generic", KernelsAVX512, KernelsGeneric, ""},
		{"AVX2", KernelsAVX512, KernelsAVX2, ""},
		{" avx512 ", KernelsAVX512, KernelsAVX512, ""},
		{"avx512", KernelsAVX2, KernelsAVX2, "does not run avx512 kernels (best here: avx2)"},
		{"avx2", KernelsGeneric, KernelsGeneric, "does not run avx2"},
		{"sse", KernelsAVX2, KernelsAVX2, `TINYSCALE_CPU="sse" not allowed (allowed: auto, generic, avx2, avx512)`},
	}
	for _, tc := range tests {
		got, err := ParseKernels(tc.in, tc.best)
		if got != tc.want {
			t.Errorf("ParseKernels(%q, %s) = %s, want %s", tc.in, tc.best, got, tc.want)
		}
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("ParseKernels(%q, %s) error %v, want %q", tc.in, tc.best, err, tc.wantErr)
		}
	}
	if k, err := CPU(); err == nil && k > BestKernels() {
		t.Errorf("CPU() = %s above the best class %s", k, BestKernels())
	}
}

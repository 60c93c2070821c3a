//go:build linux && (amd64 || arm64)

package blas

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

func TestSetThreadTimeout(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string // set before; "" value: unset
		opt     int
		want    string // returned and left in OPENBLAS_THREAD_TIMEOUT
		wantErr bool
	}{
		{"default", nil, 0, "4", false},
		{"explicit", nil, 12, "12", false},
		{"openblas default kept", nil, -1, "", false},
		{"user's variable wins", map[string]string{ThreadTimeoutVar: "20"}, 0, "20", false},
		{"user's GOTO variable wins", map[string]string{gotoThreadTimeoutVar: "16"}, 8, "16", false},
		{"too small", nil, 3, "", true},
		{"too large", nil, 31, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, name := range []string{ThreadTimeoutVar, gotoThreadTimeoutVar} {
				t.Setenv(name, "") // restored after the test
				os.Unsetenv(name)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			got, err := setThreadTimeout(Options{ThreadTimeout: c.opt})
			if (err != nil) != c.wantErr {
				t.Fatalf("setThreadTimeout(%d) error %v, want error %v", c.opt, err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("setThreadTimeout(%d) = %q, want %q", c.opt, got, c.want)
			}
			if _, user := c.env[gotoThreadTimeoutVar]; !user && got != "" {
				if v := os.Getenv(ThreadTimeoutVar); v != got {
					t.Errorf("%s = %q, want %q", ThreadTimeoutVar, v, got)
				}
			}
		})
	}
}

// TestThreadTimeoutReachesC checks that the variable Open sets is seen by C's
// getenv, which is where OpenBLAS reads it (a Go-only environment would leave
// OpenBLAS's worker threads spinning).
func TestThreadTimeoutReachesC(t *testing.T) {
	openblasOrSkip(t)
	want := os.Getenv(ThreadTimeoutVar)
	if want == "" {
		t.Fatalf("%s unset after Open", ThreadTimeoutVar)
	}
	libc, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Skipf("no libc.so.6: %v", err)
	}
	sym := func(name string) uintptr {
		p, err := purego.Dlsym(libc, name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	name := append([]byte(ThreadTimeoutVar), 0)
	r, _, _ := purego.SyscallN(sym("getenv"), uintptr(unsafe.Pointer(&name[0])))
	if r == 0 {
		t.Fatalf("C getenv(%s) = NULL, want %q", ThreadTimeoutVar, want)
	}
	n, _, _ := purego.SyscallN(sym("strlen"), r)
	got := make([]byte, n)
	if n > 0 {
		purego.SyscallN(sym("memcpy"), uintptr(unsafe.Pointer(&got[0])), r, n)
	}
	if string(got) != want {
		t.Errorf("C getenv(%s) = %q, want %q", ThreadTimeoutVar, got, want)
	}
}

// TestSplitProductsMatchPureGo runs products large enough to be cut into row
// blocks on concurrent single-threaded OpenBLAS calls (3 parts: uneven
// blocks, odd leading dimensions, transposes, beta) against gonum, and checks
// that a repeated call gives the same bits.
func TestSplitProductsMatchPureGo(t *testing.T) {
	impl, info, err := Open(Options{Backend: OpenBLAS, Threads: 3})
	if err != nil {
		t.Skipf("OpenBLAS not installed here: %v", err)
	}
	if info.Threads != 3 {
		t.Fatalf("info.Threads = %d, want 3", info.Threads)
	}
	cases := []gemmCase{
		{"NN 3 blocks", blas.NoTrans, blas.NoTrans, 150, 70, 129, 0, 0, 0, 1, 0},
		{"NT odd ld", blas.NoTrans, blas.Trans, 100, 90, 130, 3, 5, 7, 1, 0},
		{"TN odd ld", blas.Trans, blas.NoTrans, 97, 111, 120, 1, 2, 3, 0.5, 0},
		{"TT beta", blas.Trans, blas.Trans, 200, 64, 96, 5, 1, 9, -1.5, 0.25},
		{"two blocks only", blas.NoTrans, blas.NoTrans, 33, 200, 200, 0, 0, 0, 1, 1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.m*c.n*c.k < splitMinMACs {
				t.Fatalf("case too small to split: %d MACs", c.m*c.n*c.k)
			}
			r := rand.New(rand.NewPCG(uint64(i), 9))
			rowsA, colsA, rowsB, colsB := c.dims()
			lda, ldb, ldc := colsA+c.padA, colsB+c.padB, c.n+c.padC
			a, b := randSlice32(r, rowsA*lda), randSlice32(r, rowsB*ldb)
			c0 := randSlice32(r, c.m*ldc)
			want, got, again := slices.Clone(c0), slices.Clone(c0), slices.Clone(c0)
			gonum.Implementation{}.Sgemm(c.tA, c.tB, c.m, c.n, c.k, float32(c.alpha), a, lda, b, ldb, float32(c.beta), want, ldc)
			impl.Sgemm(c.tA, c.tB, c.m, c.n, c.k, float32(c.alpha), a, lda, b, ldb, float32(c.beta), got, ldc)
			impl.Sgemm(c.tA, c.tB, c.m, c.n, c.k, float32(c.alpha), a, lda, b, ldb, float32(c.beta), again, ldc)
			closeEnough(t, "Sgemm", widen(got), widen(want), c.k, 1.2e-7)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(again[j]) {
					t.Fatalf("element %d differs between two identical calls: %g, %g", j, got[j], again[j])
				}
			}
			a64, b64 := widen(a), widen(b)
			want64, got64 := widen(c0), widen(c0)
			gonum.Implementation{}.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a64, lda, b64, ldb, c.beta, want64, ldc)
			impl.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a64, lda, b64, ldb, c.beta, got64, ldc)
			closeEnough(t, "Dgemm", got64, want64, c.k, 1e-15)
		})
	}
}

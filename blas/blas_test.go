package blas

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// openblasOrSkip returns the OpenBLAS implementation or skips the test when
// the library is not installed (the fallback tests still run).
func openblasOrSkip(tb testing.TB) Impl {
	tb.Helper()
	impl, info, err := Open(Options{Backend: OpenBLAS})
	if err != nil {
		tb.Skipf("OpenBLAS not installed here: %v", err)
	}
	tb.Logf("using %s, core %s (%s)", info, info.CoreName, info.Config)
	return impl
}

func randSlice32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

func randSlice64(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.Float64()*2 - 1
	}
	return s
}

// closeEnough compares got with want to a tolerance that grows with the
// length k of the dot products (float32 rounding in different summation
// orders).
func closeEnough(t *testing.T, what string, got, want []float64, k int, eps float64) {
	t.Helper()
	tol := eps * float64(k+1) * 4
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(got[i]) {
			t.Fatalf("%s: element %d = %g, pure Go gives %g (|diff| %g > tol %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

func widen(s []float32) []float64 {
	w := make([]float64, len(s))
	for i, v := range s {
		w[i] = float64(v)
	}
	return w
}

type gemmCase struct {
	name             string
	tA, tB           blas.Transpose
	m, n, k          int
	padA, padB, padC int // extra leading-dimension padding (odd leading dims)
	alpha, beta      float64
}

var gemmCases = []gemmCase{
	{"NN square", blas.NoTrans, blas.NoTrans, 64, 64, 64, 0, 0, 0, 1, 0},
	{"NN odd", blas.NoTrans, blas.NoTrans, 37, 53, 29, 0, 0, 0, 1, 0},
	{"NT odd ld", blas.NoTrans, blas.Trans, 33, 17, 65, 3, 5, 7, 1, 0},
	{"TN odd ld", blas.Trans, blas.NoTrans, 19, 71, 40, 1, 2, 3, 0.5, 0},
	{"TT beta", blas.Trans, blas.Trans, 31, 23, 47, 5, 1, 9, -1.5, 0.25},
	{"NN beta one", blas.NoTrans, blas.NoTrans, 128, 96, 257, 0, 0, 0, 1, 1},
	{"ConjTrans", blas.ConjTrans, blas.NoTrans, 8, 9, 10, 0, 0, 0, 1, 0},
	{"vector m=1", blas.NoTrans, blas.NoTrans, 1, 300, 64, 0, 0, 0, 1, 0},
	{"vector n=1", blas.NoTrans, blas.Trans, 300, 1, 64, 0, 0, 0, 1, 0},
	{"k=0 scales", blas.NoTrans, blas.NoTrans, 5, 6, 0, 0, 0, 0, 1, 0.5},
	{"alpha=0", blas.NoTrans, blas.NoTrans, 5, 6, 7, 0, 0, 0, 0, 2},
	{"m=0", blas.NoTrans, blas.NoTrans, 0, 6, 7, 0, 0, 0, 1, 0},
	{"model qkv", blas.NoTrans, blas.Trans, 512, 768, 256, 0, 0, 0, 1, 0},
}

// gemmOperands builds row-major operands of c with their leading dimensions.
func (c gemmCase) dims() (rowsA, colsA, rowsB, colsB int) {
	rowsA, colsA = c.m, c.k
	if c.tA != blas.NoTrans {
		rowsA, colsA = c.k, c.m
	}
	rowsB, colsB = c.k, c.n
	if c.tB != blas.NoTrans {
		rowsB, colsB = c.n, c.k
	}
	return
}

func TestSgemmMatchesPureGo(t *testing.T) {
	ob := openblasOrSkip(t)
	for i, c := range gemmCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			rowsA, colsA, rowsB, colsB := c.dims()
			lda, ldb, ldc := max(1, colsA+c.padA), max(1, colsB+c.padB), max(1, c.n+c.padC)
			a := randSlice32(r, rowsA*lda)
			b := randSlice32(r, rowsB*ldb)
			c0 := randSlice32(r, max(c.m, 1)*ldc)
			want := append([]float32(nil), c0...)
			got := append([]float32(nil), c0...)
			gonum.Implementation{}.Sgemm(c.tA, c.tB, c.m, c.n, c.k, float32(c.alpha), a, lda, b, ldb, float32(c.beta), want, ldc)
			ob.Sgemm(c.tA, c.tB, c.m, c.n, c.k, float32(c.alpha), a, lda, b, ldb, float32(c.beta), got, ldc)
			closeEnough(t, "Sgemm", widen(got), widen(want), c.k, 1.2e-7)
		})
	}
}

func TestDgemmMatchesPureGo(t *testing.T) {
	ob := openblasOrSkip(t)
	for i, c := range gemmCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 2))
			rowsA, colsA, rowsB, colsB := c.dims()
			lda, ldb, ldc := max(1, colsA+c.padA), max(1, colsB+c.padB), max(1, c.n+c.padC)
			a := randSlice64(r, rowsA*lda)
			b := randSlice64(r, rowsB*ldb)
			c0 := randSlice64(r, max(c.m, 1)*ldc)
			want := append([]float64(nil), c0...)
			got := append([]float64(nil), c0...)
			gonum.Implementation{}.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc)
			ob.Dgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
			closeEnough(t, "Dgemm", got, want, c.k, 1e-15)
		})
	}
}

type gemvCase struct {
	name        string
	tA          blas.Transpose
	m, n, padA  int
	incX, incY  int
	alpha, beta float64
}

var gemvCases = []gemvCase{
	{"N", blas.NoTrans, 40, 30, 0, 1, 1, 1, 0},
	{"T odd ld", blas.Trans, 41, 29, 3, 1, 1, 1, 0.5},
	{"N strided", blas.NoTrans, 17, 23, 1, 2, 3, -2, 1},
	{"T negative inc", blas.Trans, 17, 23, 2, -1, -2, 1, 0.25},
	{"alpha=0", blas.NoTrans, 5, 5, 0, 1, 1, 0, 3},
	{"n=0", blas.NoTrans, 5, 0, 0, 1, 1, 1, 0},
}

func TestSgemvDgemvMatchPureGo(t *testing.T) {
	ob := openblasOrSkip(t)
	abs := func(i int) int { return max(i, -i) }
	for i, c := range gemvCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 3))
			lda := max(1, c.n+c.padA)
			nx, ny := c.n, c.m
			if c.tA != blas.NoTrans {
				nx, ny = c.m, c.n
			}
			a := randSlice64(r, max(c.m, 1)*lda)
			x := randSlice64(r, max(1, 1+(nx-1)*abs(c.incX)))
			y := randSlice64(r, max(1, 1+(ny-1)*abs(c.incY)))

			want, got := append([]float64(nil), y...), append([]float64(nil), y...)
			gonum.Implementation{}.Dgemv(c.tA, c.m, c.n, c.alpha, a, lda, x, c.incX, c.beta, want, c.incY)
			ob.Dgemv(c.tA, c.m, c.n, c.alpha, a, lda, x, c.incX, c.beta, got, c.incY)
			closeEnough(t, "Dgemv", got, want, max(nx, 1), 1e-15)

			a32, x32, y32 := narrow(a), narrow(x), narrow(y)
			want32, got32 := append([]float32(nil), y32...), append([]float32(nil), y32...)
			gonum.Implementation{}.Sgemv(c.tA, c.m, c.n, float32(c.alpha), a32, lda, x32, c.incX, float32(c.beta), want32, c.incY)
			ob.Sgemv(c.tA, c.m, c.n, float32(c.alpha), a32, lda, x32, c.incX, float32(c.beta), got32, c.incY)
			closeEnough(t, "Sgemv", widen(got32), widen(want32), max(nx, 1), 1.2e-7)
		})
	}
}

func narrow(s []float64) []float32 {
	n := make([]float32, len(s))
	for i, v := range s {
		n[i] = float32(v)
	}
	return n
}

// TestBadArgumentsPanicLikeGonum checks that invalid calls panic with gonum's
// message before anything reaches C.
func TestBadArgumentsPanicLikeGonum(t *testing.T) {
	ob := openblasOrSkip(t)
	a := make([]float32, 12)
	cases := []struct {
		name string
		call func(Impl)
	}{
		{"short c", func(b Impl) { b.Sgemm(blas.NoTrans, blas.NoTrans, 3, 4, 3, 1, a, 3, a, 4, 0, a[:5], 4) }},
		{"bad lda", func(b Impl) { b.Sgemm(blas.NoTrans, blas.NoTrans, 3, 4, 3, 1, a, 2, a, 4, 0, a, 4) }},
		{"bad trans", func(b Impl) { b.Sgemm('x', blas.NoTrans, 3, 4, 3, 1, a, 3, a, 4, 0, a, 4) }},
		{"short b", func(b Impl) { b.Sgemm(blas.NoTrans, blas.Trans, 3, 4, 3, 1, a, 3, a[:9], 3, 0, a, 4) }},
		{"gemv zero inc", func(b Impl) { b.Sgemv(blas.NoTrans, 3, 4, 1, a, 4, a, 0, 0, a, 1) }},
		{"gemv short x", func(b Impl) { b.Sgemv(blas.Trans, 3, 4, 1, a, 4, a[:2], 1, 0, a, 1) }},
	}
	recovered := func(f func()) (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		f()
		return "no panic"
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := recovered(func() { c.call(gonum.Implementation{}) })
			got := recovered(func() { c.call(ob) })
			if want == "no panic" || got != want {
				t.Fatalf("OpenBLAS path panicked with %q, gonum with %q", got, want)
			}
		})
	}
}

func TestOpenFallsBack(t *testing.T) {
	bogus := []string{"libtinyscale-no-such-blas.so.9"}
	cases := []struct {
		name        string
		opts        Options
		wantErr     error  // nil: no error
		wantBackend string // when no error
		wantMsg     string // in the error or in Info.Fallback
	}{
		{"auto, library absent", Options{Backend: Auto, Libraries: bogus}, nil, Gonum, "libtinyscale-no-such-blas.so.9"},
		{"empty means auto", Options{Libraries: bogus}, nil, Gonum, "libtinyscale-no-such-blas.so.9"},
		{"openblas demanded, absent", Options{Backend: OpenBLAS, Libraries: bogus}, ErrUnavailable, "", "libtinyscale-no-such-blas.so.9"},
		{"not OpenBLAS (libm)", Options{Backend: OpenBLAS, Libraries: []string{"libm.so.6"}}, ErrUnavailable, "", "not a usable OpenBLAS"},
		{"gonum asked", Options{Backend: "GONUM"}, nil, Gonum, ""},
		{"unknown backend", Options{Backend: "mkl"}, errors.New("any"), "", `"mkl" not allowed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			impl, info, err := Open(c.opts)
			if c.wantErr != nil {
				if err == nil {
					t.Fatalf("Open(%+v) = %v, want an error", c.opts, info)
				}
				if c.wantErr == ErrUnavailable && !errors.Is(err, ErrUnavailable) {
					t.Errorf("error %v does not wrap ErrUnavailable", err)
				}
				if !strings.Contains(err.Error(), c.wantMsg) {
					t.Errorf("error %q does not mention %q", err, c.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%+v): %v", c.opts, err)
			}
			wantStr := "gonum (pure Go)"
			if asmSupported {
				wantStr = "gonum + asm sgemm (pure Go fallback)"
			}
			if info.Backend != c.wantBackend || info.String() != wantStr {
				t.Errorf("backend %q (%s), want %q (%s)", info.Backend, info, c.wantBackend, wantStr)
			}
			switch impl.(type) {
			case gonum.Implementation, *AsmGonum:
			default:
				t.Errorf("impl is %T, want gonum.Implementation or *AsmGonum", impl)
			}
			if !strings.Contains(info.Fallback, c.wantMsg) {
				t.Errorf("Fallback %q does not mention %q", info.Fallback, c.wantMsg)
			}
		})
	}
}

func TestLoadReadsEnv(t *testing.T) {
	cases := []struct {
		env          string
		wantBackend  string
		wantFallback string
	}{
		{"gonum", Gonum, ""},
		{"nonsense", Gonum, `TINYSCALE_BLAS="nonsense"`},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(EnvVar, c.env)
			_, info := Load()
			if info.Backend != c.wantBackend || !strings.Contains(info.Fallback, c.wantFallback) {
				t.Errorf("Load() with %s=%q = %+v, want backend %q and fallback containing %q", EnvVar, c.env, info, c.wantBackend, c.wantFallback)
			}
		})
	}
}

func TestOpenBLASInfo(t *testing.T) {
	_, info, err := Open(Options{Backend: OpenBLAS, Threads: 1})
	if err != nil {
		t.Skipf("OpenBLAS not installed here: %v", err)
	}
	if info.Backend != OpenBLAS || info.Threads != 1 || info.Version == "" || info.Version == "unknown" {
		t.Errorf("info = %+v, want openblas with a version and 1 thread", info)
	}
	want := fmt.Sprintf("openblas %s (%s, 1 threads)", info.Version, info.Parallel)
	if info.String() != want {
		t.Errorf("String() = %q, want %q", info.String(), want)
	}
}

// TestConcurrentCallsAreSerialised calls OpenBLAS from several goroutines at
// once (gorgonia may run ops in parallel); every result must still match.
func TestConcurrentCallsAreSerialised(t *testing.T) {
	ob := openblasOrSkip(t)
	const m, n, k, workers = 48, 40, 64, 4
	r := rand.New(rand.NewPCG(7, 7))
	a, b := randSlice32(r, m*k), randSlice32(r, k*n)
	want := make([]float32, m*n)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, want, n)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			c := make([]float32, m*n)
			for range 50 {
				ob.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
				for i := range c {
					if d := math.Abs(float64(c[i] - want[i])); d > 1e-4 {
						errs <- fmt.Errorf("element %d = %g, want %g", i, c[i], want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

//go:build (darwin || freebsd || linux || netbsd) && (amd64 || arm64)

package blas

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// cblas holds the C entry points. The info functions are typed with
// purego.RegisterFunc (called once); the hot ones are the Fortran-interface
// symbols (sgemm_ ...), whose arguments are all pointers, called with
// purego.SyscallN: unlike RegisterFunc (reflection, ~15 allocations a call) it
// allocates nothing, because the scalar arguments live in [openBLAS.args].
type cblas struct {
	sgemm, dgemm, sgemv, dgemv uintptr

	setNumThreads func(n int32)
	getNumThreads func() int32
	getParallel   func() int32
	getConfig     func() string
	getCorename   func() string
}

// fortranArgs are the by-reference scalar arguments of one Fortran BLAS call.
// Integers are stored as int64: an LP64 OpenBLAS reads the low 4 bytes of
// each (little-endian: the same value), an ILP64 build reads all 8.
type fortranArgs struct {
	transA, transB byte
	_              [6]byte
	m, n, k        int64
	lda, ldb, ldc  int64
	incX, incY     int64
	alpha, beta    float64
	alpha32        float32
	beta32         float32
}

// openBLAS is gonum's implementation with Sgemm, Dgemm, Sgemv and Dgemv
// replaced by OpenBLAS calls. OpenBLAS itself runs single-threaded; a large
// product is cut into parts row blocks of C computed by concurrent calls, one
// per goroutine (see split). Calls from callers are serialised by mu: one
// product at a time. mu also guards args (one set per part).
type openBLAS struct {
	gonum.Implementation
	mu    *sync.Mutex
	parts int
	args  []fortranArgs
	c     *cblas
}

// Products of fewer than splitMinMACs multiply-adds run as one call; larger
// ones are cut into row blocks of a multiple of splitAlign rows.
const (
	splitMinMACs = 1 << 20
	splitAlign   = 16
)

// split runs f(part, r0, r1) for row blocks [r0, r1) covering [0, m) of an
// m×n×k product: one block on this goroutine when the product is small,
// otherwise up to o.parts blocks of equal size (rounded up to splitAlign
// rows), the first on this goroutine and the others on their own. The cut
// depends only on m, n, k and o.parts, so results are the same from run to
// run.
func (o *openBLAS) split(m, n, k int, f func(part, r0, r1 int)) {
	p := min(o.parts, m/splitAlign)
	if p <= 1 || m*n*k < splitMinMACs {
		f(0, 0, m)
		return
	}
	step := ((m+p-1)/p + splitAlign - 1) / splitAlign * splitAlign
	var wg sync.WaitGroup
	for i := 1; i*step < m; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i, i*step, min(m, (i+1)*step))
		}()
	}
	f(0, 0, step)
	wg.Wait()
}

var _ Impl = (*openBLAS)(nil)

// openOpenBLAS dlopens the first usable library of opts.Libraries and sets its
// thread count.
func openOpenBLAS(opts Options) (*openBLAS, Info, error) {
	libs := opts.Libraries
	if libs == nil {
		libs = DefaultLibraries()
	}
	timeout, err := setThreadTimeout(opts)
	if err != nil {
		return nil, Info{}, err
	}
	var errs []error
	for _, name := range libs {
		c, err := dlopenCBLAS(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		threads := opts.Threads
		if threads <= 0 {
			threads = gomaxprocs()
		}
		// OpenBLAS's own threads busy-wait between calls and synchronise
		// by spinning inside each; one OpenBLAS thread per part, run from
		// Go, was faster on every P1/P2 shape (blas/SPIN.md).
		c.setNumThreads(1)
		cfg := strings.TrimSpace(c.getConfig())
		info := Info{
			Backend:       OpenBLAS,
			Version:       versionOf(cfg),
			Parallel:      parallelName(c.getParallel()),
			Threads:       threads,
			CoreName:      strings.TrimSpace(c.getCorename()),
			Config:        cfg,
			Library:       name,
			ThreadTimeout: timeout,
		}
		return &openBLAS{mu: new(sync.Mutex), parts: threads, args: make([]fortranArgs, threads), c: c}, info, nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no library names to try"))
	}
	return nil, Info{}, fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
}

// dlopenCBLAS loads one library and resolves every symbol; it rejects
// libraries that are not OpenBLAS.
func dlopenCBLAS(name string) (c *cblas, err error) {
	h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("dlopen %s: %w", name, err)
	}
	c = new(cblas)
	fns := []struct {
		name string
		fn   any
	}{
		{"openblas_get_config", &c.getConfig}, // first: proves it is OpenBLAS
		{"openblas_set_num_threads", &c.setNumThreads},
		{"openblas_get_num_threads", &c.getNumThreads},
		{"openblas_get_parallel", &c.getParallel},
		{"openblas_get_corename", &c.getCorename},
	}
	// The handle stays open on failure: closing a library that may have
	// started threads is not safe, and it is a one-off cost.
	for _, f := range fns {
		p, err := purego.Dlsym(h, f.name)
		if err != nil {
			return nil, fmt.Errorf("%s is not a usable OpenBLAS (missing %s): %w", name, f.name, err)
		}
		purego.RegisterFunc(f.fn, p)
	}
	syms := []struct {
		name string
		p    *uintptr
	}{{"sgemm_", &c.sgemm}, {"dgemm_", &c.dgemm}, {"sgemv_", &c.sgemv}, {"dgemv_", &c.dgemv}}
	for _, s := range syms {
		p, err := purego.Dlsym(h, s.name)
		if err != nil {
			return nil, fmt.Errorf("%s is not a usable OpenBLAS (missing %s): %w", name, s.name, err)
		}
		*s.p = p
	}
	return c, nil
}

func versionOf(config string) string {
	f := strings.Fields(config)
	if len(f) >= 2 && strings.EqualFold(f[0], "OpenBLAS") {
		return f[1]
	}
	return "unknown"
}

func parallelName(p int32) string {
	switch p {
	case 0:
		return "serial"
	case 1:
		return "pthread"
	case 2:
		return "openmp"
	default:
		return fmt.Sprintf("parallel=%d", p)
	}
}

// fortranTrans is the Fortran transpose character of t.
func fortranTrans(t blas.Transpose) byte {
	switch t {
	case blas.NoTrans:
		return 'N'
	case blas.Trans:
		return 'T'
	case blas.ConjTrans:
		return 'C'
	}
	panic(badTranspose)
}

// flipTrans maps a row-major gemv transpose to the column-major one.
func flipTrans(t blas.Transpose) byte {
	if t == blas.NoTrans {
		return 'T'
	}
	return 'N'
}

// fitsInt32 reports whether every value fits the C int of an LP64 OpenBLAS.
func fitsInt32(v ...int) bool {
	for _, x := range v {
		if x > math.MaxInt32 || x < math.MinInt32 {
			return false
		}
	}
	return true
}

// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ over the same
// memory, so the Fortran gemm is called with A and B (and m and n) swapped.

// Sgemm computes C = alpha * op(A) * op(B) + beta * C with OpenBLAS; see
// gonum's Implementation.Sgemm for the contract (it panics the same way on bad
// arguments).
func (o *openBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 || !fitsInt32(m, n, k, lda, ldb, ldc) {
		o.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	o.mu.Lock()
	o.split(m, n, k, func(part, r0, r1 int) {
		ai := r0 * lda
		if isTrans(tA) {
			ai = r0
		}
		x := &o.args[part]
		x.transA, x.transB = fortranTrans(tB), fortranTrans(tA)
		x.m, x.n, x.k = int64(n), int64(r1-r0), int64(k)
		x.lda, x.ldb, x.ldc = int64(ldb), int64(lda), int64(ldc)
		x.alpha32, x.beta32 = alpha, beta
		purego.SyscallN(o.c.sgemm,
			uintptr(unsafe.Pointer(&x.transA)), uintptr(unsafe.Pointer(&x.transB)),
			uintptr(unsafe.Pointer(&x.m)), uintptr(unsafe.Pointer(&x.n)), uintptr(unsafe.Pointer(&x.k)),
			uintptr(unsafe.Pointer(&x.alpha32)), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(&x.lda)),
			uintptr(unsafe.Pointer(&a[ai])), uintptr(unsafe.Pointer(&x.ldb)),
			uintptr(unsafe.Pointer(&x.beta32)), uintptr(unsafe.Pointer(&c[r0*ldc])), uintptr(unsafe.Pointer(&x.ldc)))
	})
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	o.mu.Unlock()
}

// Dgemm is the float64 [openBLAS.Sgemm].
func (o *openBLAS) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkGemm(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 || !fitsInt32(m, n, k, lda, ldb, ldc) {
		o.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	o.mu.Lock()
	o.split(m, n, k, func(part, r0, r1 int) {
		ai := r0 * lda
		if isTrans(tA) {
			ai = r0
		}
		x := &o.args[part]
		x.transA, x.transB = fortranTrans(tB), fortranTrans(tA)
		x.m, x.n, x.k = int64(n), int64(r1-r0), int64(k)
		x.lda, x.ldb, x.ldc = int64(ldb), int64(lda), int64(ldc)
		x.alpha, x.beta = alpha, beta
		purego.SyscallN(o.c.dgemm,
			uintptr(unsafe.Pointer(&x.transA)), uintptr(unsafe.Pointer(&x.transB)),
			uintptr(unsafe.Pointer(&x.m)), uintptr(unsafe.Pointer(&x.n)), uintptr(unsafe.Pointer(&x.k)),
			uintptr(unsafe.Pointer(&x.alpha)), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(&x.lda)),
			uintptr(unsafe.Pointer(&a[ai])), uintptr(unsafe.Pointer(&x.ldb)),
			uintptr(unsafe.Pointer(&x.beta)), uintptr(unsafe.Pointer(&c[r0*ldc])), uintptr(unsafe.Pointer(&x.ldc)))
	})
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	o.mu.Unlock()
}

// Row-major A (m×n, lda) is column-major Aᵀ (n×m, lda): the Fortran gemv is
// called with the transpose flipped and m, n swapped.

// Sgemv computes y = alpha * op(A) * x + beta * y with OpenBLAS; see gonum's
// Implementation.Sgemv for the contract.
func (o *openBLAS) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	checkGemv(tA, m, n, len(a), lda, len(x), incX, len(y), incY)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || !fitsInt32(m, n, lda, incX, incY) {
		o.Implementation.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	o.mu.Lock()
	s := &o.args[0]
	s.transA = flipTrans(tA)
	s.m, s.n, s.lda, s.incX, s.incY = int64(n), int64(m), int64(lda), int64(incX), int64(incY)
	s.alpha32, s.beta32 = alpha, beta
	purego.SyscallN(o.c.sgemv,
		uintptr(unsafe.Pointer(&s.transA)), uintptr(unsafe.Pointer(&s.m)), uintptr(unsafe.Pointer(&s.n)),
		uintptr(unsafe.Pointer(&s.alpha32)), uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(&s.lda)),
		uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(unsafe.Pointer(&s.incX)),
		uintptr(unsafe.Pointer(&s.beta32)), uintptr(unsafe.Pointer(unsafe.SliceData(y))), uintptr(unsafe.Pointer(&s.incY)))
	runtime.KeepAlive(a)
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
	o.mu.Unlock()
}

// Dgemv is the float64 [openBLAS.Sgemv].
func (o *openBLAS) Dgemv(tA blas.Transpose, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	checkGemv(tA, m, n, len(a), lda, len(x), incX, len(y), incY)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || !fitsInt32(m, n, lda, incX, incY) {
		o.Implementation.Dgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	o.mu.Lock()
	s := &o.args[0]
	s.transA = flipTrans(tA)
	s.m, s.n, s.lda, s.incX, s.incY = int64(n), int64(m), int64(lda), int64(incX), int64(incY)
	s.alpha, s.beta = alpha, beta
	purego.SyscallN(o.c.dgemv,
		uintptr(unsafe.Pointer(&s.transA)), uintptr(unsafe.Pointer(&s.m)), uintptr(unsafe.Pointer(&s.n)),
		uintptr(unsafe.Pointer(&s.alpha)), uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(&s.lda)),
		uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(unsafe.Pointer(&s.incX)),
		uintptr(unsafe.Pointer(&s.beta)), uintptr(unsafe.Pointer(unsafe.SliceData(y))), uintptr(unsafe.Pointer(&s.incY)))
	runtime.KeepAlive(a)
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
	o.mu.Unlock()
}

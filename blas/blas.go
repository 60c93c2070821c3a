package blas

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Impl is a complete BLAS. Its method set is that of gorgonia.BLAS and
// tensor.BLAS, so an Impl can be installed with gorgonia.Use (which also calls
// tensor.Use).
type Impl interface {
	blas.Float32
	blas.Float64
	blas.Complex64
	blas.Complex128
}

// Backend names accepted by [Options.Backend] and the TINYSCALE_BLAS variable.
const (
	// Auto prefers OpenBLAS and falls back to gonum.
	Auto = "auto"
	// Gonum is gonum's pure-Go BLAS (gonum.org/v1/gonum/blas/gonum).
	Gonum = "gonum"
	// OpenBLAS is the OpenBLAS shared library, loaded at run time.
	OpenBLAS = "openblas"
)

// EnvVar is the environment variable that selects the backend in [Load]:
// gonum, openblas or auto (the default).
const EnvVar = "TINYSCALE_BLAS"

// ErrUnavailable reports that OpenBLAS was asked for but could not be loaded.
var ErrUnavailable = errors.New("openblas unavailable")

// Info describes the BLAS an [Impl] runs on.
type Info struct {
	// Backend is Gonum or OpenBLAS.
	Backend string `json:"backend"`
	// Version is OpenBLAS's version ("0.3.21"); empty for gonum.
	Version string `json:"version,omitempty"`
	// Parallel is OpenBLAS's threading model: "serial", "pthread" or "openmp".
	Parallel string `json:"parallel,omitempty"`
	// Threads is the number of threads a large product runs on (see
	// [Options.Threads]).
	Threads int `json:"threads,omitempty"`
	// CoreName is the kernel set OpenBLAS selected (e.g. "Haswell").
	CoreName string `json:"core,omitempty"`
	// Config is openblas_get_config()'s full string.
	Config string `json:"config,omitempty"`
	// Library is the name that was passed to dlopen.
	Library string `json:"library,omitempty"`
	// Fallback says why gonum is in use although OpenBLAS was allowed.
	Fallback string `json:"fallback,omitempty"`
	// ThreadTimeout is OPENBLAS_THREAD_TIMEOUT (or GOTO_THREAD_TIMEOUT) as
	// it was in the environment when Open loaded the library: log2 of the
	// cycles an idle worker thread spins before sleeping; empty means
	// OpenBLAS's default (28). It took effect if that load was the process's
	// first. See [Options.ThreadTimeout].
	ThreadTimeout string `json:"thread_timeout,omitempty"`
	// AsmSgemm says that the gonum backend runs large Sgemm products on the
	// AVX2/FMA assembly kernel (see [AsmGonum]).
	AsmSgemm bool `json:"asm_sgemm,omitempty"`
}

// String is a one-line description, e.g. "openblas 0.3.21 (pthread, 2
// threads)" or "gonum (pure Go)".
func (i Info) String() string {
	if i.Backend != OpenBLAS {
		if i.AsmSgemm {
			return "gonum + asm sgemm (pure Go fallback)"
		}
		return "gonum (pure Go)"
	}
	return fmt.Sprintf("openblas %s (%s, %d threads)", i.Version, i.Parallel, i.Threads)
}

// Options configures [Open].
type Options struct {
	// Backend is Auto (or empty), Gonum or OpenBLAS.
	Backend string
	// Libraries are the names tried with dlopen, in order; nil means
	// [DefaultLibraries]. A library is used only if it exports OpenBLAS's
	// openblas_get_config (so a reference libblas.so.3 is skipped).
	Libraries []string
	// Threads is the number of threads a large product runs on; <= 0 means
	// runtime.GOMAXPROCS(0). OpenBLAS itself is set to one thread (its
	// thread count is process-wide) and a product is cut into Threads row
	// blocks of C computed by concurrent calls, one per goroutine.
	Threads int
	// ThreadTimeout is how long an idle OpenBLAS worker thread busy-waits
	// (calling sched_yield in a loop) for the next call before it sleeps,
	// as log2 of CPU cycles, 4 to 30: OpenBLAS's OPENBLAS_THREAD_TIMEOUT,
	// whose built-in default, 28, is about 0.1 s. 0 means
	// [DefaultThreadTimeout] unless OPENBLAS_THREAD_TIMEOUT or
	// GOTO_THREAD_TIMEOUT is set in the environment (then that is left to
	// OpenBLAS); a negative value leaves OpenBLAS's own default. OpenBLAS
	// reads the variable once, when the library is first loaded into the
	// process, so [Open] sets it in the process environment (os.Setenv, which
	// reaches C's environ with or without cgo) before dlopen, and it has no
	// effect once the library is loaded. See blas/SPIN.md.
	ThreadTimeout int
}

// DefaultThreadTimeout is the [Options.ThreadTimeout] used by default: 2^4
// cycles, i.e. a worker thread sleeps as soon as it has no work. With the
// built-in 2^28 (about 0.1 s) an idle worker spins in sched_yield between the
// products of a training step and takes a core from the Go code running
// between them. Open runs OpenBLAS single-threaded (its workers, started
// when the library loads, then never get work), so this now only makes them
// go to sleep at once; see blas/SPIN.md for the measurements.
const DefaultThreadTimeout = 4

// Environment variables OpenBLAS reads its worker threads' busy-wait
// timeout from (see [Options.ThreadTimeout]).
const (
	ThreadTimeoutVar     = "OPENBLAS_THREAD_TIMEOUT"
	gotoThreadTimeoutVar = "GOTO_THREAD_TIMEOUT"
)

// DefaultLibraries returns the shared-library names tried by default.
func DefaultLibraries() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib"}
	default:
		return []string{"libopenblas.so.0", "libopenblas.so", "libblas.so.3"}
	}
}

// Open returns the BLAS opts asks for. With Backend OpenBLAS it fails (with
// an error wrapping [ErrUnavailable]) when no library loads; with Auto it falls
// back to gonum and says why in Info.Fallback. An unknown backend is an error.
func Open(opts Options) (Impl, Info, error) {
	switch strings.ToLower(strings.TrimSpace(opts.Backend)) {
	case Gonum:
		impl, info := fallback()
		return impl, info, nil
	case OpenBLAS:
		impl, info, err := openOpenBLAS(opts)
		if err != nil {
			return nil, Info{}, fmt.Errorf("blas backend %q: %w", OpenBLAS, err)
		}
		return impl, info, nil
	case "", Auto:
		impl, info, err := openOpenBLAS(opts)
		if err != nil {
			impl, info := fallback()
			info.Fallback = oneLine(err.Error())
			return impl, info, nil
		}
		return impl, info, nil
	default:
		return nil, Info{}, fmt.Errorf("blas backend %q not allowed (allowed: %s, %s, %s)", opts.Backend, Auto, Gonum, OpenBLAS)
	}
}

// Load picks the BLAS from the TINYSCALE_BLAS environment variable (default
// auto) with products split over GOMAXPROCS threads. It never fails: whatever goes
// wrong (a bad variable, a missing library) ends in gonum's implementation,
// with the reason in Info.Fallback.
func Load() (Impl, Info) {
	choice := os.Getenv(EnvVar)
	impl, info, err := Open(Options{Backend: choice})
	if err != nil {
		impl, info := fallback()
		info.Fallback = oneLine(fmt.Sprintf("%s=%q: %v", EnvVar, choice, err))
		return impl, info
	}
	return impl, info
}

// oneLine joins the lines of a multi-line message (errors.Join) with "; ".
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// fallback returns the pure-Go BLAS: an [AsmGonum] where the CPU runs the
// assembly kernel, else gonum's implementation.
func fallback() (Impl, Info) {
	if asmSupported {
		return new(AsmGonum), Info{Backend: Gonum, AsmSgemm: true}
	}
	return gonum.Implementation{}, Info{Backend: Gonum}
}

// LogValue lets slog print an Info as a group of its set fields.
func (i Info) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("backend", i.String())}
	if i.CoreName != "" {
		attrs = append(attrs, slog.String("core", i.CoreName))
	}
	if i.Library != "" {
		attrs = append(attrs, slog.String("library", i.Library))
	}
	if i.ThreadTimeout != "" {
		attrs = append(attrs, slog.String("thread_timeout", i.ThreadTimeout))
	}
	if i.Fallback != "" {
		attrs = append(attrs, slog.String("fallback", i.Fallback))
	}
	return slog.GroupValue(attrs...)
}

// setThreadTimeout puts the worker-thread timeout that opts asks for into the
// process environment, where OpenBLAS reads it when it is loaded, unless the
// user set one already, and returns the value OpenBLAS will see ("" for its
// default).
func setThreadTimeout(opts Options) (string, error) {
	for _, name := range []string{ThreadTimeoutVar, gotoThreadTimeoutVar} {
		if v, ok := os.LookupEnv(name); ok {
			return v, nil
		}
	}
	t := opts.ThreadTimeout
	switch {
	case t < 0:
		return "", nil
	case t == 0:
		t = DefaultThreadTimeout
	case t < 4 || t > 30:
		return "", fmt.Errorf("openblas thread timeout %d out of range (allowed: 4 to 30, 0 for the default %d, < 0 for OpenBLAS's own)", t, DefaultThreadTimeout)
	}
	v := strconv.Itoa(t)
	if err := os.Setenv(ThreadTimeoutVar, v); err != nil {
		return "", fmt.Errorf("set %s: %w", ThreadTimeoutVar, err)
	}
	return v, nil
}

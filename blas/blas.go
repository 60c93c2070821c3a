package blas

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
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
	// Threads is the number of OpenBLAS threads after configuration.
	Threads int `json:"threads,omitempty"`
	// CoreName is the kernel set OpenBLAS selected (e.g. "Haswell").
	CoreName string `json:"core,omitempty"`
	// Config is openblas_get_config()'s full string.
	Config string `json:"config,omitempty"`
	// Library is the name that was passed to dlopen.
	Library string `json:"library,omitempty"`
	// Fallback says why gonum is in use although OpenBLAS was allowed.
	Fallback string `json:"fallback,omitempty"`
}

// String is a one-line description, e.g. "openblas 0.3.21 (pthread, 2
// threads)" or "gonum (pure Go)".
func (i Info) String() string {
	if i.Backend != OpenBLAS {
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
	// Threads is the number of OpenBLAS threads; <= 0 means
	// runtime.GOMAXPROCS(0). OpenBLAS's thread count is process-wide.
	Threads int
}

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
		return gonum.Implementation{}, Info{Backend: Gonum}, nil
	case OpenBLAS:
		impl, info, err := openOpenBLAS(opts)
		if err != nil {
			return nil, Info{}, fmt.Errorf("blas backend %q: %w", OpenBLAS, err)
		}
		return impl, info, nil
	case "", Auto:
		impl, info, err := openOpenBLAS(opts)
		if err != nil {
			return gonum.Implementation{}, Info{Backend: Gonum, Fallback: err.Error()}, nil
		}
		return impl, info, nil
	default:
		return nil, Info{}, fmt.Errorf("blas backend %q not allowed (allowed: %s, %s, %s)", opts.Backend, Auto, Gonum, OpenBLAS)
	}
}

// Load picks the BLAS from the TINYSCALE_BLAS environment variable (default
// auto) with OpenBLAS threads = GOMAXPROCS. It never fails: whatever goes
// wrong (a bad variable, a missing library) ends in gonum's implementation,
// with the reason in Info.Fallback.
func Load() (Impl, Info) {
	choice := os.Getenv(EnvVar)
	impl, info, err := Open(Options{Backend: choice})
	if err != nil {
		return gonum.Implementation{}, Info{Backend: Gonum, Fallback: fmt.Sprintf("%s=%q: %v", EnvVar, choice, err)}
	}
	return impl, info
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
	if i.Fallback != "" {
		attrs = append(attrs, slog.String("fallback", i.Fallback))
	}
	return slog.GroupValue(attrs...)
}

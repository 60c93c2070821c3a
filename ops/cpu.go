package ops

import (
	"fmt"
	"os"
	"strings"
)

// Kernels is a class of CPU kernels: which vector instruction set the ops'
// fast kernels use. Every class computes the same functions; the vector
// classes agree with the plain reference kernels to float32 tolerance, and a
// given class gives the same bits from run to run on one machine.
type Kernels int

// Kernel classes, from least to most capable.
const (
	// KernelsGeneric is plain Go (any architecture).
	KernelsGeneric Kernels = iota
	// KernelsAVX2 is amd64 AVX2 + FMA (8 float32 lanes).
	KernelsAVX2
	// KernelsAVX512 is amd64 AVX-512F (16 float32 lanes), AVX2 kernels where
	// no 16-lane variant exists.
	KernelsAVX512
)

// CPUEnvVar names the environment variable that forces a kernel class
// (generic, avx2, avx512; auto or empty: the best this CPU runs). It is read
// once, when the program starts.
const CPUEnvVar = "TINYSCALE_CPU"

// String is the class's name as TINYSCALE_CPU spells it.
func (k Kernels) String() string {
	switch k {
	case KernelsGeneric:
		return "generic"
	case KernelsAVX2:
		return "avx2"
	case KernelsAVX512:
		return "avx512"
	}
	return fmt.Sprintf("Kernels(%d)", int(k))
}

// ParseKernels chooses the kernel class named by s (a TINYSCALE_CPU value)
// on a CPU whose best class is best: "" and "auto" give best; a class above
// best is an error, as is any other word.
func ParseKernels(s string, best Kernels) (Kernels, error) {
	var k Kernels
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return best, nil
	case "generic":
		k = KernelsGeneric
	case "avx2":
		k = KernelsAVX2
	case "avx512":
		k = KernelsAVX512
	default:
		return best, fmt.Errorf("%s=%q not allowed (allowed: auto, generic, avx2, avx512)", CPUEnvVar, s)
	}
	if k > best {
		return best, fmt.Errorf("%s=%s: this CPU does not run %s kernels (best here: %s)", CPUEnvVar, k, k, best)
	}
	return k, nil
}

// The kernel class of this process, chosen once at start-up from the CPU's
// features (detectKernels) and TINYSCALE_CPU. A bad TINYSCALE_CPU leaves the
// best class in place and is reported by CPU (models.NewTrainer refuses to
// build a trainer then, so nothing runs on a class the user did not ask for).
var (
	bestKernels          = detectKernels()
	cpuKernels, cpuError = ParseKernels(os.Getenv(CPUEnvVar), bestKernels)

	// haveFMA: the AVX2/FMA kernels run (class avx2 or avx512).
	haveFMA = cpuKernels >= KernelsAVX2
	// haveAVX512: the 16-lane AVX-512 kernels run.
	haveAVX512 = cpuKernels >= KernelsAVX512
)

// CPU returns the kernel class the ops use in this process, and the error of
// a TINYSCALE_CPU value that could not be honoured (nil when it was).
func CPU() (Kernels, error) { return cpuKernels, cpuError }

// BestKernels returns the most capable class this CPU runs.
func BestKernels() Kernels { return bestKernels }

// supportedKernels lists every class this CPU runs (the tests run each).
func supportedKernels() []Kernels {
	var ks []Kernels
	for k := KernelsGeneric; k <= bestKernels; k++ {
		ks = append(ks, k)
	}
	return ks
}

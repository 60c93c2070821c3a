package ops

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestLargeFloatsAdvisesHugePages: the aligned 2 MiB interior of a large
// slice from largeFloats lies in a mapping the kernel marks as advised for
// huge pages ("hg" in VmFlags of /proc/self/smaps); a small slice is left
// alone (there is nothing aligned to advise).
func TestLargeFloatsAdvisesHugePages(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	const huge = 2 << 20
	x := largeFloats(3 << 20) // 12 MiB: at least one aligned 2 MiB page inside
	p := uintptr(unsafe.Pointer(&x[0]))
	lo := (p + huge - 1) &^ (huge - 1)
	flags, err := vmFlagsAt(lo)
	if err != nil {
		t.Skipf("cannot read /proc/self/smaps: %v", err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("mapping at %#x: VmFlags %q, want hg (MADV_HUGEPAGE)", lo, flags)
	}
}

// vmFlagsAt returns the VmFlags line of the mapping of /proc/self/smaps that
// holds address a.
func vmFlagsAt(a uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mappingRange(line); ok {
			in = lo <= a && a < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	return "", sc.Err()
}

// mappingRange parses the "lo-hi perms ..." header line of an smaps entry.
func mappingRange(line string) (lo, hi uintptr, ok bool) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, 0, false
	}
	a, b, found := strings.Cut(f[0], "-")
	if !found {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(a, 16, 64)
	h, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}

package ops

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeMinBytes is the smallest buffer hugeFloats maps on its own: below it a
// 2 MiB page would mostly hold nothing.
const hugeMinBytes = 1 << 20

// hugeFloats returns n zeroed floats: for buffers of hugeMinBytes or more,
// memory mapped from the OS on its own and advised as transparent huge pages
// (2 MiB pages where the kernel grants them: the packed head's strided
// buffers then miss the TLB far less; 6 % of the head at P1, 2026-12-01),
// the mapping appended to *maps for the owner to unmap; else (or when the
// OS refuses) a Go slice.
func hugeFloats(n int, maps *hugeMaps) []float32 {
	if 4*n < hugeMinBytes {
		return make([]float32, n)
	}
	const huge = 2 << 20
	size := (4*n + huge - 1) / huge * huge
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]float32, n)
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // advice only: small pages otherwise
	maps.mu.Lock()
	maps.b = append(maps.b, b)
	maps.mu.Unlock()
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
}

// unmapAll returns the mappings of hugeFloats to the OS.
func unmapAll(maps *hugeMaps) {
	maps.mu.Lock()
	defer maps.mu.Unlock()
	for _, b := range maps.b {
		_ = unix.Munmap(b)
	}
	maps.b = nil
}

// largeFloats returns n zeroed floats from the Go heap; when they span at
// least one aligned 2 MiB page, that aligned interior is advised as
// transparent huge pages (madvise MADV_HUGEPAGE) before anything touches it,
// so that the kernel backs it with 2 MiB pages where it grants them (under
// THP "madvise", Debian's default, the Go heap otherwise gets none). Advice
// only: the contents and the Go runtime's ownership of the memory do not
// change. P1-Silia measured 194.8 ms/step with THP "madvise" against 185.8
// with "always" (3 runs each, 2026-12-02 00:50 UTC) before the op buffers
// used it.
func largeFloats(n int) []float32 {
	x := make([]float32, n)
	const huge = 2 << 20
	if 4*n < 2*huge {
		return x
	}
	p := uintptr(unsafe.Pointer(&x[0]))
	lo, hi := (p+huge-1)&^(huge-1), (p+uintptr(4*n))&^(huge-1)
	if hi > lo {
		_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Pointer(&x[(lo-p)/4])), hi-lo), unix.MADV_HUGEPAGE)
	}
	return x
}

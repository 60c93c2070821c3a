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

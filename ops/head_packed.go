package ops

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// The packed path of LinearCrossEntropy: the head on tinyscale's own
// register-tile kernels (head_kern_amd64.s) instead of three BLAS products
// per chunk of logits.
//
// Per call, W is packed once into Wᵀ panels (16 vocabulary entries × C
// each). The N rows then go in blocks (few enough rows that a block's
// logits, block × V, stay in L2: headBlockRows); for each block, on one
// worker:
//
//   - logits = x_block · Wᵀ, tile by tile, stored without reading the
//     buffer first (the beta = 0 kernels);
//   - the row loss and dlogits = (softmax − onehot)/N in place (xentRow);
//   - dx_block = dlogits · W, with W read in place and the V terms summed
//     in slices of headKSlice (each slice's tile added to the last);
//   - the block's dW term dlogitsᵀ · x_block, added to its group's dW
//     partial (the kernel reads dlogits' columns as Aᵀ in place).
//
// The blocks are cut into groups of consecutive blocks, their number fixed
// by N and the block size alone (headGroups); each group sums its blocks'
// dW terms in block order into its own partial, and dW is the partials
// summed element by element in group order, ((P₀+P₁)+P₂)+…. Workers take
// whole groups from a shared counter; which goroutine runs a group changes
// nothing in its arithmetic, so loss, dx and dW are the same bits at any
// GOMAXPROCS and under any schedule. Every element of every product is one
// chain of fused multiply-adds in a fixed order, the same on the 16-row
// AVX-512 kernels and the 6-row AVX2 ones, so the two classes agree bit for
// bit as well.

// headL2Share is the share of the L2 cache one block's logits may take (the
// rest is for W's rows and the dW partial streaming through): 3/4, i.e.
// 48 rows at V = 8192 with a 2 MiB L2. Rows per block are a multiple of 16,
// at least 16. At P1 on the 2 MiB-L2 Xeon (2 threads, 2026-12-01) blocks of
// 16, 32, 48, 64 rows took 75, 68, 66, 67 ms a call.
const headL2Share = 0.75

// l2Bytes is the size of this machine's L2 data cache per core, read once
// at start-up from Linux's sysfs; 1 MiB where it cannot be read.
var l2Bytes = readL2Bytes()

func readL2Bytes() int {
	for i := 0; i < 8; i++ {
		dir := fmt.Sprintf("/sys/devices/system/cpu/cpu0/cache/index%d/", i)
		level, err1 := os.ReadFile(dir + "level")
		kind, err2 := os.ReadFile(dir + "type")
		size, err3 := os.ReadFile(dir + "size")
		if err1 != nil || err2 != nil || err3 != nil {
			break
		}
		if strings.TrimSpace(string(level)) != "2" || strings.TrimSpace(string(kind)) == "Instruction" {
			continue
		}
		sz := strings.TrimSpace(string(size))
		mult := 1
		switch {
		case strings.HasSuffix(sz, "K"):
			mult, sz = 1<<10, strings.TrimSuffix(sz, "K")
		case strings.HasSuffix(sz, "M"):
			mult, sz = 1<<20, strings.TrimSuffix(sz, "M")
		}
		if n, err := strconv.Atoi(sz); err == nil && n > 0 {
			return n * mult
		}
	}
	return 1 << 20
}

// headBlockRows is the default rows per block for logits rows of ldl floats.
func headBlockRows(ldl int) int {
	rows := int(headL2Share * float64(l2Bytes) / float64(4*ldl))
	return max(16, (rows+8)/16*16)
}

// headKSlice is the number of vocabulary terms of dx summed per kernel call
// (a slice of dlogits rows and of W stays in L1 across the tiles).
const headKSlice = 128

// headGroups is the most groups of blocks (and dW partials, V×C floats
// each) a call uses: the most workers the head keeps busy. Each group adds a
// partial to write and to read back in the final sum: at P1 with 2 workers
// (2026-12-01, medians of 6 interleaved runs) 2, 4, 8, 16 groups took 67.5,
// 69.4, 70.5, 74.0 ms a call; 8 keeps 8 cores busy for about 1 ms more than 4.
const headGroups = 8

// headPacked is the packed path's state: shape-derived sizes and every
// buffer, allocated on the first call and kept (no allocation per step).
type headPacked struct {
	mr      int // kernel rows: 16 (AVX-512) or 6 (AVX2)
	asked   int // the block size asked for (0: default)
	block   int // rows per block
	rp      int // block rounded up to mr (the scratch's rows)
	cp      int // C rounded up to 16 (x block and dx scratch columns)
	vp      int // V rounded up to 16 (logits columns computed)
	ldl     int // logits row stride: vp + 16, so rows do not alias in L1
	vr      int // V rounded up to mr (dW partial rows)
	ks      int // vocabulary terms of dx per kernel call (headKSlice)
	nb      int // number of blocks
	groups  int
	wt      []float32   // Wᵀ panels: panel q (vocab 16q..16q+15) at wt[q*16*C:], [p][j] at p*16+j
	wpad    []float32   // W with rows padded to cp columns (only when C%16 != 0)
	part    [][]float32 // per group: dW partial, vr × cp
	scratch []headScratch
	pool    taskPool
	kern16  bool
	// maps holds the OS mappings under the large buffers (hugeFloats),
	// unmapped by a cleanup once h is unreachable. A pointer of its own, so
	// that the cleanup does not keep h alive.
	maps *hugeMaps
}

// hugeMaps is the list of OS mappings of hugeFloats (huge_linux.go).
type hugeMaps struct {
	mu sync.Mutex
	b  [][]byte
}

// mapped returns how many mappings are held.
func (m *hugeMaps) mapped() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.b)
}

// headScratch is one worker's buffers.
type headScratch struct {
	l   []float32 // rp × ldl logits, then dlogits
	xb  []float32 // rp × cp: the block's rows of x, zero-padded
	xt  []float32 // c × rp: xb transposed (logits' A, read as Aᵀ)
	dxb []float32 // rp × cp: the block's dx
}

// newHeadPacked sizes the packed path for n rows, c features, v classes,
// blocks of block rows (0: headBlockRows) and the kernel class k
// (AVX2 or AVX-512).
func newHeadPacked(n, c, v, block int, k Kernels) *headPacked {
	h := &headPacked{mr: 6, cp: up16(c), vp: up16(v), asked: block, ks: headKSlice}
	if k >= KernelsAVX512 {
		h.mr, h.kern16 = 16, true
	}
	h.maps = new(hugeMaps)
	runtime.AddCleanup(h, unmapAll, h.maps)
	h.ldl = h.vp + 16
	h.vr = (v + h.mr - 1) / h.mr * h.mr
	if block <= 0 {
		block = headBlockRows(h.ldl)
	}
	h.block = min(block, n)
	h.rp = (h.block + h.mr - 1) / h.mr * h.mr
	h.nb = (n + h.block - 1) / h.block
	h.groups = min(h.nb, headGroups)
	h.wt = hugeFloats(h.vp*c, h.maps)
	if c%16 != 0 {
		h.wpad = make([]float32, v*h.cp)
	}
	return h
}

// kernS is C (+)= A·B on one mr×16 tile (A row-major).
func (h *headPacked) kernS(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	if h.kern16 {
		headKern16s(k, &a[0], lda, &b[0], ldb, &c[0], ldc, acc)
		return
	}
	headKern6s(k, &a[0], lda, &b[0], ldb, &c[0], ldc, acc)
}

// kernT is C (+)= Aᵀ·B on one mr×16 tile (A stored k×mr); prefetch: A is
// not in L1 (dW's dlogits).
func (h *headPacked) kernT(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc, prefetch bool) {
	if h.kern16 {
		if prefetch {
			headKern16tp(k, &a[0], lda, &b[0], ldb, &c[0], ldc, acc)
			return
		}
		headKern16t(k, &a[0], lda, &b[0], ldb, &c[0], ldc, acc)
		return
	}
	headKern6t(k, &a[0], lda, &b[0], ldb, &c[0], ldc, acc)
}

// ensure allocates the buffers of w workers (and, when training, the dW
// partials) that earlier calls did not.
func (h *headPacked) ensure(w int, training bool) {
	for len(h.scratch) < w {
		h.scratch = append(h.scratch, headScratch{
			l:   hugeFloats(h.rp*h.ldl, h.maps),
			xb:  make([]float32, h.rp*h.cp),
			xt:  make([]float32, h.rp*h.cp),
			dxb: make([]float32, h.rp*h.cp),
		})
	}
	if training && h.part == nil {
		h.part = make([][]float32, h.groups)
		for g := range h.part {
			h.part[g] = hugeFloats(h.vr*h.cp, h.maps)
		}
	}
}

// doPacked is Do on the packed path: it sets op.rowLoss and, when Training,
// dx and dw.
func (op *LinearCrossEntropy) doPacked(x, w, dx, dw []float32) {
	if h := op.packed; h == nil || h.kern16 != (op.kern >= KernelsAVX512) || h.asked != op.block {
		op.packed = newHeadPacked(op.n, op.c, op.v, op.block, op.kern)
	}
	h := op.packed
	c, v := op.c, op.v
	h.ensure(min(Workers(), h.groups), op.Training)
	parallelFor(h.vp/knr, 64, func(_, lo, hi int) { // Wᵀ panels lo..hi
		packB(h.wt[lo*knr*c:], true, c, min(hi*knr, v)-lo*knr, w[lo*knr*c:], c)
	})
	wsrc, ldw := w, c
	if h.wpad != nil && op.Training {
		parallelFor(v, 1024, func(_, lo, hi int) {
			for o := lo; o < hi; o++ {
				copy(h.wpad[o*h.cp:o*h.cp+c], w[o*c:(o+1)*c])
			}
		})
		wsrc, ldw = h.wpad, h.cp
	}
	h.pool.each(h.groups, func(worker, g int) {
		s := &h.scratch[worker]
		b0, b1 := g*h.nb/h.groups, (g+1)*h.nb/h.groups
		var part []float32
		if op.Training {
			part = h.part[g]
		}
		for b := b0; b < b1; b++ {
			op.packedBlock(h, s, x, wsrc, ldw, dx, part, b, b == b0)
		}
	})
	if !op.Training {
		return
	}
	parts := h.part
	parallelFor(v, 256, func(_, lo, hi int) {
		if h.cp == c { // rows are contiguous: one run
			sumParts(dw[lo*c:hi*c], parts, lo*c)
			return
		}
		for o := lo; o < hi; o++ {
			sumParts(dw[o*c:(o+1)*c], parts, o*h.cp)
		}
	})
}

// sumParts sets d = ((p₀ + p₁) + p₂) + … element-wise, reading each partial
// from offset off.
func sumParts(d []float32, parts [][]float32, off int) {
	n := len(d)
	if len(parts) == 1 {
		copy(d, parts[0][off:off+n])
		return
	}
	vecAdd8(d, parts[0][off:off+n], parts[1][off:off+n])
	for j := n &^ 7; j < n; j++ {
		d[j] = parts[0][off+j] + parts[1][off+j]
	}
	for _, p := range parts[2:] {
		vecAdd8(d, d, p[off:off+n])
		for j := n &^ 7; j < n; j++ {
			d[j] += p[off+j]
		}
	}
}

// packedBlock computes block b: its row losses, and when training its rows
// of dx and its dW term (stored into the group's partial part when first,
// added to it otherwise). W is read in place as wsrc with row stride ldw.
func (op *LinearCrossEntropy) packedBlock(h *headPacked, s *headScratch, x, wsrc []float32, ldw int, dx, part []float32, b int, first bool) {
	c, v, mr, cp, ldl := op.c, op.v, h.mr, h.cp, h.ldl
	r0 := b * h.block
	r := min(h.block, op.n-r0)
	for i := 0; i < h.rp; i++ {
		row := s.xb[i*cp : (i+1)*cp]
		if i < r {
			copy(row, x[(r0+i)*c:(r0+i+1)*c])
			clear(row[c:])
		} else {
			clear(row)
		}
	}
	rp, l := h.rp, s.l
	if h.kern16 {
		// Aᵀ kernel on x transposed: 16 rows' elements of one feature per
		// cache line (10 % faster than the row-major kernel at P1).
		xt := s.xt
		for i := 0; i < rp; i++ {
			for p, e := range s.xb[i*cp : i*cp+c] {
				xt[p*rp+i] = e
			}
		}
		for j0 := 0; j0 < h.vp; j0 += knr {
			panel := h.wt[j0*c : (j0+knr)*c]
			for i0 := 0; i0 < rp; i0 += mr {
				h.kernT(c, xt[i0:], rp, panel, knr, l[i0*ldl+j0:], ldl, false, false)
			}
		}
	} else {
		// the 6-row kernel would use 6 floats of each line of x transposed:
		// x's rows as they are
		for j0 := 0; j0 < h.vp; j0 += knr {
			panel := h.wt[j0*c : (j0+knr)*c]
			for i0 := 0; i0 < rp; i0 += mr {
				h.kernS(c, s.xb[i0*cp:], cp, panel, knr, l[i0*ldl+j0:], ldl, false)
			}
		}
	}
	invN := 1 / float64(op.n)
	for i := 0; i < r; i++ {
		row := l[i*ldl : i*ldl+v]
		op.rowLoss[r0+i] = xentRow(row, row, int(op.targets[r0+i]), invN, true)
	}
	if !op.Training {
		return
	}
	// Rows r..rp of l hold the logits of zero rows of x (zeros), and
	// columns v..ldl zeros: they add nothing below.
	for k0 := 0; k0 < v; k0 += h.ks {
		kk := min(h.ks, v-k0)
		for i0 := 0; i0 < h.rp; i0 += mr {
			for q := 0; q < cp; q += knr {
				h.kernS(kk, l[i0*ldl+k0:], ldl, wsrc[k0*ldw+q:], ldw, s.dxb[i0*cp+q:], cp, k0 > 0)
			}
		}
	}
	for i := 0; i < r; i++ {
		copy(dx[(r0+i)*c:(r0+i+1)*c], s.dxb[i*cp:i*cp+c])
	}
	for v0 := 0; v0 < h.vr; v0 += mr {
		for q := 0; q < cp; q += knr {
			h.kernT(r, l[v0:], ldl, s.xb[q:], cp, part[v0*cp+q:], cp, !first, true)
		}
	}
}

package asmgemm

import "sync"

const (
	mr, nr = 6, 16 // register tile
	kc     = 256   // k block: a packed B block (kc×nc) stays in L2
	nc     = 512   // n block
)

// Sgemm computes C = A·B for row-major A (m×k, lda), B (k×n, ldb) and C
// (m×n, ldc), on `workers` goroutines splitting the rows of C. It packs
// panels of A and B and runs the 6×16 assembly kernel on each tile; edge
// tiles go through a zero-padded scratch tile. Call only when Supported().
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, workers int) {
	SgemmWork(nil, m, n, k, a, lda, b, ldb, c, ldc, workers)
}

// Work holds Sgemm's packing buffers so that repeated calls do not allocate
// them; a Work must not be used by two calls at once.
type Work struct {
	bp  []float32
	aps [][]float32
}

// SgemmWork is Sgemm with its packing buffers taken from (and kept in) w; a
// nil w allocates them for this call.
func SgemmWork(w *Work, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, workers int) {
	for i := range m {
		clear(c[i*ldc : i*ldc+n])
	}
	if k == 0 || m == 0 || n == 0 {
		return
	}
	workers = max(1, min(workers, (m+mr-1)/mr))
	if w == nil {
		w = new(Work)
	}
	if len(w.bp) < kc*((nc+nr-1)/nr)*nr {
		w.bp = make([]float32, kc*((nc+nr-1)/nr)*nr)
	}
	for len(w.aps) < workers {
		w.aps = append(w.aps, make([]float32, mr*kc))
	}
	bp, aps := w.bp, w.aps[:workers]
	for j0 := 0; j0 < n; j0 += nc {
		nb := min(nc, n-j0)
		for p0 := 0; p0 < k; p0 += kc {
			kb := min(kc, k-p0)
			packB(bp, b, ldb, p0, kb, j0, nb)
			// Rows of C split into `workers` contiguous bands of whole tiles.
			tiles := (m + mr - 1) / mr
			var wg sync.WaitGroup
			for w := range workers {
				t0, t1 := tiles*w/workers, tiles*(w+1)/workers
				wg.Add(1)
				go func(ap []float32) {
					defer wg.Done()
					var tmp [mr * nr]float32
					for t := t0; t < t1; t++ {
						i0 := t * mr
						mb := min(mr, m-i0)
						packA(ap, a, lda, i0, mb, p0, kb)
						for jj := 0; jj < nb; jj += nr {
							panel := bp[jj*kb : jj*kb+nr*kb]
							cw := min(nr, nb-jj)
							if mb == mr && cw == nr {
								kern6x16(kb, &ap[0], &panel[0], &c[i0*ldc+j0+jj], ldc)
								continue
							}
							clear(tmp[:])
							kern6x16(kb, &ap[0], &panel[0], &tmp[0], nr)
							for r := range mb {
								row := c[(i0+r)*ldc+j0+jj:]
								for q := range cw {
									row[q] += tmp[r*nr+q]
								}
							}
						}
					}
				}(aps[w])
			}
			wg.Wait()
		}
	}
}

// packA copies A[i0:i0+mb, p0:p0+kb] k-major into ap (ap[p*6+i]), zero-padding rows.
func packA(ap, a []float32, lda, i0, mb, p0, kb int) {
	for p := range kb {
		for i := range mr {
			if i < mb {
				ap[p*mr+i] = a[(i0+i)*lda+p0+p]
			} else {
				ap[p*mr+i] = 0
			}
		}
	}
}

// packB copies B[p0:p0+kb, j0:j0+nb] into 16-column panels (panel q at
// bp[q*16*kb:], element [p][j] at p*16+j), zero-padding the last panel.
func packB(bp, b []float32, ldb, p0, kb, j0, nb int) {
	for jj := 0; jj < nb; jj += nr {
		panel := bp[jj*kb:]
		cw := min(nr, nb-jj)
		for p := range kb {
			src := b[(p0+p)*ldb+j0+jj:]
			dst := panel[p*nr : p*nr+nr]
			copy(dst[:cw], src[:cw])
			clear(dst[cw:])
		}
	}
}

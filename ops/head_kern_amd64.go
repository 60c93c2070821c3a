package ops

// The register-tile kernels of LinearCrossEntropy's packed path
// (head_kern_amd64.s): C (+)= A·B on one tile of C, B read in place at row
// stride ldb, C stored without being read (acc false) or added to (acc
// true). lda, ldb, ldc are in elements. The 16-row kernels need AVX-512F,
// the 6-row ones AVX2 + FMA.

// headKern16s is C[0:16, 0:16] (+)= A·B for A row-major (a[i*lda+p], p < k)
// and B[p][j] = b[p*ldb+j].
//
//go:noescape
func headKern16s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool)

// headKern16t is C[0:16, 0:16] (+)= Aᵀ·B for A stored k×16 (a[p*lda+i]).
//
//go:noescape
func headKern16t(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool)

// headKern6s is the 6-row AVX2 twin of headKern16s.
//
//go:noescape
func headKern6s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool)

// headKern6t is the 6-row AVX2 twin of headKern16t.
//
//go:noescape
func headKern6t(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool)

// headKern16tp is headKern16t fetching A eight rows of A ahead (for an A in
// L2 or beyond, read one row per step).
//
//go:noescape
func headKern16tp(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool)

// xentExpSum16 is xentExpSum8 sixteen lanes at a time, with its bits
// (head_xent_amd64.s). AVX-512F.
//
//go:noescape
func xentExpSum16(dst, src []float32, m float32) float64

package ops

// kern16x16z is C[0:16, 0:16] += A·B for sixteen row-major rows of A
// (a[i*lda+p], p < k) and a packed k×16 panel of B (b[p*16+j]); lda and ldc
// are in elements. AVX-512F only (attention_z_amd64.s); bit-identical to
// kern6x16 row for row.
//
//go:noescape
func kern16x16z(k int, a *float32, lda int, b, c *float32, ldc int)

// kern16x16zB is kern16x16z with B read in place (row stride ldb).
//
//go:noescape
func kern16x16zB(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// kern16x16zSetB is kern16x16zSet with B read in place (row stride ldb).
//
//go:noescape
func kern16x16zSetB(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// kern16x16zSet is kern16x16z storing C = A·B instead of adding to C.
//
//go:noescape
func kern16x16zSet(k int, a *float32, lda int, b, c *float32, ldc int)

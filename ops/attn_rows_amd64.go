package ops

// AVX2/FMA row kernels of the attention op (attn_rows_amd64.s); the Go
// wrappers in attn_rows.go check the lengths and do the remainders. d is
// len(cos), a half-row; only i < d rounded down to a multiple of 8 is done.

// ropeSumSq8 sets y[i], y[i+d] = RoPE(x) for i < d&^7 and returns the
// float64 sum of the squares of the values written.
//
//go:noescape
func ropeSumSq8(y, x, cos, sin []float32) float64

// ropeNorm8 is ropeNormRow with norm for len(cos) a positive multiple of 8:
// the rotation, 1/rms (eps added to the mean square) and the scaling in one
// call; it returns 1/rms. Same operations as the Go wrapper, same bits.
//
//go:noescape
func ropeNorm8(y, x, cos, sin []float32, eps float64) float32

// attnDot8 is Σ a[i]·b[i] for i < len(a)&^7 (b at least as long).
//
//go:noescape
func attnDot8(a, b []float32) float32

// attnScale8 sets x[i] *= s for i < len(x)&^7.
//
//go:noescape
func attnScale8(x []float32, s float32)

// attnScaleTo8 sets o[i] *= s, y[i] = o[i] for i < len(o)&^7.
//
//go:noescape
func attnScaleTo8(y, o []float32, s float32)

// attnMax8 returns the largest of x[0:len(x)&^7] (len(x) >= 8).
//
//go:noescape
func attnMax8(x []float32) float32

// normRopeBwd8 is qkBwdRow with norm and rope for i < d&^7.
//
//go:noescape
func normRopeBwd8(dst, dx, xn, cos, sin []float32, rs, m float32)

// ropeBwd8 is qkBwdRow with rope only for i < d&^7.
//
//go:noescape
func ropeBwd8(dst, dx, cos, sin []float32)

// packT16x8 is packT16 for q < count&^7 (two 8×8 register transposes per 8
// values of q); the caller checks the bounds.
//
//go:noescape
func packT16x8(dst []float32, lddst int, src []float32, ld, count int)

// prefetch asks for the cache lines of x ahead of their use (PREFETCHT0): the
// attention op's strided qkv and dqkv rows, whose 3 KiB stride defeats the
// hardware prefetchers.
//
//go:noescape
func prefetch(x []float32)

// softmaxBwd8 is softmaxBwdRow for j < len(p)&^7.
//
//go:noescape
func softmaxBwd8(p, ds []float32, a, b, c, di, scale float32)

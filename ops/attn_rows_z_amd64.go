package ops

// expSum16 sets x[j] = e^(a·x[j]−b) for every j and returns the sum of the
// results (attn_rows_z_amd64.s). AVX-512F only.
//
//go:noescape
func expSum16(x []float32, a, b float32) float32

// softmaxBwd16 is softmaxBwdRow for every j < len(p). AVX-512F only.
//
//go:noescape
func softmaxBwd16(p, ds []float32, a, b, c, di, scale float32)

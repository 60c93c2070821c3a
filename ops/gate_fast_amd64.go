package ops

// siluGateFwd8 sets y[j] = u[j]·silu(v[j]) for j below len(y) rounded down
// to a multiple of 8 (gate_fast_amd64.s). AVX2 + FMA only.
//
//go:noescape
func siluGateFwd8(y, u, v []float32)

// siluGateBwd8 sets du[j] = g[j]·silu(v[j]) and dv[j] = g[j]·u[j]·silu'(v[j])
// for j below len(du) rounded down to a multiple of 8. AVX2 + FMA only.
//
//go:noescape
func siluGateBwd8(du, dv, g, u, v []float32)

// siluGateFwd16 is siluGateFwd8 on 16 lanes (multiples of 16). AVX-512F only.
//
//go:noescape
func siluGateFwd16(y, u, v []float32)

// siluGateBwd16 is siluGateBwd8 on 16 lanes (multiples of 16). AVX-512F only.
//
//go:noescape
func siluGateBwd16(du, dv, g, u, v []float32)

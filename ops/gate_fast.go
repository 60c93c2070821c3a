package ops

import "math"

// Fast SwiGLU gate: y = u·silu(v), silu(v) = v·s(v), s(v) = 1/(1 + e^-v),
// and its backward du = g·silu(v), dv = g·u·s(v)(1 + v(1 - s(v))), in
// float32 with the Cephes expf of expf_amd64.h (AVX2: 8 lanes, AVX-512: 16)
// (generic: float64 math.Exp, rounded). The reference is the float64
// math.Exp form (GatedActRef with silu, dsilu); TestSiluGateKernels holds
// every class to it.
//
// v is raised to -88 first (silu and silu' are below 1e-35 there and e^-v
// stays finite), so silu(-1e30) is -5e-37, not the 1e30·e^-88.4 a clamped
// exponential would give. NaN propagates.
//
// Lengths that are not a multiple of the vector width: the last partial
// vector is computed by the same vector kernel on a zero-padded copy, so
// every element of a vector class goes through the same instructions, and
// the AVX2 and AVX-512 classes give identical bits.

// gateLo is the floor of v in the gate kernels.
const gateLo = -88

// sigmoidf is s(x) = 1/(1 + e^-x) rounded to float32, through float64
// math.Exp (assembly on amd64: faster there than the scalar expf).
func sigmoidf(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// siluGateFwdGo is the generic kernel of siluGateFwd.
func siluGateFwdGo(y, u, v []float32) {
	u, v = u[:len(y)], v[:len(y)]
	for j, x := range v {
		x = max(x, gateLo)
		y[j] = u[j] * (x * sigmoidf(x))
	}
}

// siluGateBwdGo is the generic kernel of siluGateBwd.
func siluGateBwdGo(du, dv, g, u, v []float32) {
	n := len(du)
	dv, g, u, v = dv[:n], g[:n], u[:n], v[:n]
	for j, x := range v {
		x = max(x, gateLo)
		s := sigmoidf(x)
		du[j] = g[j] * (x * s)
		dv[j] = (g[j] * u[j]) * (s * (1 + x*(1-s)))
	}
}

// siluGateFwd sets y[j] = u[j]·silu(v[j]) for j < len(y) (u and v at least
// as long) with the kernels of class k.
func siluGateFwd(k Kernels, y, u, v []float32) {
	n := len(y)
	switch k {
	case KernelsAVX512:
		m := n &^ 15
		if m > 0 {
			siluGateFwd16(y[:m], u[:m], v[:m])
		}
		if m < n {
			var yb, ub, vb [16]float32
			copy(ub[:], u[m:n])
			copy(vb[:], v[m:n])
			siluGateFwd16(yb[:], ub[:], vb[:])
			copy(y[m:], yb[:n-m])
		}
	case KernelsAVX2:
		m := n &^ 7
		if m > 0 {
			siluGateFwd8(y[:m], u[:m], v[:m])
		}
		if m < n {
			var yb, ub, vb [8]float32
			copy(ub[:], u[m:n])
			copy(vb[:], v[m:n])
			siluGateFwd8(yb[:], ub[:], vb[:])
			copy(y[m:], yb[:n-m])
		}
	default:
		siluGateFwdGo(y, u, v)
	}
}

// siluGateBwd sets du[j] = g[j]·silu(v[j]) and dv[j] = g[j]·u[j]·silu'(v[j])
// for j < len(du) with the kernels of class k.
func siluGateBwd(k Kernels, du, dv, g, u, v []float32) {
	n := len(du)
	switch k {
	case KernelsAVX512:
		m := n &^ 15
		if m > 0 {
			siluGateBwd16(du[:m], dv[:m], g[:m], u[:m], v[:m])
		}
		if m < n {
			var dub, dvb, gb, ub, vb [16]float32
			copy(gb[:], g[m:n])
			copy(ub[:], u[m:n])
			copy(vb[:], v[m:n])
			siluGateBwd16(dub[:], dvb[:], gb[:], ub[:], vb[:])
			copy(du[m:n], dub[:])
			copy(dv[m:n], dvb[:])
		}
	case KernelsAVX2:
		m := n &^ 7
		if m > 0 {
			siluGateBwd8(du[:m], dv[:m], g[:m], u[:m], v[:m])
		}
		if m < n {
			var dub, dvb, gb, ub, vb [8]float32
			copy(gb[:], g[m:n])
			copy(ub[:], u[m:n])
			copy(vb[:], v[m:n])
			siluGateBwd8(dub[:], dvb[:], gb[:], ub[:], vb[:])
			copy(du[m:n], dub[:])
			copy(dv[m:n], dvb[:])
		}
	default:
		siluGateBwdGo(du, dv, g, u, v)
	}
}

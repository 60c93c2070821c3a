//go:build !amd64

package ops

// Plain-Go twins of the amd64 gate kernels (never called here: only the
// generic class exists off amd64). Same contract as gate_fast_amd64.go.

func siluGateFwd8(y, u, v []float32) { siluGateFwdGo(y[:len(y)/8*8], u, v) }

func siluGateBwd8(du, dv, g, u, v []float32) { siluGateBwdGo(du[:len(du)/8*8], dv, g, u, v) }

func siluGateFwd16(y, u, v []float32) { siluGateFwdGo(y[:len(y)/16*16], u, v) }

func siluGateBwd16(du, dv, g, u, v []float32) { siluGateBwdGo(du[:len(du)/16*16], dv, g, u, v) }

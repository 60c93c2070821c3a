#include "textflag.h"
#include "expf_amd64.h"

// SiLU gate kernels: y = u·silu(v) and its backward, with
// s = 1/(1 + e^-v) from EXP8/EXP16 (expf_amd64.h). The AVX2 and AVX-512
// variants run the same operations in the same order on every lane, so they
// give identical bits. v is first raised to -88 (lo below), so e^-v never
// overflows (see gate_fast.go). NaN propagates.

DATA gateconst<>+0(SB)/4, $0xc2b00000 // lo = -88
GLOBL gateconst<>(SB), RODATA|NOPTR, $4

#define EXPCONSTS(R2, R3, R4, R5, R6, R7) \
	VBROADCASTSS ·expconst+0(SB), R2; \
	VBROADCASTSS ·expconst+4(SB), R3; \
	VBROADCASTSS ·expconst+8(SB), R4; \
	VBROADCASTSS ·expconst+12(SB), R5; \
	VBROADCASTSS ·expconst+16(SB), R6; \
	VBROADCASTSS ·expconst+20(SB), R7

// func siluGateFwd8(y, u, v []float32)
// y[j] = u[j]·(v[j]·s(v[j])) for j < len(y) rounded down to a multiple of 8.
// Needs AVX2 and FMA.
TEXT ·siluGateFwd8(SB), NOSPLIT, $0-72
	MOVQ   y_base+0(FP), DI
	MOVQ   y_len+8(FP), CX
	MOVQ   u_base+24(FP), BX
	MOVQ   v_base+48(FP), SI
	EXPCONSTS(Y2, Y3, Y4, Y5, Y6, Y7)
	VXORPS Y8, Y8, Y8
	VBROADCASTSS gateconst<>+0(SB), Y1
	CMPQ   CX, $8
	JLT    f8done

f8loop:
	VMOVUPS (SI), Y0
	VMAXPS  Y0, Y1, Y0   // max(v, lo), NaN kept
	VSUBPS  Y0, Y8, Y9   // -v
	EXP8                 // Y11 = e^-v
	VADDPS  Y5, Y11, Y11
	VDIVPS  Y11, Y5, Y11 // s = 1/(1+e^-v)
	VMULPS  Y11, Y0, Y11 // silu(v) = v·s
	VMULPS  (BX), Y11, Y11
	VMOVUPS Y11, (DI)
	ADDQ    $32, SI
	ADDQ    $32, BX
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     f8loop

f8done:
	VZEROUPPER
	RET

// func siluGateBwd8(du, dv, g, u, v []float32)
// du[j] = g[j]·silu(v[j]), dv[j] = (g[j]·u[j])·(s·(1 + v[j](1-s))) for j <
// len(du) rounded down to a multiple of 8. Needs AVX2 and FMA.
TEXT ·siluGateBwd8(SB), NOSPLIT, $0-120
	MOVQ   du_base+0(FP), DI
	MOVQ   du_len+8(FP), CX
	MOVQ   dv_base+24(FP), R8
	MOVQ   g_base+48(FP), DX
	MOVQ   u_base+72(FP), BX
	MOVQ   v_base+96(FP), SI
	EXPCONSTS(Y2, Y3, Y4, Y5, Y6, Y7)
	VXORPS Y8, Y8, Y8
	CMPQ   CX, $8
	JLT    b8done

b8loop:
	VMOVUPS     (SI), Y0
	VBROADCASTSS gateconst<>+0(SB), Y1
	VMAXPS      Y0, Y1, Y0
	VSUBPS      Y0, Y8, Y9
	EXP8
	VADDPS      Y5, Y11, Y11
	VDIVPS      Y11, Y5, Y15 // s
	VMULPS      Y15, Y0, Y12 // silu
	VMOVUPS     (DX), Y1     // g
	VMULPS      Y1, Y12, Y12
	VMOVUPS     Y12, (DI)    // du = g·silu
	VSUBPS      Y15, Y5, Y13 // 1-s
	VFMADD213PS Y5, Y0, Y13  // 1 + v(1-s)
	VMULPS      Y13, Y15, Y13
	VMULPS      (BX), Y1, Y1 // g·u
	VMULPS      Y13, Y1, Y1
	VMOVUPS     Y1, (R8)     // dv
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, BX
	ADDQ        $32, DI
	ADDQ        $32, R8
	SUBQ        $8, CX
	CMPQ        CX, $8
	JGE         b8loop

b8done:
	VZEROUPPER
	RET

// func siluGateFwd16(y, u, v []float32)
// siluGateFwd8 on 16 lanes, len(y) rounded down to a multiple of 16.
// Needs AVX-512F.
TEXT ·siluGateFwd16(SB), NOSPLIT, $0-72
	MOVQ   y_base+0(FP), DI
	MOVQ   y_len+8(FP), CX
	MOVQ   u_base+24(FP), BX
	MOVQ   v_base+48(FP), SI
	EXPCONSTS(Z2, Z3, Z4, Z5, Z6, Z7)
	VPXORD Z8, Z8, Z8
	VBROADCASTSS gateconst<>+0(SB), Z16
	CMPQ   CX, $16
	JLT    f16done

f16loop:
	VMOVUPS (SI), Z0
	VMAXPS  Z0, Z16, Z0
	VSUBPS  Z0, Z8, Z9
	EXP16
	VADDPS  Z5, Z11, Z11
	VDIVPS  Z11, Z5, Z11
	VMULPS  Z11, Z0, Z11
	VMULPS  (BX), Z11, Z11
	VMOVUPS Z11, (DI)
	ADDQ    $64, SI
	ADDQ    $64, BX
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     f16loop

f16done:
	VZEROUPPER
	RET

// func siluGateBwd16(du, dv, g, u, v []float32)
// siluGateBwd8 on 16 lanes, len(du) rounded down to a multiple of 16.
// Needs AVX-512F.
TEXT ·siluGateBwd16(SB), NOSPLIT, $0-120
	MOVQ   du_base+0(FP), DI
	MOVQ   du_len+8(FP), CX
	MOVQ   dv_base+24(FP), R8
	MOVQ   g_base+48(FP), DX
	MOVQ   u_base+72(FP), BX
	MOVQ   v_base+96(FP), SI
	EXPCONSTS(Z2, Z3, Z4, Z5, Z6, Z7)
	VPXORD Z8, Z8, Z8
	VBROADCASTSS gateconst<>+0(SB), Z16
	CMPQ   CX, $16
	JLT    b16done

b16loop:
	VMOVUPS     (SI), Z0
	VMAXPS      Z0, Z16, Z0
	VSUBPS      Z0, Z8, Z9
	EXP16
	VADDPS      Z5, Z11, Z11
	VDIVPS      Z11, Z5, Z15
	VMULPS      Z15, Z0, Z12
	VMOVUPS     (DX), Z1
	VMULPS      Z1, Z12, Z12
	VMOVUPS     Z12, (DI)
	VSUBPS      Z15, Z5, Z13
	VFMADD213PS Z5, Z0, Z13
	VMULPS      Z13, Z15, Z13
	VMULPS      (BX), Z1, Z1
	VMULPS      Z13, Z1, Z1
	VMOVUPS     Z1, (R8)
	ADDQ        $64, SI
	ADDQ        $64, DX
	ADDQ        $64, BX
	ADDQ        $64, DI
	ADDQ        $64, R8
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         b16loop

b16done:
	VZEROUPPER
	RET

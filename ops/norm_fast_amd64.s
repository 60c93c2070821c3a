#include "textflag.h"

// Row kernels of Norm: the float64 sums widen each float32 (VCVTPS2PD) and
// accumulate in two 4-lane double accumulators (even and odd 4-blocks); the
// element-wise passes do the float32 operations of the Go loops in the same
// order (no FMA), so they match them bit for bit. All process len(x) rounded
// down to a multiple of 8. Need AVX2 + FMA.


// func sum64x8(x []float32) float64
TEXT ·sum64x8(SB), NOSPLIT, $0-32
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	CMPQ   CX, $8
	JLT    sdone

sloop:
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	ADDQ      $32, SI
	SUBQ      $8, CX
	CMPQ      CX, $8
	JGE       sloop

sdone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VMOVSD       X0, ret+24(FP)
	VZEROUPPER
	RET

// func sumSq64x8(x []float32, m float32) float64
// Σ float64(x-m)² (x-m rounded to float32 first).
TEXT ·sumSq64x8(SB), NOSPLIT, $0-40
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS m+24(FP), X4
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	CMPQ         CX, $8
	JLT          qdone

qloop:
	VMOVUPS     (SI), X2
	VMOVUPS     16(SI), X3
	VSUBPS      X4, X2, X2
	VSUBPS      X4, X3, X3
	VCVTPS2PD   X2, Y2
	VCVTPS2PD   X3, Y3
	VFMADD231PD Y2, Y2, Y0
	VFMADD231PD Y3, Y3, Y1
	ADDQ        $32, SI
	SUBQ        $8, CX
	CMPQ        CX, $8
	JGE         qloop

qdone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VMOVSD       X0, ret+32(FP)
	VZEROUPPER
	RET

// func normBwdSums8(x, g, w []float32, m, rs float32) (sg, sgx float64)
// sg = Σ float64(g w), sgx = Σ float64(g w (x-m) rs).
TEXT ·normBwdSums8(SB), NOSPLIT, $0-96
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	MOVQ         g_base+24(FP), DX
	MOVQ         w_base+48(FP), R8
	VBROADCASTSS m+72(FP), X4
	VBROADCASTSS rs+76(FP), X5
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	VXORPD       Y6, Y6, Y6
	VXORPD       Y7, Y7, Y7
	CMPQ         CX, $8
	JLT          bdone

bloop:
	VMOVUPS   (DX), X2
	VMULPS    (R8), X2, X2     // g w
	VMOVUPS   (SI), X3
	VSUBPS    X4, X3, X3       // x - m
	VMULPS    X3, X2, X3       // g w (x-m)
	VMULPS    X5, X3, X3       // · rs
	VCVTPS2PD X2, Y2
	VCVTPS2PD X3, Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	VMOVUPS   16(DX), X8
	VMULPS    16(R8), X8, X8
	VMOVUPS   16(SI), X9
	VSUBPS    X4, X9, X9
	VMULPS    X9, X8, X9
	VMULPS    X5, X9, X9
	VCVTPS2PD X8, Y8
	VCVTPS2PD X9, Y9
	VADDPD    Y8, Y6, Y6
	VADDPD    Y9, Y7, Y7
	ADDQ      $32, SI
	ADDQ      $32, DX
	ADDQ      $32, R8
	SUBQ      $8, CX
	CMPQ      CX, $8
	JGE       bloop

bdone:
	VADDPD       Y6, Y0, Y0
	VEXTRACTF128 $1, Y0, X2
	VADDPD       X2, X0, X0
	VHADDPD      X0, X0, X0
	VMOVSD       X0, sg+80(FP)
	VADDPD       Y7, Y1, Y1
	VEXTRACTF128 $1, Y1, X2
	VADDPD       X2, X1, X1
	VHADDPD      X1, X1, X1
	VMOVSD       X1, sgx+88(FP)
	VZEROUPPER
	RET

// func normOut8(y, x, w, b []float32, m, rs float32)
// y = (x-m)·rs·w + b.
TEXT ·normOut8(SB), NOSPLIT, $0-104
	MOVQ         y_base+0(FP), DI
	MOVQ         x_base+24(FP), SI
	MOVQ         x_len+32(FP), CX
	MOVQ         w_base+48(FP), R8
	MOVQ         b_base+72(FP), R9
	VBROADCASTSS m+96(FP), Y4
	VBROADCASTSS rs+100(FP), Y5
	CMPQ         CX, $8
	JLT          odone

oloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y4, Y0, Y0
	VMULPS  Y5, Y0, Y0
	VMULPS  (R8), Y0, Y0
	VADDPS  (R9), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, R8
	ADDQ    $32, R9
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     oloop

odone:
	VZEROUPPER
	RET

// func normDx8(d, x, g, w []float32, m, rs, mg, mgx float32)
// d = rs·((g·w - mg) - (x-m)·rs·mgx).
TEXT ·normDx8(SB), NOSPLIT, $0-112
	MOVQ         d_base+0(FP), DI
	MOVQ         x_base+24(FP), SI
	MOVQ         x_len+32(FP), CX
	MOVQ         g_base+48(FP), DX
	MOVQ         w_base+72(FP), R8
	VBROADCASTSS m+96(FP), Y4
	VBROADCASTSS rs+100(FP), Y5
	VBROADCASTSS mg+104(FP), Y6
	VBROADCASTSS mgx+108(FP), Y7
	CMPQ         CX, $8
	JLT          ddone

dloop:
	VMOVUPS (DX), Y0
	VMULPS  (R8), Y0, Y0   // g w
	VSUBPS  Y6, Y0, Y0     // - mg
	VMOVUPS (SI), Y1
	VSUBPS  Y4, Y1, Y1     // x - m
	VMULPS  Y5, Y1, Y1     // · rs
	VMULPS  Y7, Y1, Y1     // · mgx
	VSUBPS  Y1, Y0, Y0
	VMULPS  Y5, Y0, Y0     // rs · (…)
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	ADDQ    $32, R8
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     dloop

ddone:
	VZEROUPPER
	RET

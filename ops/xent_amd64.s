#include "textflag.h"
#include "expf_amd64.h"

// Kernels of the cross-entropy op (xent.go). The exp is expScaled8's
// (attention_amd64.s: Cephes expf, as expf in attention_kernels.go), reading
// one slice and writing another and summing in float64.

// func xentMax8(x []float32) float32
// The largest element of x, len(x) a positive multiple of 8. AVX.
TEXT ·xentMax8(SB), NOSPLIT, $0-28
	MOVQ    x_base+0(FP), SI
	MOVQ    x_len+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	CMPQ    CX, $32
	JLT     m8

m32:
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	VMAXPS 64(SI), Y2, Y2
	VMAXPS 96(SI), Y3, Y3
	ADDQ   $128, SI
	SUBQ   $32, CX
	CMPQ   CX, $32
	JGE    m32

m8:
	CMPQ   CX, $8
	JLT    mdone
	VMAXPS (SI), Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	JMP    m8

mdone:
	VMAXPS       Y1, Y0, Y0
	VMAXPS       Y3, Y2, Y2
	VMAXPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+24(FP)
	RET

// func xentExpSum8(dst, src []float32, m float32) float64
// dst[j] = e^(src[j]-m) for j < len(src) (a multiple of 8), eight at a time;
// returns the sum of the results, added in float32 over runs of 16 vectors
// (16 terms a lane) and in float64 after that. Arguments below -87.33654 give
// 0; NaN stays NaN. Needs AVX2 and FMA.
TEXT ·xentExpSum8(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DI
	MOVQ         src_base+24(FP), SI
	MOVQ         src_len+32(FP), CX
	VBROADCASTSS m+48(FP), Y1
	VBROADCASTSS ·expconst+0(SB), Y2
	VBROADCASTSS ·expconst+4(SB), Y3
	VBROADCASTSS ·expconst+8(SB), Y4
	VBROADCASTSS ·expconst+12(SB), Y5
	VBROADCASTSS ·expconst+16(SB), Y6
	VBROADCASTSS ·expconst+20(SB), Y7
	VXORPD       Y8, Y8, Y8 // float64 sums of lanes 0-3
	VXORPD       Y0, Y0, Y0 // and 4-7
	VXORPS       Y15, Y15, Y15 // float32 sums of the last (at most) 16 vectors
	MOVQ         $16, DX
	CMPQ         CX, $8
	JLT          edone

eloop:
	VMOVUPS      (SI), Y9
	VSUBPS       Y1, Y9, Y9      // t = x - m
	EXP8 // Y11 = e^Y9, see expf_amd64.h
	VMOVUPS      Y11, (DI)
	VADDPS       Y11, Y15, Y15
	ADDQ         $32, SI
	ADDQ         $32, DI
	SUBQ         $8, CX
	DECQ         DX
	JNZ          enext
	VCVTPS2PD    X15, Y12      // every 16 vectors: add the float32 sums
	VEXTRACTF128 $1, Y15, X13  // into the float64 ones
	VCVTPS2PD    X13, Y13
	VADDPD       Y12, Y8, Y8
	VADDPD       Y13, Y0, Y0
	VXORPS       Y15, Y15, Y15
	MOVQ         $16, DX

enext:
	CMPQ CX, $8
	JGE  eloop

edone:
	VCVTPS2PD    X15, Y12
	VEXTRACTF128 $1, Y15, X13
	VCVTPS2PD    X13, Y13
	VADDPD       Y12, Y8, Y8
	VADDPD       Y13, Y0, Y0
	VADDPD       Y0, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPD       X9, X8, X8
	VHADDPD      X8, X8, X8
	VZEROUPPER
	MOVSD        X8, ret+56(FP)
	RET

// func xentScale8(x []float32, c float32)
// x[j] *= c for len(x) a multiple of 8. AVX.
TEXT ·xentScale8(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS c+24(FP), Y0
	CMPQ         CX, $32
	JLT          s8

s32:
	VMULPS  (SI), Y0, Y1
	VMULPS  32(SI), Y0, Y2
	VMULPS  64(SI), Y0, Y3
	VMULPS  96(SI), Y0, Y4
	VMOVUPS Y1, (SI)
	VMOVUPS Y2, 32(SI)
	VMOVUPS Y3, 64(SI)
	VMOVUPS Y4, 96(SI)
	ADDQ    $128, SI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     s32

s8:
	CMPQ    CX, $8
	JLT     sdone
	VMULPS  (SI), Y0, Y1
	VMOVUPS Y1, (SI)
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     s8

sdone:
	VZEROUPPER
	RET

#include "textflag.h"

// Kernels of the cross-entropy op (xent.go). The exp is expScaled8's
// (attention_amd64.s: Cephes expf, as expf in attention_kernels.go), reading
// one slice and writing another and summing in float64.

// Constants of xentExpSum8 (a copy of attention_amd64.s's expconst, which is
// local to that file).
DATA xentconst<>+0(SB)/4, $0x3fb8aa3b // log2e
DATA xentconst<>+4(SB)/4, $0x3f318000 // ln2hi
DATA xentconst<>+8(SB)/4, $0xb95e8083 // ln2lo
DATA xentconst<>+12(SB)/4, $0x3f800000 // one
DATA xentconst<>+16(SB)/4, $0xc2aeac4f // mint
DATA xentconst<>+20(SB)/4, $0x42b0c0a5 // maxt
DATA xentconst<>+24(SB)/4, $0x39506967 // c0
DATA xentconst<>+28(SB)/4, $0x3ab743ce // c1
DATA xentconst<>+32(SB)/4, $0x3c088908 // c2
DATA xentconst<>+36(SB)/4, $0x3d2aa9c1 // c3
DATA xentconst<>+40(SB)/4, $0x3e2aaaaa // c4
DATA xentconst<>+44(SB)/4, $0x3f000000 // c5
GLOBL xentconst<>(SB), RODATA|NOPTR, $48

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
	VBROADCASTSS xentconst<>+0(SB), Y2
	VBROADCASTSS xentconst<>+4(SB), Y3
	VBROADCASTSS xentconst<>+8(SB), Y4
	VBROADCASTSS xentconst<>+12(SB), Y5
	VBROADCASTSS xentconst<>+16(SB), Y6
	VBROADCASTSS xentconst<>+20(SB), Y7
	VXORPD       Y8, Y8, Y8 // float64 sums of lanes 0-3
	VXORPD       Y0, Y0, Y0 // and 4-7
	VXORPS       Y15, Y15, Y15 // float32 sums of the last (at most) 16 vectors
	MOVQ         $16, DX
	CMPQ         CX, $8
	JLT          edone

eloop:
	VMOVUPS      (SI), Y9
	VSUBPS       Y1, Y9, Y9      // t = x - m
	VMINPS       Y9, Y7, Y9      // t = min(maxt, t), NaN kept
	VCMPPS       $1, Y6, Y9, Y13 // t < mint
	VMULPS       Y2, Y9, Y10
	VROUNDPS     $0, Y10, Y10    // n = round(t log2 e)
	VFNMADD231PS Y3, Y10, Y9     // r = t - n ln2
	VFNMADD231PS Y4, Y10, Y9
	VBROADCASTSS xentconst<>+24(SB), Y11
	VBROADCASTSS xentconst<>+28(SB), Y14
	VFMADD213PS  Y14, Y9, Y11
	VBROADCASTSS xentconst<>+32(SB), Y14
	VFMADD213PS  Y14, Y9, Y11
	VBROADCASTSS xentconst<>+36(SB), Y14
	VFMADD213PS  Y14, Y9, Y11
	VBROADCASTSS xentconst<>+40(SB), Y14
	VFMADD213PS  Y14, Y9, Y11
	VBROADCASTSS xentconst<>+44(SB), Y14
	VFMADD213PS  Y14, Y9, Y11
	VMULPS       Y9, Y9, Y12
	VFMADD213PS  Y9, Y12, Y11    // p = p r² + r
	VADDPS       Y5, Y11, Y11    // p += 1
	VCVTPS2DQ    Y10, Y10
	VPSLLD       $23, Y10, Y10
	VPADDD       Y5, Y10, Y10    // 2^n
	VMULPS       Y10, Y11, Y11
	VANDNPS      Y11, Y13, Y11   // 0 below mint
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

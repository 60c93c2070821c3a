#include "textflag.h"
#include "expf_amd64.h"

#define FLUSH \
	VCVTPS2PD    X15, Y12; \
	VEXTRACTF128 $1, Y15, X13; \
	VCVTPS2PD    X13, Y13; \
	VADDPD       Y12, Y8, Y8; \
	VADDPD       Y13, Y0, Y0; \
	VXORPS       Y15, Y15, Y15

// func xentExpSum16(dst, src []float32, m float32) float64
// xentExpSum8 sixteen at a time (AVX-512F): dst[j] = e^(src[j]-m) for
// j < len(src) (a multiple of 8) and their sum, with exactly xentExpSum8's
// bits: EXP16 gives EXP8's bits lane by lane, and each result vector's two
// halves go into the same eight float32 sums, in the same order, flushed to
// float64 after the same sixteen 8-wide vectors.
TEXT ·xentExpSum16(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DI
	MOVQ         src_base+24(FP), SI
	MOVQ         src_len+32(FP), CX
	VBROADCASTSS m+48(FP), Z1
	VBROADCASTSS ·expconst+0(SB), Z2
	VBROADCASTSS ·expconst+4(SB), Z3
	VBROADCASTSS ·expconst+8(SB), Z4
	VBROADCASTSS ·expconst+12(SB), Z5
	VBROADCASTSS ·expconst+16(SB), Z6
	VBROADCASTSS ·expconst+20(SB), Z7
	VXORPD       Y8, Y8, Y8    // float64 sums of lanes 0-3
	VXORPD       Y0, Y0, Y0    // and 4-7
	VXORPS       Y15, Y15, Y15 // float32 sums of the last (at most) 16 8-wide vectors
	MOVQ         $16, DX
	CMPQ         CX, $16
	JLT          tail8

loop16:
	VMOVUPS       (SI), Z9
	VSUBPS        Z1, Z9, Z9
	EXP16 // Z11 = e^Z9
	VMOVUPS       Z11, (DI)
	VADDPS        Y11, Y15, Y15
	VEXTRACTF64X4 $1, Z11, Y12
	VADDPS        Y12, Y15, Y15
	ADDQ          $64, SI
	ADDQ          $64, DI
	SUBQ          $16, CX
	SUBQ          $2, DX
	JNZ           next16
	FLUSH
	MOVQ          $16, DX

next16:
	CMPQ CX, $16
	JGE  loop16

tail8:
	CMPQ    CX, $8
	JLT     done
	VMOVUPS (SI), Y9
	VSUBPS  Y1, Y9, Y9
	EXP8 // Y11 = e^Y9
	VMOVUPS Y11, (DI)
	VADDPS  Y11, Y15, Y15
	DECQ    DX
	JNZ     done
	FLUSH

done:
	FLUSH
	VADDPD       Y0, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPD       X9, X8, X8
	VHADDPD      X8, X8, X8
	VZEROUPPER
	MOVSD        X8, ret+56(FP)
	RET

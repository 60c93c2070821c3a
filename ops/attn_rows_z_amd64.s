#include "textflag.h"
#include "expf_amd64.h"

// AVX-512F softmax row kernels of the attention op: EXP16 (the same lane
// operations as EXP8, so each exponential has EXP8's bits) over whole rows,
// the last partial vector under a lane mask (K2) instead of a scalar loop.

// EXPCONST16 broadcasts EXP16's constants into Z2..Z7.
#define EXPCONST16 \
	VBROADCASTSS ·expconst+0(SB), Z2 \
	VBROADCASTSS ·expconst+4(SB), Z3 \
	VBROADCASTSS ·expconst+8(SB), Z4 \
	VBROADCASTSS ·expconst+12(SB), Z5 \
	VBROADCASTSS ·expconst+16(SB), Z6 \
	VBROADCASTSS ·expconst+20(SB), Z7

// TAILMASK sets K2 to the low CX&15 lanes and CX to the number of whole
// 16-lane vectors. Clobbers AX, BX.
#define TAILMASK \
	MOVQ  CX, BX \
	ANDQ  $15, CX \
	MOVQ  $1, AX \
	SHLQ  CX, AX \
	DECQ  AX \
	KMOVW AX, K2 \
	MOVQ  BX, CX \
	SHRQ  $4, CX

// func expSum16(x []float32, a, b float32) float32
// x[j] = e^(a*x[j]-b) for every j < len(x); returns their sum (16 partial
// sums, added pairwise at the end).
TEXT ·expSum16(SB), NOSPLIT, $0-36
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS a+24(FP), Z0
	VBROADCASTSS b+28(FP), Z1
	EXPCONST16
	VPXORD       Z8, Z8, Z8
	TAILMASK
	TESTQ        CX, CX
	JZ           e16tail

e16loop:
	VMOVUPS     (SI), Z9
	VFMSUB213PS Z1, Z0, Z9
	EXP16
	VMOVUPS     Z11, (SI)
	VADDPS      Z11, Z8, Z8
	ADDQ        $64, SI
	DECQ        CX
	JNZ         e16loop

e16tail:
	KORTESTW    K2, K2
	JZ          e16sum
	VMOVUPS.Z   (SI), K2, Z9
	VFMSUB213PS Z1, Z0, Z9
	EXP16
	VMOVUPS     Z11, K2, (SI)
	VADDPS      Z11, Z8, K2, Z8

e16sum:
	VEXTRACTF64X4 $1, Z8, Y9
	VADDPS        Y9, Y8, Y8
	VEXTRACTF128  $1, Y8, X9
	VADDPS        X9, X8, X8
	VHADDPS       X8, X8, X8
	VHADDPS       X8, X8, X8
	VZEROUPPER
	MOVSS         X8, ret+32(FP)
	RET

// func softmaxBwd16(p, ds []float32, a, b, c, di, scale float32)
// softmaxBwd8 for every j < len(p).
TEXT ·softmaxBwd16(SB), NOSPLIT, $0-68
	MOVQ         p_base+0(FP), SI
	MOVQ         p_len+8(FP), CX
	MOVQ         ds_base+24(FP), DI
	VBROADCASTSS a+48(FP), Z0
	VBROADCASTSS b+52(FP), Z1
	VBROADCASTSS c+56(FP), Z13
	VBROADCASTSS di+60(FP), Z8
	VBROADCASTSS scale+64(FP), Z15
	EXPCONST16
	TAILMASK
	TESTQ        CX, CX
	JZ           s16tail

s16loop:
	VMOVUPS     (SI), Z9
	VFMSUB213PS Z1, Z0, Z9
	EXP16
	VMULPS      Z13, Z11, Z11
	VMOVUPS     Z11, (SI)
	VMOVUPS     (DI), Z12
	VSUBPS      Z8, Z12, Z12
	VMULPS      Z12, Z11, Z12
	VMULPS      Z15, Z12, Z12
	VMOVUPS     Z12, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         s16loop

s16tail:
	KORTESTW    K2, K2
	JZ          s16done
	VMOVUPS.Z   (SI), K2, Z9
	VFMSUB213PS Z1, Z0, Z9
	EXP16
	VMULPS      Z13, Z11, Z11
	VMOVUPS     Z11, K2, (SI)
	VMOVUPS.Z   (DI), K2, Z12
	VSUBPS      Z8, Z12, Z12
	VMULPS      Z12, Z11, Z12
	VMULPS      Z15, Z12, Z12
	VMOVUPS     Z12, K2, (DI)

s16done:
	VZEROUPPER
	RET

#include "textflag.h"

// func colSumAdd8(s, x []float32, rows, ld int)
// s[j] += x[0*ld+j] + x[1*ld+j] + ... + x[(rows-1)*ld+j], in row order, for
// j < len(s) rounded down to a multiple of 8; 32 columns at a time in four
// YMM accumulators, then 8. Needs AVX.
TEXT ·colSumAdd8(SB), NOSPLIT, $0-64
	MOVQ s_base+0(FP), DI
	MOVQ s_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ rows+48(FP), R8
	MOVQ ld+56(FP), R9
	SHLQ $2, R9

c32:
	CMPQ    CX, $32
	JLT     c8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	MOVQ    SI, AX
	MOVQ    R8, BX
	TESTQ   BX, BX
	JEQ     s32

r32:
	VADDPS (AX), Y0, Y0
	VADDPS 32(AX), Y1, Y1
	VADDPS 64(AX), Y2, Y2
	VADDPS 96(AX), Y3, Y3
	ADDQ   R9, AX
	DECQ   BX
	JNZ    r32

s32:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     c32

c8:
	CMPQ    CX, $8
	JLT     done
	VMOVUPS (DI), Y0
	MOVQ    SI, AX
	MOVQ    R8, BX
	TESTQ   BX, BX
	JEQ     s8

r8:
	VADDPS (AX), Y0, Y0
	ADDQ   R9, AX
	DECQ   BX
	JNZ    r8

s8:
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     c8

done:
	VZEROUPPER
	RET

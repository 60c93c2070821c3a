#include "textflag.h"

// func vecMul8(d, a, b []float32)
// d[j] = a[j]·b[j] for j < len(d) rounded down to a multiple of 8
// (a and b at least as long). Needs AVX.
TEXT ·vecMul8(SB), NOSPLIT, $0-72
	MOVQ d_base+0(FP), DI
	MOVQ d_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	CMPQ CX, $8
	JLT  mdone

mloop:
	VMOVUPS (SI), Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     mloop

mdone:
	VZEROUPPER
	RET

// func vecAdd8(d, a, b []float32)
// d[j] = a[j]+b[j] for j < len(d) rounded down to a multiple of 8.
TEXT ·vecAdd8(SB), NOSPLIT, $0-72
	MOVQ d_base+0(FP), DI
	MOVQ d_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	CMPQ CX, $8
	JLT  adone

aloop:
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     aloop

adone:
	VZEROUPPER
	RET

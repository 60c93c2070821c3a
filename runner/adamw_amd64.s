#include "textflag.h"

// func adamw4(value, grad, m, v *float32, n int, c *adamWCoef)
// The AdamW update of adamWCoef.update, four elements at a time in float64
// AVX2 lanes, for n a multiple of 4. The same IEEE operations in the same
// order as the Go loop (no FMA; sqrt and div are correctly rounded), so the
// results are bit-identical to it. adamWCoef's fields, in order: b1, b2,
// keep, stepSize, sqrtBC2, eps, ob1 (1-b1), ob2 (1-b2).
TEXT ·adamw4(SB), NOSPLIT, $0-48
	MOVQ value+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	VBROADCASTSD 0(AX), Y8
	VBROADCASTSD 8(AX), Y9
	VBROADCASTSD 16(AX), Y10
	VBROADCASTSD 24(AX), Y11
	VBROADCASTSD 32(AX), Y12
	VBROADCASTSD 40(AX), Y13
	VBROADCASTSD 48(AX), Y14
	VBROADCASTSD 56(AX), Y15
	XORQ BX, BX

loop:
	CMPQ BX, CX
	JGE  done
	VCVTPS2PD (SI)(BX*4), Y0 // g
	VCVTPS2PD (DI)(BX*4), Y1
	VMULPD    Y10, Y1, Y1    // p = value*keep
	VCVTPS2PD (R8)(BX*4), Y2
	VMULPD    Y8, Y2, Y2     // b1*m
	VMULPD    Y14, Y0, Y3    // (1-b1)*g
	VADDPD    Y3, Y2, Y2     // mi
	VCVTPS2PD (R9)(BX*4), Y4
	VMULPD    Y9, Y4, Y4     // b2*v
	VMULPD    Y15, Y0, Y5    // (1-b2)*g
	VMULPD    Y0, Y5, Y5     // ((1-b2)*g)*g
	VADDPD    Y5, Y4, Y4     // vi
	VCVTPD2PSY Y2, X6
	VMOVUPS   X6, (R8)(BX*4)
	VCVTPD2PSY Y4, X7
	VMOVUPS   X7, (R9)(BX*4)
	VSQRTPD   Y4, Y4
	VDIVPD    Y12, Y4, Y4    // sqrt(vi)/sqrtBC2
	VADDPD    Y13, Y4, Y4    // denom
	VMULPD    Y11, Y2, Y2    // stepSize*mi
	VDIVPD    Y4, Y2, Y2     // /denom
	VSUBPD    Y2, Y1, Y1     // p - ...
	VCVTPD2PSY Y1, X1
	VMOVUPS   X1, (DI)(BX*4)
	ADDQ      $4, BX
	JMP       loop

done:
	VZEROUPPER
	RET

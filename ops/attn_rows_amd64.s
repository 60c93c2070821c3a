#include "textflag.h"
#include "expf_amd64.h"

// AVX2/FMA row kernels of the attention op (contracts in attn_rows_amd64.go).
// d = len(cos) is the half-row; the second half of a row is d*4 bytes
// (DX) after the first. Each loop step does 8 elements of each half.

// func ropeSumSq8(y, x, cos, sin []float32) float64
TEXT ·ropeSumSq8(SB), NOSPLIT, $0-104
	MOVQ   y_base+0(FP), DI
	MOVQ   x_base+24(FP), SI
	MOVQ   cos_base+48(FP), R8
	MOVQ   cos_len+56(FP), CX
	MOVQ   sin_base+72(FP), R9
	MOVQ   CX, DX
	SHLQ   $2, DX
	SHRQ   $3, CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	JZ     rsdone

rsloop:
	VMOVUPS      (SI), Y2       // x1
	VMOVUPS      (SI)(DX*1), Y3 // x2
	VMOVUPS      (R8), Y4       // c
	VMOVUPS      (R9), Y5       // s
	VMULPS       Y5, Y3, Y6     // x2 s
	VFMADD231PS  Y4, Y2, Y6     // y1 = x1 c + x2 s
	VMULPS       Y5, Y2, Y7     // x1 s
	VFMSUB231PS  Y4, Y3, Y7     // y2 = x2 c - x1 s
	VMOVUPS      Y6, (DI)
	VMOVUPS      Y7, (DI)(DX*1)
	VCVTPS2PD    X6, Y8
	VEXTRACTF128 $1, Y6, X9
	VCVTPS2PD    X9, Y9
	VFMADD231PD  Y8, Y8, Y0
	VFMADD231PD  Y9, Y9, Y1
	VCVTPS2PD    X7, Y8
	VEXTRACTF128 $1, Y7, X9
	VCVTPS2PD    X9, Y9
	VFMADD231PD  Y8, Y8, Y0
	VFMADD231PD  Y9, Y9, Y1
	ADDQ         $32, SI
	ADDQ         $32, DI
	ADDQ         $32, R8
	ADDQ         $32, R9
	DECQ         CX
	JNZ          rsloop

rsdone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VMOVSD       X0, ret+96(FP)
	VZEROUPPER
	RET

// func attnScale8(x []float32, s float32)
TEXT ·attnScale8(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS s+24(FP), Y0
	SHRQ         $3, CX
	JZ           scdone

scloop:
	VMULPS  (SI), Y0, Y1
	VMOVUPS Y1, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JNZ     scloop

scdone:
	VZEROUPPER
	RET

// func attnScaleTo8(y, o []float32, s float32)
TEXT ·attnScaleTo8(SB), NOSPLIT, $0-52
	MOVQ         y_base+0(FP), DI
	MOVQ         o_base+24(FP), SI
	MOVQ         o_len+32(FP), CX
	VBROADCASTSS s+48(FP), Y0
	SHRQ         $3, CX
	JZ           stdone

stloop:
	VMULPS  (SI), Y0, Y1
	VMOVUPS Y1, (SI)
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     stloop

stdone:
	VZEROUPPER
	RET

// func attnMax8(x []float32) float32
// Two accumulators over 16 at a time, then one block of 8 if left.
TEXT ·attnMax8(SB), NOSPLIT, $0-28
	MOVQ    x_base+0(FP), SI
	MOVQ    x_len+8(FP), CX
	SHRQ    $3, CX
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	ADDQ    $32, SI
	DECQ    CX
	CMPQ    CX, $2
	JLT     mxone

mxloop:
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	ADDQ   $64, SI
	SUBQ   $2, CX
	CMPQ   CX, $2
	JGE    mxloop

mxone:
	TESTQ  CX, CX
	JZ     mxdone
	VMAXPS (SI), Y0, Y0

mxdone:
	VMAXPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+24(FP)
	RET

// func normRopeBwd8(dst, dx, xn, cos, sin []float32, rs, m float32)
TEXT ·normRopeBwd8(SB), NOSPLIT, $0-128
	MOVQ         dst_base+0(FP), DI
	MOVQ         dx_base+24(FP), SI
	MOVQ         xn_base+48(FP), R10
	MOVQ         cos_base+72(FP), R8
	MOVQ         cos_len+80(FP), CX
	MOVQ         sin_base+96(FP), R9
	VBROADCASTSS rs+120(FP), Y0
	VBROADCASTSS m+124(FP), Y1
	MOVQ         CX, DX
	SHLQ         $2, DX
	SHRQ         $3, CX
	JZ           nrdone

nrloop:
	VMOVUPS      (SI), Y2
	VMOVUPS      (SI)(DX*1), Y3
	VFNMADD231PS (R10), Y1, Y2       // dx1 - xn1 m
	VFNMADD231PS (R10)(DX*1), Y1, Y3 // dx2 - xn2 m
	VMULPS       Y0, Y2, Y2          // a
	VMULPS       Y0, Y3, Y3          // b
	VMOVUPS      (R8), Y4            // c
	VMOVUPS      (R9), Y5            // s
	VMULPS       Y5, Y3, Y6          // b s
	VFMSUB231PS  Y4, Y2, Y6          // a c - b s
	VMULPS       Y5, Y2, Y7          // a s
	VFMADD231PS  Y4, Y3, Y7          // b c + a s
	VMOVUPS      Y6, (DI)
	VMOVUPS      Y7, (DI)(DX*1)
	ADDQ         $32, SI
	ADDQ         $32, DI
	ADDQ         $32, R10
	ADDQ         $32, R8
	ADDQ         $32, R9
	DECQ         CX
	JNZ          nrloop

nrdone:
	VZEROUPPER
	RET

// func ropeBwd8(dst, dx, cos, sin []float32)
TEXT ·ropeBwd8(SB), NOSPLIT, $0-96
	MOVQ dst_base+0(FP), DI
	MOVQ dx_base+24(FP), SI
	MOVQ cos_base+48(FP), R8
	MOVQ cos_len+56(FP), CX
	MOVQ sin_base+72(FP), R9
	MOVQ CX, DX
	SHLQ $2, DX
	SHRQ $3, CX
	JZ   rbdone

rbloop:
	VMOVUPS     (SI), Y2
	VMOVUPS     (SI)(DX*1), Y3
	VMOVUPS     (R8), Y4
	VMOVUPS     (R9), Y5
	VMULPS      Y5, Y3, Y6     // d2 s
	VFMSUB231PS Y4, Y2, Y6     // d1 c - d2 s
	VMULPS      Y5, Y2, Y7     // d1 s
	VFMADD231PS Y4, Y3, Y7     // d2 c + d1 s
	VMOVUPS     Y6, (DI)
	VMOVUPS     Y7, (DI)(DX*1)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, R8
	ADDQ        $32, R9
	DECQ        CX
	JNZ         rbloop

rbdone:
	VZEROUPPER
	RET

// TR8 transposes the 8×8 block held as Y0..Y3 = rows 0..3 of columns 0..3
// (low lane) and rows 4..7 (high lane), Y4..Y7 the same for columns 4..7:
// afterwards Y_c holds column c (rows 0..7). Y8..Y15 are clobbered.
#define TR8 \
	VUNPCKLPS Y1, Y0, Y8 \
	VUNPCKHPS Y1, Y0, Y9 \
	VUNPCKLPS Y3, Y2, Y10 \
	VUNPCKHPS Y3, Y2, Y11 \
	VUNPCKLPS Y5, Y4, Y12 \
	VUNPCKHPS Y5, Y4, Y13 \
	VUNPCKLPS Y7, Y6, Y14 \
	VUNPCKHPS Y7, Y6, Y15 \
	VSHUFPS   $0x44, Y10, Y8, Y0 \
	VSHUFPS   $0xEE, Y10, Y8, Y1 \
	VSHUFPS   $0x44, Y11, Y9, Y2 \
	VSHUFPS   $0xEE, Y11, Y9, Y3 \
	VSHUFPS   $0x44, Y14, Y12, Y4 \
	VSHUFPS   $0xEE, Y14, Y12, Y5 \
	VSHUFPS   $0x44, Y15, Y13, Y6 \
	VSHUFPS   $0xEE, Y15, Y13, Y7

// LOAD8 loads 8 columns (q0..q0+7) of the 8 source rows at R, R+ld, ...,
// R+7ld (R3 = R+3ld) into Y0..Y7 in TR8's layout.
#define LOAD8(R, R3) \
	VMOVUPS     (R), X0 \
	VINSERTF128 $1, (R)(R9*4), Y0, Y0 \
	VMOVUPS     (R)(R9*1), X1 \
	VINSERTF128 $1, (R3)(R9*2), Y1, Y1 \
	VMOVUPS     (R)(R9*2), X2 \
	VINSERTF128 $1, (R)(R11*2), Y2, Y2 \
	VMOVUPS     (R3), X3 \
	VINSERTF128 $1, (R3)(R9*4), Y3, Y3 \
	VMOVUPS     16(R), X4 \
	VINSERTF128 $1, 16(R)(R9*4), Y4, Y4 \
	VMOVUPS     16(R)(R9*1), X5 \
	VINSERTF128 $1, 16(R3)(R9*2), Y5, Y5 \
	VMOVUPS     16(R)(R9*2), X6 \
	VINSERTF128 $1, 16(R)(R11*2), Y6, Y6 \
	VMOVUPS     16(R3), X7 \
	VINSERTF128 $1, 16(R3)(R9*4), Y7, Y7

// STORE8 stores Y0..Y7 at byte offset OFF of destination rows 0..7 (DI,
// BX = DI + 3 lddst).
#define STORE8(OFF) \
	VMOVUPS Y0, OFF(DI) \
	VMOVUPS Y1, OFF(DI)(R8*1) \
	VMOVUPS Y2, OFF(DI)(R8*2) \
	VMOVUPS Y3, OFF(BX) \
	VMOVUPS Y4, OFF(DI)(R8*4) \
	VMOVUPS Y5, OFF(BX)(R8*2) \
	VMOVUPS Y6, OFF(DI)(AX*2) \
	VMOVUPS Y7, OFF(BX)(R8*4)

// func packT16x8(dst []float32, lddst int, src []float32, ld, count int)
// dst[q*lddst+j] = src[j*ld+q] for j < 16, q < count&^7: two 8×8 register
// transposes per 8 values of q. lddst and ld are in elements.
TEXT ·packT16x8(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ lddst+24(FP), R8
	MOVQ src_base+32(FP), SI
	MOVQ ld+56(FP), R9
	MOVQ count+64(FP), CX
	SHLQ $2, R8
	SHLQ $2, R9
	LEAQ (R8)(R8*2), AX
	LEAQ (R9)(R9*2), R11
	LEAQ (DI)(AX*1), BX
	LEAQ (SI)(R11*1), R10
	LEAQ (SI)(R9*8), R12
	LEAQ (R12)(R11*1), R13
	SHRQ $3, CX
	JZ   ptdone

ptloop:
	LOAD8(SI, R10)
	TR8
	STORE8(0)
	LOAD8(R12, R13)
	TR8
	STORE8(32)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R12
	ADDQ $32, R13
	LEAQ (DI)(R8*8), DI
	LEAQ (BX)(R8*8), BX
	DECQ CX
	JNZ  ptloop

ptdone:
	VZEROUPPER
	RET


// func prefetch(x []float32)
// PREFETCHT0 of every 64-byte line of x (one per 16 elements from x[0], and
// the last element's line).
TEXT ·prefetch(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	TESTQ CX, CX
	JZ   pfdone
	LEAQ -4(SI)(CX*4), DX

pfloop:
	PREFETCHT0 (SI)
	ADDQ       $64, SI
	CMPQ       SI, DX
	JLE        pfloop
	PREFETCHT0 (DX)

pfdone:
	RET

// func softmaxBwd8(p, ds []float32, a, b, c, di, scale float32)
// p[j] = e^(a*p[j]-b)*c (EXP8, as expScaled8) and ds[j] = p[j]*(ds[j]-di)*scale
// (no FMA: the Go loop's roundings) for j < len(p)&^7.
TEXT ·softmaxBwd8(SB), NOSPLIT, $0-68
	MOVQ         p_base+0(FP), SI
	MOVQ         p_len+8(FP), CX
	MOVQ         ds_base+24(FP), DI
	VBROADCASTSS a+48(FP), Y0
	VBROADCASTSS b+52(FP), Y1
	VBROADCASTSS di+60(FP), Y8
	VBROADCASTSS scale+64(FP), Y15
	VBROADCASTSS ·expconst+0(SB), Y2
	VBROADCASTSS ·expconst+4(SB), Y3
	VBROADCASTSS ·expconst+8(SB), Y4
	VBROADCASTSS ·expconst+12(SB), Y5
	VBROADCASTSS ·expconst+16(SB), Y6
	VBROADCASTSS ·expconst+20(SB), Y7
	SHRQ         $3, CX
	JZ           sbdone

sbloop:
	VMOVUPS     (SI), Y9
	VFMSUB213PS Y1, Y0, Y9 // a*x - b
	EXP8
	VBROADCASTSS c+56(FP), Y12
	VMULPS      Y12, Y11, Y11 // · c
	VMOVUPS     Y11, (SI)
	VMOVUPS     (DI), Y12
	VSUBPS      Y8, Y12, Y12  // ds - di
	VMULPS      Y12, Y11, Y12 // p (ds - di)
	VMULPS      Y15, Y12, Y12 // · scale
	VMOVUPS     Y12, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         sbloop

sbdone:
	VZEROUPPER
	RET

// func ropeNorm8(y, x, cos, sin []float32, eps float64) float32
// ropeNormRow with norm for d = len(cos) a multiple of 8 (> 0), in one call:
// ropeSumSq8's pass, rs = float32(1/sqrt(ss/(2d) + eps)) in float64 (the Go
// wrapper's operations), then y *= rs. Returns rs.
TEXT ·ropeNorm8(SB), NOSPLIT, $0-108
	MOVQ   y_base+0(FP), DI
	MOVQ   x_base+24(FP), SI
	MOVQ   cos_base+48(FP), R8
	MOVQ   cos_len+56(FP), CX
	MOVQ   sin_base+72(FP), R9
	MOVQ   CX, DX
	SHLQ   $2, DX
	SHRQ   $3, CX
	MOVQ   CX, R10
	MOVQ   DI, R11
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1

rnloop:
	VMOVUPS      (SI), Y2
	VMOVUPS      (SI)(DX*1), Y3
	VMOVUPS      (R8), Y4
	VMOVUPS      (R9), Y5
	VMULPS       Y5, Y3, Y6
	VFMADD231PS  Y4, Y2, Y6
	VMULPS       Y5, Y2, Y7
	VFMSUB231PS  Y4, Y3, Y7
	VMOVUPS      Y6, (DI)
	VMOVUPS      Y7, (DI)(DX*1)
	VCVTPS2PD    X6, Y8
	VEXTRACTF128 $1, Y6, X9
	VCVTPS2PD    X9, Y9
	VFMADD231PD  Y8, Y8, Y0
	VFMADD231PD  Y9, Y9, Y1
	VCVTPS2PD    X7, Y8
	VEXTRACTF128 $1, Y7, X9
	VCVTPS2PD    X9, Y9
	VFMADD231PD  Y8, Y8, Y0
	VFMADD231PD  Y9, Y9, Y1
	ADDQ         $32, SI
	ADDQ         $32, DI
	ADDQ         $32, R8
	ADDQ         $32, R9
	DECQ         CX
	JNZ          rnloop

	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0           // ss
	MOVQ         cos_len+56(FP), AX
	SHLQ         $1, AX
	VCVTSI2SDQ   AX, X1, X1           // 2d
	VDIVSD       X1, X0, X0           // ss / 2d
	VADDSD       eps+96(FP), X0, X0
	VSQRTSD      X0, X0, X0
	MOVQ         $0x3ff0000000000000, AX
	VMOVQ        AX, X2               // 1.0
	VDIVSD       X0, X2, X2           // 1/sqrt
	VCVTSD2SS    X2, X2, X2           // rs
	VMOVSS       X2, ret+104(FP)
	VBROADCASTSS X2, Y3
	MOVQ         R11, DI

rnscale:
	VMULPS  (DI), Y3, Y4
	VMOVUPS Y4, (DI)
	VMULPS  (DI)(DX*1), Y3, Y5
	VMOVUPS Y5, (DI)(DX*1)
	ADDQ    $32, DI
	DECQ    R10
	JNZ     rnscale
	VZEROUPPER
	RET

// func attnDot8(a, b []float32) float32
// Σ a[i]·b[i] for i < len(a)&^7: two 8-lane FMA accumulators (even and odd
// blocks of 8), added, then summed across lanes.
TEXT ·attnDot8(SB), NOSPLIT, $0-52
	MOVQ   a_base+0(FP), SI
	MOVQ   a_len+8(FP), CX
	MOVQ   b_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	SHRQ   $3, CX
	JZ     dtsum

dtloop:
	VMOVUPS     (SI), Y2
	VFMADD231PS (DI), Y2, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JZ          dtsum
	VMOVUPS     (SI), Y3
	VFMADD231PS (DI), Y3, Y1
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         dtloop

dtsum:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+48(FP)
	RET

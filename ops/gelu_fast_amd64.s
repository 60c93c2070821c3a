#include "textflag.h"

// Constants of geluPair8 (see gelu_fast.go for the formula).
DATA geluconst<>+0(SB)/4, $0x3f800000 // one
DATA geluconst<>+4(SB)/4, $0x3f000000 // half
DATA geluconst<>+8(SB)/4, $0x41200000 // hi
DATA geluconst<>+12(SB)/4, $0xc1200000 // lo
DATA geluconst<>+16(SB)/4, $0x3f3504f3 // rsqrt2
DATA geluconst<>+20(SB)/4, $0x7fffffff // absmask
DATA geluconst<>+24(SB)/4, $0x3ecc422a // invsqrt2pi
DATA geluconst<>+28(SB)/4, $0x3e2ef945 // t9
DATA geluconst<>+32(SB)/4, $0xbf527892 // t8
DATA geluconst<>+36(SB)/4, $0x3fbe87b0 // t7
DATA geluconst<>+40(SB)/4, $0xbf914e5d // t6
DATA geluconst<>+44(SB)/4, $0x3e8ec7cc // t5
DATA geluconst<>+48(SB)/4, $0xbe3ec24c // t4
DATA geluconst<>+52(SB)/4, $0x3dc636c9 // t3
DATA geluconst<>+56(SB)/4, $0x3ebf88fb // t2
DATA geluconst<>+60(SB)/4, $0x3f8000c7 // t1
DATA geluconst<>+64(SB)/4, $0xbfa1fc4e // t0
DATA geluconst<>+68(SB)/4, $0x3fb8aa3b // log2e
DATA geluconst<>+72(SB)/4, $0x3f318000 // ln2hi
DATA geluconst<>+76(SB)/4, $0xb95e8083 // ln2lo
DATA geluconst<>+80(SB)/4, $0x39506967 // c0
DATA geluconst<>+84(SB)/4, $0x3ab743ce // c1
DATA geluconst<>+88(SB)/4, $0x3c088908 // c2
DATA geluconst<>+92(SB)/4, $0x3d2aa9c1 // c3
DATA geluconst<>+96(SB)/4, $0x3e2aaaaa // c4
DATA geluconst<>+100(SB)/4, $0x3f000000 // c5
GLOBL geluconst<>(SB), RODATA|NOPTR, $104

// EXP8(V) sets V = e^V for |V| <= 60 (Cephes expf: n = round(V log2 e),
// r = V - n ln2, degree-6 polynomial, times 2^n). Uses Y8-Y11; Y13 = 1.0.
#define EXP8(V) \
	VBROADCASTSS geluconst<>+68(SB), Y8 \
	VMULPS       Y8, V, Y9 \
	VROUNDPS     $0, Y9, Y9 \
	VBROADCASTSS geluconst<>+72(SB), Y8 \
	VFNMADD231PS Y8, Y9, V \
	VBROADCASTSS geluconst<>+76(SB), Y8 \
	VFNMADD231PS Y8, Y9, V \
	VBROADCASTSS geluconst<>+80(SB), Y10 \
	VBROADCASTSS geluconst<>+84(SB), Y8 \
	VFMADD213PS  Y8, V, Y10 \
	VBROADCASTSS geluconst<>+88(SB), Y8 \
	VFMADD213PS  Y8, V, Y10 \
	VBROADCASTSS geluconst<>+92(SB), Y8 \
	VFMADD213PS  Y8, V, Y10 \
	VBROADCASTSS geluconst<>+96(SB), Y8 \
	VFMADD213PS  Y8, V, Y10 \
	VBROADCASTSS geluconst<>+100(SB), Y8 \
	VFMADD213PS  Y8, V, Y10 \
	VMULPS       V, V, Y11 \
	VFMADD213PS  V, Y11, Y10 \
	VADDPS       Y13, Y10, Y10 \
	VCVTPS2DQ    Y9, Y9 \
	VPSLLD       $23, Y9, Y9 \
	VPADDD       Y13, Y9, Y9 \
	VMULPS       Y9, Y10, V

#define TSTEP(OFF) \
	VBROADCASTSS geluconst<>+OFF(SB), Y8 \
	VFMADD213PS  Y8, Y3, Y4

// func geluPair8(y, d, x []float32)
// y[j] = gelu(x[j]) and d[j] = gelu'(x[j]) for j < len(x) rounded down to a
// multiple of 8 (y and d at least as long). Needs AVX2 and FMA.
TEXT ·geluPair8(SB), NOSPLIT, $0-72
	MOVQ         y_base+0(FP), DI
	MOVQ         d_base+24(FP), DX
	MOVQ         x_base+48(FP), SI
	MOVQ         x_len+56(FP), CX
	VBROADCASTSS geluconst<>+0(SB), Y13 // one
	VXORPS       Y14, Y14, Y14          // zero
	CMPQ         CX, $8
	JLT          gdone

gloop:
	VMOVUPS      (SI), Y0                 // x
	VBROADCASTSS geluconst<>+8(SB), Y8
	VMINPS       Y0, Y8, Y1               // (x second: NaN propagates)
	VBROADCASTSS geluconst<>+12(SB), Y8
	VMAXPS       Y0, Y8, Y12              // xl = max(x, -10)
	VMAXPS       Y1, Y8, Y1               // xc = clamp(x, -10, 10)
	VBROADCASTSS geluconst<>+16(SB), Y8
	VMULPS       Y8, Y1, Y2               // z = xc/√2
	VMULPS       Y2, Y2, Y5               // z²
	VBROADCASTSS geluconst<>+20(SB), Y8
	VANDPS       Y8, Y2, Y2               // |z|
	VBROADCASTSS geluconst<>+4(SB), Y8
	VFMADD213PS  Y13, Y8, Y2              // 1 + |z|/2
	VDIVPS       Y2, Y13, Y3              // t = 1/(1 + |z|/2)
	VBROADCASTSS geluconst<>+28(SB), Y4
	TSTEP(32)
	TSTEP(36)
	TSTEP(40)
	TSTEP(44)
	TSTEP(48)
	TSTEP(52)
	TSTEP(56)
	TSTEP(60)
	TSTEP(64)                             // p(t)
	VSUBPS       Y5, Y14, Y5              // -z²
	EXP8(Y5)                              // e = e^(-z²)
	EXP8(Y4)                              // e^p
	VMULPS       Y5, Y4, Y4
	VMULPS       Y3, Y4, Y4
	VBROADCASTSS geluconst<>+4(SB), Y8
	VMULPS       Y8, Y4, Y4               // h = erfc(|z|)/2 = t e e^p / 2
	VSUBPS       Y4, Y13, Y6              // 1 - h
	VCMPPS       $0x0E, Y14, Y0, Y7       // x > 0
	VBLENDVPS    Y7, Y6, Y4, Y6           // Φ = x > 0 ? 1-h : h
	VMULPS       Y6, Y12, Y7
	VMOVUPS      Y7, (DI)                 // y = xl Φ
	VBROADCASTSS geluconst<>+24(SB), Y8
	VMULPS       Y8, Y5, Y5               // pdf = e/√(2π)
	VFMADD213PS  Y6, Y1, Y5               // d = Φ + xc pdf
	VMOVUPS      Y5, (DX)
	ADDQ         $32, SI
	ADDQ         $32, DI
	ADDQ         $32, DX
	SUBQ         $8, CX
	CMPQ         CX, $8
	JGE          gloop

gdone:
	VZEROUPPER
	RET


// EXP16G(V) is EXP8 on 16 lanes (AVX-512F): the same operations in the same
// order (VRNDSCALEPS $0 is VROUNDPS $0), so every lane gets EXP8's bits.
// Uses Z8-Z11; Z13 = 1.0.
#define EXP16G(V) \
	VBROADCASTSS geluconst<>+68(SB), Z8 \
	VMULPS       Z8, V, Z9 \
	VRNDSCALEPS  $0, Z9, Z9 \
	VBROADCASTSS geluconst<>+72(SB), Z8 \
	VFNMADD231PS Z8, Z9, V \
	VBROADCASTSS geluconst<>+76(SB), Z8 \
	VFNMADD231PS Z8, Z9, V \
	VBROADCASTSS geluconst<>+80(SB), Z10 \
	VBROADCASTSS geluconst<>+84(SB), Z8 \
	VFMADD213PS  Z8, V, Z10 \
	VBROADCASTSS geluconst<>+88(SB), Z8 \
	VFMADD213PS  Z8, V, Z10 \
	VBROADCASTSS geluconst<>+92(SB), Z8 \
	VFMADD213PS  Z8, V, Z10 \
	VBROADCASTSS geluconst<>+96(SB), Z8 \
	VFMADD213PS  Z8, V, Z10 \
	VBROADCASTSS geluconst<>+100(SB), Z8 \
	VFMADD213PS  Z8, V, Z10 \
	VMULPS       V, V, Z11 \
	VFMADD213PS  V, Z11, Z10 \
	VADDPS       Z13, Z10, Z10 \
	VCVTPS2DQ    Z9, Z9 \
	VPSLLD       $23, Z9, Z9 \
	VPADDD       Z13, Z9, Z9 \
	VMULPS       Z9, Z10, V

#define TSTEP16(OFF) \
	VBROADCASTSS geluconst<>+OFF(SB), Z8 \
	VFMADD213PS  Z8, Z3, Z4

// func geluPair16(y, d, x []float32)
// y[j] = gelu(x[j]) and d[j] = gelu'(x[j]) for j < len(x) rounded down to a
// multiple of 16 (y and d at least as long), with geluPair8's operations
// on 16 lanes (the same bits per lane). Needs AVX-512F.
TEXT ·geluPair16(SB), NOSPLIT, $0-72
	MOVQ         y_base+0(FP), DI
	MOVQ         d_base+24(FP), DX
	MOVQ         x_base+48(FP), SI
	MOVQ         x_len+56(FP), CX
	VBROADCASTSS geluconst<>+0(SB), Z13 // one
	VPXORD       Z14, Z14, Z14          // zero (VPXORD: AVX-512F; VXORPS zmm needs DQ)
	CMPQ         CX, $16
	JLT          g16done

g16loop:
	VMOVUPS      (SI), Z0                 // x
	VBROADCASTSS geluconst<>+8(SB), Z8
	VMINPS       Z0, Z8, Z1               // (x second: NaN propagates)
	VBROADCASTSS geluconst<>+12(SB), Z8
	VMAXPS       Z0, Z8, Z12              // xl = max(x, -10)
	VMAXPS       Z1, Z8, Z1               // xc = clamp(x, -10, 10)
	VBROADCASTSS geluconst<>+16(SB), Z8
	VMULPS       Z8, Z1, Z2               // z = xc/√2
	VMULPS       Z2, Z2, Z5               // z²
	VBROADCASTSS geluconst<>+20(SB), Z8
	VPANDD       Z8, Z2, Z2               // |z| (VPANDD: AVX-512F)
	VBROADCASTSS geluconst<>+4(SB), Z8
	VFMADD213PS  Z13, Z8, Z2              // 1 + |z|/2
	VDIVPS       Z2, Z13, Z3              // t = 1/(1 + |z|/2)
	VBROADCASTSS geluconst<>+28(SB), Z4
	TSTEP16(32)
	TSTEP16(36)
	TSTEP16(40)
	TSTEP16(44)
	TSTEP16(48)
	TSTEP16(52)
	TSTEP16(56)
	TSTEP16(60)
	TSTEP16(64)                             // p(t)
	VSUBPS       Z5, Z14, Z5              // -z²
	EXP16G(Z5)                              // e = e^(-z²)
	EXP16G(Z4)                              // e^p
	VMULPS       Z5, Z4, Z4
	VMULPS       Z3, Z4, Z4
	VBROADCASTSS geluconst<>+4(SB), Z8
	VMULPS       Z8, Z4, Z4               // h = erfc(|z|)/2 = t e e^p / 2
	VSUBPS       Z4, Z13, Z6              // 1 - h
	VCMPPS       $0x0E, Z14, Z0, K1       // x > 0
	VBLENDMPS    Z6, Z4, K1, Z6           // Φ = x > 0 ? 1-h : h
	VMULPS       Z6, Z12, Z7
	VMOVUPS      Z7, (DI)                 // y = xl Φ
	VBROADCASTSS geluconst<>+24(SB), Z8
	VMULPS       Z8, Z5, Z5               // pdf = e/√(2π)
	VFMADD213PS  Z6, Z1, Z5               // d = Φ + xc pdf
	VMOVUPS      Z5, (DX)
	ADDQ         $64, SI
	ADDQ         $64, DI
	ADDQ         $64, DX
	SUBQ         $16, CX
	CMPQ         CX, $16
	JGE          g16loop

g16done:
	VZEROUPPER
	RET

// Shared by attention_amd64.s and xent_amd64.s: the 8-wide float32 exp of
// expScaled8 (Cephes expf, the same polynomial as expf in
// attention_kernels.go) and its constants, ·expconst, defined in
// attention_amd64.s.
//
// EXP8 computes Y11 = e^Y9 (Y9 is clobbered; Y10, Y12-Y14 are scratch),
// clamped to maxt above (NaN kept) and 0 below mint, with
// Y2 = log2e, Y3 = ln2hi, Y4 = ln2lo, Y5 = 1.0, Y6 = mint, Y7 = maxt
// broadcast from ·expconst+0..20 by the caller.
#define EXP8 \
	VMINPS       Y9, Y7, Y9; \
	VCMPPS       $1, Y6, Y9, Y13; \
	VMULPS       Y2, Y9, Y10; \
	VROUNDPS     $0, Y10, Y10; \
	VFNMADD231PS Y3, Y10, Y9; \
	VFNMADD231PS Y4, Y10, Y9; \
	VBROADCASTSS ·expconst+24(SB), Y11; \
	VBROADCASTSS ·expconst+28(SB), Y14; \
	VFMADD213PS  Y14, Y9, Y11; \
	VBROADCASTSS ·expconst+32(SB), Y14; \
	VFMADD213PS  Y14, Y9, Y11; \
	VBROADCASTSS ·expconst+36(SB), Y14; \
	VFMADD213PS  Y14, Y9, Y11; \
	VBROADCASTSS ·expconst+40(SB), Y14; \
	VFMADD213PS  Y14, Y9, Y11; \
	VBROADCASTSS ·expconst+44(SB), Y14; \
	VFMADD213PS  Y14, Y9, Y11; \
	VMULPS       Y9, Y9, Y12; \
	VFMADD213PS  Y9, Y12, Y11; \
	VADDPS       Y5, Y11, Y11; \
	VCVTPS2DQ    Y10, Y10; \
	VPSLLD       $23, Y10, Y10; \
	VPADDD       Y5, Y10, Y10; \
	VMULPS       Y10, Y11, Y11; \
	VANDNPS      Y11, Y13, Y11;

// EXP16 is EXP8 on 16 lanes (AVX-512F): Z11 = e^Z9 with the same operations
// in the same order, so every lane gets exactly EXP8's bits. Z9 is clobbered;
// Z10, Z12, Z14 and K1 are scratch; Z2-Z7 hold the constants as Y2-Y7 do for
// EXP8. VRNDSCALEPS $0 is VROUNDPS $0 (nearest even); the zeroing mask K1
// (Z9 not below mint, NaN included) replaces EXP8's VANDNPS.
#define EXP16 \
	VMINPS        Z9, Z7, Z9; \
	VCMPPS        $5, Z6, Z9, K1; \
	VMULPS        Z2, Z9, Z10; \
	VRNDSCALEPS   $0, Z10, Z10; \
	VFNMADD231PS  Z3, Z10, Z9; \
	VFNMADD231PS  Z4, Z10, Z9; \
	VBROADCASTSS  ·expconst+24(SB), Z11; \
	VBROADCASTSS  ·expconst+28(SB), Z14; \
	VFMADD213PS   Z14, Z9, Z11; \
	VBROADCASTSS  ·expconst+32(SB), Z14; \
	VFMADD213PS   Z14, Z9, Z11; \
	VBROADCASTSS  ·expconst+36(SB), Z14; \
	VFMADD213PS   Z14, Z9, Z11; \
	VBROADCASTSS  ·expconst+40(SB), Z14; \
	VFMADD213PS   Z14, Z9, Z11; \
	VBROADCASTSS  ·expconst+44(SB), Z14; \
	VFMADD213PS   Z14, Z9, Z11; \
	VMULPS        Z9, Z9, Z12; \
	VFMADD213PS   Z9, Z12, Z11; \
	VADDPS        Z5, Z11, Z11; \
	VCVTPS2DQ     Z10, Z10; \
	VPSLLD        $23, Z10, Z10; \
	VPADDD        Z5, Z10, Z10; \
	VMULPS.Z      Z10, Z11, K1, Z11;

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

/* Vector arithmetic shared by the compiled CPU kernels (mne_m2s.nn._native).

   vf: 16 floats in GCC/Clang vector extensions, which the compiler maps onto
   the machine's widest vectors (-march=native). Where the target has
   AVX-512 (and M2S_PORTABLE is not defined: the tests build that variant
   too), the exponential, maximum and horizontal sums use its instructions
   directly; elsewhere portable code computes the same polynomial. No
   -ffast-math: every operation is IEEE, evaluated in the order written. */

#ifndef M2S_VECMATH_H
#define M2S_VECMATH_H

#include <stdint.h>

typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
/* the same vector type for memory of 4-byte alignment (tensors' storage) */
typedef float vfu __attribute__((vector_size(64), aligned(4)));

#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

#if defined(__AVX512F__) && !defined(M2S_PORTABLE)
#define M2S_AVX512 1
#include <immintrin.h>
#else
#define M2S_AVX512 0
#endif

static inline vf splat(float x) { return (vf){0} + x; }
/* lanewise choice: mask lanes are all ones (x) or all zeros (y) */
static inline vf vselect(vi mask, vf x, vf y) { return (vf)((mask & (vi)x) | (~mask & (vi)y)); }
#if M2S_AVX512
static inline vf vmax(vf x, vf y) { return (vf)_mm512_max_ps((__m512)x, (__m512)y); }
#else
static inline vf vmax(vf x, vf y) { return vselect(x > y, x, y); }
static inline vf vmin(vf x, vf y) { return vselect(x < y, x, y); }
#endif

/* 2**x for x clamped to [-126, 127]: x = k + r with k the nearest integer,
   2**r = e**(r ln 2) by its degree-7 Taylor polynomial (|r ln 2| <= 0.35,
   truncation error below 6e-9 relative), 2**k through the exponent bits.
   The lower clamp keeps results out of the slow subnormal range (the
   kernels' arguments are never far above 0: scores minus their maximum,
   negated log-variances in [-1, 1]). With AVX-512 the polynomial is written in r directly (coefficients
   ln(2)**k / k!), k comes from vrndscaleps and 2**k is applied by vscalefps,
   which needs no upper clamp: 10 vector operations against 16. */
#if M2S_AVX512
#define EXP2_C1 0.6931471805599453f
#define EXP2_C2 0.2402265069591007f
#define EXP2_C3 0.05550410866482158f
#define EXP2_C4 0.009618129107628477f
#define EXP2_C5 0.0013333558146428443f
#define EXP2_C6 0.00015403530393381606f
#define EXP2_C7 1.525273380405984e-05f
static inline vf exp2v(vf x) {
    __m512 xm = _mm512_max_ps((__m512)x, _mm512_set1_ps(-126.0f));
    __m512 k = _mm512_roundscale_ps(xm, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    vf r = (vf)_mm512_sub_ps(xm, k);
    vf p = splat(EXP2_C7);
    p = p * r + EXP2_C6;
    p = p * r + EXP2_C5;
    p = p * r + EXP2_C4;
    p = p * r + EXP2_C3;
    p = p * r + EXP2_C2;
    p = p * r + EXP2_C1;
    p = p * r + 1.0f;
    return (vf)_mm512_scalef_ps((__m512)p, k);
}
#else
static inline vf exp2v(vf x) {
    x = vmin(vmax(x, splat(-126.0f)), splat(127.0f));
    vf k = (x + 12582912.0f) - 12582912.0f; /* round to nearest (1.5 * 2**23) */
    vf f = (x - k) * LN2;
    vf p = splat(1.0f / 5040.0f);
    p = p * f + 1.0f / 720.0f;
    p = p * f + 1.0f / 120.0f;
    p = p * f + 1.0f / 24.0f;
    p = p * f + 1.0f / 6.0f;
    p = p * f + 0.5f;
    p = p * f + 1.0f;
    p = p * f + 1.0f;
    vi bits = (__builtin_convertvector(k, vi) + 127) << 23;
    return p * (vf)bits;
}
#endif

#if M2S_AVX512
static inline float hsum(vf v) { return _mm512_reduce_add_ps((__m512)v); }
#else
static inline float hsum(vf v) {
    float s = 0.0f;
    for (int k = 0; k < 16; k++) s += v[k];
    return s;
}
#endif

#endif

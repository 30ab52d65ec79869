/* Fused CPU kernel of the CLUB estimator's log-likelihood (mne_m2s.nn._club).

   For the estimator's mean mu, log-variance lv = tanh(a) (a: the output of
   the log-variance head before its tanh) and the target u, all of n
   floats,

       loglik = -sum_i [(mu_i - u_i)**2 exp(-lv_i) + lv_i] / (2 count)

   with count the number of (sample, window) rows. The forward pass returns
   the sum in double precision, in chunks of CHUNK elements (each chunk's
   partial sum is the same for any number of threads; the caller adds the
   chunks in order, so the result does not depend on the thread count); the
   backward pass recomputes tanh and exp and writes

       d loglik / d mu = -(mu - u) exp(-lv) / count
       d loglik / d a  = ((mu - u)**2 exp(-lv) - 1) (1 - lv**2) / (2 count)

   (the caller passes the two factors, times the incoming gradient). One pass
   over the three inputs each way, where PyTorch's operations make about
   twenty over tensors of that size, several of them with broadcast strides.

   tanh(|a|) = -m / (2 + m) with m = expm1(-2 |a|): expm1 by its Taylor
   polynomial to degree 9 for arguments in (-0.5, 0] (no cancellation near
   0), else exp - 1; the sign of a is copied onto the result. Accurate to
   about 2 ulp.

   Threads: the *_range functions process chunks [c0, c1); with OpenMP the
   *_parallel entry points split the chunks over nthreads with a static
   schedule, on the OpenMP runtime torch itself loaded. */

#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "_vecmath.h"

#define CHUNK 4096

/* e**x - 1 for x <= 0 */
static inline vf expm1_neg(vf x) {
    vf p = splat(1.0f / 362880.0f);
    p = p * x + 1.0f / 40320.0f;
    p = p * x + 1.0f / 5040.0f;
    p = p * x + 1.0f / 720.0f;
    p = p * x + 1.0f / 120.0f;
    p = p * x + 1.0f / 24.0f;
    p = p * x + 1.0f / 6.0f;
    p = p * x + 0.5f;
    p = p * x + 1.0f;
    p = p * x;
    return vselect(x > -0.5f, p, exp2v(x * LOG2E) - 1.0f);
}

static inline vf tanh_v(vf a) {
    const vi signbit = (vi){0} + (int32_t)0x80000000u;
    vf t = expm1_neg((vf)((vi)a | signbit) * 2.0f); /* e**(-2|a|) - 1, in (-1, 0] */
    return (vf)((vi)(-t / (2.0f + t)) | ((vi)a & signbit));
}

/* 16 elements from i (k < 16 valid: the rest read as 0, which adds 0 to
   the sum: mu = u = a = 0 gives lv = 0 and d = 0) */
static inline vf load(const float *x, int64_t i, int k) {
    if (k == 16) return *(const vfu *)(x + i);
    vf v = splat(0.0f);
    for (int j = 0; j < k; j++) v[j] = x[i + j];
    return v;
}

void club_forward_range(int64_t c0, int64_t c1, int64_t n, const float *mu, const float *a,
                        const float *u, double *sums) {
    for (int64_t c = c0; c < c1; c++) {
        int64_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        vf acc = splat(0.0f);
        for (int64_t i = c * CHUNK; i < end; i += 16) {
            int k = end - i < 16 ? (int)(end - i) : 16;
            vf lv = tanh_v(load(a, i, k));
            vf d = load(mu, i, k) - load(u, i, k);
            acc += d * d * exp2v(lv * -LOG2E) + lv;
        }
        double s = 0.0;
        for (int j = 0; j < 16; j++) s += acc[j];
        sums[c] = s;
    }
}

void club_backward_range(int64_t c0, int64_t c1, int64_t n, const float *mu, const float *a,
                         const float *u, float gmu, float ga, float *dmu, float *da) {
    for (int64_t c = c0; c < c1; c++) {
        int64_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (int64_t i = c * CHUNK; i < end; i += 16) {
            int k = end - i < 16 ? (int)(end - i) : 16;
            vf lv = tanh_v(load(a, i, k));
            vf d = load(mu, i, k) - load(u, i, k);
            vf dw = d * exp2v(lv * -LOG2E);
            vf gm = gmu * dw, g = ga * (d * dw - 1.0f) * (1.0f - lv * lv);
            if (k == 16) {
                *(vfu *)(dmu + i) = gm;
                *(vfu *)(da + i) = g;
            } else {
                for (int j = 0; j < k; j++) {
                    dmu[i + j] = gm[j];
                    da[i + j] = g[j];
                }
            }
        }
    }
}

/* tanh of n floats (the tests check it against tanh in double precision) */
void club_tanh(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i += 16) {
        int k = n - i < 16 ? (int)(n - i) : 16;
        vf t = tanh_v(load(x, i, k));
        for (int j = 0; j < k; j++) y[i + j] = t[j];
    }
}

#ifdef _OPENMP
void club_forward_parallel(int64_t n, int nthreads, const float *mu, const float *a,
                           const float *u, double *sums) {
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel num_threads(nthreads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        club_forward_range(chunks * t / nt, chunks * (t + 1) / nt, n, mu, a, u, sums);
    }
}

void club_backward_parallel(int64_t n, int nthreads, const float *mu, const float *a,
                            const float *u, float gmu, float ga, float *dmu, float *da) {
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel num_threads(nthreads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        club_backward_range(chunks * t / nt, chunks * (t + 1) / nt, n, mu, a, u, gmu, ga, dmu,
                            da);
    }
}
#endif

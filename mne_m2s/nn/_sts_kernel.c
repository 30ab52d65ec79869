/* Fused CPU kernel of the folded STS attention core (mne_m2s.nn._native).

   out_n = sum_h softmax(xq_n A_h xk_n^T) xk_n M_h for every item n, with
   xq_n, xk_n of shape (C, B) and A_h, M_h of shape (B, B); the softmax runs
   over the C keys. Same function as FoldedSTSCore in _kernels.py; this file
   computes it without materialising any C x C score matrix: for a block of
   16 queries (one vector), the scores against every key, their maximum, the
   exponentials, the normaliser and the weighted sum of the keys stay in
   registers and in one C-vector buffer.

   Sizes are compile-time constants (-DSTS_C=... -DSTS_B=... -DSTS_H=...):
   the module compiles one library per shape. Queries are padded to a
   multiple of 16 (padded lanes hold zeros and are never written out).
   Vector arithmetic from _vecmath.h (16-float vectors; AVX-512
   instructions where the target has them).
   No -ffast-math: the only relaxations are -fno-math-errno and
   -fno-trapping-math, and the process's floating-point state is untouched.

   Threads: sts_forward / sts_backward process items [n0, n1); with OpenMP
   the *_parallel entry points split the items over nthreads with a static
   schedule (deterministic for a given nthreads) on the OpenMP runtime torch
   itself loaded. */

#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "_vecmath.h"

#define C STS_C
#define B STS_B
#define H STS_H
#define NV (((C) + 15) / 16)
#define CP (NV * 16)

/* xt[b][v] lanes: x[i][b] for i < C, 0 in the padded lanes */
static void transpose_in(const float *restrict x, vf xt[B][NV]) {
    float(*f)[CP] = (float(*)[CP])xt;
    memset(xt, 0, sizeof(vf) * B * NV);
    for (int i = 0; i < C; i++)
        for (int b = 0; b < B; b++) f[b][i] = x[i * B + b];
}

/* Forward pass of items [n0, n1).
   xq, xk, out: (N, C, B); a, m: (H, B, B).
   Saved for the backward pass unless NULL: stats (N, H, CP), the score
   maximum of every query (base-2 units); nothing else (the backward pass
   recomputes the rest). */
void sts_forward(int64_t n0, int64_t n1, const float *restrict xq, const float *restrict xk,
                 const float *restrict a, const float *restrict m, float *restrict out,
                 float *restrict stats) {
    vf xqt[B][NV], ot[B][NV], s[C];
    for (int64_t n = n0; n < n1; n++) {
        const float *xkn = xk + n * C * B;
        transpose_in(xq + n * C * B, xqt);
        memset(ot, 0, sizeof ot);
        for (int h = 0; h < H; h++) {
            const float *ah = a + h * B * B, *mh = m + h * B * B;
            for (int v = 0; v < NV; v++) {
                vf q[B], yv[B], mx = splat(-3.0e38f), l = splat(0.0f);
                for (int e = 0; e < B; e++) {
                    q[e] = splat(0.0f);
                    for (int b = 0; b < B; b++) q[e] += xqt[b][v] * ah[b * B + e];
                    q[e] *= LOG2E; /* base-2 scores: exp2 */
                    yv[e] = splat(0.0f);
                }
                for (int j = 0; j < C; j++) {
                    vf sc = q[0] * xkn[j * B];
                    for (int e = 1; e < B; e++) sc += q[e] * xkn[j * B + e];
                    s[j] = sc;
                    mx = vmax(sc, mx);
                }
                for (int j = 0; j < C; j++) {
                    vf p = exp2v(s[j] - mx);
                    l += p;
                    for (int e = 0; e < B; e++) yv[e] += p * xkn[j * B + e];
                }
                vf il = 1.0f / l;
                if (stats) ((vfu *)(stats + (n * H + h) * CP))[v] = mx;
                for (int e = 0; e < B; e++) {
                    yv[e] *= il;
                    for (int c = 0; c < B; c++) ot[c][v] += yv[e] * mh[e * B + c];
                }
            }
        }
        const float(*o)[CP] = (const float(*)[CP])ot;
        float *outn = out + n * C * B;
        for (int i = 0; i < C; i++)
            for (int c = 0; c < B; c++) outn[i * B + c] = o[c][i];
    }
}

/* The backward pass (see sts_backward). For each block of 16 queries, a first
   pass over the keys recomputes the softmax (shifted by the saved maximum and
   normalised again here, so that the probabilities, the attention-weighted
   keys y and d = rowsum(O_h * G) = y . G M_h^T are consistent to rounding
   even where the softmax saturates) and the products dp = (G M_h^T) . x_k;
   a second pass forms the score gradients p (dp - d). */
static inline __attribute__((always_inline)) void
backward_items(int64_t n0, int64_t n1, const float *restrict xq, const float *restrict xk,
               const float *restrict a, const float *restrict m, const float *restrict g,
               const float *restrict stats, float *restrict dxq, float *restrict dxk,
               float *restrict da_out, float *restrict dm_out, const int want_dx) {
    vf dxv[C][B], da[H][B][B], dm[H][B][B], pj[C], dpj[C];
    vf xqt[B][NV], gt[B][NV], dxqt[B][NV];
    memset(da, 0, sizeof da);
    memset(dm, 0, sizeof dm);
    for (int64_t n = n0; n < n1; n++) {
        const float *xkn = xk + n * C * B;
        transpose_in(xq + n * C * B, xqt);
        transpose_in(g + n * C * B, gt);
        memset(dxv, 0, sizeof dxv);
        memset(dxqt, 0, sizeof dxqt);
        for (int h = 0; h < H; h++) {
            const float *ah = a + h * B * B, *mh = m + h * B * B;
            const vfu *st = (const vfu *)(stats + (n * H + h) * CP);
            for (int v = 0; v < NV; v++) {
                /* q: queries; gh = G M_h^T */
                vf q[B], q2[B], gh[B], dq[B], y[B], d = splat(0.0f), l = splat(0.0f);
                const vf mx = st[v];
                for (int e = 0; e < B; e++) {
                    q[e] = splat(0.0f);
                    gh[e] = splat(0.0f);
                    for (int b = 0; b < B; b++) {
                        q[e] += xqt[b][v] * ah[b * B + e];
                        gh[e] += gt[b][v] * mh[e * B + b];
                    }
                    q2[e] = q[e] * LOG2E;
                    dq[e] = splat(0.0f);
                    y[e] = splat(0.0f);
                }
                for (int j = 0; j < C; j++) {
                    const float *xj = xkn + j * B;
                    vf sc = q2[0] * xj[0] - mx, dp = gh[0] * xj[0];
                    for (int e = 1; e < B; e++) {
                        sc += q2[e] * xj[e];
                        dp += gh[e] * xj[e];
                    }
                    const vf p = exp2v(sc); /* unnormalised probability */
                    l += p;
                    for (int e = 0; e < B; e++) y[e] += p * xj[e];
                    pj[j] = p;
                    dpj[j] = dp;
                }
                const vf il = 1.0f / l;
                for (int e = 0; e < B; e++) {
                    y[e] *= il;
                    d += y[e] * gh[e];
                }
                for (int j = 0; j < C; j++) {
                    const float *xj = xkn + j * B;
                    const vf p = pj[j] * il; /* softmax probability */
                    const vf ds = p * (dpj[j] - d); /* gradient of the score */
                    for (int e = 0; e < B; e++) {
                        dq[e] += ds * xj[e];
                        if (want_dx) dxv[j][e] += ds * q[e] + p * gh[e];
                    }
                }
                for (int e = 0; e < B; e++)
                    for (int b = 0; b < B; b++) {
                        if (want_dx) dxqt[b][v] += ah[b * B + e] * dq[e];
                        da[h][b][e] += xqt[b][v] * dq[e];
                        dm[h][e][b] += y[e] * gt[b][v];
                    }
            }
        }
        if (!want_dx) continue;
        float *dxn = dxk + n * C * B;
        for (int j = 0; j < C; j++)
            for (int e = 0; e < B; e++) dxn[j * B + e] = hsum(dxv[j][e]);
        const float(*dqt)[CP] = (const float(*)[CP])dxqt;
        float *dxqn = dxq + n * C * B;
        for (int i = 0; i < C; i++)
            for (int b = 0; b < B; b++) dxqn[i * B + b] = dqt[b][i];
    }
    for (int h = 0; h < H; h++)
        for (int b = 0; b < B; b++)
            for (int e = 0; e < B; e++) {
                da_out[(h * B + b) * B + e] += hsum(da[h][b][e]);
                dm_out[(h * B + b) * B + e] += hsum(dm[h][b][e]);
            }
}

/* Backward pass of items [n0, n1), from the saved statistics only. g: (N, C,
   B), the gradient of out. Writes dxq, dxk (N, C, B), or neither when both
   are NULL (inputs that need no gradient: the weights' gradients only, about
   a fifth less work), and adds the items' contributions to da, dm (H, B, B). */
void sts_backward(int64_t n0, int64_t n1, const float *restrict xq, const float *restrict xk,
                  const float *restrict a, const float *restrict m, const float *restrict g,
                  const float *restrict stats, float *restrict dxq, float *restrict dxk,
                  float *restrict da_out, float *restrict dm_out) {
    if (dxq && dxk)
        backward_items(n0, n1, xq, xk, a, m, g, stats, dxq, dxk, da_out, dm_out, 1);
    else
        backward_items(n0, n1, xq, xk, a, m, g, stats, dxq, dxk, da_out, dm_out, 0);
}

#ifdef _OPENMP
static void split(int64_t n, int t, int nt, int64_t *n0, int64_t *n1) {
    *n0 = n * t / nt;
    *n1 = n * (t + 1) / nt;
}

void sts_forward_parallel(int64_t n, int nthreads, const float *xq, const float *xk,
                          const float *a, const float *m, float *out, float *stats) {
#pragma omp parallel num_threads(nthreads)
    {
        int64_t n0, n1;
        split(n, omp_get_thread_num(), omp_get_num_threads(), &n0, &n1);
        sts_forward(n0, n1, xq, xk, a, m, out, stats);
    }
}

/* da_parts, dm_parts: (nthreads, H, B, B), zeroed by the caller; thread t adds
   its items' contributions to part t (the caller sums the parts in order). */
void sts_backward_parallel(int64_t n, int nthreads, const float *xq, const float *xk,
                           const float *a, const float *m, const float *g,
                           const float *stats, float *dxq, float *dxk, float *da_parts,
                           float *dm_parts) {
#pragma omp parallel num_threads(nthreads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t n0, n1;
        split(n, t, nt, &n0, &n1);
        sts_backward(n0, n1, xq, xk, a, m, g, stats, dxq, dxk, da_parts + t * H * B * B,
                     dm_parts + t * H * B * B);
    }
}
#endif

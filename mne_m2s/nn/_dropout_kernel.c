/* Fused CPU dropout with a counter-based random stream (mne_m2s.nn._native).

   y[i] = keep(i) ? f(x[i]) * scale : 0, with f the identity or ReLU, and
   keep(i) decided by 16 random bits per element: the element is dropped
   when its bits fall among the lowest `threshold` of the 2^16 values, so the
   drop probability is threshold / 2^16 (the caller rounds p * 2^16).

   The bits come from Philox4x32-10 (Salmon et al., "Parallel random numbers:
   as easy as 1, 2, 3", SC 2011; the generator of cuRAND and of PyTorch's
   CUDA dropout), keyed by a 64-bit seed that the caller draws from torch's
   default generator. Element i of a tensor belongs to chunk c = i / 64; the
   chunk's 8 Philox blocks have counters 8c .. 8c + 7, and element
   64c + 8l + k takes 16-bit lane l of block 8c + k. Because the mask is a
   pure function of (seed, i), it is the same for any number of threads, and
   the backward pass regenerates it instead of keeping it in memory.

   Inputs are float32, or bfloat16 (under CPU autocast), computed in float32
   and rounded to nearest even as torch does. Written with GCC/Clang vector
   extensions (8 lanes of 64 bits holding 32-bit values, so that one vector
   multiply gives the full 64-bit products Philox needs). No floating-point
   state is changed.

   Threads: dropout_apply handles chunks [c0, c1); with OpenMP,
   dropout_apply_parallel splits the chunks over nthreads with a static
   schedule, on the OpenMP runtime torch itself loaded. */

#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef uint64_t vu __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));
/* the same vector type for memory of 4-byte alignment (tensors' storage) */
typedef float vf8u __attribute__((vector_size(32), aligned(4)));

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define LO32 0xFFFFFFFFull
#define CHUNK 64

/* Philox4x32-10 of 8 blocks: counter words x0..x3 (one block per lane, each
   lane holding a 32-bit value), key (k0, k1). Returns the 4 output words of
   each block in r[0..3]. */
static inline void philox8(vu x0, vu x1, vu x2, vu x3, uint32_t k0, uint32_t k1, vu r[4]) {
    for (int round = 0; round < 10; round++) {
        vu p0 = x0 * (uint64_t)PHILOX_M0; /* full 64-bit products of 32-bit values */
        vu p1 = x2 * (uint64_t)PHILOX_M1;
        vu y0 = (p1 >> 32) ^ x1 ^ (uint64_t)k0;
        vu y1 = p1 & LO32;
        vu y2 = (p0 >> 32) ^ x3 ^ (uint64_t)k1;
        vu y3 = p0 & LO32;
        x0 = y0;
        x1 = y1;
        x2 = y2;
        x3 = y3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    r[0] = x0;
    r[1] = x1;
    r[2] = x2;
    r[3] = x3;
}

/* The 64 keep flags of chunk c as 8 vectors of 8 floats (1.0 kept, 0.0 dropped),
   multiplied by scale: out[l][k] is element 64c + 8l + k. */
static inline void chunk_mask(int64_t c, uint64_t seed, uint32_t threshold, float scale,
                              vf8 out[8]) {
    uint64_t first = (uint64_t)c * 8;
    vu ctr = (vu){0, 1, 2, 3, 4, 5, 6, 7} + (first & LO32);
    vu r[4];
    philox8(ctr, (vu){0} + (first >> 32), (vu){0}, (vu){0}, (uint32_t)seed,
            (uint32_t)(seed >> 32), r);
    vf8 s = (vf8){0} + scale;
    for (int w = 0; w < 4; w++) {
        for (int half = 0; half < 2; half++) {
            vu bits = (r[w] >> (16 * half)) & 0xFFFFull;
            vi8 b32 = __builtin_convertvector(bits, vi8);
            vi8 keep = b32 >= (vi8){0} + (int32_t)threshold; /* all ones where kept */
            out[2 * w + half] = (vf8)(keep & (vi8)s);
        }
    }
}

/* One Philox4x32-10 block (for the known-answer tests). */
void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    vu r[4];
    philox8((vu){0} + ctr[0], (vu){0} + ctr[1], (vu){0} + ctr[2], (vu){0} + ctr[3], key[0],
            key[1], r);
    for (int w = 0; w < 4; w++)
        out[w] = (uint32_t)r[w][0];
}

typedef uint16_t vh8 __attribute__((vector_size(16), aligned(2)));
typedef uint32_t vu8 __attribute__((vector_size(32)));

static inline vf8 load8(const void *x, int64_t i, int bf16) {
    if (!bf16)
        return *(const vf8u *)((const float *)x + i);
    vh8 h = *(const vh8 *)((const uint16_t *)x + i);
    return (vf8)(__builtin_convertvector(h, vu8) << 16);
}

/* float -> bfloat16 with round-to-nearest-even (NaN stays a quiet NaN), as torch. */
static inline uint16_t to_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    if (f != f)
        return (uint16_t)((v.u >> 16) | 0x40);
    return (uint16_t)((v.u + 0x7FFFu + ((v.u >> 16) & 1u)) >> 16);
}

static inline void store8(void *y, int64_t i, vf8 v, int bf16) {
    if (!bf16) {
        *(vf8u *)((float *)y + i) = v;
        return;
    }
    vu8 u = (vu8)v;
    vu8 rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    vu8 nan = (vu8)(v != v);
    rounded = (nan & ((u >> 16) | 0x40u)) | (~nan & rounded);
    *(vh8 *)((uint16_t *)y + i) = __builtin_convertvector(rounded, vh8);
}

/* Chunks [c0, c1) of the n elements of x (float32, or bfloat16 when bf16 is
   set) into y of the same type; y may be x. */
void dropout_apply(int64_t c0, int64_t c1, int64_t n, const void *x, void *y, uint64_t seed,
                   uint32_t threshold, float scale, int relu, int bf16) {
    vf8 zero = (vf8){0};
    for (int64_t c = c0; c < c1; c++) {
        vf8 m[8];
        chunk_mask(c, seed, threshold, scale, m);
        int64_t base = c * CHUNK;
        if (base + CHUNK <= n) {
            for (int l = 0; l < 8; l++) {
                vf8 v = load8(x, base + 8 * l, bf16);
                if (relu) { /* max(v, 0) that keeps NaN, as torch.relu */
                    vi8 keep = ~(v <= zero);
                    v = (vf8)(keep & (vi8)v);
                }
                store8(y, base + 8 * l, v * m[l], bf16);
            }
        } else {
            for (int64_t i = base; i < n; i++) {
                int64_t j = i - base;
                float v;
                if (bf16) {
                    union { uint32_t u; float f; } w = {(uint32_t)((const uint16_t *)x)[i] << 16};
                    v = w.f;
                } else {
                    v = ((const float *)x)[i];
                }
                if (relu && v <= 0.0f)
                    v = 0.0f;
                v *= m[j / 8][j % 8];
                if (bf16)
                    ((uint16_t *)y)[i] = to_bf16(v);
                else
                    ((float *)y)[i] = v;
            }
        }
    }
}

#ifdef _OPENMP
void dropout_apply_parallel(int64_t n, int nthreads, const void *x, void *y, uint64_t seed,
                            uint32_t threshold, float scale, int relu, int bf16) {
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel num_threads(nthreads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        dropout_apply(chunks * t / nt, chunks * (t + 1) / nt, n, x, y, seed, threshold, scale,
                      relu, bf16);
    }
}
#endif

/*
 * engine.c - runs a .lhrn program (see lhr_engine.h and lite_hrnet/export/engine_program.py).
 * SPDX-License-Identifier: Apache-2.0
 *
 * File layout (little-endian):
 *   "LHRNENG1"                                  8-byte magic
 *   uint32 n_ints, n_floats, metadata_bytes
 *   int32  program[n_ints]
 *   float  weights[n_floats]
 *   char   metadata[metadata_bytes]             JSON, not NUL-terminated
 *
 * Program: n_buffers, then per buffer (channels, height, width, arena_offset), arena_size,
 * input_buffer, output_buffer, n_ops, then the ops. A "view" in an op is a count followed by
 * that many plane numbers; plane numbers run over the buffers in order (buffer b's channel c is
 * plane first_plane[b] + c). Buffers may share arena memory: the exporter gives two buffers
 * the same memory only when their lifetimes do not overlap.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime, for lhr_engine_run_profiled */

#include "lhr_engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#define LHRN_MAGIC "LHRNENG1"
#define LHRN_MAX_DIM 4096
/* The most floats of memory a program may ask for, in its arena and in one op's scratch (1 GiB each). */
#define LHRN_MAX_FLOATS (1 << 28)
/* Stride-2 depthwise planes up to this many padded floats go through the flat path; larger ones (the stem's
 * 128 x 96 planes at 256 x 192) go a band of rows at a time, which keeps them in L1 and measured faster. */
#define DW_FLAT_MAX 8192

enum { OP_CONV = 1, OP_DEPTHWISE = 2, OP_POINTWISE = 3, OP_POOL = 4, OP_SCALE = 5, OP_SUM = 6, OP_BILINEAR_ADD = 7 };
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_SIGMOID = 2 };

/* The hot kernels are compiled for AVX-512 and AVX2 as well as the baseline, picked at load time
 * (GCC/Clang function multi-versioning), so one build runs fast on any x86-64. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(LHR_ENGINE_NO_CLONES)
#define LHR_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LHR_HOT
#endif

/* Helpers of the hot kernels are inlined into each of them, so they are compiled for the same target. */
#define LHR_INLINE static inline __attribute__((always_inline))

/* 16 floats; aligned(4) makes every load and store an unaligned one, so planes need no alignment. Kernels
 * read whole vectors past a row's end: the arena and the scratch keep slack after their last float. */
typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t vi16 __attribute__((vector_size(64), aligned(4)));
#define V16_LOAD(p) (*(const v16 *)(const void *)(p))
#define V16_STORE(p, v) (*(v16 *)(void *)(p) = (v))

/* Shuffle indices picking the even and the odd lanes of two vectors (lo, hi) taken as 32 floats. */
static const vi16 EVEN_LANES = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const vi16 ODD_LANES = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};

typedef struct {
    int kind, act;
    int cin, cout;           /* channels in / out (equal for per-channel ops) */
    int in_h, in_w, out_h, out_w;
    int kernel, stride, pad; /* conv / depthwise; pool: kernel = window height, pad = window width */
    int shift;               /* depthwise: the scale planes are 2^shift times smaller */
    const float *weights, *bias;
    const float **in, **out, **aux; /* views resolved to plane pointers; aux: scales / second input */
    const float **means;     /* depthwise: also write each output plane's mean here (a global pool fused in) */
    const float **out2;      /* sum: also write act2 of the sum here (the ReLU copy after it fused in) */
    int act2;
    int fused;               /* pool: its means are written by the depthwise conv before it; sum: by the sum before it;
                              * depthwise: run by the depthwise conv `group` ops before it */
    int group;               /* depthwise: the next `group` ops are depthwise convs of the same input, run with it */
    int n_terms;             /* sum */
    int in_place;            /* sum: the output is term 0's planes (unshifted), overwritten as they are read */
    const int *term_shift;
    const float *term_coef;
    const float ***term_in;
} engine_op;

struct lhr_engine {
    int in_c, in_h, in_w, out_c, out_h, out_w;
    float *arena;
    float *scratch;
    size_t scratch_floats;
    float **input_planes, **output_planes;
    engine_op *ops;
    int n_ops;
    /* Everything the ops point into, freed together. */
    void **allocs;
    int n_allocs, cap_allocs;
    float *weights;
    char *metadata;
};

/* ------------------------------------------------------------------ kernels */

LHR_INLINE v16 v16_splat(float x) { return (v16){0} + x; }

LHR_INLINE v16 v16_select(vi16 mask, v16 yes, v16 no) { return (v16)(((vi16)yes & mask) | ((vi16)no & ~mask)); }

/* exp(x) to about 1 ulp: x = n ln2 + r with |r| <= ln2 / 2, a degree-7 polynomial for exp(r), 2^n in
 * the exponent bits. Inputs are clamped to [-87, 88], where float32 exp is finite and normal. */
LHR_INLINE v16 v16_exp(v16 x) {
    const v16 hi = v16_splat(88.0f), lo = v16_splat(-87.0f);
    x = v16_select(x > hi, hi, x);
    x = v16_select(x < lo, lo, x);
    const v16 round_magic = v16_splat(12582912.0f); /* 1.5 * 2^23: adding and subtracting it rounds to an integer */
    v16 n = (x * 1.44269504088896341f + round_magic) - round_magic;
    v16 r = x - n * 0.693359375f - n * -2.12194440e-4f; /* ln 2 in two parts, so r is exact enough */
    v16 p = v16_splat(1.0f / 5040.0f);
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    vi16 bits = (__builtin_convertvector(n, vi16) + 127) << 23;
    return p * (v16)bits;
}

LHR_INLINE v16 v16_act(v16 a, int act) {
    if (act == ACT_RELU) {
        v16 zero = {0};
        return (v16)((vi16)a & (a > zero));
    }
    if (act == ACT_SIGMOID) return 1.0f / (1.0f + v16_exp(-a));
    return a;
}

LHR_INLINE float scalar_act(float a, int act) {
    if (act == ACT_RELU) return a > 0.0f ? a : 0.0f;
    if (act == ACT_SIGMOID) return 1.0f / (1.0f + expf(-a));
    return a;
}

/* The mean of n floats. */
LHR_INLINE float plane_mean(const float *in, int n) {
    v16 a0 = v16_splat(0.0f), a1 = a0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 += V16_LOAD(in + i);
        a1 += V16_LOAD(in + i + 16);
    }
    for (; i + 16 <= n; i += 16) a0 += V16_LOAD(in + i);
    a0 += a1;
    float sum = 0.0f;
    for (int l = 0; l < 16; l++) sum += a0[l];
    for (; i < n; i++) sum += in[i];
    return sum / (float)n;
}

/* The first `count` lanes of v to dst (all 16 when count >= 16). */
LHR_INLINE void store_row_part(float *dst, v16 v, int count) {
    if (count >= 16) {
        V16_STORE(dst, v);
    } else {
        float tmp[16];
        V16_STORE(tmp, v);
        for (int i = 0; i < count; i++) dst[i] = tmp[i];
    }
}

/* r[0..15] (16 x 16 floats) transposed in place: four rounds, round b swapping bit b of the row
 * number with bit b of the lane number by two-vector shuffles of rows i and i + 2^b. */
LHR_INLINE void transpose16(v16 r[16]) {
    static const vi16 lo[4] = {
        {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
        {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
        {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
        {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
    };
    static const vi16 hi[4] = {
        {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31},
        {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},
        {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31},
        {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
    };
    /* Written out, so that r stays in registers. */
#define LHR_T(b, i)                                             \
    do {                                                        \
        v16 a_ = r[i], c_ = r[(i) + (1 << (b))];                \
        r[i] = __builtin_shuffle(a_, c_, lo[b]);                \
        r[(i) + (1 << (b))] = __builtin_shuffle(a_, c_, hi[b]); \
    } while (0)
    LHR_T(0, 0); LHR_T(0, 2); LHR_T(0, 4); LHR_T(0, 6); LHR_T(0, 8); LHR_T(0, 10); LHR_T(0, 12); LHR_T(0, 14);
    LHR_T(1, 0); LHR_T(1, 1); LHR_T(1, 4); LHR_T(1, 5); LHR_T(1, 8); LHR_T(1, 9); LHR_T(1, 12); LHR_T(1, 13);
    LHR_T(2, 0); LHR_T(2, 1); LHR_T(2, 2); LHR_T(2, 3); LHR_T(2, 8); LHR_T(2, 9); LHR_T(2, 10); LHR_T(2, 11);
    LHR_T(3, 0); LHR_T(3, 1); LHR_T(3, 2); LHR_T(3, 3); LHR_T(3, 4); LHR_T(3, 5); LHR_T(3, 6); LHR_T(3, 7);
#undef LHR_T
}

/* Rows m .. m + rows - 1 of a pointwise product over columns p .. p + 16 vecs - 1: rows x vecs
 * accumulators in registers (rows and vecs are constants at each call, so the loops unroll). The last
 * vector of each row stores `count` floats (all 16 when count >= 16). */
LHR_INLINE void pointwise_block(const float *w, const float *bias, const float **x, float **y, int k_in, int m, int p,
                                int act, int rows, int vecs, int count) {
    v16 acc[8][3];
    for (int i = 0; i < rows; i++)
        for (int v = 0; v < vecs; v++) acc[i][v] = v16_splat(bias[m + i]);
    for (int k = 0; k < k_in; k++) {
        v16 xv[3];
        for (int v = 0; v < vecs; v++) xv[v] = V16_LOAD(x[k] + p + 16 * v);
        const float *wk = w + (size_t)m * k_in + k;
        for (int i = 0; i < rows; i++) {
            float wi = wk[(size_t)i * k_in];
            for (int v = 0; v < vecs; v++) acc[i][v] += wi * xv[v];
        }
    }
    for (int i = 0; i < rows; i++) {
        for (int v = 0; v + 1 < vecs; v++) V16_STORE(y[m + i] + p + 16 * v, v16_act(acc[i][v], act));
        store_row_part(y[m + i] + p + 16 * (vecs - 1), v16_act(acc[i][vecs - 1], act), count);
    }
}

/* Every output row over columns p .. p + 16 vecs - 1: blocks of 8 rows, then the last rows: more than
 * 3 of them in a block of 8 ending at m_out, overlapping the one before (the outputs never alias the
 * inputs, so recomputed rows come out the same), else in one smaller block. */
LHR_INLINE void pointwise_columns(const float *w, const float *bias, const float **x, float **y, int k_in, int m_out,
                                  int p, int act, int vecs, int count) {
    int m = 0;
    /* Full-width blocks with the activation a constant: their accumulators then go from registers to the
     * planes (with it a variable, the compiler parks all 24 on the stack first). The common case only:
     * each constant is another copy of the block's code. */
    if (vecs == 3 && act == ACT_RELU)
        for (; m + 8 <= m_out; m += 8) pointwise_block(w, bias, x, y, k_in, m, p, ACT_RELU, 8, 3, 16);
    else if (vecs == 3 && act == ACT_NONE)
        for (; m + 8 <= m_out; m += 8) pointwise_block(w, bias, x, y, k_in, m, p, ACT_NONE, 8, 3, 16);
    for (; m + 8 <= m_out; m += 8) pointwise_block(w, bias, x, y, k_in, m, p, act, 8, vecs, count);
    int left = m_out - m;
    if (left > 3 && m_out >= 8) {
        pointwise_block(w, bias, x, y, k_in, m_out - 8, p, act, 8, vecs, count);
        return;
    }
    switch (left) {
    case 0: break;
    case 7: pointwise_block(w, bias, x, y, k_in, m, p, act, 7, vecs, count); break;
    case 6: pointwise_block(w, bias, x, y, k_in, m, p, act, 6, vecs, count); break;
    case 5: pointwise_block(w, bias, x, y, k_in, m, p, act, 5, vecs, count); break;
    case 4: pointwise_block(w, bias, x, y, k_in, m, p, act, 4, vecs, count); break;
    case 3: pointwise_block(w, bias, x, y, k_in, m, p, act, 3, vecs, count); break;
    case 2: pointwise_block(w, bias, x, y, k_in, m, p, act, 2, vecs, count); break;
    default: pointwise_block(w, bias, x, y, k_in, m, p, act, 1, vecs, count); break;
    }
}

/* y[m] = act(bias[m] + sum_k w[m][k] x[k]) over n positions; x and y are plane pointer lists.
 * Blocks of 8 outputs x 48 (or 32, 16) positions keep their accumulators in registers; the input
 * block (k x 48 floats) stays in L1 while every output block reads it. */
LHR_HOT static void pointwise(const float *w, const float *bias, const float **x, const float **y_const, int k_in, int m_out,
                      int n, int act) {
    float **y = (float **)y_const;
    if (n == 1 && k_in <= 1024) { /* a matrix-vector product (the spatial weighting's 1 x 1 maps): dot products over k */
        float xv[1024 + 16];
        for (int k = 0; k < k_in; k++) xv[k] = x[k][0];
        /* 16 outputs at a time: each row's products summed lane-wise, then the 16 rows' lanes added
         * up at once through a transpose (summing one row's lanes would be a chain of 16 adds), and
         * the 16 results activated as one vector. */
        for (int m0 = 0; m0 < m_out; m0 += 16) {
            v16 part[16];
            int count = m_out - m0 < 16 ? m_out - m0 : 16;
            for (int i = 0; i < 16; i++) {
                part[i] = v16_splat(0.0f);
                if (i >= count) continue;
                const float *wm = w + (size_t)(m0 + i) * k_in;
                int k = 0;
                for (; k + 16 <= k_in; k += 16) part[i] += V16_LOAD(wm + k) * V16_LOAD(xv + k);
                float tail = bias[m0 + i];
                for (; k < k_in; k++) tail += wm[k] * xv[k];
                part[i][0] += tail;
            }
            transpose16(part);
            v16 sums = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7])) +
                       (((part[8] + part[9]) + (part[10] + part[11])) + ((part[12] + part[13]) + (part[14] + part[15])));
            sums = v16_act(sums, act);
            for (int i = 0; i < count; i++) y[m0 + i][0] = sums[i];
        }
        return;
    }
    int p = 0;
    for (; p + 48 <= n; p += 48) pointwise_columns(w, bias, x, y, k_in, m_out, p, act, 3, 16);
    if (p + 32 <= n) {
        pointwise_columns(w, bias, x, y, k_in, m_out, p, act, 2, 16);
        p += 32;
    }
    /* The last columns; the last vector ends at n, overlapping the one before (recomputed columns come
     * out the same). Planes narrower than a vector read past their end (the arena and the scratch have
     * slack for that) and store n floats. */
    if (p < n) {
        if (n >= 16) p = n - 16;
        pointwise_columns(w, bias, x, y, k_in, m_out, p, act, 1, n - p);
    }
}

/* Lane l of the result is lane l >> shift of v: nearest upsampling of 16 >> shift values. */
LHR_INLINE v16 v16_repeat(v16 v, int shift) {
    static const vi16 idx[4] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7},
        {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},
        {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    return __builtin_shuffle(v, idx[shift]);
}

/* Input row y of a plane, zero-bordered: dst[0] = dst[w + 1] = 0, dst[1 + x] = src[y][x] times the
 * scale map (2^shift times smaller, when one is given: the cross-resolution weights). Rows outside
 * the plane are zeros. `up` holds the current scale row expanded to full width; rows must come
 * in increasing order. Whole vectors are read past the row's end (the arena and the scratch have
 * slack for that) and the right border is zeroed afterwards. */
LHR_INLINE void padded_row(const float *src, const float *scale, int shift, int y, int h, int w, float *dst, int pitch,
                       float *up) {
    if (y < 0 || y >= h) {
        memset(dst, 0, sizeof(float) * (size_t)pitch);
        return;
    }
    float *row = dst + 1;
    const float *s = src + (size_t)y * w;
    dst[0] = 0.0f;
    if (scale) {
        int repeat = 1 << shift, scale_w = w >> shift;
        const float *u = scale + (size_t)(y >> shift) * scale_w;
        if (shift == 0) {
            for (int x = 0; x < w; x += 16) V16_STORE(row + x, V16_LOAD(s + x) * V16_LOAD(u + x));
        } else if (shift <= 3) {
            for (int x = 0; x < w; x += 16) V16_STORE(row + x, V16_LOAD(s + x) * v16_repeat(V16_LOAD(u + (x >> shift)), shift));
        } else {
            if ((y & (repeat - 1)) == 0) {
                for (int sx = 0; sx < scale_w; sx++)
                    for (int k = 0; k < repeat; k++) up[sx * repeat + k] = u[sx];
            }
            for (int x = 0; x < w; x += 16) V16_STORE(row + x, V16_LOAD(s + x) * V16_LOAD(up + x));
        }
    } else {
        for (int x = 0; x < w; x += 16) V16_STORE(row + x, V16_LOAD(s + x));
    }
    V16_STORE(row + w, v16_splat(0.0f)); /* the right border, and what the last vector read past it */
}

/* The whole plane zero-bordered into pad ((h + 2) x (w + 2) with rows `pitch` >= w + 2 apart, plus slack).
 * Rows are written in order, each in whole vectors that may run into the next rows (written after). */
LHR_INLINE void padded_plane(const float *src, const float *scale, int shift, int h, int w, float *pad, int pitch,
                             float *up) {
    for (int y = -1; y <= h; y++) padded_row(src, scale, shift, y, h, w, pad + (size_t)(y + 1) * pitch, pitch, up);
    memset(pad + (size_t)(h + 1) * pitch, 0, sizeof(float) * ((size_t)pitch + 32));
}

/* Rows of a result computed with row pitch `pitch` copied to a dense h x w plane (exact length:
 * the plane after this one may be live). */
LHR_INLINE void copy_rows(const float *res, int pitch, int h, int w, float *out) {
    for (int y = 0; y < h; y++) {
        const float *r = res + (size_t)y * pitch;
        float *o = out + (size_t)y * w;
        if (w < 16) {
            /* A whole vector per row, running into the next row (written after it); the last row exactly. */
            if (y + 1 < h && (size_t)(h - y - 1) * w >= 16 - (size_t)w) V16_STORE(o, V16_LOAD(r));
            else store_row_part(o, V16_LOAD(r), w);
            continue;
        }
        int x = 0;
        for (; x + 16 <= w; x += 16) V16_STORE(o + x, V16_LOAD(r + x));
        if (x < w) V16_STORE(o + w - 16, V16_LOAD(r + w - 16)); /* the last vector overlaps the one before */
    }
}

/* even[j] = src[2j], odd[j] = src[2j + 1] for 2j < n, in whole vectors (reads up to 31 floats past n). */
LHR_INLINE void deinterleave(const float *src, int n, float *even, float *odd) {
    for (int j = 0; 2 * j < n; j += 16) {
        v16 lo = V16_LOAD(src + 2 * j), hi = V16_LOAD(src + 2 * j + 16);
        V16_STORE(even + j, __builtin_shuffle(lo, hi, EVEN_LANES));
        V16_STORE(odd + j, __builtin_shuffle(lo, hi, ODD_LANES));
    }
}

/* One row of a w wide plane (w even), zero-padded by one on both sides, as its even and odd columns:
 * od[j] = pad[2j + 1] = row[2j], e[j + 1] = pad[2j + 2] = row[2j + 1], e[0] = od[w / 2] = 0; row NULL:
 * a border row, `half` zeros each. The vectors run up to 16 floats past the row's `half` (into the
 * next row, written later, or slack); its borders are set after them. */
LHR_INLINE void split_row(const float *row, int w, float *e, float *od, int half) {
    if (!row) {
        memset(e, 0, sizeof(float) * (size_t)half);
        memset(od, 0, sizeof(float) * (size_t)half);
        return;
    }
    deinterleave(row, w, od, e + 1);
    e[0] = 0.0f;
    od[w / 2] = 0.0f;
}

/* The even and odd columns of an h x w plane (w even) zero-padded by one on every side, rows `half`
 * = (w + 2) / 2 apart (split_row); rows go in order; 32 floats of slack follow each array. */
LHR_INLINE void split_columns(const float *src, int h, int w, float *even, float *odd, int half) {
    for (int r = 0; r <= h; r++)
        split_row(r ? src + (size_t)(r - 1) * w : NULL, w, even + (size_t)r * half, odd + (size_t)r * half, half);
    memset(even + (size_t)(h + 1) * half, 0, sizeof(float) * ((size_t)half + 32));
    memset(odd + (size_t)(h + 1) * half, 0, sizeof(float) * ((size_t)half + 32));
}

/* The row-parity layout of a stride-2 depthwise conv's input (flat path): padded row r's even and odd
 * columns go to row r / 2 of even[r % 2] and odd[r % 2] (rows `half` apart, `rows` + slack each), so that
 * output row y's three input rows are row y of the first arrays, row y of the second and row y + 1 of the
 * first: consecutive output rows are consecutive rows of each array. The padded plane is `pad` (rows
 * `pitch` apart) when given, else src zero-padded on the way. Rows go in order within each array, each
 * row's vectors running into the next (written later); the rows after the last are zeroed. */
LHR_INLINE void split_rows_columns(const float *src, const float *pad, int pitch, int h, int w, float *even[2],
                                   float *odd[2], int half, int rows) {
    for (int r = 0; r < h + 2; r++) {
        float *e = even[r & 1] + (size_t)(r >> 1) * half, *od = odd[r & 1] + (size_t)(r >> 1) * half;
        if (pad) deinterleave(pad + (size_t)r * pitch, w + 2, e, od);
        else split_row(r == 0 || r == h + 1 ? NULL : src + (size_t)(r - 1) * w, w, e, od, half);
    }
    for (int p = 0; p < 2; p++) {
        int used = (h + 2 - p + 1) / 2; /* rows of parity p */
        memset(even[p] + (size_t)used * half, 0, sizeof(float) * ((size_t)(rows - used) * half + 32));
        memset(odd[p] + (size_t)used * half, 0, sizeof(float) * ((size_t)(rows - used) * half + 32));
    }
}

/* One vector of 3x3 depthwise outputs: taps at p0/p1/p2 (stride 1) or at even/odd columns (stride 2). */
#define DW_TAPS_S1(p0, p1, p2, i)                                                                             \
    (b + kv[0] * V16_LOAD(p0 + i) + kv[1] * V16_LOAD(p0 + i + 1) + kv[2] * V16_LOAD(p0 + i + 2) +              \
     kv[3] * V16_LOAD(p1 + i) + kv[4] * V16_LOAD(p1 + i + 1) + kv[5] * V16_LOAD(p1 + i + 2) +                   \
     kv[6] * V16_LOAD(p2 + i) + kv[7] * V16_LOAD(p2 + i + 1) + kv[8] * V16_LOAD(p2 + i + 2))
#define DW_TAPS_S2(e0, o0, e1, o1, e2, o2, i)                                                                 \
    (b + kv[0] * V16_LOAD(e0 + i) + kv[1] * V16_LOAD(o0 + i) + kv[2] * V16_LOAD(e0 + i + 1) +                  \
     kv[3] * V16_LOAD(e1 + i) + kv[4] * V16_LOAD(o1 + i) + kv[5] * V16_LOAD(e1 + i + 1) +                       \
     kv[6] * V16_LOAD(e2 + i) + kv[7] * V16_LOAD(o2 + i) + kv[8] * V16_LOAD(e2 + i + 1))

/* Output rows per band of depthwise_bands_stride2: the band's input rows stay in L1. */
#define DW_BAND 8

/* depthwise_bands_stride2's row pitch (even, so half of it is a whole number of cache lines) and the size of
 * each of its two parts (even and odd columns: 2 DW_BAND + 1 rows and 32 floats of slack). */
LHR_INLINE int dw_band_pitch(int w) { return (w + 2 + 31) / 32 * 32; }
LHR_INLINE size_t dw_band_part(int w) { return (size_t)(2 * DW_BAND + 1) * (size_t)(dw_band_pitch(w) / 2) + 32; }

/* Stride-2 depthwise convolution of channel c of a plane too large for the flat path that the bands do not
 * take (odd width, a scale map, rows under 16 outputs): three padded input rows at a time, each split into
 * its even and odd columns (input row 2y + 1 serves output rows y and y + 1). */
LHR_HOT static void depthwise_rows_stride2(const engine_op *op, int c, float *scratch) {
    int h = op->in_h, w = op->in_w, ho = op->out_h, wo = op->out_w;
    int pitch = (w + 2 + 15) / 16 * 16 + 16; /* one row plus a vector of slack */
    int half = pitch / 2 + 16;
    float *row = scratch, *even[3], *odd[3];
    for (int i = 0; i < 3; i++) {
        even[i] = scratch + 3 * (size_t)pitch + (size_t)(2 * i) * half;
        odd[i] = even[i] + half;
    }
    float *up = scratch + 3 * (size_t)pitch + 6 * (size_t)half;
    const float *k = op->weights + (size_t)c * 9, *in = op->in[c], *scale = op->aux ? op->aux[c] : NULL;
    v16 kv[9];
    for (int t = 0; t < 9; t++) kv[t] = v16_splat(k[t]);
    v16 b = v16_splat(op->bias[c]);
    float *out = (float *)op->out[c];
    for (int y = 0; y < ho; y++) {
        for (int i = (y == 0 ? 0 : 1); i < 3; i++) {
            int slot = (2 * y + i) % 3;
            padded_row(in, scale, op->shift, 2 * y - 1 + i, h, w, row, pitch, up);
            deinterleave(row, pitch - 16, even[slot], odd[slot]);
        }
        const float *e0 = even[(2 * y) % 3], *e1 = even[(2 * y + 1) % 3], *e2 = even[(2 * y + 2) % 3];
        const float *o0 = odd[(2 * y) % 3], *o1 = odd[(2 * y + 1) % 3], *o2 = odd[(2 * y + 2) % 3];
        float *o = out + (size_t)y * wo;
        for (int x = 0; x < wo; x += 16) store_row_part(o + x, v16_act(DW_TAPS_S2(e0, o0, e1, o1, e2, o2, x), op->act), wo - x);
    }
}

/* Output rows from a padded plane whose rows are `pitch` apart (stride 1: the padded plane; stride 2:
 * its even and odd columns, a padded row being pitch / 2 apart there). Wide rows are written in
 * place; narrow planes are computed as one flat run across row ends, then copied out. */
LHR_INLINE void dw_plane(const float *pad, float *const even[2], float *const odd[2],
                                                           int stride, int pitch, const v16 kv[9], v16 b, int act,
                                                           int ho, int wo, float *res, float *out) {
    int step = stride == 1 ? pitch : pitch / 2;
    const float *p0 = stride == 1 ? pad : even[0], *p1 = p0 + step, *p2 = p1 + step;
    const float *o0 = odd[0], *o1 = o0 + step, *o2 = o1 + step;
    if (wo >= 16) {
        /* Two output rows at a time: they share input rows (stride 1: two of four, stride 2: one of
         * five), loaded once. Stride 2: output row y starts at even/odd[y * pitch], a padded row
         * being pitch / 2 apart. */
        const float *p3 = p2 + step, *p4 = p3 + step, *o3 = o2 + step, *o4 = o3 + step;
        for (int y = 0; y < ho; y += 2) {
            size_t r = (size_t)y * pitch;
            float *o = out + (size_t)y * wo;
            int pair = y + 1 < ho;
            for (int x = 0; x < wo; x += 16) {
                if (x + 16 > wo) x = wo - 16; /* the last vector ends at the row's end, overlapping the one before */
                size_t i = r + (size_t)x;
                if (stride == 1) {
                    v16 a1 = V16_LOAD(p1 + i), b1 = V16_LOAD(p1 + i + 1), c1 = V16_LOAD(p1 + i + 2);
                    v16 a2 = V16_LOAD(p2 + i), b2 = V16_LOAD(p2 + i + 1), c2 = V16_LOAD(p2 + i + 2);
                    v16 t = b + kv[0] * V16_LOAD(p0 + i) + kv[1] * V16_LOAD(p0 + i + 1) + kv[2] * V16_LOAD(p0 + i + 2);
                    t = t + kv[3] * a1 + kv[4] * b1 + kv[5] * c1 + kv[6] * a2 + kv[7] * b2 + kv[8] * c2;
                    V16_STORE(o + x, v16_act(t, act));
                    if (!pair) continue;
                    v16 u = b + kv[0] * a1 + kv[1] * b1 + kv[2] * c1 + kv[3] * a2 + kv[4] * b2 + kv[5] * c2;
                    u = u + kv[6] * V16_LOAD(p3 + i) + kv[7] * V16_LOAD(p3 + i + 1) + kv[8] * V16_LOAD(p3 + i + 2);
                    V16_STORE(o + wo + x, v16_act(u, act));
                } else {
                    v16 a2 = V16_LOAD(p2 + i), b2 = V16_LOAD(o2 + i), c2 = V16_LOAD(p2 + i + 1);
                    V16_STORE(o + x, v16_act(DW_TAPS_S2(p0, o0, p1, o1, p2, o2, i), act));
                    if (!pair) continue;
                    v16 u = b + kv[0] * a2 + kv[1] * b2 + kv[2] * c2;
                    u = u + kv[3] * V16_LOAD(p3 + i) + kv[4] * V16_LOAD(o3 + i) + kv[5] * V16_LOAD(p3 + i + 1);
                    u = u + kv[6] * V16_LOAD(p4 + i) + kv[7] * V16_LOAD(o4 + i) + kv[8] * V16_LOAD(p4 + i + 1);
                    V16_STORE(o + wo + x, v16_act(u, act));
                }
            }
        }
        return;
    }
    if (stride == 2) { /* the row-parity layout (split_rows_columns): output rows pitch / 2 apart */
        p1 = even[1], o1 = odd[1], p2 = p0 + step, o2 = o0 + step;
        for (int i = 0; i < ho * step; i += 16) V16_STORE(res + i, v16_act(DW_TAPS_S2(p0, o0, p1, o1, p2, o2, i), act));
        copy_rows(res, step, ho, wo, out);
        return;
    }
    int n = ho * pitch;
    for (int i = 0; i < n; i += 16) V16_STORE(res + i, v16_act(DW_TAPS_S1(p0, p1, p2, i), act));
    copy_rows(res, pitch, ho, wo, out);
}

/* Stride-2 depthwise convolution of channel c of a plane too large for the flat path (w even, no scale
 * map, rows of 16 or more outputs): bands of DW_BAND output rows, each band's 2 DW_BAND + 1 zero-padded
 * input rows split into even and odd columns (rows half apart, on cache lines; a band's last input row
 * is the next one's first), then dw_plane's row kernel. Preparing whole bands before computing them
 * keeps each load clear of the stores just made (a load over two recent stores waits for them). */
LHR_HOT static void depthwise_bands_stride2(const engine_op *op, int c, float *scratch) {
    int h = op->in_h, w = op->in_w, ho = op->out_h, wo = op->out_w, act = op->act;
    int pitch = dw_band_pitch(w), half = pitch / 2;
    float *even[2] = {scratch, NULL}, *odd[2] = {scratch + dw_band_part(w), NULL};
    const float *k = op->weights + (size_t)c * 9, *in = op->in[c];
    v16 kv[9];
    for (int t = 0; t < 9; t++) kv[t] = v16_splat(k[t]);
    v16 b = v16_splat(op->bias[c]);
    float *out = (float *)op->out[c];
    for (int y0 = 0; y0 < ho; y0 += DW_BAND) {
        int rows = ho - y0 < DW_BAND ? ho - y0 : DW_BAND;
        for (int r = 0; r <= 2 * rows; r++) { /* padded row 2 y0 + r: input row 2 y0 + r - 1 */
            int sy = 2 * y0 + r - 1;
            split_row(sy < 0 || sy >= h ? NULL : in + (size_t)sy * w, w, even[0] + (size_t)r * half,
                      odd[0] + (size_t)r * half, half);
        }
        memset(even[0] + (size_t)(2 * rows + 1) * half, 0, sizeof(float) * 32);
        memset(odd[0] + (size_t)(2 * rows + 1) * half, 0, sizeof(float) * 32);
        float *o = out + (size_t)y0 * wo;
        if (act == ACT_NONE) dw_plane(NULL, even, odd, 2, pitch, kv, b, ACT_NONE, rows, wo, NULL, o);
        else if (act == ACT_RELU) dw_plane(NULL, even, odd, 2, pitch, kv, b, ACT_RELU, rows, wo, NULL, o);
        else dw_plane(NULL, even, odd, 2, pitch, kv, b, ACT_SIGMOID, rows, wo, NULL, o);
    }
}

/* Floats n of 16 planes (the last plane repeated when fewer) as n pixels of 16 lanes, lane l from
 * plane l: 16 x 16 transposes, reading whole vectors past each plane's end. */
LHR_INLINE void planes_to_lanes(const float *const planes[16], int n, v16 *dst) {
    for (int p = 0; p < n; p += 16) {
        v16 r[16];
        for (int l = 0; l < 16; l++) r[l] = V16_LOAD(planes[l] + p);
        transpose16(r);
        int m = n - p < 16 ? n - p : 16;
        for (int j = 0; j < m; j++) dst[p + j] = r[j];
    }
}

/* Output planes of at most this many floats go through depthwise_lanes; stride 1 up to DW_LANES_MAX_S1 (16x12:
 * there the lanes' transposes cost less than a plane's padding, flat run and copy; at stride 2 they cost more). */
#define DW_LANES_MAX 64
#define DW_LANES_MAX_S1 192

/* depthwise() for small outputs (8 x 6 and less, 16 x 12 at stride 1, where a plane at a time costs more
 * in per-row work than in arithmetic): 16 channels at a time, one per vector lane. Each group's input planes are
 * transposed into a zero-bordered (h + 2) x (w + 2) grid of 16-lane pixels (the scale maps too, and
 * the input multiplied by them on the way), each output pixel is 9 multiply-adds of whole vectors,
 * and the results are transposed back into the output planes. Scratch: the grid, the results (plus
 * 16 pixels of slack), the scale pixels. */
LHR_HOT static void depthwise_lanes(const engine_op *op, float *scratch) {
    int h = op->in_h, w = op->in_w, ho = op->out_h, wo = op->out_w, st = op->stride, sh = op->shift;
    int pitch = w + 2, n_out = ho * wo;
    int scale_w = op->aux ? w >> sh : 0, n_scale = op->aux ? (h >> sh) * scale_w : 0;
    v16 *grid = (v16 *)(void *)scratch, zero = v16_splat(0.0f);
    v16 *res = grid + (size_t)(h + 2) * pitch, *scales = res + n_out + 16;
    for (int g = 0; g < op->cin; g += 16) {
        int nc = op->cin - g < 16 ? op->cin - g : 16;
        const float *planes[16];
        v16 k[9], b;
        for (int l = 0; l < 16; l++) {
            int c = g + (l < nc ? l : nc - 1);
            planes[l] = op->in[c];
            for (int t = 0; t < 9; t++) k[t][l] = op->weights[(size_t)c * 9 + t];
            b[l] = op->bias[c];
        }
        if (op->aux) {
            const float *maps[16];
            for (int l = 0; l < 16; l++) maps[l] = op->aux[g + (l < nc ? l : nc - 1)];
            planes_to_lanes(maps, n_scale, scales);
        }
        for (int x = 0; x < pitch; x++) grid[x] = grid[(size_t)(h + 1) * pitch + x] = zero;
        for (int y = 0, x = 0, p = 0; p < h * w; p += 16) {
            v16 r[16];
            for (int l = 0; l < 16; l++) r[l] = V16_LOAD(planes[l] + p);
            transpose16(r);
            int m = h * w - p < 16 ? h * w - p : 16;
            for (int j = 0; j < m; j++) {
                v16 *row = grid + (size_t)(y + 1) * pitch;
                row[x + 1] = op->aux ? r[j] * scales[(size_t)(y >> sh) * scale_w + (x >> sh)] : r[j];
                if (x == 0) row[0] = zero;
                if (x == w - 1) row[w + 1] = zero;
                if (++x == w) x = 0, y++;
            }
        }
        v16 sum = zero;
        for (int yo = 0; yo < ho; yo++) {
            for (int xo = 0; xo < wo; xo++) {
                const v16 *q0 = grid + (size_t)yo * st * pitch + (size_t)xo * st, *q1 = q0 + pitch, *q2 = q1 + pitch;
                v16 a = b + k[0] * q0[0] + k[1] * q0[1] + k[2] * q0[2] + k[3] * q1[0] + k[4] * q1[1] + k[5] * q1[2] +
                        k[6] * q2[0] + k[7] * q2[1] + k[8] * q2[2];
                a = v16_act(a, op->act);
                res[(size_t)yo * wo + xo] = a;
                sum += a;
            }
        }
        if (op->means)
            for (int l = 0; l < nc; l++) ((float *)op->means[g + l])[0] = sum[l] / (float)n_out;
        for (int p = 0; p < n_out; p += 16) {
            v16 r[16];
            for (int j = 0; j < 16; j++) r[j] = res[p + j]; /* past n_out: the slack, lanes not stored */
            transpose16(r);
            int m = n_out - p < 16 ? n_out - p : 16;
            for (int l = 0; l < nc; l++) store_row_part((float *)op->out[g + l] + p, r[l], m);
        }
    }
}

/* Which way depthwise() runs an op: 16 channels at a time in vector lanes, plane by plane over a
 * whole zero-bordered plane (or its even and odd columns), or three padded rows at a time. */
enum { DW_LANES, DW_FLAT, DW_ROWS };

static int depthwise_path(const engine_op *op) {
    int out = op->out_h * op->out_w;
    if (out <= DW_LANES_MAX || (op->stride == 1 && out <= DW_LANES_MAX_S1)) return DW_LANES;
    if (op->stride == 1 || ((op->in_w + 2) % 2 == 0 && (size_t)(op->in_h + 2) * (op->in_w + 2) <= DW_FLAT_MAX))
        return DW_FLAT;
    return DW_ROWS;
}

/* Row pitch of depthwise()'s padded planes, w wide with wo outputs a row. Rows of 16 or more outputs are
 * computed in place: their padded rows are a whole number of cache lines apart, each row's first input
 * float on a line boundary (the scratch starts on one, and the plane 15 floats into it), so the middle
 * tap and the bordering stores are aligned. Narrow planes are one flat run: rows w + 2 apart. */
LHR_INLINE int dw_pitch(int w, int wo) { return wo >= 16 ? (w + 2 + 15) / 16 * 16 : w + 2; }

/* 3x3 depthwise convolution, padding 1, stride 1 or 2, on each channel: out = act(k * (x .* up(scale)) + b).
 *
 * The padded plane is treated as one flat array: with row pitch P (dw_pitch), output (y, x) is
 * sum k[dy][dx] pad[(y + dy) P + x + dx], a 1-D convolution with 9 fixed offsets, so whole
 * vectors may run across row ends (the columns computed past each row are dropped). Stride 2
 * splits the padded plane into even and odd columns first (P is even), so its taps are unit-stride
 * too. Planes too large for that to stay in cache go in bands of output rows (depthwise_bands_stride2; odd
 * widths and scaled ones three padded rows at a time), outputs of 8x6 and less (16x12 at stride 1) through
 * depthwise_lanes.
 *
 * The op and the op->group ops after it (depthwise convs of the same input planes, fused when the
 * program is read) run plane by plane: each input plane is bordered (and split) once for all of them. */
LHR_HOT static void depthwise(const engine_op *op, float *scratch) {
    int path = depthwise_path(op);
    if (path == DW_LANES) {
        depthwise_lanes(op, scratch);
        return;
    }
    int h = op->in_h, w = op->in_w, ho = op->out_h, wo = op->out_w;
    int pitch = dw_pitch(w, wo), half = pitch / 2;
    float *pad = scratch + 15; /* pad + 1, each row's first input float, on a cache line (see dw_pitch) */
    float *res = pad + (size_t)(h + 2) * pitch + 32;
    /* Stride 2: the even and odd columns on a cache line, so that rows of 16 or more outputs load their first
     * two taps aligned when half = pitch / 2 is a multiple of 16 (64x48 inputs: pitch 64). */
    float *first = scratch + ((size_t)(res - scratch) + (size_t)h * pitch + 32 + 15) / 16 * 16;
    /* Stride 2, rows of 16 or more outputs: the padded plane's even and odd columns, rows half apart;
     * narrower rows (one flat run): the row-parity layout, each array `parity_rows` rows plus slack. */
    int parity = op->stride == 2 && wo < 16, parity_rows = (h + 3) / 2;
    size_t part = parity ? (size_t)parity_rows * half + 32 : (size_t)(h + 2) * half + 32;
    int parts = parity ? 4 : 2;
    float *even[2] = {first, parity ? first + part : NULL}, *odd[2] = {first + part * (size_t)(parts / 2), NULL};
    if (parity) odd[1] = first + 3 * part;
    float *up = first + part * (size_t)parts;
    for (int c = 0; c < op->cin; c++) {
        if (path == DW_ROWS) {
            if (!op->aux && w % 2 == 0 && wo >= 16) depthwise_bands_stride2(op, c, scratch);
            else depthwise_rows_stride2(op, c, scratch);
            if (op->means) ((float *)op->means[c])[0] = plane_mean(op->out[c], ho * wo);
            continue;
        }
        if (op->stride == 1 || op->aux) padded_plane(op->in[c], op->aux ? op->aux[c] : NULL, op->shift, h, w, pad, pitch, up);
        if (parity) {
            split_rows_columns(op->in[c], op->aux ? pad : NULL, pitch, h, w, even, odd, half, parity_rows);
        } else if (op->stride == 2 && op->aux) {
            deinterleave(pad, (h + 2) * pitch, even[0], odd[0]);
        } else if (op->stride == 2) {
            split_columns(op->in[c], h, w, even[0], odd[0], half);
        }
        for (const engine_op *o = op; o <= op + op->group; o++) {
            const float *k = o->weights + (size_t)c * 9;
            v16 kv[9];
            for (int t = 0; t < 9; t++) kv[t] = v16_splat(k[t]);
            v16 b = v16_splat(o->bias[c]);
            float *out = (float *)o->out[c];
            /* Constant stride and activation per call, so each loop is compiled without branches. */
            if (o->stride == 1 && o->act == ACT_NONE) dw_plane(pad, even, odd, 1, pitch, kv, b, ACT_NONE, ho, wo, res, out);
            else if (o->stride == 1 && o->act == ACT_RELU) dw_plane(pad, even, odd, 1, pitch, kv, b, ACT_RELU, ho, wo, res, out);
            else if (o->stride == 1) dw_plane(pad, even, odd, 1, pitch, kv, b, ACT_SIGMOID, ho, wo, res, out);
            else if (o->act == ACT_NONE) dw_plane(pad, even, odd, 2, pitch, kv, b, ACT_NONE, ho, wo, res, out);
            else if (o->act == ACT_RELU) dw_plane(pad, even, odd, 2, pitch, kv, b, ACT_RELU, ho, wo, res, out);
            else dw_plane(pad, even, odd, 2, pitch, kv, b, ACT_SIGMOID, ho, wo, res, out);
            if (o->means) ((float *)o->means[c])[0] = plane_mean(out, ho * wo); /* the plane is still in L1 */
        }
    }
}

/* Dense convolution (the stem's 3x3 stride-2 conv) as a pointwise product per output row, reading
 * the patches in place: each input channel is split into `stride` column phases of its zero-padded
 * plane (phase q, row r, column j = padded[r][j * stride + q]), so the input of tap (c, dy, dx) for
 * output row y is a contiguous run of one phase row. Scratch: the phases, then the row pointers. */
LHR_HOT static void conv_dense(const engine_op *op, float *scratch, const float **rows) {
    int kk = op->kernel, st = op->stride, pd = op->pad, ho = op->out_h, wo = op->out_w;
    int ph = op->in_h + 2 * pd, pw = (op->in_w + 2 * pd + st - 1) / st;
    size_t phase_size = (size_t)ph * pw + 32;
    float *phases = scratch;
    for (int c = 0; c < op->cin; c++) {
        const float *in = op->in[c];
        if (st == 2 && pd == 1 && op->in_w % 2 == 0) {
            split_columns(in, op->in_h, op->in_w, phases + 2 * c * phase_size, phases + (2 * c + 1) * phase_size, pw);
        } else {
        for (int q = 0; q < st; q++) {
            for (int y = 0; y < ph; y++) {
                int iy = y - pd;
                float *dst = phases + ((size_t)c * st + q) * phase_size + (size_t)y * pw;
                for (int j = 0; j < pw; j++) {
                    int ix = j * st + q - pd;
                    dst[j] = (iy >= 0 && iy < op->in_h && ix >= 0 && ix < op->in_w) ? in[(size_t)iy * op->in_w + ix] : 0.0f;
                }
            }
        }
        }
    }
    int taps = op->cin * kk * kk;
    float **out_rows = (float **)(void *)(rows + taps);
    for (int y = 0; y < ho; y++) {
        int r = 0;
        for (int c = 0; c < op->cin; c++)
            for (int dy = 0; dy < kk; dy++)
                for (int dx = 0; dx < kk; dx++, r++)
                    rows[r] = phases + ((size_t)c * st + dx % st) * phase_size + (size_t)(y * st + dy) * pw + dx / st;
        for (int m = 0; m < op->cout; m++) out_rows[m] = (float *)op->out[m] + (size_t)y * wo;
        pointwise(op->weights, op->bias, rows, (const float **)out_rows, taps, op->cout, wo, op->act);
    }
}

/* Average over kernel x pad windows (the windows tile the plane exactly), in whole vectors: the window
 * rows are summed first into `acc` (out_h rows of in_w floats; a row's last vector may run into the
 * next row, which is written after it), then each window's columns by passes of pairwise adds over
 * the whole of `acc` (window widths 2^k; a pair never spans two rows since in_w is a multiple of the
 * width). `acc` holds out_h * in_w floats plus 48 of slack. */
LHR_HOT static void pool(const engine_op *op, float *acc) {
    int kh = op->kernel, kw = op->pad, w = op->in_w, ho = op->out_h, wo = op->out_w, n_out = ho * wo;
    v16 inv = v16_splat(1.0f / (float)(kh * kw));
    if (ho == 1 && wo == 1) { /* a global mean (spatial weighting) */
        for (int c = 0; c < op->cin; c++) ((float *)op->out[c])[0] = plane_mean(op->in[c], op->in_h * w);
        return;
    }
    for (int c = 0; c < op->cin; c++) {
        const float *in = op->in[c];
        float *out = (float *)op->out[c];
        for (int y = 0; y < ho; y++) {
            const float *first = in + (size_t)y * kh * w;
            float *a = acc + (size_t)y * w;
            for (int x = 0; x < w; x += 16) {
                v16 s = V16_LOAD(first + x);
                for (int dy = 1; dy < kh; dy++) s += V16_LOAD(first + (size_t)dy * w + x);
                V16_STORE(a + x, s);
            }
        }
        int len = ho * w;
        if ((kw & (kw - 1)) == 0) {
            for (; len > n_out; len /= 2) /* each pass halves the rows in place (reads run into the slack) */
                for (int j = 0; 2 * j < len; j += 16) {
                    v16 lo = V16_LOAD(acc + 2 * j), hi = V16_LOAD(acc + 2 * j + 16);
                    V16_STORE(acc + j, __builtin_shuffle(lo, hi, EVEN_LANES) + __builtin_shuffle(lo, hi, ODD_LANES));
                }
        } else {
            for (int j = 0; j < n_out; j++) {
                float s = 0.0f;
                for (int dx = 0; dx < kw; dx++) s += acc[j * kw + dx];
                acc[j] = s;
            }
        }
        int j = 0;
        for (; j + 16 <= n_out; j += 16) V16_STORE(out + j, inv * V16_LOAD(acc + j));
        if (j < n_out) store_row_part(out + j, inv * V16_LOAD(acc + j), n_out - j);
    }
}

/* out[c] = in[c] * s[c][0] (spatial weighting). */
LHR_HOT static void scale_channels(const engine_op *op) {
    int n = op->in_h * op->in_w;
    for (int c = 0; c < op->cin; c++) {
        const float *in = op->in[c];
        float *out = (float *)op->out[c];
        float s = op->aux[c][0];
        int p = 0;
        for (; p + 16 <= n; p += 16) V16_STORE(out + p, s * V16_LOAD(in + p));
        for (; p < n; p++) out[p] = s * in[p];
    }
}

/* Term t's vector at column x of its output row: 16 >> shift floats, each repeated 2^shift times. */
LHR_INLINE v16 sum_term(const float *src, int x, int shift) {
    static const vi16 repeat_lanes[4] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7},
        {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},
        {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    v16 v = V16_LOAD(src + (x >> shift));
    return shift ? __builtin_shuffle(v, repeat_lanes[shift]) : v;
}

/* The vector path of sum_terms for nt terms upsampled by at most 2^3. n0 >= 0: the shifts follow the
 * fuse layers' pattern, 0 for the first n0 terms and then 1, 2, ..., so that with nt and n0 constants
 * they are constants too; n0 < 0: the op's. */
LHR_INLINE void sum_planes(const engine_op *op, int nt, int n0, int max_shift, int act, int has_out2, int act2) {
    int h = op->out_h, w = op->out_w;
    int rows = max_shift ? h : 1, row_w = max_shift ? w : h * w;
    size_t plane = (size_t)h * w;
    const float *src[64];
    int shift[64];
    float coef[64];
    for (int t = 0; t < nt; t++) {
        shift[t] = n0 >= 0 ? (t < n0 ? 0 : t - n0 + 1) : op->term_shift[t];
        coef[t] = op->term_coef[t];
    }
    for (int c = 0; c < op->cout; c++) {
        float *out = (float *)op->out[c], *out2 = has_out2 ? (float *)op->out2[c] : NULL;
        for (int y = 0; y < rows; y++) {
            for (int t = 0; t < nt; t++) src[t] = op->term_in[t][c] + (size_t)(y >> shift[t]) * (size_t)(w >> shift[t]);
            size_t row = (size_t)y * row_w;
            for (int x = 0; x < row_w; x += 16) {
                v16 a = coef[0] * sum_term(src[0], x, shift[0]);
                for (int t = 1; t < nt; t++) a += coef[t] * sum_term(src[t], x, shift[t]);
                size_t at = row + (size_t)x;
                /* Past the row's end: later rows, written after it (unless summed in place: then later rows
                 * of term 0 are still to be read, and the vector stores only its row's floats). */
                if (at + 16 <= plane && !(op->in_place && x + 16 > row_w)) {
                    V16_STORE(out + at, v16_act(a, act));
                    if (has_out2) V16_STORE(out2 + at, v16_act(a, act2));
                } else {
                    int count = (int)(plane - at) < row_w - x ? (int)(plane - at) : row_w - x;
                    store_row_part(out + at, v16_act(a, act), count);
                    if (has_out2) store_row_part(out2 + at, v16_act(a, act2), count);
                }
            }
        }
    }
}

/* sum_planes with the activations the exporter writes as constants, so the loops compile without branches. */
LHR_INLINE void sum_with_terms(const engine_op *op, int nt, int n0, int max_shift) {
    if (!op->out2 && op->act == ACT_NONE) sum_planes(op, nt, n0, max_shift, ACT_NONE, 0, ACT_NONE);
    else if (!op->out2 && op->act == ACT_RELU) sum_planes(op, nt, n0, max_shift, ACT_RELU, 0, ACT_NONE);
    else if (op->out2 && op->act == ACT_NONE && op->act2 == ACT_RELU) sum_planes(op, nt, n0, max_shift, ACT_NONE, 1, ACT_RELU);
    else sum_planes(op, nt, n0, max_shift, op->act, op->out2 != NULL, op->act2);
}

/* How many of the op's terms come first unshifted, when the rest are shifted by 1, 2, ... in order (the
 * fuse layers' pattern); -1 otherwise. */
static int leading_unshifted(const engine_op *op) {
    int n0 = 0;
    while (n0 < op->n_terms && op->term_shift[n0] == 0) n0++;
    for (int t = n0; t < op->n_terms; t++)
        if (op->term_shift[t] != t - n0 + 1) return -1;
    return n0;
}

/* out = act(sum_t coef_t * up_t(in_t)), up_t nearest upsampling by 2^shift_t (the fuse layers), and
 * out2 = act2 of the same sum when the ReLU copy after it is fused in. Each output vector is made in
 * registers from every term (a term's vector is one load of 16 >> shift values and one lane shuffle)
 * and stored once. Rows are written in order, a row's last vector running into the next row (written
 * after it; the outputs never alias the terms); a plane's last vector stores only its own floats.
 * When no term is upsampled the plane is one flat run. Shifts above 3 (never written by the
 * exporter) go one float at a time. */
LHR_HOT static void sum_terms(const engine_op *op) {
    int h = op->out_h, w = op->out_w, nt = op->n_terms, max_shift = 0;
    for (int t = 0; t < nt; t++) max_shift = op->term_shift[t] > max_shift ? op->term_shift[t] : max_shift;
    if (max_shift > 3) {
        for (int c = 0; c < op->cout; c++) {
            for (int i = 0; i < h * w; i++) {
                float a = 0.0f;
                for (int t = 0; t < nt; t++) {
                    int sh = op->term_shift[t];
                    a += op->term_coef[t] * op->term_in[t][c][(size_t)((i / w) >> sh) * (size_t)(w >> sh) + ((i % w) >> sh)];
                }
                ((float *)op->out[c])[i] = scalar_act(a, op->act);
                if (op->out2) ((float *)op->out2[c])[i] = scalar_act(a, op->act2);
            }
        }
        return;
    }
    /* The fuse layers' term counts and shifts as constants, so that the loops compile unrolled, with
     * no shuffle for an unshifted term (a runtime loop over the terms costs more than the memory). */
    int n0 = nt <= 4 ? leading_unshifted(op) : -1;
    switch (n0 < 0 ? 0 : nt * 8 + n0) {
    case 1 * 8 + 1: sum_with_terms(op, 1, 1, max_shift); break;
    case 2 * 8 + 1: sum_with_terms(op, 2, 1, max_shift); break;
    case 2 * 8 + 2: sum_with_terms(op, 2, 2, max_shift); break;
    case 3 * 8 + 1: sum_with_terms(op, 3, 1, max_shift); break;
    case 3 * 8 + 2: sum_with_terms(op, 3, 2, max_shift); break;
    case 3 * 8 + 3: sum_with_terms(op, 3, 3, max_shift); break;
    case 4 * 8 + 1: sum_with_terms(op, 4, 1, max_shift); break;
    case 4 * 8 + 2: sum_with_terms(op, 4, 2, max_shift); break;
    case 4 * 8 + 3: sum_with_terms(op, 4, 3, max_shift); break;
    case 4 * 8 + 4: sum_with_terms(op, 4, 4, max_shift); break;
    default: sum_with_terms(op, nt, -1, max_shift); break;
    }
}

/* out = in + bilinear upsampling of aux with aligned corners (the iterative head): each output row
 * blends two source rows (vector), then each output column two entries of that blend. Upsampling
 * reads at most 9 neighbouring blend entries per 16 output columns, so a vector of columns is two
 * lane shuffles of one load; a row's last vector stores only the row's own floats. Scratch: the blend
 * (ws + 32 floats), then per vector of columns its first source and its shuffle indices and weights. */
LHR_HOT static void bilinear_add(const engine_op *op, float *scratch) {
    int h = op->out_h, w = op->out_w, hs = op->in_h, ws = op->in_w;
    float fy = h > 1 ? (float)(hs - 1) / (float)(h - 1) : 0.0f;
    float fx = w > 1 ? (float)(ws - 1) / (float)(w - 1) : 0.0f;
    int blocks = (w + 15) / 16;
    float *blend = scratch;
    v16 *weight = (v16 *)(void *)(scratch + ws + 32);
    vi16 *first = (vi16 *)(void *)(weight + blocks), *second = first + blocks;
    int *base = (int *)(void *)(second + blocks);
    int shuffles = 1;
    for (int bl = 0; bl < blocks; bl++) {
        for (int l = 0; l < 16; l++) {
            int x = 16 * bl + l < w ? 16 * bl + l : w - 1; /* lanes past the row repeat its last column */
            float sx = (float)x * fx;
            int x0 = (int)sx, x1 = x0 + 1 < ws ? x0 + 1 : ws - 1;
            if (l == 0) base[bl] = x0;
            first[bl][l] = x0 - base[bl];
            second[bl][l] = x1 - base[bl];
            weight[bl][l] = sx - (float)x0;
            shuffles &= x1 - base[bl] < 16;
        }
    }
    for (int c = 0; c < op->cout; c++) {
        const float *a = op->in[c], *s = op->aux[c];
        float *out = (float *)op->out[c];
        for (int y = 0; y < h; y++) {
            float sy = (float)y * fy;
            int y0 = (int)sy, y1 = y0 + 1 < hs ? y0 + 1 : hs - 1;
            float ly = sy - (float)y0;
            const float *s0 = s + (size_t)y0 * ws, *s1 = s + (size_t)y1 * ws;
            /* Whole vectors, past the row's end into the blend's slack (reads: the arena's slack). */
            for (int x = 0; x < ws; x += 16) V16_STORE(blend + x, (1.0f - ly) * V16_LOAD(s0 + x) + ly * V16_LOAD(s1 + x));
            const float *arow = a + (size_t)y * w;
            float *orow = out + (size_t)y * w;
            if (shuffles) {
                for (int bl = 0; bl < blocks; bl++) {
                    int x = 16 * bl;
                    v16 src = V16_LOAD(blend + base[bl]);
                    v16 lo = __builtin_shuffle(src, first[bl]), hi = __builtin_shuffle(src, second[bl]);
                    store_row_part(orow + x, V16_LOAD(arow + x) + (1.0f - weight[bl]) * lo + weight[bl] * hi, w - x);
                }
                continue;
            }
            for (int x = 0; x < w; x++) {
                float sx = (float)x * fx;
                int x0 = (int)sx, x1 = x0 + 1 < ws ? x0 + 1 : ws - 1;
                float lx = sx - (float)x0;
                orow[x] = arow[x] + (1.0f - lx) * blend[x0] + lx * blend[x1];
            }
        }
    }
}

/* ------------------------------------------------------------------ loading */

typedef struct {
    const int32_t *p;
    size_t n, at;
    int failed;
    char *err;
    size_t err_size;
    const char *path;
} reader;

static void fail(reader *r, const char *fmt, ...) {
    if (r->failed) return;
    r->failed = 1;
    int used = snprintf(r->err, r->err_size, "%s: bad engine program: ", r->path);
    if (used < 0 || (size_t)used >= r->err_size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + used, r->err_size - (size_t)used, fmt, ap);
    va_end(ap);
}

static int next_int(reader *r, int lo, int hi, const char *what) {
    if (r->failed) return lo;
    if (r->at >= r->n) {
        fail(r, "program ends inside %s", what);
        return lo;
    }
    int v = r->p[r->at++];
    if (v < lo || v > hi) {
        fail(r, "%s = %d outside [%d, %d]", what, v, lo, hi);
        return lo;
    }
    return v;
}

typedef struct {
    int n_buffers, n_planes;
    int *buf_c, *buf_h, *buf_w, *first_plane, *plane_buffer;
    size_t *buf_offset;
    size_t n_weights;
} layout;

static void *keep(lhr_engine *e, size_t bytes) {
    if (e->n_allocs == e->cap_allocs) {
        int cap = e->cap_allocs ? 2 * e->cap_allocs : 256;
        void **grown = realloc(e->allocs, sizeof(void *) * (size_t)cap);
        if (!grown) return NULL;
        e->allocs = grown;
        e->cap_allocs = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (p) e->allocs[e->n_allocs++] = p;
    return p;
}

/* keep() at a 64-byte boundary (the start of a cache line): planes at multiples of 16 floats from it are
 * then read in whole cache lines, where malloc's 16-byte alignment would split every vector load in two. */
static void *keep_aligned(lhr_engine *e, size_t bytes) {
    char *p = keep(e, bytes + 64);
    return p ? p + (64 - (uintptr_t)p % 64) % 64 : NULL;
}

/* A view of `count` planes, each h x w, resolved to pointers. */
static const float **read_view(reader *r, lhr_engine *e, const layout *l, int count, int h, int w, const char *what) {
    int n = next_int(r, 0, l->n_planes, what);
    if (r->failed) return NULL;
    if (n != count) {
        fail(r, "%s lists %d planes, expected %d", what, n, count);
        return NULL;
    }
    const float **v = keep(e, sizeof(float *) * (size_t)(count ? count : 1));
    if (!v) {
        fail(r, "out of memory");
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        int plane = next_int(r, 0, l->n_planes - 1, what);
        if (r->failed) return NULL;
        int b = l->plane_buffer[plane];
        if (l->buf_h[b] != h || l->buf_w[b] != w) {
            fail(r, "%s plane %d is %dx%d, expected %dx%d", what, plane, l->buf_h[b], l->buf_w[b], h, w);
            return NULL;
        }
        v[i] = e->arena + l->buf_offset[b] + (size_t)(plane - l->first_plane[b]) * (size_t)h * (size_t)w;
    }
    return v;
}

static const float *read_weights(reader *r, lhr_engine *e, const layout *l, size_t count, const char *what) {
    int offset = next_int(r, 0, INT32_MAX, what);
    if (r->failed) return NULL;
    if ((size_t)offset + count > l->n_weights) {
        fail(r, "%s reads weights [%d, %zu) beyond the %zu stored", what, offset, (size_t)offset + count, l->n_weights);
        return NULL;
    }
    return e->weights + offset;
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static int planes_overlap(const float **a, int n_a, size_t a_size, const float **b, int n_b, size_t b_size);
static int planes_apart(const float **a, int n, size_t size);

static int read_op(reader *r, lhr_engine *e, const layout *l, engine_op *op) {
    op->kind = next_int(r, OP_CONV, OP_BILINEAR_ADD, "op kind");
    op->act = next_int(r, ACT_NONE, ACT_SIGMOID, "activation");
    op->cin = next_int(r, 1, 1 << 16, "input channels");
    op->cout = next_int(r, 1, 1 << 16, "output channels");
    op->in_h = next_int(r, 1, LHRN_MAX_DIM, "input height");
    op->in_w = next_int(r, 1, LHRN_MAX_DIM, "input width");
    op->out_h = next_int(r, 1, LHRN_MAX_DIM, "output height");
    op->out_w = next_int(r, 1, LHRN_MAX_DIM, "output width");
    if (r->failed) return 0;
    size_t scratch = 0;
    switch (op->kind) {
    case OP_CONV:
        op->kernel = next_int(r, 1, 7, "kernel");
        op->stride = next_int(r, 1, 4, "stride");
        op->pad = next_int(r, 0, 3, "padding");
        if (r->failed) return 0;
        if (op->in_h + 2 * op->pad < op->kernel || op->in_w + 2 * op->pad < op->kernel ||
            op->out_h != (op->in_h + 2 * op->pad - op->kernel) / op->stride + 1 ||
            op->out_w != (op->in_w + 2 * op->pad - op->kernel) / op->stride + 1) {
            fail(r, "conv output size does not follow from its input");
            return 0;
        }
        op->weights = read_weights(r, e, l, (size_t)op->cout * op->cin * op->kernel * op->kernel, "conv weights");
        op->bias = read_weights(r, e, l, (size_t)op->cout, "conv bias");
        op->in = read_view(r, e, l, op->cin, op->in_h, op->in_w, "conv input");
        op->out = read_view(r, e, l, op->cout, op->out_h, op->out_w, "conv output");
        scratch = (size_t)op->cin * op->stride *
                  ((size_t)(op->in_h + 2 * op->pad) * ((op->in_w + 2 * op->pad + op->stride - 1) / op->stride) + 32);
        break;
    case OP_DEPTHWISE:
        op->stride = next_int(r, 1, 2, "stride");
        op->shift = next_int(r, -1, 12, "scale shift");
        if (r->failed) return 0;
        if (op->cin != op->cout || op->out_h != (op->in_h - 1) / op->stride + 1 ||
            op->out_w != (op->in_w - 1) / op->stride + 1) {
            fail(r, "depthwise shapes do not agree");
            return 0;
        }
        op->weights = read_weights(r, e, l, (size_t)op->cin * 9, "depthwise weights");
        op->bias = read_weights(r, e, l, (size_t)op->cin, "depthwise bias");
        op->in = read_view(r, e, l, op->cin, op->in_h, op->in_w, "depthwise input");
        op->out = read_view(r, e, l, op->cout, op->out_h, op->out_w, "depthwise output");
        if (op->shift >= 0) {
            if ((op->in_h >> op->shift) << op->shift != op->in_h || (op->in_w >> op->shift) << op->shift != op->in_w) {
                fail(r, "depthwise scale maps do not tile the input");
                return 0;
            }
            op->aux = read_view(r, e, l, op->cin, op->in_h >> op->shift, op->in_w >> op->shift, "depthwise scales");
        }
        {
            /* depthwise(): the padded plane, the results, the even and odd columns (2 parts of h + 2 rows, or 4
             * of (h + 3) / 2 rows, of pitch / 2 floats and 32 of slack each), 15 + 15 floats of alignment, the
             * scale row; bands: 2 parts (dw_band_part). tests/test_engine.py runs each path alone under ASan. */
            size_t flat = (size_t)(op->in_h + 4) * (size_t)dw_pitch(op->in_w, op->out_w) * 3 + (size_t)op->in_w + 8 * 32;
            size_t rows = 3 * (size_t)((op->in_w + 2 + 15) / 16 * 16 + 16) * 2 + 6 * 16 + (size_t)op->in_w + 32;
            scratch = max_size(max_size(flat, rows), 2 * dw_band_part(op->in_w));
            if (depthwise_path(op) == DW_LANES) {
                size_t maps = op->shift >= 0 ? (size_t)(op->in_h >> op->shift) * (size_t)(op->in_w >> op->shift) : 0;
                size_t pixels = (size_t)(op->in_h + 2) * (op->in_w + 2) + (size_t)op->out_h * op->out_w + 16 + maps;
                scratch = max_size(scratch, 16 * pixels);
            }
        }
        break;
    case OP_POINTWISE:
        if (op->in_h != op->out_h || op->in_w != op->out_w) {
            fail(r, "pointwise output size differs from its input");
            return 0;
        }
        op->weights = read_weights(r, e, l, (size_t)op->cout * op->cin, "pointwise weights");
        op->bias = read_weights(r, e, l, (size_t)op->cout, "pointwise bias");
        op->in = read_view(r, e, l, op->cin, op->in_h, op->in_w, "pointwise input");
        op->out = read_view(r, e, l, op->cout, op->out_h, op->out_w, "pointwise output");
        break;
    case OP_POOL:
        op->kernel = op->out_h ? op->in_h / op->out_h : 0;
        op->pad = op->out_w ? op->in_w / op->out_w : 0;
        if (op->cin != op->cout || op->kernel * op->out_h != op->in_h || op->pad * op->out_w != op->in_w) {
            fail(r, "pool windows do not tile the input");
            return 0;
        }
        op->in = read_view(r, e, l, op->cin, op->in_h, op->in_w, "pool input");
        op->out = read_view(r, e, l, op->cout, op->out_h, op->out_w, "pool output");
        scratch = (size_t)op->out_h * op->in_w + 48;
        break;
    case OP_SCALE:
        if (op->cin != op->cout || op->in_h != op->out_h || op->in_w != op->out_w) {
            fail(r, "scale shapes do not agree");
            return 0;
        }
        op->in = read_view(r, e, l, op->cin, op->in_h, op->in_w, "scale input");
        op->aux = read_view(r, e, l, op->cin, 1, 1, "scale factors");
        op->out = read_view(r, e, l, op->cout, op->out_h, op->out_w, "scale output");
        break;
    case OP_SUM: {
        op->n_terms = next_int(r, 1, 64, "sum terms");
        if (r->failed) return 0;
        int *shifts = keep(e, sizeof(int) * (size_t)op->n_terms);
        float *coefs = keep(e, sizeof(float) * (size_t)op->n_terms);
        const float ***terms = keep(e, sizeof(float **) * (size_t)op->n_terms);
        if (!shifts || !coefs || !terms) {
            fail(r, "out of memory");
            return 0;
        }
        for (int t = 0; t < op->n_terms; t++) {
            shifts[t] = next_int(r, 0, 12, "sum term shift");
            coefs[t] = (float)next_int(r, -16, 16, "sum term coefficient");
            if (r->failed) return 0;
            if ((op->out_h >> shifts[t]) << shifts[t] != op->out_h || (op->out_w >> shifts[t]) << shifts[t] != op->out_w) {
                fail(r, "sum term does not tile the output");
                return 0;
            }
            terms[t] = read_view(r, e, l, op->cout, op->out_h >> shifts[t], op->out_w >> shifts[t], "sum term");
        }
        op->term_shift = shifts;
        op->term_coef = coefs;
        op->term_in = terms;
        op->out = read_view(r, e, l, op->cout, op->out_h, op->out_w, "sum output");
        if (r->failed) return 0;
        /* In place over term 0 (unshifted: each output vector reads its own floats of it first) is the one
         * sharing of memory between a sum's output and its terms that gives the sum. */
        op->in_place = shifts[0] == 0 && op->out[0] == terms[0][0];
        size_t out_plane = (size_t)op->out_h * op->out_w;
        for (int t = 0; t < op->n_terms; t++) {
            size_t plane = (size_t)(op->out_h >> shifts[t]) * (size_t)(op->out_w >> shifts[t]);
            int bad;
            if (op->in_place && t == 0) { /* term 0 is the output, plane for plane, and no plane of it twice */
                bad = 0;
                for (int c = 0; c < op->cout && !bad; c++) bad = op->out[c] != terms[0][c];
                if (!bad) bad = !planes_apart(op->out, op->cout, out_plane);
            } else {
                bad = planes_overlap(op->out, op->cout, out_plane, terms[t], op->cout, plane);
            }
            if (bad) {
                fail(r, "sum output overlaps its term %d (only term 0, unshifted and plane for plane, may be overwritten)", t);
                return 0;
            }
        }
        break;
    }
    case OP_BILINEAR_ADD:
        if (op->cin != op->cout) {
            fail(r, "bilinear add channels differ");
            return 0;
        }
        op->in = read_view(r, e, l, op->cout, op->out_h, op->out_w, "bilinear add input");
        op->aux = read_view(r, e, l, op->cout, op->in_h, op->in_w, "bilinear add source");
        op->out = read_view(r, e, l, op->cout, op->out_h, op->out_w, "bilinear add output");
        scratch = (size_t)op->in_w + 32 + 16 * 4 * ((size_t)op->out_w / 16 + 1);
        break;
    default:
        break;
    }
    if (r->failed) return 0;
    if (scratch > LHRN_MAX_FLOATS) {
        fail(r, "an op needs %zu floats of scratch, more than %d", scratch, LHRN_MAX_FLOATS);
        return 0;
    }
    e->scratch_floats = max_size(e->scratch_floats, scratch);
    return 1;
}

static int by_address(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (const float *const *)a, y = (uintptr_t) * (const float *const *)b;
    return x < y ? -1 : x > y;
}

/* The n plane pointers sorted by address, in memory of their own (free it); NULL when out of memory. */
static const float **sorted_planes(const float **a, int n) {
    const float **sorted = malloc(sizeof(float *) * (size_t)(n ? n : 1));
    if (sorted) {
        memcpy(sorted, a, sizeof(float *) * (size_t)n);
        qsort(sorted, (size_t)n, sizeof(float *), by_address);
    }
    return sorted;
}

/* Whether no two of the n planes a (size floats each) share memory (false when out of memory). */
static int planes_apart(const float **a, int n, size_t size) {
    const float **sorted = sorted_planes(a, n);
    int apart = sorted != NULL;
    for (int i = 0; i + 1 < n && apart; i++) apart = sorted[i] + size <= sorted[i + 1];
    free(sorted);
    return apart;
}

/* Whether any of the n_a planes a (a_size floats each) shares memory with any of the n_b planes b. */
static int planes_overlap(const float **a, int n_a, size_t a_size, const float **b, int n_b, size_t b_size) {
    if ((size_t)n_a * (size_t)n_b <= 4096) {
        for (int i = 0; i < n_a; i++)
            for (int j = 0; j < n_b; j++)
                if (a[i] < b[j] + b_size && b[j] < a[i] + a_size) return 1;
        return 0;
    }
    /* Many planes (a hand-made file can list 65,536): both lists sorted by address, then merged, always
     * advancing past the plane that ends first (all planes of a list have one size). Out of memory counts
     * as an overlap: every caller then takes the safe way (refuses the file, or does not fuse). */
    const float **sa = sorted_planes(a, n_a), **sb = sorted_planes(b, n_b);
    int found = 1;
    if (sa && sb) {
        found = 0;
        for (int i = 0, j = 0; i < n_a && j < n_b && !found;) {
            found = sa[i] < sb[j] + b_size && sb[j] < sa[i] + a_size;
            if ((uintptr_t)(sa[i] + a_size) < (uintptr_t)(sb[j] + b_size)) i++;
            else j++;
        }
    }
    free(sa);
    free(sb);
    return found;
}

/* Whether any of the means (one float each) lies in a plane the depthwise conv reads or writes: then
 * writing them during the conv could change what a later channel reads, so they are not fused. */
static int means_overlap_planes(const engine_op *dw, const float **means) {
    size_t in_size = (size_t)dw->in_h * dw->in_w, out_size = (size_t)dw->out_h * dw->out_w;
    size_t aux_size = dw->aux ? (size_t)(dw->in_h >> dw->shift) * (size_t)(dw->in_w >> dw->shift) : 0;
    return planes_overlap(means, dw->cout, 1, dw->in, dw->cin, in_size) ||
           planes_overlap(means, dw->cout, 1, dw->out, dw->cout, out_size) ||
           (dw->aux && planes_overlap(means, dw->cout, 1, dw->aux, dw->cin, aux_size));
}

/* A sum without activation followed by a ReLU copy of it (row 0 of a fuse layer, whose sum later rows
 * read before the ReLU): the first sum also writes the copy, unless the copy's memory is memory the sum
 * reads or writes. */
static void fuse_relu_copy(engine_op *sum, engine_op *copy) {
    if (sum->kind != OP_SUM || copy->kind != OP_SUM || sum->act != ACT_NONE || copy->n_terms != 1 ||
        copy->term_shift[0] != 0 || copy->term_coef[0] != 1.0f || copy->cout != sum->cout ||
        copy->out_h != sum->out_h || copy->out_w != sum->out_w)
        return;
    for (int c = 0; c < sum->cout; c++)
        if (copy->term_in[0][c] != sum->out[c]) return;
    size_t n = (size_t)sum->out_h * sum->out_w;
    if (planes_overlap(copy->out, copy->cout, n, sum->out, sum->cout, n)) return;
    for (int t = 0; t < sum->n_terms; t++) {
        size_t term = (size_t)(sum->out_h >> sum->term_shift[t]) * (size_t)(sum->out_w >> sum->term_shift[t]);
        if (planes_overlap(copy->out, copy->cout, n, sum->term_in[t], sum->cout, term)) return;
    }
    sum->out2 = copy->out;
    sum->act2 = copy->act;
    copy->fused = 1;
}

/* Depthwise convs right after ops[0] with the same input planes, shape and stride (the fuse layers'
 * stride-2 convs of one branch, which the compiler emits together) run with it, each input plane
 * prepared once, unless an output shares memory with the input or with another output. Returns how
 * many follow ops[0] in its group. */
static int group_depthwise(engine_op *ops, int n_ops) {
    engine_op *a = &ops[0];
    if (a->kind != OP_DEPTHWISE || a->aux || a->means || depthwise_path(a) != DW_FLAT) return 0;
    size_t in_size = (size_t)a->in_h * a->in_w, out_size = (size_t)a->out_h * a->out_w;
    int g = 0;
    while (g + 1 < n_ops && g < 15) {
        engine_op *b = &ops[g + 1];
        if (b->kind != OP_DEPTHWISE || b->aux || b->means || b->stride != a->stride || b->cin != a->cin ||
            b->in_h != a->in_h || b->in_w != a->in_w)
            break;
        int same = 1;
        for (int c = 0; c < a->cin && same; c++) same = b->in[c] == a->in[c];
        if (!same || planes_overlap(b->out, b->cout, out_size, a->in, a->cin, in_size)) break;
        int apart = 1;
        for (int k = 0; k <= g && apart; k++) apart = !planes_overlap(b->out, b->cout, out_size, ops[k].out, ops[k].cout, out_size);
        if (!apart) break;
        g++;
    }
    a->group = g;
    for (int k = 1; k <= g; k++) ops[k].fused = 1;
    return g;
}

static lhr_status parse_program(reader *r, lhr_engine *e, layout *l) {
    l->n_buffers = next_int(r, 1, 1 << 20, "buffer count");
    if (r->failed) return LHR_ERR_BAD_MODEL;
    int nb = l->n_buffers;
    l->buf_c = keep(e, sizeof(int) * (size_t)nb);
    l->buf_h = keep(e, sizeof(int) * (size_t)nb);
    l->buf_w = keep(e, sizeof(int) * (size_t)nb);
    l->first_plane = keep(e, sizeof(int) * (size_t)nb);
    l->buf_offset = keep(e, sizeof(size_t) * (size_t)nb);
    if (!l->buf_c || !l->buf_h || !l->buf_w || !l->first_plane || !l->buf_offset) return LHR_ERR_NO_MEMORY;
    long long planes = 0;
    size_t need = 0;
    for (int b = 0; b < nb; b++) {
        l->buf_c[b] = next_int(r, 1, 1 << 16, "buffer channels");
        l->buf_h[b] = next_int(r, 1, LHRN_MAX_DIM, "buffer height");
        l->buf_w[b] = next_int(r, 1, LHRN_MAX_DIM, "buffer width");
        l->buf_offset[b] = (size_t)next_int(r, 0, INT32_MAX, "buffer offset");
        if (r->failed) return LHR_ERR_BAD_MODEL;
        l->first_plane[b] = (int)planes;
        planes += l->buf_c[b];
        if (planes > (1 << 24)) {
            fail(r, "too many planes");
            return LHR_ERR_BAD_MODEL;
        }
        need = max_size(need, l->buf_offset[b] + (size_t)l->buf_c[b] * l->buf_h[b] * l->buf_w[b]);
    }
    size_t arena = (size_t)next_int(r, 1, LHRN_MAX_FLOATS, "arena size");
    if (r->failed) return LHR_ERR_BAD_MODEL;
    if (need != arena) { /* the exporter writes exactly what the buffers need: no more is allocated */
        fail(r, "buffers need %zu floats, the arena has %zu", need, arena);
        return LHR_ERR_BAD_MODEL;
    }
    l->n_planes = (int)planes;
    l->plane_buffer = keep(e, sizeof(int) * (size_t)(planes ? planes : 1));
    e->arena = keep_aligned(e, sizeof(float) * (arena + 64)); /* slack: kernels read whole vectors past a row */
    if (!l->plane_buffer || !e->arena) return LHR_ERR_NO_MEMORY;
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < l->buf_c[b]; c++) l->plane_buffer[l->first_plane[b] + c] = b;

    int in_b = next_int(r, 0, nb - 1, "input buffer");
    int out_b = next_int(r, 0, nb - 1, "output buffer");
    if (r->failed) return LHR_ERR_BAD_MODEL;
    e->in_c = l->buf_c[in_b], e->in_h = l->buf_h[in_b], e->in_w = l->buf_w[in_b];
    e->out_c = l->buf_c[out_b], e->out_h = l->buf_h[out_b], e->out_w = l->buf_w[out_b];
    e->input_planes = keep(e, sizeof(float *) * (size_t)e->in_c);
    e->output_planes = keep(e, sizeof(float *) * (size_t)e->out_c);
    if (!e->input_planes || !e->output_planes) return LHR_ERR_NO_MEMORY;
    for (int c = 0; c < e->in_c; c++) e->input_planes[c] = e->arena + l->buf_offset[in_b] + (size_t)c * e->in_h * e->in_w;
    for (int c = 0; c < e->out_c; c++)
        e->output_planes[c] = e->arena + l->buf_offset[out_b] + (size_t)c * e->out_h * e->out_w;

    e->n_ops = next_int(r, 1, 1 << 20, "op count");
    if (r->failed) return LHR_ERR_BAD_MODEL;
    e->ops = keep(e, sizeof(engine_op) * (size_t)e->n_ops);
    if (!e->ops) return LHR_ERR_NO_MEMORY;
    for (int i = 0; i < e->n_ops; i++) {
        if (!read_op(r, e, l, &e->ops[i])) {
            if (!r->failed) fail(r, "op %d is malformed", i);
            return LHR_ERR_BAD_MODEL;
        }
    }
    if (r->at != r->n) {
        fail(r, "%zu unread values after the last op", r->n - r->at);
        return LHR_ERR_BAD_MODEL;
    }
    /* A global mean of a depthwise conv's output right after it (spatial weighting) is computed by
     * the conv while each plane is still in cache. */
    for (int i = 0; i + 1 < e->n_ops; i++) {
        engine_op *dw = &e->ops[i], *mean = &e->ops[i + 1];
        if (dw->kind != OP_DEPTHWISE || mean->kind != OP_POOL || mean->out_h != 1 || mean->out_w != 1 ||
            mean->cin != dw->cout || mean->in_h != dw->out_h || mean->in_w != dw->out_w)
            continue;
        int same = 1;
        for (int c = 0; c < dw->cout && same; c++) same = mean->in[c] == dw->out[c];
        if (same && !means_overlap_planes(dw, mean->out)) {
            dw->means = mean->out;
            mean->fused = 1;
        }
    }
    for (int i = 0; i + 1 < e->n_ops; i++) fuse_relu_copy(&e->ops[i], &e->ops[i + 1]);
    for (int i = 0; i + 1 < e->n_ops; i++) i += group_depthwise(e->ops + i, e->n_ops - i);
    size_t conv_rows = 0;
    for (int i = 0; i < e->n_ops; i++)
        if (e->ops[i].kind == OP_CONV)
            conv_rows = max_size(conv_rows, (size_t)e->ops[i].cin * e->ops[i].kernel * e->ops[i].kernel + e->ops[i].cout);
    e->scratch_floats = (e->scratch_floats + 15) / 16 * 16; /* keeps the row pointers after it aligned */
    e->scratch = keep_aligned(e, sizeof(float) * (e->scratch_floats + 64) + sizeof(float *) * conv_rows);
    if (!e->scratch) return LHR_ERR_NO_MEMORY;
    return LHR_OK;
}

void lhr_engine_close(lhr_engine *engine) {
    if (!engine) return;
    for (int i = 0; i < engine->n_allocs; i++) free(engine->allocs[i]);
    free(engine->allocs);
    free(engine->weights);
    free(engine->metadata);
    free(engine);
}

static lhr_status open_error(char *errbuf, size_t errbuf_size, lhr_status status, const char *fmt, const char *path,
                             const char *detail) {
    if (errbuf && errbuf_size) snprintf(errbuf, errbuf_size, fmt, path, detail);
    return status;
}

lhr_status lhr_engine_open(const char *path, lhr_engine **engine, char *errbuf, size_t errbuf_size) {
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!engine) return open_error(errbuf, errbuf_size, LHR_ERR_INVALID_ARGUMENT, "%s%s", "engine", " is NULL");
    *engine = NULL;
    if (!path) return open_error(errbuf, errbuf_size, LHR_ERR_INVALID_ARGUMENT, "%s%s", "path", " is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return open_error(errbuf, errbuf_size, LHR_ERR_IO, "%s: %s", path, "cannot open the file");
    char magic[8];
    uint32_t counts[3];
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, LHRN_MAGIC, 8) != 0 || fread(counts, 4, 3, f) != 3) {
        fclose(f);
        return open_error(errbuf, errbuf_size, LHR_ERR_BAD_MODEL, "%s: %s", path, "not a lite-hrnet engine program (.lhrn)");
    }
    /* The header's counts must add up to the file's size before anything is allocated by them. */
    long file_size = -1;
    if (fseek(f, 0, SEEK_END) == 0) file_size = ftell(f);
    unsigned long long expected = 20ull + 4ull * counts[0] + 4ull * counts[1] + (unsigned long long)counts[2];
    if (file_size < 0 || fseek(f, 20, SEEK_SET) != 0) {
        fclose(f);
        return open_error(errbuf, errbuf_size, LHR_ERR_IO, "%s: %s", path, "cannot read the file");
    }
    if ((unsigned long long)file_size != expected) {
        fclose(f);
        return open_error(errbuf, errbuf_size, LHR_ERR_BAD_MODEL, "%s: %s", path,
                          (unsigned long long)file_size < expected ? "the file is truncated"
                                                                   : "the file has bytes after its metadata");
    }
    lhr_engine *e = calloc(1, sizeof(*e));
    int32_t *program = malloc(sizeof(int32_t) * (counts[0] ? counts[0] : 1));
    if (e) e->weights = malloc(sizeof(float) * (counts[1] ? counts[1] : 1));
    if (e) e->metadata = malloc((size_t)counts[2] + 1);
    if (!e || !program || !e->weights || !e->metadata) {
        fclose(f);
        free(program);
        lhr_engine_close(e);
        return open_error(errbuf, errbuf_size, LHR_ERR_NO_MEMORY, "%s: %s", path, "out of memory");
    }
    int complete = fread(program, 4, counts[0], f) == counts[0] && fread(e->weights, 4, counts[1], f) == counts[1] &&
                   fread(e->metadata, 1, counts[2], f) == counts[2];
    fclose(f);
    if (!complete) {
        free(program);
        lhr_engine_close(e);
        return open_error(errbuf, errbuf_size, LHR_ERR_BAD_MODEL, "%s: %s", path, "the file is truncated");
    }
    e->metadata[counts[2]] = '\0';
    char local_err[LHR_ERROR_SIZE];
    reader r = {program, counts[0], 0, 0, errbuf && errbuf_size ? errbuf : local_err,
                errbuf && errbuf_size ? errbuf_size : sizeof local_err, path};
    layout l = {0};
    l.n_weights = counts[1];
    lhr_status status = parse_program(&r, e, &l);
    free(program);
    if (status == LHR_ERR_NO_MEMORY && !r.failed) fail(&r, "out of memory");
    if (status != LHR_OK) {
        lhr_engine_close(e);
        return status;
    }
    *engine = e;
    return LHR_OK;
}

void lhr_engine_input_shape(const lhr_engine *engine, int *channels, int *height, int *width) {
    if (channels) *channels = engine ? engine->in_c : 0;
    if (height) *height = engine ? engine->in_h : 0;
    if (width) *width = engine ? engine->in_w : 0;
}

void lhr_engine_output_shape(const lhr_engine *engine, int *channels, int *height, int *width) {
    if (channels) *channels = engine ? engine->out_c : 0;
    if (height) *height = engine ? engine->out_h : 0;
    if (width) *width = engine ? engine->out_w : 0;
}

const char *lhr_engine_metadata_json(const lhr_engine *engine) {
    return engine && engine->metadata && engine->metadata[0] ? engine->metadata : "{}";
}

static void run_op(lhr_engine *engine, const engine_op *op) {
    float *scratch = engine->scratch;
    const float **rows = (const float **)(void *)(scratch + engine->scratch_floats + 64);
    if (op->fused) return; /* the op before it did its work (see `fused`) */
    switch (op->kind) {
    case OP_CONV: conv_dense(op, scratch, rows); break;
    case OP_DEPTHWISE: depthwise(op, scratch); break;
    case OP_POINTWISE: pointwise(op->weights, op->bias, op->in, op->out, op->cin, op->cout, op->in_h * op->in_w, op->act); break;
    case OP_POOL: pool(op, scratch); break;
    case OP_SCALE: scale_channels(op); break;
    case OP_SUM: sum_terms(op); break;
    case OP_BILINEAR_ADD: bilinear_add(op, scratch); break;
    default: break;
    }
}

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Subnormal floats (below 1.2e-38: a sigmoid far in its tail, products of such values) cost a
 * microcode assist per operation on x86, slowing a run by a third on some inputs. A run treats values
 * below 1.2e-38 as zero (in and out of each operation) and restores the caller's mode afterwards. */
typedef struct {
    unsigned long long saved;
} float_mode;

static float_mode flush_subnormals(void) {
    float_mode m = {0};
#if defined(__x86_64__) || defined(__i386__)
    m.saved = _mm_getcsr();
    _mm_setcsr((unsigned int)m.saved | 0x8040u); /* FTZ | DAZ */
#elif defined(__aarch64__)
    unsigned long long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    m.saved = fpcr;
    fpcr |= 1ull << 24; /* FZ */
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
#endif
    return m;
}

static void restore_float_mode(float_mode m) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr((unsigned int)m.saved);
#elif defined(__aarch64__)
    __asm__ volatile("msr fpcr, %0" : : "r"(m.saved));
#else
    (void)m;
#endif
}

lhr_status lhr_engine_run_profiled(lhr_engine *engine, const float *input, float *output, double *op_seconds) {
    if (!engine || !input || !output) return LHR_ERR_INVALID_ARGUMENT;
    float_mode mode = flush_subnormals();
    size_t in_plane = (size_t)engine->in_h * engine->in_w, out_plane = (size_t)engine->out_h * engine->out_w;
    for (int c = 0; c < engine->in_c; c++) memcpy(engine->input_planes[c], input + c * in_plane, sizeof(float) * in_plane);
    for (int i = 0; i < engine->n_ops; i++) {
        double start = op_seconds ? seconds_now() : 0.0;
        run_op(engine, &engine->ops[i]);
        if (op_seconds) op_seconds[i] = seconds_now() - start;
    }
    for (int c = 0; c < engine->out_c; c++) memcpy(output + c * out_plane, engine->output_planes[c], sizeof(float) * out_plane);
    restore_float_mode(mode);
    return LHR_OK;
}

lhr_status lhr_engine_run(lhr_engine *engine, const float *input, float *output) {
    return lhr_engine_run_profiled(engine, input, output, NULL);
}

int lhr_engine_num_ops(const lhr_engine *engine) { return engine ? engine->n_ops : 0; }

const char *lhr_engine_op_kind(const lhr_engine *engine, int op) {
    static const char *const names[] = {"", "conv", "depthwise", "pointwise", "pool", "scale", "sum", "bilinear_add"};
    if (!engine || op < 0 || op >= engine->n_ops) return NULL;
    return names[engine->ops[op].kind];
}

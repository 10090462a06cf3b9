/*
 * Top-down crop geometry and heatmap decoding, copied from lite_hrnet.geometry / lite_hrnet.codec.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lhr_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif
/* x86-64 with GCC or Clang: AVX2 loops as well, used where the CPU has AVX2 (lhr_simd);
 * -DLHR_AVX2=0 leaves them out. */
#ifndef LHR_AVX2
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LHR_AVX2 1
#else
#define LHR_AVX2 0
#endif
#endif
#if LHR_AVX2
#include <immintrin.h>
#endif

void lhr_set_error(char *buf, size_t size, const char *fmt, ...) {
    if (buf == NULL || size == 0) return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, size, fmt, args);
    va_end(args);
}

double lhr_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void lhr_box_to_center_scale(const float box[4], double aspect_ratio, double padding, float center[2],
                             float scale[2]) {
    double x1 = box[0], y1 = box[1], x2 = box[2], y2 = box[3];
    double w = x2 - x1, h = y2 - y1;
    center[0] = (float)(x1 + 0.5 * w);
    center[1] = (float)(y1 + 0.5 * h);
    if (w > aspect_ratio * h) {
        h = w / aspect_ratio;
    } else if (w < aspect_ratio * h) {
        w = h * aspect_ratio;
    }
    scale[0] = (float)(w * padding);
    scale[1] = (float)(h * padding);
}

void lhr_crop_matrix(const float center[2], const float scale[2], int out_h, int out_w, double m[6]) {
    double sx = (double)out_w / (double)scale[0];
    double sy = (double)out_h / (double)scale[1];
    m[0] = sx;
    m[1] = 0.0;
    m[2] = out_w * 0.5 - (double)center[0] * sx;
    m[3] = 0.0;
    m[4] = sy;
    m[5] = out_h * 0.5 - (double)center[1] * sy;
}

void lhr_invert_affine(const double m[6], double inv[6]) {
    double det = m[0] * m[4] - m[1] * m[3];
    det = det != 0.0 ? 1.0 / det : 0.0;
    inv[0] = m[4] * det;
    inv[1] = -m[1] * det;
    inv[3] = -m[3] * det;
    inv[4] = m[0] * det;
    inv[2] = -inv[0] * m[2] - inv[1] * m[5];
    inv[5] = -inv[3] * m[2] - inv[4] * m[5];
}

/* Clamp a source coordinate into a range where the integer part fits an int and the outcome
 * (all neighbours outside the image, hence 0) is unchanged. NaN goes outside too. */
static inline float clamp_coord(float v, int size) {
    if (!(v >= -2.0f)) return -2.0f;
    if (v > (float)size + 1.0f) return (float)size + 1.0f;
    return v;
}

/* floor() of a clamped coordinate, without a libm call. */
static inline int floor_int(float v) {
    int i = (int)v;
    return (float)i > v ? i - 1 : i;
}

/* Round half to even (cvRound) for 0 <= v < 2^22 under the default rounding mode, without a libm call. */
static inline int round_even(float v) {
    /* 1.5 * 2^23: adding it leaves v rounded to an integer in the mantissa (IEEE float32
     * arithmetic, which C11 without -ffast-math keeps: no folding of (v + M) - M) */
    const float magic = 12582912.0f;
    float r = (v + magic) - magic;
    int i = (int)r;
    return i < 0 ? 0 : (i > 255 ? 255 : i);
}

/* Where one output column (or row) samples the source: the integer position, the weight of the
 * next pixel, and whether the two neighbours are inside the image. */
typedef struct {
    int i0;
    float frac;
    unsigned char in0, in1;
} sample_pos;

static inline sample_pos locate(float v, int size) {
    sample_pos p;
    v = clamp_coord(v, size);
    p.i0 = floor_int(v);
    p.frac = v - (float)p.i0;
    p.in0 = p.i0 >= 0 && p.i0 < size;
    p.in1 = p.i0 + 1 >= 0 && p.i0 + 1 < size;
    return p;
}

/* One output pixel from its source position: 3 rounded channel values. OpenCV 4.11+ / 5
 * interpolates in float32 in this order (lerp along x, then along y); doing the same gives
 * identical crops. */
static inline void sample(const uint8_t *src, int row_stride, int channels, int s0, int s1, int s2, sample_pos px,
                          sample_pos py, int out[3]) {
    const int s[3] = {s0, s1, s2};
    if (px.in0 && px.in1 && py.in0 && py.in1) {
        const uint8_t *a = src + (size_t)py.i0 * (size_t)row_stride + (size_t)px.i0 * (size_t)channels;
        const uint8_t *b = a + row_stride;
        for (int c = 0; c < 3; ++c) {
            float p00 = a[s[c]], p01 = a[channels + s[c]], p10 = b[s[c]], p11 = b[channels + s[c]];
            float v0 = p00 + px.frac * (p01 - p00);
            float v1 = p10 + px.frac * (p11 - p10);
            out[c] = round_even(v0 + py.frac * (v1 - v0));
        }
        return;
    }
    const uint8_t *r0 = py.in0 ? src + (size_t)py.i0 * (size_t)row_stride : NULL;
    const uint8_t *r1 = py.in1 ? src + (size_t)(py.i0 + 1) * (size_t)row_stride : NULL;
    const size_t c0 = (size_t)px.i0 * (size_t)channels, c1 = c0 + (size_t)channels;
    for (int c = 0; c < 3; ++c) {
        float p00 = (r0 && px.in0) ? r0[c0 + s[c]] : 0.0f, p01 = (r0 && px.in1) ? r0[c1 + s[c]] : 0.0f;
        float p10 = (r1 && px.in0) ? r1[c0 + s[c]] : 0.0f, p11 = (r1 && px.in1) ? r1[c1 + s[c]] : 0.0f;
        float v0 = p00 + px.frac * (p01 - p00);
        float v1 = p10 + px.frac * (p11 - p10);
        out[c] = round_even(v0 + py.frac * (v1 - v0));
    }
}

typedef float lhr_v4f __attribute__((vector_size(16)));
typedef int32_t lhr_v4i __attribute__((vector_size(16)));

/* Lanes 2, 1, 0, 3 of a vector: RGB <-> BGR. */
#if defined(__clang__)
#define LHR_REVERSE3(v) __builtin_shufflevector((v), (v), 2, 1, 0, 3)
#else
#define LHR_REVERSE3(v) __builtin_shuffle((v), (lhr_v4i){2, 1, 0, 3})
#endif

/* Bytes read at a time from a column's left neighbour in horizontal_row (channels is 3 or 4):
 * 8 with SSE2, else 4 from each neighbour. */
#if defined(__SSE2__)
#define LHR_WIDE_READ 8u
#else
#define LHR_WIDE_READ ((size_t)channels + 4u)
#endif

/* Bytes p[0..3] as 4 floats (SSE2 on x86-64, NEON on arm64: both are in every CPU of those targets). */
static inline lhr_v4f load_u8x4(const uint8_t *p) {
    int32_t word;
    memcpy(&word, p, sizeof word);
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    const __m128i v = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(word), zero), zero);
    return (lhr_v4f)_mm_cvtepi32_ps(v);
#elif defined(__ARM_NEON)
    const uint8x8_t b = vreinterpret_u8_u32(vdup_n_u32((uint32_t)word));
    return (lhr_v4f)vcvtq_f32_u32(vmovl_u16(vget_low_u16(vmovl_u8(b))));
#else
    uint8_t b[4];
    memcpy(b, &word, sizeof b);
    return (lhr_v4f){b[0], b[1], b[2], b[3]};
#endif
}

/* The 4 lanes of `r` (integers 0..255 held as floats) as 4 bytes, lane 0 first in memory. */
static inline void store_u8x4(uint8_t *dst, lhr_v4f r) {
#if defined(__SSE2__)
    __m128i v = _mm_cvttps_epi32((__m128)r);
    v = _mm_packus_epi16(_mm_packs_epi32(v, v), v);
    const int32_t word = _mm_cvtsi128_si32(v);
#elif defined(__ARM_NEON)
    const uint16x4_t h = vmovn_u32(vcvtq_u32_f32((float32x4_t)r));
    const uint32_t word = vget_lane_u32(vreinterpret_u32_u8(vmovn_u16(vcombine_u16(h, h))), 0);
#else
    const uint8_t word[4] = {(uint8_t)r[0], (uint8_t)r[1], (uint8_t)r[2], (uint8_t)r[3]};
#endif
    memcpy(dst, &word, 4);
}

/* Bytes p[0..channels-1] as floats, lanes past `channels` 0: where 4 bytes cannot be read. */
static inline lhr_v4f load_pixel(const uint8_t *p, int channels) {
    return (lhr_v4f){p[0], p[1], p[2], channels > 3 ? p[3] : 0.0f};
}

enum { ORDER_SAME, ORDER_REVERSED, ORDER_OTHER };

/* Where and how the warp writes: 8-bit crop (u8) or normalized floats (f, interleaved or planar). */
typedef struct {
    uint8_t *u8;
    float *f;
    int planar;
    size_t plane;          /* out_h * out_w */
    int s[3];              /* source channel of output channel c */
    int order;             /* s is 0,1,2 (ORDER_SAME), 2,1,0 (ORDER_REVERSED) or something else */
    float mean[3], std[3]; /* per output channel */
    lhr_v4f mean_v, std_v; /* per source lane (SAME / REVERSED); lane 3: 0 and 1 */
    int avx2;              /* take the AVX2 loops */
} warp_out;

/* Pixel i from its 3 rounded values (output channel order). */
static inline void put_scalar(const warp_out *o, size_t i, const int v[3]) {
    if (o->u8 != NULL) {
        o->u8[3 * i] = (uint8_t)v[0];
        o->u8[3 * i + 1] = (uint8_t)v[1];
        o->u8[3 * i + 2] = (uint8_t)v[2];
        return;
    }
    for (int c = 0; c < 3; ++c) {
        /* the arithmetic of normalize_crops: (float(u) - mean) / std in float32 */
        const float n = ((float)v[c] - o->mean[c]) / o->std[c];
        if (o->planar) o->f[(size_t)c * o->plane + i] = n;
        else o->f[3 * i + c] = n;
    }
}

#if LHR_AVX2
/* AVX2 versions of the hot loops, two columns per instruction: the same float32 operations lane by
 * lane, hence the same results. Chosen at run time (lhr_simd), so the library still runs on any
 * x86-64. */

/* horizontal_row's wide columns x0..x1-1, pairs only; returns the first column not done. */
__attribute__((target("avx2"))) static int horizontal_pairs_avx2(const uint8_t *line, const size_t *restrict offset,
                                                                  const lhr_v4f *restrict fx, int channels, int x0,
                                                                  int x1, lhr_v4f *restrict out) {
    /* from the 8 bytes of column x then those of x + 1: the left neighbours' 4 bytes of both, then the right ones' */
    const __m128i left = _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i right = channels == 3 ? _mm_setr_epi8(3, 4, 5, 6, 11, 12, 13, 14, 0, 0, 0, 0, 0, 0, 0, 0)
                                        : _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0);
    int x = x0;
    for (; x + 1 < x1; x += 2) {
        const __m128i a = _mm_loadl_epi64((const __m128i *)(const void *)(line + offset[x]));
        const __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(line + offset[x + 1]));
        const __m128i ab = _mm_unpacklo_epi64(a, b);
        const __m256 p0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_shuffle_epi8(ab, left)));
        const __m256 p1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_shuffle_epi8(ab, right)));
        const __m256 f = _mm256_loadu_ps((const float *)(fx + x));
        _mm256_storeu_ps((float *)(out + x), _mm256_add_ps(p0, _mm256_mul_ps(f, _mm256_sub_ps(p1, p0))));
    }
    return x;
}

/* vertical_row for 8-bit and interleaved float output in the same or reversed channel order, pairs
 * of pixels, leaving at least the row's last pixel; returns the first column not done. */
__attribute__((target("avx2"))) static int vertical_pairs_avx2(const warp_out *o, const lhr_v4f *restrict h0,
                                                                const lhr_v4f *restrict h1, float fy, int out_w,
                                                                size_t row) {
    if (o->order == ORDER_OTHER || o->planar) return 0;
    const __m256 fyv = _mm256_set1_ps(fy), magic = _mm256_set1_ps(12582912.0f);
    const int reversed = o->order == ORDER_REVERSED;
    int x = 0;
#define LHR_ROUNDED8(x)                                                                                     \
    _mm256_sub_ps(_mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps((const float *)(h0 + (x))),                 \
                                              _mm256_mul_ps(fyv, _mm256_sub_ps(_mm256_loadu_ps(           \
                                                                                   (const float *)(h1 + (x))), \
                                                                               _mm256_loadu_ps(           \
                                                                                   (const float *)(h0 + (x)))))), \
                                magic),                                                                     \
                  magic)
    if (o->u8 != NULL) {
        uint8_t *dst = o->u8 + 3 * row;
        for (; x + 2 < out_w; x += 2) {
            __m256 r = LHR_ROUNDED8(x);
            if (reversed) r = _mm256_permute_ps(r, _MM_SHUFFLE(3, 0, 1, 2));
            store_u8x4(dst + 3 * (size_t)x, (lhr_v4f)_mm256_castps256_ps128(r));
            store_u8x4(dst + 3 * (size_t)x + 3, (lhr_v4f)_mm256_extractf128_ps(r, 1));
        }
        return x;
    }
    float *dst = o->f + 3 * row;
    const __m256 mean = _mm256_broadcast_ps((const __m128 *)&o->mean_v);
    const __m256 std = _mm256_broadcast_ps((const __m128 *)&o->std_v);
    for (; x + 2 < out_w; x += 2) {
        __m256 n = _mm256_div_ps(_mm256_sub_ps(LHR_ROUNDED8(x), mean), std);
        if (reversed) n = _mm256_permute_ps(n, _MM_SHUFFLE(3, 0, 1, 2));
        _mm_storeu_ps(dst + 3 * (size_t)x, _mm256_castps256_ps128(n));
        _mm_storeu_ps(dst + 3 * (size_t)x + 3, _mm256_extractf128_ps(n, 1));
    }
#undef LHR_ROUNDED8
    return x;
}
#endif

/* Output row `row` (out_w pixels) from the horizontal lerps h0 (source row y0) and h1 (y0 + 1) of
 * each column, fy the weight of h1: v = h0 + fy (h1 - h0) rounded half to even, lane by lane in
 * float32 (no clamp needed: both lerps are weighted means of 0..255), from column x_start on.
 * Interleaved stores write 4 lanes, the 4th overwritten by the next pixel; the row's last pixel
 * writes 3. */
static void vertical_row(const warp_out *o, const lhr_v4f *restrict h0, const lhr_v4f *restrict h1, float fy,
                         int x_start, int out_w, size_t row) {
    const lhr_v4f fyv = {fy, fy, fy, fy};
    const lhr_v4f magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f}; /* 1.5 * 2^23, see round_even */
    const int last = out_w - 1;
#define LHR_ROUNDED(x) (((h0[x] + fyv * (h1[x] - h0[x])) + magic) - magic)
    if (o->order == ORDER_OTHER) {
        for (int x = x_start; x < out_w; ++x) {
            const lhr_v4f r = LHR_ROUNDED(x);
            const int v[3] = {(int)r[o->s[0]], (int)r[o->s[1]], (int)r[o->s[2]]};
            put_scalar(o, row + (size_t)x, v);
        }
    } else if (o->u8 != NULL) {
        uint8_t *dst = o->u8 + 3 * row;
        uint8_t tail[4];
        for (int x = x_start; x < out_w; ++x) {
            lhr_v4f r = LHR_ROUNDED(x);
            if (o->order == ORDER_REVERSED) r = LHR_REVERSE3(r);
            store_u8x4(x < last ? dst + 3 * (size_t)x : tail, r);
        }
        memcpy(dst + 3 * (size_t)last, tail, 3);
    } else if (!o->planar) {
        float *dst = o->f + 3 * row;
        float tail[4];
        for (int x = x_start; x < out_w; ++x) {
            lhr_v4f n = (LHR_ROUNDED(x) - o->mean_v) / o->std_v;
            if (o->order == ORDER_REVERSED) n = LHR_REVERSE3(n);
            memcpy(x < last ? dst + 3 * (size_t)x : tail, &n, sizeof n);
        }
        memcpy(dst + 3 * (size_t)last, tail, 3 * sizeof(float));
    } else {
        float *d0 = o->f + row, *d1 = d0 + o->plane, *d2 = d1 + o->plane;
        for (int x = x_start; x < out_w; ++x) {
            lhr_v4f n = (LHR_ROUNDED(x) - o->mean_v) / o->std_v;
            if (o->order == ORDER_REVERSED) n = LHR_REVERSE3(n);
            d0[x] = n[0];
            d1[x] = n[1];
            d2[x] = n[2];
        }
    }
#undef LHR_ROUNDED
}

/* Horizontal lerps p0 + fx (p1 - p0) of one source row (inside the image) at every output column,
 * a neighbour outside the row counting 0 as in `sample`. Columns x_lo..x_hi-1 have both neighbours
 * inside; among them, those from `wide_end` on read byte by byte (LHR_WIDE_READ bytes there could
 * pass the end of the image). */
static void horizontal_row(const uint8_t *line, const sample_pos *restrict cols, const size_t *restrict offset,
                           const lhr_v4f *restrict fx, int channels, int out_w, int x_lo, int x_hi, int wide_end,
                           int avx2, lhr_v4f *restrict out) {
    const lhr_v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
    const int mid = wide_end < x_lo ? x_lo : (wide_end > x_hi ? x_hi : wide_end);
    int x_wide = x_lo;
#if LHR_AVX2
    if (avx2) x_wide = horizontal_pairs_avx2(line, offset, fx, channels, x_lo, mid, out);
#endif
#if defined(__SSE2__)
    /* both neighbours from one 8-byte read */
    const __m128i z = _mm_setzero_si128();
    if (channels == 3) {
        for (int x = x_wide; x < mid; ++x) {
            const __m128i w = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)(line + offset[x])), z);
            const lhr_v4f p0 = (lhr_v4f)_mm_cvtepi32_ps(_mm_unpacklo_epi16(w, z));
            const lhr_v4f p1 = (lhr_v4f)_mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_srli_si128(w, 6), z));
            out[x] = p0 + fx[x] * (p1 - p0);
        }
    } else {
        for (int x = x_wide; x < mid; ++x) {
            const __m128i w = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)(line + offset[x])), z);
            const lhr_v4f p0 = (lhr_v4f)_mm_cvtepi32_ps(_mm_unpacklo_epi16(w, z));
            const lhr_v4f p1 = (lhr_v4f)_mm_cvtepi32_ps(_mm_unpackhi_epi16(w, z));
            out[x] = p0 + fx[x] * (p1 - p0);
        }
    }
#else
    for (int x = x_wide; x < mid; ++x) {
        const uint8_t *p = line + offset[x];
        const lhr_v4f p0 = load_u8x4(p), p1 = load_u8x4(p + channels);
        out[x] = p0 + fx[x] * (p1 - p0);
    }
#endif
    for (int x = mid; x < x_hi; ++x) {
        const uint8_t *p = line + offset[x];
        const lhr_v4f p0 = load_pixel(p, channels), p1 = load_pixel(p + channels, channels);
        out[x] = p0 + fx[x] * (p1 - p0);
    }
    for (int x = 0; x < out_w; ++x) {
        if (x == x_lo) x = x_hi;
        if (x >= out_w) break;
        const sample_pos px = cols[x];
        const lhr_v4f p0 = px.in0 ? load_pixel(line + (size_t)px.i0 * (size_t)channels, channels) : zero;
        const lhr_v4f p1 = px.in1 ? load_pixel(line + (size_t)(px.i0 + 1) * (size_t)channels, channels) : zero;
        out[x] = p0 + fx[x] * (p1 - p0);
    }
}

/* The warp of a box crop, whose matrix has no rotation (x depends on the column only, y on the row
 * only): per column, the source position once; per source row, the horizontal lerps of every column
 * once, reused by the output rows that need that row (a row outside the image lerps to 0); per output
 * row, the vertical lerp. The float32 operations and their order are those of `sample`, so the result
 * is the same. Returns 0, or -1 when out of memory (the caller takes the general path). */
static int warp_axis_aligned(const uint8_t *src, int width, int height, int row_stride, int channels, float a,
                             float b, float c, float d, float e, float f, int out_w, int out_h, const warp_out *o) {
    const size_t n = (size_t)out_w;
    /* one block: 2 rows of lerps, a row of zeros, the column weights (16-byte aligned by malloc),
     * then the byte offsets and positions of the columns */
    unsigned char *block = malloc(n * (4 * sizeof(lhr_v4f) + sizeof(size_t) + sizeof(sample_pos)));
    if (block == NULL) return -1;
    lhr_v4f *held[2] = {(lhr_v4f *)block, (lhr_v4f *)block + n};
    lhr_v4f *zeros = (lhr_v4f *)block + 2 * n, *fx = (lhr_v4f *)block + 3 * n;
    size_t *offset = (size_t *)(block + 4 * n * sizeof(lhr_v4f));
    sample_pos *cols = (sample_pos *)(block + n * (4 * sizeof(lhr_v4f) + sizeof(size_t)));
    memset(zeros, 0, n * sizeof *zeros);
    int x_lo = out_w, x_hi = 0;
    for (int x = 0; x < out_w; ++x) {
        /* a * x + 0 + c is exactly a * x + c: the positions equal the general path's */
        cols[x] = locate(a * (float)x + b * 0.0f + c, width);
        if (cols[x].in0 && cols[x].in1) {
            if (x < x_lo) x_lo = x;
            x_hi = x + 1;
        }
        offset[x] = (size_t)(cols[x].i0 > 0 ? cols[x].i0 : 0) * (size_t)channels;
        fx[x] = (lhr_v4f){cols[x].frac, cols[x].frac, cols[x].frac, cols[x].frac};
    }
    /* the inside columns are one span when x grows with the column; otherwise all take the border path */
    int span = a > 0.0f;
    for (int x = x_lo; x < x_hi; ++x) span &= cols[x].in0 && cols[x].in1;
    if (!span) x_lo = x_hi = 0;
    /* On the last source row, a wide read may pass the image's last byte. */
    const size_t last_row_bytes = (size_t)width * (size_t)channels;
    int wide_end_last = x_lo;
    while (wide_end_last < x_hi && offset[wide_end_last] + LHR_WIDE_READ <= last_row_bytes) ++wide_end_last;

    int held_row[2] = {-1, -1};
    for (int y = 0; y < out_h; ++y) {
        const sample_pos py = locate(d * 0.0f + e * (float)y + f, height);
        const lhr_v4f *h[2];
        for (int want = 0; want < 2; ++want) {
            const int r = py.i0 + want;
            if (!(want ? py.in1 : py.in0)) {
                h[want] = zeros;
                continue;
            }
            int slot = held_row[0] == r ? 0 : (held_row[1] == r ? 1 : -1);
            if (slot < 0) { /* compute it into the slot that does not hold the other row needed */
                slot = held_row[0] == py.i0 + 1 - want ? 1 : 0;
                horizontal_row(src + (size_t)r * (size_t)row_stride, cols, offset, fx, channels, out_w, x_lo, x_hi,
                               r == height - 1 ? wide_end_last : x_hi, o->avx2, held[slot]);
                held_row[slot] = r;
            }
            h[want] = held[slot];
        }
        int done = 0;
#if LHR_AVX2
        if (o->avx2) done = vertical_pairs_avx2(o, h[0], h[1], py.frac, out_w, (size_t)y * n);
#endif
        vertical_row(o, h[0], h[1], py.frac, done, out_w, (size_t)y * n);
    }
    free(block);
    return 0;
}

/* The warp behind lhr_warp_bilinear and lhr_warp_normalize. */
static void warp(const uint8_t *src, int width, int height, int row_stride, int channels, const double m[6],
                 int out_w, int out_h, const warp_out *o) {
    double inv[6];
    lhr_invert_affine(m, inv);
    const float a = (float)inv[0], b = (float)inv[1], c = (float)inv[2];
    const float d = (float)inv[3], e = (float)inv[4], f = (float)inv[5];
    if (b == 0.0f && d == 0.0f &&
        warp_axis_aligned(src, width, height, row_stride, channels, a, b, c, d, e, f, out_w, out_h, o) == 0)
        return;
    const int s0 = o->s[0], s1 = o->s[1], s2 = o->s[2];
    int v[3];
    for (int y = 0; y < out_h; ++y) {
        const float by = b * (float)y, ey = e * (float)y;
        const size_t row = (size_t)y * (size_t)out_w;
        for (int x = 0; x < out_w; ++x) {
            sample(src, row_stride, channels, s0, s1, s2, locate(a * (float)x + by + c, width),
                   locate(d * (float)x + ey + f, height), v);
            put_scalar(o, row + (size_t)x, v);
        }
    }
}

static warp_out make_out(const int channel_map[3], int out_w, int out_h, lhr_simd simd) {
    warp_out o;
    memset(&o, 0, sizeof o);
#if LHR_AVX2
    o.avx2 = simd == LHR_SIMD_BEST && __builtin_cpu_supports("avx2");
#else
    (void)simd;
#endif
    o.plane = (size_t)out_w * (size_t)out_h;
    for (int ch = 0; ch < 3; ++ch) o.s[ch] = channel_map[ch];
    o.order = (o.s[0] == 0 && o.s[1] == 1 && o.s[2] == 2)   ? ORDER_SAME
              : (o.s[0] == 2 && o.s[1] == 1 && o.s[2] == 0) ? ORDER_REVERSED
                                                            : ORDER_OTHER;
    return o;
}

const char *lhr_warp_loops(void) {
#if LHR_AVX2
    if (__builtin_cpu_supports("avx2")) return "AVX2";
#endif
#if defined(__SSE2__)
    return "SSE2";
#elif defined(__ARM_NEON)
    return "NEON";
#else
    return "C";
#endif
}

void lhr_warp_bilinear(const uint8_t *src, int width, int height, int row_stride, int channels,
                       const int channel_map[3], const double m[6], uint8_t *dst, int out_w, int out_h,
                       lhr_simd simd) {
    warp_out o = make_out(channel_map, out_w, out_h, simd);
    o.u8 = dst;
    warp(src, width, height, row_stride, channels, m, out_w, out_h, &o);
}

void lhr_warp_normalize(const uint8_t *src, int width, int height, int row_stride, int channels,
                        const int channel_map[3], const double m[6], const float mean[3], const float std[3],
                        int planar, float *dst, int out_w, int out_h, lhr_simd simd) {
    warp_out o = make_out(channel_map, out_w, out_h, simd);
    o.f = dst;
    o.planar = planar;
    float lane_mean[4] = {0.0f, 0.0f, 0.0f, 0.0f}, lane_std[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    for (int ch = 0; ch < 3; ++ch) {
        o.mean[ch] = mean[ch];
        o.std[ch] = std[ch];
        if (o.order != ORDER_OTHER) { /* a permutation of lanes 0..2 */
            lane_mean[o.s[ch]] = mean[ch];
            lane_std[o.s[ch]] = std[ch];
        }
    }
    memcpy(&o.mean_v, lane_mean, sizeof lane_mean);
    memcpy(&o.std_v, lane_std, sizeof lane_std);
    warp(src, width, height, row_stride, channels, m, out_w, out_h, &o);
}

void lhr_map_to_image(const float *coords, int k, const float center[2], const float scale[2], int map_h,
                      int map_w, float *out) {
    double fx = (double)scale[0] / (double)map_w, fy = (double)scale[1] / (double)map_h;
    double ox = (double)scale[0] * 0.5, oy = (double)scale[1] * 0.5;
    for (int j = 0; j < k; ++j) {
        out[2 * j] = (float)(((double)coords[2 * j] * fx + (double)center[0]) - ox);
        out[2 * j + 1] = (float)(((double)coords[2 * j + 1] * fy + (double)center[1]) - oy);
    }
}

int lhr_box_overlaps_image(const float box[4], int width, int height) {
    return box[2] > 0.0f && box[3] > 0.0f && box[0] < (float)width && box[1] < (float)height;
}

/* The quarter-pixel shift of one joint whose arg-max is (bx, by); `at` reads (x, y). */
static void refine(const float *map, size_t row, size_t col, int h, int w, int bx, int by, float *coords) {
    float px = (float)bx, py = (float)by;
#define LHR_AT(xx, yy) map[(size_t)(yy) * row + (size_t)(xx) * col]
    if (bx > 1 && bx < w - 1 && by > 0 && by < h) {
        float diff = LHR_AT(bx + 1, by) - LHR_AT(bx - 1, by);
        px += diff > 0.0f ? 0.25f : (diff < 0.0f ? -0.25f : 0.0f);
    }
    if (by > 1 && by < h - 1 && bx > 0 && bx < w) {
        float diff = LHR_AT(bx, by + 1) - LHR_AT(bx, by - 1);
        py += diff > 0.0f ? 0.25f : (diff < 0.0f ? -0.25f : 0.0f);
    }
#undef LHR_AT
    coords[0] = px;
    coords[1] = py;
}

/* numpy's argmax: the first maximum in row-major order; a NaN counts as the maximum. */
static inline int beats(float v, float best) { return v > best || (isnan(v) && !isnan(best)); }

void lhr_decode_heatmaps(const float *heatmaps, int k, int h, int w, int channels_last, float *coords,
                         float *scores) {
    if (!channels_last) { /* K x h x w: each map is contiguous */
        const size_t plane = (size_t)h * (size_t)w;
        for (int j = 0; j < k; ++j) {
            const float *map = heatmaps + (size_t)j * plane;
            size_t best_i = 0;
            float best = map[0];
            for (size_t i = 1; i < plane; ++i)
                if (beats(map[i], best)) {
                    best = map[i];
                    best_i = i;
                }
            scores[j] = best;
            refine(map, (size_t)w, 1, h, w, (int)(best_i % (size_t)w), (int)(best_i / (size_t)w), coords + 2 * j);
        }
        return;
    }
    /* h x w x K: one pass over memory for a group of joints at a time, without branches (the
     * compiler vectorizes the loop over joints) */
    enum { GROUP = 64 };
    const size_t pixels = (size_t)h * (size_t)w;
    for (int j0 = 0; j0 < k; j0 += GROUP) {
        const int n = k - j0 < GROUP ? k - j0 : GROUP;
        float best[GROUP];
        int32_t best_i[GROUP]; /* h * w < 2^31 (lhr_internal.h; checked when a model opens) */
        for (int j = 0; j < n; ++j) {
            best[j] = heatmaps[j0 + j];
            best_i[j] = 0;
        }
        for (size_t i = 1; i < pixels; ++i) {
            const float *restrict p = heatmaps + i * (size_t)k + j0;
            for (int j = 0; j < n; ++j) {
                /* beats(), branch-free: greater, or the first NaN */
                const float v = p[j], b = best[j];
                const int take = (v > b) | ((v != v) & (b == b));
                best[j] = take ? v : b;
                best_i[j] = take ? (int32_t)i : best_i[j];
            }
        }
        for (int j = 0; j < n; ++j) {
            scores[j0 + j] = best[j];
            refine(heatmaps + j0 + j, (size_t)w * (size_t)k, (size_t)k, h, w, (int)((size_t)best_i[j] % (size_t)w),
                   (int)((size_t)best_i[j] / (size_t)w), coords + 2 * (j0 + j));
        }
    }
}

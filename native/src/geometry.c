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

/* Store one pixel's 3 rounded values: 8-bit, or normalized floats through the table. */
static inline void store(size_t i, size_t plane, const int v[3], uint8_t *dst_u8, float *dst_f,
                         const float (*lut)[256], int planar) {
    if (dst_u8 != NULL) {
        dst_u8[3 * i] = (uint8_t)v[0];
        dst_u8[3 * i + 1] = (uint8_t)v[1];
        dst_u8[3 * i + 2] = (uint8_t)v[2];
    } else if (planar) {
        dst_f[i] = lut[0][v[0]];
        dst_f[plane + i] = lut[1][v[1]];
        dst_f[2 * plane + i] = lut[2][v[2]];
    } else {
        dst_f[3 * i] = lut[0][v[0]];
        dst_f[3 * i + 1] = lut[1][v[1]];
        dst_f[3 * i + 2] = lut[2][v[2]];
    }
}

/* The warp behind lhr_warp_bilinear and lhr_warp_normalize: 8-bit output (dst_u8) or normalized
 * floats through `lut` (dst_f, interleaved or planar). */
static void warp(const uint8_t *src, int width, int height, int row_stride, int channels, const int channel_map[3],
                 const double m[6], int out_w, int out_h, uint8_t *dst_u8, float *dst_f, const float (*lut)[256],
                 int planar) {
    double inv[6];
    lhr_invert_affine(m, inv);
    const float a = (float)inv[0], b = (float)inv[1], c = (float)inv[2];
    const float d = (float)inv[3], e = (float)inv[4], f = (float)inv[5];
    const int s0 = channel_map[0], s1 = channel_map[1], s2 = channel_map[2];
    const size_t plane = (size_t)out_w * (size_t)out_h;
    int v[3];
    sample_pos *cols = (b == 0.0f && d == 0.0f) ? malloc((size_t)out_w * sizeof *cols) : NULL;
    /* horizontal lerps of two source rows at every column, kept while consecutive output rows use them */
    lhr_v4f *lerped = cols != NULL ? malloc(2 * (size_t)out_w * sizeof *lerped) : NULL;
    if (cols != NULL && lerped != NULL) {
        /* A crop of a box: x depends on the column only, y on the row only. a * x + 0 + c is
         * exactly a * x + c, so the positions equal the general path's. */
        for (int x = 0; x < out_w; ++x) cols[x] = locate(a * (float)x + b * 0.0f + c, width);
        const lhr_v4f magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f};
        lhr_v4f *held[2] = {lerped, lerped + out_w};
        int held_row[2] = {-1, -1};
        for (int y = 0; y < out_h; ++y) {
            const sample_pos py = locate(d * 0.0f + e * (float)y + f, height);
            const size_t row = (size_t)y * (size_t)out_w;
            const int rows_inside = py.in0 && py.in1;
            const lhr_v4f fy = {py.frac, py.frac, py.frac, py.frac};
            const lhr_v4f *h0 = NULL, *h1 = NULL;
            if (rows_inside) {
                /* v0 = p00 + fx (p01 - p00) on row y0 and v1 the same on row y0 + 1: each source
                 * row's lerps are computed once and reused by the next output rows (same values). */
                for (int want = 0; want < 2; ++want) {
                    const int r = py.i0 + want;
                    int slot = held_row[0] == r ? 0 : (held_row[1] == r ? 1 : -1);
                    if (slot < 0) {
                        /* row y0: keep the slot holding y0 + 1; row y0 + 1: not the slot holding y0 */
                        slot = want == 0 ? (held_row[0] == py.i0 + 1 ? 1 : 0) : (h0 == held[0] ? 1 : 0);
                        const uint8_t *line = src + (size_t)r * (size_t)row_stride;
                        lhr_v4f *out = held[slot];
                        for (int x = 0; x < out_w; ++x) {
                            const sample_pos px = cols[x];
                            if (!(px.in0 && px.in1)) continue;
                            const uint8_t *p = line + (size_t)px.i0 * (size_t)channels, *q = p + channels;
                            const lhr_v4f p0 = {p[s0], p[s1], p[s2], 0.0f}, p1 = {q[s0], q[s1], q[s2], 0.0f};
                            const lhr_v4f fx = {px.frac, px.frac, px.frac, px.frac};
                            out[x] = p0 + fx * (p1 - p0);
                        }
                        held_row[slot] = r;
                    }
                    if (want == 0) h0 = held[slot];
                    else h1 = held[slot];
                }
            }
            for (int x = 0; x < out_w; ++x) {
                const sample_pos px = cols[x];
                if (rows_inside && px.in0 && px.in1) {
                    /* the 3 channels side by side: the same float32 operations, lane by lane */
                    const lhr_v4f r = ((h0[x] + fy * (h1[x] - h0[x])) + magic) - magic;
                    v[0] = (int)r[0];
                    v[1] = (int)r[1];
                    v[2] = (int)r[2];
                } else {
                    sample(src, row_stride, channels, s0, s1, s2, px, py, v);
                }
                store(row + (size_t)x, plane, v, dst_u8, dst_f, lut, planar);
            }
        }
        free(cols);
        free(lerped);
        return;
    }
    free(cols);
    free(lerped);
    for (int y = 0; y < out_h; ++y) {
        const float by = b * (float)y, ey = e * (float)y;
        const size_t row = (size_t)y * (size_t)out_w;
        for (int x = 0; x < out_w; ++x) {
            sample(src, row_stride, channels, s0, s1, s2, locate(a * (float)x + by + c, width),
                   locate(d * (float)x + ey + f, height), v);
            store(row + (size_t)x, plane, v, dst_u8, dst_f, lut, planar);
        }
    }
}

void lhr_warp_bilinear(const uint8_t *src, int width, int height, int row_stride, int channels,
                       const int channel_map[3], const double m[6], uint8_t *dst, int out_w, int out_h) {
    warp(src, width, height, row_stride, channels, channel_map, m, out_w, out_h, dst, NULL, NULL, 0);
}

void lhr_warp_normalize(const uint8_t *src, int width, int height, int row_stride, int channels,
                        const int channel_map[3], const double m[6], const float lut[3][256], int planar, float *dst,
                        int out_w, int out_h) {
    warp(src, width, height, row_stride, channels, channel_map, m, out_w, out_h, NULL, dst, lut, planar);
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
    /* h x w x K: one pass over memory for a group of joints at a time */
    enum { GROUP = 64 };
    const size_t pixels = (size_t)h * (size_t)w;
    for (int j0 = 0; j0 < k; j0 += GROUP) {
        const int n = k - j0 < GROUP ? k - j0 : GROUP;
        float best[GROUP];
        size_t best_i[GROUP];
        for (int j = 0; j < n; ++j) {
            best[j] = heatmaps[j0 + j];
            best_i[j] = 0;
        }
        for (size_t i = 1; i < pixels; ++i) {
            const float *p = heatmaps + i * (size_t)k + j0;
            for (int j = 0; j < n; ++j)
                if (beats(p[j], best[j])) {
                    best[j] = p[j];
                    best_i[j] = i;
                }
        }
        for (int j = 0; j < n; ++j) {
            scores[j0 + j] = best[j];
            refine(heatmaps + j0 + j, (size_t)w * (size_t)k, (size_t)k, h, w, (int)(best_i[j] % (size_t)w),
                   (int)(best_i[j] / (size_t)w), coords + 2 * (j0 + j));
        }
    }
}

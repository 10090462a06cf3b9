/*
 * Top-down crop geometry and heatmap decoding, copied from lite_hrnet.geometry / lite_hrnet.codec.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
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

/* Clamp a source coordinate into a range where floor() fits an int and the outcome (all
 * neighbours outside the image, hence 0) is unchanged. NaN goes outside too. */
static float clamp_coord(float v, int size) {
    if (!(v >= -2.0f)) return -2.0f;
    if (v > (float)size + 1.0f) return (float)size + 1.0f;
    return v;
}

void lhr_warp_bilinear(const uint8_t *src, int width, int height, int row_stride, int channels,
                       const int channel_map[3], const double m[6], uint8_t *dst, int out_w, int out_h) {
    double inv[6];
    lhr_invert_affine(m, inv);
    /* OpenCV 4.11+ / 5 computes the source position and the interpolation in float32, in the
     * order written here; doing the same gives identical crops. */
    const float a = (float)inv[0], b = (float)inv[1], c = (float)inv[2];
    const float d = (float)inv[3], e = (float)inv[4], f = (float)inv[5];
    const int c0 = channel_map[0], c1 = channel_map[1], c2 = channel_map[2];
    for (int y = 0; y < out_h; ++y) {
        const float by = b * (float)y, ey = e * (float)y;
        uint8_t *out = dst + (size_t)y * (size_t)out_w * 3;
        for (int x = 0; x < out_w; ++x, out += 3) {
            float fx = clamp_coord(a * (float)x + by + c, width);
            float fy = clamp_coord(d * (float)x + ey + f, height);
            float flx = floorf(fx), fly = floorf(fy);
            int x0 = (int)flx, y0 = (int)fly;
            float ax = fx - flx, ay = fy - fly;
            const uint8_t *p[4] = {NULL, NULL, NULL, NULL};
            int inside_x0 = x0 >= 0 && x0 < width, inside_x1 = x0 + 1 >= 0 && x0 + 1 < width;
            int inside_y0 = y0 >= 0 && y0 < height, inside_y1 = y0 + 1 >= 0 && y0 + 1 < height;
            if (inside_y0) {
                const uint8_t *row = src + (size_t)y0 * (size_t)row_stride;
                if (inside_x0) p[0] = row + (size_t)x0 * (size_t)channels;
                if (inside_x1) p[1] = row + (size_t)(x0 + 1) * (size_t)channels;
            }
            if (inside_y1) {
                const uint8_t *row = src + (size_t)(y0 + 1) * (size_t)row_stride;
                if (inside_x0) p[2] = row + (size_t)x0 * (size_t)channels;
                if (inside_x1) p[3] = row + (size_t)(x0 + 1) * (size_t)channels;
            }
            const int map[3] = {c0, c1, c2};
            for (int ch = 0; ch < 3; ++ch) {
                int s = map[ch];
                float p00 = p[0] ? (float)p[0][s] : 0.0f, p01 = p[1] ? (float)p[1][s] : 0.0f;
                float p10 = p[2] ? (float)p[2][s] : 0.0f, p11 = p[3] ? (float)p[3][s] : 0.0f;
                float v0 = p00 + ax * (p01 - p00);
                float v1 = p10 + ax * (p11 - p10);
                float v = v0 + ay * (v1 - v0);
                long r = lrintf(v); /* round half to even, like cvRound */
                out[ch] = (uint8_t)(r < 0 ? 0 : (r > 255 ? 255 : r));
            }
        }
    }
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

void lhr_decode_heatmaps(const float *heatmaps, int k, int h, int w, int channels_last, float *coords,
                         float *scores) {
    /* Element (j, y, x) lives at j * plane + y * row + x * col. */
    const size_t plane = channels_last ? 1 : (size_t)h * (size_t)w;
    const size_t row = channels_last ? (size_t)w * (size_t)k : (size_t)w;
    const size_t col = channels_last ? (size_t)k : 1;
    for (int j = 0; j < k; ++j) {
        const float *map = heatmaps + (size_t)j * plane;
        int best_x = 0, best_y = 0;
        float best = map[0];
        for (int y = 0; y < h; ++y) {
            const float *r = map + (size_t)y * row;
            for (int x = 0; x < w; ++x) {
                float v = r[(size_t)x * col];
                /* numpy's argmax: the first maximum; a NaN counts as the maximum */
                if (v > best || (isnan(v) && !isnan(best))) {
                    best = v;
                    best_x = x;
                    best_y = y;
                }
            }
        }
        float px = (float)best_x, py = (float)best_y;
#define LHR_AT(xx, yy) map[(size_t)(yy) * row + (size_t)(xx) * col]
        if (best_x > 1 && best_x < w - 1 && best_y > 0 && best_y < h) {
            float diff = LHR_AT(best_x + 1, best_y) - LHR_AT(best_x - 1, best_y);
            px += diff > 0.0f ? 0.25f : (diff < 0.0f ? -0.25f : 0.0f);
        }
        if (best_y > 1 && best_y < h - 1 && best_x > 0 && best_x < w) {
            float diff = LHR_AT(best_x, best_y + 1) - LHR_AT(best_x, best_y - 1);
            py += diff > 0.0f ? 0.25f : (diff < 0.0f ? -0.25f : 0.0f);
        }
#undef LHR_AT
        coords[2 * j] = px;
        coords[2 * j + 1] = py;
        scores[j] = best;
    }
}

/*
 * Unit tests of the pure parts of liblitehrnet against golden values from the Python
 * implementation (native/tests/make_golden.py): geometry, warp, decoding, the TFLite
 * metadata reader (also on truncated and corrupted copies) and the JSON reader.
 * Usage: lhr_test_core GOLDEN_DIR
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lhr_internal.h"

#include "check.h"

static char *read_text(const char *dir, const char *name, size_t *size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    buf[n] = '\0';
    fclose(f);
    if (size) *size = (size_t)n;
    return buf;
}

/* Numbers of one line after its tag. */
typedef struct {
    double *v;
    size_t n, cap;
} numbers;

static void parse_numbers(const char *line, numbers *out) {
    out->n = 0;
    const char *p = line;
    char *end;
    for (;;) {
        double d = strtod(p, &end);
        if (end == p) break;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->v = realloc(out->v, out->cap * sizeof(double));
            if (out->v == NULL) exit(2);
        }
        out->v[out->n++] = d;
        p = end;
    }
}

/* Calls fn(tag, numbers) for every non-comment line of a golden file. */
static void each_line(char *text, void (*fn)(const char *tag, const numbers *nums, void *ctx), void *ctx) {
    numbers nums = {NULL, 0, 0};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0') continue;
        char tag[16] = "";
        size_t t = 0;
        while (line[t] && line[t] != ' ' && t < sizeof tag - 1) {
            tag[t] = line[t];
            t++;
        }
        tag[t] = '\0';
        parse_numbers(line + t, &nums);
        fn(tag, &nums, ctx);
    }
    free(nums.v);
}

/* ------------------------------------------------------------------ geometry */

static int geometry_records = 0;

static void geometry_line(const char *tag, const numbers *x, void *ctx) {
    (void)ctx;
    const double *v = x->v;
    if (strcmp(tag, "bcs") == 0) {
        float box[4] = {(float)v[2], (float)v[3], (float)v[4], (float)v[5]}, c[2], s[2];
        lhr_box_to_center_scale(box, v[0], v[1], c, s);
        CHECK(c[0] == (float)v[6] && c[1] == (float)v[7] && s[0] == (float)v[8] && s[1] == (float)v[9],
              "box_to_center_scale(%g %g %g %g): got %.9g %.9g %.9g %.9g want %.9g %.9g %.9g %.9g", box[0], box[1],
              box[2], box[3], c[0], c[1], s[0], s[1], v[6], v[7], v[8], v[9]);
    } else if (strcmp(tag, "crop") == 0) {
        float c[2] = {(float)v[2], (float)v[3]}, s[2] = {(float)v[4], (float)v[5]};
        double m[6];
        lhr_crop_matrix(c, s, (int)v[0], (int)v[1], m);
        for (int i = 0; i < 6; ++i) CHECK(m[i] == v[6 + i], "crop_matrix[%d]: got %.17g want %.17g", i, m[i], v[6 + i]);
    } else if (strcmp(tag, "map") == 0) {
        int k = (int)v[0];
        float c[2] = {(float)v[3], (float)v[4]}, s[2] = {(float)v[5], (float)v[6]};
        float coords[64] = {0}, out[64] = {0};
        for (int i = 0; i < 2 * k; ++i) coords[i] = (float)v[7 + i];
        lhr_map_to_image(coords, k, c, s, (int)v[1], (int)v[2], out);
        for (int i = 0; i < 2 * k; ++i)
            CHECK(out[i] == (float)v[7 + 2 * k + i], "heatmap_to_image[%d]: got %.9g want %.9g", i, out[i],
                  v[7 + 2 * k + i]);
    }
    geometry_records++;
}

/* ------------------------------------------------------------------ warp */

typedef struct {
    uint8_t *image;
    int h, w, c;
    size_t pixels, exact;
    int max_diff, crops;
} warp_ctx;

static void warp_line(const char *tag, const numbers *x, void *vctx) {
    warp_ctx *ctx = vctx;
    const double *v = x->v;
    if (strcmp(tag, "image") == 0) {
        ctx->h = (int)v[0];
        ctx->w = (int)v[1];
        ctx->c = (int)v[2];
        size_t n = (size_t)ctx->h * ctx->w * ctx->c;
        ctx->image = malloc(n);
        for (size_t i = 0; i < n; ++i) ctx->image[i] = (uint8_t)v[3 + i];
        return;
    }
    float box[4] = {(float)v[0], (float)v[1], (float)v[2], (float)v[3]}, c[2], s[2];
    int oh = (int)v[4], ow = (int)v[5];
    int map[3] = {(int)v[6], (int)v[7], (int)v[8]};
    double m[6];
    lhr_box_to_center_scale(box, (double)ow / oh, 1.25, c, s);
    lhr_crop_matrix(c, s, oh, ow, m);
    uint8_t *crop = malloc((size_t)oh * ow * 3);
    lhr_warp_bilinear(ctx->image, ctx->w, ctx->h, ctx->w * ctx->c, ctx->c, map, m, crop, ow, oh, LHR_SIMD_BEST);
    for (size_t i = 0; i < (size_t)oh * ow * 3; ++i) {
        int d = abs((int)crop[i] - (int)v[9 + i]);
        if (d > ctx->max_diff) ctx->max_diff = d;
        ctx->exact += d == 0;
        ctx->pixels++;
    }
    ctx->crops++;
    /* the fused warp + normalization equals the crop normalized afterwards, interleaved and planar */
    const float mean[3] = {0.0f, 100.0f, 200.0f}, std[3] = {57.0f, 58.0f, 59.0f};
    float *inter = malloc(sizeof(float) * (size_t)oh * ow * 3), *planar = malloc(sizeof(float) * (size_t)oh * ow * 3);
    lhr_warp_normalize(ctx->image, ctx->w, ctx->h, ctx->w * ctx->c, ctx->c, map, m, mean, std, 0, inter, ow, oh,
                       LHR_SIMD_BEST);
    lhr_warp_normalize(ctx->image, ctx->w, ctx->h, ctx->w * ctx->c, ctx->c, map, m, mean, std, 1, planar, ow, oh,
                       LHR_SIMD_BEST);
    int same = 1;
    const size_t plane = (size_t)oh * ow;
    for (size_t i = 0; i < plane; ++i)
        for (int ch = 0; ch < 3; ++ch) {
            const float want = ((float)crop[3 * i + ch] - mean[ch]) / std[ch];
            same &= inter[3 * i + ch] == want && planar[ch * plane + i] == want;
        }
    CHECK(same, "lhr_warp_normalize differs from lhr_warp_bilinear + normalization");
    free(inter);
    free(planar);
    free(crop);

    /* The same crop from an RGBA copy with padded rows must be identical. */
    int stride = ctx->w * 4 + 7;
    uint8_t *rgba = calloc((size_t)ctx->h * stride, 1);
    uint8_t *crop2 = malloc((size_t)oh * ow * 3);
    uint8_t *crop1 = malloc((size_t)oh * ow * 3);
    for (int y = 0; y < ctx->h; ++y)
        for (int xx = 0; xx < ctx->w; ++xx) {
            memcpy(rgba + (size_t)y * stride + xx * 4, ctx->image + ((size_t)y * ctx->w + xx) * 3, 3);
            rgba[(size_t)y * stride + xx * 4 + 3] = 255;
        }
    lhr_warp_bilinear(ctx->image, ctx->w, ctx->h, ctx->w * 3, 3, map, m, crop1, ow, oh, LHR_SIMD_BEST);
    lhr_warp_bilinear(rgba, ctx->w, ctx->h, stride, 4, map, m, crop2, ow, oh, LHR_SIMD_BEST);
    CHECK(memcmp(crop1, crop2, (size_t)oh * ow * 3) == 0, "RGBA/padded-stride crop differs from the RGB crop");
    free(rgba);
    free(crop1);
    free(crop2);
}

/* ------------------------------------------------------------------ decode */

static int decode_cases = 0;

static void decode_line(const char *tag, const numbers *x, void *ctx) {
    (void)ctx;
    (void)tag;
    const double *v = x->v;
    int k = (int)v[0], h = (int)v[1], w = (int)v[2];
    size_t n = (size_t)k * h * w;
    float *hm = malloc(n * sizeof(float)), *hwk = malloc(n * sizeof(float));
    float coords[2 * 64], scores[64], coords2[2 * 64], scores2[64];
    for (size_t i = 0; i < n; ++i) hm[i] = (float)v[3 + i];
    /* the same maps channels-last (h x w x K), as NHWC files give them */
    for (int j = 0; j < k; ++j)
        for (int y = 0; y < h; ++y)
            for (int xx = 0; xx < w; ++xx) hwk[((size_t)y * w + xx) * k + j] = hm[((size_t)j * h + y) * w + xx];
    lhr_decode_heatmaps(hm, k, h, w, 0, coords, scores);
    lhr_decode_heatmaps(hwk, k, h, w, 1, coords2, scores2);
    const double *want = v + 3 + n;
    for (int j = 0; j < k; ++j) {
        CHECK(coords[2 * j] == (float)want[2 * j] && coords[2 * j + 1] == (float)want[2 * j + 1],
              "decode %dx%dx%d joint %d: got (%.9g, %.9g) want (%.9g, %.9g)", k, h, w, j, coords[2 * j],
              coords[2 * j + 1], want[2 * j], want[2 * j + 1]);
        CHECK(scores[j] == (float)want[2 * k + j], "decode score %d: got %.9g want %.9g", j, scores[j], want[2 * k + j]);
        CHECK(coords2[2 * j] == coords[2 * j] && coords2[2 * j + 1] == coords[2 * j + 1] && scores2[j] == scores[j],
              "channels-last decode differs for joint %d", j);
    }
    decode_cases++;
    free(hm);
    free(hwk);
}

/* ------------------------------------------------------------------ warp against a per-pixel reference */

/* cv2.warpAffine (INTER_LINEAR, BORDER_CONSTANT 0) of one output pixel, written plainly: the source
 * position in float32 from the inverted matrix, pixels outside the image 0, lerp along x then y in
 * float32, rounded half to even. */
static void reference_pixel(const uint8_t *src, int width, int height, int stride, int channels, const int map[3],
                            const double inv[6], int x, int y, int out[3]) {
    const float sx = (float)inv[0] * (float)x + (float)inv[1] * (float)y + (float)inv[2];
    const float sy = (float)inv[3] * (float)x + (float)inv[4] * (float)y + (float)inv[5];
    if (!(sx >= -2.0f && sx <= (float)width + 1.0f && sy >= -2.0f && sy <= (float)height + 1.0f)) {
        out[0] = out[1] = out[2] = 0;
        return;
    }
    const int x0 = (int)floorf(sx), y0 = (int)floorf(sy);
    const float fx = sx - (float)x0, fy = sy - (float)y0;
    for (int c = 0; c < 3; ++c) {
        float p[2][2];
        for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) {
                const int xx = x0 + dx, yy = y0 + dy;
                p[dy][dx] = (xx >= 0 && xx < width && yy >= 0 && yy < height)
                                ? (float)src[(size_t)yy * stride + (size_t)xx * channels + map[c]]
                                : 0.0f;
            }
        const float v0 = p[0][0] + fx * (p[0][1] - p[0][0]);
        const float v1 = p[1][0] + fx * (p[1][1] - p[1][0]);
        const float v = nearbyintf(v0 + fy * (v1 - v0));
        out[c] = v < 0.0f ? 0 : (v > 255.0f ? 255 : (int)v);
    }
}

static unsigned next_random(unsigned *seed) {
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

/* The library's crops (8-bit, normalized interleaved and planar) equal the reference pixel by pixel
 * for boxes that shrink, enlarge, cross every border or lie outside, on RGB and padded RGBA images
 * allocated to their last byte (AddressSanitizer sees any read past it). */
static void test_warp_against_reference(void) {
    const int width = 203, height = 151;
    const int sizes[][2] = {{256, 192}, {128, 96}, {37, 53}, {1, 1}, {2, 3}};
    const float mean[3] = {123.675f, 116.28f, 103.53f}, std[3] = {58.395f, 57.12f, 57.375f};
    unsigned seed = 7;
    int crops = 0, equal_u8 = 0, equal_norm = 0;
    for (int channels = 3; channels <= 4; ++channels) {
        const int stride = width * channels + (channels == 4 ? 5 : 0);
        const size_t bytes = (size_t)(height - 1) * stride + (size_t)width * channels;
        uint8_t *image = malloc(bytes);
        for (size_t i = 0; i < bytes; ++i) image[i] = (uint8_t)next_random(&seed);
        for (int trial = 0; trial < 80; ++trial) {
            const int oh = sizes[trial % 5][0], ow = sizes[trial % 5][1];
            const int map[3] = {trial % 2 ? 2 : 0, 1, trial % 2 ? 0 : 2};
            float box[4];
            if (trial % 6 == 0) { /* the bottom-right corner: reads up to the image's last byte */
                box[0] = (float)width - 3.0f - (float)(next_random(&seed) % 40);
                box[1] = (float)height - 3.0f - (float)(next_random(&seed) % 40);
                box[2] = (float)width + (float)(next_random(&seed) % 5);
                box[3] = (float)height + (float)(next_random(&seed) % 5);
            } else {
                const float cx = -60.0f + (float)(next_random(&seed) % 330), cy = -60.0f + (float)(next_random(&seed) % 280);
                const float bw = 2.0f + (float)(next_random(&seed) % 400) * 0.37f;
                const float bh = 2.0f + (float)(next_random(&seed) % 400) * 0.41f;
                box[0] = cx - bw / 2;
                box[1] = cy - bh / 2;
                box[2] = cx + bw / 2;
                box[3] = cy + bh / 2;
            }
            float center[2], scale[2];
            double m[6], inv[6];
            lhr_box_to_center_scale(box, (double)ow / oh, 1.25, center, scale);
            lhr_crop_matrix(center, scale, oh, ow, m);
            lhr_invert_affine(m, inv);
            const size_t plane = (size_t)oh * ow;
            uint8_t *crop = malloc(plane * 3);
            float *inter = malloc(plane * 3 * sizeof(float)), *planar = malloc(plane * 3 * sizeof(float));
            /* the CPU's fastest loops on even trials, the baseline (SSE2 / NEON / C) on odd ones */
            const lhr_simd simd = (trial / 2) % 2 ? LHR_SIMD_BASELINE : LHR_SIMD_BEST;
            lhr_warp_bilinear(image, width, height, stride, channels, map, m, crop, ow, oh, simd);
            lhr_warp_normalize(image, width, height, stride, channels, map, m, mean, std, 0, inter, ow, oh, simd);
            lhr_warp_normalize(image, width, height, stride, channels, map, m, mean, std, 1, planar, ow, oh, simd);
            int same_u8 = 1, same_norm = 1;
            for (int y = 0; y < oh; ++y)
                for (int x = 0; x < ow; ++x) {
                    int want[3];
                    reference_pixel(image, width, height, stride, channels, map, inv, x, y, want);
                    const size_t i = (size_t)y * ow + x;
                    for (int c = 0; c < 3; ++c) {
                        const float n = ((float)want[c] - mean[c]) / std[c];
                        same_u8 &= crop[3 * i + c] == want[c];
                        same_norm &= inter[3 * i + c] == n && planar[c * plane + i] == n;
                    }
                }
            CHECK(same_u8 && same_norm,
                  "warp of box [%g %g %g %g] to %dx%d (%d channels, %s loops) differs from the reference", box[0],
                  box[1], box[2], box[3], oh, ow, channels, simd == LHR_SIMD_BEST ? "fastest" : "baseline");
            crops++;
            equal_u8 += same_u8;
            equal_norm += same_norm;
            free(crop);
            free(inter);
            free(planar);
        }
        free(image);
    }
    printf("warp vs per-pixel reference: %d crops, %d identical 8-bit, %d identical normalized\n", crops, equal_u8,
           equal_norm);
}

/* NaN counts as the maximum and the first one wins (numpy's argmax), in both layouts and for more
 * joints than one pass takes. */
static void test_decode_nan_and_many_joints(void) {
    enum { K = 70, H = 5, W = 6 };
    float *chw = malloc(sizeof(float) * K * H * W), *hwc = malloc(sizeof(float) * K * H * W);
    float c1[2 * K], s1[K], c2[2 * K], s2[K];
    for (int j = 0; j < K; ++j)
        for (int i = 0; i < H * W; ++i) chw[j * H * W + i] = (float)((i * 7 + j * 3) % 11) * 0.1f;
    /* joint 0: NaN at pixel (x 2, y 1) and (x 4, y 3); joint 69: maximum 5 at (x 5, y 4) */
    chw[0 * H * W + 1 * W + 2] = NAN;
    chw[0 * H * W + 3 * W + 4] = NAN;
    chw[69 * H * W + 4 * W + 5] = 5.0f;
    for (int j = 0; j < K; ++j)
        for (int i = 0; i < H * W; ++i) hwc[i * K + j] = chw[j * H * W + i];
    lhr_decode_heatmaps(chw, K, H, W, 0, c1, s1);
    lhr_decode_heatmaps(hwc, K, H, W, 1, c2, s2);
    CHECK(isnan(s1[0]) && isnan(s2[0]), "a NaN is the maximum: scores %g %g", s1[0], s2[0]);
    /* (2, 1): no shift along x, whose neighbours compare; along y, (2, 0) and (2, 2) decide */
    CHECK(floorf(c1[0]) == 2.0f && floorf(c1[1]) == 1.0f && c2[0] == c1[0] && c2[1] == c1[1],
          "first NaN: got (%g, %g) and (%g, %g)", c1[0], c1[1], c2[0], c2[1]);
    CHECK(s1[69] == 5.0f && s2[69] == 5.0f && c1[138] == 5.0f && c1[139] == 4.0f && c2[138] == 5.0f && c2[139] == 4.0f,
          "joint 69: (%g, %g) %g and (%g, %g) %g", c1[138], c1[139], s1[69], c2[138], c2[139], s2[69]);
    int same = 1;
    for (int j = 0; j < K; ++j)
        same &= c1[2 * j] == c2[2 * j] && c1[2 * j + 1] == c2[2 * j + 1] && (s1[j] == s2[j] || (j == 0 && isnan(s2[j])));
    CHECK(same, "70 joints: channels-last decode differs from channels-first");
    free(chw);
    free(hwc);
}

/* ------------------------------------------------------------------ TFLite metadata + JSON */

static void test_tflite_metadata(const char *dir) {
    size_t size;
    char *file = read_text(dir, "tiny_meta.tflite", &size);
    const uint8_t *data = (const uint8_t *)file;
    const uint8_t *blob;
    size_t blob_size;
    char err[256];
    lhr_status st = lhr_tflite_metadata(data, size, "lite_hrnet", &blob, &blob_size, err, sizeof err);
    CHECK(st == LHR_OK, "tiny_meta.tflite: %s", err);
    if (st == LHR_OK) {
        lhr_metadata meta;
        st = lhr_metadata_parse((const char *)blob, blob_size, &meta, err, sizeof err);
        CHECK(st == LHR_OK, "metadata: %s", err);
        if (st == LHR_OK) {
            CHECK(strcmp(meta.model_name, "litehrnet_18_coco_128x96") == 0, "model_name %s", meta.model_name);
            CHECK(meta.input_h == 128 && meta.input_w == 96, "input_size %d x %d", meta.input_h, meta.input_w);
            CHECK(meta.heatmap_h == 32 && meta.heatmap_w == 24 && meta.heatmap_stride == 4, "heatmap %d x %d / %d",
                  meta.heatmap_h, meta.heatmap_w, meta.heatmap_stride);
            CHECK(meta.num_joints == 17 && strcmp(meta.joint_names[0], "nose") == 0 &&
                      strcmp(meta.joint_names[16], "right_ankle") == 0,
                  "joints %d", meta.num_joints);
            CHECK(meta.mean[0] == 123.675f && meta.std[2] == 57.375f, "mean/std %g %g", meta.mean[0], meta.std[2]);
            CHECK(strcmp(meta.color_order, "RGB") == 0 && meta.channels_last == 1 && meta.end_to_end == 0,
                  "color order / layout / e2e");
            CHECK(meta.num_flip_pairs == 8 && meta.flip_pairs[0] == 1 && meta.flip_pairs[1] == 2, "flip pairs");
            CHECK(meta.num_skeleton > 10, "skeleton %d", meta.num_skeleton);
            /* the escaped note survives: UTF-8, quotes, backslash, surrogate pair */
            lhr_json *root = lhr_json_parse(meta.json, strlen(meta.json), err, sizeof err);
            const lhr_json *note = lhr_json_get(root, "note");
            CHECK(note != NULL && strcmp(note->string, "caf\xc3\xa9 \"quoted\" \\ \xe2\x98\x83 \xf0\x9f\x98\x80") == 0,
                  "note string %s", note ? note->string : "(missing)");
            lhr_json_free(root);
            lhr_metadata_free(&meta);
        }
    }
    st = lhr_tflite_metadata(data, size, "no_such_entry", &blob, &blob_size, err, sizeof err);
    CHECK(st == LHR_ERR_BAD_MODEL && strstr(err, "no no_such_entry metadata") != NULL, "missing entry: %s", err);

    /* Every truncation and many corruptions must give an error or a blob inside the file, never a crash. */
    int truncated_errors = 0;
    for (size_t n = 0; n < size; ++n) {
        st = lhr_tflite_metadata(data, n, "lite_hrnet", &blob, &blob_size, err, sizeof err);
        if (st != LHR_OK) truncated_errors++;
        else CHECK(blob >= data && blob + blob_size <= data + n, "blob outside a %zu-byte truncation", n);
    }
    CHECK(truncated_errors > (int)size / 2, "only %d of %zu truncations were errors", truncated_errors, size);
    uint8_t *copy = malloc(size);
    unsigned seed = 12345;
    for (int trial = 0; trial < 20000; ++trial) {
        memcpy(copy, data, size);
        for (int flips = 0; flips < 1 + trial % 4; ++flips) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % size;
            seed = seed * 1103515245u + 12345u;
            copy[pos] = (uint8_t)(seed >> 16);
        }
        st = lhr_tflite_metadata(copy, size, "lite_hrnet", &blob, &blob_size, err, sizeof err);
        if (st == LHR_OK) {
            CHECK(blob >= copy && blob + blob_size <= copy + size, "blob outside the corrupted file");
            lhr_metadata meta;
            if (lhr_metadata_parse((const char *)blob, blob_size, &meta, err, sizeof err) == LHR_OK)
                lhr_metadata_free(&meta);
        }
    }
    free(copy);
    /* a PNG signature is not a TFLite file */
    const uint8_t png[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    st = lhr_tflite_metadata(png, sizeof png, "lite_hrnet", &blob, &blob_size, err, sizeof err);
    CHECK(st == LHR_ERR_BAD_MODEL && strstr(err, "not a TFLite model") != NULL, "PNG: %s", err);
    free(file);
}

static void test_json(void) {
    char err[200];
    const char *good = " {\"a\": [1, -2.5e3, true, false, null], \"b\": {\"c\": \"x\\u00e9\\n\"}, \"d\": []} ";
    lhr_json *v = lhr_json_parse(good, strlen(good), err, sizeof err);
    CHECK(v != NULL, "good JSON: %s", err);
    if (v != NULL) {
        const lhr_json *a = lhr_json_get(v, "a");
        CHECK(a && a->count == 5 && lhr_json_at(a, 1)->number == -2500.0 && lhr_json_at(a, 2)->type == LHR_JSON_TRUE,
              "array a");
        const lhr_json *c = lhr_json_get(lhr_json_get(v, "b"), "c");
        CHECK(c && strcmp(c->string, "x\xc3\xa9\n") == 0, "string c");
        CHECK(lhr_json_get(v, "d")->count == 0 && lhr_json_get(v, "zzz") == NULL, "empty array / missing key");
        lhr_json_free(v);
    }
    const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "[1 2]", "{}x", "nul", "[\"\\q\"]", "-", "1.", "[[[[",
                         "{\"a\":\"\\ud800\\u0041\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        v = lhr_json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        CHECK(v == NULL && strstr(err, "invalid JSON at byte") != NULL, "bad JSON %s accepted", bad[i]);
        lhr_json_free(v);
    }
    /* deep nesting is refused, not a stack overflow */
    char deep[2000];
    memset(deep, '[', sizeof deep);
    v = lhr_json_parse(deep, sizeof deep, err, sizeof err);
    CHECK(v == NULL && strstr(err, "nested too deeply") != NULL, "deep nesting: %s", err);
    /* metadata missing a required field names it */
    const char *partial = "{\"model_name\": \"m\", \"input_size\": [8, 8], \"mean\": [0,0,0], \"std\": [1,1,1]}";
    lhr_metadata meta;
    lhr_status st = lhr_metadata_parse(partial, strlen(partial), &meta, err, sizeof err);
    CHECK(st == LHR_ERR_BAD_MODEL && strstr(err, "lacks color_order") != NULL, "partial metadata: %s", err);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char *text = read_text(dir, "geometry.txt", NULL);
    each_line(text, geometry_line, NULL);
    free(text);
    CHECK(geometry_records > 100, "only %d geometry records", geometry_records);

    warp_ctx w;
    memset(&w, 0, sizeof w);
    text = read_text(dir, "warp.txt", NULL);
    each_line(text, warp_line, &w);
    free(text);
    free(w.image);
    double exact_share = w.pixels ? (double)w.exact / (double)w.pixels : 0.0;
    printf("warp: %d crops, %zu values, %.4f%% equal to cv2.warpAffine, largest difference %d\n", w.crops, w.pixels,
           100.0 * exact_share, w.max_diff);
    CHECK(w.crops >= 20, "only %d warp crops", w.crops);
    CHECK(w.max_diff <= 1 && exact_share >= 0.999, "warp differs from cv2.warpAffine: %.4f%% equal, max diff %d",
          100.0 * exact_share, w.max_diff);

    text = read_text(dir, "decode.txt", NULL);
    each_line(text, decode_line, NULL);
    free(text);
    CHECK(decode_cases >= 20, "only %d decode cases", decode_cases);

    test_warp_against_reference();
    test_decode_nan_and_many_joints();
    test_tflite_metadata(dir);
    test_json();

    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}

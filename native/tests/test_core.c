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

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        checks++;                                                \
        if (!(cond)) {                                           \
            failures++;                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, "\n");                               \
        }                                                        \
    } while (0)

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
    lhr_warp_bilinear(ctx->image, ctx->w, ctx->h, ctx->w * ctx->c, ctx->c, map, m, crop, ow, oh);
    for (size_t i = 0; i < (size_t)oh * ow * 3; ++i) {
        int d = abs((int)crop[i] - (int)v[9 + i]);
        if (d > ctx->max_diff) ctx->max_diff = d;
        ctx->exact += d == 0;
        ctx->pixels++;
    }
    ctx->crops++;
    /* the fused warp + normalization equals the crop looked up in the table, interleaved and planar */
    float lut[3][256];
    for (int ch = 0; ch < 3; ++ch)
        for (int u = 0; u < 256; ++u) lut[ch][u] = ((float)u - 100.0f * ch) / (57.0f + ch);
    float *inter = malloc(sizeof(float) * (size_t)oh * ow * 3), *planar = malloc(sizeof(float) * (size_t)oh * ow * 3);
    lhr_warp_normalize(ctx->image, ctx->w, ctx->h, ctx->w * ctx->c, ctx->c, map, m, (const float(*)[256])lut, 0, inter,
                       ow, oh);
    lhr_warp_normalize(ctx->image, ctx->w, ctx->h, ctx->w * ctx->c, ctx->c, map, m, (const float(*)[256])lut, 1, planar,
                       ow, oh);
    int same = 1;
    const size_t plane = (size_t)oh * ow;
    for (size_t i = 0; i < plane; ++i)
        for (int ch = 0; ch < 3; ++ch)
            same &= inter[3 * i + ch] == lut[ch][crop[3 * i + ch]] && planar[ch * plane + i] == lut[ch][crop[3 * i + ch]];
    CHECK(same, "lhr_warp_normalize differs from lhr_warp_bilinear + table");
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
    lhr_warp_bilinear(ctx->image, ctx->w, ctx->h, ctx->w * 3, 3, map, m, crop1, ow, oh);
    lhr_warp_bilinear(rgba, ctx->w, ctx->h, stride, 4, map, m, crop2, ow, oh);
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

    test_tflite_metadata(dir);
    test_json();

    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}

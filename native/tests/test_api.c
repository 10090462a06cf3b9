/*
 * Tests of the public API on bad input: missing, empty, foreign and truncated model files,
 * NULL pointers, bad sizes and boxes; with a model (third argument), also predictions: zero
 * boxes, boxes outside the image, RGB/BGR/RGBA agreement, batch vs one-by-one agreement.
 * Usage: lhr_test_api GOLDEN_DIR TMP_DIR [MODEL.tflite]
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lhr_internal.h"
#include "litehrnet.h"

#include "check.h"

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL || (n && fwrite(data, 1, n, f) != n)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

static void *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc((size_t)size);
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) exit(2);
    fclose(f);
    *n = (size_t)size;
    return data;
}

/* Opening `path` must fail with `want` and a message naming the file and containing `text`. */
static void expect_open_error(const char *path, lhr_status want, const char *text) {
    char err[LHR_ERROR_SIZE] = "";
    lhr_model *m = (lhr_model *)0x1;
    lhr_status st = lhr_model_open(path, 1, &m, err, sizeof err);
    CHECK(st == want, "open %s: status %d, want %d (%s)", path, st, want, err);
    CHECK(m == NULL, "open %s: the handle is not NULL after a failure", path);
    CHECK(strstr(err, path) != NULL && strstr(err, text) != NULL, "open %s: message '%s' lacks the path or '%s'", path,
          err, text);
    printf("  %-40s -> %d: %s\n", strrchr(path, '/') ? strrchr(path, '/') + 1 : path, st, err);
}

static void test_bad_files(const char *golden, const char *tmp, const char *model_path) {
    char path[1024];
    char err[LHR_ERROR_SIZE];
    lhr_model *m = NULL;
    CHECK(lhr_model_open(NULL, 1, &m, err, sizeof err) == LHR_ERR_INVALID_ARGUMENT && strstr(err, "path is NULL"),
          "NULL path: %s", err);
    CHECK(lhr_model_open("x.tflite", 1, NULL, err, sizeof err) == LHR_ERR_INVALID_ARGUMENT, "NULL out_model");
    CHECK(lhr_model_open(NULL, 1, NULL, NULL, 0) == LHR_ERR_INVALID_ARGUMENT, "NULL everything, no error buffer");

    snprintf(path, sizeof path, "%s/does_not_exist.tflite", tmp);
    expect_open_error(path, LHR_ERR_IO, "cannot open model file");
    expect_open_error(tmp, LHR_ERR_IO, "cannot"); /* a folder */

    snprintf(path, sizeof path, "%s/empty.tflite", tmp);
    write_file(path, "", 0);
    expect_open_error(path, LHR_ERR_BAD_MODEL, "empty file");

    const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde};
    snprintf(path, sizeof path, "%s/foreign_png.tflite", tmp);
    write_file(path, png, sizeof png);
    expect_open_error(path, LHR_ERR_BAD_MODEL, "not a TFLite model");

    /* a TFLite flatbuffer with metadata but no graph: LiteRT must refuse it cleanly */
    char tiny[1024];
    snprintf(tiny, sizeof tiny, "%s/tiny_meta.tflite", golden);
    size_t n = 0;
    unsigned char *data = read_file(tiny, &n);
    CHECK(data != NULL, "cannot read %s", tiny);
    if (data != NULL) {
        snprintf(path, sizeof path, "%s/no_graph.tflite", tmp);
        write_file(path, data, n);
        char e2[LHR_ERROR_SIZE] = "";
        lhr_status st = lhr_model_open(path, 1, &m, e2, sizeof e2);
        CHECK(st != LHR_OK && m == NULL && strstr(e2, path) != NULL, "graph-less model: status %d (%s)", st, e2);
        printf("  %-40s -> %d: %s\n", "no_graph.tflite", st, e2);
        /* truncated: the metadata no longer fits */
        snprintf(path, sizeof path, "%s/truncated_tiny.tflite", tmp);
        write_file(path, data, n / 3);
        expect_open_error(path, LHR_ERR_BAD_MODEL, "TFLite");
        free(data);
    }
    if (model_path != NULL) {
        data = read_file(model_path, &n);
        CHECK(data != NULL, "cannot read %s", model_path);
        if (data != NULL) {
            /* a real model cut in half / to its first 100 bytes */
            snprintf(path, sizeof path, "%s/truncated_half.tflite", tmp);
            write_file(path, data, n / 2);
            char e3[LHR_ERROR_SIZE] = "";
            lhr_status st = lhr_model_open(path, 1, &m, e3, sizeof e3);
            CHECK(st == LHR_ERR_BAD_MODEL && m == NULL && strstr(e3, path), "half model: status %d (%s)", st, e3);
            printf("  %-40s -> %d: %s\n", "truncated_half.tflite", st, e3);
            snprintf(path, sizeof path, "%s/truncated_100.tflite", tmp);
            write_file(path, data, 100);
            expect_open_error(path, LHR_ERR_BAD_MODEL, "TFLite");
            /* corrupted copies: the structure checks and the metadata reader must not crash
             * (the flatbuffer's tables sit at its start and end; weights in between) */
            unsigned char *copy = malloc(n);
            unsigned seed = 99;
            int refused = 0;
            for (int trial = 0; trial < 3000 && copy != NULL; ++trial) {
                memcpy(copy, data, n);
                for (int flips = 0; flips < 1 + trial % 3; ++flips) {
                    seed = seed * 1103515245u + 12345u;
                    size_t span = n < 65536 ? n : 65536, pos = (seed >> 4) % span;
                    if (trial % 2) pos = n - 1 - pos; /* the end of the file half of the time */
                    seed = seed * 1103515245u + 12345u;
                    copy[pos] = (unsigned char)(seed >> 16);
                }
                char e4[LHR_ERROR_SIZE];
                const uint8_t *blob;
                size_t blob_size;
                refused += lhr_tflite_check_graph(copy, n, e4, sizeof e4) != LHR_OK;
                lhr_tflite_metadata(copy, n, "lite_hrnet", &blob, &blob_size, e4, sizeof e4);
            }
            printf("  3000 corrupted copies of the model: %d refused by the structure checks\n", refused);
            free(copy);
            free(data);
        }
    }
}

static void test_null_model(void) {
    float kp[34], sc[17], mean[3], std[3];
    float box[4] = {0, 0, 10, 10};
    uint8_t px[300] = {0};
    int a, b;
    lhr_timings t;
    CHECK(lhr_predict(NULL, px, 10, 10, 30, LHR_PIXEL_RGB, box, 1, kp, sc) == LHR_ERR_INVALID_ARGUMENT, "predict NULL model");
    CHECK(lhr_model_input_height(NULL) == 0 && lhr_model_num_joints(NULL) == 0 && lhr_model_name(NULL) == NULL &&
              lhr_model_joint_name(NULL, 0) == NULL && lhr_model_metadata_json(NULL) == NULL,
          "getters on NULL");
    CHECK(lhr_model_flip_pair(NULL, 0, &a, &b) == LHR_ERR_INVALID_ARGUMENT, "flip pair on NULL");
    CHECK(lhr_model_mean_std(NULL, mean, std) == LHR_ERR_INVALID_ARGUMENT, "mean/std on NULL");
    CHECK(lhr_model_last_timings(NULL, &t) == LHR_ERR_INVALID_ARGUMENT, "timings on NULL");
    CHECK(strlen(lhr_model_last_error(NULL)) > 0, "last_error on NULL");
    lhr_model_close(NULL);
    CHECK(strcmp(lhr_version(), LHR_VERSION) == 0, "version");
}

/* A smooth synthetic RGB image: gradients plus a bright blob. */
static uint8_t *make_image(int w, int h) {
    uint8_t *img = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint8_t *p = img + ((size_t)y * w + x) * 3;
            double d = hypot(x - w * 0.4, y - h * 0.5);
            p[0] = (uint8_t)((x * 255) / w);
            p[1] = (uint8_t)((y * 255) / h);
            p[2] = (uint8_t)(d < 40 ? 250 : (x * y) % 200);
        }
    return img;
}

static void test_predict(const char *model_path) {
    char err[LHR_ERROR_SIZE];
    lhr_model *m = NULL;
    lhr_status st = lhr_model_open(model_path, 1, &m, err, sizeof err);
    CHECK(st == LHR_OK, "open %s: %s", model_path, err);
    if (st != LHR_OK) return;
    const int k = lhr_model_num_joints(m), ih = lhr_model_input_height(m), iw = lhr_model_input_width(m);
    printf("  model %s: %d x %d input, %d joints, stride %d, %s, color %s, max batch %d, %d flip pairs, %d edges\n",
           lhr_model_name(m), ih, iw, k, lhr_model_heatmap_stride(m), lhr_model_is_end_to_end(m) ? "end-to-end" : "plain",
           lhr_model_color_order(m), lhr_model_max_batch(m), lhr_model_num_flip_pairs(m), lhr_model_num_skeleton_edges(m));
    CHECK(k > 0 && k <= 1000 && ih > 0 && iw > 0, "metadata sizes");
    CHECK(lhr_model_joint_name(m, 0) != NULL && lhr_model_joint_name(m, k) == NULL && lhr_model_joint_name(m, -1) == NULL,
          "joint names bounds");
    int a, b;
    CHECK(lhr_model_flip_pair(m, lhr_model_num_flip_pairs(m), &a, &b) == LHR_ERR_INVALID_ARGUMENT, "flip pair past end");
    CHECK(lhr_model_skeleton_edge(m, -1, &a, &b) == LHR_ERR_INVALID_ARGUMENT, "edge -1");
    CHECK(strstr(lhr_model_metadata_json(m), "\"model_name\"") != NULL, "metadata json");

    const int w = 160, h = 120, n = 5;
    uint8_t *rgb = make_image(w, h);
    float boxes[5 * 4] = {10, 10, 90, 110,    /* inside */
                          -50, -40, 60, 80,   /* partly outside */
                          200, 10, 260, 90,   /* entirely right of the image */
                          80, 20, 150, 118,   /* inside */
                          -100, -100, 0, 0};  /* touches the corner only: outside (x2 > 0 fails) */
    float *kp = malloc(sizeof(float) * 2 * k * n), *sc = malloc(sizeof(float) * k * n);
    float *kp1 = malloc(sizeof(float) * 2 * k), *sc1 = malloc(sizeof(float) * k);
    st = lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, boxes, n, kp, sc);
    CHECK(st == LHR_OK, "predict: %s", lhr_model_last_error(m));
    lhr_timings t;
    lhr_model_last_timings(m, &t);
    CHECK(t.persons == 3, "3 persons run, got %d", t.persons);
    if (lhr_model_max_batch(m) >= 3) CHECK(t.batches == 1, "a resizable batch runs 3 persons in one call, not %d", t.batches);
    else CHECK(t.batches == 3, "a batch-1 file runs 3 persons in 3 calls, not %d", t.batches);
    printf("  5 boxes: %d persons in %d interpreter call(s); crop %.3f ms, inference %.3f ms, decode %.3f ms\n", t.persons,
           t.batches, t.crop_ms, t.inference_ms, t.decode_ms);
    for (int j = 0; j < k; ++j) {
        CHECK(isnan(kp[(2 * k + j) * 2]) && isnan(kp[(4 * k + j) * 2 + 1]) && sc[2 * k + j] == 0.0f && sc[4 * k + j] == 0.0f,
              "boxes outside the image: NaN keypoints and zero scores (joint %d)", j);
        CHECK(isfinite(kp[j * 2]) && isfinite(kp[(3 * k + j) * 2 + 1]) && isfinite(sc[j]), "finite keypoints (joint %d)", j);
    }
    /* one call per box gives the same as the batch */
    for (int i = 0; i < n; ++i) {
        st = lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, boxes + 4 * i, 1, kp1, sc1);
        CHECK(st == LHR_OK, "single predict %d", i);
        for (int j = 0; j < 2 * k; ++j) {
            float x = kp[(size_t)i * 2 * k + j], y = kp1[j];
            CHECK((isnan(x) && isnan(y)) || fabsf(x - y) <= 1e-3f, "box %d: batch %g vs single %g", i, x, y);
        }
    }
    /* BGR and RGBA with padded rows give the same as RGB */
    int stride = w * 4 + 16;
    uint8_t *bgr = malloc((size_t)w * h * 3), *rgba = calloc((size_t)h * stride, 1);
    for (int i = 0; i < w * h; ++i) {
        bgr[3 * i] = rgb[3 * i + 2];
        bgr[3 * i + 1] = rgb[3 * i + 1];
        bgr[3 * i + 2] = rgb[3 * i];
    }
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            memcpy(rgba + (size_t)y * stride + x * 4, rgb + ((size_t)y * w + x) * 3, 3);
            rgba[(size_t)y * stride + x * 4 + 3] = 77;
        }
    float *kp2 = malloc(sizeof(float) * 2 * k), *kp3 = malloc(sizeof(float) * 2 * k);
    lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, boxes, 1, kp1, NULL);
    CHECK(lhr_predict(m, bgr, w, h, w * 3, LHR_PIXEL_BGR, boxes, 1, kp2, NULL) == LHR_OK, "BGR predict");
    CHECK(lhr_predict(m, rgba, w, h, stride, LHR_PIXEL_RGBA, boxes, 1, kp3, NULL) == LHR_OK, "RGBA predict");
    CHECK(memcmp(kp1, kp2, sizeof(float) * 2 * k) == 0 && memcmp(kp1, kp3, sizeof(float) * 2 * k) == 0,
          "RGB, BGR and RGBA inputs give the same keypoints");

    /* bad calls: an error code and a message, nothing written, no crash */
    float bad_area[4] = {10, 10, 10, 50}, bad_nan[4] = {0, 0, NAN, 10};
    struct {
        const char *what;
        lhr_status got;
        const char *text;
    } cases[] = {
        {"NULL pixels", lhr_predict(m, NULL, w, h, w * 3, LHR_PIXEL_RGB, boxes, 1, kp1, sc1), "pixels is NULL"},
        {"NULL boxes", lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, NULL, 1, kp1, sc1), "boxes is NULL"},
        {"NULL keypoints", lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, boxes, 1, NULL, sc1), "out_keypoints is NULL"},
        {"zero width", lhr_predict(m, rgb, 0, h, w * 3, LHR_PIXEL_RGB, boxes, 1, kp1, sc1), "empty"},
        {"short stride", lhr_predict(m, rgb, w, h, w * 2, LHR_PIXEL_RGB, boxes, 1, kp1, sc1), "row_stride"},
        {"bad format", lhr_predict(m, rgb, w, h, w * 3, (lhr_pixel_format)7, boxes, 1, kp1, sc1), "pixel format"},
        {"negative count", lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, boxes, -1, kp1, sc1), "negative"},
        {"zero-area box", lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, bad_area, 1, kp1, sc1), "boxes[0]"},
        {"NaN box", lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, bad_nan, 1, kp1, sc1), "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        /* the message is the one of the last call, so re-run each to read it */
        CHECK(cases[i].got == LHR_ERR_INVALID_ARGUMENT, "%s: status %d", cases[i].what, cases[i].got);
    }
    CHECK(lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, bad_area, 1, kp1, sc1) == LHR_ERR_INVALID_ARGUMENT &&
              strstr(lhr_model_last_error(m), "zero or negative area") != NULL,
          "zero-area message: %s", lhr_model_last_error(m));
    printf("  zero-area box -> %s\n", lhr_model_last_error(m));
    CHECK(lhr_predict(m, rgb, w, h, w * 2, LHR_PIXEL_RGB, boxes, 1, kp1, sc1) == LHR_ERR_INVALID_ARGUMENT &&
              strstr(lhr_model_last_error(m), "row_stride") != NULL,
          "stride message: %s", lhr_model_last_error(m));
    /* zero boxes: OK, nothing written */
    kp1[0] = 12345.0f;
    CHECK(lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, NULL, 0, kp1, sc1) == LHR_OK && kp1[0] == 12345.0f,
          "zero boxes");
    /* after errors the model still works */
    CHECK(lhr_predict(m, rgb, w, h, w * 3, LHR_PIXEL_RGB, boxes, 1, kp2, NULL) == LHR_OK &&
              memcmp(kp1 + 1, kp2 + 1, sizeof(float)) == 0,
          "predict after errors");
    free(kp);
    free(sc);
    free(kp1);
    free(sc1);
    free(kp2);
    free(kp3);
    free(rgb);
    free(bgr);
    free(rgba);
    lhr_model_close(m);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s GOLDEN_DIR TMP_DIR [MODEL.tflite]\n", argv[0]);
        return 2;
    }
    /* The model: the argument (cmake -DLHR_TEST_MODEL=...), else $LHR_TEST_MODEL; none: those parts are skipped. */
    const char *model = argc > 3 && argv[3][0] ? argv[3] : getenv("LHR_TEST_MODEL");
    if (model && !model[0]) model = NULL;
    mkdir(argv[2], 0777);
    printf("bad model files:\n");
    test_bad_files(argv[1], argv[2], model);
    test_null_model();
    if (model != NULL) {
        printf("predictions with %s:\n", model);
        test_predict(model);
    } else {
        printf("SKIPPED predictions: no model given (set LHR_TEST_MODEL / the third argument)\n");
    }
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}

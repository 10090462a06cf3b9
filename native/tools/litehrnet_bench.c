/*
 * litehrnet-bench: time lhr_predict per person, split into crop, inference and decode.
 *
 *   litehrnet-bench --model FILE.tflite [--image FILE] [--persons N] [--threads N] [--runs R] [--warmup W]
 *
 * Runs R frames of N persons (boxes spread over the image; a synthetic 640 x 480 image when
 * --image is not given) after W warm-up frames and prints one JSON object: median (and smallest)
 * milliseconds per person of each part, and of the whole call. Used by benchmarks/native/bench_native.py.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_io.h"
#include "lhr_internal.h"
#include "litehrnet.h"

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* after median(): the array is sorted */
static double smallest(const double *v) { return v[0]; }

int main(int argc, char **argv) {
    const char *model_path = NULL, *image_path = NULL;
    int persons = 4, threads = 1, runs = 50, warmup = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--model") == 0) model_path = argv[i + 1];
        else if (strcmp(argv[i], "--image") == 0) image_path = argv[i + 1];
        else if (strcmp(argv[i], "--persons") == 0) persons = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0) warmup = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "litehrnet-bench: error: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (model_path == NULL || persons < 1 || persons > 64 || runs < 1 || warmup < 0) {
        fprintf(stderr, "usage: litehrnet-bench --model FILE.tflite [--image FILE] [--persons 1-64] [--threads N] "
                        "[--runs R] [--warmup W]\n");
        return 2;
    }
    char err[1024];
    lhr_image image = {0};
    if (image_path != NULL) {
        if (lhr_image_load(image_path, &image, err, sizeof err)) {
            fprintf(stderr, "litehrnet-bench: error: %s\n", err);
            return 2;
        }
    } else {
        image.width = 640;
        image.height = 480;
        image.pixels = malloc((size_t)image.width * image.height * 3);
        if (image.pixels == NULL) return 2;
        unsigned seed = 1;
        for (size_t i = 0; i < (size_t)image.width * image.height * 3; ++i) {
            seed = seed * 1103515245u + 12345u;
            image.pixels[i] = (uint8_t)(seed >> 16);
        }
    }
    lhr_model *model = NULL;
    if (lhr_model_open(model_path, threads, &model, err, sizeof err) != LHR_OK) {
        fprintf(stderr, "litehrnet-bench: error: %s\n", err);
        lhr_image_free(&image);
        return 2;
    }
    int k = lhr_model_num_joints(model);
    float *boxes = malloc(sizeof(float) * 4 * (size_t)persons);
    float *kp = malloc(sizeof(float) * 2 * (size_t)k * (size_t)persons);
    float *sc = malloc(sizeof(float) * (size_t)k * (size_t)persons);
    double *crop = malloc(sizeof(double) * (size_t)runs), *infer = malloc(sizeof(double) * (size_t)runs);
    double *decode = malloc(sizeof(double) * (size_t)runs), *total = malloc(sizeof(double) * (size_t)runs);
    if (!boxes || !kp || !sc || !crop || !infer || !decode || !total) return 2;
    for (int p = 0; p < persons; ++p) { /* person-shaped boxes across the image */
        float w = image.width / 4.0f, h = image.height * 0.6f;
        float x = (image.width - w) * (persons > 1 ? (float)p / (persons - 1) : 0.5f);
        boxes[4 * p] = x;
        boxes[4 * p + 1] = image.height * 0.2f;
        boxes[4 * p + 2] = x + w;
        boxes[4 * p + 3] = image.height * 0.2f + h;
    }
    int rc = 0;
    lhr_timings t;
    for (int r = -warmup; r < runs; ++r) {
        double t0 = lhr_now_ms();
        if (lhr_predict(model, image.pixels, image.width, image.height, image.width * 3, LHR_PIXEL_RGB, boxes, persons,
                        kp, sc) != LHR_OK) {
            fprintf(stderr, "litehrnet-bench: error: %s\n", lhr_model_last_error(model));
            rc = 2;
            break;
        }
        double t1 = lhr_now_ms();
        if (r < 0) continue;
        lhr_model_last_timings(model, &t);
        crop[r] = t.crop_ms / persons;
        infer[r] = t.inference_ms / persons;
        decode[r] = t.decode_ms / persons;
        total[r] = (t1 - t0) / persons;
    }
    if (rc == 0) {
        double crop_med = median(crop, runs), infer_med = median(infer, runs), decode_med = median(decode, runs);
        double total_med = median(total, runs);
        printf("{\"model\": \"%s\", \"end_to_end\": %s, \"input\": [%d, %d], \"persons\": %d, \"threads\": %d, "
               "\"runs\": %d, \"batches_per_frame\": %d, \"crop_ms\": %.4f, \"inference_ms\": %.4f, "
               "\"decode_ms\": %.4f, \"total_ms\": %.4f, \"best_crop_ms\": %.4f, \"best_inference_ms\": %.4f, "
               "\"best_decode_ms\": %.4f, \"best_total_ms\": %.4f, \"crop_loops\": \"%s\"}\n",
               lhr_model_name(model), lhr_model_is_end_to_end(model) ? "true" : "false", lhr_model_input_height(model),
               lhr_model_input_width(model), persons, threads, runs, t.batches, crop_med, infer_med, decode_med,
               total_med, smallest(crop), smallest(infer), smallest(decode), smallest(total), lhr_warp_loops());
    }
    free(boxes);
    free(kp);
    free(sc);
    free(crop);
    free(infer);
    free(decode);
    free(total);
    lhr_model_close(model);
    lhr_image_free(&image);
    return rc;
}

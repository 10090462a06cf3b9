/*
 * Internal functions of liblitehrnet: pure geometry and decoding (unit-tested against golden
 * values from the Python implementation), the TFLite metadata reader and a minimal JSON reader.
 * Not part of the public API; the symbols are hidden in liblitehrnet.so and linked statically
 * into the tests and tools from the lhr_core library.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef LHR_INTERNAL_H
#define LHR_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "litehrnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* printf into a fixed buffer, always NUL-terminated, cut when too long (buf may be NULL). */
void lhr_set_error(char *buf, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ------------------------------------------------------------------ geometry (lite_hrnet.geometry) */

/* Center (cx, cy) and scale (w, h), pixels, of a box (x1, y1, x2, y2): widened to
 * `aspect_ratio` (input width / input height), then times `padding`. Computed in double,
 * stored as float, like box_to_center_scale. */
void lhr_box_to_center_scale(const float box[4], double aspect_ratio, double padding, float center[2],
                             float scale[2]);

/* 2 x 3 affine matrix (row-major) from image pixels to an out_h x out_w crop (crop_matrix). */
void lhr_crop_matrix(const float center[2], const float scale[2], int out_h, int out_w, double m[6]);

/* Inverse of a 2 x 3 affine matrix, the way OpenCV's warpAffine inverts it (0 if singular). */
void lhr_invert_affine(const double m[6], double inv[6]);

/* Which loops the warp may use: the fastest this CPU has (AVX2 where present on x86-64), or the
 * target's baseline (SSE2 on x86-64, NEON on arm64, else plain C). Both give the same bytes; the
 * baseline exists so that the tests check both. */
typedef enum lhr_simd { LHR_SIMD_BEST = 0, LHR_SIMD_BASELINE = 1 } lhr_simd;

/* The loops LHR_SIMD_BEST takes on this CPU: "AVX2", "SSE2", "NEON" or "C" (for benchmarks). */
const char *lhr_warp_loops(void);

/* cv2.warpAffine(src, m, (out_w, out_h), INTER_LINEAR, BORDER_CONSTANT 0) of an 8-bit
 * interleaved image with `channels` (3 or 4) channels into an out_h x out_w x 3 crop whose
 * channel c is source channel channel_map[c]. Float32 arithmetic as OpenCV 4.11+/5 does it. */
void lhr_warp_bilinear(const uint8_t *src, int width, int height, int row_stride, int channels,
                       const int channel_map[3], const double m[6], uint8_t *dst, int out_w, int out_h,
                       lhr_simd simd);

/* The same warp written straight into a network input: channel c of each pixel becomes
 * ((float)value - mean[c]) / std[c] in float32 (the arithmetic of lite_hrnet.geometry.normalize_crops),
 * interleaved (out_h x out_w x 3) or planar (3 x out_h x out_w). Equal to lhr_warp_bilinear then
 * that formula. */
void lhr_warp_normalize(const uint8_t *src, int width, int height, int row_stride, int channels,
                        const int channel_map[3], const double m[6], const float mean[3], const float std[3],
                        int planar, float *dst, int out_w, int out_h, lhr_simd simd);

/* K x 2 (x, y) in a map of map_h x map_w pixels (heatmap, or the input crop for end-to-end
 * output) back to image pixels: x * scale_w / map_w + cx - scale_w / 2 (heatmap_to_image). */
void lhr_map_to_image(const float *coords, int k, const float center[2], const float scale[2], int map_h,
                      int map_w, float *out);

/* 1 when the box overlaps the image (x2 > 0, y2 > 0, x1 < width, y1 < height), as check_boxes. */
int lhr_box_overlaps_image(const float box[4], int width, int height);

/* ------------------------------------------------------------------ decoding (lite_hrnet.codec) */

/* Arg-max (first maximum, row-major) and maximum of K heatmaps of h x w, plus mmpose 1.x's
 * quarter-pixel shift: x where 1 < x < w-1 and 0 < y < h, y where 1 < y < h-1 and 0 < x < w,
 * toward the higher neighbour (no shift when they are equal).
 *   heatmaps: K x h x w (channels_last == 0) or h x w x K (channels_last == 1), one person;
 *             h * w < 2^31.
 *   coords:   K x 2 (x, y) heatmap pixels, written; scores: K, written. */
void lhr_decode_heatmaps(const float *heatmaps, int k, int h, int w, int channels_last, float *coords,
                         float *scores);

/* ------------------------------------------------------------------ TFLite flatbuffer */

/* The bytes of the metadata entry `name` of a .tflite flatbuffer (model.metadata[i].name ==
 * name -> model.buffers[metadata[i].buffer].data). Every offset is bounds-checked.
 * Returns LHR_OK, or LHR_ERR_BAD_MODEL with a message (not a TFLite file, corrupt, no entry). */
lhr_status lhr_tflite_metadata(const uint8_t *data, size_t size, const char *name, const uint8_t **out,
                               size_t *out_size, char *err, size_t err_size);

/* Structural checks LiteRT does not make before it crashes: at least one subgraph whose
 * tensor, input, output, operator and buffer indices are all in range, with inputs, outputs
 * and operators. LHR_OK or LHR_ERR_BAD_MODEL with a message. */
lhr_status lhr_tflite_check_graph(const uint8_t *data, size_t size, char *err, size_t err_size);

/* ------------------------------------------------------------------ JSON */

typedef enum lhr_json_type {
    LHR_JSON_NULL, LHR_JSON_FALSE, LHR_JSON_TRUE, LHR_JSON_NUMBER, LHR_JSON_STRING, LHR_JSON_ARRAY,
    LHR_JSON_OBJECT
} lhr_json_type;

typedef struct lhr_json lhr_json;
struct lhr_json {
    lhr_json_type type;
    double number;
    char *string;    /* STRING: the value (UTF-8, unescaped); members of an OBJECT: their key */
    char *key;       /* key when this value is an object member */
    lhr_json *child; /* first element / member */
    lhr_json *next;  /* next sibling */
    size_t count;    /* number of elements / members */
};

/* Parse `len` bytes of JSON (nesting at most 64 deep). NULL on error, with a message giving
 * the byte offset. Free with lhr_json_free. */
lhr_json *lhr_json_parse(const char *text, size_t len, char *err, size_t err_size);
void lhr_json_free(lhr_json *value);
/* Member `key` of an object, or NULL. */
const lhr_json *lhr_json_get(const lhr_json *object, const char *key);
/* Element i of an array, or NULL. */
const lhr_json *lhr_json_at(const lhr_json *array, size_t i);

/* ------------------------------------------------------------------ lite_hrnet metadata */

typedef struct lhr_metadata {
    char *json; /* the stored JSON, NUL-terminated */
    char *model_name;
    int input_h, input_w;
    int heatmap_h, heatmap_w, heatmap_stride;
    float mean[3], std[3];
    char color_order[4]; /* "RGB" or "BGR" */
    int num_joints;
    char **joint_names; /* num_joints strings ("" where the file gives none) */
    int num_flip_pairs;
    int *flip_pairs; /* num_flip_pairs x 2 */
    int num_skeleton;
    int *skeleton; /* num_skeleton x 2 */
    int channels_last; /* layout NHWC */
    int end_to_end;
    int fixed_batch; /* the export's batch when the metadata gives a number, 0 for "dynamic" or absent */
} lhr_metadata;

/* Parse and check the lite_hrnet JSON (required: model_name, input_size, mean, std,
 * color_order, layout, num_joints). `json` need not be NUL-terminated. */
lhr_status lhr_metadata_parse(const char *json, size_t len, lhr_metadata *out, char *err, size_t err_size);
void lhr_metadata_free(lhr_metadata *meta);

/* Monotonic clock in milliseconds. */
double lhr_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif /* LHR_INTERNAL_H */

/*
 * litehrnet.h - top-down Lite-HRNet pose estimation over LiteRT, in C11.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The API (all of it):
 *
 *   lhr_version()                         library version string
 *   lhr_model_open(path, threads, &model, errbuf, errbuf_size)
 *   lhr_model_close(model)
 *   lhr_model_last_error(model)           message of the model's last failed call
 *   metadata getters                      lhr_model_input_height/_width, _num_joints,
 *                                         _joint_name, _num_flip_pairs/_flip_pair,
 *                                         _num_skeleton_edges/_skeleton_edge, _mean_std,
 *                                         _color_order, _heatmap_stride, _is_end_to_end,
 *                                         _name, _metadata_json, _max_batch
 *   lhr_predict(model, pixels, width, height, row_stride, format,
 *               boxes, num_boxes, out_keypoints, out_scores)
 *   lhr_model_last_timings(model, &timings)   crop / inference / decode split of the last predict
 *
 * Conventions (those of lite_hrnet.pipeline in Python, which this library copies):
 *   - Images are 8-bit, interleaved: RGB, BGR or RGBA (alpha ignored), `row_stride`
 *     bytes from one row to the next (>= width * channels).
 *   - Boxes are N x 4 floats (x1, y1, x2, y2) in image pixels. Each box is widened to the
 *     network's aspect ratio and padded by 1.25 (mmpose's box-to-center/scale), the crop is
 *     warped bilinearly with zero padding, the network runs on all N crops (in one batch
 *     where the model file allows it), heatmaps are decoded (arg-max plus mmpose 1.x's
 *     quarter-pixel shift) and mapped back to the image.
 *   - Keypoints are N x K x 2 floats (x, y) in image pixels (pixel centers at integers);
 *     scores are N x K floats (the heatmap maxima).
 *   - A box that lies entirely outside the image is not run: its keypoints are NaN and its
 *     scores 0 (lite_hrnet.pipeline skips such boxes the same way).
 *
 * Model files: `.tflite` files exported by `lite-hrnet export` (they carry a `lite_hrnet`
 * JSON metadata entry that gives input size, mean/std, colour order, joints, flip pairs,
 * skeleton and heatmap stride): plain files (normalized float input N x H x W x 3, heatmaps
 * N x h x w x K out) and end-to-end files (uint8 RGB crop N x H x W x 3 in, N x K x 3 out:
 * x, y in crop pixels and score).
 *
 * Errors: every call that can fail returns an lhr_status; LHR_OK is 0. The message of a
 * failed lhr_model_open goes to `errbuf`; the message of any later failure is kept in the
 * model (lhr_model_last_error). Nothing aborts, nothing prints, there is no global state.
 *
 * Thread safety: a model handle is NOT safe for concurrent lhr_predict calls (it owns the
 * interpreter and its scratch buffers): use one handle per thread, or a lock. Distinct
 * handles are independent and may be used from different threads at the same time. The
 * metadata getters only read and may be called concurrently with each other (not with
 * lhr_model_close). lhr_model_last_error / lhr_model_last_timings describe the last call
 * on that handle, so read them from the thread that made it.
 */
#ifndef LITEHRNET_H
#define LITEHRNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LHR_API __declspec(dllexport)
#else
#define LHR_API __attribute__((visibility("default")))
#endif

#define LHR_VERSION "0.1.0"

/* Suggested size of the error buffer given to lhr_model_open. Longer messages are cut. */
#define LHR_ERROR_SIZE 512

typedef enum lhr_status {
    LHR_OK = 0,
    LHR_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, bad size/stride/format, a bad box */
    LHR_ERR_IO = 2,               /* the model file is missing or cannot be read */
    LHR_ERR_BAD_MODEL = 3,        /* not a TFLite file, no/invalid lite_hrnet metadata, unsupported tensors */
    LHR_ERR_RUNTIME = 4,          /* LiteRT failed to load, compile or run the model */
    LHR_ERR_NO_MEMORY = 5         /* an allocation failed */
} lhr_status;

typedef enum lhr_pixel_format {
    LHR_PIXEL_RGB = 0,
    LHR_PIXEL_BGR = 1,
    LHR_PIXEL_RGBA = 2
} lhr_pixel_format;

/* Milliseconds spent in the parts of the last successful lhr_predict (wall clock). */
typedef struct lhr_timings {
    double crop_ms;      /* box to center/scale, affine warp, normalization into the input tensor */
    double inference_ms; /* the interpreter call(s) */
    double decode_ms;    /* heatmap decoding (or reading end-to-end output) and mapping back */
    int persons;         /* boxes run (those overlapping the image) */
    int batches;         /* interpreter calls made */
} lhr_timings;

typedef struct lhr_model lhr_model;

/* Library version, e.g. "0.1.0". */
LHR_API const char *lhr_version(void);

/* Open a .tflite model exported by lite-hrnet.
 *   path:        the .tflite file (plain or end-to-end).
 *   threads:     CPU threads for LiteRT; <= 0 lets LiteRT choose.
 *   out_model:   receives the handle (NULL on failure).
 *   errbuf:      optional (may be NULL); receives a one-line message naming the file on failure.
 * Returns LHR_OK, LHR_ERR_IO, LHR_ERR_BAD_MODEL, LHR_ERR_RUNTIME, LHR_ERR_NO_MEMORY or
 * LHR_ERR_INVALID_ARGUMENT. */
LHR_API lhr_status lhr_model_open(const char *path, int threads, lhr_model **out_model, char *errbuf,
                                  size_t errbuf_size);

/* Free the model (NULL is allowed). */
LHR_API void lhr_model_close(lhr_model *model);

/* Message of the last failed call on this model ("" if none); valid until the next call. */
LHR_API const char *lhr_model_last_error(const lhr_model *model);

/* ---- metadata (from the file's lite_hrnet entry); on a NULL model: 0 / NULL ---- */
LHR_API int lhr_model_input_height(const lhr_model *model);
LHR_API int lhr_model_input_width(const lhr_model *model);
LHR_API int lhr_model_num_joints(const lhr_model *model);
/* Joint name k (0 <= k < num_joints), or NULL. */
LHR_API const char *lhr_model_joint_name(const lhr_model *model, int k);
LHR_API int lhr_model_num_flip_pairs(const lhr_model *model);
/* Left/right joint indices of flip pair i. */
LHR_API lhr_status lhr_model_flip_pair(const lhr_model *model, int i, int *a, int *b);
LHR_API int lhr_model_num_skeleton_edges(const lhr_model *model);
LHR_API lhr_status lhr_model_skeleton_edge(const lhr_model *model, int i, int *a, int *b);
/* Normalization the network expects, on 0-255 values in `color_order` (3 floats each). */
LHR_API lhr_status lhr_model_mean_std(const lhr_model *model, float mean[3], float std[3]);
/* "RGB" or "BGR": the channel order of the network input. */
LHR_API const char *lhr_model_color_order(const lhr_model *model);
/* Input pixels per heatmap pixel (4 for Lite-HRNet). */
LHR_API int lhr_model_heatmap_stride(const lhr_model *model);
/* 1 for an end-to-end file (uint8 crop in, keypoints out), 0 for a plain one. */
LHR_API int lhr_model_is_end_to_end(const lhr_model *model);
/* The registered model name, e.g. "litehrnet_18_coco_256x192". */
LHR_API const char *lhr_model_name(const lhr_model *model);
/* The whole lite_hrnet metadata JSON as stored in the file (UTF-8). */
LHR_API const char *lhr_model_metadata_json(const lhr_model *model);
/* Most persons run in one interpreter call (1 when the file's batch cannot be resized). */
LHR_API int lhr_model_max_batch(const lhr_model *model);

/* Keypoints of the persons in `boxes`.
 *   pixels, width, height, row_stride, format: the image (see Conventions).
 *   boxes:         num_boxes x 4 floats (x1, y1, x2, y2); may be NULL when num_boxes == 0.
 *   out_keypoints: num_boxes x K x 2 floats, written.
 *   out_scores:    num_boxes x K floats, written (may be NULL).
 * A box with NaN/infinite values or zero/negative width or height is an error
 * (LHR_ERR_INVALID_ARGUMENT naming the box); num_boxes == 0 returns LHR_OK and writes nothing. */
LHR_API lhr_status lhr_predict(lhr_model *model, const uint8_t *pixels, int width, int height, int row_stride,
                               lhr_pixel_format format, const float *boxes, int num_boxes, float *out_keypoints,
                               float *out_scores);

/* Timings of the last successful lhr_predict on this model. */
LHR_API lhr_status lhr_model_last_timings(const lhr_model *model, lhr_timings *out);

#ifdef __cplusplus
}
#endif

#endif /* LITEHRNET_H */

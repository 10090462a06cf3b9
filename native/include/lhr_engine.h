/*
 * lhr_engine.h - a hand-written fp32 CPU engine for Lite-HRNet, in C11, with no runtime underneath.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Lite-HRNet spends most of its time in a general runtime moving data: channel split, concat and
 * shuffle, layout reorders, upsampling before products. This engine runs a program written by
 * `lite_hrnet.export.engine_program` (a `.lhrn` file) in which every tensor is a list of channel planes,
 * so split, concat and shuffle are free (they only re-list planes), the cross-resolution product
 * is done inside the depthwise convolution that follows it, and 1x1 convolutions are register-
 * blocked matrix products that read their input planes wherever they are.
 *
 * The API (all of it):
 *
 *   lhr_engine_open(path, &engine, errbuf, errbuf_size)
 *   lhr_engine_close(engine)
 *   lhr_engine_input_shape(engine, &channels, &height, &width)    3 x H x W
 *   lhr_engine_output_shape(engine, &channels, &height, &width)   K x H/4 x W/4
 *   lhr_engine_metadata_json(engine)     the exporter's lite_hrnet metadata (JSON text)
 *   lhr_engine_run(engine, input, output)
 *   lhr_engine_num_ops(engine), lhr_engine_op_kind(engine, i), lhr_engine_run_profiled(engine, input, output, seconds)
 *                                        the same run, timing each op (for benchmarks)
 *
 * Tensors are one image, planar float32 (C x H x W, row-major): the input is the normalized
 * RGB crop, the output the heatmaps. A batch is a loop over images (the engine's time is
 * arithmetic, not call overhead). Status codes are those of litehrnet.h (LHR_OK is 0).
 *
 * Thread safety: an engine owns its scratch memory; run it from one thread at a time (open one
 * engine per thread to run images in parallel). Nothing aborts, nothing prints, no global state.
 */
#ifndef LHR_ENGINE_H
#define LHR_ENGINE_H

#include <stddef.h>

#include "litehrnet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lhr_engine lhr_engine;

/* Read and check a .lhrn program. On failure *engine is NULL and errbuf holds one line naming
 * the file and the problem. Returns LHR_OK, LHR_ERR_IO, LHR_ERR_BAD_MODEL, LHR_ERR_NO_MEMORY or
 * LHR_ERR_INVALID_ARGUMENT. */
LHR_API lhr_status lhr_engine_open(const char *path, lhr_engine **engine, char *errbuf, size_t errbuf_size);

LHR_API void lhr_engine_close(lhr_engine *engine);

LHR_API void lhr_engine_input_shape(const lhr_engine *engine, int *channels, int *height, int *width);
LHR_API void lhr_engine_output_shape(const lhr_engine *engine, int *channels, int *height, int *width);

/* The metadata the exporter stored (a JSON object, NUL-terminated; "{}" when none). */
LHR_API const char *lhr_engine_metadata_json(const lhr_engine *engine);

/* One image: `input` is 3 x H x W floats, `output` K x H/4 x W/4 floats (shapes from the getters).
 * Returns LHR_OK or LHR_ERR_INVALID_ARGUMENT (a NULL pointer). */
LHR_API lhr_status lhr_engine_run(lhr_engine *engine, const float *input, float *output);

/* The program's op count, and the kind of op i: "conv", "depthwise", "pointwise", "pool", "scale",
 * "sum" or "bilinear_add" (NULL when i is out of range). */
LHR_API int lhr_engine_num_ops(const lhr_engine *engine);
LHR_API const char *lhr_engine_op_kind(const lhr_engine *engine, int op);

/* lhr_engine_run, also writing each op's wall time (seconds, monotonic clock) to op_seconds
 * (lhr_engine_num_ops entries). Returns LHR_OK or LHR_ERR_INVALID_ARGUMENT (a NULL pointer). */
LHR_API lhr_status lhr_engine_run_profiled(lhr_engine *engine, const float *input, float *output, double *op_seconds);

#ifdef __cplusplus
}
#endif

#endif /* LHR_ENGINE_H */

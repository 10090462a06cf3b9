/*
 * liblitehrnet: the top-down pose pipeline of lite_hrnet.pipeline over LiteRT's C API.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lhr_internal.h"
#include "litert_api.h"

/* Most persons per interpreter call: bounds the input buffer (16 x 384 x 288 x 3 floats = 21 MB). */
#define LHR_MAX_BATCH 16
#define LHR_ERR_LEN 512
/* Box padding of lite_hrnet.pipeline (mmpose's 1.25). */
#define LHR_BOX_PADDING 1.25

struct lhr_model {
    char path[256];
    uint8_t *file; /* the .tflite bytes; LiteRT reads the model from them, so they live as long */
    size_t file_size;
    lhr_metadata meta;

    LiteRtEnvironment env;
    LiteRtModel litert_model;
    LiteRtCompiledModel compiled;

    int hm_h, hm_w;   /* heatmap size from the output tensor (plain files) */
    int batch;        /* the input's current batch dimension */
    int max_batch;    /* persons per call: LHR_MAX_BATCH when the batch resizes, else the file's batch */
    int resizable;
    size_t in_person; /* input elements per person */
    size_t out_person;
    void *in_buf;   /* max_batch persons, aligned for LiteRT */
    float *out_buf; /* max_batch persons */
    float *coords;  /* K x 2 decoded coordinates of one person */
    float *scores;  /* K scores, when the caller wants none */
    LiteRtTensorBuffer in_tb, out_tb; /* wrap in_buf / out_buf for the current batch */
    int tb_batch;

    lhr_timings timings;
    char error[LHR_ERR_LEN];
};

const char *lhr_version(void) { return LHR_VERSION; }

static const char *litert_status_name(LiteRtStatus s) {
    switch (s) {
    case 1: return "invalid argument";
    case 2: return "memory allocation failure";
    case 3: return "runtime failure";
    case 4: return "missing input tensor";
    case 5: return "unsupported";
    case 6: return "not found";
    case 500: return "file I/O error";
    case 501: return "invalid flatbuffer";
    case 504: return "compilation error";
    default: return "error";
    }
}

static void *aligned_buffer(size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + LHR_LITERT_HOST_ALIGNMENT - 1) / LHR_LITERT_HOST_ALIGNMENT * LHR_LITERT_HOST_ALIGNMENT;
    if (posix_memalign(&p, LHR_LITERT_HOST_ALIGNMENT, rounded ? rounded : LHR_LITERT_HOST_ALIGNMENT) != 0) return NULL;
    memset(p, 0, rounded);
    return p;
}

static void release_tensor_buffers(lhr_model *m) {
    if (m->in_tb != NULL) LiteRtDestroyTensorBuffer(m->in_tb);
    if (m->out_tb != NULL) LiteRtDestroyTensorBuffer(m->out_tb);
    m->in_tb = m->out_tb = NULL;
    m->tb_batch = 0;
}

void lhr_model_close(lhr_model *model) {
    if (model == NULL) return;
    release_tensor_buffers(model);
    if (model->compiled != NULL) LiteRtDestroyCompiledModel(model->compiled);
    if (model->litert_model != NULL) LiteRtDestroyModel(model->litert_model);
    if (model->env != NULL) LiteRtDestroyEnvironment(model->env);
    lhr_metadata_free(&model->meta);
    free(model->file);
    free(model->in_buf);
    free(model->out_buf);
    free(model->coords);
    free(model->scores);
    free(model);
}

const char *lhr_model_last_error(const lhr_model *model) { return model != NULL ? model->error : "model is NULL"; }

/* Read the whole file; LHR_ERR_IO when it cannot be read, LHR_ERR_BAD_MODEL when empty. */
static lhr_status read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        lhr_set_error(err, err_size, "%s: cannot open model file (%s)", path, strerror(errno));
        return LHR_ERR_IO;
    }
    lhr_status status = LHR_ERR_IO;
    long end = -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        lhr_set_error(err, err_size, "%s: cannot read model file (not a regular file)", path);
        goto out;
    }
    if (fseek(f, 0, SEEK_END) == 0) end = ftell(f);
    if (end < 0 || fseek(f, 0, SEEK_SET) != 0) {
        lhr_set_error(err, err_size, "%s: cannot read model file (not a regular file?)", path);
        goto out;
    }
    if (end == 0) {
        lhr_set_error(err, err_size, "%s: empty file (0 bytes), not a TFLite model", path);
        status = LHR_ERR_BAD_MODEL;
        goto out;
    }
    *data = aligned_buffer((size_t)end);
    if (*data == NULL) {
        lhr_set_error(err, err_size, "%s: out of memory reading %ld bytes", path, end);
        status = LHR_ERR_NO_MEMORY;
        goto out;
    }
    if (fread(*data, 1, (size_t)end, f) != (size_t)end) {
        lhr_set_error(err, err_size, "%s: cannot read model file (%s)", path, strerror(errno));
        free(*data);
        *data = NULL;
        goto out;
    }
    *size = (size_t)end;
    status = LHR_OK;
out:
    fclose(f);
    return status;
}

static void noop_free(void *p) { (void)p; }

/* The CPU accelerator's thread count: an opaque option "xnnpack" with a TOML payload. */
static lhr_status set_threads(LiteRtOptions options, int threads, char *err, size_t err_size, const char *path) {
    if (threads <= 0) return LHR_OK;
    char *payload = malloc(48);
    if (payload == NULL) {
        lhr_set_error(err, err_size, "%s: out of memory", path);
        return LHR_ERR_NO_MEMORY;
    }
    snprintf(payload, 48, "num_threads = %d\n", threads);
    LiteRtOpaqueOptions opaque = NULL;
    LiteRtStatus s = LiteRtCreateOpaqueOptions("xnnpack", payload, free, &opaque);
    if (s != LHR_LITERT_OK) {
        free(payload);
        lhr_set_error(err, err_size, "%s: LiteRT rejected the CPU options (status %d, %s)", path, s, litert_status_name(s));
        return LHR_ERR_RUNTIME;
    }
    s = LiteRtAddOpaqueOptions(options, opaque);
    if (s != LHR_LITERT_OK) {
        LiteRtDestroyOpaqueOptions(opaque);
        lhr_set_error(err, err_size, "%s: LiteRT rejected the CPU options (status %d, %s)", path, s, litert_status_name(s));
        return LHR_ERR_RUNTIME;
    }
    return LHR_OK;
}

/* The input dimensions for `batch` persons in the file's layout. */
static void input_dims(const lhr_model *m, int batch, int dims[4]) {
    dims[0] = batch;
    if (m->meta.channels_last) {
        dims[1] = m->meta.input_h;
        dims[2] = m->meta.input_w;
        dims[3] = 3;
    } else {
        dims[1] = 3;
        dims[2] = m->meta.input_h;
        dims[3] = m->meta.input_w;
    }
}

/* Check the output layout against the metadata; sets hm_h/hm_w and out_person. */
static lhr_status check_output(lhr_model *m, const LiteRtLayout *out, int batch, char *err, size_t err_size) {
    const int k = m->meta.num_joints;
    if (m->meta.end_to_end) {
        if (out->rank != 3 || out->dimensions[0] != batch || out->dimensions[1] != k || out->dimensions[2] != 3) {
            lhr_set_error(err, err_size, "%s: end-to-end output is not %d x %d x 3 (rank %u: %d x %d x %d)", m->path,
                          batch, k, out->rank, out->dimensions[0], out->dimensions[1], out->dimensions[2]);
            return LHR_ERR_BAD_MODEL;
        }
        m->out_person = (size_t)k * 3;
        return LHR_OK;
    }
    int ch_axis = m->meta.channels_last ? 3 : 1;
    int h_axis = m->meta.channels_last ? 1 : 2;
    if (out->rank != 4 || out->dimensions[0] != batch || out->dimensions[ch_axis] != k ||
        out->dimensions[h_axis] <= 0 || out->dimensions[h_axis + 1] <= 0) {
        lhr_set_error(err, err_size,
                      "%s: output is not %s heatmaps with %d joints (rank %u: %d x %d x %d x %d)", m->path,
                      m->meta.channels_last ? "N x h x w x K" : "N x K x h x w", k, out->rank, out->dimensions[0],
                      out->dimensions[1], out->dimensions[2], out->dimensions[3]);
        return LHR_ERR_BAD_MODEL;
    }
    if ((int64_t)out->dimensions[h_axis] * out->dimensions[h_axis + 1] * k > INT32_MAX) {
        lhr_set_error(err, err_size, "%s: heatmaps of %d x %d x %d values are too large", m->path,
                      out->dimensions[h_axis], out->dimensions[h_axis + 1], k);
        return LHR_ERR_BAD_MODEL;
    }
    m->hm_h = out->dimensions[h_axis];
    m->hm_w = out->dimensions[h_axis + 1];
    m->out_person = (size_t)k * (size_t)m->hm_h * (size_t)m->hm_w;
    return LHR_OK;
}

/* Resize the batch dimension to `batch`; LHR_OK when the input and output follow. */
static lhr_status resize_batch(lhr_model *m, int batch) {
    if (batch == m->batch) return LHR_OK;
    int dims[4];
    input_dims(m, batch, dims);
    LiteRtStatus s = LiteRtCompiledModelResizeInputTensor(m->compiled, 0, 0, dims, 4);
    if (s != LHR_LITERT_OK) s = LiteRtCompiledModelResizeInputTensorNonStrict(m->compiled, 0, 0, dims, 4);
    if (s != LHR_LITERT_OK) return LHR_ERR_RUNTIME;
    LiteRtLayout out;
    memset(&out, 0, sizeof out);
    s = LiteRtGetCompiledModelOutputTensorLayouts(m->compiled, 0, 1, &out, true);
    if (s != LHR_LITERT_OK || check_output(m, &out, batch, NULL, 0) != LHR_OK) return LHR_ERR_RUNTIME;
    m->batch = batch;
    release_tensor_buffers(m);
    return LHR_OK;
}

static lhr_status ensure_tensor_buffers(lhr_model *model);

/* Resize to `batch` and run once on zeros: some runtimes accept a resize and fail at the next run. */
static lhr_status probe_batch(lhr_model *m, int batch) {
    if (resize_batch(m, batch) != LHR_OK) return LHR_ERR_RUNTIME;
    size_t in_elem = m->meta.end_to_end ? 1 : sizeof(float);
    m->in_buf = aligned_buffer(m->in_person * in_elem * (size_t)batch);
    m->out_buf = aligned_buffer(m->out_person * sizeof(float) * (size_t)batch);
    lhr_status status = LHR_ERR_NO_MEMORY;
    if (m->in_buf != NULL && m->out_buf != NULL) {
        status = ensure_tensor_buffers(m);
        if (status == LHR_OK &&
            LiteRtRunCompiledModel(m->compiled, 0, 1, &m->in_tb, 1, &m->out_tb) != LHR_LITERT_OK)
            status = LHR_ERR_RUNTIME;
    }
    release_tensor_buffers(m);
    free(m->in_buf);
    free(m->out_buf);
    m->in_buf = NULL;
    m->out_buf = NULL;
    m->error[0] = '\0';
    return status;
}

lhr_status lhr_model_open(const char *path, int threads, lhr_model **out_model, char *errbuf, size_t errbuf_size) {
    if (out_model != NULL) *out_model = NULL;
    if (path == NULL || out_model == NULL) {
        lhr_set_error(errbuf, errbuf_size, "lhr_model_open: %s is NULL", path == NULL ? "path" : "out_model");
        return LHR_ERR_INVALID_ARGUMENT;
    }
    lhr_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        lhr_set_error(errbuf, errbuf_size, "%s: out of memory", path);
        return LHR_ERR_NO_MEMORY;
    }
    snprintf(m->path, sizeof m->path, "%s", path);
    char err[LHR_ERR_LEN] = "";
    lhr_status status = read_file(path, &m->file, &m->file_size, err, sizeof err);
    if (status != LHR_OK) goto fail;

    const uint8_t *blob = NULL;
    size_t blob_size = 0;
    char why[300];
    status = lhr_tflite_metadata(m->file, m->file_size, "lite_hrnet", &blob, &blob_size, why, sizeof why);
    while (status == LHR_OK && blob_size > 0 && (blob[blob_size - 1] == '\0' || blob[blob_size - 1] == '\n'))
        blob_size--;
    if (status == LHR_OK) status = lhr_metadata_parse((const char *)blob, blob_size, &m->meta, why, sizeof why);
    if (status == LHR_OK) status = lhr_tflite_check_graph(m->file, m->file_size, why, sizeof why);
    if (status != LHR_OK) {
        lhr_set_error(err, sizeof err, "%s: %s", path, why);
        goto fail;
    }
    const lhr_metadata *meta = &m->meta;
    if (meta->end_to_end && strcmp(meta->color_order, "RGB") != 0) {
        lhr_set_error(err, sizeof err, "%s: end-to-end file with color order %s (expected RGB)", path, meta->color_order);
        status = LHR_ERR_BAD_MODEL;
        goto fail;
    }
    if (meta->end_to_end && !meta->channels_last) {
        lhr_set_error(err, sizeof err, "%s: end-to-end file with layout NCHW (expected NHWC)", path);
        status = LHR_ERR_BAD_MODEL;
        goto fail;
    }

    status = LHR_ERR_RUNTIME;
    LiteRtStatus s = LiteRtCreateEnvironment(0, NULL, &m->env);
    if (s != LHR_LITERT_OK) {
        lhr_set_error(err, sizeof err, "%s: LiteRT environment failed (status %d, %s)", path, s, litert_status_name(s));
        goto fail;
    }
    s = LiteRtCreateModelFromBuffer(m->env, m->file, m->file_size, &m->litert_model);
    if (s != LHR_LITERT_OK) {
        lhr_set_error(err, sizeof err, "%s: LiteRT cannot load the model (status %d, %s)", path, s, litert_status_name(s));
        status = LHR_ERR_BAD_MODEL;
        goto fail;
    }
    LiteRtOptions options = NULL;
    s = LiteRtCreateOptions(&options);
    if (s == LHR_LITERT_OK) s = LiteRtSetOptionsHardwareAccelerators(options, LHR_LITERT_HW_CPU);
    if (s != LHR_LITERT_OK) {
        if (options != NULL) LiteRtDestroyOptions(options);
        lhr_set_error(err, sizeof err, "%s: LiteRT options failed (status %d, %s)", path, s, litert_status_name(s));
        goto fail;
    }
    status = set_threads(options, threads, err, sizeof err, path);
    if (status == LHR_OK) {
        s = LiteRtCreateCompiledModel(m->env, m->litert_model, options, &m->compiled);
        if (s != LHR_LITERT_OK) {
            lhr_set_error(err, sizeof err, "%s: LiteRT cannot compile the model (status %d, %s)", path, s,
                          litert_status_name(s));
            status = LHR_ERR_RUNTIME;
        }
    }
    LiteRtDestroyOptions(options);
    if (status != LHR_OK) goto fail;

    /* The input must be what the metadata says: this also checks that our LiteRtLayout
     * declaration matches the library's. */
    status = LHR_ERR_BAD_MODEL;
    LiteRtLayout in;
    memset(&in, 0, sizeof in);
    s = LiteRtGetCompiledModelInputTensorLayout(m->compiled, 0, 0, &in);
    int want[4];
    input_dims(m, 1, want);
    if (s != LHR_LITERT_OK || in.rank != 4 || in.dimensions[0] < 1 || in.dimensions[0] > LHR_MAX_BATCH ||
        in.dimensions[1] != want[1] || in.dimensions[2] != want[2] || in.dimensions[3] != want[3]) {
        lhr_set_error(err, sizeof err,
                      "%s: the model input (rank %u: %d x %d x %d x %d) is not the %s %d x %d x 3 image the metadata "
                      "describes (or LiteRT's C API differs from the pinned ai-edge-litert version)",
                      path, in.rank, in.dimensions[0], in.dimensions[1], in.dimensions[2], in.dimensions[3],
                      meta->channels_last ? "NHWC" : "NCHW", meta->input_h, meta->input_w);
        goto fail;
    }
    m->batch = in.dimensions[0];
    LiteRtLayout out;
    memset(&out, 0, sizeof out);
    s = LiteRtGetCompiledModelOutputTensorLayouts(m->compiled, 0, 1, &out, false);
    if (s != LHR_LITERT_OK) {
        lhr_set_error(err, sizeof err, "%s: cannot read the output shape (status %d, %s)", path, s, litert_status_name(s));
        goto fail;
    }
    status = check_output(m, &out, m->batch, err, sizeof err);
    if (status != LHR_OK) goto fail;

    /* All persons of a frame in one call where the batch dimension resizes: files exported
     * with a dynamic batch (metadata "batch": "dynamic"), checked by running a batch of 2. */
    m->in_person = (size_t)meta->input_h * (size_t)meta->input_w * 3;
    int first_batch = m->batch;
    m->max_batch = first_batch;
    if (meta->fixed_batch == 0 && probe_batch(m, first_batch == 1 ? 2 : 1) == LHR_OK) {
        m->resizable = 1;
        m->max_batch = LHR_MAX_BATCH;
    } else if (m->batch != first_batch && resize_batch(m, first_batch) != LHR_OK) {
        lhr_set_error(err, sizeof err, "%s: cannot restore the input batch to %d after a failed resize", path, first_batch);
        status = LHR_ERR_RUNTIME;
        goto fail;
    }

    status = LHR_ERR_NO_MEMORY;
    size_t in_elem = meta->end_to_end ? 1 : sizeof(float);
    m->in_buf = aligned_buffer(m->in_person * in_elem * (size_t)m->max_batch);
    m->out_buf = aligned_buffer(m->out_person * sizeof(float) * (size_t)m->max_batch);
    m->coords = malloc(sizeof(float) * 2 * (size_t)meta->num_joints);
    m->scores = malloc(sizeof(float) * (size_t)meta->num_joints);
    if (m->in_buf == NULL || m->out_buf == NULL || m->coords == NULL || m->scores == NULL) {
        lhr_set_error(err, sizeof err, "%s: out of memory for the input/output buffers", path);
        goto fail;
    }
    *out_model = m;
    return LHR_OK;
fail:
    lhr_set_error(errbuf, errbuf_size, "%s", err);
    lhr_model_close(m);
    return status;
}

/* ------------------------------------------------------------------ metadata getters */

int lhr_model_input_height(const lhr_model *m) { return m ? m->meta.input_h : 0; }
int lhr_model_input_width(const lhr_model *m) { return m ? m->meta.input_w : 0; }
int lhr_model_num_joints(const lhr_model *m) { return m ? m->meta.num_joints : 0; }
int lhr_model_heatmap_stride(const lhr_model *m) { return m ? m->meta.heatmap_stride : 0; }
int lhr_model_is_end_to_end(const lhr_model *m) { return m ? m->meta.end_to_end : 0; }
int lhr_model_max_batch(const lhr_model *m) { return m ? m->max_batch : 0; }
int lhr_model_num_flip_pairs(const lhr_model *m) { return m ? m->meta.num_flip_pairs : 0; }
int lhr_model_num_skeleton_edges(const lhr_model *m) { return m ? m->meta.num_skeleton : 0; }
const char *lhr_model_name(const lhr_model *m) { return m ? m->meta.model_name : NULL; }
const char *lhr_model_metadata_json(const lhr_model *m) { return m ? m->meta.json : NULL; }
const char *lhr_model_color_order(const lhr_model *m) { return m ? m->meta.color_order : NULL; }

const char *lhr_model_joint_name(const lhr_model *m, int k) {
    return (m != NULL && k >= 0 && k < m->meta.num_joints) ? m->meta.joint_names[k] : NULL;
}

static lhr_status get_pair(const int *pairs, int count, int i, int *a, int *b) {
    if (pairs == NULL || i < 0 || i >= count || a == NULL || b == NULL) return LHR_ERR_INVALID_ARGUMENT;
    *a = pairs[2 * i];
    *b = pairs[2 * i + 1];
    return LHR_OK;
}

lhr_status lhr_model_flip_pair(const lhr_model *m, int i, int *a, int *b) {
    return m ? get_pair(m->meta.flip_pairs, m->meta.num_flip_pairs, i, a, b) : LHR_ERR_INVALID_ARGUMENT;
}

lhr_status lhr_model_skeleton_edge(const lhr_model *m, int i, int *a, int *b) {
    return m ? get_pair(m->meta.skeleton, m->meta.num_skeleton, i, a, b) : LHR_ERR_INVALID_ARGUMENT;
}

lhr_status lhr_model_mean_std(const lhr_model *m, float mean[3], float std[3]) {
    if (m == NULL || mean == NULL || std == NULL) return LHR_ERR_INVALID_ARGUMENT;
    memcpy(mean, m->meta.mean, sizeof m->meta.mean);
    memcpy(std, m->meta.std, sizeof m->meta.std);
    return LHR_OK;
}

lhr_status lhr_model_last_timings(const lhr_model *m, lhr_timings *out) {
    if (m == NULL || out == NULL) return LHR_ERR_INVALID_ARGUMENT;
    *out = m->timings;
    return LHR_OK;
}

/* ------------------------------------------------------------------ predict */

#define FAIL(code, ...)                                            \
    do {                                                           \
        lhr_set_error(model->error, sizeof model->error, __VA_ARGS__); \
        return (code);                                             \
    } while (0)

/* Tensor buffers wrapping in_buf / out_buf for the current batch. */
static lhr_status ensure_tensor_buffers(lhr_model *model) {
    if (model->tb_batch == model->batch && model->in_tb != NULL) return LHR_OK;
    release_tensor_buffers(model);
    LiteRtRankedTensorType in_type, out_type;
    memset(&in_type, 0, sizeof in_type);
    memset(&out_type, 0, sizeof out_type);
    int dims[4];
    input_dims(model, model->batch, dims);
    in_type.element_type = model->meta.end_to_end ? LHR_LITERT_ELEMENT_UINT8 : LHR_LITERT_ELEMENT_FLOAT32;
    in_type.layout.rank = 4;
    for (int i = 0; i < 4; ++i) in_type.layout.dimensions[i] = dims[i];
    out_type.element_type = LHR_LITERT_ELEMENT_FLOAT32;
    LiteRtStatus s = LiteRtGetCompiledModelOutputTensorLayouts(model->compiled, 0, 1, &out_type.layout, false);
    if (s != LHR_LITERT_OK) FAIL(LHR_ERR_RUNTIME, "%s: cannot read the output shape (status %d)", model->path, s);
    size_t in_bytes = model->in_person * (size_t)model->batch * (model->meta.end_to_end ? 1 : sizeof(float));
    size_t out_bytes = model->out_person * (size_t)model->batch * sizeof(float);
    s = LiteRtCreateTensorBufferFromHostMemory(&in_type, model->in_buf, in_bytes, noop_free, &model->in_tb);
    if (s == LHR_LITERT_OK)
        s = LiteRtCreateTensorBufferFromHostMemory(&out_type, model->out_buf, out_bytes, noop_free, &model->out_tb);
    if (s != LHR_LITERT_OK) {
        release_tensor_buffers(model);
        FAIL(LHR_ERR_RUNTIME, "%s: LiteRT cannot wrap the input/output buffers (status %d, %s)", model->path, s,
             litert_status_name(s));
    }
    model->tb_batch = model->batch;
    return LHR_OK;
}

/* Warp person `slot`'s crop into the input buffer, in the file's layout and type. */
static void fill_input(lhr_model *model, int slot, const uint8_t *pixels, int width, int height, int row_stride,
                       int channels, const int channel_map[3], const double m[6]) {
    const int h = model->meta.input_h, w = model->meta.input_w;
    if (model->meta.end_to_end) {
        uint8_t *dst = (uint8_t *)model->in_buf + (size_t)slot * model->in_person;
        lhr_warp_bilinear(pixels, width, height, row_stride, channels, channel_map, m, dst, w, h, LHR_SIMD_BEST);
        return;
    }
    float *dst = (float *)model->in_buf + (size_t)slot * model->in_person;
    lhr_warp_normalize(pixels, width, height, row_stride, channels, channel_map, m, model->meta.mean,
                       model->meta.std, !model->meta.channels_last, dst, w, h, LHR_SIMD_BEST);
}

lhr_status lhr_predict(lhr_model *model, const uint8_t *pixels, int width, int height, int row_stride,
                       lhr_pixel_format format, const float *boxes, int num_boxes, float *out_keypoints,
                       float *out_scores) {
    if (model == NULL) return LHR_ERR_INVALID_ARGUMENT;
    model->error[0] = '\0';
    if (num_boxes < 0) FAIL(LHR_ERR_INVALID_ARGUMENT, "lhr_predict: num_boxes is negative (%d)", num_boxes);
    if (num_boxes == 0) {
        memset(&model->timings, 0, sizeof model->timings);
        return LHR_OK;
    }
    if (pixels == NULL) FAIL(LHR_ERR_INVALID_ARGUMENT, "lhr_predict: pixels is NULL");
    if (boxes == NULL) FAIL(LHR_ERR_INVALID_ARGUMENT, "lhr_predict: boxes is NULL but num_boxes is %d", num_boxes);
    if (out_keypoints == NULL) FAIL(LHR_ERR_INVALID_ARGUMENT, "lhr_predict: out_keypoints is NULL");
    if (width <= 0 || height <= 0) FAIL(LHR_ERR_INVALID_ARGUMENT, "lhr_predict: image size %d x %d is empty", width, height);
    int channels;
    switch (format) {
    case LHR_PIXEL_RGB:
    case LHR_PIXEL_BGR: channels = 3; break;
    case LHR_PIXEL_RGBA: channels = 4; break;
    default: FAIL(LHR_ERR_INVALID_ARGUMENT, "lhr_predict: unknown pixel format %d", (int)format);
    }
    if (width > (1 << 24) / channels || height > (1 << 24) || row_stride < width * channels)
        FAIL(LHR_ERR_INVALID_ARGUMENT, "lhr_predict: row_stride %d is less than width x channels (%d x %d) or the image is too large",
             row_stride, width, channels);
    for (int i = 0; i < num_boxes; ++i) {
        const float *b = boxes + 4 * (size_t)i;
        if (!isfinite(b[0]) || !isfinite(b[1]) || !isfinite(b[2]) || !isfinite(b[3]))
            FAIL(LHR_ERR_INVALID_ARGUMENT, "boxes[%d] has NaN or infinite values", i);
        if (!(b[2] > b[0]) || !(b[3] > b[1]))
            FAIL(LHR_ERR_INVALID_ARGUMENT,
                 "boxes[%d] = [%g, %g, %g, %g] has zero or negative area (boxes are x1, y1, x2, y2 with x2 > x1, y2 > y1)",
                 i, b[0], b[1], b[2], b[3]);
    }

    const int k = model->meta.num_joints;
    const int in_h = model->meta.input_h, in_w = model->meta.input_w;
    /* Source channel of each input channel, in the model's colour order. */
    const int red = format == LHR_PIXEL_BGR ? 2 : 0, blue = format == LHR_PIXEL_BGR ? 0 : 2;
    const int rgb = strcmp(model->meta.color_order, "RGB") == 0;
    const int channel_map[3] = {rgb ? red : blue, 1, rgb ? blue : red};
    const double aspect = (double)in_w / (double)in_h;

    lhr_timings t;
    memset(&t, 0, sizeof t);
    int kept[LHR_MAX_BATCH];
    float centers[LHR_MAX_BATCH][2], scales[LHR_MAX_BATCH][2];
    float *coords = model->coords;
    int next = 0;
    while (next < num_boxes) {
        /* Gather up to max_batch boxes that overlap the image. */
        double t0 = lhr_now_ms();
        int n = 0;
        for (; next < num_boxes && n < model->max_batch; ++next) {
            const float *b = boxes + 4 * (size_t)next;
            if (!lhr_box_overlaps_image(b, width, height)) {
                for (int j = 0; j < k; ++j) {
                    out_keypoints[((size_t)next * k + j) * 2] = NAN;
                    out_keypoints[((size_t)next * k + j) * 2 + 1] = NAN;
                    if (out_scores != NULL) out_scores[(size_t)next * k + j] = 0.0f;
                }
                continue;
            }
            kept[n++] = next;
        }
        if (n == 0) continue;
        if (model->resizable && n != model->batch && resize_batch(model, n) != LHR_OK) {
            /* The runtime refused this batch size: from now on, the current batch only. */
            model->resizable = 0;
            model->max_batch = model->batch;
            next = kept[0];
            continue;
        }
        lhr_status st = ensure_tensor_buffers(model);
        if (st != LHR_OK) return st;
        for (int i = 0; i < n; ++i) {
            double m[6];
            lhr_box_to_center_scale(boxes + 4 * (size_t)kept[i], aspect, LHR_BOX_PADDING, centers[i], scales[i]);
            lhr_crop_matrix(centers[i], scales[i], in_h, in_w, m);
            fill_input(model, i, pixels, width, height, row_stride, channels, channel_map, m);
        }
        double t1 = lhr_now_ms();
        LiteRtStatus s = LiteRtRunCompiledModel(model->compiled, 0, 1, &model->in_tb, 1, &model->out_tb);
        if (s != LHR_LITERT_OK)
            FAIL(LHR_ERR_RUNTIME, "%s: LiteRT inference failed (status %d, %s)", model->path, s, litert_status_name(s));
        void *host = NULL;
        s = LiteRtLockTensorBuffer(model->out_tb, &host, LHR_LITERT_LOCK_READ);
        if (s != LHR_LITERT_OK || host == NULL)
            FAIL(LHR_ERR_RUNTIME, "%s: cannot read the output (status %d, %s)", model->path, s, litert_status_name(s));
        double t2 = lhr_now_ms();
        const float *out = (const float *)host;
        for (int i = 0; i < n; ++i) {
            const size_t person = (size_t)kept[i];
            float *kp = out_keypoints + person * (size_t)k * 2;
            float *sc = out_scores != NULL ? out_scores + person * (size_t)k : model->scores;
            const float *o = out + (size_t)i * model->out_person;
            if (model->meta.end_to_end) {
                for (int j = 0; j < k; ++j) {
                    coords[2 * j] = o[3 * j];
                    coords[2 * j + 1] = o[3 * j + 1];
                    sc[j] = o[3 * j + 2];
                }
                lhr_map_to_image(coords, k, centers[i], scales[i], in_h, in_w, kp);
            } else {
                lhr_decode_heatmaps(o, k, model->hm_h, model->hm_w, model->meta.channels_last, coords, sc);
                lhr_map_to_image(coords, k, centers[i], scales[i], model->hm_h, model->hm_w, kp);
            }
        }
        LiteRtUnlockTensorBuffer(model->out_tb);
        double t3 = lhr_now_ms();
        t.crop_ms += t1 - t0;
        t.inference_ms += t2 - t1;
        t.decode_ms += t3 - t2;
        t.persons += n;
        t.batches += 1;
    }
    model->timings = t;
    return LHR_OK;
}

/*
 * A minimal, bounds-checked reader of the TFLite flatbuffer: just enough to find a named
 * metadata entry (Model.metadata[i].name -> Model.buffers[metadata[i].buffer].data).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Flatbuffer layout used here: a table starts with an int32 offset back to its vtable;
 * the vtable holds uint16 sizes then uint16 field offsets (0 = absent); an offset field
 * holds a uint32 distance forward to a vector/string/table; vectors and strings start
 * with a uint32 length. All little-endian. Every read is checked against the file size.
 */
#include <string.h>

#include "lhr_internal.h"

/* Model table fields (TFLite schema) */
enum { MODEL_BUFFERS = 4, MODEL_METADATA = 6 };
/* Metadata table fields */
enum { METADATA_NAME = 0, METADATA_BUFFER = 1 };
/* Buffer table fields */
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };

typedef struct {
    const uint8_t *data;
    size_t size;
} fb_file;

static int fb_u16(const fb_file *f, size_t pos, uint16_t *out) {
    if (pos > f->size || f->size - pos < 2) return 0;
    *out = (uint16_t)(f->data[pos] | (f->data[pos + 1] << 8));
    return 1;
}

static int fb_u32(const fb_file *f, size_t pos, uint32_t *out) {
    if (pos > f->size || f->size - pos < 4) return 0;
    *out = (uint32_t)f->data[pos] | ((uint32_t)f->data[pos + 1] << 8) | ((uint32_t)f->data[pos + 2] << 16) |
           ((uint32_t)f->data[pos + 3] << 24);
    return 1;
}

static int fb_u64(const fb_file *f, size_t pos, uint64_t *out) {
    uint32_t lo, hi;
    if (!fb_u32(f, pos, &lo) || pos > SIZE_MAX - 4 || !fb_u32(f, pos + 4, &hi)) return 0;
    *out = ((uint64_t)hi << 32) | lo;
    return 1;
}

/* Position of field `index` of the table at `table`, or 0 when absent; -1 on a bad vtable. */
static int fb_field(const fb_file *f, size_t table, int index, size_t *pos) {
    uint32_t raw;
    if (!fb_u32(f, table, &raw)) return -1;
    int64_t vtable = (int64_t)table - (int64_t)(int32_t)raw;
    if (vtable < 0 || (uint64_t)vtable >= f->size) return -1;
    uint16_t vsize, tsize, off;
    if (!fb_u16(f, (size_t)vtable, &vsize) || !fb_u16(f, (size_t)vtable + 2, &tsize)) return -1;
    if (vsize < 4 || (vsize & 1)) return -1;
    size_t entry = 4 + 2 * (size_t)index;
    if (entry + 2 > vsize) return 0; /* field newer than the writer: absent */
    if (!fb_u16(f, (size_t)vtable + entry, &off)) return -1;
    if (off == 0) return 0;
    if (off >= tsize || table > f->size || f->size - table < tsize) return -1;
    *pos = table + off;
    return 1;
}

/* Follow the uint32 offset stored at `pos`. */
static int fb_deref(const fb_file *f, size_t pos, size_t *target) {
    uint32_t rel;
    if (!fb_u32(f, pos, &rel)) return 0;
    if ((uint64_t)pos + rel >= f->size) return 0;
    *target = pos + rel;
    return 1;
}

/* A vector (or string) at `pos`: its length and the position of its first element, with
 * `elem` bytes per element checked to fit. */
static int fb_vector(const fb_file *f, size_t pos, size_t elem, uint32_t *len, size_t *first) {
    if (!fb_u32(f, pos, len)) return 0;
    size_t start = pos + 4;
    if ((uint64_t)*len * elem > (uint64_t)(f->size - start)) return 0;
    *first = start;
    return 1;
}

/* Field `index` of `table` as a vector: 0 absent, 1 found, -1 corrupt. */
static int fb_vector_field(const fb_file *f, size_t table, int index, size_t elem, uint32_t *len, size_t *first) {
    size_t pos, target;
    int found = fb_field(f, table, index, &pos);
    if (found <= 0) return found;
    if (!fb_deref(f, pos, &target) || !fb_vector(f, target, elem, len, first)) return -1;
    return 1;
}

lhr_status lhr_tflite_metadata(const uint8_t *data, size_t size, const char *name, const uint8_t **out,
                               size_t *out_size, char *err, size_t err_size) {
    if (data == NULL || name == NULL || out == NULL || out_size == NULL) {
        lhr_set_error(err, err_size, "lhr_tflite_metadata: NULL argument");
        return LHR_ERR_INVALID_ARGUMENT;
    }
    fb_file f = {data, size};
    if (size < 8 || memcmp(data + 4, "TFL3", 4) != 0) {
        lhr_set_error(err, err_size, "not a TFLite model (no TFL3 flatbuffer identifier)");
        return LHR_ERR_BAD_MODEL;
    }
    size_t root;
    if (!fb_deref(&f, 0, &root)) {
        lhr_set_error(err, err_size, "corrupt TFLite file (root offset outside the file)");
        return LHR_ERR_BAD_MODEL;
    }
    uint32_t n_meta, n_buffers;
    size_t meta_first, buffers_first;
    int found = fb_vector_field(&f, root, MODEL_METADATA, 4, &n_meta, &meta_first);
    if (found < 0) goto corrupt;
    if (found == 0) n_meta = 0;
    size_t name_len = strlen(name);
    for (uint32_t i = 0; i < n_meta; ++i) {
        size_t entry, name_pos, str_first;
        uint32_t str_len;
        if (!fb_deref(&f, meta_first + 4 * (size_t)i, &entry)) goto corrupt;
        int has_name = fb_field(&f, entry, METADATA_NAME, &name_pos);
        if (has_name < 0) goto corrupt;
        if (has_name == 0) continue;
        size_t str_pos;
        if (!fb_deref(&f, name_pos, &str_pos) || !fb_vector(&f, str_pos, 1, &str_len, &str_first)) goto corrupt;
        if (str_len != name_len || memcmp(data + str_first, name, name_len) != 0) continue;
        size_t buffer_field;
        uint32_t buffer_index = 0;
        int has_buffer = fb_field(&f, entry, METADATA_BUFFER, &buffer_field);
        if (has_buffer < 0 || (has_buffer == 1 && !fb_u32(&f, buffer_field, &buffer_index))) goto corrupt;
        int has_buffers = fb_vector_field(&f, root, MODEL_BUFFERS, 4, &n_buffers, &buffers_first);
        if (has_buffers <= 0 || buffer_index >= n_buffers) goto corrupt;
        size_t buffer;
        if (!fb_deref(&f, buffers_first + 4 * (size_t)buffer_index, &buffer)) goto corrupt;
        uint32_t data_len;
        size_t data_first;
        int has_data = fb_vector_field(&f, buffer, BUFFER_DATA, 1, &data_len, &data_first);
        if (has_data < 0) goto corrupt;
        if (has_data == 1 && data_len > 0) {
            *out = data + data_first;
            *out_size = data_len;
            return LHR_OK;
        }
        /* Models over 2 GB keep buffers after the flatbuffer: offset and size from the file start. */
        size_t off_pos, size_pos;
        uint64_t offset = 0, length = 0;
        if (fb_field(&f, buffer, BUFFER_OFFSET, &off_pos) == 1 && fb_field(&f, buffer, BUFFER_SIZE, &size_pos) == 1 &&
            fb_u64(&f, off_pos, &offset) && fb_u64(&f, size_pos, &length) && offset > 1 && length > 0 &&
            offset <= size && length <= size - offset) {
            *out = data + offset;
            *out_size = (size_t)length;
            return LHR_OK;
        }
        lhr_set_error(err, err_size, "the TFLite metadata entry '%s' has no data", name);
        return LHR_ERR_BAD_MODEL;
    }
    lhr_set_error(err, err_size, "no %s metadata in this TFLite file (not exported by lite-hrnet?)", name);
    return LHR_ERR_BAD_MODEL;
corrupt:
    lhr_set_error(err, err_size, "corrupt or truncated TFLite file (an offset points outside the file)");
    return LHR_ERR_BAD_MODEL;
}

/* Model.operator_codes / subgraphs; SubGraph.tensors / inputs / outputs / operators;
 * Operator.opcode_index / inputs / outputs; Tensor.buffer */
enum { MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3 };
enum { OPERATOR_OPCODE = 0, OPERATOR_INPUTS = 1, OPERATOR_OUTPUTS = 2 };
enum { TENSOR_BUFFER = 2 };

/* Every int32 of a vector field is a tensor index in [min_allowed, n_tensors). */
static int fb_indices_ok(const fb_file *f, size_t table, int field, uint32_t n_tensors, int32_t min_allowed,
                         uint32_t *count) {
    uint32_t len;
    size_t first;
    int found = fb_vector_field(f, table, field, 4, &len, &first);
    if (found < 0) return 0;
    *count = found ? len : 0;
    for (uint32_t i = 0; found && i < len; ++i) {
        uint32_t raw;
        if (!fb_u32(f, first + 4 * (size_t)i, &raw)) return 0;
        int32_t v = (int32_t)raw;
        if (v < min_allowed || (v >= 0 && (uint32_t)v >= n_tensors)) return 0;
    }
    return 1;
}

lhr_status lhr_tflite_check_graph(const uint8_t *data, size_t size, char *err, size_t err_size) {
    fb_file f = {data, size};
    size_t root, first, sub_first, sub;
    uint32_t n_codes = 0, n_subgraphs = 0, n_buffers = 0, n_tensors = 0, n_ops = 0, count;
    if (data == NULL || size < 8 || memcmp(data + 4, "TFL3", 4) != 0 || !fb_deref(&f, 0, &root)) {
        lhr_set_error(err, err_size, "not a TFLite model (no TFL3 flatbuffer identifier)");
        return LHR_ERR_BAD_MODEL;
    }
    int found = fb_vector_field(&f, root, MODEL_OPERATOR_CODES, 4, &n_codes, &first);
    if (found < 0) goto corrupt;
    found = fb_vector_field(&f, root, MODEL_SUBGRAPHS, 4, &n_subgraphs, &sub_first);
    if (found < 0) goto corrupt;
    if (found == 0 || n_subgraphs == 0) {
        lhr_set_error(err, err_size, "the TFLite file has no graph (no subgraphs)");
        return LHR_ERR_BAD_MODEL;
    }
    found = fb_vector_field(&f, root, MODEL_BUFFERS, 4, &n_buffers, &first);
    if (found < 0) goto corrupt;
    for (uint32_t s = 0; s < n_subgraphs; ++s) {
        size_t tensors_first, ops_first;
        if (!fb_deref(&f, sub_first + 4 * (size_t)s, &sub)) goto corrupt;
        found = fb_vector_field(&f, sub, SUBGRAPH_TENSORS, 4, &n_tensors, &tensors_first);
        if (found < 0) goto corrupt;
        if (found == 0) n_tensors = 0;
        for (uint32_t t = 0; t < n_tensors; ++t) {
            size_t tensor, pos;
            uint32_t buffer = 0;
            if (!fb_deref(&f, tensors_first + 4 * (size_t)t, &tensor)) goto corrupt;
            int has = fb_field(&f, tensor, TENSOR_BUFFER, &pos);
            if (has < 0 || (has == 1 && (!fb_u32(&f, pos, &buffer) || buffer >= n_buffers))) goto corrupt;
        }
        if (!fb_indices_ok(&f, sub, SUBGRAPH_INPUTS, n_tensors, 0, &count)) goto corrupt;
        if (s == 0 && count == 0) {
            lhr_set_error(err, err_size, "the TFLite graph has no inputs");
            return LHR_ERR_BAD_MODEL;
        }
        if (!fb_indices_ok(&f, sub, SUBGRAPH_OUTPUTS, n_tensors, 0, &count)) goto corrupt;
        if (s == 0 && count == 0) {
            lhr_set_error(err, err_size, "the TFLite graph has no outputs");
            return LHR_ERR_BAD_MODEL;
        }
        found = fb_vector_field(&f, sub, SUBGRAPH_OPERATORS, 4, &n_ops, &ops_first);
        if (found < 0) goto corrupt;
        if (found == 0) n_ops = 0;
        if (s == 0 && n_ops == 0) {
            lhr_set_error(err, err_size, "the TFLite graph has no operators");
            return LHR_ERR_BAD_MODEL;
        }
        for (uint32_t o = 0; o < n_ops; ++o) {
            size_t op, pos;
            uint32_t code = 0;
            if (!fb_deref(&f, ops_first + 4 * (size_t)o, &op)) goto corrupt;
            int has = fb_field(&f, op, OPERATOR_OPCODE, &pos);
            if (has < 0 || (has == 1 && !fb_u32(&f, pos, &code)) || code >= n_codes) goto corrupt;
            /* -1 marks an omitted optional input */
            if (!fb_indices_ok(&f, op, OPERATOR_INPUTS, n_tensors, -1, &count)) goto corrupt;
            if (!fb_indices_ok(&f, op, OPERATOR_OUTPUTS, n_tensors, 0, &count)) goto corrupt;
        }
    }
    return LHR_OK;
corrupt:
    lhr_set_error(err, err_size, "corrupt TFLite graph (an index or offset is out of range)");
    return LHR_ERR_BAD_MODEL;
}

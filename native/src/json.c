/*
 * A small JSON reader (RFC 8259 values into a tree) and the lite_hrnet metadata on top of it.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lhr_internal.h"

#define LHR_JSON_MAX_DEPTH 64

typedef struct {
    const char *text;
    size_t len, pos;
    char *err;
    size_t err_size;
    int failed;
} json_parser;

static void json_fail(json_parser *p, const char *what) {
    if (!p->failed) lhr_set_error(p->err, p->err_size, "invalid JSON at byte %zu: %s", p->pos, what);
    p->failed = 1;
}

static void skip_space(json_parser *p) {
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

void lhr_json_free(lhr_json *value) {
    while (value != NULL) {
        lhr_json *next = value->next;
        lhr_json_free(value->child);
        free(value->string);
        free(value->key);
        free(value);
        value = next;
    }
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(json_parser *p, unsigned *out) {
    if (p->len - p->pos < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
        int d = hex_digit(p->text[p->pos + (size_t)i]);
        if (d < 0) return 0;
        v = (v << 4) | (unsigned)d;
    }
    p->pos += 4;
    *out = v;
    return 1;
}

/* A string starting at the opening quote; returns a malloc'ed UTF-8 copy. */
static char *parse_string(json_parser *p) {
    p->pos++; /* opening quote */
    size_t start = p->pos;
    /* The unescaped text is never longer than the escaped one. */
    size_t end = start;
    while (end < p->len && p->text[end] != '"') end += (p->text[end] == '\\') ? 2 : 1;
    if (end >= p->len) {
        json_fail(p, "unterminated string");
        return NULL;
    }
    char *out = malloc(end - start + 1);
    if (out == NULL) {
        json_fail(p, "out of memory");
        return NULL;
    }
    size_t n = 0;
    while (p->pos < p->len && p->text[p->pos] != '"') {
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c < 0x20) {
            json_fail(p, "control character in string");
            free(out);
            return NULL;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        if (p->pos >= p->len) break;
        char e = p->text[p->pos++];
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!read_hex4(p, &cp)) {
                json_fail(p, "bad \\u escape");
                free(out);
                return NULL;
            }
            if (cp >= 0xD800 && cp < 0xDC00 && p->len - p->pos >= 6 && p->text[p->pos] == '\\' &&
                p->text[p->pos + 1] == 'u') {
                unsigned lo;
                p->pos += 2;
                if (!read_hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    json_fail(p, "bad surrogate pair");
                    free(out);
                    return NULL;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            /* UTF-8 of cp: at most 4 bytes, never longer than the 6-byte escape it came from */
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else if (cp < 0x800) {
                out[n++] = (char)(0xC0 | (cp >> 6));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                out[n++] = (char)(0xE0 | (cp >> 12));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[n++] = (char)(0xF0 | (cp >> 18));
                out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            json_fail(p, "bad escape in string");
            free(out);
            return NULL;
        }
    }
    if (p->pos >= p->len) {
        json_fail(p, "unterminated string");
        free(out);
        return NULL;
    }
    p->pos++; /* closing quote */
    out[n] = '\0';
    return out;
}

static int parse_number(json_parser *p, double *out) {
    size_t start = p->pos;
    if (p->pos < p->len && p->text[p->pos] == '-') p->pos++;
    size_t digits = p->pos;
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
    if (p->pos == digits) return 0;
    if (p->pos < p->len && p->text[p->pos] == '.') {
        p->pos++;
        size_t frac = p->pos;
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
        if (p->pos == frac) return 0;
    }
    if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-')) p->pos++;
        size_t exp = p->pos;
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
        if (p->pos == exp) return 0;
    }
    char buf[128];
    size_t n = p->pos - start;
    if (n >= sizeof buf) return 0;
    memcpy(buf, p->text + start, n);
    buf[n] = '\0';
    /* strtod follows the C locale's decimal point; a host app may have set another. */
    const struct lconv *lc = localeconv();
    if (lc != NULL && lc->decimal_point != NULL && lc->decimal_point[0] != '.' && lc->decimal_point[0] != '\0') {
        char *dot = strchr(buf, '.');
        if (dot != NULL) *dot = lc->decimal_point[0];
    }
    *out = strtod(buf, NULL);
    return 1;
}

static lhr_json *parse_value(json_parser *p, int depth);

static lhr_json *new_value(json_parser *p, lhr_json_type type) {
    lhr_json *v = calloc(1, sizeof *v);
    if (v == NULL) json_fail(p, "out of memory");
    else v->type = type;
    return v;
}

static int match_word(json_parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0) return 0;
    p->pos += n;
    return 1;
}

static lhr_json *parse_container(json_parser *p, int depth, int is_object) {
    lhr_json *v = new_value(p, is_object ? LHR_JSON_OBJECT : LHR_JSON_ARRAY);
    if (v == NULL) return NULL;
    const char close = is_object ? '}' : ']';
    p->pos++; /* opening bracket */
    skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == close) {
        p->pos++;
        return v;
    }
    lhr_json **tail = &v->child;
    for (;;) {
        char *key = NULL;
        if (is_object) {
            skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != '"') {
                json_fail(p, "expected a string key");
                break;
            }
            key = parse_string(p);
            if (key == NULL) break;
            skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != ':') {
                json_fail(p, "expected ':'");
                free(key);
                break;
            }
            p->pos++;
        }
        lhr_json *item = parse_value(p, depth + 1);
        if (item == NULL) {
            free(key);
            break;
        }
        item->key = key;
        *tail = item;
        tail = &item->next;
        v->count++;
        skip_space(p);
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == close) {
            p->pos++;
            return v;
        }
        json_fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    lhr_json_free(v);
    return NULL;
}

static lhr_json *parse_value(json_parser *p, int depth) {
    if (depth > LHR_JSON_MAX_DEPTH) {
        json_fail(p, "nested too deeply");
        return NULL;
    }
    skip_space(p);
    if (p->pos >= p->len) {
        json_fail(p, "unexpected end");
        return NULL;
    }
    char c = p->text[p->pos];
    if (c == '{' || c == '[') return parse_container(p, depth, c == '{');
    if (c == '"') {
        char *s = parse_string(p);
        if (s == NULL) return NULL;
        lhr_json *v = new_value(p, LHR_JSON_STRING);
        if (v == NULL) free(s);
        else v->string = s;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        double d;
        if (!parse_number(p, &d)) {
            json_fail(p, "bad number");
            return NULL;
        }
        lhr_json *v = new_value(p, LHR_JSON_NUMBER);
        if (v != NULL) v->number = d;
        return v;
    }
    if (match_word(p, "true")) return new_value(p, LHR_JSON_TRUE);
    if (match_word(p, "false")) return new_value(p, LHR_JSON_FALSE);
    if (match_word(p, "null")) return new_value(p, LHR_JSON_NULL);
    /* Python's json writes NaN / Infinity for non-finite floats */
    if (match_word(p, "NaN")) {
        lhr_json *v = new_value(p, LHR_JSON_NUMBER);
        if (v != NULL) v->number = NAN;
        return v;
    }
    json_fail(p, "unexpected character");
    return NULL;
}

lhr_json *lhr_json_parse(const char *text, size_t len, char *err, size_t err_size) {
    if (text == NULL) {
        lhr_set_error(err, err_size, "no JSON text");
        return NULL;
    }
    json_parser p = {text, len, 0, err, err_size, 0};
    lhr_json *v = parse_value(&p, 0);
    if (v == NULL) return NULL;
    skip_space(&p);
    if (p.pos != p.len) {
        json_fail(&p, "trailing characters after the value");
        lhr_json_free(v);
        return NULL;
    }
    return v;
}

const lhr_json *lhr_json_get(const lhr_json *object, const char *key) {
    if (object == NULL || object->type != LHR_JSON_OBJECT || key == NULL) return NULL;
    for (const lhr_json *m = object->child; m != NULL; m = m->next)
        if (m->key != NULL && strcmp(m->key, key) == 0) return m;
    return NULL;
}

const lhr_json *lhr_json_at(const lhr_json *array, size_t i) {
    if (array == NULL || array->type != LHR_JSON_ARRAY || i >= array->count) return NULL;
    const lhr_json *e = array->child;
    while (i-- > 0 && e != NULL) e = e->next;
    return e;
}

/* ------------------------------------------------------------------ lite_hrnet metadata */

static int json_int(const lhr_json *v, int lo, int hi, int *out) {
    if (v == NULL || v->type != LHR_JSON_NUMBER || !(v->number >= lo && v->number <= hi) ||
        v->number != floor(v->number))
        return 0;
    *out = (int)v->number;
    return 1;
}

static int json_floats(const lhr_json *v, size_t n, float *out) {
    if (v == NULL || v->type != LHR_JSON_ARRAY || v->count != n) return 0;
    size_t i = 0;
    for (const lhr_json *e = v->child; e != NULL; e = e->next, ++i) {
        if (e->type != LHR_JSON_NUMBER || !isfinite(e->number)) return 0;
        out[i] = (float)e->number;
    }
    return 1;
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *out = malloc(n);
    if (out != NULL) memcpy(out, s, n);
    return out;
}

/* A list of index pairs ([[a, b], ...]) with 0 <= a, b < num_joints. -1 bad, -2 no memory. */
static int json_pairs(const lhr_json *v, int num_joints, int **out, int *count) {
    *out = NULL;
    *count = 0;
    if (v == NULL) return 0;
    if (v->type != LHR_JSON_ARRAY || v->count > 100000) return -1;
    if (v->count == 0) return 0;
    int *pairs = malloc(v->count * 2 * sizeof *pairs);
    if (pairs == NULL) return -2;
    int i = 0;
    for (const lhr_json *e = v->child; e != NULL; e = e->next, ++i) {
        if (e->type != LHR_JSON_ARRAY || e->count != 2 || !json_int(e->child, 0, num_joints - 1, &pairs[2 * i]) ||
            !json_int(e->child->next, 0, num_joints - 1, &pairs[2 * i + 1])) {
            free(pairs);
            return -1;
        }
    }
    *out = pairs;
    *count = i;
    return 0;
}

void lhr_metadata_free(lhr_metadata *meta) {
    if (meta == NULL) return;
    free(meta->json);
    free(meta->model_name);
    if (meta->joint_names != NULL)
        for (int i = 0; i < meta->num_joints; ++i) free(meta->joint_names[i]);
    free(meta->joint_names);
    free(meta->flip_pairs);
    free(meta->skeleton);
    memset(meta, 0, sizeof *meta);
}

lhr_status lhr_metadata_parse(const char *json, size_t len, lhr_metadata *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    char jerr[160];
    lhr_json *root = lhr_json_parse(json, len, jerr, sizeof jerr);
    if (root == NULL) {
        lhr_set_error(err, err_size, "lite-hrnet metadata is not valid JSON (%s)", jerr);
        return LHR_ERR_BAD_MODEL;
    }
    lhr_status status = LHR_ERR_BAD_MODEL;
    const char *bad = NULL;
    if (root->type != LHR_JSON_OBJECT) {
        bad = "it is not a JSON object";
        goto done;
    }
    static const char *const required[] = {"model_name", "input_size", "mean", "std", "color_order", "layout",
                                           "num_joints"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; ++i) {
        if (lhr_json_get(root, required[i]) == NULL) {
            lhr_set_error(err, err_size, "lite-hrnet metadata lacks %s", required[i]);
            goto done;
        }
    }
    const lhr_json *name = lhr_json_get(root, "model_name");
    const lhr_json *size = lhr_json_get(root, "input_size");
    if (name->type != LHR_JSON_STRING) { bad = "model_name is not a string"; goto done; }
    if (size->type != LHR_JSON_ARRAY || size->count != 2 || !json_int(size->child, 1, 8192, &out->input_h) ||
        !json_int(size->child->next, 1, 8192, &out->input_w)) {
        bad = "input_size is not [height, width] with sizes 1 to 8192";
        goto done;
    }
    if (!json_floats(lhr_json_get(root, "mean"), 3, out->mean) || !json_floats(lhr_json_get(root, "std"), 3, out->std)) {
        bad = "mean and std must be 3 finite numbers each";
        goto done;
    }
    for (int c = 0; c < 3; ++c)
        if (out->std[c] == 0.0f) { bad = "std has a zero"; goto done; }
    const lhr_json *order = lhr_json_get(root, "color_order");
    if (order->type != LHR_JSON_STRING || (strcmp(order->string, "RGB") != 0 && strcmp(order->string, "BGR") != 0 &&
                                           strcmp(order->string, "rgb") != 0 && strcmp(order->string, "bgr") != 0)) {
        bad = "color_order is not RGB or BGR";
        goto done;
    }
    out->color_order[0] = (char)(order->string[0] & ~0x20);
    out->color_order[1] = (char)(order->string[1] & ~0x20);
    out->color_order[2] = (char)(order->string[2] & ~0x20);
    const lhr_json *layout = lhr_json_get(root, "layout");
    if (layout->type != LHR_JSON_STRING || (strcmp(layout->string, "NHWC") != 0 && strcmp(layout->string, "NCHW") != 0)) {
        bad = "layout is not NHWC or NCHW";
        goto done;
    }
    out->channels_last = strcmp(layout->string, "NHWC") == 0;
    if (!json_int(lhr_json_get(root, "num_joints"), 1, 4096, &out->num_joints)) {
        bad = "num_joints is not an integer from 1 to 4096";
        goto done;
    }
    out->heatmap_stride = 4;
    const lhr_json *stride = lhr_json_get(root, "heatmap_stride");
    if (stride != NULL && !json_int(stride, 1, 64, &out->heatmap_stride)) { bad = "heatmap_stride is not 1 to 64"; goto done; }
    out->heatmap_h = out->input_h / out->heatmap_stride;
    out->heatmap_w = out->input_w / out->heatmap_stride;
    const lhr_json *hm = lhr_json_get(root, "heatmap_size");
    if (hm != NULL && (hm->type != LHR_JSON_ARRAY || hm->count != 2 || !json_int(hm->child, 1, 8192, &out->heatmap_h) ||
                       !json_int(hm->child->next, 1, 8192, &out->heatmap_w))) {
        bad = "heatmap_size is not [height, width]";
        goto done;
    }
    const lhr_json *batch = lhr_json_get(root, "batch");
    if (batch != NULL && batch->type == LHR_JSON_NUMBER && !json_int(batch, 1, 1 << 20, &out->fixed_batch)) {
        bad = "batch is neither a positive integer nor \"dynamic\"";
        goto done;
    }
    const lhr_json *e2e = lhr_json_get(root, "end_to_end");
    out->end_to_end = e2e != NULL && e2e->type == LHR_JSON_TRUE;
    status = LHR_ERR_NO_MEMORY;
    out->json = malloc(len + 1);
    out->model_name = dup_string(name->string);
    out->joint_names = calloc((size_t)out->num_joints, sizeof *out->joint_names);
    if (out->json == NULL || out->model_name == NULL || out->joint_names == NULL) goto done;
    memcpy(out->json, json, len);
    out->json[len] = '\0';
    const lhr_json *names = lhr_json_get(root, "keypoint_names");
    for (int k = 0; k < out->num_joints; ++k) {
        const lhr_json *s = lhr_json_at(names, (size_t)k);
        out->joint_names[k] = dup_string(s != NULL && s->type == LHR_JSON_STRING ? s->string : "");
        if (out->joint_names[k] == NULL) goto done;
    }
    int r = json_pairs(lhr_json_get(root, "flip_pairs"), out->num_joints, &out->flip_pairs, &out->num_flip_pairs);
    if (r == 0) r = json_pairs(lhr_json_get(root, "skeleton"), out->num_joints, &out->skeleton, &out->num_skeleton);
    if (r == -2) goto done;
    status = LHR_ERR_BAD_MODEL;
    if (r == -1) { bad = "flip_pairs / skeleton are not lists of joint index pairs"; goto done; }
    status = LHR_OK;
done:
    if (bad != NULL) lhr_set_error(err, err_size, "lite-hrnet metadata: %s", bad);
    else if (status == LHR_ERR_NO_MEMORY) lhr_set_error(err, err_size, "out of memory reading the metadata");
    if (status != LHR_OK) lhr_metadata_free(out);
    lhr_json_free(root);
    return status;
}

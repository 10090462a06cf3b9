/*
 * litehrnet-predict: `lite-hrnet predict` for images, in C over liblitehrnet.
 *
 *   litehrnet-predict --model FILE.tflite [--boxes JSON] [--box-thr T] [--threads N] [--out DIR]
 *                     [--max-frames N] [--no-progress] IMAGE_OR_FOLDER...
 *
 * Same arguments and the same OUT/results.json as `lite-hrnet predict` (COCO keypoint
 * results plus file_name, keypoints rounded to 4 decimals, score = box score x mean of the
 * keypoint scores above 0.2). JPEG and PNG images; no videos, cameras or drawing.
 * --boxes takes the three formats of lite_hrnet/predict_cli.py: COCO detection results,
 * a COCO dataset file, or {"file_name": [[x1, y1, x2, y2, score], ...]}.
 * Bad input: one line on stderr and exit status 2.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_io.h"
#include "lhr_internal.h"
#include "litehrnet.h"

#define ERR_SIZE 1024

static const char *const IMAGE_SUFFIXES[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
static const char *const VIDEO_SUFFIXES[] = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"};

/* ------------------------------------------------------------------ small helpers */

typedef struct {
    char *data;
    size_t len, cap;
} text_buf;

static int buf_append(text_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (p == NULL) return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int buf_puts(text_buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Python's Path.suffix, lower-cased: from the last dot of the name (not a leading one). */
static void suffix_lower(const char *path, char *out, size_t size) {
    const char *name = base_name(path);
    const char *dot = strrchr(name, '.');
    out[0] = '\0';
    if (dot == NULL || dot == name || dot[1] == '\0') return;
    size_t i = 0;
    for (; dot[i] && i + 1 < size; ++i) out[i] = (char)tolower((unsigned char)dot[i]);
    out[i] = '\0';
}

static int in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

/* Python's Path.stem. */
static void stem_of(const char *path, char *out, size_t size) {
    const char *name = base_name(path);
    const char *dot = strrchr(name, '.');
    size_t n = (dot == NULL || dot == name || dot[1] == '\0') ? strlen(name) : (size_t)(dot - name);
    if (n >= size) n = size - 1;
    memcpy(out, name, n);
    out[n] = '\0';
}

static int all_digits(const char *s) {
    if (*s == '\0') return 0;
    for (; *s; ++s)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* str(int(stem)) for an all-digit stem (leading zeros dropped). */
static void digits_to_id(const char *stem, char *out, size_t size) {
    while (stem[0] == '0' && stem[1] != '\0') stem++;
    snprintf(out, size, "%s", stem);
}

/* Python's repr(float): the shortest text that reads back to the same double. */
static void py_float(double v, char *out, size_t size) {
    if (isnan(v)) { snprintf(out, size, "NaN"); return; }
    if (isinf(v)) { snprintf(out, size, v > 0 ? "Infinity" : "-Infinity"); return; }
    char tmp[64];
    int prec = 1;
    for (; prec <= 17; ++prec) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    /* digits and decimal exponent of the shortest form */
    char digits[32];
    int nd = 0, exp10;
    const char *p = tmp;
    int neg = 0;
    if (*p == '-') { neg = 1; p++; }
    for (; *p && *p != 'e'; ++p)
        if (isdigit((unsigned char)*p)) digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    char body[64];
    size_t k = 0;
    if (exp10 < -4 || exp10 >= 16) {
        body[k++] = digits[0];
        if (nd > 1) {
            body[k++] = '.';
            for (int i = 1; i < nd; ++i) body[k++] = digits[i];
        }
        k += (size_t)snprintf(body + k, sizeof body - k, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        body[k++] = '0';
        body[k++] = '.';
        for (int i = 0; i < -exp10 - 1; ++i) body[k++] = '0';
        for (int i = 0; i < nd; ++i) body[k++] = digits[i];
    } else {
        for (int i = 0; i <= exp10; ++i) body[k++] = i < nd ? digits[i] : '0';
        body[k++] = '.';
        if (nd > exp10 + 1)
            for (int i = exp10 + 1; i < nd; ++i) body[k++] = digits[i];
        else
            body[k++] = '0';
    }
    body[k] = '\0';
    snprintf(out, size, "%s%s", neg ? "-" : "", body);
}

/* Python's round(v, 4): the exact value rounded half-to-even to 4 decimals (glibc's printf
 * rounds the exact binary value), read back. */
static double py_round4(double v) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.4f", v);
    return strtod(tmp, NULL);
}

/* A JSON string as json.dumps writes it (ensure_ascii: non-ASCII as \uXXXX). */
static int json_string(text_buf *b, const char *s) {
    if (buf_puts(b, "\"")) return -1;
    const unsigned char *p = (const unsigned char *)s;
    char esc[16];
    while (*p) {
        unsigned cp = *p;
        int extra = 0;
        if (cp >= 0xF0) { cp &= 0x07; extra = 3; }
        else if (cp >= 0xE0) { cp &= 0x0F; extra = 2; }
        else if (cp >= 0xC0) { cp &= 0x1F; extra = 1; }
        p++;
        for (int i = 0; i < extra && (*p & 0xC0) == 0x80; ++i, ++p) cp = (cp << 6) | (*p & 0x3F);
        if (cp == '"') buf_puts(b, "\\\"");
        else if (cp == '\\') buf_puts(b, "\\\\");
        else if (cp == '\n') buf_puts(b, "\\n");
        else if (cp == '\r') buf_puts(b, "\\r");
        else if (cp == '\t') buf_puts(b, "\\t");
        else if (cp == '\b') buf_puts(b, "\\b");
        else if (cp == '\f') buf_puts(b, "\\f");
        else if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
            snprintf(esc, sizeof esc, "\\u%04x", cp);
            buf_puts(b, esc);
        } else if (cp >= 0x10000) {
            cp -= 0x10000;
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            buf_puts(b, esc);
        } else {
            char c = (char)cp;
            buf_append(b, &c, 1);
        }
    }
    return buf_puts(b, "\"");
}

/* numpy's float64 sum (pairwise with 8 accumulators below 128 values), for the mean of scores. */
static double numpy_sum(const double *a, int n) {
    if (n < 8) {
        double s = 0.0;
        for (int i = 0; i < n; ++i) s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j];
        int i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[i + j];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) s += a[i];
        return s;
    }
    int half = (n / 2) - ((n / 2) % 8);
    return numpy_sum(a, half) + numpy_sum(a + half, n - half);
}

/* ------------------------------------------------------------------ boxes (BoxFile) */

typedef struct {
    char *key;
    float *boxes; /* n x 5 */
    int n, cap;
} box_entry;

typedef struct {
    box_entry *entries;
    int n, cap;
    char **id_names; /* dataset format: file_name -> image id text (as written in JSON) */
    char **id_values;
    int *id_is_number; /* the JSON id was a number (written unquoted) */
    int n_ids, cap_ids;
    double box_thr;
} box_file;

static box_entry *box_key(box_file *bf, const char *key, int create) {
    for (int i = 0; i < bf->n; ++i)
        if (strcmp(bf->entries[i].key, key) == 0) return &bf->entries[i];
    if (!create) return NULL;
    if (bf->n == bf->cap) {
        int cap = bf->cap ? bf->cap * 2 : 64;
        box_entry *e = realloc(bf->entries, (size_t)cap * sizeof *e);
        if (e == NULL) return NULL;
        bf->entries = e;
        bf->cap = cap;
    }
    box_entry *e = &bf->entries[bf->n];
    memset(e, 0, sizeof *e);
    e->key = strdup(key);
    if (e->key == NULL) return NULL;
    bf->n++;
    return e;
}

static int box_add(box_file *bf, const char *key, const double box[5]) {
    if (!(box[4] >= bf->box_thr)) return 0;
    box_entry *e = box_key(bf, key, 1);
    if (e == NULL) return -1;
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 8;
        float *p = realloc(e->boxes, (size_t)cap * 5 * sizeof(float));
        if (p == NULL) return -1;
        e->boxes = p;
        e->cap = cap;
    }
    for (int i = 0; i < 5; ++i) e->boxes[e->n * 5 + i] = (float)box[i];
    e->n++;
    return 0;
}

static void box_file_free(box_file *bf) {
    for (int i = 0; i < bf->n; ++i) {
        free(bf->entries[i].key);
        free(bf->entries[i].boxes);
    }
    free(bf->entries);
    for (int i = 0; i < bf->n_ids; ++i) {
        free(bf->id_names[i]);
        free(bf->id_values[i]);
    }
    free(bf->id_names);
    free(bf->id_values);
    free(bf->id_is_number);
}

/* str(key) of a JSON id: an integer as digits, a string as is. */
static int key_text(const lhr_json *v, char *out, size_t size) {
    if (v->type == LHR_JSON_STRING) {
        snprintf(out, size, "%s", v->string);
        return 0;
    }
    if (v->type == LHR_JSON_NUMBER && v->number == floor(v->number) && fabs(v->number) < 1e15) {
        snprintf(out, size, "%.0f", v->number);
        return 0;
    }
    return -1;
}

static int number_of(const lhr_json *v, double *out) {
    if (v == NULL) return -1;
    if (v->type == LHR_JSON_NUMBER) *out = v->number;
    else if (v->type == LHR_JSON_TRUE) *out = 1.0;
    else if (v->type == LHR_JSON_FALSE) *out = 0.0;
    else return -1;
    return 0;
}

/* bbox [x, y, w, h] -> x1, y1, x2, y2 */
static int xywh(const lhr_json *bbox, double out[5]) {
    if (bbox == NULL || bbox->type != LHR_JSON_ARRAY || bbox->count != 4) return -1;
    double v[4];
    for (int i = 0; i < 4; ++i)
        if (number_of(lhr_json_at(bbox, (size_t)i), &v[i])) return -1;
    out[0] = v[0];
    out[1] = v[1];
    out[2] = v[0] + v[2];
    out[3] = v[1] + v[3];
    return 0;
}

static int category_is_person(const lhr_json *item) {
    const lhr_json *c = lhr_json_get(item, "category_id");
    double v = 1.0;
    if (c != NULL && number_of(c, &v)) return 0;
    return (long)v == 1;
}

static int read_boxes(const char *path, double box_thr, box_file *bf, char *err, size_t err_size) {
    memset(bf, 0, sizeof *bf);
    bf->box_thr = box_thr;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        lhr_set_error(err, err_size, "--boxes file not found: %s", path);
        return -1;
    }
    text_buf text = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&text, chunk, got);
    fclose(f);
    char jerr[200];
    lhr_json *root = lhr_json_parse(text.data ? text.data : "", text.len, jerr, sizeof jerr);
    free(text.data);
    if (root == NULL) {
        lhr_set_error(err, err_size, "--boxes %s: not valid JSON (%s)", path, jerr);
        return -1;
    }
    int rc = -1;
    char key[512];
    double box[5];
    if (root->type == LHR_JSON_ARRAY) { /* COCO detection results */
        size_t i = 0;
        for (const lhr_json *det = root->child; det != NULL; det = det->next, ++i) {
            const lhr_json *id = lhr_json_get(det, "image_id");
            if (det->type != LHR_JSON_OBJECT || id == NULL || xywh(lhr_json_get(det, "bbox"), box) ||
                key_text(id, key, sizeof key)) {
                lhr_set_error(err, err_size,
                              "--boxes %s: entry %zu is not a COCO detection (needs image_id and bbox [x, y, w, h])", path, i);
                goto done;
            }
            if (!category_is_person(det)) continue;
            box[4] = 1.0;
            const lhr_json *score = lhr_json_get(det, "score");
            if (score != NULL && number_of(score, &box[4])) {
                lhr_set_error(err, err_size, "--boxes %s: entry %zu has a score that is not a number", path, i);
                goto done;
            }
            if (box_add(bf, key, box)) goto oom;
        }
    } else if (root->type == LHR_JSON_OBJECT && lhr_json_get(root, "annotations") && lhr_json_get(root, "images")) {
        const lhr_json *images = lhr_json_get(root, "images");
        for (const lhr_json *img = images->child; img != NULL; img = img->next) {
            const lhr_json *id = lhr_json_get(img, "id"), *name = lhr_json_get(img, "file_name");
            if (id == NULL || name == NULL || name->type != LHR_JSON_STRING || key_text(id, key, sizeof key)) {
                lhr_set_error(err, err_size, "--boxes %s: an image lacks id or file_name", path);
                goto done;
            }
            if (bf->n_ids == bf->cap_ids) {
                int cap = bf->cap_ids ? bf->cap_ids * 2 : 64;
                char **a = realloc(bf->id_names, (size_t)cap * sizeof *a), **b;
                if (a == NULL) goto oom;
                bf->id_names = a;
                b = realloc(bf->id_values, (size_t)cap * sizeof *b);
                if (b == NULL) goto oom;
                bf->id_values = b;
                int *c = realloc(bf->id_is_number, (size_t)cap * sizeof *c);
                if (c == NULL) goto oom;
                bf->id_is_number = c;
                bf->cap_ids = cap;
            }
            bf->id_names[bf->n_ids] = strdup(name->string);
            bf->id_values[bf->n_ids] = strdup(key);
            bf->id_is_number[bf->n_ids] = id->type == LHR_JSON_NUMBER;
            bf->n_ids++;
        }
        size_t i = 0;
        for (const lhr_json *ann = lhr_json_get(root, "annotations")->child; ann != NULL; ann = ann->next, ++i) {
            const lhr_json *id = lhr_json_get(ann, "image_id");
            if (id == NULL || lhr_json_get(ann, "bbox") == NULL) {
                lhr_set_error(err, err_size, "--boxes %s: annotation %zu lacks image_id or bbox", path, i);
                goto done;
            }
            double crowd = 0;
            const lhr_json *iscrowd = lhr_json_get(ann, "iscrowd");
            if (iscrowd != NULL) number_of(iscrowd, &crowd);
            if (crowd != 0 || !category_is_person(ann)) continue;
            if (xywh(lhr_json_get(ann, "bbox"), box) || key_text(id, key, sizeof key)) {
                lhr_set_error(err, err_size, "--boxes %s: annotation %zu has a bad bbox or image_id", path, i);
                goto done;
            }
            /* the key is the image's file name when the id is listed */
            for (int j = 0; j < bf->n_ids; ++j)
                if (strcmp(bf->id_values[j], key) == 0) {
                    snprintf(key, sizeof key, "%s", bf->id_names[j]);
                    break;
                }
            box[4] = 1.0;
            const lhr_json *score = lhr_json_get(ann, "score");
            if (score != NULL) number_of(score, &box[4]);
            if (box_add(bf, key, box)) goto oom;
        }
    } else if (root->type == LHR_JSON_OBJECT) { /* {"file_name": [[x1, y1, x2, y2, score], ...]} */
        for (const lhr_json *m = root->child; m != NULL; m = m->next) {
            int ok = m->type == LHR_JSON_ARRAY;
            for (const lhr_json *b = ok ? m->child : NULL; b != NULL && ok; b = b->next)
                ok = b->type == LHR_JSON_ARRAY && (b->count == 4 || b->count == 5);
            if (!ok) {
                lhr_set_error(err, err_size,
                              "--boxes %s: entry '%s' must be a list of [x1, y1, x2, y2] or [x1, y1, x2, y2, score]", path,
                              m->key);
                goto done;
            }
            if (box_key(bf, m->key, 1) == NULL) goto oom;
            for (const lhr_json *b = m->child; b != NULL; b = b->next) {
                box[4] = 1.0;
                for (size_t j = 0; j < b->count; ++j)
                    if (number_of(lhr_json_at(b, j), &box[j])) {
                        lhr_set_error(err, err_size, "--boxes %s: entry '%s' has a box value that is not a number", path,
                                      m->key);
                        goto done;
                    }
                if (box_add(bf, m->key, box)) goto oom;
            }
        }
    } else {
        lhr_set_error(err, err_size, "--boxes %s: expected a list of COCO detections or a JSON object", path);
        goto done;
    }
    rc = 0;
    goto done;
oom:
    lhr_set_error(err, err_size, "--boxes %s: out of memory", path);
done:
    lhr_json_free(root);
    if (rc != 0) box_file_free(bf);
    return rc;
}

/* The boxes listed for an image: the first key found among its path, name, stem and id. */
static const box_entry *boxes_for_image(const box_file *bf, const char *path) {
    char stem[512], id[512];
    stem_of(path, stem, sizeof stem);
    if (all_digits(stem)) digits_to_id(stem, id, sizeof id);
    else snprintf(id, sizeof id, "%s", base_name(path));
    const char *candidates[4] = {path, base_name(path), stem, id};
    for (int i = 0; i < 4; ++i) {
        const box_entry *e = box_key((box_file *)bf, candidates[i], 0);
        if (e != NULL) return e;
    }
    return NULL;
}

/* ------------------------------------------------------------------ inputs */

typedef struct {
    char **paths;
    int n, cap;
} path_list;

static int path_add(path_list *l, const char *p) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        char **a = realloc(l->paths, (size_t)cap * sizeof *a);
        if (a == NULL) return -1;
        l->paths = a;
        l->cap = cap;
    }
    l->paths[l->n] = strdup(p);
    return l->paths[l->n++] ? 0 : -1;
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Python's str(Path(text)): no trailing slashes, no "./" prefix, no repeated slashes. */
static void normalize_path(const char *text, char *out, size_t size) {
    size_t k = 0;
    const char *p = text;
    while (p[0] == '.' && p[1] == '/') {
        p += 2;
        while (*p == '/') p++;
    }
    for (; *p && k + 1 < size; ++p) {
        if (*p == '/' && k > 0 && out[k - 1] == '/') continue;
        if (*p == '/' && p[1] == '.' && p[2] == '/') { p += 1; continue; }
        out[k++] = *p;
    }
    while (k > 1 && out[k - 1] == '/') k--;
    if (k == 0 && size > 1) out[k++] = '.';
    out[k] = '\0';
}

static int resolve_inputs(int count, char **inputs, path_list *images, char *err, size_t err_size) {
    for (int i = 0; i < count; ++i) {
        char path[4096], suffix[32];
        normalize_path(inputs[i], path, sizeof path);
        struct stat st;
        if (stat(path, &st) != 0) {
            if (all_digits(inputs[i])) {
                lhr_set_error(err, err_size, "input %s: cameras are not supported by litehrnet-predict", inputs[i]);
                return -1;
            }
            lhr_set_error(err, err_size, "input not found: %s", inputs[i]);
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *dir = opendir(path);
            if (dir == NULL) {
                lhr_set_error(err, err_size, "input folder %s: cannot be read (%s)", inputs[i], strerror(errno));
                return -1;
            }
            path_list found = {0};
            struct dirent *e;
            while ((e = readdir(dir)) != NULL) {
                char full[4096 + 512];
                snprintf(full, sizeof full, "%s/%s", strcmp(path, "/") == 0 ? "" : path, e->d_name);
                suffix_lower(e->d_name, suffix, sizeof suffix);
                struct stat fs;
                if (stat(full, &fs) == 0 && S_ISREG(fs.st_mode) &&
                    in_list(suffix, IMAGE_SUFFIXES, sizeof IMAGE_SUFFIXES / sizeof *IMAGE_SUFFIXES))
                    path_add(&found, full);
            }
            closedir(dir);
            if (found.n == 0) {
                lhr_set_error(err, err_size, "input folder %s has no images (.bmp, .jpeg, .jpg, .pgm, .png, .ppm, .tif, .tiff, .webp)",
                              inputs[i]);
                free(found.paths);
                return -1;
            }
            qsort(found.paths, (size_t)found.n, sizeof *found.paths, compare_strings);
            for (int j = 0; j < found.n; ++j) {
                path_add(images, found.paths[j]);
                free(found.paths[j]);
            }
            free(found.paths);
            continue;
        }
        suffix_lower(path, suffix, sizeof suffix);
        if (in_list(suffix, VIDEO_SUFFIXES, sizeof VIDEO_SUFFIXES / sizeof *VIDEO_SUFFIXES)) {
            lhr_set_error(err, err_size, "input %s: videos are not supported by litehrnet-predict (use lite-hrnet predict)",
                          inputs[i]);
            return -1;
        }
        if (!in_list(suffix, IMAGE_SUFFIXES, sizeof IMAGE_SUFFIXES / sizeof *IMAGE_SUFFIXES)) {
            lhr_set_error(err, err_size,
                          "input %s: unknown file type '%s'; expected an image (JPEG or PNG) or a folder of images",
                          inputs[i], suffix[0] ? suffix : "(no suffix)");
            return -1;
        }
        if (path_add(images, path)) {
            lhr_set_error(err, err_size, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *to) {
    fprintf(to,
            "usage: litehrnet-predict --model FILE.tflite [--boxes JSON] [--box-thr T] [--threads N] [--out DIR]\n"
            "                         [--max-frames N] [--no-progress] IMAGE_OR_FOLDER...\n"
            "Top-down pose estimation with liblitehrnet (LiteRT). There is no person detector: give boxes with\n"
            "--boxes (COCO detection results, a COCO dataset file or {file_name: [[x1, y1, x2, y2, score], ...]});\n"
            "without --boxes each image is one person. Results: OUT/results.json (COCO keypoint results).\n");
}

/* Where our messages go: the original stderr. LiteRT logs INFO lines to stderr as it loads a
 * model; they are sent to /dev/null unless LITEHRNET_VERBOSE is set, so that an error is one line. */
static FILE *error_stream = NULL;

static void quiet_runtime_logs(void) {
    error_stream = stderr;
    const char *verbose = getenv("LITEHRNET_VERBOSE");
    if (verbose != NULL && verbose[0] != '\0' && strcmp(verbose, "0") != 0) return;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    if (saved < 0 || devnull < 0) {
        if (saved >= 0) close(saved);
        if (devnull >= 0) close(devnull);
        return;
    }
    FILE *f = fdopen(saved, "w");
    if (f == NULL || dup2(devnull, STDERR_FILENO) < 0) {
        if (f != NULL) fclose(f);
        else close(saved);
        close(devnull);
        return;
    }
    close(devnull);
    error_stream = f;
}

static int fail(const char *message) {
    fprintf(error_stream ? error_stream : stderr, "litehrnet-predict: error: %s\n", message);
    fflush(error_stream ? error_stream : stderr);
    return 2;
}

static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return (end == s || *end != '\0' || errno != 0 || !isfinite(*out)) ? -1 : 0;
}

static int parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < -1000000 || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *boxes_path = NULL, *out_dir = NULL;
    double box_thr = 0.3;
    int threads = 0;
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    int n_inputs = 0;
    char err[ERR_SIZE];
    if (inputs == NULL) return fail("out of memory");
    static const char *const unsupported[] = {"--model-name", "--weights", "--device", "--precision", "--show",
                                              "--flip", "--dark", "--track", "--kpt-thr"};
    int max_frames = 0;
    for (int i = 1; i < argc; ++i) {
        char name[64];
        const char *a = argv[i];
        const char *value = NULL;
        /* --option=value as argparse takes it */
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        snprintf(name, sizeof name, "%.*s", (int)(name_len < sizeof name ? name_len : sizeof name - 1), a);
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(inputs);
            return 0;
        }
        int takes = strcmp(name, "--model") == 0 || strcmp(name, "--boxes") == 0 || strcmp(name, "--box-thr") == 0 ||
                    strcmp(name, "--threads") == 0 || strcmp(name, "--out") == 0 || strcmp(name, "--max-frames") == 0;
        if (strcmp(name, "--no-progress") == 0 && eq == NULL) continue; /* there is no progress bar */
        for (size_t u = 0; u < sizeof unsupported / sizeof unsupported[0]; ++u)
            if (strcmp(name, unsupported[u]) == 0) {
                lhr_set_error(err, sizeof err, "%s is not supported by litehrnet-predict (lite-hrnet predict has it)", name);
                free(inputs);
                return fail(err);
            }
        if (takes) {
            if (eq != NULL) {
                value = eq + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                lhr_set_error(err, sizeof err, "argument %s: expected one argument", a);
                free(inputs);
                return fail(err);
            }
        } else if (strncmp(a, "--", 2) == 0 || (a[0] == '-' && a[1] != '\0')) {
            lhr_set_error(err, sizeof err, "unrecognized argument %s (see --help)", a);
            free(inputs);
            return fail(err);
        }
        if (value == NULL) inputs[n_inputs++] = argv[i];
        else if (strcmp(name, "--model") == 0) model_path = value;
        else if (strcmp(name, "--boxes") == 0) boxes_path = value;
        else if (strcmp(name, "--out") == 0) out_dir = value;
        else if (strcmp(name, "--box-thr") == 0 && parse_double(value, &box_thr)) {
            lhr_set_error(err, sizeof err, "argument --box-thr: invalid float value: '%s'", value);
            free(inputs);
            return fail(err);
        } else if (strcmp(name, "--threads") == 0 && parse_int(value, &threads)) {
            lhr_set_error(err, sizeof err, "argument --threads: invalid int value: '%s'", value);
            free(inputs);
            return fail(err);
        } else if (strcmp(name, "--max-frames") == 0 && (parse_int(value, &max_frames) || max_frames < 1)) {
            lhr_set_error(err, sizeof err, "--max-frames must be at least 1, got '%s'", value);
            free(inputs);
            return fail(err);
        }
    }
    if (model_path == NULL || n_inputs == 0) {
        free(inputs);
        return fail(model_path == NULL ? "the following arguments are required: --model (see --help)"
                                       : "the following arguments are required: INPUT (see --help)");
    }
    if (threads < 0) {
        free(inputs);
        return fail("--threads must be at least 1");
    }

    quiet_runtime_logs();
    int rc = 2;
    path_list images = {0};
    box_file boxes;
    int have_boxes = 0;
    lhr_model *model = NULL;
    text_buf results = {0};
    lhr_image image = {0};
    float *keypoints = NULL, *scores = NULL, *box_xyxy = NULL;
    if (resolve_inputs(n_inputs, inputs, &images, err, sizeof err)) { fail(err); goto done; }
    if (boxes_path != NULL) {
        if (read_boxes(boxes_path, box_thr, &boxes, err, sizeof err)) { fail(err); goto done; }
        have_boxes = 1;
    }
    if (out_dir != NULL) {
        struct stat st;
        if (stat(out_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
            lhr_set_error(err, sizeof err, "--out %s exists and is not a folder", out_dir);
            fail(err);
            goto done;
        }
        char partial[4096];
        size_t len = strlen(out_dir);
        if (len >= sizeof partial) { fail("--out path is too long"); goto done; }
        for (size_t i = 1; i <= len; ++i) { /* mkdir -p */
            if (out_dir[i] == '/' || out_dir[i] == '\0') {
                memcpy(partial, out_dir, i);
                partial[i] = '\0';
                if (mkdir(partial, 0777) != 0 && errno != EEXIST) {
                    lhr_set_error(err, sizeof err, "--out %s: cannot create folder (%s)", out_dir, strerror(errno));
                    fail(err);
                    goto done;
                }
            }
        }
    }
    lhr_status st = lhr_model_open(model_path, threads, &model, err, sizeof err);
    if (st != LHR_OK) { fail(err); goto done; }
    const int k = lhr_model_num_joints(model);
    int frames = 0, persons = 0, first = 1;
    double pose_ms = 0.0, start = lhr_now_ms();
    buf_puts(&results, "[");
    const int n_images = max_frames > 0 && max_frames < images.n ? max_frames : images.n;
    for (int i = 0; i < n_images; ++i) {
        const char *path = images.paths[i];
        if (lhr_image_load(path, &image, err, sizeof err)) { fail(err); goto done; }
        int n = 1;
        const float *given = NULL;
        if (have_boxes) {
            const box_entry *e = boxes_for_image(&boxes, path);
            n = e ? e->n : 0;
            given = e ? e->boxes : NULL;
        }
        free(box_xyxy);
        free(keypoints);
        free(scores);
        box_xyxy = malloc(sizeof(float) * 4 * (size_t)(n ? n : 1));
        keypoints = malloc(sizeof(float) * 2 * (size_t)k * (size_t)(n ? n : 1));
        scores = malloc(sizeof(float) * (size_t)k * (size_t)(n ? n : 1));
        if (box_xyxy == NULL || keypoints == NULL || scores == NULL) { fail("out of memory"); goto done; }
        float box_score[1] = {1.0f};
        if (!have_boxes) {
            box_xyxy[0] = 0.0f;
            box_xyxy[1] = 0.0f;
            box_xyxy[2] = (float)image.width;
            box_xyxy[3] = (float)image.height;
        } else {
            for (int b = 0; b < n; ++b) memcpy(box_xyxy + 4 * b, given + 5 * b, 4 * sizeof(float));
        }
        double t0 = lhr_now_ms();
        st = lhr_predict(model, image.pixels, image.width, image.height, image.width * 3, LHR_PIXEL_RGB, box_xyxy, n,
                         keypoints, scores);
        pose_ms += lhr_now_ms() - t0;
        if (st != LHR_OK) {
            lhr_set_error(err, sizeof err, "%s: %s", path, lhr_model_last_error(model));
            fail(err);
            goto done;
        }
        frames++;
        /* image id: the dataset's id for this file name, else the number its stem spells, else its name */
        char id_text[1100], stem[512];
        int id_is_number = 0;
        const char *name = base_name(path);
        stem_of(path, stem, sizeof stem);
        const char *dataset_id = NULL;
        if (have_boxes)
            for (int j = 0; j < boxes.n_ids; ++j)
                if (strcmp(boxes.id_names[j], name) == 0) {
                    dataset_id = boxes.id_values[j];
                    id_is_number = boxes.id_is_number[j];
                }
        if (dataset_id != NULL) {
            snprintf(id_text, sizeof id_text, "%s", dataset_id);
        } else if (all_digits(stem)) {
            digits_to_id(stem, id_text, sizeof id_text);
            id_is_number = 1;
        } else {
            snprintf(id_text, sizeof id_text, "%s", name);
        }
        for (int b = 0; b < n; ++b) {
            if (!lhr_box_overlaps_image(box_xyxy + 4 * b, image.width, image.height)) continue; /* skipped, as in Python */
            persons++;
            char num[64];
            buf_puts(&results, first ? "{" : ", {");
            first = 0;
            buf_puts(&results, "\"image_id\": ");
            if (id_is_number) buf_puts(&results, id_text);
            else json_string(&results, id_text);
            buf_puts(&results, ", \"category_id\": 1, \"keypoints\": [");
            double confident[4096];
            int n_conf = 0;
            for (int j = 0; j < k; ++j) {
                double x = keypoints[(b * k + j) * 2], y = keypoints[(b * k + j) * 2 + 1], s = scores[b * k + j];
                if (s > 0.2) confident[n_conf++] = s;
                double triple[3] = {x, y, s};
                for (int t = 0; t < 3; ++t) {
                    py_float(py_round4(triple[t]), num, sizeof num);
                    if (j > 0 || t > 0) buf_puts(&results, ", ");
                    buf_puts(&results, num);
                }
            }
            double bscore = have_boxes ? (double)given[5 * b + 4] : (double)box_score[0];
            double mean = n_conf ? numpy_sum(confident, n_conf) / n_conf : 0.0;
            py_float(mean * bscore, num, sizeof num);
            buf_puts(&results, "], \"score\": ");
            buf_puts(&results, num);
            buf_puts(&results, ", \"file_name\": ");
            json_string(&results, name);
            buf_puts(&results, "}");
        }
        lhr_image_free(&image);
    }
    buf_puts(&results, "]");
    double elapsed = lhr_now_ms() - start;
    if (out_dir != NULL) {
        char target[4200];
        snprintf(target, sizeof target, "%s/results.json", out_dir);
        FILE *f = fopen(target, "wb");
        if (f == NULL || fwrite(results.data, 1, results.len, f) != results.len) {
            if (f) fclose(f);
            lhr_set_error(err, sizeof err, "cannot write %s (%s)", target, strerror(errno));
            fail(err);
            goto done;
        }
        if (fclose(f) != 0) {
            lhr_set_error(err, sizeof err, "cannot write %s (%s)", target, strerror(errno));
            fail(err);
            goto done;
        }
    }
    char threads_text[32] = "default";
    if (threads > 0) snprintf(threads_text, sizeof threads_text, "%d", threads);
    printf("%d frames, %d persons: %.1f FPS pose estimation (%.1f FPS end to end) with liblitehrnet %s (LiteRT) "
           "on cpu, %s file, threads %s\n",
           frames, persons, pose_ms > 0 ? frames / (pose_ms / 1e3) : NAN, elapsed > 0 ? frames / (elapsed / 1e3) : NAN,
           lhr_version(), lhr_model_is_end_to_end(model) ? "end-to-end" : "heatmap", threads_text);
    if (out_dir != NULL) printf("results: %s/results.json\n", out_dir);
    rc = 0;
done:
    lhr_image_free(&image);
    free(keypoints);
    free(scores);
    free(box_xyxy);
    free(results.data);
    lhr_model_close(model);
    if (have_boxes) box_file_free(&boxes);
    for (int i = 0; i < images.n; ++i) free(images.paths[i]);
    free(images.paths);
    free(inputs);
    return rc;
}

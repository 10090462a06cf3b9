/*
 * Tests of the hand-written engine (lhr_engine.h) on the golden programs of
 * native/tests/make_engine_golden.py: shapes, metadata, results against PyTorch (float64
 * reference), repeated runs, and bad input: NULL arguments, missing, foreign, truncated and
 * corrupted files, error buffers that are NULL, empty or short. Under AddressSanitizer the
 * corrupted programs are the real check: each must be refused or run without a memory error.
 * Usage: lhr_test_engine GOLDEN_DIR TMP_DIR
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lhr_engine.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#include "check.h"

/* Allowed error of the engine against the float64 reference, relative to the largest |reference|. */
#define MAX_RELATIVE_ERROR 1e-5
/* .lhrn header: 8-byte magic, then uint32 counts of program ints, weight floats, metadata bytes. */
#define HEADER_BYTES 20

typedef struct {
    unsigned char *data;
    size_t size;
} blob;

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path) exit(2);
    snprintf(path, n, "%s/%s", dir, name);
    return path;
}

static blob read_blob(const char *path) {
    blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = malloc(n > 0 ? (size_t)n : 1);
    b.size = (size_t)n;
    if (n < 0 || !b.data || fread(b.data, 1, b.size, f) != b.size) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    return b;
}

static void write_blob(const char *path, const unsigned char *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A golden tensor (make_engine_golden.py's .f32 files): "LHRT", uint32 c, h, w, then c x h x w floats. */
typedef struct {
    int c, h, w;
    float *v;
} tensor;

static tensor read_tensor(const char *dir, const char *name) {
    char *path = join(dir, name);
    blob b = read_blob(path);
    tensor t = {0, 0, 0, NULL};
    if (b.size < 16 || memcmp(b.data, "LHRT", 4) != 0) {
        fprintf(stderr, "%s: not a golden tensor file\n", path);
        exit(2);
    }
    t.c = (int)get_u32(b.data + 4), t.h = (int)get_u32(b.data + 8), t.w = (int)get_u32(b.data + 12);
    size_t n = (size_t)t.c * t.h * t.w;
    if (b.size != 16 + 4 * n) {
        fprintf(stderr, "%s: %zu bytes, expected %zu for %dx%dx%d\n", path, b.size, 16 + 4 * n, t.c, t.h, t.w);
        exit(2);
    }
    t.v = malloc(sizeof(float) * (n ? n : 1));
    if (!t.v) exit(2);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = get_u32(b.data + 16 + 4 * i);
        memcpy(&t.v[i], &bits, sizeof bits);
    }
    free(b.data);
    free(path);
    return t;
}

/* make_engine_golden.formula_input: ((7 c + 13 y + 29 x) mod 97 - 48) / 32, exact in float32. */
static float *formula_input(int channels, int height, int width) {
    float *x = malloc(sizeof(float) * (size_t)channels * height * width);
    if (!x) exit(2);
    for (int c = 0; c < channels; c++)
        for (int y = 0; y < height; y++)
            for (int i = 0; i < width; i++)
                x[((size_t)c * height + y) * width + i] = (float)((7 * c + 13 * y + 29 * i) % 97 - 48) / 32.0f;
    return x;
}

static float *nan_filled(size_t n) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    if (!v) exit(2);
    for (size_t i = 0; i < n; i++) v[i] = NAN;
    return v;
}

/* Largest |a - b| over the largest |b|; infinite when a holds a NaN (an element not written). */
static double relative_error(const float *a, const float *b, size_t n) {
    double err = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i])) return INFINITY;
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > err) err = d;
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    }
    return scale > 0.0 ? err / scale : err;
}

static lhr_engine *open_or_die(const char *path) {
    lhr_engine *e = NULL;
    char err[LHR_ERROR_SIZE];
    lhr_status s = lhr_engine_open(path, &e, err, sizeof err);
    if (s != LHR_OK || !e) {
        fprintf(stderr, "FAIL: cannot open %s: status %d: %s\n", path, (int)s, err);
        exit(1);
    }
    return e;
}

/* What the test is doing when the engine crashes (a corrupted program: which int, which value),
 * printed by the crash handler (or the sanitizers' death callback) so the log names the case. */
static char current_case[256];

static void print_current_case(void) {
    if (current_case[0]) {
        static const char prefix[] = "\nCRASH while running ";
        if (write(STDERR_FILENO, prefix, sizeof prefix - 1) < 0 ||
            write(STDERR_FILENO, current_case, strlen(current_case)) < 0 || write(STDERR_FILENO, "\n", 1) < 0)
            return;
    }
}

#ifndef UNDER_ASAN
static void on_crash(int sig) {
    print_current_case();
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

static void report_crashes(void) {
#ifdef UNDER_ASAN
    __sanitizer_set_death_callback(print_current_case); /* keeps the sanitizers' own SEGV report */
#else
    const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) signal(signals[i], on_crash);
#endif
}

/* ------------------------------------------------------------------ the golden programs */

/* Shapes, metadata (against the file's own bytes), results against PyTorch, repeated runs. */
static void test_golden(const char *dir, const char *program, const float *input, const char *output_name,
                        const char *name_field, int in_h, int in_w) {
    char *path = join(dir, program);
    tensor ref = read_tensor(dir, output_name);
    lhr_engine *e = open_or_die(path);

    int c = -1, h = -1, w = -1;
    lhr_engine_input_shape(e, &c, &h, &w);
    CHECK(c == 3 && h == in_h && w == in_w, "%s: input shape %dx%dx%d, expected 3x%dx%d", program, c, h, w, in_h, in_w);
    lhr_engine_output_shape(e, &c, &h, &w);
    CHECK(c == ref.c && h == ref.h && w == ref.w && h * 4 == in_h && w * 4 == in_w,
          "%s: output shape %dx%dx%d, expected %dx%dx%d", program, c, h, w, ref.c, ref.h, ref.w);

    /* the metadata is the JSON the exporter stored: the last bytes of the file */
    blob file = read_blob(path);
    size_t meta_bytes = get_u32(file.data + 16);
    const char *meta = lhr_engine_metadata_json(e);
    CHECK(meta && strlen(meta) == meta_bytes && memcmp(meta, file.data + file.size - meta_bytes, meta_bytes) == 0,
          "%s: metadata %s differs from the file's %zu bytes", program, meta ? meta : "(null)", meta_bytes);
    CHECK(meta && meta[0] == '{' && strstr(meta, name_field), "%s: metadata %s lacks %s", program, meta ? meta : "(null)",
          name_field);
    free(file.data);

    size_t n_out = (size_t)ref.c * ref.h * ref.w, n_in = (size_t)3 * in_h * in_w;
    float *out = nan_filled(n_out), *again = nan_filled(n_out);
    snprintf(current_case, sizeof current_case, "the golden program %s", path);
    CHECK(lhr_engine_run(e, input, out) == LHR_OK, "%s: run failed", program);
    double err = relative_error(out, ref.v, n_out);
    printf("%s: %dx%dx%d output, max |error| / max |reference| = %.3g\n", program, ref.c, ref.h, ref.w, err);
    CHECK(err < MAX_RELATIVE_ERROR, "%s: relative error %g against PyTorch (limit %g)", program, err, MAX_RELATIVE_ERROR);

    /* no state carried between runs: the same input after another one gives the same bits */
    float *other = malloc(sizeof(float) * n_in);
    if (!other) exit(2);
    for (size_t i = 0; i < n_in; i++) other[i] = -2.0f * input[n_in - 1 - i];
    CHECK(lhr_engine_run(e, other, again) == LHR_OK, "%s: run on another input failed", program);
    CHECK(memcmp(out, again, sizeof(float) * n_out) != 0, "%s: another input gave the same output", program);
    CHECK(lhr_engine_run(e, input, again) == LHR_OK, "%s: second run failed", program);
    CHECK(memcmp(out, again, sizeof(float) * n_out) == 0, "%s: the same input gave another output on a second run", program);

    /* a second engine on the same file: independent, same results */
    lhr_engine *e2 = open_or_die(path);
    for (size_t i = 0; i < n_out; i++) again[i] = NAN;
    CHECK(lhr_engine_run(e2, input, again) == LHR_OK, "%s: run of a second engine failed", program);
    CHECK(memcmp(out, again, sizeof(float) * n_out) == 0, "%s: a second engine gave another output", program);
    lhr_engine_close(e2);
    current_case[0] = '\0';

    lhr_engine_close(e);
    free(other);
    free(out);
    free(again);
    free(ref.v);
    free(path);
}

/* lhr_engine_num_ops and lhr_engine_op_kind against the compiler's op list (engine_tiny_ops.txt);
 * lhr_engine_run_profiled gives lhr_engine_run's bits and a time for every op. */
static void test_ops_and_profile(const char *dir, const float *input) {
    char *path = join(dir, "engine_tiny.lhrn"), *ops_path = join(dir, "engine_tiny_ops.txt");
    blob text = read_blob(ops_path);
    char *kinds = malloc(text.size + 1);
    if (!kinds) exit(2);
    memcpy(kinds, text.data, text.size);
    kinds[text.size] = '\0';
    lhr_engine *e = open_or_die(path);
    int n_ops = lhr_engine_num_ops(e), op = 0;
    char *save = NULL;
    for (char *kind = strtok_r(kinds, "\n", &save); kind; kind = strtok_r(NULL, "\n", &save), op++) {
        const char *got = lhr_engine_op_kind(e, op);
        CHECK(got && strcmp(got, kind) == 0, "op %d is %s, the compiler wrote %s", op, got ? got : "(null)", kind);
    }
    CHECK(n_ops == op && op > 100, "%d ops, the compiler wrote %d", n_ops, op);
    CHECK(lhr_engine_op_kind(e, -1) == NULL && lhr_engine_op_kind(e, n_ops) == NULL, "op kind out of range not NULL");
    CHECK(lhr_engine_num_ops(NULL) == 0 && lhr_engine_op_kind(NULL, 0) == NULL, "op count or kind of a NULL engine");

    int k, h, w;
    lhr_engine_output_shape(e, &k, &h, &w);
    size_t n_out = (size_t)k * h * w;
    float *out = nan_filled(n_out), *profiled = nan_filled(n_out);
    double *seconds = malloc(sizeof(double) * (size_t)(n_ops + 1));
    if (!seconds) exit(2);
    for (int i = 0; i <= n_ops; i++) seconds[i] = -1.0;
    CHECK(lhr_engine_run(e, input, out) == LHR_OK, "run failed");
    CHECK(lhr_engine_run_profiled(e, input, profiled, seconds) == LHR_OK, "profiled run failed");
    CHECK(memcmp(out, profiled, sizeof(float) * n_out) == 0, "the profiled run gave another output");
    int timed = 0;
    for (int i = 0; i < n_ops; i++) timed += seconds[i] >= 0.0 && seconds[i] < 60.0;
    CHECK(timed == n_ops && seconds[n_ops] == -1.0, "%d of %d op times in [0, 60) s, or one written past the end",
          timed, n_ops);
    CHECK(lhr_engine_run_profiled(e, input, profiled, NULL) == LHR_OK, "profiled run without times failed");
    CHECK(lhr_engine_run_profiled(NULL, input, profiled, seconds) == LHR_ERR_INVALID_ARGUMENT &&
              lhr_engine_run_profiled(e, NULL, profiled, seconds) == LHR_ERR_INVALID_ARGUMENT &&
              lhr_engine_run_profiled(e, input, NULL, seconds) == LHR_ERR_INVALID_ARGUMENT,
          "profiled run with a NULL engine, input or output");
    lhr_engine_close(e);
    free(seconds);
    free(out);
    free(profiled);
    free(kinds);
    free(text.data);
    free(ops_path);
    free(path);
}

/* ------------------------------------------------------------------ bad input */

/* Opens `path` expecting `expected`; the message must name the file and contain `text`. */
static void expect_open_error(const char *path, lhr_status expected, const char *text, const char *what) {
    lhr_engine *e = (lhr_engine *)(uintptr_t)1; /* must come back NULL */
    char err[LHR_ERROR_SIZE];
    memset(err, 'x', sizeof err);
    lhr_status s = lhr_engine_open(path, &e, err, sizeof err);
    err[sizeof err - 1] = '\0';
    CHECK(s == expected, "%s: status %d, expected %d (%s)", what, (int)s, (int)expected, err);
    CHECK(e == NULL, "%s: engine not NULL after a failed open", what);
    CHECK(strstr(err, path) != NULL, "%s: message does not name the file: %s", what, err);
    CHECK(!text || strstr(err, text) != NULL, "%s: message lacks \"%s\": %s", what, text, err);
    if (s == LHR_OK && e && e != (lhr_engine *)(uintptr_t)1) lhr_engine_close(e);
}

static void test_null_arguments(const char *dir) {
    char *path = join(dir, "engine_tiny.lhrn");
    char err[LHR_ERROR_SIZE];
    lhr_engine *e = (lhr_engine *)(uintptr_t)1;
    CHECK(lhr_engine_open(NULL, &e, err, sizeof err) == LHR_ERR_INVALID_ARGUMENT && e == NULL,
          "NULL path: not an invalid argument");
    CHECK(strstr(err, "path") != NULL, "NULL path: message does not name the argument: %s", err);
    CHECK(lhr_engine_open(path, NULL, err, sizeof err) == LHR_ERR_INVALID_ARGUMENT, "NULL engine: not an invalid argument");
    CHECK(strstr(err, "engine") != NULL, "NULL engine: message does not name the argument: %s", err);
    CHECK(lhr_engine_open(NULL, NULL, NULL, 0) == LHR_ERR_INVALID_ARGUMENT, "all NULL: not an invalid argument");

    e = open_or_die(path);
    int c, h, w, k, oh, ow;
    lhr_engine_input_shape(e, &c, &h, &w);
    lhr_engine_output_shape(e, &k, &oh, &ow);
    float *in = calloc((size_t)c * h * w, sizeof(float)), *out = calloc((size_t)k * oh * ow, sizeof(float));
    if (!in || !out) exit(2);
    CHECK(lhr_engine_run(NULL, in, out) == LHR_ERR_INVALID_ARGUMENT, "run with a NULL engine");
    CHECK(lhr_engine_run(e, NULL, out) == LHR_ERR_INVALID_ARGUMENT, "run with a NULL input");
    CHECK(lhr_engine_run(e, in, NULL) == LHR_ERR_INVALID_ARGUMENT, "run with a NULL output");
    /* the getters accept NULL outputs and give zeros for a NULL engine */
    lhr_engine_input_shape(e, NULL, NULL, NULL);
    lhr_engine_output_shape(e, NULL, &oh, NULL);
    CHECK(oh == 16, "output height %d with the other outputs NULL, expected 16", oh);
    c = h = w = -1;
    lhr_engine_input_shape(NULL, &c, &h, &w);
    CHECK(c == 0 && h == 0 && w == 0, "input shape of a NULL engine: %dx%dx%d", c, h, w);
    lhr_engine_output_shape(NULL, &c, &h, &w);
    CHECK(c == 0 && h == 0 && w == 0, "output shape of a NULL engine: %dx%dx%d", c, h, w);
    CHECK(strcmp(lhr_engine_metadata_json(NULL), "{}") == 0, "metadata of a NULL engine");
    lhr_engine_close(NULL);
    lhr_engine_close(e);
    free(in);
    free(out);
    free(path);
}

/* Bad files through each error path with errbuf NULL, of size 0, 1 and short: no write past it. */
static void test_error_buffers(const char *missing, const char *foreign, const char *corrupt) {
    const char *paths[3] = {missing, foreign, corrupt};
    const lhr_status expected[3] = {LHR_ERR_IO, LHR_ERR_BAD_MODEL, LHR_ERR_BAD_MODEL};
    for (int i = 0; i < 3; i++) {
        lhr_engine *e = NULL;
        CHECK(lhr_engine_open(paths[i], &e, NULL, 0) == expected[i] && e == NULL, "%s with errbuf NULL", paths[i]);
        CHECK(lhr_engine_open(paths[i], &e, NULL, 64) == expected[i] && e == NULL, "%s with errbuf NULL, size 64",
              paths[i]);
        char buf[LHR_ERROR_SIZE];
        memset(buf, 'x', sizeof buf);
        CHECK(lhr_engine_open(paths[i], &e, buf, 0) == expected[i] && buf[0] == 'x', "%s: errbuf of size 0 written",
              paths[i]);
        CHECK(lhr_engine_open(paths[i], &e, buf, 1) == expected[i] && buf[0] == '\0' && buf[1] == 'x',
              "%s: errbuf of size 1 not an empty string", paths[i]);
        char full[LHR_ERROR_SIZE];
        lhr_engine_open(paths[i], &e, full, sizeof full);
        memset(buf, 'x', sizeof buf);
        CHECK(lhr_engine_open(paths[i], &e, buf, 12) == expected[i] && buf[11] == '\0' && buf[12] == 'x' &&
                  strncmp(buf, full, 11) == 0,
              "%s: errbuf of size 12 holds \"%.12s\", not the start of \"%s\"", paths[i], buf, full);
    }
}

static void test_bad_files(const char *dir, const char *tmp) {
    char *path = join(dir, "engine_tiny.lhrn");
    blob good = read_blob(path);
    char *missing = join(tmp, "missing.lhrn"), *bad = join(tmp, "bad.lhrn"), *foreign = join(tmp, "foreign.lhrn");
    uint32_t n_ints = get_u32(good.data + 8), n_floats = get_u32(good.data + 12), n_meta = get_u32(good.data + 16);
    size_t program_end = HEADER_BYTES + 4 * (size_t)n_ints, weights_end = program_end + 4 * (size_t)n_floats;
    CHECK(weights_end + n_meta == good.size, "golden file: %zu bytes, the header says %zu", good.size, weights_end + n_meta);

    remove(missing);
    expect_open_error(missing, LHR_ERR_IO, "cannot open", "missing file");

    write_blob(bad, good.data, 0);
    expect_open_error(bad, LHR_ERR_BAD_MODEL, "not a lite-hrnet engine program", "empty file");
    unsigned char *copy = malloc(good.size);
    if (!copy) exit(2);
    memcpy(copy, good.data, good.size);
    copy[7] = '2'; /* "LHRNENG2": a future version */
    write_blob(foreign, copy, good.size);
    expect_open_error(foreign, LHR_ERR_BAD_MODEL, "not a lite-hrnet engine program", "wrong magic");
    write_blob(bad, (const unsigned char *)"LHRNENG1", 8);
    expect_open_error(bad, LHR_ERR_BAD_MODEL, "not a lite-hrnet engine program", "magic only");

    /* cut in the header, the program, the weights, the metadata */
    const size_t cuts[] = {1, 7, 8, 12, 19, HEADER_BYTES, HEADER_BYTES + 2, HEADER_BYTES + 4, HEADER_BYTES + 4 * 5 + 1,
                           program_end / 2, program_end - 4, program_end - 1, program_end, program_end + 4,
                           (program_end + weights_end) / 2, weights_end - 1, weights_end, weights_end + n_meta / 2,
                           good.size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "file cut at byte %zu of %zu", cuts[i], good.size);
        write_blob(bad, good.data, cuts[i]);
        expect_open_error(bad, LHR_ERR_BAD_MODEL, cuts[i] < HEADER_BYTES ? "not a lite-hrnet" : "truncated", what);
    }

    /* header counts that do not fit the file */
    const uint32_t grown[3][3] = {{n_ints + 1, n_floats, n_meta}, {n_ints, n_floats + 1, n_meta},
                                  {n_ints, n_floats, n_meta + 1}};
    for (int i = 0; i < 3; i++) {
        memcpy(copy, good.data, good.size);
        for (int j = 0; j < 3; j++) put_u32(copy + 8 + 4 * j, grown[i][j]);
        write_blob(bad, copy, good.size);
        expect_open_error(bad, LHR_ERR_BAD_MODEL, NULL, "a header count one too large");
    }
    /* counts far beyond the file's size (the engine must not trust them for its allocations) */
    const uint32_t huge[3][3] = {{0xFFFFFFFFu, n_floats, n_meta}, {n_ints, 0xFFFFFFFFu, n_meta},
                                 {n_ints, n_floats, 0xFFFFFFFFu}};
    for (int i = 0; i < 3; i++) {
        memcpy(copy, good.data, good.size);
        for (int j = 0; j < 3; j++) put_u32(copy + 8 + 4 * j, huge[i][j]);
        write_blob(bad, copy, good.size);
        char what[64];
        snprintf(what, sizeof what, "header count %d = 2^32 - 1", i);
        expect_open_error(bad, LHR_ERR_BAD_MODEL, NULL, what);
    }
    /* a count the file's size does not match: refused before anything is allocated by it */
    memcpy(copy, good.data, good.size);
    put_u32(copy + 8, 0);
    write_blob(bad, copy, good.size);
    expect_open_error(bad, LHR_ERR_BAD_MODEL, "bytes after its metadata", "a count too small for the file");
    /* a byte after the metadata */
    unsigned char *longer = malloc(good.size + 1);
    if (!longer) exit(2);
    memcpy(longer, good.data, good.size);
    longer[good.size] = '\n';
    write_blob(bad, longer, good.size + 1);
    expect_open_error(bad, LHR_ERR_BAD_MODEL, "bytes after its metadata", "a byte after the metadata");
    free(longer);
    /* a conv whose 7x7 kernel is larger than its 4x4096 input: C's division makes (4 - 7) / 4 + 1 = 1, a
     * plausible output height, so only an explicit check refuses it (its patches would be read far past
     * the scratch); 2 buffers, 1 op, 50 weights of 1 */
    {
        static const int32_t program[] = {2, 1, 4, 4096, 0, 1, 1, 1023, 16384, 17407, 0, 1, 1,
                                          1, 0, 1, 1, 4, 4096, 1, 1023, 7, 4, 0, 0, 49, 1, 0, 1, 1};
        const uint32_t n_prog = sizeof program / sizeof program[0], n_w = 50;
        size_t size = HEADER_BYTES + 4 * (size_t)n_prog + 4 * (size_t)n_w;
        unsigned char *conv = calloc(1, size);
        if (!conv) exit(2);
        memcpy(conv, "LHRNENG1", 8);
        put_u32(conv + 8, n_prog);
        put_u32(conv + 12, n_w);
        put_u32(conv + 16, 0);
        for (uint32_t i = 0; i < n_prog; i++) put_u32(conv + HEADER_BYTES + 4 * i, (uint32_t)program[i]);
        const float one = 1.0f;
        for (uint32_t i = 0; i < n_w; i++) memcpy(conv + HEADER_BYTES + 4 * n_prog + 4 * i, &one, 4);
        write_blob(bad, conv, size);
        expect_open_error(bad, LHR_ERR_BAD_MODEL, "conv output size", "a conv kernel larger than its padded input");
        free(conv);
    }
    /* consistent files whose program is cut: no ints at all, and one int short (the program ends
     * inside its last op) */
    const uint32_t kept_ints[2] = {0, n_ints - 1};
    const char *cut_what[2] = {"no program ints", "program one int short"};
    for (int i = 0; i < 2; i++) {
        size_t dropped = 4 * (size_t)(n_ints - kept_ints[i]);
        memcpy(copy, good.data, HEADER_BYTES + 4 * (size_t)kept_ints[i]);
        memcpy(copy + HEADER_BYTES + 4 * (size_t)kept_ints[i], good.data + program_end, good.size - program_end);
        put_u32(copy + 8, kept_ints[i]);
        write_blob(bad, copy, good.size - dropped);
        expect_open_error(bad, LHR_ERR_BAD_MODEL, "bad engine program", cut_what[i]);
    }

    /* no metadata: the getter gives "{}" */
    memcpy(copy, good.data, good.size);
    put_u32(copy + 16, 0);
    write_blob(bad, copy, weights_end);
    lhr_engine *e = open_or_die(bad);
    CHECK(strcmp(lhr_engine_metadata_json(e), "{}") == 0, "no metadata gives %s", lhr_engine_metadata_json(e));
    lhr_engine_close(e);

    /* a program that fails to parse (a buffer count of 0), for the error buffers' test */
    memcpy(copy, good.data, good.size);
    put_u32(copy + HEADER_BYTES, 0);
    write_blob(bad, copy, good.size);
    expect_open_error(bad, LHR_ERR_BAD_MODEL, "buffer count", "no buffers");
    test_error_buffers(missing, foreign, bad);

    free(copy);
    free(good.data);
    free(missing);
    free(bad);
    free(foreign);
    free(path);
}

/* ------------------------------------------------------------------ corrupted programs */

typedef struct {
    long variants, refused, ran;
} fuzz_counts;

/* Opens the file as it is now; a refusal must be LHR_ERR_BAD_MODEL naming the file, an engine that
 * opens must run (a NaN-free input, output of the shape it reports) and say LHR_OK. */
static void open_and_run(const char *path, const float *input, size_t n_input, fuzz_counts *counts, size_t at,
                         int32_t original, int32_t value) {
    snprintf(current_case, sizeof current_case, "%s with program int %zu (file byte %zu) set from %d to %d", path, at,
             HEADER_BYTES + 4 * at, (int)original, (int)value);
    lhr_engine *e = NULL;
    char err[LHR_ERROR_SIZE];
    err[0] = '\0';
    lhr_status s = lhr_engine_open(path, &e, err, sizeof err);
    counts->variants++;
    if (s != LHR_OK) {
        counts->refused++;
        CHECK(s == LHR_ERR_BAD_MODEL && e == NULL, "int %zu = %d: status %d (%s)", at, (int)value, (int)s, err);
        CHECK(strstr(err, path) && strstr(err, "bad engine program"), "int %zu = %d: message %s", at, (int)value, err);
        current_case[0] = '\0';
        return;
    }
    int c, h, w, k, oh, ow;
    lhr_engine_input_shape(e, &c, &h, &w);
    lhr_engine_output_shape(e, &k, &oh, &ow);
    size_t n_in = (size_t)c * h * w, n_out = (size_t)k * oh * ow;
    float *in = malloc(sizeof(float) * (n_in ? n_in : 1)), *out = malloc(sizeof(float) * (n_out ? n_out : 1));
    if (!in || !out) exit(2);
    for (size_t i = 0; i < n_in; i++) in[i] = input[i % n_input];
    CHECK(lhr_engine_run(e, in, out) == LHR_OK, "int %zu = %d: the engine opened but did not run", at, (int)value);
    counts->ran++;
    free(in);
    free(out);
    lhr_engine_close(e);
    current_case[0] = '\0';
}

/* Every int of the program (and the header counts) set to several values in turn, in place. */
static void test_corrupted_programs(const char *dir, const char *tmp, const float *input, size_t n_input) {
    char *path = join(dir, "engine_tiny.lhrn"), *bad = join(tmp, "corrupt.lhrn");
    blob good = read_blob(path);
    write_blob(bad, good.data, good.size);
    FILE *f = fopen(bad, "r+b");
    if (!f) {
        fprintf(stderr, "cannot open %s for writing\n", bad);
        exit(2);
    }
    uint32_t n_ints = get_u32(good.data + 8);
    fuzz_counts counts = {0, 0, 0};
    for (size_t i = 0; i < n_ints; i++) {
        size_t at = HEADER_BYTES + 4 * i;
        int32_t v = (int32_t)get_u32(good.data + at);
        /* neighbours (off by one: the likeliest to pass the range checks), sign and range ends */
        const int32_t values[] = {v + 1, v - 1, v ^ 0x10, 0, -1, INT32_MIN, 1 << 16};
        for (size_t j = 0; j < sizeof values / sizeof values[0]; j++) {
            if (values[j] == v) continue;
            unsigned char bytes[4];
            put_u32(bytes, (uint32_t)values[j]);
            if (fseek(f, (long)at, SEEK_SET) != 0 || fwrite(bytes, 1, 4, f) != 4 || fflush(f) != 0) exit(2);
            open_and_run(bad, input, n_input, &counts, i, v, values[j]);
        }
        if (fseek(f, (long)at, SEEK_SET) != 0 || fwrite(good.data + at, 1, 4, f) != 4 || fflush(f) != 0) exit(2);
    }
    fclose(f);
    printf("corrupted programs: %ld variants of %u ints: %ld refused (bad model), %ld opened and ran\n", counts.variants,
           n_ints, counts.refused, counts.ran);
    CHECK(counts.variants > 5 * (long)n_ints && counts.refused > counts.variants / 2 && counts.ran > 0,
          "corrupted programs: %ld variants, %ld refused, %ld ran", counts.variants, counts.refused, counts.ran);
    free(good.data);
    free(path);
    free(bad);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s GOLDEN_DIR TMP_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *tmp = argv[2];
    setvbuf(stdout, NULL, _IONBF, 0); /* what ran before a crash stays in the log */
    report_crashes();
    mkdir(tmp, 0777);

    tensor input = read_tensor(dir, "engine_tiny_input.f32");
    test_golden(dir, "engine_tiny.lhrn", input.v, "engine_tiny_output.f32", "\"name\": \"engine_tiny\"", 64, 32);
    float *big = formula_input(3, 256, 256);
    /* 256 x 256: the stem's stride-2 depthwise convs go through the engine's row-by-row path */
    test_golden(dir, "engine_tiny256.lhrn", big, "engine_tiny256_output.f32", "\"name\": \"engine_tiny256\"", 256, 256);
    free(big);

    test_ops_and_profile(dir, input.v);
    test_null_arguments(dir);
    test_bad_files(dir, tmp);
    test_corrupted_programs(dir, tmp, input.v, (size_t)input.c * input.h * input.w);
    free(input.v);

    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}

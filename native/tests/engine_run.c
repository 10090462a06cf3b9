/*
 * Runs one .lhrn program on one input, for tests/test_engine.py, which builds this with AddressSanitizer and
 * UBSan to run programs of a single op through each of the engine's kernel paths (an op alone sizes the scratch
 * by itself, so a path that writes past its share shows).
 *
 *   engine_run PROGRAM INPUT OUTPUT
 *
 * INPUT: the program's input floats (C x H x W, native byte order), OUTPUT: its output floats. Exit status 0
 * when the run succeeded, 1 otherwise (with a message on stderr).
 */
#include "lhr_engine.h"

#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, const char *path) {
    fprintf(stderr, "engine_run: %s: %s\n", path, what);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: engine_run PROGRAM INPUT OUTPUT\n");
        return 2;
    }
    char err[512];
    lhr_engine *engine = NULL;
    if (lhr_engine_open(argv[1], &engine, err, sizeof err) != LHR_OK) return fail(err, argv[1]);
    int c, h, w, oc, oh, ow;
    lhr_engine_input_shape(engine, &c, &h, &w);
    lhr_engine_output_shape(engine, &oc, &oh, &ow);
    size_t n_in = (size_t)c * h * w, n_out = (size_t)oc * oh * ow;
    float *in = malloc(sizeof(float) * n_in), *out = malloc(sizeof(float) * n_out);
    int status = 1;
    FILE *f = NULL;
    if (!in || !out) {
        fail("out of memory", argv[1]);
    } else if (!(f = fopen(argv[2], "rb")) || fread(in, sizeof(float), n_in, f) != n_in) {
        fail("cannot read the input floats", argv[2]);
    } else if (lhr_engine_run(engine, in, out) != LHR_OK) {
        fail("the run failed", argv[1]);
    } else {
        FILE *o = fopen(argv[3], "wb");
        if (o && fwrite(out, sizeof(float), n_out, o) == n_out && fclose(o) == 0) status = 0;
        else fail("cannot write the output", argv[3]);
    }
    if (f) fclose(f);
    free(in);
    free(out);
    lhr_engine_close(engine);
    return status;
}

/*
 * JPEG and PNG decoding through the system's libjpeg(-turbo) and libpng.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "image_io.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "lhr_internal.h"

void lhr_image_free(lhr_image *image) {
    if (image == NULL) return;
    free(image->pixels);
    image->pixels = NULL;
    image->width = image->height = 0;
}

/* libjpeg's default error handler exits the process: jump back instead. */
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_error;

static void jpeg_error_exit(j_common_ptr cinfo) {
    jpeg_error *e = (jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level) { (void)cinfo; (void)level; }

static int load_jpeg(FILE *f, const char *path, lhr_image *out, char *err, size_t err_size) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error jerr;
    /* volatile: modified between setjmp and longjmp */
    uint8_t *volatile pixels = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_error_exit;
    jerr.mgr.emit_message = jpeg_quiet;
    if (setjmp(jerr.jump)) {
        lhr_set_error(err, err_size, "%s: not a readable image (JPEG: %s)", path, jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        lhr_set_error(err, err_size, "%s: CMYK JPEG images are not supported", path);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3 || cinfo.output_width == 0 || cinfo.output_height == 0 ||
        cinfo.output_width > 65535 || cinfo.output_height > 65535) {
        lhr_set_error(err, err_size, "%s: unsupported JPEG (%d components, %u x %u)", path, cinfo.output_components,
                      cinfo.output_width, cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    size_t stride = (size_t)cinfo.output_width * 3;
    pixels = malloc(stride * cinfo.output_height);
    if (pixels == NULL) {
        lhr_set_error(err, err_size, "%s: out of memory", path);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->pixels = pixels;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

static int load_png(FILE *f, const char *path, lhr_image *out, char *err, size_t err_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&image, f)) {
        lhr_set_error(err, err_size, "%s: not a readable image (PNG: %s)", path, image.message);
        png_image_free(&image);
        return -1;
    }
    /* Read RGBA and drop alpha ourselves: libpng would otherwise composite onto a background. */
    image.format = PNG_FORMAT_RGBA;
    if (image.width == 0 || image.height == 0 || image.width > 65535 || image.height > 65535) {
        lhr_set_error(err, err_size, "%s: unsupported PNG size %u x %u", path, image.width, image.height);
        png_image_free(&image);
        return -1;
    }
    uint8_t *rgba = malloc(PNG_IMAGE_SIZE(image));
    if (rgba == NULL) {
        lhr_set_error(err, err_size, "%s: out of memory", path);
        png_image_free(&image);
        return -1;
    }
    if (!png_image_finish_read(&image, NULL, rgba, 0, NULL)) {
        lhr_set_error(err, err_size, "%s: not a readable image (PNG: %s)", path, image.message);
        free(rgba);
        png_image_free(&image);
        return -1;
    }
    size_t n = (size_t)image.width * image.height;
    uint8_t *rgb = malloc(n * 3);
    if (rgb == NULL) {
        lhr_set_error(err, err_size, "%s: out of memory", path);
        free(rgba);
        return -1;
    }
    for (size_t i = 0; i < n; ++i) memcpy(rgb + 3 * i, rgba + 4 * i, 3);
    free(rgba);
    out->width = (int)image.width;
    out->height = (int)image.height;
    out->pixels = rgb;
    return 0;
}

int lhr_image_load(const char *path, lhr_image *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        lhr_set_error(err, err_size, "%s: cannot open image (%s)", path, strerror(errno));
        return -1;
    }
    uint8_t magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    rewind(f);
    int rc;
    if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
        rc = load_jpeg(f, path, out, err, err_size);
    } else if (got == 8 && png_sig_cmp(magic, 0, 8) == 0) {
        rc = load_png(f, path, out, err, err_size);
    } else {
        lhr_set_error(err, err_size, "%s: not a readable image (litehrnet-predict reads JPEG and PNG)", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

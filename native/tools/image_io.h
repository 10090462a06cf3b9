/*
 * JPEG (libjpeg) and PNG (libpng) files to 8-bit RGB pixels, for the command-line tools.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef LHR_IMAGE_IO_H
#define LHR_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct lhr_image {
    uint8_t *pixels; /* height x width x 3, RGB, rows packed (stride = width * 3) */
    int width, height;
} lhr_image;

/* Decode a JPEG or PNG file (chosen by its first bytes, not its name) to RGB. Grayscale is
 * expanded to RGB, alpha is dropped (as OpenCV's BGRA->BGR does), 16-bit PNG is reduced to 8.
 * Returns 0, or -1 with a one-line message naming the file in err. */
int lhr_image_load(const char *path, lhr_image *out, char *err, size_t err_size);
void lhr_image_free(lhr_image *image);

#endif /* LHR_IMAGE_IO_H */

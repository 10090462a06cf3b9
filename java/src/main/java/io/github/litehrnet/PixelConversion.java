/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.nio.ByteBuffer;

/** Pixels the C library does not take (ARGB ints, BGRA bytes) converted to packed RGB bytes. */
final class PixelConversion {
    private PixelConversion() {
    }

    /** True when the C library reads {@code format} as it is (RGB, BGR, RGBA). */
    static boolean isNative(PixelFormat format) {
        return format == PixelFormat.RGB || format == PixelFormat.BGR || format == PixelFormat.RGBA;
    }

    /** The C library's {@code lhr_pixel_format} code of a native format. */
    static int nativeCode(PixelFormat format) {
        switch (format) {
            case RGB: return 0;
            case BGR: return 1;
            case RGBA: return 2;
            default: throw new IllegalArgumentException(format + " is converted to RGB first");
        }
    }

    /**
     * Writes the image as packed RGB ({@code width * 3} bytes a row) into {@code out}, reallocated when too short.
     *
     * @return the array written (out, or a new one)
     */
    static byte[] toRgb(Image image, byte[] out) {
        int width = image.width();
        int height = image.height();
        int needed = width * height * 3;
        byte[] rgb = out != null && out.length >= needed ? out : new byte[needed];
        int stride = image.rowStride();
        if (image.format() == PixelFormat.ARGB_INT) {
            int[] pixels = image.ints();
            for (int y = 0, o = 0; y < height; y++) {
                for (int x = 0, i = y * stride; x < width; x++, i++) {
                    int p = pixels[i];
                    rgb[o++] = (byte) (p >> 16);
                    rgb[o++] = (byte) (p >> 8);
                    rgb[o++] = (byte) p;
                }
            }
            return rgb;
        }
        int channels = image.format().elementsPerPixel;
        boolean swap = image.format() == PixelFormat.BGR || image.format() == PixelFormat.BGRA;
        byte[] bytes = image.bytes();
        ByteBuffer buffer = image.buffer();
        for (int y = 0, o = 0; y < height; y++) {
            for (int x = 0, i = y * stride; x < width; x++, i += channels) {
                byte c0 = bytes != null ? bytes[i] : buffer.get(i);
                byte c1 = bytes != null ? bytes[i + 1] : buffer.get(i + 1);
                byte c2 = bytes != null ? bytes[i + 2] : buffer.get(i + 2);
                rgb[o++] = swap ? c2 : c0;
                rgb[o++] = c1;
                rgb[o++] = swap ? c0 : c2;
            }
        }
        return rgb;
    }
}

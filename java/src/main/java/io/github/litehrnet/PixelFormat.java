/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

/** Memory layout of an {@link Image}'s pixels (8 bits per channel). */
public enum PixelFormat {
    /** Bytes R, G, B. */
    RGB(3),
    /** Bytes B, G, R (OpenCV's order). */
    BGR(3),
    /** Bytes R, G, B, A (Android's {@code Bitmap.copyPixelsToBuffer} of an ARGB_8888 bitmap); alpha is ignored. */
    RGBA(4),
    /** Bytes B, G, R, A; alpha is ignored. */
    BGRA(4),
    /** One {@code int} per pixel, {@code 0xAARRGGBB} (Android's {@code Bitmap.getPixels}, Java's {@code getRGB}). */
    ARGB_INT(1);

    /** Array elements per pixel: bytes for the byte formats, one int for {@link #ARGB_INT}. */
    public final int elementsPerPixel;

    PixelFormat(int elementsPerPixel) {
        this.elementsPerPixel = elementsPerPixel;
    }
}

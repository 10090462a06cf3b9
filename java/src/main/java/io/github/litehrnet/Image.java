/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.nio.ByteBuffer;

/**
 * An image's pixels as the caller holds them, without copying: an ARGB {@code int[]}, a {@code byte[]} or a
 * {@link ByteBuffer} (direct or not) in a {@link PixelFormat}, with a row stride. Checked on creation, so that the
 * native code only ever reads inside the array.
 *
 * <p>The image refers to the caller's array: changing the array changes the image.
 */
public final class Image {
    private final int width;
    private final int height;
    private final int rowStride;
    private final PixelFormat format;
    private final int[] ints;
    private final byte[] bytes;
    private final ByteBuffer buffer;

    private Image(int width, int height, int rowStride, PixelFormat format, int[] ints, byte[] bytes,
            ByteBuffer buffer) {
        this.width = width;
        this.height = height;
        this.rowStride = rowStride;
        this.format = format;
        this.ints = ints;
        this.bytes = bytes;
        this.buffer = buffer;
    }

    /** Pixels {@code 0xAARRGGBB}, rows of {@code width} ints (Android's {@code Bitmap.getPixels(p, 0, w, 0, 0, w, h)}). */
    public static Image ofArgb(int[] pixels, int width, int height) {
        return ofArgb(pixels, width, height, width);
    }

    /** Pixels {@code 0xAARRGGBB}, rows {@code rowStride} ints apart. */
    public static Image ofArgb(int[] pixels, int width, int height, int rowStride) {
        check(pixels == null, "pixels", width, height, rowStride, PixelFormat.ARGB_INT);
        checkLength(pixels.length, "pixels", width, height, rowStride, PixelFormat.ARGB_INT);
        return new Image(width, height, rowStride, PixelFormat.ARGB_INT, pixels, null, null);
    }

    /** Bytes in {@code format} (RGB, BGR, RGBA, BGRA), rows packed ({@code width * bytes per pixel} apart). */
    public static Image ofBytes(byte[] pixels, int width, int height, PixelFormat format) {
        return ofBytes(pixels, width, height, format, width * bytesPerPixel(format));
    }

    /** Bytes in {@code format} (RGB, BGR, RGBA, BGRA), rows {@code rowStride} bytes apart. */
    public static Image ofBytes(byte[] pixels, int width, int height, PixelFormat format, int rowStride) {
        bytesPerPixel(format);
        check(pixels == null, "pixels", width, height, rowStride, format);
        checkLength(pixels.length, "pixels", width, height, rowStride, format);
        return new Image(width, height, rowStride, format, null, pixels, null);
    }

    /** Bytes in {@code format} from the buffer's position on, rows packed. */
    public static Image ofBuffer(ByteBuffer pixels, int width, int height, PixelFormat format) {
        return ofBuffer(pixels, width, height, format, width * bytesPerPixel(format));
    }

    /**
     * Bytes in {@code format} from the buffer's position on, rows {@code rowStride} bytes apart (Android's
     * {@code Image.Plane.getRowStride()}). The buffer's position and limit are not changed.
     */
    public static Image ofBuffer(ByteBuffer pixels, int width, int height, PixelFormat format, int rowStride) {
        bytesPerPixel(format);
        check(pixels == null, "pixels", width, height, rowStride, format);
        checkLength(pixels.remaining(), "pixels (bytes remaining in the buffer)", width, height, rowStride, format);
        return new Image(width, height, rowStride, format, null, null, pixels.slice());
    }

    private static int bytesPerPixel(PixelFormat format) {
        if (format == null) {
            throw new NullPointerException("format must not be null");
        }
        if (format == PixelFormat.ARGB_INT) {
            throw new IllegalArgumentException("ARGB_INT pixels are ints: use Image.ofArgb(int[], ...)");
        }
        return format.elementsPerPixel;
    }

    private static void check(boolean isNull, String name, int width, int height, int rowStride, PixelFormat format) {
        if (isNull) {
            throw new NullPointerException(name + " must not be null");
        }
        if (format == null) {
            throw new NullPointerException("format must not be null");
        }
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + " x " + height);
        }
        long rowElements = (long) width * format.elementsPerPixel;
        if (rowStride < rowElements) {
            throw new IllegalArgumentException("rowStride " + rowStride + " is shorter than a row of " + width + " "
                    + format + " pixels (" + rowElements + ")");
        }
    }

    private static void checkLength(long length, String name, int width, int height, int rowStride,
            PixelFormat format) {
        long needed = (long) (height - 1) * rowStride + (long) width * format.elementsPerPixel;
        if (length < needed) {
            String unit = format == PixelFormat.ARGB_INT ? "ints" : "bytes";
            throw new IllegalArgumentException(name + " has " + length + " " + unit + ", a " + width + " x " + height
                    + " " + format + " image with row stride " + rowStride + " needs " + needed);
        }
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    /** Array elements (ints for ARGB_INT, else bytes) from one row to the next. */
    public int rowStride() {
        return rowStride;
    }

    public PixelFormat format() {
        return format;
    }

    int[] ints() {
        return ints;
    }

    byte[] bytes() {
        return bytes;
    }

    ByteBuffer buffer() {
        return buffer;
    }

    /**
     * The pixel at {@code (x, y)} as {@code 0xFFRRGGBB} (alpha dropped), for tests and drawing; not for bulk access.
     */
    public int rgb(int x, int y) {
        if (x < 0 || y < 0 || x >= width || y >= height) {
            throw new IndexOutOfBoundsException("pixel (" + x + ", " + y + ") outside " + width + " x " + height);
        }
        if (ints != null) {
            return 0xFF000000 | ints[y * rowStride + x];
        }
        int at = y * rowStride + x * format.elementsPerPixel;
        int c0 = (bytes != null ? bytes[at] : buffer.get(at)) & 0xFF;
        int c1 = (bytes != null ? bytes[at + 1] : buffer.get(at + 1)) & 0xFF;
        int c2 = (bytes != null ? bytes[at + 2] : buffer.get(at + 2)) & 0xFF;
        boolean rgbOrder = format == PixelFormat.RGB || format == PixelFormat.RGBA;
        int r = rgbOrder ? c0 : c2;
        int b = rgbOrder ? c2 : c0;
        return 0xFF000000 | (r << 16) | (c1 << 8) | b;
    }
}

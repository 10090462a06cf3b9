/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Image checks (bad sizes never reach native code) and the ARGB / BGRA to RGB conversion. */
class ImageTest {
    private static void fails(Class<? extends Throwable> type, String needle, Executable call) {
        Throwable e = assertThrows(type, call);
        assertTrue(e.getMessage() != null && e.getMessage().contains(needle), e.getMessage());
    }

    @Test
    void badPixelsAndSizesAreClearErrors() {
        fails(NullPointerException.class, "pixels must not be null", () -> Image.ofArgb(null, 2, 2));
        fails(IllegalArgumentException.class, "pixels has 3 ints, a 2 x 2 ARGB_INT image with row stride 2 needs 4",
                () -> Image.ofArgb(new int[3], 2, 2));
        fails(IllegalArgumentException.class, "image size must be positive, got 0 x 2",
                () -> Image.ofArgb(new int[4], 0, 2));
        fails(IllegalArgumentException.class, "image size must be positive, got 2 x -1",
                () -> Image.ofBytes(new byte[12], 2, -1, PixelFormat.RGB));
        fails(IllegalArgumentException.class, "needs 12", () -> Image.ofBytes(new byte[11], 2, 2, PixelFormat.RGB));
        fails(IllegalArgumentException.class, "needs 16", () -> Image.ofBytes(new byte[12], 2, 2, PixelFormat.RGBA));
        fails(IllegalArgumentException.class, "rowStride 5 is shorter than a row of 2 RGB pixels (6)",
                () -> Image.ofBytes(new byte[12], 2, 2, PixelFormat.RGB, 5));
        fails(IllegalArgumentException.class, "ARGB_INT pixels are ints",
                () -> Image.ofBytes(new byte[12], 2, 2, PixelFormat.ARGB_INT));
        fails(NullPointerException.class, "format must not be null", () -> Image.ofBytes(new byte[12], 2, 2, null));
        ByteBuffer buffer = ByteBuffer.allocateDirect(20);
        buffer.position(10);
        fails(IllegalArgumentException.class, "bytes remaining in the buffer", () -> Image.ofBuffer(buffer, 2, 2,
                PixelFormat.RGB));
        fails(IllegalArgumentException.class, "needs 140735340019728",
                () -> Image.ofBytes(new byte[16], 1 << 16, 1 << 16, PixelFormat.RGB, 0x7fff_fff0));
        // a padded last row may be short: (rows - 1) strides plus one row of pixels is enough
        assertEquals(2, Image.ofBytes(new byte[8 + 6], 2, 2, PixelFormat.RGB, 8).height());
    }

    @Test
    void argbAndBgraBecomeRgb() {
        int[] argb = {0xFF102030, 0x80405060, 7, 0x00708090, 0xFFA0B0C0, 7};
        Image image = Image.ofArgb(argb, 2, 2, 3); // rows 3 ints apart, 2 pixels used
        assertArrayEquals(new byte[] {0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, (byte) 0x80, (byte) 0x90,
            (byte) 0xA0, (byte) 0xB0, (byte) 0xC0}, PixelConversion.toRgb(image, null));
        byte[] bgra = {3, 2, 1, 9, 6, 5, 4, 9, 0, 0, 0, 0, 9, 8, 7, 9, 12, 11, 10, 9, 0, 0, 0, 0};
        Image bgraImage = Image.ofBytes(bgra, 2, 2, PixelFormat.BGRA, 12);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, PixelConversion.toRgb(bgraImage,
                new byte[2]));
        assertEquals(0xFF070809, bgraImage.rgb(0, 1));
        ByteBuffer direct = ByteBuffer.allocateDirect(13);
        direct.put((byte) 99).put(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}).position(1);
        assertArrayEquals(new byte[] {3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10},
                PixelConversion.toRgb(Image.ofBuffer(direct, 2, 2, PixelFormat.BGR), null));
        assertEquals(1, direct.position()); // the caller's buffer is untouched
    }
}

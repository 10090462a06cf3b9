/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Image files: the EXIF orientation tag read from JPEG and PNG bytes written by hand, the 8 transforms by hand,
 * truncated JPEGs. */
class ExifOrientationTest {
    /** A TIFF structure with one IFD0 entry: the orientation as a SHORT, big- or little-endian. */
    static byte[] tiff(int orientation, boolean little) {
        int[] words = little
                ? new int[] {'I', 'I', 0x2A, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0, 0,
                    0, 0, 0}
                : new int[] {'M', 'M', 0, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0,
                    0, 0, 0};
        byte[] out = new byte[words.length];
        for (int i = 0; i < words.length; i++) {
            out[i] = (byte) words[i];
        }
        return out;
    }

    private static void segment(ByteArrayOutputStream out, int marker, byte[] payload) {
        out.write(0xFF);
        out.write(marker);
        out.write((payload.length + 2) >> 8);
        out.write((payload.length + 2) & 0xFF);
        out.writeBytes(payload);
    }

    static byte[] jpeg(byte[] tiff) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0xFF);
        out.write(0xD8);
        segment(out, 0xE0, "JFIF\0\1\1\0\0\1\0\1\0\0".getBytes(StandardCharsets.ISO_8859_1));
        ByteArrayOutputStream exif = new ByteArrayOutputStream();
        exif.writeBytes("Exif\0\0".getBytes(StandardCharsets.ISO_8859_1));
        exif.writeBytes(tiff);
        segment(out, 0xE1, exif.toByteArray());
        segment(out, 0xDA, new byte[10]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        out.write(data.length >>> 24);
        out.write(data.length >>> 16);
        out.write(data.length >>> 8);
        out.write(data.length);
        out.writeBytes(type.getBytes(StandardCharsets.ISO_8859_1));
        out.writeBytes(data);
        out.writeBytes(new byte[4]); // CRC, not checked
    }

    static byte[] png(byte[] tiff) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
        chunk(out, "IHDR", new byte[13]);
        chunk(out, "eXIf", tiff);
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    @Test
    void readsTheTagFromJpegAndPng() {
        assertEquals(6, ExifOrientation.read(jpeg(tiff(6, false))));
        assertEquals(8, ExifOrientation.read(jpeg(tiff(8, true))));
        assertEquals(3, ExifOrientation.read(png(tiff(3, true))));
        assertEquals(5, ExifOrientation.read(png(tiff(5, false))));
        assertEquals(1, ExifOrientation.read(jpeg(tiff(9, false)))); // not an orientation
        byte[] truncated = jpeg(tiff(6, false));
        assertEquals(1, ExifOrientation.read(java.util.Arrays.copyOf(truncated, 30)));
        assertEquals(1, ExifOrientation.read("GIF89a".getBytes(StandardCharsets.ISO_8859_1)));
        assertEquals(1, ExifOrientation.read(new byte[0]));
    }

    @Test
    void truncatedJpegsAreFoundByTheirMissingEndMarker() {
        byte[] whole = {(byte) 0xFF, (byte) 0xD8, 1, (byte) 0xFF, (byte) 0xDA, 5, (byte) 0xFF, 0, 7, (byte) 0xFF,
            (byte) 0xD9};
        assertEquals(false, ImageFiles.jpegTruncated(whole));
        assertEquals(true, ImageFiles.jpegTruncated(java.util.Arrays.copyOf(whole, 9)));
        // an end marker before the last scan (an EXIF thumbnail's) does not count
        byte[] thumbnailOnly = {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xD9, (byte) 0xFF, (byte) 0xDA, 5, 6};
        assertEquals(true, ImageFiles.jpegTruncated(thumbnailOnly));
        assertEquals(true, ImageFiles.jpegTruncated(new byte[] {(byte) 0xFF, (byte) 0xD8}));
    }

    @Test
    void theEightOrientationsByHand() {
        // stored 3 wide, 2 high:  a b c / d e f
        int[] stored = {'a', 'b', 'c', 'd', 'e', 'f'};
        String[] shown = {
            null,
            "abcdef", // 1: as stored
            "cbafed", // 2: mirrored left-right
            "fedcba", // 3: rotated 180
            "defabc", // 4: mirrored top-bottom
            "adbecf", // 5: transposed (2 wide, 3 high)
            "daebfc", // 6: turned 90 clockwise
            "fcebda", // 7: transverse
            "cfbead", // 8: turned 90 counter-clockwise
        };
        for (int o = 1; o <= 8; o++) {
            int[] out = ExifOrientation.apply(stored, 3, 2, o);
            int[] expected = shown[o].chars().toArray();
            assertArrayEquals(expected, out, "orientation " + o);
        }
    }
}

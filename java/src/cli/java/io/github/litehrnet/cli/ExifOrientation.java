/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.cli;

/**
 * The EXIF orientation of a JPEG (APP1 "Exif") or PNG ({@code eXIf} chunk) file, and turning pixels upright by it,
 * as Python's {@code load_image} (OpenCV's {@code IMREAD_COLOR}) does: a phone's portrait photo is stored landscape
 * with orientation 6 and shown upright, and keypoints refer to the upright picture.
 */
final class ExifOrientation {
    /** The EXIF tag of the orientation. */
    static final int TAG = 0x0112;

    private ExifOrientation() {
    }

    /** The orientation 1..8 that the file's EXIF data gives; 1 (as stored) without a valid one. */
    static int read(byte[] file) {
        if (file.length >= 4 && (file[0] & 0xFF) == 0xFF && (file[1] & 0xFF) == 0xD8) {
            return fromJpeg(file);
        }
        if (file.length >= 8 && (file[0] & 0xFF) == 0x89 && file[1] == 'P' && file[2] == 'N' && file[3] == 'G') {
            return fromPng(file);
        }
        return 1;
    }

    private static int u16be(byte[] b, int at) {
        return ((b[at] & 0xFF) << 8) | (b[at + 1] & 0xFF);
    }

    private static long u32be(byte[] b, int at) {
        return ((long) u16be(b, at) << 16) | u16be(b, at + 2);
    }

    private static int fromJpeg(byte[] b) {
        int i = 2;
        while (i + 4 <= b.length) {
            if ((b[i] & 0xFF) != 0xFF) {
                return 1;
            }
            int marker = b[i + 1] & 0xFF;
            if (marker == 0xFF) { // fill byte
                i++;
                continue;
            }
            if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) { // markers without a length
                i += 2;
                continue;
            }
            if (marker == 0xDA || marker == 0xD9) { // image data starts: no EXIF before it
                return 1;
            }
            int length = u16be(b, i + 2);
            if (length < 2 || i + 2 + length > b.length) {
                return 1;
            }
            if (marker == 0xE1 && length >= 8 && b[i + 4] == 'E' && b[i + 5] == 'x' && b[i + 6] == 'i'
                    && b[i + 7] == 'f' && b[i + 8] == 0 && b[i + 9] == 0) {
                return fromTiff(b, i + 10, length - 8);
            }
            i += 2 + length;
        }
        return 1;
    }

    private static int fromPng(byte[] b) {
        int i = 8;
        while (i + 12 <= b.length) {
            long length = u32be(b, i);
            if (length > b.length - i - 12) {
                return 1;
            }
            if (b[i + 4] == 'e' && b[i + 5] == 'X' && b[i + 6] == 'I' && b[i + 7] == 'f') {
                return fromTiff(b, i + 8, (int) length);
            }
            if (b[i + 4] == 'I' && b[i + 5] == 'E' && b[i + 6] == 'N' && b[i + 7] == 'D') {
                return 1;
            }
            i += 12 + (int) length;
        }
        return 1;
    }

    /** The orientation entry of IFD0 of a TIFF structure at {@code [start, start + size)}. */
    private static int fromTiff(byte[] b, int start, int size) {
        if (size < 8 || start + size > b.length) {
            return 1;
        }
        boolean little;
        if (b[start] == 'I' && b[start + 1] == 'I') {
            little = true;
        } else if (b[start] == 'M' && b[start + 1] == 'M') {
            little = false;
        } else {
            return 1;
        }
        long ifd = read32(b, start + 4, little);
        if (ifd < 8 || ifd + 2 > size) {
            return 1;
        }
        int at = start + (int) ifd;
        int entries = read16(b, at, little);
        for (int e = 0; e < entries; e++) {
            int entry = at + 2 + 12 * e;
            if (entry + 12 > start + size) {
                return 1;
            }
            if (read16(b, entry, little) == TAG) {
                int type = read16(b, entry + 2, little);
                int value = type == 3 ? read16(b, entry + 8, little) : type == 4 ? (int) read32(b, entry + 8, little)
                        : -1;
                return value >= 1 && value <= 8 ? value : 1;
            }
        }
        return 1;
    }

    private static int read16(byte[] b, int at, boolean little) {
        int lo = b[at] & 0xFF;
        int hi = b[at + 1] & 0xFF;
        return little ? lo | (hi << 8) : (lo << 8) | hi;
    }

    private static long read32(byte[] b, int at, boolean little) {
        long first = read16(b, at, little);
        long second = read16(b, at + 2, little);
        return little ? first | (second << 16) : (first << 16) | second;
    }

    /**
     * The pixels as shown for {@code orientation} (EXIF 2.3's table), from {@code width x height} stored pixels, rows
     * of {@code width}. Orientations 5 to 8 swap width and height.
     */
    static int[] apply(int[] stored, int width, int height, int orientation) {
        if (orientation <= 1 || orientation > 8) {
            return stored;
        }
        boolean swap = orientation >= 5;
        int outW = swap ? height : width;
        int outH = swap ? width : height;
        int[] out = new int[stored.length];
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                int sx;
                int sy;
                switch (orientation) {
                    case 2: sx = width - 1 - x; sy = y; break; // mirrored left-right
                    case 3: sx = width - 1 - x; sy = height - 1 - y; break; // rotated 180
                    case 4: sx = x; sy = height - 1 - y; break; // mirrored top-bottom
                    case 5: sx = y; sy = x; break; // transposed
                    case 6: sx = y; sy = height - 1 - x; break; // stored turned left: turn right
                    case 7: sx = width - 1 - y; sy = height - 1 - x; break; // transverse
                    default: sx = width - 1 - y; sy = x; break; // 8: stored turned right: turn left
                }
                out[y * outW + x] = stored[sy * width + sx];
            }
        }
        return out;
    }
}

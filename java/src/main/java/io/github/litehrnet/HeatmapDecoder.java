/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

/**
 * Heatmap decoding, ported from Python's {@code lite_hrnet.codec.decode_heatmaps} (default, not DARK): arg-max per
 * joint (the first maximum in row-major order; a NaN counts as the maximum, as numpy's), the maximum as the score, and
 * a quarter pixel toward the higher neighbour per axis with mmpose 1.x's bounds: x is refined where
 * {@code 1 < x < W - 1} and {@code 0 < y < H}, y where {@code 1 < y < H - 1} and {@code 0 < x < W}.
 *
 * <p>Heatmap pixel centers are at integer coordinates. For apps that run the network themselves (for example with
 * a GPU delegate) and want the library's decoding; {@link PoseEstimator} decodes in the native library.
 */
public final class HeatmapDecoder {
    private HeatmapDecoder() {
    }

    /**
     * Decodes N x K heatmaps of {@code height x width}, stored contiguously (NCHW, row-major).
     *
     * @param heatmaps N x K x H x W values
     * @param coords output: N x K x 2 {@code (x, y)} heatmap pixels
     * @param scores output: N x K maxima
     * @throws IllegalArgumentException when the arrays do not hold {@code persons * joints} heatmaps of that size
     */
    public static void decode(float[] heatmaps, int persons, int joints, int height, int width, float[] coords,
            float[] scores) {
        if (heatmaps == null || coords == null || scores == null) {
            throw new NullPointerException("heatmaps, coords and scores must not be null");
        }
        if (persons < 0 || joints <= 0 || height <= 0 || width <= 0) {
            throw new IllegalArgumentException("heatmap shape must be positive, got " + persons + " x " + joints
                    + " x " + height + " x " + width);
        }
        long maps = (long) persons * joints;
        long plane = (long) height * width;
        if (heatmaps.length != maps * plane) {
            throw new IllegalArgumentException("heatmaps has " + heatmaps.length + " values, " + persons + " x "
                    + joints + " x " + height + " x " + width + " needs " + maps * plane);
        }
        if (coords.length < 2 * maps || scores.length < maps) {
            throw new IllegalArgumentException("coords needs " + 2 * maps + " values and scores " + maps + ", got "
                    + coords.length + " and " + scores.length);
        }
        int size = (int) plane;
        for (int m = 0; m < (int) maps; m++) {
            int base = m * size;
            int best = 0;
            float bestValue = heatmaps[base];
            if (!Float.isNaN(bestValue)) {
                for (int i = 1; i < size; i++) {
                    float v = heatmaps[base + i];
                    if (Float.isNaN(v)) {
                        best = i;
                        bestValue = v;
                        break;
                    }
                    if (v > bestValue) {
                        best = i;
                        bestValue = v;
                    }
                }
            }
            int px = best % width;
            int py = best / width;
            float x = px;
            float y = py;
            if (px > 1 && px < width - 1 && py > 0 && py < height) {
                float diff = heatmaps[base + py * width + px + 1] - heatmaps[base + py * width + px - 1];
                x += Math.signum(diff) * 0.25f;
            }
            if (py > 1 && py < height - 1 && px > 0 && px < width) {
                float diff = heatmaps[base + (py + 1) * width + px] - heatmaps[base + (py - 1) * width + px];
                y += Math.signum(diff) * 0.25f;
            }
            coords[2 * m] = x;
            coords[2 * m + 1] = y;
            scores[m] = bestValue;
        }
    }
}

/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.util.Collections;
import java.util.List;

/**
 * What a model file says about itself (its {@code lite_hrnet} metadata entry, read by the native library): input size,
 * joints, flip pairs, skeleton. Immutable.
 */
public final class ModelMetadata {
    private final String name;
    private final int inputHeight;
    private final int inputWidth;
    private final int numJoints;
    private final int heatmapStride;
    private final boolean endToEnd;
    private final int maxBatch;
    private final String colorOrder;
    private final List<String> keypointNames;
    private final int[][] flipPairs;
    private final int[][] skeleton;
    private final String json;

    ModelMetadata(String name, int inputHeight, int inputWidth, int numJoints, int heatmapStride, boolean endToEnd, int maxBatch,
            String colorOrder, List<String> keypointNames, int[][] flipPairs, int[][] skeleton, String json) {
        this.name = name;
        this.inputHeight = inputHeight;
        this.inputWidth = inputWidth;
        this.numJoints = numJoints;
        this.heatmapStride = heatmapStride;
        this.endToEnd = endToEnd;
        this.maxBatch = maxBatch;
        this.colorOrder = colorOrder;
        this.keypointNames = Collections.unmodifiableList(keypointNames);
        this.flipPairs = flipPairs;
        this.skeleton = skeleton;
        this.json = json;
    }

    /** The registered model name, e.g. {@code litehrnet_18_coco_256x192}. */
    public String name() {
        return name;
    }

    public int inputHeight() {
        return inputHeight;
    }

    public int inputWidth() {
        return inputWidth;
    }

    /** Input pixels per heatmap pixel. */
    public int heatmapStride() {
        return heatmapStride;
    }

    /** True for an end-to-end file (uint8 crop in, keypoints out). */
    public boolean isEndToEnd() {
        return endToEnd;
    }

    /** Most persons run in one interpreter call. */
    public int maxBatch() {
        return maxBatch;
    }

    /** "RGB" or "BGR": the network's input channel order (the library converts). */
    public String colorOrder() {
        return colorOrder;
    }

    public int numJoints() {
        return numJoints;
    }

    /** Joint names, e.g. COCO's {@code nose, left_eye, ...}. */
    public List<String> keypointNames() {
        return keypointNames;
    }

    /** Left/right joint index pairs (a copy). */
    public int[][] flipPairs() {
        return deepCopy(flipPairs);
    }

    /** Joint index pairs to connect when drawing (a copy). */
    public int[][] skeleton() {
        return deepCopy(skeleton);
    }

    /** The whole metadata entry as JSON text. */
    public String json() {
        return json;
    }

    private static int[][] deepCopy(int[][] pairs) {
        int[][] out = new int[pairs.length][];
        for (int i = 0; i < pairs.length; i++) {
            out[i] = pairs[i].clone();
        }
        return out;
    }

    @Override
    public String toString() {
        return "ModelMetadata[" + name + ", input " + inputHeight + " x " + inputWidth + ", " + numJoints()
                + " joints" + (endToEnd ? ", end-to-end" : "") + "]";
    }
}

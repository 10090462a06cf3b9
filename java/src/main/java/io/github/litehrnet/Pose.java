/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.util.Arrays;

/**
 * The pose of one person: K keypoints {@code (x, y)} in image pixels with their scores (heatmap maxima), the box the
 * person was cropped from, its index in the boxes given to {@code predict}, and a track id from {@link PoseTracker}
 * (-1 otherwise). Immutable.
 */
public final class Pose {
    private final float[] keypoints; // K x 2, (x, y) interleaved
    private final float[] scores; // K
    private final Box box;
    private final int boxIndex;
    private final long trackId;

    /**
     * @param keypoints K x 2 values {@code x0, y0, x1, y1, ...} in image pixels (copied)
     * @param scores K keypoint scores (copied)
     * @param box the box the person was cropped from (its score is the detection score)
     * @param boxIndex index of that box in the boxes given to {@code predict}
     * @param trackId track identity, -1 when not tracked
     */
    public Pose(float[] keypoints, float[] scores, Box box, int boxIndex, long trackId) {
        if (keypoints == null || scores == null || box == null) {
            throw new NullPointerException("keypoints, scores and box must not be null");
        }
        if (keypoints.length != 2 * scores.length) {
            throw new IllegalArgumentException("keypoints must hold 2 values per score: " + keypoints.length
                    + " values for " + scores.length + " scores");
        }
        this.keypoints = keypoints.clone();
        this.scores = scores.clone();
        this.box = box;
        this.boxIndex = boxIndex;
        this.trackId = trackId;
    }

    /** Number of keypoints K. */
    public int size() {
        return scores.length;
    }

    public float x(int keypoint) {
        return keypoints[2 * keypoint];
    }

    public float y(int keypoint) {
        return keypoints[2 * keypoint + 1];
    }

    public float score(int keypoint) {
        return scores[keypoint];
    }

    /** A copy of the K x 2 keypoints {@code x0, y0, x1, y1, ...} (image pixels). */
    public float[] keypoints() {
        return keypoints.clone();
    }

    /** A copy of the K scores. */
    public float[] scores() {
        return scores.clone();
    }

    public Box box() {
        return box;
    }

    public int boxIndex() {
        return boxIndex;
    }

    /** The track id given by {@link PoseTracker}, -1 when the pose is not tracked. */
    public long trackId() {
        return trackId;
    }

    Pose withTrackId(long id) {
        return new Pose(keypoints, scores, box, boxIndex, id);
    }

    Pose withBoxIndex(int index) {
        return new Pose(keypoints, scores, box, index, trackId);
    }

    Pose withKeypoints(float[] newKeypoints) {
        return new Pose(newKeypoints, scores, box, boxIndex, trackId);
    }

    float[] keypointsView() {
        return keypoints;
    }

    float[] scoresView() {
        return scores;
    }

    @Override
    public String toString() {
        return "Pose[track " + trackId + ", box " + box + ", keypoints " + Arrays.toString(keypoints) + ", scores "
                + Arrays.toString(scores) + "]";
    }
}

/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Video pose estimation that needs a detector only when tracking is lost: the same behaviour as Python's
 * {@code lite_hrnet.pipeline.PoseTracker}, step for step.
 *
 * <p>Each frame's boxes come from, in this order: the boxes given to {@link #update(Image, List, double)} (a detector
 * run every few frames); else the boxes derived from the previous frame's confident keypoints
 * ({@link Geometry#keypointsToBox}); else, when nobody is tracked, the whole frame (one person: check
 * {@link #needsBoxes()} to run a detector instead). A person with fewer than {@code minKeypoints} keypoints above
 * {@code kptThr} is lost. Track ids persist while a person is tracked; given boxes take over the id of the tracked box
 * they overlap most (IoU above {@code iouThr}), the boxes with the highest overlap choosing first.
 *
 * <p>With smoothing ({@link Options#setSmoothing}), the returned keypoints are One-Euro filtered per track; the next
 * boxes still come from the raw keypoints, so that the crops follow the person without the filter's lag.
 *
 * <p>Not thread-safe: one tracker per video stream.
 */
public final class PoseTracker {
    /** Without time stamps, frame {@code i} (counted from the tracker's creation) is at {@code i / 30} seconds. */
    public static final double DEFAULT_FRAME_RATE = 30.0;

    /** Tracking parameters; the defaults are Python's. */
    public static final class Options {
        private float kptThr = 0.3f;
        private int minKeypoints = 3;
        private float enlarge = 1.25f;
        private double iouThr = 0.3;
        private OneEuroFilter smoothing;

        /** Keypoint score threshold for the next box (default 0.3). */
        public Options setKptThr(float value) {
            if (!Float.isFinite(value)) {
                throw new IllegalArgumentException("kptThr must be finite, got " + value);
            }
            kptThr = value;
            return this;
        }

        /** Confident keypoints needed to keep tracking a person (default 3). */
        public Options setMinKeypoints(int value) {
            if (value < 1) {
                throw new IllegalArgumentException("minKeypoints must be at least 1, got " + value);
            }
            minKeypoints = value;
            return this;
        }

        /** Factor the keypoints' bounding box grows by, before the estimator's own padding (default 1.25). */
        public Options setEnlarge(float value) {
            if (!(value > 0 && Float.isFinite(value))) {
                throw new IllegalArgumentException("enlarge must be positive, got " + value);
            }
            enlarge = value;
            return this;
        }

        /** IoU needed to carry a track id over to a given box (default 0.3). */
        public Options setIouThr(double value) {
            if (!Double.isFinite(value)) {
                throw new IllegalArgumentException("iouThr must be finite, got " + value);
            }
            iouThr = value;
            return this;
        }

        /** One-Euro smoothing of the returned keypoints (null: none, the default). */
        public Options setSmoothing(OneEuroFilter filter) {
            smoothing = filter;
            return this;
        }
    }

    private final PoseModel model;
    private final float kptThr;
    private final int minKeypoints;
    private final float enlarge;
    private final double iouThr;
    private final OneEuroFilter smoothing;
    private List<Box> boxes = Collections.emptyList(); // next frame's boxes, with the scores they came with
    private long[] ids = new long[0];
    private long nextId;
    private long frames;

    public PoseTracker(PoseModel model) {
        this(model, new Options());
    }

    public PoseTracker(PoseModel model, Options options) {
        if (model == null || options == null) {
            throw new NullPointerException("model and options must not be null");
        }
        this.model = model;
        this.kptThr = options.kptThr;
        this.minKeypoints = options.minKeypoints;
        this.enlarge = options.enlarge;
        this.iouThr = options.iouThr;
        this.smoothing = options.smoothing;
    }

    /** Forgets every track (and the smoothing state); track ids start again at 0. */
    public void reset() {
        forgetTracks();
        nextId = 0;
    }

    // The id counter survives: a person seen after the tracks were lost must not get an old id.
    private void forgetTracks() {
        boxes = Collections.emptyList();
        ids = new long[0];
        if (smoothing != null) {
            smoothing.reset();
        }
    }

    /** True when nobody is tracked: the next frame needs detector boxes (or runs on the whole frame). */
    public boolean needsBoxes() {
        return boxes.isEmpty();
    }

    /** The boxes the next frame will use when none are given, with the detection scores they carry. */
    public List<Box> trackedBoxes() {
        return Collections.unmodifiableList(new ArrayList<>(boxes));
    }

    /** Poses of the next frame at the default frame rate, with tracked or whole-frame boxes. */
    public List<Pose> update(Image frame) {
        return update(frame, null);
    }

    /** Poses of the next frame at the default frame rate ({@link #DEFAULT_FRAME_RATE}). */
    public List<Pose> update(Image frame, List<Box> givenBoxes) {
        return update(frame, givenBoxes, frames / DEFAULT_FRAME_RATE);
    }

    /**
     * Poses of one frame, each with its {@link Pose#trackId()}.
     *
     * @param frame the frame's pixels
     * @param givenBoxes detector boxes, or null to use the tracked boxes (or the whole frame when nobody is tracked)
     * @param timestamp the frame's time in seconds (used by smoothing; must increase)
     */
    public List<Pose> update(Image frame, List<Box> givenBoxes, double timestamp) {
        if (frame == null) {
            throw new NullPointerException("frame must not be null");
        }
        frames++;
        int width = frame.width();
        int height = frame.height();
        List<Box> useBoxes;
        long[] useIds;
        int[] givenIndices = null;
        if (givenBoxes != null) {
            Geometry.KeptBoxes kept = Geometry.checkBoxes(givenBoxes, width, height);
            List<Box> given = kept.boxes;
            givenIndices = kept.indices;
            long[] assigned = new long[given.size()];
            java.util.Arrays.fill(assigned, -1);
            if (!boxes.isEmpty() && !given.isEmpty()) {
                matchIds(given, assigned);
            }
            for (int i = 0; i < assigned.length; i++) {
                if (assigned[i] < 0) {
                    assigned[i] = nextId++;
                }
            }
            useBoxes = given;
            useIds = assigned;
        } else if (!boxes.isEmpty()) {
            useBoxes = boxes;
            useIds = ids;
        } else {
            useBoxes = List.of(new Box(0, 0, width, height));
            useIds = new long[] {nextId++};
        }
        if (useBoxes.isEmpty()) {
            forgetTracks();
            return Collections.emptyList();
        }
        List<Pose> predicted = model.predict(frame, useBoxes);
        List<Pose> result = new ArrayList<>(predicted.size());
        List<Box> nextBoxes = new ArrayList<>();
        List<Long> nextIds = new ArrayList<>();
        for (Pose pose : predicted) {
            Pose tracked = pose.withTrackId(useIds[pose.boxIndex()]);
            if (givenIndices != null) {  // box indices count the boxes given to update, as predict's do
                tracked = tracked.withBoxIndex(givenIndices[pose.boxIndex()]);
            }
            result.add(tracked);
            Box next = Geometry.keypointsToBox(tracked.keypointsView(), tracked.scoresView(), kptThr, minKeypoints,
                    enlarge, 8f);
            if (next == null) {
                continue;
            }
            float x1 = clip(next.x1, width);
            float y1 = clip(next.y1, height);
            float x2 = clip(next.x2, width);
            float y2 = clip(next.y2, height);
            if (x2 > x1 && y2 > y1) {
                nextBoxes.add(new Box(x1, y1, x2, y2, tracked.box().score));
                nextIds.add(tracked.trackId());
            }
        }
        boxes = nextBoxes;
        ids = nextIds.stream().mapToLong(Long::longValue).toArray();
        if (smoothing != null) {
            return smoothing.filter(result, timestamp);
        }
        return Collections.unmodifiableList(result);
    }

    private static float clip(float v, int limit) {
        return Math.min(Math.max(v, 0f), (float) limit);
    }

    /** Given boxes take over the id of the tracked box they overlap most, highest overlap first (Python's order). */
    private void matchIds(List<Box> given, long[] assigned) {
        int n = given.size();
        int m = boxes.size();
        double[][] iou = new double[n][m];
        double[] best = new double[n];
        for (int i = 0; i < n; i++) {
            best[i] = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < m; j++) {
                iou[i][j] = Geometry.iou(given.get(i), boxes.get(j));
                best[i] = Math.max(best[i], iou[i][j]);
            }
        }
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        order.sort((a, b) -> Double.compare(best[b], best[a])); // stable: ties keep the given order
        Set<Integer> taken = new HashSet<>();
        for (int i : order) {
            int j = 0;
            for (int k = 1; k < m; k++) {
                if (iou[i][k] > iou[i][j]) {
                    j = k;
                }
            }
            if (iou[i][j] > iouThr && !taken.contains(j)) {
                assigned[i] = ids[j];
                taken.add(j);
            }
        }
    }
}

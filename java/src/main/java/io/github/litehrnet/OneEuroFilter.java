/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One-Euro filter of keypoints (Casiez, Roussel and Vogel, CHI 2012), one filter state per track id: a low-pass filter
 * whose cut-off rises with speed, so still keypoints lose their jitter and fast ones do not lag. The same equations,
 * defaults and numbers as Python's {@code lite_hrnet.smoothing.OneEuroFilter}; for each coordinate, with {@code dt} the
 * seconds since the track's previous frame:
 *
 * <pre>
 * alpha(cutoff) = 1 / (1 + tau / dt),   tau = 1 / (2 pi cutoff)
 * dx_hat = alpha(d_cutoff) * (x - x_hat_prev) / dt + (1 - alpha(d_cutoff)) * dx_hat_prev
 * cutoff = min_cutoff + beta * |dx_hat|
 * x_hat  = alpha(cutoff) * x + (1 - alpha(cutoff)) * x_hat_prev
 * </pre>
 *
 * <p>A track's first frame passes unchanged. Keypoints are pixels, so {@code beta} is in 1/pixel. Tracks absent from a
 * call are forgotten. Time stamps are seconds (variable frame rates work). Not thread-safe: one filter per stream.
 */
public final class OneEuroFilter {
    /** Defaults, as in Python. */
    public static final double DEFAULT_MIN_CUTOFF = 1.0;
    public static final double DEFAULT_BETA = 0.05;
    public static final double DEFAULT_D_CUTOFF = 1.0;

    private final double minCutoff;
    private final double beta;
    private final double dCutoff;
    private Map<Long, State> states = new HashMap<>();

    private static final class State {
        final double time;
        final double[] value;
        final double[] speed;

        State(double time, double[] value, double[] speed) {
            this.time = time;
            this.value = value;
            this.speed = speed;
        }
    }

    /**
     * @param minCutoff cut-off frequency (Hz) of a still keypoint; lower is smoother
     * @param beta how fast the cut-off rises with speed (Hz per pixel/second); higher lags less
     * @param dCutoff cut-off frequency (Hz) of the speed estimate
     * @throws IllegalArgumentException for a non-positive cut-off, a negative beta, or NaN/infinite values
     */
    public OneEuroFilter(double minCutoff, double beta, double dCutoff) {
        if (!(minCutoff > 0 && Double.isFinite(minCutoff) && dCutoff > 0 && Double.isFinite(dCutoff))) {
            throw new IllegalArgumentException("minCutoff and dCutoff must be positive (Hz), got " + minCutoff
                    + " and " + dCutoff);
        }
        if (!(beta >= 0 && Double.isFinite(beta))) {
            throw new IllegalArgumentException("beta must be >= 0, got " + beta);
        }
        this.minCutoff = minCutoff;
        this.beta = beta;
        this.dCutoff = dCutoff;
    }

    /** A filter with the defaults (min cut-off 1 Hz, beta 0.05, speed cut-off 1 Hz). */
    public OneEuroFilter() {
        this(DEFAULT_MIN_CUTOFF, DEFAULT_BETA, DEFAULT_D_CUTOFF);
    }

    public double minCutoff() {
        return minCutoff;
    }

    public double beta() {
        return beta;
    }

    public double dCutoff() {
        return dCutoff;
    }

    /** Smoothing factor of a first-order low-pass filter at {@code cutoff} Hz for a step of {@code dt} seconds. */
    public static double alpha(double cutoff, double dt) {
        double tau = 1.0 / (2.0 * Math.PI * cutoff);
        return 1.0 / (1.0 + tau / dt);
    }

    /** Forgets every track. */
    public void reset() {
        states = new HashMap<>();
    }

    /** The track ids with a filter state, ascending. */
    public Set<Long> trackIds() {
        return new TreeSet<>(states.keySet());
    }

    /**
     * Smoothed keypoints of one frame.
     *
     * @param keypoints N arrays of K x 2 values {@code x0, y0, ...} (image pixels)
     * @param trackIds N distinct track ids
     * @param timestamp the frame's time in seconds, after the previous one of each continued track
     * @return N new arrays of smoothed keypoints
     * @throws IllegalArgumentException for mismatched sizes, repeated ids, NaN/infinite values or a timestamp that does
     *     not increase; the filter state is then unchanged
     */
    public float[][] filter(float[][] keypoints, long[] trackIds, double timestamp) {
        if (keypoints == null || trackIds == null) {
            throw new NullPointerException("keypoints and trackIds must not be null");
        }
        if (keypoints.length != trackIds.length) {
            throw new IllegalArgumentException("trackIds has " + trackIds.length + " entries for " + keypoints.length
                    + " persons");
        }
        if (!Double.isFinite(timestamp)) {
            throw new IllegalArgumentException("timestamp must be a finite number of seconds, got " + timestamp);
        }
        Set<Long> seen = new HashSet<>();
        for (int n = 0; n < keypoints.length; n++) {
            if (keypoints[n] == null) {
                throw new NullPointerException("keypoints[" + n + "] is null");
            }
            if (!seen.add(trackIds[n])) {
                throw new IllegalArgumentException("trackIds must be distinct, got " + trackIds[n] + " twice");
            }
            for (float v : keypoints[n]) {
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("keypoints[" + n + "] contains NaN or infinite values");
                }
            }
            State previous = states.get(trackIds[n]);
            if (previous != null && !(timestamp - previous.time > 0)) {
                throw new IllegalArgumentException("timestamp " + timestamp + " is not after the previous one of track "
                        + trackIds[n] + " (" + previous.time + ")");
            }
        }
        float[][] out = new float[keypoints.length][];
        Map<Long, State> next = new HashMap<>();
        for (int n = 0; n < keypoints.length; n++) {
            float[] x = keypoints[n];
            double[] value = new double[x.length];
            double[] speed = new double[x.length];
            out[n] = new float[x.length];
            State previous = states.get(trackIds[n]);
            if (previous == null || previous.value.length != x.length) {
                for (int i = 0; i < x.length; i++) {
                    value[i] = x[i];
                    out[n][i] = x[i];
                }
            } else {
                double dt = timestamp - previous.time;
                double aD = alpha(dCutoff, dt);
                for (int i = 0; i < x.length; i++) {
                    speed[i] = aD * ((x[i] - previous.value[i]) / dt) + (1.0 - aD) * previous.speed[i];
                    double cutoff = minCutoff + beta * Math.abs(speed[i]);
                    double a = alpha(cutoff, dt);
                    value[i] = a * x[i] + (1.0 - a) * previous.value[i];
                    out[n][i] = (float) value[i];
                }
            }
            next.put(trackIds[n], new State(timestamp, value, speed));
        }
        states = next;
        return out;
    }

    /** Smoothed copies of tracked poses (their {@link Pose#trackId()} keys the filter). */
    public List<Pose> filter(List<Pose> poses, double timestamp) {
        float[][] keypoints = new float[poses.size()][];
        long[] ids = new long[poses.size()];
        for (int n = 0; n < poses.size(); n++) {
            keypoints[n] = poses.get(n).keypointsView();
            ids[n] = poses.get(n).trackId();
        }
        float[][] smoothed = filter(keypoints, ids, timestamp);
        Pose[] out = new Pose[poses.size()];
        for (int n = 0; n < out.length; n++) {
            out[n] = poses.get(n).withKeypoints(smoothed[n]);
        }
        return List.of(out);
    }

    @Override
    public String toString() {
        return "OneEuroFilter(minCutoff=" + minCutoff + ", beta=" + beta + ", dCutoff=" + dCutoff + ")";
    }
}

/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.util.List;

/** What {@link PoseTracker} needs from a pose estimator; {@link PoseEstimator} is the one the library provides. */
public interface PoseModel {
    /**
     * Poses of the persons in {@code boxes}, as {@link PoseEstimator#predict(Image, List)}: null boxes mean the whole
     * image, boxes entirely outside the image are skipped ({@link Pose#boxIndex()} says which box each pose came from).
     */
    List<Pose> predict(Image image, List<Box> boxes);

    /** Keypoints per person. */
    int numJoints();
}

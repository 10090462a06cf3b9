/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Top-down crop geometry, ported from Python's {@code lite_hrnet.geometry} (the one owner of it) with the same
 * arithmetic: mmpose's top-down conventions.
 *
 * <ul>
 *   <li>Boxes are {@code (x1, y1, x2, y2)} image pixels. A box becomes a center and a scale (pixels): the box widened to
 *       the network's aspect ratio (input width / input height) and padded by 1.25.</li>
 *   <li>The crop {@code [center - scale / 2, center + scale / 2]} is warped to the input size; heatmap coordinates map
 *       back with {@code x_image = x_hm * scale_w / W_hm + center_x - scale_w / 2}.</li>
 *   <li>Sizes are (height, width); points are (x, y).</li>
 * </ul>
 */
public final class Geometry {
    /** mmpose's box padding. */
    public static final float DEFAULT_PADDING = 1.25f;

    private Geometry() {
    }

    /**
     * Center and scale of a box (mmpose's {@code _box2cs}, scale in pixels), as Python computes them: in double,
     * then rounded to float.
     *
     * @param aspectRatio input width / input height of the network
     * @return {@code {cx, cy, scale_w, scale_h}}
     */
    public static float[] boxToCenterScale(Box box, double aspectRatio, double padding) {
        double x1 = box.x1;
        double y1 = box.y1;
        double w = (double) box.x2 - x1;
        double h = (double) box.y2 - y1;
        double cx = x1 + 0.5 * w;
        double cy = y1 + 0.5 * h;
        boolean wider = w > aspectRatio * h;
        if (wider) {
            h = w / aspectRatio;
        }
        if (!wider && w < aspectRatio * h) {
            w = h * aspectRatio;
        }
        return new float[] {(float) cx, (float) cy, (float) (w * padding), (float) (h * padding)};
    }

    /**
     * The 2 x 3 affine matrix (row-major) from image pixels to a crop of {@code outHeight x outWidth}: maps
     * {@code center - scale / 2} to (0, 0) and {@code center} to {@code (W / 2, H / 2)}.
     */
    public static double[] cropMatrix(float cx, float cy, float scaleW, float scaleH, int outHeight, int outWidth) {
        double sx = outWidth / (double) scaleW;
        double sy = outHeight / (double) scaleH;
        return new double[] {sx, 0.0, outWidth * 0.5 - cx * sx, 0.0, sy, outHeight * 0.5 - cy * sy};
    }

    /**
     * Maps heatmap coordinates to image pixels in place (mmpose's {@code transform_preds}).
     *
     * @param xy K x 2 values {@code x0, y0, ...} in heatmap pixels, overwritten with image pixels
     * @param centerScale {@code {cx, cy, scale_w, scale_h}} from {@link #boxToCenterScale}
     */
    public static void heatmapToImage(float[] xy, float[] centerScale, int heatmapHeight, int heatmapWidth) {
        double fx = centerScale[2] / (double) heatmapWidth;
        double fy = centerScale[3] / (double) heatmapHeight;
        double halfW = centerScale[2] * 0.5;
        double halfH = centerScale[3] * 0.5;
        for (int i = 0; i + 1 < xy.length; i += 2) {
            // the same order of operations as Python's heatmap_to_image, so that the floats agree exactly
            xy[i] = (float) (xy[i] * fx + centerScale[0] - halfW);
            xy[i + 1] = (float) (xy[i + 1] * fy + centerScale[1] - halfH);
        }
    }

    /**
     * The box around a person's confident keypoints (for tracking), as Python's {@code keypoints_to_boxes} computes it
     * in float32: the bounding box of the keypoints with {@code score > thr}, enlarged by {@code enlarge} around its
     * center and at least {@code minSize} pixels wide and high.
     *
     * @param xy K x 2 keypoints {@code x0, y0, ...} (pixels)
     * @param scores K scores
     * @return the box (score 1), or null when fewer than {@code minKeypoints} keypoints are confident
     */
    public static Box keypointsToBox(float[] xy, float[] scores, float thr, int minKeypoints, float enlarge,
            float minSize) {
        int good = 0;
        float loX = Float.POSITIVE_INFINITY;
        float loY = Float.POSITIVE_INFINITY;
        float hiX = Float.NEGATIVE_INFINITY;
        float hiY = Float.NEGATIVE_INFINITY;
        for (int k = 0; k < scores.length; k++) {
            if (scores[k] > thr) {
                good++;
                loX = Math.min(loX, xy[2 * k]);
                hiX = Math.max(hiX, xy[2 * k]);
                loY = Math.min(loY, xy[2 * k + 1]);
                hiY = Math.max(hiY, xy[2 * k + 1]);
            }
        }
        if (good < minKeypoints) {
            return null;
        }
        float cx = (loX + hiX) * 0.5f;
        float cy = (loY + hiY) * 0.5f;
        float halfMin = minSize * 0.5f;
        float hx = Math.max((hiX - loX) * 0.5f * enlarge, halfMin);
        float hy = Math.max((hiY - loY) * 0.5f * enlarge, halfMin);
        return new Box(cx - hx, cy - hy, cx + hx, cy + hy);
    }

    /** Intersection over union of two boxes (0 when the union is empty), in double as Python's {@code box_iou}. */
    public static double iou(Box a, Box b) {
        double ix1 = Math.max(a.x1, b.x1);
        double iy1 = Math.max(a.y1, b.y1);
        double ix2 = Math.min(a.x2, b.x2);
        double iy2 = Math.min(a.y2, b.y2);
        double inter = Math.max(ix2 - ix1, 0.0) * Math.max(iy2 - iy1, 0.0);
        double areaA = ((double) a.x2 - a.x1) * ((double) a.y2 - a.y1);
        double areaB = ((double) b.x2 - b.x1) * ((double) b.y2 - b.y1);
        double union = areaA + areaB - inter;
        return union > 0 ? inter / Math.max(union, 1e-12) : 0.0;
    }

    /** The boxes {@link #checkBoxes} keeps, with their indices in the boxes given. */
    public static final class KeptBoxes {
        public final List<Box> boxes;
        public final int[] indices;

        KeptBoxes(List<Box> boxes, int[] indices) {
            this.boxes = Collections.unmodifiableList(boxes);
            this.indices = indices;
        }
    }

    /**
     * Validates person boxes against an image, as Python's {@code check_boxes}: null means the whole image (one box,
     * score 1); boxes entirely outside the image are skipped.
     *
     * @throws IllegalArgumentException naming {@code boxes[i]} for a null box, NaN or infinite values, or a box with
     *     zero or negative width or height
     */
    public static KeptBoxes checkBoxes(List<Box> boxes, int width, int height) {
        if (boxes == null) {
            List<Box> whole = new ArrayList<>();
            whole.add(new Box(0, 0, width, height));
            return new KeptBoxes(whole, new int[] {0});
        }
        List<Box> kept = new ArrayList<>(boxes.size());
        int[] indices = new int[boxes.size()];
        for (int i = 0; i < boxes.size(); i++) {
            Box b = boxes.get(i);
            if (b == null) {
                throw new IllegalArgumentException("boxes[" + i + "] is null");
            }
            if (!(Float.isFinite(b.x1) && Float.isFinite(b.y1) && Float.isFinite(b.x2) && Float.isFinite(b.y2)
                    && Float.isFinite(b.score))) {
                throw new IllegalArgumentException("boxes[" + i + "] has NaN or infinite values: " + b);
            }
            if (b.x2 <= b.x1 || b.y2 <= b.y1) {
                throw new IllegalArgumentException("boxes[" + i + "] = [" + b.x1 + ", " + b.y1 + ", " + b.x2 + ", "
                        + b.y2 + "] has zero or negative area (boxes are x1, y1, x2, y2 with x2 > x1, y2 > y1)");
            }
        }
        int n = 0;
        for (int i = 0; i < boxes.size(); i++) {
            Box b = boxes.get(i);
            if (b.x2 > 0 && b.y2 > 0 && b.x1 < width && b.y1 < height) {
                kept.add(b);
                indices[n++] = i;
            }
        }
        int[] used = new int[n];
        System.arraycopy(indices, 0, used, 0, n);
        return new KeptBoxes(kept, used);
    }
}

"""Top-down crop geometry, the one owner of it (numpy only): boxes to centers and scales, the
affine crop, and heatmap coordinates back to image pixels.

Conventions (mmpose's top-down models, which Lite-HRNet was trained with):

- Boxes are N x 4 ``(x1, y1, x2, y2)`` in image pixels. A box becomes a *center*
  and a *scale*: the scale (in pixels here; mmpose 0.x stored it divided by 200)
  is the box widened to the network's aspect ratio and padded by ``padding`` (1.25).
- The crop ``[center - scale / 2, center + scale / 2]`` is warped to the input size,
  so an image point ``p`` lands at ``(p - center + scale / 2) * input_size / scale``.
  Heatmap coordinates map back the same way with the heatmap size (mmpose's
  ``transform_preds``): ``x_image = x_hm * scale_w / W_hm + center_x - scale_w / 2``.
- Sizes are ``(height, width)``; points are ``(x, y)``.

The pipeline, training transforms, synthetic data and export calibration all call
these functions; the C and Java libraries copy them (golden values in native/tests).
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

__all__ = ["box_to_center_scale", "crop_matrix", "heatmap_to_image", "keypoints_to_boxes"]


def box_to_center_scale(
    boxes: np.ndarray, aspect_ratio: float, padding: float = 1.25
) -> Tuple[np.ndarray, np.ndarray]:
    """Centers and scales of N x 4 ``(x1, y1, x2, y2)`` boxes (mmpose's ``_box2cs``, scale in pixels).

    The box is widened (or heightened) to ``aspect_ratio`` = input width / input
    height around its center, then both sides are multiplied by ``padding``.

    Returns:
        ``(centers, scales)``: N x 2 float32 ``(cx, cy)`` and N x 2 float32 ``(w, h)``, pixels.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    centers = np.stack([boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h], axis=1)
    wider = w > aspect_ratio * h
    h = np.where(wider, w / aspect_ratio, h)
    w = np.where(~wider & (w < aspect_ratio * h), h * aspect_ratio, w)
    scales = np.stack([w, h], axis=1) * padding
    return centers.astype(np.float32), scales.astype(np.float32)


def crop_matrix(center: Sequence[float], scale: Sequence[float], output_size: Tuple[int, int]) -> np.ndarray:
    """2 x 3 affine matrix from image pixels to a crop of ``output_size`` (height, width).

    Maps ``center - scale / 2`` to ``(0, 0)`` and ``center`` to ``(W / 2, H / 2)``.
    """
    out_h, out_w = output_size
    sx = out_w / float(scale[0])
    sy = out_h / float(scale[1])
    return np.array(
        [[sx, 0.0, out_w * 0.5 - float(center[0]) * sx], [0.0, sy, out_h * 0.5 - float(center[1]) * sy]],
        dtype=np.float64,
    )


def heatmap_to_image(
    coords: np.ndarray, centers: np.ndarray, scales: np.ndarray, heatmap_size: Tuple[int, int]
) -> np.ndarray:
    """Map N x K x 2 heatmap coordinates back to image pixels (mmpose's ``transform_preds``).

    Args:
        coords: N x K x 2 (x, y) heatmap pixels.
        centers: N x 2 box centers; scales: N x 2 box scales (pixels).
        heatmap_size: (height, width) of the heatmaps.

    Returns:
        N x K x 2 float32 image pixel coordinates.
    """
    hm_h, hm_w = heatmap_size
    coords = np.asarray(coords, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)[:, None, :]
    scales = np.asarray(scales, dtype=np.float64)[:, None, :]
    factor = scales / np.array([hm_w, hm_h], dtype=np.float64)
    return (coords * factor + centers - scales * 0.5).astype(np.float32)


def keypoints_to_boxes(
    keypoints: np.ndarray, scores: np.ndarray, thr: float = 0.3, min_keypoints: int = 3, enlarge: float = 1.25,
    min_size: float = 8.0,
) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes around each person's confident keypoints (for tracking).

    The bounding box of the keypoints with ``score > thr`` is enlarged by
    ``enlarge`` around its center (keypoints miss the head top, hands and feet)
    and kept at least ``min_size`` pixels wide and high.

    Returns:
        ``(boxes, ok)``: N x 4 float32 ``(x1, y1, x2, y2)`` and an N bool mask of
        the persons with at least ``min_keypoints`` confident keypoints (the
        others' boxes are zeros).
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    n = keypoints.shape[0]
    boxes = np.zeros((n, 4), dtype=np.float32)
    ok = np.zeros((n,), dtype=bool)
    for i in range(n):
        good = scores[i] > thr
        if good.sum() < min_keypoints:
            continue
        pts = keypoints[i][good]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        center = (lo + hi) * 0.5
        half = np.maximum((hi - lo) * 0.5 * enlarge, min_size * 0.5)
        boxes[i] = np.concatenate([center - half, center + half])
        ok[i] = True
    return boxes, ok

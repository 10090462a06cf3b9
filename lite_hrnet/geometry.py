"""Top-down crop geometry, the one owner of it (numpy + OpenCV): person boxes, the affine crop, the
network input made from the crop, and heatmap coordinates back to image pixels.

Conventions (mmpose's top-down models, which Lite-HRNet was trained with):

- Image points are ``(x, y)`` pixels, x to the right, y down, pixel centres at integers (as COCO).
- Boxes are N x 4 ``(x1, y1, x2, y2)`` in image pixels (COCO annotations: ``[x, y, w, h]``).
  A box becomes a *center* and a *scale*: the scale (in pixels here; mmpose 0.x stored
  it divided by 200) is the box widened to the network's aspect ratio and padded by
  ``padding`` (1.25). :class:`Box` holds one such region with a rotation (training).
- The crop ``[center - scale / 2, center + scale / 2]`` is warped to the input size,
  so an image point ``p`` lands at ``(p - center + scale / 2) * input_size / scale``
  (mmpose 0.x ``get_affine_transform`` without UDP). Heatmap coordinates map back the
  same way with the heatmap size (mmpose's ``transform_preds``):
  ``x_image = x_hm * scale_w / W_hm + center_x - scale_w / 2``.
- Sizes are ``(height, width)``; points are ``(x, y)``.
- The network input is the crop as normalized RGB: ``(pixel - mean) / std`` on 0-255
  values, channels first (N x 3 x H x W float32).

The pipeline, training transforms, synthetic data and export calibration all call
these functions; the C and Java libraries copy them (golden values in native/tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    "PADDING", "Box", "apply_affine", "box_from_xywh", "box_to_center_scale", "crop_matrix", "fit_aspect",
    "heatmap_to_image", "keypoints_to_boxes", "normalize_crops", "warp_crop",
]

#: The factor person boxes are enlarged by (mmpose: 1.25).
PADDING = 1.25


@dataclass(frozen=True)
class Box:
    """One person region: center ``(cx, cy)`` and scale ``(w, h)`` in image pixels, rotation in degrees.

    ``(w, h)`` is the region's full size after padding and widening to the
    network's aspect ratio (mmpose's ``scale * 200``); ``rotation`` turns the image
    content counter-clockwise as displayed (training augmentation).
    """

    cx: float
    cy: float
    w: float
    h: float
    rotation: float = 0.0

    @property
    def center(self) -> Tuple[float, float]:
        return self.cx, self.cy

    @property
    def scale(self) -> Tuple[float, float]:
        return self.w, self.h


def fit_aspect(w, h, aspect: float) -> Tuple[np.ndarray, np.ndarray]:
    """Widths and heights grown along the shorter side until ``w / h == aspect`` (float64, scalars or arrays).

    As mmpose's ``_box2cs``: wider boxes get ``h = w / aspect``, narrower ones ``w = h * aspect``.
    """
    w = np.asarray(w, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    wider = w > aspect * h
    h = np.where(wider, w / aspect, h)
    w = np.where(~wider & (w < aspect * h), h * aspect, w)
    return w, h


def box_to_center_scale(
    boxes: np.ndarray, aspect_ratio: float, padding: float = PADDING
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
    w, h = fit_aspect(w, h, aspect_ratio)
    scales = np.stack([w, h], axis=1) * padding
    return centers.astype(np.float32), scales.astype(np.float32)


def box_from_xywh(xywh: Sequence[float], input_size: Tuple[int, int], padding: float = PADDING) -> Box:
    """A COCO ``[x, y, w, h]`` box as a float64 :class:`Box` for an ``input_size`` (H, W) network.

    The same rule as :func:`box_to_center_scale`: the centre is ``x + w / 2, y + h / 2``;
    the shorter side grows until ``w / h == W / H``; both sides are multiplied by ``padding``.
    """
    x, y, w, h = (float(v) for v in xywh[:4])
    cx, cy = x + w * 0.5, y + h * 0.5
    w, h = fit_aspect(w, h, input_size[1] / input_size[0])
    return Box(cx, cy, float(w) * padding, float(h) * padding)


def crop_matrix(
    center: Sequence[float], scale: Sequence[float], output_size: Tuple[int, int], rotation: float = 0.0,
    inverse: bool = False,
) -> np.ndarray:
    """2 x 3 float64 affine from image pixels to a crop of ``output_size`` (height, width), or back with ``inverse``.

    Maps ``center - scale / 2`` to ``(0, 0)`` and ``center`` to ``(W / 2, H / 2)``.
    With a ``rotation`` (degrees) the image content also turns counter-clockwise as
    displayed about the center (``cv2.getRotationMatrix2D``), scaled by ``W / scale_w``
    along both axes (the scale has the crop's aspect ratio).
    """
    out_h, out_w = output_size
    cx, cy = float(center[0]), float(center[1])
    if rotation:
        m = cv2.getRotationMatrix2D((cx, cy), float(rotation), out_w / float(scale[0])).astype(np.float64)
        m[0, 2] += out_w / 2.0 - cx
        m[1, 2] += out_h / 2.0 - cy
    else:
        sx = out_w / float(scale[0])
        sy = out_h / float(scale[1])
        m = np.array([[sx, 0.0, out_w * 0.5 - cx * sx], [0.0, sy, out_h * 0.5 - cy * sy]], dtype=np.float64)
    if inverse:
        m = cv2.invertAffineTransform(m).astype(np.float64)
    return m


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map ... x 2 ``(x, y)`` points through a 2 x 3 affine (float64)."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def warp_crop(image: np.ndarray, matrix: np.ndarray, output_size: Tuple[int, int]) -> np.ndarray:
    """The ``output_size`` (H, W) crop of an H x W x C image through a 2 x 3 crop matrix (bilinear, zeros outside)."""
    return cv2.warpAffine(image, matrix, (int(output_size[1]), int(output_size[0])), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def normalize_crops(
    crops: np.ndarray, mean: Sequence[float], std: Sequence[float], rgb: bool = True
) -> np.ndarray:
    """... x H x W x 3 uint8 BGR crops -> ... x 3 x H x W float32 network input, ``(v - mean) / std`` on 0-255.

    ``mean``/``std`` are in the model's channel order: RGB (the crop's channels are
    reversed first) unless ``rgb`` is False.
    """
    crops = np.asarray(crops)
    if crops.ndim < 3 or crops.shape[-1] != 3:
        raise ValueError(f"crops must be ... x H x W x 3 (BGR), got shape {crops.shape}")
    mean = np.broadcast_to(np.asarray(mean, np.float32), (3,))
    std = np.broadcast_to(np.asarray(std, np.float32), (3,))
    out = np.empty(crops.shape[:-3] + (3,) + crops.shape[-3:-1], np.float32)
    # One channel plane at a time, straight into the planar result: the same float32 operations as
    # (float32(v) - mean) / std, without a float32 HWC copy and its transpose.
    for c in range(3):
        plane = out[..., c, :, :]
        np.subtract(crops[..., 2 - c] if rgb else crops[..., c], mean[c], out=plane, dtype=np.float32)
        np.divide(plane, std[c], out=plane)
    return out


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

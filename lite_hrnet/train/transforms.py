"""Top-down sample pipeline of the official configs (numpy + OpenCV, no torch).

Conventions:

- Image pixel coordinates are (x, y), x to the right, y down, pixel centres
  at integers (as COCO keypoints).
- A person region is a :class:`Box` ``(cx, cy, w, h)`` in image pixels: its
  centre and its full size *after* the 1.25 padding and the widening to the
  network's aspect ratio (mmpose's ``center`` and ``scale * 200``).
- The crop affine maps the box centre to ``(W / 2, H / 2)`` of the
  ``input_size = (H, W)`` crop and the box width to ``W`` (mmpose 0.x
  ``get_affine_transform`` without UDP), so heatmap coordinates are input
  coordinates divided by the stride, the convention the released
  checkpoints were trained with and that :mod:`lite_hrnet.codec` decodes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..specs import JointSet

PADDING = 1.25
_LOWER_BODY_WORDS = ("hip", "knee", "ankle", "pelvis", "foot", "heel", "toe")


@dataclass(frozen=True)
class Box:
    """A person region: centre (cx, cy) and size (w, h) in image pixels, rotation in degrees (counter-clockwise)."""

    cx: float
    cy: float
    w: float
    h: float
    rotation: float = 0.0


def box_from_xywh(xywh: Sequence[float], input_size: Tuple[int, int], padding: float = PADDING) -> Box:
    """A COCO ``[x, y, w, h]`` box as a :class:`Box`: widened to the aspect of ``input_size`` (H, W), then padded.

    As mmpose ``_xywh2cs``: the centre is ``x + w / 2, y + h / 2``; the shorter
    side grows until ``w / h == W / H``; both sides are multiplied by ``padding``.
    """
    x, y, w, h = (float(v) for v in xywh[:4])
    aspect = input_size[1] / input_size[0]
    cx, cy = x + w * 0.5, y + h * 0.5
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return Box(cx, cy, w * padding, h * padding)


def crop_affine(box: Box, input_size: Tuple[int, int], inverse: bool = False) -> np.ndarray:
    """2 x 3 float64 affine from image pixels to crop pixels (or back with ``inverse``).

    The box centre goes to ``(W / 2, H / 2)``; the box is scaled by ``W / box.w``
    (the box has the crop's aspect ratio, so also ``H / box.h``) and the image
    content turns by ``box.rotation`` degrees counter-clockwise as displayed
    (``cv2.getRotationMatrix2D`` about the box centre).
    """
    ih, iw = input_size
    s = iw / box.w
    m = cv2.getRotationMatrix2D((float(box.cx), float(box.cy)), float(box.rotation), float(s)).astype(np.float64)
    m[0, 2] += iw / 2.0 - box.cx
    m[1, 2] += ih / 2.0 - box.cy
    if inverse:
        m = cv2.invertAffineTransform(m).astype(np.float64)
    return m


def apply_affine(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Map ... x 2 (x, y) points through a 2 x 3 affine."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def warp_crop(image: np.ndarray, box: Box, input_size: Tuple[int, int]) -> np.ndarray:
    """The H x W x C crop of ``image`` for ``box`` (bilinear, zero border)."""
    m = crop_affine(box, input_size)
    return cv2.warpAffine(image, m, (int(input_size[1]), int(input_size[0])), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def lower_body_mask(joints: JointSet) -> np.ndarray:
    """K bools: the joints the half-body transform counts as lower body (hips, knees, ankles, pelvis...)."""
    return np.array([any(w in n for w in _LOWER_BODY_WORDS) for n in joints.keypoint_names], bool)


def flip_sample(
    image: np.ndarray, keypoints: np.ndarray, box: Box, flip_pairs: Sequence[Tuple[int, int]]
) -> Tuple[np.ndarray, np.ndarray, Box]:
    """Mirror an image horizontally with its K x 3 (x, y, v) keypoints and box.

    ``x`` becomes ``width - 1 - x`` (pixel centres at integers) and the
    left/right joints of ``flip_pairs`` trade places.
    """
    width = image.shape[1]
    image = image[:, ::-1].copy()
    kp = keypoints.copy()
    kp[:, 0] = width - 1 - kp[:, 0]
    order = np.arange(len(kp))
    for a, b in flip_pairs:
        order[a], order[b] = b, a
    kp = kp[order]
    return image, kp, replace(box, cx=width - 1 - box.cx)


@dataclass(frozen=True)
class AugmentConfig:
    """The random transforms of the official training configs."""

    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8
    half_body_padding: float = 1.5
    scale_factor: float = 0.25
    rotation_factor: float = 30.0
    rotation_prob: float = 0.6


def half_body_box(
    keypoints: np.ndarray, lower: np.ndarray, input_size: Tuple[int, int], rng: np.random.Generator,
    padding: float = 1.5,
) -> Optional[Box]:
    """The box of the upper or the lower body's visible joints (mmpose ``TopDownHalfBodyTransform``), or None.

    Picks the upper body with probability 0.5 when it has more than two visible
    joints, otherwise the lower body (if it has more than two); the box is the
    joints' extent widened to the aspect of ``input_size`` and scaled by ``padding``.
    """
    vis = keypoints[:, 2] > 0
    upper_idx = np.nonzero(vis & ~lower)[0]
    lower_idx = np.nonzero(vis & lower)[0]
    if rng.random() < 0.5 and len(upper_idx) > 2:
        sel = upper_idx
    else:
        sel = lower_idx if len(lower_idx) > 2 else upper_idx
    if len(sel) < 2:
        return None
    pts = keypoints[sel, :2]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    cx, cy = pts.mean(axis=0)
    w, h = hi - lo
    aspect = input_size[1] / input_size[0]
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return Box(float(cx), float(cy), float(w) * padding, float(h) * padding)


def augment(
    image: np.ndarray,
    keypoints: np.ndarray,
    box: Box,
    joints: JointSet,
    input_size: Tuple[int, int],
    rng: np.random.Generator,
    config: AugmentConfig = AugmentConfig(),
) -> Tuple[np.ndarray, np.ndarray, Box]:
    """Random flip, half-body, scale and rotation, in the order of the official pipeline.

    Args:
        image: H x W x 3 image.
        keypoints: K x 3 (x, y, v) in image pixels.
        box: the person's :class:`Box`.

    Returns:
        The (possibly mirrored) image, its K x 3 keypoints and the new box (rotation set).
    """
    if rng.random() <= config.flip_prob:
        image, keypoints, box = flip_sample(image, keypoints, box, joints.flip_pairs)
    if (keypoints[:, 2] > 0).sum() > config.half_body_min_joints and rng.random() < config.half_body_prob:
        hb = half_body_box(keypoints, lower_body_mask(joints), input_size, rng, config.half_body_padding)
        if hb is not None:
            box = hb
    sf, rf = config.scale_factor, config.rotation_factor
    s = float(np.clip(rng.normal() * sf + 1, 1 - sf, 1 + sf))
    r = float(np.clip(rng.normal() * rf, -2 * rf, 2 * rf)) if rng.random() <= config.rotation_prob else 0.0
    return image, keypoints, Box(box.cx, box.cy, box.w * s, box.h * s, r)


def normalize(crop_bgr: np.ndarray, mean_rgb: Sequence[float], std_rgb: Sequence[float]) -> np.ndarray:
    """H x W x 3 BGR uint8 -> 3 x H x W float32 normalized RGB ((v - mean) / std on 0-255 values)."""
    rgb = crop_bgr[..., ::-1].astype(np.float32)
    rgb = (rgb - np.asarray(mean_rgb, np.float32)) / np.asarray(std_rgb, np.float32)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


__all__ = [
    "AugmentConfig", "Box", "PADDING", "apply_affine", "augment", "box_from_xywh", "crop_affine", "flip_sample",
    "half_body_box", "lower_body_mask", "normalize", "warp_crop",
]

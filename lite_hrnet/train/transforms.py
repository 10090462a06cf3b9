"""Training augmentation of the official configs: flip, half-body, scale and rotation (numpy + OpenCV, no torch).

The crop geometry itself (:class:`~lite_hrnet.geometry.Box`, boxes from COCO
``[x, y, w, h]``, the rotation-aware crop matrix) is :mod:`lite_hrnet.geometry`'s,
the same the pipeline crops with at inference; this module only draws the random
changes of a sample's :class:`Box` (its center, scale and rotation) and mirrors
samples. Points are ``(x, y)`` image pixels, pixel centres at integers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence, Tuple

import numpy as np

from ..geometry import Box, fit_aspect
from ..specs import JointSet

_LOWER_BODY_WORDS = ("hip", "knee", "ankle", "pelvis", "foot", "heel", "toe")


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
    w, h = fit_aspect(*(hi - lo), input_size[1] / input_size[0])
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


__all__ = ["AugmentConfig", "augment", "flip_sample", "half_body_box", "lower_body_mask"]

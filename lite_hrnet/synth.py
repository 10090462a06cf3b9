"""Synthetic people with the 17 COCO keypoints, drawn with numpy and OpenCV only.

The generator poses an articulated figure in a simple 3D body frame (limb
lengths and joint angles sampled from plausible ranges), turns it about the
vertical axis, projects it orthographically, rolls, scales and places it in
the image, and paints it part by part from back to front as shaded capsules
(clothes, skin, hair, shoes) on a textured background. Several people per
image, occluding objects in front of some of them, blur, noise and JPEG.

It writes COCO keypoint annotations: ``keypoints`` as ``[x, y, v] * 17`` in
image pixels (pixel centres at integer coordinates, as COCO), ``v = 2``
visible, ``v = 1`` labelled but hidden (behind another person, an occluder,
or the far side of the head), ``v = 0`` not labelled (outside the image).
``bbox`` is ``[x, y, w, h]`` around the person's drawn silhouette within the
image. ``area`` (the OKS scale) is the box area ``w * h``, as for keypoint
sets without segmentation masks: the figures' limbs are thinner than clothed
people, so their pixel count would understate the person's scale.

This module must not import torch: the export code uses
:func:`synthetic_person_crops` for int8 calibration.

Coordinates in this file: (x, y) with x to the right and y down, in pixels.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from .geometry import apply_affine, box_to_center_scale, crop_matrix, warp_crop
from .progress import progress_bar
from .specs import COCO_JOINTS

NUM_JOINTS = 17
(NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI,
 L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK) = range(NUM_JOINTS)


@dataclass
class Person:
    """One drawn figure.

    ``keypoints`` is 17 x 3 (x, y, v) in image pixels; ``mask`` is the H x W
    bool silhouette as drawn (before later people and occluders cover it).
    """

    keypoints: np.ndarray
    mask: np.ndarray
    depth_order: int = 0


@dataclass
class SynthConfig:
    """Ranges of the generator. Sizes are in pixels of the output image."""

    image_size: Tuple[int, int] = (320, 320)  # (height, width)
    people_per_image: Tuple[int, int] = (1, 4)  # inclusive range
    person_height_frac: Tuple[float, float] = (0.35, 0.95)  # standing height / image height
    large_roll_prob: float = 0.15  # probability of a roll up to 70 degrees instead of 15
    occluder_prob: float = 0.35  # per person: an object drawn in front of it
    blur_prob: float = 0.25
    noise_sigma: Tuple[float, float] = (0.0, 8.0)
    jpeg_quality: Tuple[int, int] = (80, 96)


# --------------------------------------------------------------------------- pose


def _unit(abduction: float, flexion: float, side: float) -> np.ndarray:
    """A downward-pointing limb direction in the body frame (x: person's left, y: down, z: forward).

    ``abduction`` swings the limb outward (away from the body midline on the
    limb's ``side``: +1 left, -1 right), ``flexion`` swings it forward.
    """
    return np.array([
        side * math.sin(abduction) * math.cos(flexion),
        math.cos(abduction) * math.cos(flexion),
        math.sin(flexion),
    ])


def _sample_pose(rng: np.random.Generator) -> Tuple[np.ndarray, Dict[str, float]]:
    """Joints of one figure in the 3D body frame, for a standing height of 1.

    Returns the 17 x 3 joint array (x left, y down, z forward; the neck at the
    origin) and the body proportions used for drawing.
    """
    r = rng.uniform
    head_r = r(0.055, 0.07)
    torso = r(0.28, 0.33)
    sho_w = r(0.2, 0.26)
    hip_w = sho_w * r(0.65, 0.85)
    upper_arm, fore_arm = r(0.15, 0.19), r(0.13, 0.17)
    thigh, shin = r(0.22, 0.27), r(0.21, 0.26)
    j = np.zeros((NUM_JOINTS, 3))
    j[L_SHO] = (sho_w / 2, 0.0, 0.0)
    j[R_SHO] = (-sho_w / 2, 0.0, 0.0)
    j[L_HIP] = (hip_w / 2, torso, 0.0)
    j[R_HIP] = (-hip_w / 2, torso, 0.0)
    # Torso bend: rotate the hips about the neck in the sagittal plane.
    bend = r(-0.15, 0.45)
    for k in (L_HIP, R_HIP):
        y, z = j[k, 1], j[k, 2]
        j[k, 1], j[k, 2] = y * math.cos(bend) + z * math.sin(bend), -y * math.sin(bend) + z * math.cos(bend)
    pose_kind = rng.random()
    for side, sho, elb, wri in ((1.0, L_SHO, L_ELB, L_WRI), (-1.0, R_SHO, R_ELB, R_WRI)):
        if pose_kind < 0.3:  # arms down-ish
            ab, fl = r(0.0, 0.5), r(-0.4, 0.6)
        else:  # anywhere, including raised
            ab, fl = r(-0.2, 2.8), r(-0.8, 1.6)
        d1 = _unit(ab, fl, side)
        d2 = _unit(ab + r(-0.6, 0.9), fl + r(0.0, 2.2), side)
        j[elb] = j[sho] + upper_arm * d1
        j[wri] = j[elb] + fore_arm * d2
    for side, hip, kne, ank in ((1.0, L_HIP, L_KNE, L_ANK), (-1.0, R_HIP, R_KNE, R_ANK)):
        if pose_kind < 0.5:  # standing / walking
            ab, fl = r(-0.05, 0.3), r(-0.4, 0.5)
        else:  # running, kicking, sitting, kneeling
            ab, fl = r(-0.15, 0.9), r(-0.5, 1.7)
        d1 = _unit(ab, fl, side)
        d2 = _unit(ab + r(-0.2, 0.2), fl - r(0.0, 2.0 if pose_kind >= 0.5 else 0.9), side)
        j[kne] = j[hip] + thigh * d1
        j[ank] = j[kne] + shin * d2
    # Head: centre above the neck, tilted a little; face points in head coordinates.
    tilt, turn = r(-0.3, 0.3), r(-0.5, 0.5)
    centre = np.array([math.sin(tilt) * 0.09, -0.09 * math.cos(tilt), 0.0])
    face = {
        NOSE: (0.0, 0.15, 0.95),
        L_EYE: (0.35, -0.15, 0.85),
        R_EYE: (-0.35, -0.15, 0.85),
        L_EAR: (0.97, 0.0, -0.1),
        R_EAR: (-0.97, 0.0, -0.1),
    }
    for k, (fx, fy, fz) in face.items():
        x, z = fx * math.cos(turn) + fz * math.sin(turn), -fx * math.sin(turn) + fz * math.cos(turn)
        j[k] = centre + head_r * np.array([x, fy, z])
    props = dict(head_r=head_r, sho_w=sho_w, hip_w=hip_w, head_x=centre[0], head_y=centre[1], head_turn=turn)
    return j, props


def _project(joints3d: np.ndarray, yaw: float, roll: float, scale: float, offset: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Orthographic camera: turn by ``yaw`` about the vertical axis, roll in the image plane, scale, shift.

    ``yaw = 0`` faces the camera (the person's left on the image's right).
    Returns image points (N x 2) and depth toward the camera (N, larger = nearer).
    """
    x, y, z = joints3d[:, 0], joints3d[:, 1], joints3d[:, 2]
    xi = x * math.cos(yaw) + z * math.sin(yaw)
    depth = -x * math.sin(yaw) + z * math.cos(yaw)
    c, s = math.cos(roll), math.sin(roll)
    pts = np.stack([xi * c - y * s, xi * s + y * c], axis=1) * scale + offset
    return pts, depth * scale


# --------------------------------------------------------------------------- painting


def _segment_distance(px: np.ndarray, py: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Distance of pixel grids (px, py) to the segment p0-p1, and the signed offset across it."""
    d = p1 - p0
    length2 = float(d @ d) or 1e-6
    t = np.clip(((px - p0[0]) * d[0] + (py - p0[1]) * d[1]) / length2, 0.0, 1.0)
    qx, qy = p0[0] + t * d[0], p0[1] + t * d[1]
    dx, dy = px - qx, py - qy
    dist = np.sqrt(dx * dx + dy * dy)
    n = math.sqrt(length2)
    across = (dx * -d[1] + dy * d[0]) / n
    return dist, across


def _paint_capsule(
    img: np.ndarray, mask: np.ndarray, p0: np.ndarray, p1: np.ndarray, r0: float, r1: float,
    color: np.ndarray, light: float, texture: Optional[np.ndarray] = None,
) -> None:
    """Paint a tapered, cylindrically shaded capsule into ``img`` (H x W x 3 float) and mark ``mask``."""
    h, w = mask.shape
    rmax = max(r0, r1)
    x0, x1 = int(max(0, math.floor(min(p0[0], p1[0]) - rmax - 2))), int(min(w, math.ceil(max(p0[0], p1[0]) + rmax + 2)))
    y0, y1 = int(max(0, math.floor(min(p0[1], p1[1]) - rmax - 2))), int(min(h, math.ceil(max(p0[1], p1[1]) + rmax + 2)))
    if x0 >= x1 or y0 >= y1:
        return
    py, px = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = p1 - p0
    length2 = float(d @ d) or 1e-6
    t = np.clip(((px - p0[0]) * d[0] + (py - p0[1]) * d[1]) / length2, 0.0, 1.0)
    radius = r0 + (r1 - r0) * t
    dist, across = _segment_distance(px, py, p0, p1)
    alpha = np.clip(radius - dist + 0.5, 0.0, 1.0)
    if not alpha.any():
        return
    nrm = np.clip(across / np.maximum(radius, 1e-3), -1.0, 1.0)
    shade = 0.45 + 0.4 * np.sqrt(1.0 - nrm * nrm) + 0.2 * light * nrm
    col = color[None, None, :] * shade[..., None]
    if texture is not None:
        col = col * texture[y0:y1, x0:x1]
    a = alpha[..., None]
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + col * a
    mask[y0:y1, x0:x1] |= alpha > 0.5


def _paint_polygon(img: np.ndarray, mask: np.ndarray, pts: np.ndarray, color: np.ndarray, light: float) -> None:
    """Paint a filled polygon with a linear shading gradient across it."""
    h, w = mask.shape
    poly = np.zeros((h, w), np.uint8)
    cv2.fillPoly(poly, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    ys, xs = np.nonzero(poly)
    if len(xs) == 0:
        return
    a = poly[ys, xs].astype(np.float32)[:, None] / 255.0
    cx = float(pts[:, 0].mean())
    span = max(1.0, float(np.ptp(pts[:, 0])))
    shade = 0.75 + 0.2 * light * np.clip((xs - cx) / span, -1, 1)
    img[ys, xs] = img[ys, xs] * (1 - a) + color[None, :] * shade[:, None] * a
    mask[ys, xs] |= poly[ys, xs] > 127


def _random_color(rng: np.random.Generator, lo: float = 20, hi: float = 235) -> np.ndarray:
    return rng.uniform(lo, hi, 3).astype(np.float32)


_SKIN = np.array([[60, 80, 120], [90, 120, 170], [120, 160, 210], [150, 185, 230], [45, 60, 95]], np.float32)  # BGR


def _fabric_texture(rng: np.random.Generator, shape: Tuple[int, int]) -> Optional[np.ndarray]:
    """A multiplicative H x W x 1 texture (stripes, checks or noise), or None for plain cloth."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return None
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 1:
        ang, period = rng.uniform(0, math.pi), rng.uniform(4, 14)
        v = np.sin((xx * math.cos(ang) + yy * math.sin(ang)) * 2 * math.pi / period)
        tex = 0.85 + 0.15 * np.sign(v)
    elif kind == 2:
        period = rng.uniform(5, 16)
        tex = 0.85 + 0.15 * np.sign(np.sin(xx * math.pi / period) * np.sin(yy * math.pi / period))
    else:
        tex = 0.8 + 0.4 * cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
    return tex[..., None].astype(np.float32)


EYE_WHITE = np.array([235.0, 235.0, 235.0], np.float32)  # BGR, flat (unshaded)
PUPIL = np.array([25.0, 20.0, 20.0], np.float32)


def _disc_window(shape, centre: np.ndarray, radius: float):
    """``(x0, x1, y0, y1)``: the pixels of an image of ``shape`` (h, w) a disc can touch, or None when it is outside."""
    h, w = shape[:2]
    x0, x1 = int(max(0, math.floor(centre[0] - radius - 1))), int(min(w, math.ceil(centre[0] + radius + 2)))
    y0, y1 = int(max(0, math.floor(centre[1] - radius - 1))), int(min(h, math.ceil(centre[1] + radius + 2)))
    return None if x0 >= x1 or y0 >= y1 else (x0, x1, y0, y1)


def _paint_disc(img: np.ndarray, mask: np.ndarray, centre: np.ndarray, radius: float, color: np.ndarray) -> None:
    """Paint a flat, anti-aliased disc of ``color`` (no shading) and mark ``mask``."""
    window = _disc_window(mask.shape, centre, radius)
    if window is None:
        return
    x0, x1, y0, y1 = window
    py, px = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    alpha = np.clip(radius - np.hypot(px - centre[0], py - centre[1]) + 0.5, 0.0, 1.0)
    a = alpha[..., None]
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + color[None, None, :] * a
    mask[y0:y1, x0:x1] |= alpha > 0.5


def side_tint(color: np.ndarray, side: str) -> np.ndarray:
    """The colour a body part gets on the person's ``side`` ("left": 40% toward white, "right": 35% darker).

    A consistent, body-fixed left/right cue: it follows the person's own side
    in every view, so it survives the training flip (which swaps both).
    """
    if side == "left":
        return (color * 0.6 + 255.0 * 0.4).astype(np.float32)
    if side == "right":
        return (color * 0.65).astype(np.float32)
    raise ValueError(f"side must be 'left' or 'right', got {side!r}")


def _paint_head(
    img: np.ndarray, mask: np.ndarray, centre: np.ndarray, radius: float, head_yaw: float, roll: float,
    skin: np.ndarray, hair: np.ndarray, light: float,
) -> None:
    """Paint the head as a lit sphere: hair on the back and top, skin on the face.

    ``head_yaw`` is the head's turn about the vertical axis (0: the face toward the
    camera), ``roll`` the image-plane roll. Each pixel is traced back to its point
    on the sphere in head coordinates (x left, y down, z forward) to decide hair
    or face, so a front view shows a face framed by hair, a back view only hair
    and a profile the face on the side the figure looks to.
    """
    window = _disc_window(mask.shape, centre, radius)
    if window is None:
        return
    x0, x1, y0, y1 = window
    py, px = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = px - centre[0], py - centre[1]
    dist = np.sqrt(dx * dx + dy * dy)
    alpha = np.clip(radius - dist + 0.5, 0.0, 1.0)
    if not alpha.any():
        return
    c, s = math.cos(roll), math.sin(roll)
    u, v = (dx * c + dy * s) / radius, (-dx * s + dy * c) / radius  # undo the roll, unit sphere
    scale = np.maximum(1.0, np.sqrt(u * u + v * v))
    u, v = u / scale, v / scale
    toward = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))  # depth toward the camera
    sy, cy = math.sin(head_yaw), math.cos(head_yaw)
    forward = u * sy + toward * cy  # undo the yaw: the head's forward (z) coordinate
    is_hair = (forward < 0.1) | (v < -0.45)
    col = np.where(is_hair[..., None], hair[None, None, :], skin[None, None, :])
    lx, ly, lz = 0.5 * light, -0.5, 0.75
    norm = math.sqrt(lx * lx + ly * ly + lz * lz)
    shade = 0.5 + 0.5 * np.clip((u * lx + v * ly + toward * lz) / norm, 0.0, 1.0)
    a = alpha[..., None]
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + col * shade[..., None] * a
    mask[y0:y1, x0:x1] |= alpha > 0.5


def _draw_person(
    img: np.ndarray, rng: np.random.Generator, centre: np.ndarray, height: float,
    yaw: Optional[float] = None, roll: Optional[float] = None,
) -> Person:
    """Pose, project and paint one person standing ``height`` pixels tall around ``centre`` (x, y).

    ``yaw`` (0: facing the camera) and ``roll`` (radians) are drawn from ``rng``
    unless given; the random stream is consumed the same way either way.
    """
    h, w = img.shape[:2]
    j3, props = _sample_pose(rng)
    drawn_yaw = rng.uniform(-math.pi, math.pi)
    drawn_roll = rng.normal(0, 0.12) if rng.random() > 0.15 else rng.uniform(-1.2, 1.2)
    yaw = drawn_yaw if yaw is None else yaw
    roll = drawn_roll if roll is None else roll
    # Put the figure's middle (about the hips) at the requested centre.
    mid = j3[[L_SHO, R_SHO, L_HIP, R_HIP, L_ANK, R_ANK], :2].mean(axis=0)
    j3c = j3.copy()
    j3c[:, 0] -= mid[0]
    j3c[:, 1] -= mid[1]
    pts, depth = _project(j3c, yaw, roll, height, centre)
    # Head centre and neck in the image.
    head3 = np.array([[props["head_x"] - mid[0], props["head_y"] - mid[1], 0.0]])
    head_pt, head_depth = _project(head3, yaw, roll, height, centre)
    head_pt, head_depth = head_pt[0], float(head_depth[0])
    neck = (pts[L_SHO] + pts[R_SHO]) / 2
    hr = props["head_r"] * height
    limb_r = height * rng.uniform(0.022, 0.032)

    shirt, pants = _random_color(rng), _random_color(rng)
    skin = _SKIN[rng.integers(0, len(_SKIN))] * rng.uniform(0.85, 1.15)
    hair = _random_color(rng, 10, 120)
    shoes = _random_color(rng, 10, 90)
    light = rng.uniform(-1, 1)
    long_sleeves, shorts = rng.random() < 0.5, rng.random() < 0.3
    shirt_tex = _fabric_texture(rng, (h, w))
    pants_tex = _fabric_texture(rng, (h, w))

    mask = np.zeros((h, w), bool)
    parts: List[Tuple[float, Callable[[], object]]] = []

    def limb(a: int, b: int, ra: float, rb: float, color: np.ndarray, tex=None, mid_color=None):
        z = float(depth[a] + depth[b]) / 2
        if mid_color is None:
            parts.append((z, lambda: _paint_capsule(img, mask, pts[a], pts[b], ra, rb, color, light, tex)))
        else:  # sleeve / trouser leg ending half way
            m = (pts[a] + pts[b]) / 2
            parts.append((z, lambda: (_paint_capsule(img, mask, m, pts[b], (ra + rb) / 2, rb, mid_color, light),
                                      _paint_capsule(img, mask, pts[a], m, ra, (ra + rb) / 2, color, light, tex))))

    # Left/right cue a network can learn from one crop: every part of the person's
    # left limbs is drawn lighter, of the right limbs darker (see side_tint).
    for side, (sho, elb, wri, hip, kne, ank) in (("left", (L_SHO, L_ELB, L_WRI, L_HIP, L_KNE, L_ANK)),
                                                  ("right", (R_SHO, R_ELB, R_WRI, R_HIP, R_KNE, R_ANK))):
        sh, pa, sk, so = (side_tint(c, side) for c in (shirt, pants, skin, shoes))
        limb(sho, elb, limb_r * 1.15, limb_r * 0.95, sh, shirt_tex, None if long_sleeves else sk)
        limb(elb, wri, limb_r * 0.95, limb_r * 0.7, sh if long_sleeves else sk, shirt_tex if long_sleeves else None)
        limb(hip, kne, limb_r * 1.6, limb_r * 1.2, pa, pants_tex)
        limb(kne, ank, limb_r * 1.2, limb_r * 0.9, sk if shorts else pa, None if shorts else pants_tex)
        d = pts[wri] - pts[elb]  # hand
        tip = pts[wri] + d / (np.linalg.norm(d) + 1e-6) * limb_r * 1.2
        parts.append((float(depth[wri]) + 1e-3, lambda wri=wri, tip=tip, sk=sk: _paint_capsule(
            img, mask, pts[wri], tip, limb_r * 0.75, limb_r * 0.6, sk, light)))
        fwd, _ = _project(np.array([[0.0, 0.0, 0.07]]), yaw, roll, height, np.zeros(2))  # feet point forward
        tip = pts[ank] + fwd[0] + (pts[ank] - pts[kne]) * 0.08
        parts.append((float(depth[ank]) + 1e-3, lambda ank=ank, tip=tip, so=so: _paint_capsule(
            img, mask, pts[ank], tip, limb_r * 0.9, limb_r * 0.8, so, light)))
    torso_z = float(depth[[L_SHO, R_SHO, L_HIP, R_HIP]].mean())

    def torso() -> None:
        quad = np.stack([pts[L_SHO], pts[R_SHO], pts[R_HIP], pts[L_HIP]])
        hip_mid = (pts[L_HIP] + pts[R_HIP]) / 2
        _paint_capsule(img, mask, neck, hip_mid, height * 0.07, height * 0.065, shirt, light, shirt_tex)
        _paint_polygon(img, mask, quad, shirt, light)
        _paint_capsule(img, mask, pts[L_SHO], pts[R_SHO], limb_r * 1.2, limb_r * 1.2, shirt, light, shirt_tex)
        _paint_capsule(img, mask, hip_mid, pts[L_HIP], limb_r * 1.6, limb_r * 1.6, pants, light, pants_tex)
        _paint_capsule(img, mask, hip_mid, pts[R_HIP], limb_r * 1.6, limb_r * 1.6, pants, light, pants_tex)
        # Shirt front: a V neckline and a button line, only on the side facing the camera.
        facing = math.cos(yaw)
        if facing > 0.15:
            down = hip_mid - neck
            apex = neck + 0.28 * down
            vee = np.stack([neck + 0.35 * (pts[L_SHO] - neck), apex, neck + 0.35 * (pts[R_SHO] - neck)])
            _paint_polygon(img, mask, vee, skin, light)
            button = np.clip(255.0 - shirt, 0, 255) * 0.9
            radius = max(1.0, limb_r * 0.35)
            for t in (0.42, 0.6, 0.78):
                _paint_capsule(img, mask, neck + t * down, neck + t * down + 1e-3, radius, radius, button, light)

    parts.append((torso_z, torso))

    def head() -> None:
        _paint_capsule(img, mask, neck, head_pt, limb_r * 0.9, limb_r * 0.9, skin, light)
        _paint_head(img, mask, head_pt, hr, yaw + props["head_turn"], roll, skin, hair, light)
        # Face features where they face the camera: eyes (white and pupil), nose, ears.
        eye_r = max(1.0, hr * 0.26)
        for k in (L_EYE, R_EYE):
            if depth[k] > head_depth + 0.2 * hr:
                _paint_disc(img, mask, pts[k], eye_r, EYE_WHITE)
                _paint_disc(img, mask, pts[k], eye_r * 0.5, PUPIL)
        if depth[NOSE] > head_depth + 0.2 * hr:
            nose_r = max(1.0, hr * 0.14)
            _paint_capsule(img, mask, pts[NOSE], pts[NOSE] + 1e-3, nose_r, nose_r, skin * 0.6, light)
        for k in (L_EAR, R_EAR):
            if depth[k] > head_depth - 0.3 * hr:
                ear_r = max(1.0, hr * 0.18)
                _paint_capsule(img, mask, pts[k], pts[k] + 1e-3, ear_r, ear_r * 0.8, skin * 0.85, light)

    parts.append((head_depth, head))
    for _, paint in sorted(parts, key=lambda p: p[0]):
        paint()

    kp = np.zeros((NUM_JOINTS, 3), np.float32)
    kp[:, :2] = pts
    kp[:, 2] = 2
    # Far side of the head: hidden but labelled, as COCO annotators do.
    for k in (NOSE, L_EYE, R_EYE, L_EAR, R_EAR):
        if depth[k] < head_depth - 0.25 * hr:
            kp[k, 2] = 1
    return Person(kp, mask)


# --------------------------------------------------------------------------- backgrounds


def _smooth_noise(rng: np.random.Generator, shape: Tuple[int, int], scale: float) -> np.ndarray:
    """Values in [0, 1] of low-pass noise with features about ``scale`` pixels large."""
    h, w = shape
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.random((sh, sw)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def make_background(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """An H x W x 3 float32 BGR background: gradients, multi-scale noise, 'buildings', stripes, blobs."""
    h, w = size
    kind = rng.integers(0, 4)
    c1, c2 = _random_color(rng), _random_color(rng)
    if kind == 0:  # sky / ground photo-like split with texture
        horizon = rng.uniform(0.3, 0.7) * h
        yy = np.arange(h, dtype=np.float32)[:, None, None]
        t = np.clip((yy - horizon) / (0.05 * h) + 0.5, 0, 1)
        img = (c1 * (1 - t) + c2 * t) * np.ones((h, w, 1), np.float32)
        img *= (0.7 + 0.6 * _smooth_noise(rng, (h, w), rng.uniform(8, 40)))[..., None]
    elif kind == 1:  # multi-scale noise (grass, gravel, foliage)
        n = sum(_smooth_noise(rng, (h, w), s) * wgt for s, wgt in ((64, 0.5), (16, 0.3), (4, 0.2)))
        img = c1[None, None] * (1 - n[..., None]) + c2[None, None] * n[..., None]
    elif kind == 2:  # indoor: walls, floor and rectangles
        img = np.ones((h, w, 3), np.float32) * c1
        img[int(rng.uniform(0.5, 0.8) * h):] = c2
        for _ in range(rng.integers(3, 12)):
            x0, y0 = rng.integers(0, w), rng.integers(0, h)
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + rng.integers(10, w // 2)), int(y0 + rng.integers(10, h // 2))),
                          tuple(float(v) for v in _random_color(rng)), -1)
        img *= (0.85 + 0.3 * _smooth_noise(rng, (h, w), 30))[..., None]
    else:  # stripes / tiles
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang, period = rng.uniform(0, math.pi), rng.uniform(8, 50)
        v = 0.5 + 0.5 * np.sin((xx * math.cos(ang) + yy * math.sin(ang)) * 2 * math.pi / period)
        img = c1[None, None] * (1 - v[..., None]) + c2[None, None] * v[..., None]
    for _ in range(rng.integers(0, 6)):  # distractor blobs and lines
        col = tuple(float(v) for v in _random_color(rng))
        if rng.random() < 0.5:
            cv2.ellipse(img, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                        (int(rng.integers(5, w // 4)), int(rng.integers(5, h // 4))), float(rng.uniform(0, 180)), 0, 360, col, -1,
                        cv2.LINE_AA)
        else:
            cv2.line(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), (int(rng.integers(0, w)), int(rng.integers(0, h))),
                     col, int(rng.integers(1, 8)), cv2.LINE_AA)
    return img.astype(np.float32)


def _paint_occluder(img: np.ndarray, rng: np.random.Generator, box: np.ndarray) -> np.ndarray:
    """Paint an object over part of ``box`` (x0, y0, x1, y1); returns its H x W bool mask."""
    h, w = img.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    cx, cy = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
    mask = np.zeros((h, w), np.uint8)
    col = tuple(float(v) for v in _random_color(rng))
    if rng.random() < 0.5:
        rw, rh = rng.uniform(0.2, 0.7) * bw, rng.uniform(0.1, 0.4) * bh
        rect = ((float(cx), float(cy)), (float(rw), float(rh)), float(rng.uniform(-30, 30)))
        poly = cv2.boxPoints(rect).astype(np.int32)
        cv2.fillPoly(mask, [poly], 255)
    else:
        cv2.ellipse(mask, (int(cx), int(cy)), (int(rng.uniform(0.1, 0.4) * bw) + 1, int(rng.uniform(0.05, 0.25) * bh) + 1),
                    float(rng.uniform(0, 180)), 0, 360, 255, -1)
    m = mask > 0
    shade = (0.8 + 0.4 * _smooth_noise(rng, (h, w), 10))[..., None]
    img[m] = (np.array(col, np.float32)[None] * shade[m])
    return m


# --------------------------------------------------------------------------- images and datasets


def render_image(rng: np.random.Generator, config: SynthConfig = SynthConfig()) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image with several people.

    Returns the H x W x 3 BGR uint8 image and one dict per person with
    ``keypoints`` (17 x 3 float: x, y, v), ``bbox`` (x, y, w, h), ``area`` (w * h).
    """
    h, w = config.image_size
    img = make_background(rng, (h, w))
    owner = np.full((h, w), -1, np.int32)
    n_people = int(rng.integers(config.people_per_image[0], config.people_per_image[1] + 1))
    people: List[Person] = []
    for i in range(n_people):
        height = rng.uniform(*config.person_height_frac) * min(h, w * 1.3)
        centre = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(0.2, 0.8) * h])
        person = _draw_person(img, rng, centre, height)
        owner[person.mask] = i
        people.append(person)
        if rng.random() < config.occluder_prob:
            ys, xs = np.nonzero(person.mask)
            if len(xs):
                occ = _paint_occluder(img, rng, np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32))
                owner[occ] = -2
    if rng.random() < config.blur_prob:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    sigma = rng.uniform(*config.noise_sigma)
    if sigma > 0:
        img = img + rng.normal(0, sigma, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)

    anns: List[dict] = []
    for i, person in enumerate(people):
        kp = person.keypoints.copy()
        for k in range(NUM_JOINTS):
            x, y = kp[k, 0], kp[k, 1]
            if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
                kp[k] = 0  # outside the image: not labelled
                continue
            xi, yi = int(round(x)), int(round(y))
            y0, y1, x0, x1 = max(0, yi - 1), min(h, yi + 2), max(0, xi - 1), min(w, xi + 2)
            if kp[k, 2] == 2 and (owner[y0:y1, x0:x1] == i).mean() < 0.5:
                kp[k, 2] = 1  # covered by someone or something drawn later
        ys, xs = np.nonzero(person.mask)
        if len(xs) == 0 or (kp[:, 2] > 0).sum() == 0:
            continue
        x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
        anns.append(dict(keypoints=kp, bbox=[x0, y0, x1 - x0, y1 - y0], area=(x1 - x0) * (y1 - y0)))
    return out, anns


def _coco_categories() -> List[dict]:
    names = list(COCO_JOINTS.keypoint_names)
    return [{
        "supercategory": "person", "id": 1, "name": "person", "keypoints": names,
        "skeleton": [[a + 1, b + 1] for a, b in COCO_JOINTS.skeleton],
    }]


def generate_dataset(
    out_dir: Union[str, Path],
    num_images: int,
    seed: int = 0,
    image_size: Tuple[int, int] = (320, 320),
    config: Optional[SynthConfig] = None,
    ann_name: str = "annotations.json",
    image_dir: str = "images",
    progress: bool = False,
) -> Path:
    """Write ``num_images`` synthetic JPEG images and their COCO keypoint annotations.

    Layout: ``out_dir/images/000000.jpg ...`` and ``out_dir/annotations.json``
    (COCO format; ``images[].file_name`` relative to ``out_dir/images``).
    Deterministic for a seed: image ``i`` is drawn from ``SeedSequence([seed, i])``.

    Returns:
        Path of the annotation JSON.
    """
    if num_images < 1:
        raise ValueError(f"--images must be at least 1, got {num_images}")
    if len(image_size) != 2 or min(image_size) < 32:
        raise ValueError(f"--size must be at least 32x32, got {image_size}")
    cfg = config or SynthConfig()
    cfg = SynthConfig(**{**cfg.__dict__, "image_size": tuple(int(v) for v in image_size)})
    out = Path(out_dir)
    (out / image_dir).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    ann_id = 1
    bar = progress_bar(progress, iterable=range(num_images), desc="synth", unit="img")
    for i in bar if bar is not None else range(num_images):
        rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
        img, anns = render_image(rng, cfg)
        name = f"{i:06d}.jpg"
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise OSError(f"cannot encode {name}")
        (out / image_dir / name).write_bytes(buf.tobytes())
        image_id = i + 1
        images.append({"id": image_id, "file_name": name, "height": cfg.image_size[0], "width": cfg.image_size[1]})
        for a in anns:
            kp = a["keypoints"]
            annotations.append({
                "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "keypoints": [round(float(v), 2) for v in kp.reshape(-1)],
                "num_keypoints": int((kp[:, 2] > 0).sum()),
                "bbox": [round(float(v), 2) for v in a["bbox"]],
                "area": round(float(a["area"]), 2),
            })
            ann_id += 1
    coco = {
        "info": {"description": f"lite-hrnet synthetic people, seed {seed}", "version": "1.0"},
        "licenses": [],
        "categories": _coco_categories(),
        "images": images,
        "annotations": annotations,
    }
    ann_path = out / ann_name
    ann_path.write_text(json.dumps(coco))
    return ann_path


def synthetic_person_crops(
    n: int, input_size: Tuple[int, int] = (256, 192), seed: int = 0, padding: float = 1.25,
) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Person-centred crops for int8 calibration and smoke tests.

    Draws images of one or two people and crops the first person's box, padded
    by ``padding`` and widened to the aspect ratio of ``input_size`` (H, W), then
    resized to it. Returns ``n`` pairs of (H x W x 3 BGR uint8 crop,
    17 x 3 float keypoints (x, y, v) in crop pixels).
    """
    out: List[Tuple[np.ndarray, np.ndarray]] = []
    ih, iw = input_size
    cfg = SynthConfig(image_size=(max(ih, iw) * 2, max(ih, iw) * 2), people_per_image=(1, 2), person_height_frac=(0.4, 0.8))
    i = 0
    while len(out) < n:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 7919, i]))
        i += 1
        img, anns = render_image(rng, cfg)
        if not anns:
            continue
        x, y, w, h = anns[0]["bbox"]
        # The pipeline's own box -> crop affine, so calibration crops look like inference crops.
        centers, scales = box_to_center_scale(np.array([[x, y, x + w, y + h]]), iw / ih, padding)
        m = crop_matrix(centers[0], scales[0], input_size).astype(np.float32)
        crop = warp_crop(img, m, input_size)
        kp = anns[0]["keypoints"].copy()
        labelled = kp[:, 2] > 0
        kp[labelled, :2] = apply_affine(kp[labelled, :2], m)
        out.append((crop, kp))
    return out


__all__ = ["SynthConfig", "generate_dataset", "make_background", "render_image", "side_tint", "synthetic_person_crops"]

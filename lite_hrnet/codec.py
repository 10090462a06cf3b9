"""Heatmap encoding and decoding for top-down pose estimation (numpy + OpenCV only).

Coordinate conventions
----------------------
- Heatmap coordinates are in heatmap pixels, ``(x, y)`` order, with pixel
  *centers* at integer coordinates: the value ``heatmaps[n, k, y, x]`` belongs
  to the point ``(x, y)``. A heatmap is ``H`` high and ``W`` wide.
- Arrays of heatmaps are ``N x K x H x W`` (``N`` persons, ``K`` joints);
  keypoint arrays are ``N x K x 2`` (x, y) and scores ``N x K``.
- Sizes are written ``(height, width)`` as everywhere in this package.

Decoding follows the mmpose top-down convention (``keypoints_from_heatmaps``
with ``post_process='default'``): arg-max per joint, the score is the maximum
value, and the location moves a quarter pixel toward the higher neighbour in x
and in y. ``dark=True`` instead refines the arg-max with DARK ("Distribution-
Aware coordinate Representation of Keypoints", Zhang et al., CVPR 2020): the
heatmap is smoothed with a Gaussian (kernel 11), log-transformed, and the
maximum of its second-order Taylor expansion is taken.

One difference from mmpose: when a joint's maximum is not positive, mmpose
returns the location ``-1``; here the arg-max location is kept (its score, the
non-positive maximum, marks it unreliable), so a network with a negative bias
still yields comparable locations across runtimes.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    "decode_heatmaps", "get_max_preds", "refine_default", "refine_dark", "gaussian_blur_heatmaps",
    "encode_gaussian", "flip_images", "flip_heatmaps_back", "flip_keypoints",
]


def _check_heatmaps(heatmaps: np.ndarray) -> np.ndarray:
    heatmaps = np.asarray(heatmaps)
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be N x K x H x W, got shape {heatmaps.shape}")
    if not np.issubdtype(heatmaps.dtype, np.floating):
        raise ValueError(f"heatmaps must be floating point, got {heatmaps.dtype}")
    return heatmaps


def get_max_preds(heatmaps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Arg-max location and maximum value of every heatmap.

    Args:
        heatmaps: N x K x H x W.

    Returns:
        ``(coords, maxvals)``: N x K x 2 float32 integer (x, y) heatmap pixel
        locations (the first maximum in row-major order), and N x K float32 maxima.
    """
    heatmaps = _check_heatmaps(heatmaps)
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    idx = np.argmax(flat, axis=2)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0].astype(np.float32)
    coords = np.stack([idx % w, idx // w], axis=-1).astype(np.float32)
    return coords, maxvals


def _refinable(coords: np.ndarray, x_below: int, y_below: int):
    """A float32 copy of the N x K x 2 ``coords`` and the (n, k, x, y) index arrays of those with
    ``1 < x < x_below`` and ``1 < y < y_below``: the arg-maxes far enough from the border to refine."""
    out = np.array(coords, dtype=np.float32, copy=True)
    px = out[..., 0].astype(np.int64)
    py = out[..., 1].astype(np.int64)
    ok = (px > 1) & (px < x_below) & (py > 1) & (py < y_below)
    ni, ki = np.nonzero(ok)
    return out, (ni, ki, px[ok], py[ok])


def refine_default(heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Move each arg-max a quarter pixel toward the higher neighbour (mmpose 1.x 'default').

    The shift applies per axis, by the sign of the difference of the two
    neighbours, with mmpose 1.x's bounds (``refine_keypoints``): x is refined
    where ``1 < x < W - 1`` and ``0 < y < H``, y where ``1 < y < H - 1`` and
    ``0 < x < W``. (mmpose 0.x refined neither axis unless both were inside;
    1.x moves keypoints on the border rows and columns along the border.)

    Args:
        heatmaps: N x K x H x W.
        coords: N x K x 2 integer (x, y) arg-max locations from :func:`get_max_preds`.

    Returns:
        N x K x 2 float32 refined (x, y) heatmap coordinates (a new array).
    """
    heatmaps = _check_heatmaps(heatmaps)
    n, k, h, w = heatmaps.shape
    out = np.array(coords, dtype=np.float32, copy=True)
    px = out[..., 0].astype(np.int64)
    py = out[..., 1].astype(np.int64)
    hm = heatmaps.astype(np.float32, copy=False)
    for axis, ok, step in (
        (0, (px > 1) & (px < w - 1) & (py > 0) & (py < h), (1, 0)),
        (1, (py > 1) & (py < h - 1) & (px > 0) & (px < w), (0, 1)),
    ):
        ni, ki = np.nonzero(ok)
        x, y = px[ok], py[ok]
        diff = hm[ni, ki, y + step[1], x + step[0]] - hm[ni, ki, y - step[1], x - step[0]]
        out[ni, ki, axis] += np.sign(diff) * 0.25
    return out


def gaussian_blur_heatmaps(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """Smooth each heatmap with a ``kernel x kernel`` Gaussian, keeping its maximum.

    The border is padded with zeros before blurring and each map is rescaled so
    that its maximum equals the maximum before blurring (DARK's modulation).

    Args:
        heatmaps: N x K x H x W.
        kernel: odd Gaussian kernel size (sigma derived by OpenCV from the size).

    Returns:
        N x K x H x W float32.
    """
    heatmaps = _check_heatmaps(heatmaps)
    if kernel % 2 != 1 or kernel < 1:
        raise ValueError(f"kernel must be an odd positive integer, got {kernel}")
    n, k, h, w = heatmaps.shape
    pad = (kernel - 1) // 2
    out = np.empty((n, k, h, w), dtype=np.float32)
    for i in range(n):
        for j in range(k):
            hm = heatmaps[i, j].astype(np.float32)
            peak = float(hm.max())
            padded = np.zeros((h + 2 * pad, w + 2 * pad), dtype=np.float32)
            padded[pad:pad + h, pad:pad + w] = hm
            blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[pad:pad + h, pad:pad + w]
            top = float(blurred.max())
            out[i, j] = blurred * (peak / top) if top != 0 else blurred
    return out


def refine_dark(heatmaps: np.ndarray, coords: np.ndarray, kernel: int = 11) -> np.ndarray:
    """DARK refinement of integer arg-max locations.

    The heatmaps are blurred (:func:`gaussian_blur_heatmaps`), clipped to
    ``>= 1e-10`` and log-transformed; around each arg-max the gradient and
    Hessian are estimated by central differences (second derivatives with a
    step of two pixels) and the location moves by ``-H^-1 g``, where
    ``1 < x < W - 2`` and ``1 < y < H - 2`` (elsewhere, or where the Hessian is
    singular, the arg-max is kept).

    Args:
        heatmaps: N x K x H x W.
        coords: N x K x 2 integer (x, y) arg-max locations.
        kernel: Gaussian kernel size of the smoothing.

    Returns:
        N x K x 2 float32 refined (x, y) heatmap coordinates.
    """
    heatmaps = _check_heatmaps(heatmaps)
    n, k, h, w = heatmaps.shape
    out, (ni, ki, x, y) = _refinable(coords, x_below=w - 2, y_below=h - 2)
    if not len(ni):
        return out
    logs = np.log(np.maximum(gaussian_blur_heatmaps(heatmaps, kernel), 1e-10))

    def at(dx: int, dy: int) -> np.ndarray:
        return logs[ni, ki, y + dy, x + dx].astype(np.float64)

    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    hyy = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    hxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    det = hxx * hyy - hxy * hxy
    good = det != 0
    safe = np.where(good, det, 1.0)
    # offset = -inverse(Hessian) @ gradient, with inverse([[a, b], [b, c]]) = [[c, -b], [-b, a]] / det
    ox = -(hyy * gx - hxy * gy) / safe
    oy = -(-hxy * gx + hxx * gy) / safe
    out[ni, ki, 0] += np.where(good, ox, 0.0).astype(np.float32)
    out[ni, ki, 1] += np.where(good, oy, 0.0).astype(np.float32)
    return out


def decode_heatmaps(heatmaps: np.ndarray, dark: bool = False, kernel: int = 11) -> Tuple[np.ndarray, np.ndarray]:
    """Keypoint locations and scores from heatmaps (mmpose top-down decoding).

    Args:
        heatmaps: N x K x H x W.
        dark: refine with DARK (:func:`refine_dark`) instead of the quarter-pixel shift.
        kernel: Gaussian kernel size for DARK.

    Returns:
        ``(keypoints, scores)``: N x K x 2 float32 (x, y) in heatmap pixels
        (pixel centers at integers), and N x K float32 scores (the maxima).
    """
    coords, maxvals = get_max_preds(heatmaps)
    coords = refine_dark(heatmaps, coords, kernel) if dark else refine_default(heatmaps, coords)
    return coords, maxvals


def encode_gaussian(
    keypoints: np.ndarray,
    visible: np.ndarray,
    heatmap_size: Tuple[int, int],
    sigma: float,
) -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian target heatmaps for one person (mmpose MSRA, ``unbiased=False``).

    Each joint's Gaussian is centered on its location rounded to the nearest
    heatmap pixel (``int(v + 0.5)``, truncating toward zero as mmpose does) and
    cut to a ``(6 sigma + 1)`` square window; peak value 1.

    Args:
        keypoints: K x 2 (x, y) joint locations in heatmap pixels (pixel centers at integers).
        visible: K visibility flags or weights; a joint with ``visible > 0`` is a target.
        heatmap_size: (height, width) of the heatmaps.
        sigma: Gaussian standard deviation in heatmap pixels (``ModelSpec.target_sigma``).

    Returns:
        ``(targets, weights)``: K x H x W float32 heatmaps and K float32 weights
        (1 for a visible joint whose window touches the heatmap, else 0; such
        joints get an all-zero heatmap).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    visible = np.asarray(visible).reshape(-1)
    if keypoints.ndim != 2 or keypoints.shape[1] != 2:
        raise ValueError(f"keypoints must be K x 2, got shape {keypoints.shape}")
    if visible.shape[0] != keypoints.shape[0]:
        raise ValueError(f"visible must have {keypoints.shape[0]} entries, got {visible.shape[0]}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    h, w = int(heatmap_size[0]), int(heatmap_size[1])
    k = keypoints.shape[0]
    targets = np.zeros((k, h, w), dtype=np.float32)
    weights = (visible > 0).astype(np.float32)
    radius = sigma * 3
    size = int(2 * radius + 1)
    grid = np.arange(size, dtype=np.float32)
    center = size // 2
    patch = np.exp(-((grid[None, :] - center) ** 2 + (grid[:, None] - center) ** 2) / (2 * sigma**2))
    for j in range(k):
        if weights[j] == 0 or not np.all(np.isfinite(keypoints[j])):
            weights[j] = 0
            continue
        mu_x, mu_y = int(keypoints[j, 0] + 0.5), int(keypoints[j, 1] + 0.5)
        x0, y0 = int(mu_x - radius), int(mu_y - radius)
        x1, y1 = int(mu_x + radius + 1), int(mu_y + radius + 1)
        if x0 >= w or y0 >= h or x1 < 0 or y1 < 0:
            weights[j] = 0
            continue
        gx0, gx1 = max(0, -x0), min(x1, w) - x0
        gy0, gy1 = max(0, -y0), min(y1, h) - y0
        hx0, hx1 = max(0, x0), min(x1, w)
        hy0, hy1 = max(0, y0), min(y1, h)
        targets[j, hy0:hy1, hx0:hx1] = patch[gy0:gy1, gx0:gx1]
    return targets, weights


def flip_images(batch: np.ndarray) -> np.ndarray:
    """Mirror N x C x H x W images horizontally (a contiguous copy)."""
    batch = np.asarray(batch)
    if batch.ndim != 4:
        raise ValueError(f"batch must be N x C x H x W, got shape {batch.shape}")
    return np.ascontiguousarray(batch[..., ::-1])


def _swap_pairs(array: np.ndarray, flip_pairs: Iterable[Sequence[int]], axis: int) -> np.ndarray:
    order = np.arange(array.shape[axis])
    for a, b in flip_pairs:
        order[a], order[b] = b, a
    return np.take(array, order, axis=axis)


def flip_heatmaps_back(
    heatmaps: np.ndarray, flip_pairs: Iterable[Sequence[int]], shift: bool = True
) -> np.ndarray:
    """Heatmaps of a mirrored input, brought back to the original's frame.

    Mirrors N x K x H x W heatmaps horizontally and swaps the left/right joint
    channels of ``flip_pairs``. With ``shift=True`` (the official test config's
    ``shift_heatmap``) the result moves one pixel to the right (column 0 keeps
    its value), which compensates the half-pixel misalignment of mirroring a
    crop whose heatmaps are four times smaller.

    Returns:
        N x K x H x W float32.
    """
    heatmaps = _check_heatmaps(heatmaps)
    out = _swap_pairs(heatmaps[..., ::-1], flip_pairs, axis=1).astype(np.float32)
    if shift:
        out[..., 1:] = out[..., :-1].copy()
    return np.ascontiguousarray(out)


def flip_keypoints(
    keypoints: np.ndarray, width: float, flip_pairs: Optional[Iterable[Sequence[int]]] = None
) -> np.ndarray:
    """Mirror N x K x 2 (x, y) keypoints of an image ``width`` pixels wide (pixel centers at integers).

    ``x`` becomes ``width - 1 - x``; with ``flip_pairs`` the left/right joints swap places.
    """
    keypoints = np.array(keypoints, dtype=np.float32, copy=True)
    keypoints[..., 0] = (width - 1) - keypoints[..., 0]
    if flip_pairs is not None:
        keypoints = _swap_pairs(keypoints, flip_pairs, axis=-2)
    return keypoints

"""The codec's details against mmpose's published algorithms written out here, and its array contract.

- DARK (mmpose 0.x ``_gaussian_blur`` + ``_taylor``): zero-pad by ``(kernel - 1) / 2``, blur with
  OpenCV's Gaussian kernel of that size, rescale to the original maximum, log of at least 1e-10,
  then one Newton step from the arg-max by central differences where ``1 < x < W - 2`` and
  ``1 < y < H - 2`` and the Hessian is not singular. The reference below convolves by hand.
- Gaussian targets (mmpose 0.x ``_msra_generate_target``, ``unbiased=False``): a joint's window is
  ``[mu - 3 sigma, mu + 3 sigma + 1)`` around ``mu = int(x + 0.5)``; the joint is dropped when the
  window's top-left corner is at or past the far edge or its bottom-right corner is before 0.
- Outputs are new float32 arrays; inputs are never modified.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lite_hrnet.codec import (
    decode_heatmaps, encode_gaussian, flip_heatmaps_back, flip_images, flip_keypoints, gaussian_blur_heatmaps,
    get_max_preds, refine_dark, refine_default,
)


def reference_blur(heatmap: np.ndarray, kernel: int) -> np.ndarray:
    """mmpose's ``_gaussian_blur`` of one H x W map: zero padding, separable OpenCV kernel, max kept."""
    pad = (kernel - 1) // 2
    taps = cv2.getGaussianKernel(kernel, 0).ravel().astype(np.float64)
    padded = np.zeros((heatmap.shape[0] + 2 * pad, heatmap.shape[1] + 2 * pad))
    padded[pad:-pad, pad:-pad] = heatmap
    rows = np.array([np.convolve(r, taps, mode="same") for r in padded])
    both = np.array([np.convolve(c, taps, mode="same") for c in rows.T]).T[pad:-pad, pad:-pad]
    return both * (heatmap.max() / both.max())


def reference_dark(heatmap: np.ndarray, kernel: int) -> np.ndarray:
    """mmpose's DARK location (x, y) for one H x W map."""
    h, w = heatmap.shape
    y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    if not (1 < x < w - 2 and 1 < y < h - 2):
        return np.array([x, y], np.float64)
    hm = np.log(np.maximum(reference_blur(heatmap, kernel), 1e-10))
    gradient = np.array([hm[y, x + 1] - hm[y, x - 1], hm[y + 1, x] - hm[y - 1, x]]) / 2
    dxx = (hm[y, x + 2] - 2 * hm[y, x] + hm[y, x - 2]) / 4
    dyy = (hm[y + 2, x] - 2 * hm[y, x] + hm[y - 2, x]) / 4
    dxy = (hm[y + 1, x + 1] - hm[y - 1, x + 1] - hm[y + 1, x - 1] + hm[y - 1, x - 1]) / 4
    if dxx * dyy - dxy**2 == 0:
        return np.array([x, y], np.float64)
    return np.array([x, y]) - np.linalg.solve([[dxx, dxy], [dxy, dyy]], gradient)


def lumpy_heatmaps(seed: int, n: int = 2, k: int = 6, size=(32, 24)) -> np.ndarray:
    """Heatmaps that are not Gaussians: two bumps of different widths plus noise, peaks inside."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((n, k, h, w), np.float32)
    for i in range(n):
        for j in range(k):
            cx, cy = rng.uniform(5, w - 6), rng.uniform(5, h - 6)
            main = np.exp(-((xx - cx) ** 2 / (2 * rng.uniform(1, 3) ** 2) + (yy - cy) ** 2 / (2 * rng.uniform(1, 3) ** 2)))
            side = 0.6 * np.exp(-((xx - cx - 3) ** 2 + (yy - cy + 2) ** 2) / 8)
            out[i, j] = main + side + rng.uniform(0, 0.05, (h, w))
    return out


# ---------------------------------------------------------------------------- DARK


@pytest.mark.parametrize("kernel", [11, 7, 5])
def test_dark_matches_mmpose_on_heatmaps_that_are_not_gaussian(kernel):
    heatmaps = lumpy_heatmaps(kernel)
    coords, scores = decode_heatmaps(heatmaps, dark=True, kernel=kernel)
    for i in range(heatmaps.shape[0]):
        for j in range(heatmaps.shape[1]):
            np.testing.assert_allclose(coords[i, j], reference_dark(heatmaps[i, j], kernel), atol=1e-4)
            assert scores[i, j] == heatmaps[i, j].max()


def test_blur_is_mmpose_zero_padded_blur_with_the_maximum_kept():
    heatmaps = lumpy_heatmaps(1, n=1, k=2)
    heatmaps[0, 1, 0, 0] = 3.0  # a peak in the corner: the padding decides its neighbourhood
    for kernel in (11, 5, 3):
        blurred = gaussian_blur_heatmaps(heatmaps, kernel)
        assert blurred.dtype == np.float32 and blurred.shape == heatmaps.shape
        for j in range(2):
            np.testing.assert_allclose(blurred[0, j], reference_blur(heatmaps[0, j], kernel), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gaussian_blur_heatmaps(heatmaps), gaussian_blur_heatmaps(heatmaps, 11))  # default
    np.testing.assert_array_equal(gaussian_blur_heatmaps(heatmaps, 1), heatmaps)  # a 1-tap kernel changes nothing
    for bad in (0, 2, 12, -1):
        with pytest.raises(ValueError, match="kernel must be an odd positive integer"):
            gaussian_blur_heatmaps(heatmaps, bad)
    np.testing.assert_array_equal(gaussian_blur_heatmaps(np.zeros((1, 1, 8, 8), np.float32)), 0.0)


def test_dark_keeps_the_arg_max_where_the_log_heatmap_is_flat():
    """A joint the network does not see (all values below 1e-10, or all negative): log(max(., 1e-10))
    is flat, the Hessian is singular, and the arg-max stays where it is (no division by zero)."""
    heatmaps = np.zeros((1, 2, 24, 20), np.float32)
    heatmaps[0, 0, 12, 9] = 1e-12
    heatmaps[0, 1] = -0.5
    heatmaps[0, 1, 7, 11] = -0.1
    coords, scores = decode_heatmaps(heatmaps, dark=True)
    np.testing.assert_array_equal(coords[0], [[9, 12], [11, 7]])
    np.testing.assert_allclose(scores[0], [1e-12, -0.1])


def test_refine_functions_return_new_float32_arrays_and_leave_their_inputs_alone():
    heatmaps = lumpy_heatmaps(2, n=1, k=3)
    coords, _ = get_max_preds(heatmaps)
    assert coords.dtype == np.float32
    for refine in (refine_default, refine_dark, lambda hm, c: refine_dark(hm, c, 11)):
        for given in (coords.copy(), coords.astype(np.float64)):
            before = given.copy()
            out = refine(heatmaps, given)
            assert out.dtype == np.float32 and out is not given
            np.testing.assert_array_equal(given, before)
            assert np.abs(out - given).max() > 0  # it did refine
    np.testing.assert_array_equal(refine_dark(heatmaps, coords), decode_heatmaps(heatmaps, dark=True)[0])
    _, maxvals = get_max_preds(heatmaps.astype(np.float64))
    assert maxvals.dtype == np.float32


# ---------------------------------------------------------------------------- Gaussian targets


def test_gaussian_target_values_for_other_sigmas():
    for sigma in (3.0, 1.0, 0.5):
        targets, weights = encode_gaussian(np.array([[10.0, 12.0]]), [1], (32, 24), sigma)
        assert targets.dtype == np.float32 and weights.dtype == np.float32
        assert targets[0, 12, 10] == 1.0
        assert targets[0, 12, 11] == pytest.approx(np.exp(-1 / (2 * sigma**2)), rel=1e-6)
        if sigma >= 1:  # (2, 2) from the center is inside the window
            assert targets[0, 14, 12] == pytest.approx(np.exp(-8 / (2 * sigma**2)), rel=1e-5)
        radius = int(3 * sigma)
        assert targets[0, 12, 10 + radius] > 0 and targets[0, 12, 10 + radius + 1] == 0
    targets, weights = encode_gaussian(np.array([[5.0, 5.0], [6.0, 6.0]]), np.array([[1], [0]]), (16, 16), 2.0)
    assert weights.shape == (2,) and weights.tolist() == [1.0, 0.0] and not targets[1].any()
    with pytest.raises(ValueError, match="visible must have 3 entries, got 2"):
        encode_gaussian(np.zeros((3, 2)), [1, 1], (16, 16), 2.0)


def test_gaussian_target_window_edges_as_mmpose():
    # sigma 2: the window is [mu - 6, mu + 7); heatmap 32 high, 24 wide
    cases = [
        ((30.0, 10.0), 0.0),   # mu_x = 30: the window starts at 24 = W, past the far edge: dropped
        ((29.0, 10.0), 1.0),   # starts at 23 < W: kept, one column drawn
        ((10.0, 38.0), 0.0),   # mu_y = 38: starts at 32 = H: dropped
        ((10.0, 37.0), 1.0),
        ((-8.0, 10.0), 1.0),   # mu_x = int(-7.5) = -7: the window ends at 0, not before it: kept (and empty)
        ((-9.0, 10.0), 0.0),   # mu_x = -8: ends at -1 < 0: dropped
        ((10.0, -8.0), 1.0),
        ((10.0, -9.0), 0.0),
    ]
    for (x, y), weight in cases:
        targets, weights = encode_gaussian(np.array([[x, y]]), [1], (32, 24), 2.0)
        assert weights[0] == weight, (x, y)
    targets, _ = encode_gaussian(np.array([[29.0, 10.0]]), [1], (32, 24), 2.0)
    assert targets[0, :, 23].any() and targets[0, 10, 23] == pytest.approx(np.exp(-36 / 8))


# ---------------------------------------------------------------------------- flip helpers


def test_flip_helpers_defaults_dtypes_and_errors():
    heatmaps = np.zeros((1, 3, 4, 6), np.float64)
    heatmaps[0, 0, 1, 1] = 1.0
    back = flip_heatmaps_back(heatmaps, [(0, 2)])  # shift on by default: mirrored column 4, then 5
    assert back.dtype == np.float32
    assert back[0, 2, 1, 5] == 1.0 and back[0, 2].sum() == 1.0 and not back[0, 0].any()
    assert flip_heatmaps_back(heatmaps, [(0, 2)], shift=False)[0, 2, 1, 4] == 1.0
    keypoints = np.array([[[1.0, 2.0], [3.0, 4.0]]], np.float64)
    flipped = flip_keypoints(keypoints, 10)
    assert flipped.dtype == np.float32 and flipped.tolist() == [[[8.0, 2.0], [6.0, 4.0]]]
    assert keypoints.tolist() == [[[1.0, 2.0], [3.0, 4.0]]]
    with pytest.raises(ValueError, match=r"batch must be N x C x H x W, got shape \(3, 4\)"):
        flip_images(np.zeros((3, 4)))

"""Heatmap decoding (default and DARK), Gaussian targets and the flip-test helpers (numpy + OpenCV only)."""

from __future__ import annotations

import numpy as np
import pytest

from lite_hrnet.codec import (
    decode_heatmaps, encode_gaussian, flip_heatmaps_back, flip_images, flip_keypoints, get_max_preds,
    gaussian_blur_heatmaps, refine_dark, refine_default,
)
from lite_hrnet.specs import COCO_JOINTS


def gaussian_map(x: float, y: float, size=(64, 48), sigma: float = 2.0) -> np.ndarray:
    """A continuous Gaussian of peak 1 centered at (x, y) (pixel centers at integers)."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_argmax_scores_and_row_major_first_maximum():
    hm = np.zeros((2, 3, 8, 6), np.float32)
    hm[0, 0, 5, 2] = 0.9
    hm[0, 1, 1, 4] = 0.5
    hm[1, 2, 7, 5] = 0.3
    hm[1, 0, 3, 1] = hm[1, 0, 3, 4] = 0.7  # tie: the first in row-major order wins
    coords, maxvals = get_max_preds(hm)
    assert coords.shape == (2, 3, 2) and maxvals.shape == (2, 3)
    assert coords[0, 0].tolist() == [2, 5] and maxvals[0, 0] == pytest.approx(0.9)
    assert coords[0, 1].tolist() == [4, 1] and coords[1, 2].tolist() == [5, 7]
    assert coords[1, 0].tolist() == [1, 3] and maxvals[1, 0] == pytest.approx(0.7)


def test_quarter_pixel_shift_toward_higher_neighbour():
    x0, y0 = 20.3, 30.8  # nearest pixel (20, 31); the true peak is right of it and above it
    hm = gaussian_map(x0, y0)[None, None]
    coords, _ = get_max_preds(hm)
    assert coords[0, 0].tolist() == [20, 31]
    refined = refine_default(hm, coords)
    # x: the right neighbour is higher -> +0.25; y: the upper neighbour (30) is higher -> -0.25
    assert refined[0, 0].tolist() == [20.25, 30.75]


def test_quarter_shift_skips_the_border_columns_as_mmpose():
    hm = gaussian_map(1.3, 10.0)[None, None]
    coords, _ = get_max_preds(hm)
    assert coords[0, 0, 0] == 1
    assert refine_default(hm, coords)[0, 0, 0] == 1.0  # mmpose refines only 1 < x < W - 1
    hm = gaussian_map(2.3, 10.0)[None, None]
    coords, _ = get_max_preds(hm)
    assert refine_default(hm, coords)[0, 0, 0] == 2.25


def test_quarter_shift_follows_mmpose_1x_bounds_per_axis_on_the_border():
    # mmpose 1.x refine_keypoints: x moves where 1 < x < W-1 and 0 < y < H, y where 1 < y < H-1 and 0 < x < W.
    h, w = 8, 6
    cases = {  # (x, y) arg-max -> expected refined (x, y), the larger neighbour always at +1
        (3, 7): (3.25, 7.0),   # bottom row: x refined, y not (0.x refined neither)
        (3, 0): (3.0, 0.0),    # top row: y = 0 is not 0 < y, so x is not refined either
        (0, 4): (0.0, 4.0),    # left column: x = 0 fails 0 < x for y
        (5, 4): (5.0, 4.25),   # right column: y refined, x not
        (1, 4): (1.0, 4.25),   # column 1: x not refined (1 < x), y is
        (3, 1): (3.25, 1.0),   # row 1: x refined, y not
        (3, 4): (3.25, 4.25),  # interior: both
    }
    for (x, y), expected in cases.items():
        hm = np.zeros((1, 1, h, w), np.float32)
        hm[0, 0, y, x] = 1.0
        if x + 1 < w:
            hm[0, 0, y, x + 1] = 0.5
        if y + 1 < h:
            hm[0, 0, y + 1, x] = 0.5
        coords, _ = get_max_preds(hm)
        assert coords[0, 0].tolist() == [x, y]
        assert refine_default(hm, coords)[0, 0].tolist() == list(expected), (x, y)


def test_decode_recovers_subpixel_location_and_dark_beats_default():
    rng = np.random.default_rng(0)
    truth = np.stack([rng.uniform(8, 40, 40), rng.uniform(8, 56, 40)], axis=1)
    hm = np.stack([gaussian_map(x, y) for x, y in truth])[None]  # 1 x 40 x 64 x 48
    default, scores = decode_heatmaps(hm)
    dark, dark_scores = decode_heatmaps(hm, dark=True)
    err_default = np.linalg.norm(default[0] - truth, axis=1)
    err_dark = np.linalg.norm(dark[0] - truth, axis=1)
    assert err_default.max() < 0.5  # quarter-pixel grid: at most about sqrt(2) * 0.25 off
    assert err_dark.max() < 0.05 and err_dark.mean() < 0.02
    assert err_dark.mean() < 0.2 * err_default.mean()
    np.testing.assert_array_equal(scores, dark_scores)
    assert np.all(scores > 0.88) and np.all(scores <= 1.0)


def test_gaussian_blur_keeps_the_maximum():
    hm = np.zeros((1, 1, 32, 24), np.float32)
    hm[0, 0, 10, 12] = 2.0
    blurred = gaussian_blur_heatmaps(hm, 11)
    assert blurred.max() == pytest.approx(2.0, rel=1e-6)
    assert np.unravel_index(blurred.argmax(), blurred.shape)[2:] == (10, 12)
    assert (blurred > 0).sum() > 50
    with pytest.raises(ValueError, match="kernel"):
        gaussian_blur_heatmaps(hm, 4)


def test_dark_keeps_points_near_the_border():
    hm = gaussian_map(1.2, 30.0)[None, None]
    coords, _ = get_max_preds(hm)
    np.testing.assert_array_equal(refine_dark(hm, coords), coords)


def test_encode_gaussian_msra_convention():
    kpts = np.array([[10.4, 20.6], [0.3, 0.2], [47.4, 63.4], [60.0, 10.0], [5.0, 5.0], [-9.0, 3.0], [-7.0, 30.0]])
    visible = np.array([2, 1, 2, 2, 0, 2, 2])
    targets, weights = encode_gaussian(kpts, visible, (64, 48), sigma=2.0)
    assert targets.shape == (7, 64, 48) and targets.dtype == np.float32
    # hidden-but-labelled counts; unlabelled or with the window off the map does not
    assert weights.tolist() == [1, 1, 1, 0, 0, 0, 1]
    # centred on the nearest pixel, peak 1, 13 x 13 window (3 sigma each side)
    assert targets[0].max() == 1.0 and targets[0, 21, 10] == 1.0
    assert np.count_nonzero(targets[0]) == 13 * 13
    assert targets[0, 21, 10 + 6] == pytest.approx(np.exp(-36 / 8), rel=1e-5) and targets[0, 21, 10 + 7] == 0
    # cut at the border, still peak 1 in the corner
    assert targets[1, 0, 0] == 1.0 and np.count_nonzero(targets[1]) == 7 * 7
    assert targets[2, 63, 47] == 1.0
    assert not targets[3].any() and not targets[4].any() and not targets[5].any()
    # -7 rounds (toward zero, as mmpose) to -6: the window's last column is column 0
    assert np.count_nonzero(targets[6]) == 13 and targets[6, 30, 0] == pytest.approx(np.exp(-36 / 8), rel=1e-5)
    # decoding the target returns the pixel it sits on (symmetric neighbours: no shift)
    coords, scores = decode_heatmaps(targets[None, :3])
    assert coords[0].tolist() == [[10, 21], [0, 0], [47, 63]]
    np.testing.assert_allclose(scores[0], 1.0)


def test_encode_gaussian_bad_arguments():
    with pytest.raises(ValueError, match="keypoints"):
        encode_gaussian(np.zeros((3, 3)), np.ones(3), (8, 8), 2.0)
    with pytest.raises(ValueError, match="visible"):
        encode_gaussian(np.zeros((3, 2)), np.ones(2), (8, 8), 2.0)
    with pytest.raises(ValueError, match="sigma"):
        encode_gaussian(np.zeros((3, 2)), np.ones(3), (8, 8), 0.0)


def test_flip_back_of_an_ideal_mirrored_output_is_the_original():
    """A flip-equivariant network: mirrored input -> mirrored heatmaps with left/right swapped."""
    rng = np.random.default_rng(1)
    hm = rng.random((2, 17, 64, 48)).astype(np.float32)
    pairs = COCO_JOINTS.flip_pairs
    mirrored = hm[..., ::-1][:, [dict(pairs + tuple((b, a) for a, b in pairs)).get(k, k) for k in range(17)]]
    np.testing.assert_array_equal(flip_heatmaps_back(mirrored, pairs, shift=False), hm)
    shifted = flip_heatmaps_back(mirrored, pairs, shift=True)
    np.testing.assert_array_equal(shifted[..., 1:], hm[..., :-1])  # one pixel to the right
    np.testing.assert_array_equal(shifted[..., 0], hm[..., 0])


def test_flip_test_is_symmetric_for_symmetric_input():
    """Averaging with the flipped-back output of a mirror-symmetric scene changes nothing (no shift)."""
    pairs = ((0, 1),)
    left = gaussian_map(10.0, 20.0, (32, 24))
    right = left[:, ::-1]  # joint 1 is joint 0 mirrored
    hm = np.stack([left, right])[None]
    # the mirrored scene is identical, so the network's output on it is the same
    averaged = (hm + flip_heatmaps_back(hm, pairs, shift=False)) / 2
    np.testing.assert_allclose(averaged, hm)
    coords, _ = decode_heatmaps(averaged)
    assert coords[0, 0, 0] + coords[0, 1, 0] == pytest.approx(23.0)  # x and W - 1 - x


def test_flip_images_and_keypoints():
    batch = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    flipped = flip_images(batch)
    assert flipped.flags.c_contiguous
    np.testing.assert_array_equal(flipped[..., 0], batch[..., 4])
    np.testing.assert_array_equal(flip_images(flipped), batch)
    kpts = np.array([[[1.0, 2.0], [7.5, 3.0], [0.0, 0.0]]], np.float32)
    out = flip_keypoints(kpts, width=10, flip_pairs=((0, 1),))
    assert out[0].tolist() == [[1.5, 3.0], [8.0, 2.0], [9.0, 0.0]]
    np.testing.assert_array_equal(flip_keypoints(out, 10, ((0, 1),)), kpts)


def test_bad_heatmaps():
    with pytest.raises(ValueError, match="N x K x H x W"):
        decode_heatmaps(np.zeros((17, 64, 48), np.float32))
    with pytest.raises(ValueError, match="floating"):
        decode_heatmaps(np.zeros((1, 17, 64, 48), np.int32))

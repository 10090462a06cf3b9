"""Keypoints from the whole :class:`PoseEstimator` against ground truth, through an oracle network.

The oracle is a backend callable that knows where every person's joints are in the image. It
maps them into each crop with mmpose's convention written out here (not taken from the code under
test), checks that the crops it is given are the expected ones, and answers with heatmaps rendered
by this module's own Gaussian renderer, as an ideal network trained with mmpose's geometry would:
a joint at input pixel ``x_in`` peaks at heatmap ``x_in / 4`` (mmpose's ``joints / feat_stride``),
and in the mirrored crop of the flip test, at ``(W_in - 1 - x_in) / 4`` in the channel of its
left/right counterpart.

What the expected errors are, in heatmap pixels:

- the default decoding (arg-max, then a quarter pixel toward the higher neighbour) is within 0.25
  of the truth on each axis;
- the flip test averages a Gaussian at ``x`` with the flipped-back one, which sits at ``x - 0.75``
  and, after mmpose's one-pixel ``shift_heatmap``, at ``x + 0.25``: the average peaks at
  ``x + 0.125`` (mmpose's known bias), and at ``x - 0.375`` without the shift;
- DARK finds the maximum of a Gaussian (blurred, it stays a Gaussian with the same center, and its
  log is a quadratic that central differences fit exactly), so it is exact up to sampling.
"""

from __future__ import annotations

from typing import List

import cv2
import numpy as np
import pytest

from lite_hrnet.codec import decode_heatmaps
from lite_hrnet.pipeline import PoseEstimator
from lite_hrnet.specs import COCO_JOINTS, get_model_spec

MODEL = "litehrnet_18_coco_256x192"
SPEC = get_model_spec(MODEL)
IN_H, IN_W = 256, 192
HM_H, HM_W = 64, 48
STRIDE = 4
K = 17
COUNTERPART = {**dict(COCO_JOINTS.flip_pairs), **{b: a for a, b in COCO_JOINTS.flip_pairs}}
MEAN_RGB = np.array([123.675, 116.28, 103.53])
STD_RGB = np.array([58.395, 57.12, 57.375])
IMAGE_H, IMAGE_W = 480, 640


def mmpose_center_scale(box):
    """mmpose 0.x ``_box2cs`` for a 192 x 256 input (aspect 0.75), padding 1.25, scale in pixels."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1
    center = np.array([x1 + w / 2, y1 + h / 2])
    if w > 0.75 * h:
        h = w / 0.75
    else:
        w = h * 0.75
    return center, np.array([w, h]) * 1.25


def render_gaussian(x: float, y: float, cov=((4.0, 0.0), (0.0, 4.0))) -> np.ndarray:
    """An HM_H x HM_W Gaussian of peak 1 at (x, y) (pixel centers at integers) with covariance ``cov``."""
    inv = np.linalg.inv(np.asarray(cov, np.float64))
    yy, xx = np.mgrid[0:HM_H, 0:HM_W].astype(np.float64)
    dx, dy = xx - x, yy - y
    return np.exp(-0.5 * (inv[0, 0] * dx * dx + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy * dy)).astype(np.float32)


class OracleNetwork:
    """N x 3 x 256 x 192 crops in, N x 17 x 64 x 48 heatmaps of the known joints out (see the module doc).

    Args:
        image: the H x W x 3 uint8 BGR image the estimator is given.
        boxes: N x 4 boxes the estimator is expected to crop (the kept ones, in order).
        keypoints: N x 17 x 2 ground-truth joints in image pixels.
        covs: optional N x 17 x 2 x 2 covariances (heatmap pixels) of the rendered Gaussians.
    """

    def __init__(self, image: np.ndarray, boxes, keypoints, covs=None) -> None:
        self.calls: List[int] = []
        self.keypoints = np.asarray(keypoints, np.float64)
        n = len(self.keypoints)
        self.covs = np.broadcast_to(np.diag([4.0, 4.0]), (n, K, 2, 2)) if covs is None else np.asarray(covs)
        self.crops = np.zeros((n, 3, IN_H, IN_W), np.float32)
        self.in_crop = np.zeros((n, K, 2))  # input pixels
        rgb = image[..., ::-1]
        for i, box in enumerate(boxes):
            center, scale = mmpose_center_scale(box)
            zoom = np.array([IN_W, IN_H]) / scale
            offset = np.array([IN_W, IN_H]) / 2 - center * zoom
            matrix = np.array([[zoom[0], 0, offset[0]], [0, zoom[1], offset[1]]])
            crop = cv2.warpAffine(rgb, matrix, (IN_W, IN_H), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
            self.crops[i] = ((crop - MEAN_RGB) / STD_RGB).transpose(2, 0, 1)
            self.in_crop[i] = self.keypoints[i] * zoom + offset

    def _heatmaps(self, mirrored: bool) -> np.ndarray:
        out = np.zeros((len(self.keypoints), K, HM_H, HM_W), np.float32)
        for i in range(len(self.keypoints)):
            for k in range(K):
                x_in, y_in = self.in_crop[i, k]
                cov = self.covs[i, k]
                if mirrored:
                    mirror = np.diag([-1.0, 1.0])
                    out[i, COUNTERPART.get(k, k)] = render_gaussian((IN_W - 1 - x_in) / STRIDE, y_in / STRIDE,
                                                                    mirror @ cov @ mirror)
                else:
                    out[i, k] = render_gaussian(x_in / STRIDE, y_in / STRIDE, cov)
        return out

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        n = len(self.keypoints)
        self.calls.append(batch.shape[0])
        assert batch.dtype == np.float32 and batch.shape[1:] == (3, IN_H, IN_W)
        # in gray levels: OpenCV's fixed-point warp may round a few pixels the other way
        levels = np.abs(batch[:n] - self.crops) * STD_RGB[None, :, None, None]
        assert levels.max() < 1.01 and levels.mean() < 0.01, (levels.max(), levels.mean())
        if batch.shape[0] == 2 * n:
            np.testing.assert_array_equal(batch[n:], batch[:n, :, :, ::-1])
            return np.concatenate([self._heatmaps(False), self._heatmaps(True)])
        assert batch.shape[0] == n
        return self._heatmaps(False)


# The persons: a tall box, a wide one, one partly outside the image; joints in the inner 70% of each box.
BOXES = np.array([[100.0, 60.0, 220.0, 420.0], [300.0, 200.0, 560.0, 330.0], [520.0, 300.0, 700.0, 520.0]])
OUTSIDE = [650.0, 10.0, 700.0, 90.0]  # entirely right of the 640-pixel-wide image: skipped


def ground_truth(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size = BOXES[:, 2:] - BOXES[:, :2]
    return BOXES[:, None, :2] + size[:, None] * (0.15 + 0.7 * rng.random((len(BOXES), K, 2)))


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    # noise, so that a crop in the wrong place or a mirrored crop that is not the mirror shows
    return np.random.default_rng(1).integers(0, 256, (IMAGE_H, IMAGE_W, 3), dtype=np.uint8)


def heatmap_errors(keypoints: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """N x K x 2 errors in heatmap pixels of image keypoints against the truth, per box."""
    scales = np.array([mmpose_center_scale(b)[1] for b in BOXES])
    return (keypoints - truth) * (np.array([HM_W, HM_H]) / scales)[:, None, :]


def run(image, truth, covs=None, **options):
    oracle = OracleNetwork(image, BOXES, truth, covs)
    estimator = PoseEstimator(oracle, spec=MODEL, **options)
    # box 1 of 4 lies outside the image; box scores in the fifth column
    boxes = np.c_[np.insert(BOXES, 1, OUTSIDE, axis=0), [0.9, 0.8, 0.7, 0.6]]
    result = estimator.predict(image, boxes)
    assert result.box_indices.tolist() == [0, 2, 3]
    np.testing.assert_allclose(result.box_scores, [0.9, 0.7, 0.6], rtol=1e-6)
    np.testing.assert_array_equal(result.boxes, BOXES.astype(np.float32))
    assert oracle.calls == [2 * len(BOXES) if options.get("flip_test") else len(BOXES)]  # one batch
    assert result.keypoints.shape == (3, K, 2) and result.scores.shape == (3, K)
    return result, heatmap_errors(result.keypoints, truth)


# ---------------------------------------------------------------------------- without the flip test


def test_default_decoding_is_within_a_quarter_heatmap_pixel_of_the_truth(image):
    truth = ground_truth()
    result, err = run(image, truth)
    assert np.abs(err).max() <= 0.25 + 1e-3
    assert np.abs(err.mean(axis=(0, 1))).max() < 0.05  # no bias
    # each coordinate is an integer heatmap pixel moved by 0 or a quarter (mmpose 'default')
    scales = np.array([mmpose_center_scale(b)[1] for b in BOXES])
    centers = np.array([mmpose_center_scale(b)[0] for b in BOXES])
    hm = (result.keypoints - centers[:, None] + scales[:, None] / 2) * (np.array([HM_W, HM_H]) / scales)[:, None]
    steps = (hm - np.round(hm)) * 4
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    assert set(np.round(steps).ravel().tolist()) <= {-1.0, 0.0, 1.0}
    # the score is the heatmap maximum: a sampled Gaussian at most half a pixel per axis from its peak
    assert result.scores.min() > np.exp(-0.5 * 0.5 / 4.0) - 1e-3 and result.scores.max() <= 1.0


def test_dark_is_exact_on_round_gaussians(image):
    truth = ground_truth(2)
    result, err = run(image, truth, dark=True)
    assert np.abs(err).max() < 2e-3
    assert result.scores.min() > np.exp(-0.5 * 0.5 / 4.0) - 1e-3 and result.scores.max() <= 1.0


def rotated_covariance(sigma_long: float, sigma_short: float, angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return rot @ np.diag([sigma_long**2, sigma_short**2]) @ rot.T


def test_dark_is_exact_on_rotated_anisotropic_gaussians(image):
    truth = ground_truth(3)
    angles = np.linspace(15, 165, K)  # never axis-aligned: the Hessian's cross term matters everywhere
    covs = np.stack([[rotated_covariance(3.0, 1.5, a + 20 * i) for a in angles] for i in range(len(BOXES))])
    _, err = run(image, truth, covs, dark=True)
    assert np.abs(err).max() < 2e-3


def test_dark_on_a_rotated_gaussian_heatmap_by_hand():
    """decode_heatmaps(dark=True) on one heatmap: the maximum of a Gaussian is its mean, (20.3, 30.7)."""
    cov = rotated_covariance(3.0, 1.5, 30.0)
    heatmap = render_gaussian(20.3, 30.7, cov)[None, None]
    coords, scores = decode_heatmaps(heatmap, dark=True)
    np.testing.assert_allclose(coords[0, 0], [20.3, 30.7], atol=2e-3)
    assert scores[0, 0] == heatmap.max()
    # The data can tell a wrong cross term: DARK smooths with OpenCV's 11-pixel kernel (sigma 2), so the
    # log heatmap is the quadratic -d'Ad/2 with A = inverse(cov + 4 I); one Newton step from the arg-max
    # p lands on the mean, and with the sign of A's cross term flipped it lands this far off:
    a = np.linalg.inv(cov + 4 * np.eye(2))
    flipped = a * [[1, -1], [-1, 1]]
    d = np.array([20.0, 31.0]) - [20.3, 30.7]  # the arg-max pixel minus the mean
    assert np.linalg.norm(d - np.linalg.solve(flipped, a @ d)) > 0.2


# ---------------------------------------------------------------------------- with the flip test


def test_flip_test_has_mmpose_bias_of_an_eighth_pixel_in_x(image):
    truth = ground_truth(4)
    _, err = run(image, truth, flip_test=True)
    # the average of Gaussians at x and x + 0.25 peaks at x + 0.125; the quarter step adds up to 0.25
    assert np.abs(err[..., 0] - 0.125).max() <= 0.25 + 0.01
    assert np.abs(err[..., 1]).max() <= 0.25 + 1e-3
    assert err[..., 0].mean() == pytest.approx(0.125, abs=0.06)
    assert err[..., 1].mean() == pytest.approx(0.0, abs=0.06)


def test_flip_test_with_dark_pins_the_shift_and_the_pair_swap(image):
    truth = ground_truth(5)
    _, err = run(image, truth, flip_test=True, dark=True)
    np.testing.assert_allclose(err[..., 0], 0.125, atol=2e-3)
    np.testing.assert_allclose(err[..., 1], 0.0, atol=2e-3)


def test_flip_test_without_shift_heatmap_is_three_eighths_of_a_pixel_left(image):
    truth = ground_truth(6)
    _, err = run(image, truth, flip_test=True, dark=True, shift_heatmap=False)
    np.testing.assert_allclose(err[..., 0], -0.375, atol=2e-3)
    np.testing.assert_allclose(err[..., 1], 0.0, atol=2e-3)
    _, err = run(image, truth, flip_test=True, shift_heatmap=False)
    assert err[..., 0].mean() == pytest.approx(-0.375, abs=0.06)


# ---------------------------------------------------------------------------- the quarter step's bounds


def mmpose_1x_refine(heatmaps: np.ndarray) -> np.ndarray:
    """mmpose 1.x ``get_heatmap_maximum`` + ``refine_keypoints``, one joint at a time, as published:
    x moves a quarter toward the higher neighbour where ``1 < x < W - 1`` and ``0 < y < H``, y where
    ``1 < y < H - 1`` and ``0 < x < W``."""
    n, k, h, w = heatmaps.shape
    out = np.zeros((n, k, 2), np.float32)
    for i in range(n):
        for j in range(k):
            y, x = np.unravel_index(np.argmax(heatmaps[i, j]), (h, w))
            dx = heatmaps[i, j, y, x + 1] - heatmaps[i, j, y, x - 1] if 1 < x < w - 1 and 0 < y < h else 0.0
            dy = heatmaps[i, j, y + 1, x] - heatmaps[i, j, y - 1, x] if 1 < y < h - 1 and 0 < x < w else 0.0
            out[i, j] = [x + 0.25 * np.sign(dx), y + 0.25 * np.sign(dy)]
    return out


def test_quarter_step_matches_mmpose_1x_at_every_pixel_including_the_border():
    h, w = 7, 6
    rng = np.random.default_rng(7)
    heatmaps = np.zeros((2, h * w, h, w), np.float32)
    for n in range(2):  # the arg-max at every pixel, the neighbours random (both signs on each axis)
        heatmaps[n] = rng.uniform(0.0, 0.5, (h * w, h, w))
        heatmaps[n].reshape(h * w, h * w)[np.arange(h * w), np.arange(h * w)] = 1.0
    coords, scores = decode_heatmaps(heatmaps)
    np.testing.assert_array_equal(coords, mmpose_1x_refine(heatmaps))
    np.testing.assert_array_equal(scores, 1.0)


def test_dark_refines_only_two_pixels_away_from_the_border():
    """mmpose's DARK (``_taylor``) refines where ``1 < x < W - 2`` and ``1 < y < H - 2``; elsewhere the arg-max stays."""
    h, w = 9, 8
    rng = np.random.default_rng(8)
    heatmaps = rng.uniform(0.1, 0.5, (1, h * w, h, w)).astype(np.float32)
    heatmaps[0].reshape(h * w, h * w)[np.arange(h * w), np.arange(h * w)] = 1.0
    coords, _ = decode_heatmaps(heatmaps, dark=True)
    ys, xs = np.divmod(np.arange(h * w), w)
    inner = (xs > 1) & (xs < w - 2) & (ys > 1) & (ys < h - 2)
    moved = np.abs(coords[0] - np.c_[xs, ys]).max(axis=1) > 1e-6
    np.testing.assert_array_equal(moved, inner)


# ---------------------------------------------------------------------------- estimator options


def reference_flip_average(plain: np.ndarray, mirrored: np.ndarray, shift: bool) -> np.ndarray:
    """mmpose's flip test: mirror the heatmaps of the mirrored crops, swap left/right channels,
    move them one pixel right (column 0 keeps its value) and average with the plain ones."""
    back = mirrored[..., ::-1][:, [COUNTERPART.get(k, k) for k in range(K)]]
    if shift:
        back = np.concatenate([back[..., :1], back[..., :-1]], axis=-1)
    return (plain + back) / 2


@pytest.mark.parametrize("shift", [True, False])
def test_returned_heatmaps_are_the_flip_average(image, shift):
    truth = ground_truth(9)
    oracle = OracleNetwork(image, BOXES, truth)
    estimator = PoseEstimator(oracle, spec=MODEL, flip_test=True, shift_heatmap=shift)
    assert estimator.predict(image, BOXES).heatmaps is None  # kept only on request
    result = estimator.predict(image, BOXES, return_heatmaps=True)
    expected = reference_flip_average(oracle._heatmaps(False), oracle._heatmaps(True), shift)
    np.testing.assert_allclose(result.heatmaps, expected, atol=1e-6)
    np.testing.assert_allclose(result.scores, expected.max(axis=(2, 3)), atol=1e-6)
    assert result.scores.dtype == np.float32 and result.keypoints.dtype == np.float32
    plain = PoseEstimator(oracle, spec=MODEL).predict(image, BOXES, return_heatmaps=True)
    np.testing.assert_allclose(plain.heatmaps, oracle._heatmaps(False), atol=1e-6)


def test_max_batch_model_name_and_box_padding(image):
    calls = []

    def record(batch):
        calls.append(batch.shape[0])
        return np.zeros((len(batch), K, HM_H, HM_W), np.float32)

    result = PoseEstimator(record, model_name=MODEL, max_batch=2).predict(image, BOXES)
    assert calls == [2, 1] and len(result) == 3  # three persons, at most two at a time
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match=f"box_padding must be positive, got {bad}"):
            PoseEstimator(record, spec=MODEL, box_padding=bad)
    centers, scales = PoseEstimator(record, spec=MODEL, box_padding=1.0).centers_scales(BOXES[:1])
    np.testing.assert_allclose(scales, [[270.0, 360.0]])  # 120 x 360 widened to 0.75, not padded


def test_color_order_comes_from_the_metadata():
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 0] = 200  # blue in BGR
    box = np.array([[0.0, 0.0, 64.0, 64.0]])
    crops = {}
    metadata = SPEC.metadata()
    for name, meta in (("rgb", metadata), ("bgr", {**metadata, "color_order": "bgr"})):
        def keep(batch, name=name):
            crops[name] = batch[0, :, IN_H // 2, IN_W // 2] * STD_RGB + MEAN_RGB
            return np.zeros((len(batch), K, HM_H, HM_W), np.float32)

        estimator = PoseEstimator(keep, spec=meta)
        estimator.predict(image, box)
        centers, scales = estimator.centers_scales(box)
        crops[name + " preprocess"] = estimator.preprocess(image, centers, scales)[0, :, IN_H // 2, IN_W // 2]
    np.testing.assert_allclose(crops["rgb"], [0, 0, 200], atol=1e-3)  # blue last: RGB
    np.testing.assert_allclose(crops["bgr"], [200, 0, 0], atol=1e-3)
    np.testing.assert_allclose(crops["rgb preprocess"] * STD_RGB + MEAN_RGB, [0, 0, 200], atol=1e-3)
    np.testing.assert_allclose(crops["bgr preprocess"] * STD_RGB + MEAN_RGB, [200, 0, 0], atol=1e-3)

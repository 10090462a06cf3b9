"""One-Euro keypoint smoothing: hand-computed steps, a scalar textbook implementation, tracks, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lite_hrnet.smoothing import OneEuroFilter, one_euro_alpha


def scalar_one_euro(values, times, min_cutoff, beta, d_cutoff):
    """The filter written out for one scalar signal, as in Casiez et al.'s pseudo-code."""
    out, x_hat, dx_hat, last = [], None, 0.0, None
    for x, t in zip(values, times):
        if x_hat is None:
            x_hat = x
        else:
            dt = t - last
            a_d = 1.0 / (1.0 + 1.0 / (2 * math.pi * d_cutoff) / dt)
            dx_hat = a_d * (x - x_hat) / dt + (1 - a_d) * dx_hat
            cutoff = min_cutoff + beta * abs(dx_hat)
            a = 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff) / dt)
            x_hat = a * x + (1 - a) * x_hat
        last = t
        out.append(x_hat)
    return out


def test_alpha_by_hand():
    # tau = 1 / (2 pi) = 0.15915494 s; dt = 0.1 s: alpha = 1 / (1 + 1.5915494) = 0.38586954
    assert one_euro_alpha(1.0, 0.1) == pytest.approx(0.38586954, abs=1e-8)
    assert one_euro_alpha(1e9, 0.1) == pytest.approx(1.0, abs=1e-8)  # huge cut-off: no smoothing


def test_two_steps_by_hand():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, d_cutoff=1.0)
    first = f(np.array([[[0.0, 5.0]]]), [7], 0.0)
    np.testing.assert_array_equal(first, [[[0.0, 5.0]]])  # the first sample passes
    second = f(np.array([[[10.0, 5.0]]]), [7], 0.1)
    # beta = 0: a plain low-pass with alpha 0.38586954; y stays where it was
    np.testing.assert_allclose(second, [[[3.8586954, 5.0]]], atol=1e-6)
    assert second.dtype == np.float32


def test_beta_speeds_up_the_filter_by_hand():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.1, d_cutoff=1.0)
    f(np.array([[[0.0, 0.0]]]), [0], 0.0)
    out = f(np.array([[[10.0, 0.0]]]), [0], 0.1)
    # dx = 100 px/s, dx_hat = 0.38586954 * 100 = 38.586954; cutoff = 1 + 3.8586954 = 4.8586954 Hz
    # tau = 1 / (2 pi 4.8586954) = 0.032756861; alpha = 1 / (1 + 0.32756861) = 0.75325770
    np.testing.assert_allclose(out[0, 0], [7.5325770, 0.0], atol=1e-5)


def test_matches_the_scalar_textbook_filter_on_a_noisy_sequence():
    rng = np.random.default_rng(3)
    frames, joints = 40, 5
    times = np.cumsum(rng.uniform(0.02, 0.06, frames))  # a variable frame rate
    path = np.cumsum(rng.normal(0, 4, (frames, joints, 2)), axis=0) + 100
    f = OneEuroFilter(min_cutoff=0.7, beta=0.02, d_cutoff=1.3)
    got = np.stack([f(path[i][None], [3], times[i])[0] for i in range(frames)])
    for j in range(joints):
        for c in range(2):
            expected = scalar_one_euro(path[:, j, c], times, 0.7, 0.02, 1.3)
            np.testing.assert_allclose(got[:, j, c], expected, atol=1e-4)


def test_reduces_jitter_of_a_still_person():
    rng = np.random.default_rng(0)
    still = 200 + rng.normal(0, 2.0, (60, 17, 2))
    f = OneEuroFilter()
    out = np.stack([f(still[i][None], [0], i / 30.0)[0] for i in range(60)])
    raw_jitter = np.abs(np.diff(still[30:], axis=0)).mean()
    smooth_jitter = np.abs(np.diff(out[30:], axis=0)).mean()
    assert smooth_jitter < 0.5 * raw_jitter, (raw_jitter, smooth_jitter)


def test_tracks_are_independent_and_forgotten_when_absent():
    f = OneEuroFilter(beta=0.0)
    f(np.array([[[0.0, 0.0]], [[100.0, 100.0]]]), [1, 2], 0.0)
    out = f(np.array([[[10.0, 0.0]], [[100.0, 100.0]]]), [1, 2], 0.1)
    np.testing.assert_allclose(out[:, 0], [[3.8586954, 0.0], [100.0, 100.0]], atol=1e-5)
    f(np.array([[[10.0, 0.0]]]), [1], 0.2)  # track 2 is gone
    assert list(f.track_ids) == [1]
    back = f(np.array([[[10.0, 0.0]], [[0.0, 0.0]]]), [1, 2], 0.3)
    np.testing.assert_array_equal(back[1], [[0.0, 0.0]])  # track 2 starts afresh
    f.reset()
    assert list(f.track_ids) == []


@pytest.mark.parametrize("kwargs, needle", [
    ({"min_cutoff": 0}, "min_cutoff"), ({"beta": -1}, "beta"), ({"d_cutoff": float("nan")}, "d_cutoff"),
    ({"min_cutoff": "fast"}, "min_cutoff"),
])
def test_bad_parameters(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        OneEuroFilter(**kwargs)


def test_bad_calls_name_the_problem_and_keep_the_state():
    f = OneEuroFilter(beta=0.0)
    f(np.zeros((1, 3, 2)), [0], 1.0)
    with pytest.raises(ValueError, match="N x K x 2"):
        f(np.zeros((1, 3)), [0], 2.0)
    with pytest.raises(ValueError, match="track_ids has 2 entries for 1 persons"):
        f(np.zeros((1, 3, 2)), [0, 1], 2.0)
    with pytest.raises(ValueError, match="distinct"):
        f(np.zeros((2, 3, 2)), [4, 4], 2.0)
    with pytest.raises(ValueError, match="not after the previous one of track 0"):
        f(np.zeros((1, 3, 2)), [0], 1.0)
    with pytest.raises(ValueError, match="NaN"):
        f(np.full((1, 3, 2), np.nan), [0], 2.0)
    assert list(f.track_ids) == [0]
    np.testing.assert_allclose(f(np.full((1, 3, 2), 10.0), [0], 2.0)[0, 0], [10 * one_euro_alpha(1.0, 1.0)] * 2)


# ---------------------------------------------------------------------------- in PoseTracker and predict


class _JitteryEstimator:
    """Stand-in estimator: one person per box, keypoints at fixed places plus noise, scores 0.9."""

    num_joints = 5

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def predict(self, image, boxes=None):
        from lite_hrnet.pipeline import PoseResult, check_boxes

        kept, box_scores, indices = check_boxes(boxes, image.shape[:2])
        base = np.array([[40, 30], [60, 30], [50, 50], [40, 80], [60, 80]], np.float32)
        keypoints = np.stack([base + self.rng.normal(0, 2, base.shape).astype(np.float32) for _ in kept])
        return PoseResult(keypoints=keypoints.reshape(len(kept), 5, 2), scores=np.full((len(kept), 5), 0.9, np.float32),
                          boxes=kept, box_scores=box_scores, box_indices=indices)


def test_tracker_smoothing_is_the_filter_on_the_raw_output():
    from lite_hrnet.pipeline import PoseTracker

    frame = np.zeros((120, 100, 3), np.uint8)
    plain = PoseTracker(_JitteryEstimator(1))
    smooth = PoseTracker(_JitteryEstimator(1), smoothing=OneEuroFilter(min_cutoff=0.5, beta=0.01))
    reference = OneEuroFilter(min_cutoff=0.5, beta=0.01)
    times = [0.0, 0.04, 0.07, 0.12, 0.15, 0.2]
    for i, t in enumerate(times):
        boxes = [[0, 0, 100, 120]] if i == 3 else None  # a detector box on one frame: a new track (low IoU)
        raw, smoothed = plain.update(frame, boxes, timestamp=t), smooth.update(frame, boxes, timestamp=t)
        assert raw.track_ids.tolist() == smoothed.track_ids.tolist() == [0 if i < 3 else 1]
        np.testing.assert_array_equal(plain.tracked_boxes, smooth.tracked_boxes)  # next boxes from raw keypoints
        np.testing.assert_array_equal(smoothed.keypoints, reference(raw.keypoints, raw.track_ids, t))
    assert not np.array_equal(smoothed.keypoints, raw.keypoints)  # it did smooth
    # without time stamps, frame i is at i / 30 s
    default = PoseTracker(_JitteryEstimator(2), smoothing=True)
    check = OneEuroFilter()
    raw_tracker = PoseTracker(_JitteryEstimator(2))
    for i in range(3):
        got, raw = default.update(frame), raw_tracker.update(frame)
        np.testing.assert_array_equal(got.keypoints, check(raw.keypoints, raw.track_ids, i / 30.0))


def test_tracker_smoothing_argument():
    from lite_hrnet.pipeline import PoseTracker

    assert PoseTracker(_JitteryEstimator(), smoothing=False).smoothing is None
    assert isinstance(PoseTracker(_JitteryEstimator(), smoothing=True).smoothing, OneEuroFilter)
    with pytest.raises(ValueError, match="smoothing must be None, True or a OneEuroFilter"):
        PoseTracker(_JitteryEstimator(), smoothing="strong")


def test_predict_smooth_needs_track(tmp_path):
    from conftest import cli

    run = cli("predict", "--model", str(tmp_path / "model.onnx"), str(tmp_path / "a.jpg"), "--smooth")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == ["lite-hrnet predict: error: --smooth needs --track (smoothing follows "
                                               "tracked persons)"]

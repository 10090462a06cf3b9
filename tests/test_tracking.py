"""PoseTracker: one track per person per frame, empty detector lists, boxes outside the frame, needs_boxes.

The network here reads the joints off the image: every joint of a drawn figure is a small disk of
its own color, and a joint's heatmap is where the crop has that color, at heatmap resolution and
smoothed. Keypoints then come back within about a pixel of where they were drawn, wherever the
tracker's boxes put the crops.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import pytest

from lite_hrnet.pipeline import PoseEstimator, PoseTracker

MODEL = "litehrnet_18_coco_256x192"
IN_H, IN_W, HM_H, HM_W, K = 256, 192, 64, 48, 17
MEAN_RGB = np.array([123.675, 116.28, 103.53], np.float32)
STD_RGB = np.array([58.395, 57.12, 57.375], np.float32)
FRAME_H, FRAME_W = 480, 640

# A standing figure, joint offsets (x, y) from its center in pixels, in COCO order.
FIGURE = np.array([
    [0, -80], [6, -88], [-6, -88], [14, -84], [-14, -84], [30, -50], [-30, -50], [40, -10], [-40, -10],
    [45, 25], [-45, 25], [20, 20], [-20, 20], [22, 65], [-22, 65], [22, 105], [-22, 105],
], np.float64)


def joint_blue(k: int) -> int:
    return 20 + 10 * k


def draw_frame(centers: Sequence[Tuple[float, float]], joints: Sequence[Sequence[int]] = ()) -> Tuple[np.ndarray, List[np.ndarray]]:
    """A black frame with one figure per center (only the joints listed in ``joints[i]``, if given).

    Returns the frame and, per figure, the K x 2 joint positions.
    """
    frame = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    truth = []
    for i, center in enumerate(centers):
        points = FIGURE + center
        shown = joints[i] if i < len(joints) else range(K)
        for k in shown:
            # 16x sub-pixel precision: the disk is centered on the exact point
            x, y = (int(round(v * 16)) for v in points[k])
            cv2.circle(frame, (x, y), 3 * 16, (joint_blue(k), 255, 0), -1, cv2.LINE_8, shift=4)
        truth.append(points)
    return frame, truth


class ColorNetwork:
    """Heatmaps from the joint colors of the crops; counts the persons of each call.

    A joint's disk blends with the black background when the crop is warped, but its blue / green
    ratio stays, so a pixel's weight for joint k is its green level where that ratio is joint k's.
    The weights are smoothed and sampled at every fourth input pixel: heatmap pixel i is input pixel 4 i.
    """

    def __init__(self) -> None:
        self.calls: List[int] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(batch.shape[0])
        rgb = batch.transpose(0, 2, 3, 1) * STD_RGB + MEAN_RGB
        out = np.zeros((batch.shape[0], K, HM_H, HM_W), np.float32)
        for n in range(batch.shape[0]):
            green = rgb[n, ..., 1]
            ratio = 255 * rgb[n, ..., 2] / np.maximum(green, 1e-3)
            for k in range(K):
                weight = np.where((green > 20) & (np.abs(ratio - joint_blue(k)) < 4), green / 255, 0).astype(np.float32)
                smooth = cv2.GaussianBlur(weight, (0, 0), 6.0)[::4, ::4]
                if smooth.max() > 0:
                    out[n, k] = smooth / smooth.max()
        return out


def make_tracker(**options) -> Tuple[PoseTracker, ColorNetwork]:
    network = ColorNetwork()
    return PoseTracker(PoseEstimator(network, spec=MODEL), **options), network


def iou(a, b) -> float:
    """IoU of two (x1, y1, x2, y2) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def person_box(center, margin: float = 20.0) -> List[float]:
    points = FIGURE + center
    return [*(points.min(axis=0) - margin), *(points.max(axis=0) + margin)]


def expected_next_box(points: np.ndarray, enlarge: float = 1.25) -> np.ndarray:
    """The keypoints' bounding box grown by ``enlarge`` around its center (at least 8 pixels), clipped to the frame."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    half = np.maximum((hi - lo) * enlarge / 2, 4.0)
    box = np.r_[(lo + hi) / 2 - half, (lo + hi) / 2 + half]
    return np.clip(box, 0, [FRAME_W, FRAME_H, FRAME_W, FRAME_H])


# ---------------------------------------------------------------------------- one track per person


def test_two_boxes_on_one_tracked_person_get_two_track_ids():
    frame, _ = draw_frame([(200, 220)])
    close = person_box((202, 221))
    looser = person_box((200, 220), margin=45.0)
    for boxes, expected in (([close, looser], [0, 1]), ([looser, close], [1, 0])):
        tracker, _ = make_tracker()
        assert tracker.update(frame, [person_box((200, 220))]).track_ids.tolist() == [0]
        tracked = tracker.tracked_boxes[0]
        assert iou(close, tracked) > iou(looser, tracked) > 0.3  # both could take the track
        result = tracker.update(frame, boxes)
        assert result.track_ids.tolist() == expected  # the better overlap keeps the id, the other is new
    # both tracks follow the same person without boxes: still one id each
    for _ in range(2):
        result = tracker.update(frame)
        assert result.track_ids.tolist() == [1, 0]
    # one detector box over the two (nearly identical) tracked boxes takes one of the ids, never both
    result = tracker.update(frame, [person_box((200, 220)), person_box((201, 220))])
    ids = result.track_ids.tolist()
    assert len(set(ids)) == 2 and ids[0] in (0, 1) and ids[1] in (0, 1, 2)


def test_given_boxes_take_the_id_of_the_track_they_overlap_most_above_iou_thr():
    tracker, _ = make_tracker()
    centers = [(150, 200), (450, 240)]
    frame, truth = draw_frame(centers)
    assert tracker.update(frame, [person_box(c) for c in centers]).track_ids.tolist() == [0, 1]
    tracked = tracker.tracked_boxes
    for box, points in zip(tracked, truth):
        np.testing.assert_allclose(box, expected_next_box(points), atol=2.0)
    # given in the other order, each box still finds its own track; a box on nobody gets a new id
    result = tracker.update(frame, [person_box(centers[1]), [560, 20, 620, 120], person_box(centers[0])])
    assert result.track_ids.tolist() == [1, 2, 0]
    # a box overlapping the track of person 0 by less than iou_thr (0.3) starts a new track
    tracked = tracker.tracked_boxes[tracker.update(frame).track_ids.tolist().index(0)]
    width = tracked[2] - tracked[0]
    shifted = tracked + [0.6 * width, 0, 0.6 * width, 0]  # IoU 0.4 / 1.6 = 0.25
    assert iou(shifted, tracked) == pytest.approx(0.25, abs=0.01)
    assert tracker.update(frame, [shifted]).track_ids.tolist() == [3]
    # with iou_thr 0.2 the same overlap keeps the id
    tracker, _ = make_tracker(iou_thr=0.2)
    tracker.update(frame, [person_box(centers[0])])
    tracked = tracker.tracked_boxes[0]
    width = tracked[2] - tracked[0]
    assert tracker.update(frame, [tracked + [0.6 * width, 0, 0.6 * width, 0]]).track_ids.tolist() == [0]


def test_track_ids_are_unique_in_every_frame_of_a_busy_sequence():
    tracker, _ = make_tracker()
    rng = np.random.default_rng(0)
    seen: Dict[int, int] = {}
    for t in range(12):
        centers = [(150 + 4 * t, 200), (330, 220 + 3 * t), (500 - 5 * t, 240)]
        frame, _ = draw_frame(centers)
        boxes = None
        if t % 3 == 0:  # a detector every third frame, with duplicates and a stray box
            boxes = [person_box(c, margin=rng.uniform(10, 40)) for c in centers]
            boxes += [person_box(centers[1], margin=30), [10, 10, 60, 60]]
        result = tracker.update(frame, boxes)
        ids = result.track_ids.tolist()
        assert len(ids) == len(set(ids)), (t, ids)
        assert result.track_ids.dtype == np.int64 and len(result) == (len(boxes) if boxes else len(ids))
        for i in ids:
            seen.setdefault(i, t)
    assert sorted(seen) == list(range(len(seen)))  # ids are handed out in order, none skipped


# ---------------------------------------------------------------------------- empty detector lists


@pytest.mark.parametrize("empty", [[], np.zeros((0, 4)), np.zeros((0, 5))])
def test_an_empty_detector_list_gives_an_empty_result_and_ends_every_track(empty):
    tracker, network = make_tracker()
    frame, _ = draw_frame([(200, 220)])
    tracker.update(frame, [person_box((200, 220))])
    assert not tracker.needs_boxes
    result = tracker.update(frame, empty)
    assert network.calls == [1]  # the network is not run for nobody
    assert len(result) == 0
    assert result.keypoints.shape == (0, K, 2) and result.scores.shape == (0, K) and result.boxes.shape == (0, 4)
    assert result.box_scores.shape == (0,) and result.box_indices.shape == (0,) and result.track_ids.shape == (0,)
    assert result.keypoints.dtype == result.scores.dtype == result.boxes.dtype == result.box_scores.dtype == np.float32
    assert result.track_ids.dtype == result.box_indices.dtype == np.int64
    assert tracker.needs_boxes and tracker.tracked_boxes.shape == (0, 4)
    # the next frame without boxes is the whole frame again
    result = tracker.update(frame)
    np.testing.assert_array_equal(result.boxes, [[0, 0, FRAME_W, FRAME_H]])


def test_track_ids_are_not_reused_after_an_empty_detector_list():
    tracker, _ = make_tracker()
    frame, _ = draw_frame([(200, 220)])
    first = tracker.update(frame, [person_box((200, 220))]).track_ids.tolist()
    tracker.update(frame, [])
    frame, _ = draw_frame([(450, 220)])
    second = tracker.update(frame, [person_box((450, 220))]).track_ids.tolist()
    assert not set(first) & set(second)


# ---------------------------------------------------------------------------- boxes outside the frame


def test_boxes_outside_the_frame_are_skipped():
    tracker, network = make_tracker()
    centers = [(150, 200), (450, 240)]
    frame, truth = draw_frame(centers)
    outside = [FRAME_W + 10, 100, FRAME_W + 80, 300]
    result = tracker.update(frame, [person_box(centers[0]), outside, person_box(centers[1])])
    assert network.calls == [2] and len(result) == 2
    np.testing.assert_allclose(result.boxes, [person_box(c) for c in centers], rtol=1e-6)
    assert len(set(result.track_ids.tolist())) == 2
    for keypoints, points in zip(result.keypoints, truth):
        assert np.abs(keypoints - points).max() < 2.0
    # only boxes outside: nobody
    result = tracker.update(frame, [outside, [-90, -90, -10, -10]])
    assert len(result) == 0 and tracker.needs_boxes


def test_box_indices_refer_to_the_boxes_given_to_update():
    tracker, _ = make_tracker()
    centers = [(150, 200), (450, 240)]
    frame, _ = draw_frame(centers)
    outside = [FRAME_W + 10, 100, FRAME_W + 80, 300]
    result = tracker.update(frame, [person_box(centers[0]), outside, person_box(centers[1])])
    assert result.box_indices.tolist() == [0, 2]


# ---------------------------------------------------------------------------- needs_boxes


def test_needs_boxes_until_someone_is_tracked_and_again_once_lost():
    tracker, network = make_tracker()
    assert tracker.needs_boxes and tracker.tracked_boxes.shape == (0, 4) and tracker.tracked_boxes.dtype == np.float32
    # nobody tracked, no boxes: the whole frame is the box, and a new track starts
    frame, truth = draw_frame([(320, 240)])
    result = tracker.update(frame)
    np.testing.assert_array_equal(result.boxes, [[0, 0, FRAME_W, FRAME_H]])
    assert result.track_ids.tolist() == [0] and not tracker.needs_boxes
    # the next box is around the keypoints; the copy handed out does not steer the tracker
    tracked = tracker.tracked_boxes
    np.testing.assert_allclose(tracked[0], expected_next_box(truth[0]), atol=2.0)
    tracked[:] = 0
    assert tracker.update(frame).boxes[0].tolist() != [0, 0, 0, 0]
    # three confident keypoints keep the person (min_keypoints = 3), two do not
    frame, truth = draw_frame([(320, 240)], joints=[[5, 9, 16]])
    result = tracker.update(frame)
    assert (result.scores[0] > 0.3).sum() == 3 and not tracker.needs_boxes
    np.testing.assert_allclose(tracker.tracked_boxes[0], expected_next_box(truth[0][[5, 9, 16]]), atol=2.0)
    frame, _ = draw_frame([(320, 240)], joints=[[5, 16]])
    result = tracker.update(frame)
    assert len(result) == 1 and result.track_ids.tolist() == [0] and tracker.needs_boxes
    # reset forgets the tracks
    frame, _ = draw_frame([(320, 240)])
    tracker.update(frame)
    assert not tracker.needs_boxes
    tracker.reset()
    assert tracker.needs_boxes and tracker.update(frame).track_ids.tolist() == [0]
    # the whole-frame track took one id: the next new track is 1
    frame, _ = draw_frame([(320, 240), (100, 200)])
    assert tracker.update(frame, [person_box((320, 240)), person_box((100, 200))]).track_ids.tolist() == [0, 1]


def test_min_keypoints_and_kpt_thr_are_the_tracker_options():
    frame, _ = draw_frame([(320, 240)], joints=[[5, 16]])
    tracker, _ = make_tracker(min_keypoints=2)
    tracker.update(frame)
    assert not tracker.needs_boxes
    tracker, _ = make_tracker(kpt_thr=1.0)  # no score is above 1
    tracker.update(draw_frame([(320, 240)])[0])
    assert tracker.needs_boxes


def test_tracked_boxes_are_clipped_to_the_frame_and_box_scores_carry_over():
    tracker, _ = make_tracker()
    # hands past the left edge and feet past the bottom; hands past the right edge and head near the top
    frame, _ = draw_frame([(40, 400), (612, 100)])
    result = tracker.update(frame, [[0, 280, 100, 480, 0.8], [540, 0, 640, 240, 0.6]])
    np.testing.assert_allclose(result.box_scores, [0.8, 0.6], rtol=1e-6)
    boxes = tracker.tracked_boxes
    assert boxes[0, 0] == 0 and boxes[0, 3] == FRAME_H and boxes[1, 1] == 0 and boxes[1, 2] == FRAME_W
    for box, keypoints, scores in zip(boxes, result.keypoints, result.scores):
        confident = keypoints[scores > 0.3]
        assert 3 <= len(confident) < K
        np.testing.assert_allclose(box, expected_next_box(confident), atol=1e-3)
    result = tracker.update(frame)
    np.testing.assert_allclose(result.box_scores, [0.8, 0.6], rtol=1e-6)
    np.testing.assert_allclose(result.boxes, boxes)


def test_enlarge_option_and_bad_frames():
    frame, truth = draw_frame([(320, 240)])
    tracker, _ = make_tracker(enlarge=2.0)
    result = tracker.update(frame, [person_box((320, 240))])
    np.testing.assert_allclose(tracker.tracked_boxes[0], expected_next_box(result.keypoints[0], 2.0), atol=1e-3)
    np.testing.assert_allclose(tracker.tracked_boxes[0], expected_next_box(truth[0], 2.0), atol=3.0)
    with pytest.raises(ValueError, match="frame must be a numpy array"):
        tracker.update("frame.jpg")


class FixedPeaks:
    """Every crop gets the same heatmaps: joint k peaks (value 1) at one heatmap pixel."""

    def __init__(self, xs, ys) -> None:
        self.heatmaps = np.zeros((1, K, HM_H, HM_W), np.float32)
        self.heatmaps[0, np.arange(K), ys, xs] = 1.0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.repeat(self.heatmaps, len(batch), axis=0)


@pytest.mark.parametrize("box,xs,ys", [
    # box 320 x 300 reaching 300 pixels left of the frame: heatmap x 2..6 is image x -323..-290
    ([-300, 100, 20, 400], 2 + np.arange(K) % 5, 10 + 2 * np.arange(K)),
    # box 200 x 320 reaching 300 pixels above the frame: heatmap y 2..6 is image y -327..-302
    ([100, -300, 300, 20], 10 + np.arange(K), 2 + np.arange(K) % 5),
])
def test_a_person_whose_keypoints_fall_outside_the_frame_is_lost(box, xs, ys):
    tracker = PoseTracker(PoseEstimator(FixedPeaks(xs, ys), spec=MODEL))
    result = tracker.update(np.zeros((FRAME_H, FRAME_W, 3), np.uint8), [box])
    assert (result.scores == 1).all() and ((result.keypoints < 0).all(axis=1)).any()
    assert tracker.needs_boxes  # the next box, clipped to the frame, would have no width or no height


def test_box_iou_by_hand():
    """The tracker's IoU (N x M, ``x1, y1, x2, y2`` pixels), values worked out by hand."""
    from lite_hrnet.pipeline import box_iou

    a = [[0, 0, 10, 10], [0, 0, 1, 0.5]]
    b = [[5, 5, 15, 15], [20, 0, 30, 10], [0, 20, 10, 30], [0, 0, 10, 20], [0, 0, 1, 0.5]]
    iou = box_iou(a, b)
    assert iou.shape == (2, 5) and iou.dtype == np.float64
    # 5 x 5 overlap of two 100-pixel boxes: 25 / 175; apart along x (or y) only: 0, not below 0 and not 1 / 190;
    # a box inside one twice its size: 100 / 200; a box of half a pixel with itself: 1 (a union under one pixel).
    np.testing.assert_array_equal(iou[0], [25 / 175, 0.0, 0.0, 0.5, 0.5 / 100])
    np.testing.assert_array_equal(iou[1], [0.0, 0.0, 0.0, 0.5 / 200, 1.0])
    # Degenerate boxes (no area, no union) give 0, not NaN or 1.
    flat = box_iou([[3, 3, 3, 3]], [[3, 3, 3, 3], [0, 0, 10, 10]])
    assert flat.dtype == np.float64
    np.testing.assert_array_equal(flat, [[0.0, 0.0]])
    # One box as a flat 4-vector.
    np.testing.assert_array_equal(box_iou([0, 0, 10, 10], [5, 5, 15, 15]), [[25 / 175]])


def test_smoothing_option_of_the_tracker():
    """None / False: raw keypoints; True: a default One-Euro filter; a filter of your own is used as given;
    anything else is refused with its type named."""
    from lite_hrnet.smoothing import OneEuroFilter

    assert make_tracker()[0].smoothing is None and make_tracker(smoothing=False)[0].smoothing is None
    default = make_tracker(smoothing=True)[0].smoothing
    assert type(default) is OneEuroFilter
    mine = OneEuroFilter(min_cutoff=0.5, beta=0.01)
    assert make_tracker(smoothing=mine)[0].smoothing is mine
    with pytest.raises(ValueError, match="smoothing must be None, True or a OneEuroFilter, got str"):
        make_tracker(smoothing="strong")


def test_smoothing_takes_frame_times_of_one_thirtieth_of_a_second_by_default():
    """Without time stamps frame i is at i / 30 s (DEFAULT_FRAME_RATE): the same smoothed keypoints as with
    those stamps given, and not the same as with frames 0.1 s apart (the filter depends on the time step)."""
    from lite_hrnet.smoothing import OneEuroFilter

    centers = [(200.0 + 9 * i, 230.0 + 4 * i) for i in range(5)]
    runs = {}
    for name, stamps in (("default", None), ("thirtieth", [i / 30 for i in range(5)]), ("tenth", [i / 10 for i in range(5)])):
        tracker, _ = make_tracker(smoothing=OneEuroFilter(min_cutoff=0.5, beta=0.0))
        runs[name] = []
        for i, center in enumerate(centers):
            frame, _ = draw_frame([center])
            result = tracker.update(frame, timestamp=None if stamps is None else stamps[i])
            assert len(result) == 1
            runs[name].append(result.keypoints.copy())
    for default, given in zip(runs["default"], runs["thirtieth"]):
        np.testing.assert_array_equal(default, given)
    assert max(np.abs(a - b).max() for a, b in zip(runs["default"], runs["tenth"])) > 0.5

"""Golden values for the Java library's JUnit tests, computed by the Python implementation.

Writes java/src/test/resources/golden/{geometry,decode,one_euro,tracker}.json (small, committed):

- geometry.json: ``lite_hrnet.geometry`` (box to center/scale, crop matrix, heatmap to image, keypoints to
  boxes) and ``lite_hrnet.pipeline`` (box IoU, check_boxes) on seeded random inputs and edge cases.
- decode.json: ``lite_hrnet.codec.decode_heatmaps`` (arg-max + mmpose 1.x quarter-pixel shift) on random heatmaps
  with peaks placed on the borders, corners, next to them, ties and all-negative maps.
- one_euro.json: ``lite_hrnet.smoothing.OneEuroFilter`` on a keypoint sequence with a variable frame rate and
  tracks that come and go, for two parameter sets.
- tracker.json: ``lite_hrnet.pipeline.PoseTracker`` on a recorded keypoint sequence (persons walking, one lost,
  one appearing, detector boxes on some frames, a frame with no boxes), with a stand-in estimator that returns the
  recorded person found in each box (the Java test implements the same stand-in), without and with its
  One-Euro smoothing (``PoseTracker(smoothing=OneEuroFilter())``).

Run from the repository root: ``.venv/bin/python java/tools/make_golden.py [--out DIR]``. Floats are written as the
exact values of the float32 numbers used, so Java reads back the same bits.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lite_hrnet import geometry  # noqa: E402
from lite_hrnet.codec import decode_heatmaps  # noqa: E402
from lite_hrnet.pipeline import PoseResult, PoseTracker, check_boxes  # noqa: E402
from lite_hrnet.smoothing import OneEuroFilter  # noqa: E402

try:
    from lite_hrnet.pipeline import box_iou  # noqa: E402
except ImportError:  # moved with the refactor
    from lite_hrnet.geometry import box_iou  # type: ignore  # noqa: E402

OUT = ROOT / "java" / "src" / "test" / "resources" / "golden"


def floats(a) -> list:
    """Nested lists of Python floats (exact float32 values when ``a`` is float32)."""
    return np.asarray(a).tolist()


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


# ---------------------------------------------------------------------------- geometry


def geometry_cases(rng: np.random.Generator) -> dict:
    xy = rng.uniform(-50, 400, (24, 2))
    wh = rng.uniform(1, 300, (24, 2))
    boxes = f32(np.concatenate([xy, xy + wh], axis=1))
    boxes[0] = [10, 20, 10 + 75, 20 + 100]  # exactly the 0.75 aspect ratio
    boxes[1] = [0, 0, 300, 10]  # very wide
    boxes[2] = [5, 5, 6, 400]  # very tall
    center_scale = []
    for aspect, padding in ((0.75, 1.25), (1.0, 1.25), (96 / 128, 1.0)):
        centers, scales = geometry.box_to_center_scale(boxes, aspect, padding)
        center_scale.append({"aspect_ratio": aspect, "padding": padding, "centers": floats(centers),
                             "scales": floats(scales)})
    centers, scales = geometry.box_to_center_scale(boxes, 0.75, 1.25)
    matrices = [floats(geometry.crop_matrix(c, s, (128, 96))) for c, s in zip(centers, scales)]

    coords = f32(rng.uniform(-2, 34, (24, 17, 2)))
    image_points = geometry.heatmap_to_image(coords, centers, scales, (32, 24))

    kp = f32(rng.uniform(0, 320, (8, 17, 2)))
    sc = f32(rng.uniform(0, 1, (8, 17)))
    sc[1, :] = 0.1  # nobody confident
    sc[2, :] = 0.1
    sc[2, :2] = 0.9  # two confident keypoints: fewer than 3
    kp[3, :] = kp[3, 0]  # all on one point: the minimum size
    sc[3, :] = 0.95
    sc[4, :] = np.float32(0.3)  # exactly the threshold: not above it
    kp_boxes, ok = geometry.keypoints_to_boxes(kp, sc, 0.3, 3, 1.25, 8.0)

    a = f32(np.concatenate([rng.uniform(0, 200, (6, 2)), rng.uniform(0, 200, (6, 2)) + 201], axis=1))
    b = f32(np.concatenate([rng.uniform(0, 200, (5, 2)), rng.uniform(0, 200, (5, 2)) + 201], axis=1))
    b[0] = a[0]  # identical: IoU 1
    b[1] = [1000, 1000, 1010, 1010]  # disjoint: IoU 0
    iou = box_iou(a, b)

    check_input = [[-50, -50, -1, -1, 0.9], [10, 10, 50, 50, 0.8], [300, 10, 400, 50, 0.7], [-10, -10, 5, 5, 1.0],
                   [319.5, 0, 330, 10, 0.6], [0, 240, 10, 250, 0.5]]
    kept, kept_scores, indices = check_boxes(np.array(check_input), (240, 320))
    return {
        "boxes": floats(boxes), "center_scale": center_scale,
        "crop_matrix": {"output_size": [128, 96], "matrices": matrices},
        "heatmap_to_image": {"heatmap_size": [32, 24], "coords": floats(coords), "centers": floats(centers),
                             "scales": floats(scales), "expected": floats(image_points)},
        "keypoints_to_boxes": {"thr": 0.3, "min_keypoints": 3, "enlarge": 1.25, "min_size": 8.0,
                               "keypoints": floats(kp), "scores": floats(sc), "boxes": floats(kp_boxes),
                               "ok": ok.tolist()},
        "box_iou": {"a": floats(a), "b": floats(b), "expected": floats(iou)},
        "check_boxes": {"image_size": [240, 320], "boxes": check_input, "kept": floats(kept),
                        "kept_scores": floats(kept_scores), "indices": indices.tolist()},
    }


# ---------------------------------------------------------------------------- decoding


def decode_cases(rng: np.random.Generator) -> dict:
    n, k, h, w = 3, 8, 16, 12
    heatmaps = f32(rng.normal(0, 0.1, (n, k, h, w)))
    peaks = [(0, 0), (w - 1, h - 1), (1, 5), (5, 0), (0, 7), (w - 2, h - 2), (6, 8), (2, 2), (w - 1, 0), (3, h - 1),
             (10, 1), (1, 14)]
    for i, (x, y) in enumerate(peaks):
        heatmaps[i // k, i % k, y, x] = 2.0
    heatmaps[1, 5] = -np.abs(heatmaps[1, 5]) - 0.5  # all negative
    heatmaps[1, 6] = 0.0
    heatmaps[1, 6, 4, 4] = heatmaps[1, 6, 9, 9] = 1.0  # a tie: the first in row-major order wins
    heatmaps[1, 7] = 0.5  # flat: arg-max 0, no shift (equal neighbours)
    heatmaps[2, 4, 6, 6] = 3.0
    heatmaps[2, 4, 6, 5] = heatmaps[2, 4, 6, 7] = 1.0  # equal horizontal neighbours: no x shift
    coords, scores = decode_heatmaps(heatmaps)
    return {"shape": [n, k, h, w], "heatmaps": floats(heatmaps.reshape(-1)), "coords": floats(coords),
            "scores": floats(scores)}


# ---------------------------------------------------------------------------- One-Euro


def one_euro_cases(rng: np.random.Generator) -> dict:
    frames, k = 30, 4
    times = np.round(np.cumsum(rng.uniform(0.02, 0.07, frames)), 6)
    paths = {
        10: np.cumsum(rng.normal(0, 3, (frames, k, 2)), axis=0) + 100,
        11: np.cumsum(rng.normal(2, 8, (frames, k, 2)), axis=0) + 50,  # fast
        12: 200 + rng.normal(0, 1.5, (frames, k, 2)),  # still, jittery
    }
    present = {10: range(frames), 11: [i for i in range(frames) if not 10 <= i < 14], 12: range(5, 25)}
    sequence = []
    for i in range(frames):
        ids = [t for t in (12, 10, 11) if i in present[t]]
        sequence.append({"timestamp": float(times[i]), "track_ids": ids,
                         "keypoints": [floats(f32(paths[t][i]).reshape(-1)) for t in ids]})
    cases = []
    for params in ({"min_cutoff": 1.0, "beta": 0.05, "d_cutoff": 1.0}, {"min_cutoff": 0.3, "beta": 0.5, "d_cutoff": 2.0}):
        f = OneEuroFilter(**params)
        outputs = []
        for frame in sequence:
            points = f32([np.reshape(p, (k, 2)) for p in frame["keypoints"]]).reshape(-1, k, 2)
            out = f(points, frame["track_ids"], frame["timestamp"])
            outputs.append([floats(o.reshape(-1)) for o in out])
        cases.append({"params": params, "expected": outputs})
    return {"joints": k, "sequence": sequence, "cases": cases}


# ---------------------------------------------------------------------------- tracker

# A standing person, 17 COCO joints, in a 60 x 120 pixel frame (x, y).
TEMPLATE = np.array([
    [30, 10], [33, 7], [27, 7], [37, 9], [23, 9], [42, 28], [18, 28], [48, 50], [12, 50], [50, 70], [10, 70],
    [38, 72], [22, 72], [39, 95], [21, 95], [40, 118], [20, 118]], dtype=np.float64)


class RecordedEstimator:
    """Stand-in estimator: for each box, the recorded person with the most keypoints inside it.

    Ties go to the lowest person index; a box with no recorded keypoint inside gives keypoints at the box center
    with scores 0. The Java test implements the same rule.
    """

    num_joints = 17

    def __init__(self) -> None:
        self.persons: list = []  # this frame's recorded (keypoints K x 2 float32, scores K float32)

    def predict(self, image: np.ndarray, boxes=None) -> PoseResult:
        kept, box_scores, indices = check_boxes(boxes, image.shape[:2])
        keypoints = np.zeros((len(kept), 17, 2), np.float32)
        scores = np.zeros((len(kept), 17), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(kept):
            best, best_count = -1, 0
            for p, (kp, _) in enumerate(self.persons):
                inside = int(((kp[:, 0] >= x1) & (kp[:, 0] <= x2) & (kp[:, 1] >= y1) & (kp[:, 1] <= y2)).sum())
                if inside > best_count:
                    best, best_count = p, inside
            if best < 0:
                keypoints[i] = [(x1 + x2) * np.float32(0.5), (y1 + y2) * np.float32(0.5)]
            else:
                keypoints[i], scores[i] = self.persons[best]
        return PoseResult(keypoints=keypoints, scores=scores, boxes=kept, box_scores=box_scores, box_indices=indices)


def tracker_case(rng: np.random.Generator) -> dict:
    width, height, frames = 320, 240, 26
    times = np.round(np.cumsum(rng.uniform(0.025, 0.05, frames)), 6)

    def person(offset, jitter, score=0.9):
        kp = f32(TEMPLATE + offset + rng.normal(0, jitter, TEMPLATE.shape))
        sc = f32(np.full(17, score) - rng.uniform(0, 0.1, 17))
        sc[rng.integers(0, 17, 2)] = 0.05  # a couple of unsure joints
        return kp, sc

    recorded = []
    for i in range(frames):
        persons = [person((10 + 11 * i, 60 + 2 * i), 1.5)]  # walks right and leaves the image at the end
        b_score = 0.9 if i < 12 else 0.15  # lost from frame 12
        persons.append(person((230, -4), 1.0, b_score))  # its box reaches above the image: clipped
        if i >= 8:
            persons.append(person((150 - 9 * (i - 8), 110), 2.0))  # appears at frame 8, leaves on the left
        recorded.append(persons)

    def box_of(kp, pad=6.0, score=1.0):
        return [float(kp[:, 0].min() - pad), float(kp[:, 1].min() - pad), float(kp[:, 0].max() + pad),
                float(kp[:, 1].max() + pad), score]

    given = {
        3: lambda ps: [box_of(ps[1][0], score=0.8)],  # no overlap with the tracked person: a new id, that one dropped
        5: lambda ps: [box_of(ps[0][0], score=0.95), box_of(ps[1][0], 45.0, 0.8)],  # IoU below iou_thr: new ids
        # a box outside the image; two boxes on one person: the closer one (listed second) keeps the id
        8: lambda ps: [box_of(ps[2][0], 4.0, 0.7), [400.0, 10.0, 450.0, 60.0, 0.9], box_of(ps[0][0], 20.0, 0.9),
                       box_of(ps[0][0], 8.0, 0.99), box_of(ps[1][0], 2.0, 0.6)],
        16: lambda ps: [],
        20: lambda ps: [box_of(ps[2][0], 5.0, 0.65), box_of(ps[0][0], 5.0, 0.85)],
    }
    estimator = RecordedEstimator()
    tracker = PoseTracker(estimator, kpt_thr=0.3, min_keypoints=3, enlarge=1.25, iou_thr=0.3)
    smoother = OneEuroFilter()
    smoothed_tracker = PoseTracker(estimator, kpt_thr=0.3, min_keypoints=3, enlarge=1.25, iou_thr=0.3,
                                   smoothing=smoother)
    frame = np.zeros((height, width, 3), np.uint8)
    out_frames = []
    for i in range(frames):
        estimator.persons = recorded[i]
        boxes = given[i](recorded[i]) if i in given else None
        result = tracker.update(frame, boxes, timestamp=float(times[i]))
        smoothed = smoothed_tracker.update(frame, boxes, timestamp=float(times[i]))
        # the next boxes come from the raw keypoints: both trackers follow the same persons
        assert smoothed.track_ids.tolist() == result.track_ids.tolist()
        np.testing.assert_array_equal(smoothed_tracker.tracked_boxes, tracker.tracked_boxes)
        smoothed = smoothed.keypoints
        scored_boxes = np.concatenate([result.boxes, result.box_scores[:, None]], axis=1)
        out_frames.append({
            "timestamp": float(times[i]),
            "persons": [{"keypoints": floats(kp.reshape(-1)), "scores": floats(sc)} for kp, sc in recorded[i]],
            "boxes": boxes,
            "expected": {
                "track_ids": result.track_ids.tolist(), "box_indices": result.box_indices.tolist(),
                "boxes": floats(scored_boxes), "keypoints": floats(result.keypoints.reshape(len(result), 34)),
                "smoothed": floats(smoothed.reshape(len(result), 34)), "scores": floats(result.scores),
                "tracked_boxes": floats(tracker.tracked_boxes), "needs_boxes": bool(tracker.needs_boxes),
            },
        })
    return {"image_size": [height, width], "options": {"kpt_thr": 0.3, "min_keypoints": 3, "enlarge": 1.25,
                                                      "iou_thr": 0.3},
            "smoothing": {"min_cutoff": smoother.min_cutoff, "beta": smoother.beta, "d_cutoff": smoother.d_cutoff},
            "frames": out_frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write to (default {OUT.relative_to(ROOT)})")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20260501)
    files = {
        "geometry.json": geometry_cases(rng),
        "decode.json": decode_cases(rng),
        "one_euro.json": one_euro_cases(rng),
        "tracker.json": tracker_case(rng),
    }
    for name, data in files.items():
        (out / name).write_text(json.dumps(data, separators=(",", ":")) + "\n")
        print(f"wrote {out / name} ({(out / name).stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()

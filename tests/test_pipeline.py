"""The top-down pipeline: geometry (COCO keypoint AP with ideal heatmaps), inputs, boxes, tracking,
flip test, outputs, and the same result from every runtime."""

from __future__ import annotations

import json
from typing import Dict, List, Tuple

import cv2
import numpy as np
import pytest

from conftest import COCO_SAMPLE
from lite_hrnet.pipeline import (
    PoseEstimator, PoseResult, PoseTracker, draw_poses, to_coco_results,
)
from lite_hrnet.specs import COCO_JOINTS, get_model_spec

MODEL = "naive_litehrnet_18_coco_256x192"
SPEC = get_model_spec(MODEL)
HM_H, HM_W = SPEC.heatmap_size


# ---------------------------------------------------------------------------- helpers


def reference_center_scale(box_xyxy, aspect: float = 192 / 256, padding: float = 1.25):
    """mmpose 0.x ``_box2cs`` written out independently (scale in pixels, not / 200)."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    w, h = x2 - x1, y2 - y1
    center = np.array([x1 + 0.5 * w, y1 + 0.5 * h])
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return center, np.array([w, h]) * padding


def gaussian_heatmap(x: float, y: float, sigma: float = 2.0) -> np.ndarray:
    yy, xx = np.mgrid[0:HM_H, 0:HM_W].astype(np.float64)
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)).astype(np.float32)


class GroundTruthNetwork:
    """A backend callable that 'sees' the ground truth: Gaussian heatmaps at each person's joints.

    ``expect(joints, boxes)`` sets the next call's persons (N x K x 3 COCO keypoints, N x 4 boxes);
    joints go into heatmap space with the reference center/scale above. A call with 2N crops is a
    flip test: the second half must be the mirrored first half, and gets mirrored heatmaps with
    left/right swapped, as an ideal network trained with mmpose's geometry would give (input pixel x
    at heatmap x / 4, so the mirrored peak is at (W_in - 1) / 4 - x: the flipped-back heatmap is a
    quarter pixel off, which the one-pixel ``shift_heatmap`` turns into a quarter pixel the other way).
    """

    def __init__(self) -> None:
        self.calls: List[int] = []
        self.joints = np.zeros((0, 17, 3))
        self.boxes = np.zeros((0, 4))

    def expect(self, joints: np.ndarray, boxes: np.ndarray) -> None:
        self.joints, self.boxes = np.asarray(joints, float), np.asarray(boxes, float)

    def heatmaps(self, mirrored: bool) -> np.ndarray:
        out = np.zeros((len(self.boxes), 17, HM_H, HM_W), np.float32)
        swap = dict(COCO_JOINTS.flip_pairs + tuple((b, a) for a, b in COCO_JOINTS.flip_pairs))
        for n, (box, joints) in enumerate(zip(self.boxes, self.joints)):
            center, scale = reference_center_scale(box)
            for k, (x, y, v) in enumerate(joints):
                if v <= 0:
                    continue
                hx = (x - center[0] + scale[0] / 2) * HM_W / scale[0]
                hy = (y - center[1] + scale[1] / 2) * HM_H / scale[1]
                if mirrored:  # input x -> W_in - 1 - x, and heatmap x = input x / 4
                    out[n, swap.get(k, k)] = gaussian_heatmap((4 * HM_W - 1) / 4 - hx, hy)
                else:
                    out[n, k] = gaussian_heatmap(hx, hy)
        return out

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        n = len(self.boxes)
        self.calls.append(batch.shape[0])
        if batch.shape[0] == 2 * n and n:
            np.testing.assert_array_equal(batch[n:], batch[:n, :, :, ::-1])
            return np.concatenate([self.heatmaps(False), self.heatmaps(True)])
        assert batch.shape[0] == n
        return self.heatmaps(False)


def xywh_to_xyxy(b) -> List[float]:
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]


# ---------------------------------------------------------------------------- geometry on real COCO images


@pytest.mark.parametrize("flip_test,dark", [(False, False), (False, True), (True, False)])
def test_ideal_heatmaps_give_near_perfect_coco_keypoint_ap(coco_sample, flip_test, dark):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(coco_sample / "test_coco.json"))
    net = GroundTruthNetwork()
    estimator = PoseEstimator(net, spec=MODEL, flip_test=flip_test, dark=dark)
    results, expected_calls = [], []
    skipped = 0
    for image_id in gt.getImgIds():
        info = gt.loadImgs(image_id)[0]
        image = cv2.imread(str(coco_sample / info["file_name"]))
        anns = gt.loadAnns(gt.getAnnIds(imgIds=image_id, iscrowd=False))
        # COCO keypoint eval ignores annotations without keypoints; so do the boxes we feed
        skipped += sum(a["num_keypoints"] == 0 for a in anns)
        anns = [a for a in anns if a["num_keypoints"] > 0]
        boxes = np.array([xywh_to_xyxy(a["bbox"]) for a in anns])
        net.expect(np.array([a["keypoints"] for a in anns]).reshape(-1, 17, 3), boxes)
        result = estimator.predict(image, boxes)
        expected_calls.append(2 * len(anns) if flip_test else len(anns))  # all persons in one batch
        assert len(result) == len(anns)
        results += to_coco_results(result, image_id)
    assert skipped == 2 and len(results) == 12
    assert net.calls == expected_calls
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] > 0.95, ev.stats  # AP at OKS .50:.95
    assert ev.stats[1] == pytest.approx(1.0)  # AP at OKS .50


def test_keypoints_map_back_to_the_exact_image_location():
    """Peaks at known heatmap pixels come back at ``x_hm * s / W_hm + c - s / 2`` (mmpose transform_preds)."""
    box = [100.0, 50.0, 220.0, 410.0]
    center, scale = reference_center_scale(box)

    def peaks(batch):
        out = np.zeros((batch.shape[0], 17, HM_H, HM_W), np.float32)
        for k in range(17):
            out[:, k, 5 + 3 * k, 2 + 2 * k] = 1.0  # isolated peaks: no quarter-pixel shift
        return out

    result = PoseEstimator(peaks, spec=MODEL).predict(np.zeros((480, 640, 3), np.uint8), [box])
    expected = np.array([[2 + 2 * k, 5 + 3 * k] for k in range(17)]) * scale / [HM_W, HM_H] + center - scale / 2
    np.testing.assert_allclose(result.keypoints[0], expected, atol=1e-3)
    np.testing.assert_allclose(result.scores, 1.0)


def test_crop_geometry_color_order_and_normalization():
    image = np.zeros((400, 600, 3), np.uint8)
    image[:, :] = (255, 0, 0)  # pure blue (BGR)
    image[200:203, 300:303] = (255, 255, 255)  # a white 3x3 square centred on (301, 201)
    box = [250.0, 100.0, 350.0, 300.0]
    est = PoseEstimator(lambda b: np.zeros((b.shape[0], 17, HM_H, HM_W), np.float32), spec=MODEL)
    centers, scales = est.centers_scales(np.array([box]))
    center, scale = reference_center_scale(box)
    np.testing.assert_allclose(centers[0], center, rtol=1e-6)
    np.testing.assert_allclose(scales[0], scale, rtol=1e-6)
    crop = est.preprocess(image, centers, scales)[0]  # 3 x 256 x 192
    assert crop.shape == (3, 256, 192) and crop.dtype == np.float32
    mean, std = np.array(SPEC.mean), np.array(SPEC.std)
    # RGB order: blue is the last channel
    np.testing.assert_allclose(crop[:, 10, 10], (np.array([0, 0, 255]) - mean) / std, rtol=1e-5)
    white = crop[0] > (200 - mean[0]) / std[0]
    ys, xs = np.nonzero(white)
    expected = (np.array([301.0, 201.0]) - center + scale / 2) * np.array([192, 256]) / scale
    assert abs(xs.mean() - expected[0]) < 0.5 and abs(ys.mean() - expected[1]) < 0.5
    # outside the image the warp pads with black
    corner = est.preprocess(image, np.array([[0.0, 0.0]], np.float32), scales)[0]
    np.testing.assert_allclose(corner[:, 0, 0], (0 - mean) / std, rtol=1e-5)


# ---------------------------------------------------------------------------- inputs and boxes


def brightness_network(batch: np.ndarray) -> np.ndarray:
    """Heatmaps = the crop's brightness at heatmap resolution, smoothed (one peak per blob), for every joint."""
    gray = batch.mean(axis=1)
    small = gray.reshape(gray.shape[0], HM_H, 4, HM_W, 4).mean(axis=(2, 4))
    small = np.stack([cv2.GaussianBlur(m, (9, 9), 2.0) for m in small.astype(np.float32)])
    return np.repeat(small[:, None], 17, axis=1).astype(np.float32)


@pytest.fixture()
def spot_image() -> np.ndarray:
    gray = np.zeros((300, 400), np.uint8)
    cv2.circle(gray, (210, 140), 6, 255, -1)
    return gray


def test_grayscale_and_bgra_images_are_converted(spot_image):
    est = PoseEstimator(brightness_network, spec=MODEL)
    bgr = cv2.cvtColor(spot_image, cv2.COLOR_GRAY2BGR)
    ref = est.predict(bgr)
    assert np.abs(ref.keypoints[0, 0] - [210, 140]).max() < 5  # whole image: 1 heatmap pixel is 10.4 px
    for image in (spot_image, spot_image[..., None], cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)):
        out = est.predict(image)
        np.testing.assert_allclose(out.keypoints, ref.keypoints)
        np.testing.assert_allclose(out.scores, ref.scores)


def test_whole_image_is_one_box_and_all_persons_share_one_batch(spot_image):
    calls = []

    def net(batch):
        calls.append(batch.shape[0])
        return brightness_network(batch)

    est = PoseEstimator(net, spec=MODEL)
    result = est.predict(spot_image)
    np.testing.assert_array_equal(result.boxes, [[0, 0, 400, 300]])
    assert result.box_scores.tolist() == [1.0] and result.box_indices.tolist() == [0]
    boxes = np.array([[150, 80, 260, 200, 0.9], [0, 0, 100, 100, 0.5], [300, 200, 420, 330, 0.7]])
    result = est.predict(spot_image, boxes)
    assert calls == [1, 3]
    assert result.keypoints.shape == (3, 17, 2) and result.scores.shape == (3, 17)
    np.testing.assert_allclose(result.box_scores, [0.9, 0.5, 0.7])
    assert np.abs(result.keypoints[0, 0] - [210, 140]).max() < 3
    est_flip = PoseEstimator(net, spec=MODEL, flip_test=True)
    est_flip.predict(spot_image, boxes)
    assert calls[-1] == 6  # the mirrored crops ride in the same batch


def test_bad_images_name_the_argument():
    est = PoseEstimator(brightness_network, spec=MODEL)
    with pytest.raises(ValueError, match="image is empty"):
        est.predict(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="image must be uint8.*float32"):
        est.predict(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="image must be a numpy array"):
        est.predict("picture.jpg")
    with pytest.raises(ValueError, match=r"image must be H x W x 3.*\(10, 10, 2\)"):
        est.predict(np.zeros((10, 10, 2), np.uint8))


def test_bad_and_outside_boxes(spot_image):
    est = PoseEstimator(brightness_network, spec=MODEL)
    with pytest.raises(ValueError, match=r"boxes\[1\] has NaN"):
        est.predict(spot_image, [[0, 0, 10, 10], [0, np.nan, 5, 5]])
    with pytest.raises(ValueError, match=r"boxes\[0\] = \[5.0, 5.0, 5.0, 20.0\] has zero or negative area"):
        est.predict(spot_image, [[5, 5, 5, 20]])
    with pytest.raises(ValueError, match=r"boxes must be N x 4"):
        est.predict(spot_image, [[1, 2, 3]])
    with pytest.raises(ValueError, match=r"boxes must be N x 4.*not a regular array"):
        est.predict(spot_image, [[1, 2, 3, 4], [1, 2]])
    # partly outside: used as is (the warp pads); entirely outside: skipped, indices say which remain
    result = est.predict(spot_image, [[-50, -50, 500, 400], [500, 10, 600, 90], [180, 110, 240, 170], [-80, -80, -1, -1]])
    assert result.box_indices.tolist() == [0, 2] and len(result) == 2
    assert np.abs(result.keypoints[1, 0] - [210, 140]).max() < 2
    empty = est.predict(spot_image, np.zeros((0, 4)))
    assert len(empty) == 0 and empty.keypoints.shape == (0, 17, 2)
    one = est.predict(spot_image, [180, 110, 240, 170])  # a single box as a 4-vector
    assert len(one) == 1


# ---------------------------------------------------------------------------- tracking


# A stick figure: 17 joint offsets (pixels) from the figure's center.
FIGURE = np.array([
    [0, -70], [-6, -76], [6, -76], [-14, -72], [14, -72], [-24, -46], [24, -46], [-34, -16], [34, -16],
    [-40, 12], [40, 12], [-16, 12], [16, 12], [-18, 46], [18, 46], [-20, 80], [20, 80],
], np.float32)


def draw_figure(center: Tuple[float, float], size=(480, 640)) -> Tuple[np.ndarray, np.ndarray]:
    """A black frame with joint k drawn as a disc of color (B, G, R) = (20 + 10 k, 0, 220)."""
    frame = np.zeros((*size, 3), np.uint8)
    joints = FIGURE + np.asarray(center, np.float32)
    for k, (x, y) in enumerate(joints):
        cv2.circle(frame, (int(round(x)), int(round(y))), 4, (20 + 10 * k, 0, 220), -1)
    return frame, joints


def color_network(batch: np.ndarray) -> np.ndarray:
    """Finds joint k as the disc of its color: heatmap = blurred color mask, peak 1 where found."""
    rgb = batch.transpose(0, 2, 3, 1) * np.array(SPEC.std) + np.array(SPEC.mean)
    out = np.zeros((batch.shape[0], 17, HM_H, HM_W), np.float32)
    for n in range(batch.shape[0]):
        for k in range(17):
            mask = ((np.abs(rgb[n, ..., 2] - (20 + 10 * k)) < 3) & (rgb[n, ..., 0] > 180)).astype(np.float32)
            small = cv2.GaussianBlur(mask.reshape(HM_H, 4, HM_W, 4).mean(axis=(1, 3)), (7, 7), 1.5)
            if small.max() > 0:
                out[n, k] = small / small.max()
    return out


def test_tracker_follows_a_moving_person_from_one_box():
    tracker = PoseTracker(PoseEstimator(color_network, spec=MODEL), kpt_thr=0.5)
    assert tracker.needs_boxes
    for t in range(8):
        frame, joints = draw_figure((200 + 8 * t, 200 + 3 * t))
        boxes = [[150, 110, 250, 300]] if t == 0 else None
        result = tracker.update(frame, boxes)
        assert result.track_ids.tolist() == [0]
        assert np.abs(result.keypoints[0] - joints).max() < 3.0, t
        assert not tracker.needs_boxes
        tracked = tracker.tracked_boxes[0]
        # the next box surrounds the keypoints, enlarged
        assert tracked[0] < joints[:, 0].min() and tracked[2] > joints[:, 0].max()
        assert tracked[1] < joints[:, 1].min() and tracked[3] > joints[:, 1].max()
    # the person leaves: tracking is lost, a detector is needed
    result = tracker.update(np.zeros((480, 640, 3), np.uint8))
    assert len(result) == 1 and result.scores.max() == 0 and tracker.needs_boxes
    # a detector box: a new track; another box overlapping it next frame keeps the id
    frame, joints = draw_figure((400, 220))
    assert tracker.update(frame, [[340, 130, 460, 320]]).track_ids.tolist() == [1]
    frame, joints = draw_figure((404, 222))
    result = tracker.update(frame, [[345, 132, 465, 322], [10, 10, 100, 200]])
    assert result.track_ids.tolist() == [1, 2]
    assert np.abs(result.keypoints[0] - joints).max() < 3.0
    # with nobody tracked and no boxes, the whole frame is the box
    tracker.reset()
    frame, _ = draw_figure((300, 240))
    result = tracker.update(frame)
    np.testing.assert_array_equal(result.boxes, [[0, 0, 640, 480]])


# ---------------------------------------------------------------------------- outputs


def test_coco_results_follow_mmpose_scoring():
    result = PoseResult(
        keypoints=np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2),
        scores=np.array([[0.9, 0.1, 0.5], [0.1, 0.15, 0.19]], np.float32),
        boxes=np.zeros((2, 4), np.float32), box_scores=np.array([0.5, 1.0], np.float32),
        box_indices=np.arange(2),
    )
    out = to_coco_results(result, image_id=785)
    assert [r["image_id"] for r in out] == [785, 785] and {r["category_id"] for r in out} == {1}
    assert out[0]["keypoints"] == pytest.approx([0, 1, 0.9, 2, 3, 0.1, 4, 5, 0.5], abs=1e-4)
    assert out[0]["score"] == pytest.approx((0.9 + 0.5) / 2 * 0.5)
    assert out[1]["score"] == 0.0  # no keypoint above 0.2
    json.dumps(out)  # plain JSON types


def test_draw_poses_marks_confident_keypoints_and_limbs():
    image = np.full((120, 160, 3), 40, np.uint8)
    result = PoseResult(
        keypoints=np.array([[[30, 30], [90, 30], [60, 100]]], np.float32),
        scores=np.array([[0.9, 0.9, 0.1]], np.float32),
        boxes=np.array([[10, 10, 150, 110]], np.float32), box_scores=np.ones(1, np.float32),
        box_indices=np.zeros(1, np.int64),
    )
    drawn = draw_poses(image, result, skeleton=[(0, 1), (1, 2)], kpt_thr=0.3)
    assert (image == 40).all()  # drawn on a copy
    assert tuple(drawn[30, 30]) == (0, 255, 0) and tuple(drawn[30, 90]) == (0, 255, 0)
    assert (drawn[30, 50:70] != 40).any(axis=1).all()  # the limb between the two confident joints
    assert (drawn[95:105, 55:65] == 40).all()  # the low-score joint and its limb are not drawn
    gray = draw_poses(image[..., 0], result, None)
    assert gray.shape == (120, 160, 3)


# ---------------------------------------------------------------------------- every runtime, one result


def _persons_image() -> Tuple[np.ndarray, np.ndarray]:
    if (COCO_SAMPLE / "test_coco.json").is_file():
        data = json.loads((COCO_SAMPLE / "test_coco.json").read_text())
        anns = [a for a in data["annotations"] if a["image_id"] == 197388]
        return cv2.imread(str(COCO_SAMPLE / "000000197388.jpg")), np.array([xywh_to_xyxy(a["bbox"]) for a in anns])
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 255, (360, 480, 3), dtype=np.uint8), (9, 9), 3)
    return image, np.array([[20, 30, 140, 330], [200, 40, 300, 300], [320, 100, 470, 350]], float)


def _same_poses(models: Dict[str, object], seeded_pth=None) -> None:
    """Run the flip-test pipeline with each backend on one image and compare with the torch result."""
    import torch

    image, boxes = _persons_image()
    outputs = {}
    for name, model in models.items():
        est = PoseEstimator(model, spec=MODEL if isinstance(model, torch.nn.Module) else None, threads=2,
                            precision="fp32" if name in ("openvino", "torch") else None, flip_test=True)
        outputs[name] = est.predict(image, boxes, return_heatmaps=True)
    ref = outputs["torch"]
    if seeded_pth is not None:  # the torch backend really runs the seeded network
        from model_files import seeded_model

        est = PoseEstimator(seeded_pth)
        crops = est.preprocess(image, *est.centers_scales(boxes))
        with torch.no_grad():
            raw = seeded_model()(torch.from_numpy(crops)).numpy()
        np.testing.assert_allclose(est.backend(crops), raw, rtol=0, atol=1e-5 * np.abs(raw).max())
    peak = float(np.abs(ref.heatmaps).max())
    assert ref.heatmaps.std() > 1e-2 * peak  # a network with non-trivial output
    for name, out in outputs.items():
        # random-weight networks amplify rounding (~20x); relative to the heatmaps' range this is still tight
        err = np.abs(out.heatmaps - ref.heatmaps).max() / peak
        assert err < 2e-4, (name, err)
        np.testing.assert_allclose(out.scores, ref.scores, rtol=0, atol=2e-4 * peak, err_msg=name)
        moved = np.linalg.norm(out.keypoints - ref.keypoints, axis=-1)
        # a keypoint could only jump where two heatmap values tie within rounding; fp32 keeps them within 0.05 px
        assert moved.max() < 0.05, (name, moved.max())


def test_same_poses_from_torch_onnx_and_openvino(tmp_path_factory):
    pytest.importorskip("torch")
    from model_files import litehrnet_files

    files = litehrnet_files(str(tmp_path_factory.getbasetemp()))
    _same_poses({"torch": files["pth"], "onnx": files["onnx"], "openvino": files["xml"]}, seeded_pth=files["pth"])


def test_same_poses_from_every_runtime_tiny_network(tmp_path_factory):
    """The tiny network converts to TFLite in seconds: all four runtimes, one result."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx2tf")
    from model_files import tiny_files, tiny_model

    files = tiny_files(str(tmp_path_factory.getbasetemp()))
    _same_poses({"torch": tiny_model(), "onnx": files["onnx"], "openvino": files["xml"], "tflite": files["tflite"]})


@pytest.mark.slow
def test_same_poses_from_every_runtime_litehrnet_tflite(naive_export):
    """The seeded Lite-HRNet-18 in all four runtimes, the files from the session export fixture."""
    artifacts, _, model = naive_export
    files = {a.format: a.path for a in artifacts}
    _same_poses({"torch": model, "onnx": files["onnx"], "openvino": files["openvino"], "tflite": files["tflite"]})


def test_person_score_is_box_score_times_mean_of_confident_keypoints():
    from lite_hrnet.pipeline import person_score

    assert person_score(np.array([0.1, 0.5, 0.9]), 0.8) == pytest.approx(0.8 * 0.7)
    assert person_score(np.array([0.1, 0.5, 0.9]), 1.0, kpt_score_thr=0.6) == pytest.approx(0.9)
    assert person_score(np.array([0.1, 0.2]), 0.9) == 0.0  # no keypoint above the threshold


def test_end_to_end_backend_gets_rgb_crops_and_its_crop_pixels_map_back():
    """An end-to-end file (decoding inside): ``keypoints`` gets N x 256 x 192 x 3 uint8 RGB crops and returns
    N x K x (x, y, score) in input-crop pixels; the estimator maps them with mmpose's transform_preds at the
    input size: ``x_crop * s_w / 192 + c_x - s_w / 2`` (and y with 256), and gives no heatmaps."""
    from lite_hrnet.runtimes.base import CallableBackend

    seen = []
    out = np.zeros((2, 17, 3), np.float32)
    out[:, :, 0] = np.arange(17) * 10.0 + 1.5  # x in crop pixels (0..191)
    out[:, :, 1] = 250.0 - np.arange(17) * 12.0  # y in crop pixels (0..255)
    out[1, :, :2] += 3.0
    out[:, :, 2] = np.linspace(0.1, 0.9, 17)

    def end_to_end(crops):
        seen.append(np.array(crops))
        return out[:len(crops)]

    backend = CallableBackend(end_to_end, MODEL)
    backend.metadata["end_to_end"] = True
    est = PoseEstimator(backend)
    image = np.zeros((400, 600, 3), np.uint8)
    image[:, :300] = (255, 0, 0)  # left half blue (BGR)
    image[:, 300:] = (0, 0, 255)  # right half red
    boxes = [[100.0, 50.0, 220.0, 350.0], [400.0, 100.0, 500.0, 300.0]]
    centers, scales = est.centers_scales(np.array(boxes))
    crops = est.crops(image, centers, scales)
    keypoints, scores, heatmaps = est.estimate(crops, centers, scales)
    assert heatmaps is None
    (rgb,) = seen
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 256, 192, 3)
    np.testing.assert_array_equal(rgb[0, 128, 96], (0, 0, 255))  # blue, in RGB order
    np.testing.assert_array_equal(rgb[1, 128, 96], (255, 0, 0))  # red
    np.testing.assert_array_equal(rgb, crops[..., ::-1])
    for i, box in enumerate(boxes):
        center, scale = reference_center_scale(box)
        expected = out[i, :, :2] * scale / [192, 256] + center - scale / 2
        np.testing.assert_allclose(keypoints[i], expected, rtol=1e-6, atol=1e-3)
    np.testing.assert_array_equal(scores, out[:, :, 2])


def test_end_to_end_backend_refuses_flip_dark_and_heatmaps_naming_the_model():
    from lite_hrnet.runtimes.base import CallableBackend

    backend = CallableBackend(lambda crops: np.zeros((len(crops), 17, 3), np.float32), MODEL)
    backend.metadata["end_to_end"] = True
    for options in ({"flip_test": True}, {"dark": True}):
        with pytest.raises(ValueError, match=f"^{MODEL} is an end-to-end file .*: flip_test and dark need the plain file$"):
            PoseEstimator(backend, **options)
    with pytest.raises(ValueError, match=f"^return_heatmaps=True: {MODEL} is an end-to-end file and gives no heatmaps; use its plain file$"):
        PoseEstimator(backend).predict(np.zeros((64, 48, 3), np.uint8), return_heatmaps=True)

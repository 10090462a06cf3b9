"""Evaluation: COCO AP with pycocotools (ground truth = 1.0), sigmas, PCK, OKS NMS and the eval command."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import cli
from lite_hrnet.pipeline import PoseEstimator
from lite_hrnet.specs import COCO_JOINTS
from lite_hrnet.train.dataset import CocoKeypoints, PersonRecord
from lite_hrnet.train.evaluate import (
    PersonPrediction, evaluate_coco, evaluate_dataset, nms_coco_results, oks_nms, pck, predict_records,
)

pytest.importorskip("pycocotools")

# One thread in the CLI subprocesses: on a small shared machine, spinning OpenMP threads run 10x slower.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _gt_results(ann_file: Path, noise: float = 0.0, seed: int = 0):
    coco = json.loads(ann_file.read_text())
    rng = np.random.default_rng(seed)
    out = []
    for a in coco["annotations"]:
        if a.get("num_keypoints", 0) == 0 or a.get("iscrowd", 0):
            continue
        kp = np.array(a["keypoints"], np.float64).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, noise, kp[:, :2].shape) * np.sqrt(a["area"])
        kp[:, 2] = 1.0
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.reshape(-1).tolist(), "score": 1.0})
    return out


def test_ground_truth_as_predictions_gives_ap_1(coco_sample):
    ann = coco_sample / "test_coco.json"
    m = evaluate_coco(_gt_results(ann), ann, COCO_JOINTS.sigmas)
    assert m["AP"] == pytest.approx(1.0) and m["AR"] == pytest.approx(1.0)
    assert m["AP50"] == pytest.approx(1.0) and m["AP75"] == pytest.approx(1.0)
    # Without explicit sigmas pycocotools uses the same official COCO sigmas.
    assert evaluate_coco(_gt_results(ann), ann)["AP"] == pytest.approx(1.0)


def test_noisy_predictions_and_sigmas(coco_sample):
    ann = coco_sample / "test_coco.json"
    noisy = _gt_results(ann, noise=0.05)
    ap = evaluate_coco(noisy, ann, COCO_JOINTS.sigmas)["AP"]
    assert 0.0 <= ap < 0.9
    # Larger OKS sigmas (another joint set's tolerance) forgive the same errors: AP rises.
    wide = evaluate_coco(noisy, ann, [s * 4 for s in COCO_JOINTS.sigmas])["AP"]
    assert wide > ap + 0.1
    assert evaluate_coco([], ann)["AP"] == 0.0


def _record(kp: np.ndarray, bbox=(0.0, 0.0, 100.0, 200.0), image_id: int = 1, ann_id: int = 1) -> PersonRecord:
    return PersonRecord(image_id, "x.jpg", bbox, kp.astype(np.float32), 1.0, ann_id, 5000.0)


def test_pck():
    kp = np.zeros((17, 3), np.float32)
    kp[:, :2] = np.random.default_rng(0).uniform(0, 100, (17, 2))
    kp[:, 2] = 2
    kp[3, 2] = 0
    rec = _record(kp)
    exact = PersonPrediction(rec, kp[:, :2].copy(), np.ones(17, np.float32), 1.0, 46875.0)
    assert pck([exact]) == 1.0
    off = kp[:, :2].copy()
    off[:8, 0] += 0.25 * 200  # beyond 0.2 x the longer box side (200)
    off[8:, 0] += 0.15 * 200  # within it
    assert pck([PersonPrediction(rec, off, np.ones(17, np.float32), 1.0, 46875.0)]) == pytest.approx(9 / 16)  # joint 3 unlabelled


def test_oks_nms_and_rescoring():
    kp = np.zeros((17, 3), np.float32)
    kp[:, :2] = np.random.default_rng(1).uniform(0, 100, (17, 2))
    rec = _record(kp)
    a = PersonPrediction(rec, kp[:, :2], np.full(17, 0.9, np.float32), 1.0, 46875.0)
    dup = PersonPrediction(rec, kp[:, :2] + 0.5, np.full(17, 0.5, np.float32), 1.0, 46875.0)
    far = PersonPrediction(rec, kp[:, :2] + 80, np.full(17, 0.1, np.float32), 0.5, 46875.0)
    keep = oks_nms([a, dup, far], np.array([0.9, 0.5, 0.05]), np.asarray(COCO_JOINTS.sigmas))
    assert keep == [0, 2]
    res = nms_coco_results([a, dup, far], COCO_JOINTS.sigmas)
    assert [round(r["score"], 3) for r in res] == [0.9, 0.0]  # far: no joint above 0.2, score 0
    assert len(res[0]["keypoints"]) == 51


def test_oks_nms_averages_the_two_padded_areas_as_mmpose():
    """mmpose 1.x ``oks_iou``: e = d² / (2σ)² / ((a_i + a_j) / 2) / 2, areas from the padded box scales.

    Values by hand, every σ = 0.1 ((2σ)² = 0.04), every joint 10 px right and 10 px down (d² = 200):
    a 100 x 200 box is padded to 187.5 x 250 (area 46875), a 50 x 100 one to 93.75 x 125 (11718.75).
    Their mean area is 29296.875: e = 200 / 0.04 / 29296.875 / 2 = 0.08533, OKS 0.9182 > 0.9, the weaker
    one goes, whichever box scores higher. With one person's raw box area (the old rule: 20000 or 5000)
    OKS is 0.8825 or 0.6065, and both stay; with one padded area, the small box keeps the big one
    (11718.75: OKS 0.8080).
    """
    sigmas = np.full(17, 0.1)
    kp = np.random.default_rng(2).uniform(50, 150, (17, 2))
    big = _record(np.zeros((17, 3)), bbox=(0.0, 0.0, 100.0, 200.0))
    small = _record(np.zeros((17, 3)), bbox=(30.0, 30.0, 50.0, 100.0))
    ones = np.ones(17, np.float32)
    for first, second in ((big, small), (small, big)):
        preds = [PersonPrediction(first, kp, ones, 1.0, 46875.0 if first is big else 11718.75),
                 PersonPrediction(second, kp + 10.0, ones, 1.0, 46875.0 if second is big else 11718.75)]
        assert oks_nms(preds, np.array([0.9, 0.8]), sigmas, 0.9) == [0]
        assert oks_nms(preds, np.array([0.8, 0.9]), sigmas, 0.9) == [1]
        assert oks_nms(preds, np.array([0.9, 0.8]), sigmas, 0.92) == [0, 1]  # OKS 0.9182 <= 0.92: both kept


def test_predict_records_takes_the_padded_region_as_the_area(monkeypatch):
    """The area OKS NMS uses is w x h of the crop's region: the box widened to 192:256 and padded 1.25x."""
    from lite_hrnet.pipeline import PoseEstimator

    recs = [_record(np.zeros((17, 3)), bbox=(10.0, 10.0, 100.0, 200.0)),  # 150 x 200 -> 187.5 x 250
            _record(np.zeros((17, 3)), bbox=(10.0, 10.0, 200.0, 100.0))]  # 200 x 266.67 -> 250 x 333.33
    import lite_hrnet.train.evaluate as evaluate

    monkeypatch.setattr(evaluate, "load_image", lambda path: np.zeros((300, 300, 3), np.uint8))
    estimator = PoseEstimator(lambda x: np.zeros((len(x), 17, 64, 48), np.float32), spec="litehrnet_18_coco_256x192")
    preds = predict_records(estimator, recs)
    assert [p.area for p in preds] == pytest.approx([46875.0, 250.0 * 1000.0 / 3.0], rel=1e-6)


def test_eval_cli_missing_weights_is_one_line(coco_sample):
    r = cli("eval", "litehrnet_18_coco_256x192", "--weights", str(Path("/nonexistent/ckpt.pth")), "--data", str(coco_sample),
            env=ONE_THREAD)
    assert r.returncode == 2 and "/nonexistent/ckpt.pth" in r.stderr and r.stderr.count("\n") == 1


def test_eval_cli_end_to_end(tmp_path, coco_sample):
    """A checkpoint written by `lite-hrnet train` evaluates through `lite-hrnet eval` at its own input size."""
    torch = pytest.importorskip("torch")
    from lite_hrnet import create_model
    from lite_hrnet.models.checkpoint import save_checkpoint

    model = create_model("litehrnet_18_coco_256x192")
    ckpt = save_checkpoint(tmp_path / "m.pth", model, {"model_name": "litehrnet_18_coco_256x192", "input_size": [64, 64]})
    r = cli("eval", str(ckpt), "--data", str(coco_sample), "--boxes", str(coco_sample / "test_coco_det_AP_H_56.json"),
            "--flip", "--json", "--save-results", str(tmp_path / "res.json"), "--threads", "1", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["input_size"] == [64, 64] and report["persons"] == 118 and report["images"] == 4
    assert set(report["metrics"]) >= {"AP", "AP50", "AR"} and "PCK@0.2" not in report["metrics"]  # PCK needs GT boxes
    assert report["seconds"] > 0
    results = json.loads((tmp_path / "res.json").read_text())
    assert 0 < len(results) <= 118 and all(len(x["keypoints"]) == 51 for x in results)


def test_demo_checkpoint_finds_synthetic_people(tmp_path):
    """The shipped demo model (trained on synthetic people only) scores well on fresh synthetic images."""
    pytest.importorskip("torch")
    from lite_hrnet.models import CheckpointError, resolve_weights
    from lite_hrnet.models.checkpoint import read_checkpoint_meta
    from lite_hrnet.specs import get_model_spec
    from lite_hrnet.synth import generate_dataset

    demo = get_model_spec("litehrnet_18_coco_128x96")  # the demo model: weights="synthetic"
    try:
        path = resolve_weights("synthetic", demo)
    except CheckpointError as e:  # it ships with the package: its absence is a packaging bug
        pytest.fail(f"demo checkpoint missing: {e}")
    generate_dataset(tmp_path / "val", 12, seed=4242)
    r = cli("eval", str(path), "--data", str(tmp_path / "val"), "--json", "--threads", "1", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["input_size"] == [128, 96] and report["persons"] >= 20
    # Measured on 268 held-out people: AP50 0.52, PCK@0.2 0.75; a random network scores near 0 on both.
    assert report["metrics"]["AP50"] > 0.25 and report["metrics"]["PCK@0.2"] > 0.6, report
    # One identity: the checkpoint names the registered demo model, Lite-HRNet-18 COCO at 128x96.
    assert read_checkpoint_meta(path)["model_name"] == demo.name and tuple(report["input_size"]) == demo.input_size
    # Its weights are Lite-HRNet-18's: they load strictly, 1,130,769 parameters as the official network.
    from lite_hrnet import create_model
    from lite_hrnet.models.complexity import count_parameters

    assert count_parameters(create_model(demo.name, weights=str(path))) == 1_130_769


def test_crop_encode_decode_round_trip_scores_ap_1(coco_sample):
    """Target heatmaps fed back as network outputs decode to the annotated keypoints: crop, stride and un-crop agree."""
    from lite_hrnet.pipeline import PoseEstimator
    from lite_hrnet.train.dataset import TopDownDataset
    from lite_hrnet.train.evaluate import predict_records

    data = CocoKeypoints(coco_sample, COCO_JOINTS)
    size = (256, 192)
    queue = [TopDownDataset([r], COCO_JOINTS, size, 2.0, train=False)[0]["target"] for r in data.records]

    def oracle(batch: np.ndarray) -> np.ndarray:
        out = np.stack(queue[:len(batch)])
        del queue[:len(batch)]
        return out

    preds = predict_records(PoseEstimator(oracle, spec="litehrnet_18_coco_256x192"), data.records, batch_size=5)
    assert not queue
    for p in preds:
        vis = p.record.keypoints[:, 2] > 0
        box_w = max(p.record.bbox[2], p.record.bbox[3] * 0.75) * 1.25  # the crop's width in image pixels
        # Within the target's rounding to the heatmap grid (half a pixel) plus the quarter-pixel refinement.
        assert np.abs(p.keypoints[vis] - p.record.keypoints[vis, :2]).max() <= 0.75 * box_w / 48 + 1e-3
    m = evaluate_coco(nms_coco_results(preds, COCO_JOINTS.sigmas), coco_sample / "test_coco.json", COCO_JOINTS.sigmas)
    assert m["AP"] > 0.95, m


# ---------------------------------------------------------------- oracle network through evaluate_dataset
ORACLE_IN_H, ORACLE_IN_W, STRIDE = 256, 192, 4
HM_H, HM_W = ORACLE_IN_H // STRIDE, ORACLE_IN_W // STRIDE
COUNTERPART = {**dict(COCO_JOINTS.flip_pairs), **{b: a for a, b in COCO_JOINTS.flip_pairs}}
MEAN_RGB, STD_RGB = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])


def mmpose_crop(xywh):
    """Center and scale (pixels) of a COCO box for a 192 x 256 input, as mmpose's ``_box2cs`` (padding 1.25),
    and the 2 x 3 matrix of mmpose's ``get_warp_matrix`` (no rotation): image pixels to input pixels."""
    x, y, w, h = (float(v) for v in xywh)
    center = np.array([x + w / 2, y + h / 2])
    w, h = (w, w / 0.75) if w > 0.75 * h else (h * 0.75, h)
    scale = np.array([w, h]) * 1.25
    k = ORACLE_IN_W / scale[0]
    matrix = np.array([[k, 0, ORACLE_IN_W / 2 - k * center[0]], [0, k, ORACLE_IN_H / 2 - k * center[1]]])
    return center, scale, matrix


def gaussian(x: float, y: float, sigma: float = 2.0) -> np.ndarray:
    yy, xx = np.mgrid[0:HM_H, 0:HM_W].astype(np.float64)
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)).astype(np.float32)


class EvalOracle:
    """N x 3 x 256 x 192 crops in, N x 17 x 64 x 48 heatmaps of the true joints out: an ideal network.

    ``regions`` are (image path, COCO box, K x 3 true keypoints) in the order the crops come (the
    evaluation's order: by image, then by falling box score). Each crop is checked against this test's
    own mmpose crop of that region, so a wrong order or a wrong crop fails loudly. A joint at input
    pixel ``x_in`` peaks at ``x_in / 4``; with ``flip`` the second half of every batch must mirror the
    first, and there it peaks at ``(191 - x_in) / 4`` in its counterpart's channel. Unlabelled joints
    get empty heatmaps.
    """

    def __init__(self, regions, flip: bool) -> None:
        self.regions = list(regions)
        self.flip = flip

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        crops = batch
        if self.flip:
            crops = batch[:len(batch) // 2]
            assert len(batch) % 2 == 0 and np.array_equal(batch[len(crops):], crops[..., ::-1])
        regions = self.regions[:len(crops)]
        assert len(regions) == len(crops), "more crops than regions"
        del self.regions[:len(crops)]
        heatmaps = [self._render(regions, crops, mirrored=False)]
        if self.flip:
            heatmaps.append(self._render(regions, crops, mirrored=True))
        return np.concatenate(heatmaps)

    @staticmethod
    def _render(regions, crops: np.ndarray, mirrored: bool) -> np.ndarray:
        out = np.zeros((len(crops), len(COCO_JOINTS.keypoint_names), HM_H, HM_W), np.float32)
        for i, ((path, box, truth), crop) in enumerate(zip(regions, crops)):
            _, _, matrix = mmpose_crop(box)
            expected = cv2.warpAffine(cv2.imread(path), matrix, (ORACLE_IN_W, ORACLE_IN_H), flags=cv2.INTER_LINEAR)
            got = crop.transpose(1, 2, 0) * STD_RGB + MEAN_RGB
            assert np.abs(got - expected[..., ::-1]).mean() < 1.0, f"crop {i} is not the region of {path} {box}"
            for k, (x, y, v) in enumerate(truth):
                if v <= 0:
                    continue
                x_in, y_in = matrix @ (x, y, 1.0)
                if mirrored:
                    out[i, COUNTERPART.get(k, k)] = gaussian((ORACLE_IN_W - 1 - x_in) / STRIDE, y_in / STRIDE)
                else:
                    out[i, k] = gaussian(x_in / STRIDE, y_in / STRIDE)
        return out


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    """Six synthetic images (``lite-hrnet synth``), their annotations, and detector boxes: every person's
    box moved and resized by a few percent (score 0.9) plus a weaker duplicate (score 0.6) for OKS NMS."""
    from lite_hrnet.synth import generate_dataset

    root = tmp_path_factory.mktemp("synth_eval")
    generate_dataset(root, 6, seed=11)  # as `lite-hrnet synth ROOT --images 6 --seed 11`, without a subprocess
    coco = json.loads((root / "annotations.json").read_text())
    rng = np.random.default_rng(0)
    dets = []
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        for score, jitter in ((0.9, 0.03), (0.6, 0.03)):
            dx, dy, sw, sh = rng.uniform(-jitter, jitter, 4)
            dets.append({"image_id": a["image_id"], "category_id": 1, "score": score,
                         "bbox": [x + dx * w, y + dy * h, w * (1 + sw), h * (1 + sh)]})
    (root / "boxes.json").write_text(json.dumps(dets))
    return root, coco, dets


def clean_bbox(xywh, image_size):
    """A ground-truth box as mmpose 0.x (Lite-HRNet's code base) crops it: x2 = min(W - 1, x1 + w - 1)."""
    x, y, w, h = xywh
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(image_size[0] - 1, x1 + max(0.0, w - 1)), min(image_size[1] - 1, y1 + max(0.0, h - 1))
    return x1, y1, x2 - x1, y2 - y1


def _oracle_regions(root, coco, dets=None):
    """(image path, box, true K x 3 keypoints) in evaluation order: by image id, then by falling score."""
    files = {im["id"]: str(root / "images" / im["file_name"]) for im in coco["images"]}
    truth = {}
    for a in coco["annotations"]:
        truth.setdefault(a["image_id"], []).append((a["bbox"], np.array(a["keypoints"], np.float64).reshape(-1, 3)))
    if dets is None:
        sizes = {im["id"]: (im["width"], im["height"]) for im in coco["images"]}
        regions = []
        for im, people in truth.items():
            regions.extend((im, 1.0, clean_bbox(box, sizes[im]), kp) for box, kp in people)
    else:  # each detection belongs to the person whose box center is nearest
        regions = []
        for d in dets:
            c = np.add(d["bbox"][:2], np.multiply(d["bbox"][2:], 0.5))
            box, kp = min(truth[d["image_id"]], key=lambda p: np.linalg.norm(c - np.add(p[0][:2], np.multiply(p[0][2:], 0.5))))
            regions.append((d["image_id"], d["score"], d["bbox"], kp))
    regions.sort(key=lambda r: (r[0], -r[1]))
    return [(files[im], box, kp) for im, _, box, kp in regions]


def _errors_in_heatmap_pixels(results, coco, dets=None):
    """x and y errors (heatmap pixels of each person's crop) of the labelled joints of every result,
    each matched to the true person nearest to it; the crop is the person's box, or the stronger of
    its two detections (the one OKS NMS keeps: ``dets`` come in pairs, in annotation order)."""
    sizes = {im["id"]: (im["width"], im["height"]) for im in coco["images"]}
    people = {}
    for i, a in enumerate(coco["annotations"]):
        box = clean_bbox(a["bbox"], sizes[a["image_id"]]) if dets is None else dets[2 * i]["bbox"]
        people.setdefault(a["image_id"], []).append((box, np.array(a["keypoints"], np.float64).reshape(-1, 3)))
    errors = []
    for res in results:
        kp = np.array(res["keypoints"]).reshape(-1, 3)[:, :2]
        box, truth = min(people[res["image_id"]],
                         key=lambda p: np.abs(kp - p[1][:, :2])[p[1][:, 2] > 0].mean())
        _, scale, _ = mmpose_crop(box)
        vis = truth[:, 2] > 0
        errors.append((kp[vis] - truth[vis, :2]) * HM_W / scale[0])
    return np.concatenate(errors)


@pytest.mark.parametrize("flip", [False, True], ids=["no_flip", "flip"])
@pytest.mark.parametrize("detector", [False, True], ids=["gt_boxes", "detector_boxes"])
def test_oracle_network_through_evaluate_dataset(synth_set, flip, detector):
    """An ideal network scores AP 1, each joint where the decoding conventions put it (mmpose's):

    - without flip, arg-max plus a quarter pixel is within 0.25 heatmap px of the truth on each axis;
    - with flip, the flipped-back heatmap (mirrored, left/right swapped, shifted one pixel) peaks 0.25 px
      right of the plain one, so the average peaks at +0.125 px: x errors in [-0.125, 0.375], mean
      about +0.125. Without the shift they would be in [-0.625, 0.125] (mean -0.375); without the swap,
      left joints would land on right ones, tens of pixels away.
    """
    root, coco, dets = synth_set
    data = CocoKeypoints(root, COCO_JOINTS, boxes_file=root / "boxes.json" if detector else None)
    oracle = EvalOracle(_oracle_regions(root, coco, dets if detector else None), flip)
    estimator = PoseEstimator(oracle, spec="litehrnet_18_coco_256x192", flip_test=flip)
    result = evaluate_dataset(estimator, data, batch_size=4)
    assert not oracle.regions  # every region cropped once
    people = sum(1 for a in coco["annotations"] if a["num_keypoints"] > 0)
    # OKS NMS leaves one result per person: each duplicate box gives the same keypoints, with a lower score.
    assert len(result.results) == people and result.num_persons == (2 * people if detector else people)
    assert result.metrics["AP"] > 0.97 and result.metrics["AR"] > 0.97, result.metrics
    if not detector:
        assert result.metrics["PCK@0.2"] == 1.0
    err = _errors_in_heatmap_pixels(result.results, coco, dets if detector else None)
    tol = 1e-3
    assert np.abs(err[:, 1]).max() <= 0.25 + tol
    if flip:
        assert -0.125 - tol <= err[:, 0].min() and err[:, 0].max() <= 0.375 + tol
        assert 0.05 < err[:, 0].mean() < 0.2
    else:
        assert np.abs(err[:, 0]).max() <= 0.25 + tol
        assert abs(err[:, 0].mean()) < 0.075


@pytest.mark.parametrize("entry", [{"image_id": 1, "score": 0.9}, {"image_id": 1, "bbox": [1, 2], "score": 0.9},
                                   {"image_id": 1, "bbox": ["a", 2, 3, 4]}, [1, 2, 3, 4]],
                         ids=["no_bbox", "short_bbox", "text_bbox", "not_a_dict"])
def test_eval_cli_malformed_boxes_names_the_file(synth_set, tmp_path, entry):
    root, _, _ = synth_set
    boxes = tmp_path / "my_boxes.json"
    boxes.write_text(json.dumps([{"image_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9}, entry]))
    r = cli("eval", "litehrnet_18_coco_128x96", "--weights", "synthetic", "--data", str(root), "--boxes", str(boxes),
            "--threads", "1", env=ONE_THREAD)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert str(boxes) in r.stderr and "detection 1" in r.stderr

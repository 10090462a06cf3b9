"""Evaluation: COCO AP with pycocotools (ground truth = 1.0), sigmas, PCK, OKS NMS and the eval command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import cli
from lite_hrnet.specs import COCO_JOINTS
from lite_hrnet.train.dataset import CocoKeypoints, PersonRecord
from lite_hrnet.train.evaluate import PersonPrediction, evaluate_coco, nms_coco_results, oks_nms, pck

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
    exact = PersonPrediction(rec, kp[:, :2].copy(), np.ones(17, np.float32), 1.0)
    assert pck([exact]) == 1.0
    off = kp[:, :2].copy()
    off[:8, 0] += 0.25 * 200  # beyond 0.2 x the longer box side (200)
    off[8:, 0] += 0.15 * 200  # within it
    assert pck([PersonPrediction(rec, off, np.ones(17, np.float32), 1.0)]) == pytest.approx(9 / 16)  # joint 3 unlabelled


def test_oks_nms_and_rescoring():
    kp = np.zeros((17, 3), np.float32)
    kp[:, :2] = np.random.default_rng(1).uniform(0, 100, (17, 2))
    rec = _record(kp)
    a = PersonPrediction(rec, kp[:, :2], np.full(17, 0.9, np.float32), 1.0)
    dup = PersonPrediction(rec, kp[:, :2] + 0.5, np.full(17, 0.5, np.float32), 1.0)
    far = PersonPrediction(rec, kp[:, :2] + 80, np.full(17, 0.1, np.float32), 0.5)
    keep = oks_nms([a, dup, far], np.array([0.9, 0.5, 0.05]), np.asarray(COCO_JOINTS.sigmas))
    assert keep == [0, 2]
    res = nms_coco_results([a, dup, far], COCO_JOINTS.sigmas)
    assert [round(r["score"], 3) for r in res] == [0.9, 0.0]  # far: no joint above 0.2, score 0
    assert len(res[0]["keypoints"]) == 51


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
    except CheckpointError:
        pytest.skip("demo checkpoint not built")
    generate_dataset(tmp_path / "val", 12, seed=4242)
    r = cli("eval", str(path), "--data", str(tmp_path / "val"), "--json", "--threads", "1", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["input_size"] == [128, 96] and report["persons"] >= 20
    # Measured on 268 held-out people: AP50 0.52, PCK@0.2 0.75; a random network scores near 0 on both.
    assert report["metrics"]["AP50"] > 0.25 and report["metrics"]["PCK@0.2"] > 0.6, report
    # One identity: the checkpoint names the registered demo model, Lite-HRNet-18 COCO at 128x96.
    assert read_checkpoint_meta(path)["model_name"] == demo.name and tuple(report["input_size"]) == demo.input_size
    assert demo.arch == get_model_spec("litehrnet_18_coco_256x192").arch


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

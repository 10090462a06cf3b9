"""Unit tests of lite_hrnet/train/evaluate.py against hand-computed values and pycocotools itself.

Fast (no network, no CLI): they are the test selection of the mutation run's ``evaluate`` part
(benchmarks/mutation/evaluate.cfg). OKS follows the COCO definition
(cocodataset.org/#keypoints-eval, pycocotools ``COCOeval.computeOks``):
``OKS = mean over labelled joints of exp(-d² / (2 s² (2σ)²))`` with ``s² = area``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import lite_hrnet.train.evaluate as evaluate
from lite_hrnet.specs import COCO_JOINTS
from lite_hrnet.train.dataset import CocoKeypoints, PersonRecord
from lite_hrnet.train.evaluate import (
    COCO_STATS, EvalResult, PersonPrediction, evaluate_coco, evaluate_dataset, nms_coco_results, oks, oks_nms, pck,
)

pytest.importorskip("pycocotools")

K = 17
SIGMA = np.full(K, 0.1)  # (2σ)² = 0.04


def _record(image_id=1, bbox=(0.0, 0.0, 100.0, 200.0), keypoints=None, ann_id=1, score=1.0) -> PersonRecord:
    kp = np.zeros((K, 3), np.float32) if keypoints is None else np.asarray(keypoints, np.float32)
    return PersonRecord(image_id, f"{image_id}.jpg", bbox, kp, score, ann_id, 5000.0)


def _pred(keypoints, scores=None, box_score=1.0, image_id=1, area=10000.0, record=None) -> PersonPrediction:
    scores = np.ones(K, np.float32) if scores is None else np.asarray(scores, np.float32)
    return PersonPrediction(record or _record(image_id), np.asarray(keypoints, np.float64), scores, box_score, area)


# ---------------------------------------------------------------- oks


def test_oks_by_hand():
    """5 joints 10 px off (6, 8), 12 exact, area 10000, σ 0.1: e = 100 / 0.04 / 10000 / 2 = 0.125 for the five."""
    gt = np.random.default_rng(0).uniform(0, 100, (K, 2))
    pred = gt.copy()
    pred[:5] += (6.0, 8.0)
    assert oks(gt, 10000.0, pred, SIGMA) == pytest.approx((5 * math.exp(-0.125) + 12) / 17, rel=1e-12)
    # Only labelled joints count: the five moved ones unlabelled -> exact; only they labelled -> exp(-0.125).
    vis = np.ones(K)
    vis[:5] = 0
    assert oks(gt, 10000.0, pred, SIGMA, vis) == pytest.approx(1.0, rel=1e-12)
    assert oks(gt, 10000.0, pred, SIGMA, 1 - vis) == pytest.approx(math.exp(-0.125), rel=1e-12)
    assert oks(gt, 10000.0, pred, SIGMA, 2 * (1 - vis)) == pytest.approx(math.exp(-0.125), rel=1e-12)  # v = 2 too
    assert oks(gt, 10000.0, pred, SIGMA, np.zeros(K)) == 0.0  # nothing labelled
    # Per-joint sigmas: joint 0 with σ 0.2 ((2σ)² = 0.16): e = 100 / 0.16 / 10000 / 2 = 0.03125.
    sig = SIGMA.copy()
    sig[0] = 0.2
    only0 = np.zeros(K)
    only0[0] = 1
    assert oks(gt, 10000.0, pred, sig, only0) == pytest.approx(math.exp(-0.03125), rel=1e-12)
    # A zero area: exact joints still score 1, moved ones 0 (no division by zero, no sign flip).
    assert oks(gt, 0.0, gt, SIGMA) == 1.0
    assert oks(gt, 0.0, pred, SIGMA, 1 - vis) == 0.0


def test_oks_agrees_with_pycocotools_compute_oks():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(3)
    gt = np.concatenate([rng.uniform(20, 180, (K, 2)), rng.integers(0, 3, (K, 1))], axis=1)
    gt[0, 2] = 2
    pred = gt[:, :2] + rng.normal(0, 6, (K, 2))
    area = 7321.5
    coco = COCO()
    coco.dataset = {"images": [{"id": 1, "width": 200, "height": 200}], "categories": [{"id": 1, "name": "person"}],
                    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 170, 170], "area": area,
                                     "iscrowd": 0, "num_keypoints": int((gt[:, 2] > 0).sum()),
                                     "keypoints": gt.reshape(-1).tolist()}]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        dt = coco.loadRes([{"image_id": 1, "category_id": 1, "score": 1.0,
                            "keypoints": np.concatenate([pred, np.ones((K, 1))], axis=1).reshape(-1).tolist()}])
        ev = COCOeval(coco, dt, "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(COCO_JOINTS.sigmas)
        ev.evaluate()
    expected = float(np.asarray(ev.ious[(1, 1)]).reshape(-1)[0])
    assert 0.05 < expected < 0.95
    assert oks(gt[:, :2], area, pred, np.asarray(COCO_JOINTS.sigmas), gt[:, 2]) == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- oks_nms and rescoring


def test_oks_nms_threshold_is_exceeded_not_reached():
    """Identical keypoints have OKS 1.0: with threshold 1.0 nothing exceeds it and both stay."""
    kp = np.random.default_rng(4).uniform(0, 100, (K, 2))
    preds = [_pred(kp), _pred(kp)]
    assert oks_nms(preds, np.array([0.5, 0.9]), SIGMA, 1.0) == [1, 0]
    assert oks_nms(preds, np.array([0.5, 0.9]), SIGMA, 0.999) == [1]
    # Equal scores: the first one wins (stable order).
    assert oks_nms(preds + [_pred(kp)], np.array([0.7, 0.7, 0.7]), SIGMA, 0.5) == [0]


def test_oks_nms_default_threshold_is_0_9():
    """Every joint 10 px off (d² = 100), mean area 10000: OKS exp(-0.125) = 0.8825 <= 0.9 keeps both;
    7 px off (d² = 49): e = 49 / 0.04 / 10000 / 2 = 0.06125, OKS 0.9406 > 0.9 drops the weaker."""
    kp = np.random.default_rng(5).uniform(0, 100, (K, 2))
    assert oks_nms([_pred(kp), _pred(kp + (6.0, 8.0))], np.array([0.9, 0.8]), SIGMA) == [0, 1]
    assert oks_nms([_pred(kp), _pred(kp + (7.0, 0.0))], np.array([0.8, 0.9]), SIGMA) == [1]
    # Areas 4000 and 16000 average to 10000 (a sum, a product or one of them would not): the same OKS 0.8825.
    two = [_pred(kp, area=4000.0), _pred(kp + (6.0, 8.0), area=16000.0)]
    assert oks_nms(two, np.array([0.9, 0.8]), SIGMA, 0.88) == [0]
    assert oks_nms(two, np.array([0.9, 0.8]), SIGMA, 0.885) == [0, 1]


def test_oks_nms_compares_with_every_kept_prediction_greedily():
    """Scores 0.9, 0.8, 0.7 on a chain a - b - c where a~b and b~c overlap but a and c do not:
    a is kept, b is dropped by a, c survives (b, dropped, suppresses nothing)."""
    kp = np.random.default_rng(6).uniform(0, 100, (K, 2))
    a, b, c = _pred(kp), _pred(kp + (5.0, 0.0)), _pred(kp + (10.0, 0.0))  # OKS a-b 0.9692, b-c 0.9692, a-c 0.8825
    assert oks_nms([a, b, c], np.array([0.9, 0.8, 0.7]), SIGMA) == [0, 2]
    assert oks_nms([c, b, a], np.array([0.7, 0.8, 0.9]), SIGMA) == [2, 0]
    assert oks_nms([b, a, c], np.array([0.9, 0.8, 0.7]), SIGMA) == [0]  # b first drops both neighbours
    assert oks_nms([], np.array([]), SIGMA) == []


def test_oks_nms_ties_keep_the_input_order_and_zero_areas_do_not_overlap():
    """Highest score first, equal scores in input order (20 persons far apart, scores in three levels)."""
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, 20) / 4.0
    preds = [_pred(np.full((K, 2), 1000.0 * i)) for i in range(20)]
    expected = sorted(range(20), key=lambda i: (-scores[i], i))
    assert oks_nms(preds, scores, SIGMA) == expected
    # Two persons of no area (OKS: exp(-d² / 0) = 0 apart from exact matches): different keypoints both stay,
    # identical ones are one person.
    kp = rng.uniform(0, 100, (K, 2))
    assert oks_nms([_pred(kp, area=0.0), _pred(kp + 1.0, area=0.0)], np.array([0.9, 0.8]), SIGMA) == [0, 1]
    assert oks_nms([_pred(kp, area=0.0), _pred(kp, area=0.0)], np.array([0.8, 0.9]), SIGMA) == [1]


def test_nms_coco_results_rescoring_grouping_and_thresholds():
    """Score = box score x mean of the joint scores above 0.2 (mmpose); NMS runs within each image only."""
    kp = np.random.default_rng(7).uniform(0, 100, (K, 2))
    scores = np.array([0.9] * 10 + [0.15] * 7)  # mean above 0.2: 0.9
    a = _pred(kp, scores, box_score=0.8, image_id=3)
    dup = _pred(kp + 1.0, np.full(K, 0.5), box_score=1.0, image_id=3)  # score 0.5, OKS with a > 0.9
    other = _pred(kp, scores, box_score=0.5, image_id=9)  # the same place in another image: kept
    res = nms_coco_results([a, dup, other], SIGMA)
    assert [(r["image_id"], r["category_id"]) for r in res] == [(3, 1), (9, 1)]
    assert [r["score"] for r in res] == pytest.approx([0.72, 0.45])
    assert res[0]["keypoints"][:3] == pytest.approx([kp[0, 0], kp[0, 1], 0.9], abs=1e-4)
    assert len(res[1]["keypoints"]) == 3 * K
    # Without NMS every prediction stays; a joint threshold of 0.1 counts the 0.15 joints too.
    assert len(nms_coco_results([a, dup, other], SIGMA, nms_threshold=None)) == 3
    low = nms_coco_results([a], SIGMA, score_threshold=0.1)
    assert low[0]["score"] == pytest.approx(0.8 * (10 * 0.9 + 7 * 0.15) / 17)
    # The NMS threshold is passed on: at 0.9999 the duplicate (OKS < 1) stays.
    assert len(nms_coco_results([a, dup], SIGMA, nms_threshold=0.9999)) == 2
    # A higher-scoring duplicate wins: NMS sees the rescored persons, not the input order.
    strong = _pred(kp + 1.0, np.full(K, 0.95), box_score=1.0, image_id=3)
    only = nms_coco_results([a, strong], SIGMA)
    assert len(only) == 1 and only[0]["score"] == pytest.approx(0.95)


# ---------------------------------------------------------------- pck


def test_pck_thresholds_and_what_counts():
    gt = np.zeros((K, 3), np.float32)
    gt[:, :2] = np.random.default_rng(8).uniform(0, 100, (K, 2))
    gt[:, 2] = 1  # labelled but occluded joints count as labelled
    rec = _record(bbox=(0.0, 0.0, 150.0, 200.0), keypoints=gt)
    pred = gt[:, :2].astype(np.float64)
    pred[0, 1] += 40.0  # exactly 0.2 x 200 (the longer side): a hit
    pred[1, 1] += 40.5  # just beyond: a miss
    p = _pred(pred, record=rec)
    assert pck([p]) == pytest.approx(16 / 17)
    assert pck([p], threshold=0.1) == pytest.approx(15 / 17)
    # Detections (ann_id -1) and persons without labels are skipped: nothing to score is NaN.
    det = _pred(pred, record=_record(bbox=(0.0, 0.0, 150.0, 200.0), keypoints=gt, ann_id=-1))
    assert math.isnan(pck([det]))
    unlabelled = gt.copy()
    unlabelled[:, 2] = 0
    assert math.isnan(pck([_pred(pred, record=_record(keypoints=unlabelled))]))
    assert pck([det, p]) == pytest.approx(16 / 17) and pck([p, det]) == pytest.approx(16 / 17)
    # An annotation id of 0 is a ground-truth person like any other.
    assert pck([_pred(pred, record=_record(bbox=(0.0, 0.0, 150.0, 200.0), keypoints=gt, ann_id=0))]) == pytest.approx(16 / 17)
    # The normalizer is the longer side, at least 1 pixel: a 0.5-pixel box judges 0.15 px as a hit.
    tiny = _record(bbox=(0.0, 0.0, 0.5, 0.25), keypoints=gt)
    near = gt[:, :2] + np.array([0.15, 0.0])
    assert pck([_pred(near, record=tiny)]) == 1.0
    assert pck([_pred(gt[:, :2] + np.array([0.0, 0.3]), record=tiny)]) == 0.0  # 0.3 / 1 > 0.2
    wide = _record(bbox=(0.0, 0.0, 300.0, 200.0), keypoints=gt)
    assert pck([_pred(gt[:, :2] + np.array([50.0, 0.0]), record=wide)]) == 1.0  # 50 / 300 <= 0.2


# ---------------------------------------------------------------- evaluate_coco


def test_evaluate_coco_matches_pycocotools_stats_in_order(coco_sample):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ann = coco_sample / "test_coco.json"
    coco = json.loads(ann.read_text())
    rng = np.random.default_rng(9)
    results = []
    for a in coco["annotations"]:
        if a["num_keypoints"] == 0:
            continue
        kp = np.array(a["keypoints"], np.float64).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, 0.04, (K, 2)) * np.sqrt(a["area"])
        kp[:, 2] = 1.0
        results.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                        "score": float(rng.uniform(0.5, 1.0))})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
        ev = COCOeval(gt, gt.loadRes(results), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    expected = dict(zip(("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"), ev.stats))
    assert len(set(np.round(ev.stats, 6))) >= 5  # the stats differ: a wrong order would show
    got = evaluate_coco(results, ann)
    assert list(got) == list(COCO_STATS) and all(type(v) is float for v in got.values())
    assert got == pytest.approx(expected)
    # Sigmas given are used (4x wider forgive more), and accepted as a plain list.
    wide = evaluate_coco(results, str(ann), [4 * s for s in COCO_JOINTS.sigmas])
    assert wide["AP"] > got["AP"] + 0.05


def test_evaluate_coco_empty_and_missing(coco_sample, tmp_path):
    assert evaluate_coco([], coco_sample / "test_coco.json") == {k: 0.0 for k in COCO_STATS}
    missing = tmp_path / "nowhere.json"
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        evaluate_coco([], missing)


# ---------------------------------------------------------------- EvalResult and evaluate_dataset


def test_eval_result_summary():
    r = EvalResult({"AP": 0.5, "AR": 0.25}, 12, 3, 4.0)
    assert r.summary() == "AP 0.5000, AR 0.2500 | 12 persons in 3 images, 4.0 s (3.0 persons/s)"
    assert r.results == []
    assert EvalResult({}, 5, 1, 0.0).summary() == " | 5 persons in 1 images, 0.0 s (inf persons/s)"
    assert EvalResult({}, 5, 1, 0.5).summary().endswith("0.5 s (10.0 persons/s)")  # under a second: still a rate


def test_evaluate_coco_without_pycocotools_says_what_to_install(monkeypatch, coco_sample):
    import sys

    monkeypatch.setitem(sys.modules, "pycocotools.coco", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"^COCO evaluation needs pycocotools: pip install 'lite-hrnet\[train\]'$"):
        evaluate_coco([], coco_sample / "test_coco.json")


def test_predict_records_keeps_each_records_box_score(monkeypatch):
    """Each prediction carries its region's detection score (OKS NMS and the person score use it)."""
    from lite_hrnet.pipeline import PoseEstimator

    monkeypatch.setattr(evaluate, "load_image", lambda path: np.zeros((300, 300, 3), np.uint8))
    estimator = PoseEstimator(lambda x: np.zeros((len(x), K, 64, 48), np.float32), spec="litehrnet_18_coco_256x192")
    records = [_record(image_id=i, bbox=(10.0, 20.0, 50.0, 80.0), score=s, ann_id=-1) for i, s in ((1, 0.9), (1, 0.35), (2, 0.6))]
    preds = evaluate.predict_records(estimator, records, batch_size=2)
    assert [p.box_score for p in preds] == [0.9, 0.35, 0.6] and [p.record for p in preds] == records


def _ground_truth_predictor(calls):
    """A stand-in for predict_records: each record's own keypoints, joint scores 1 (an exact network)."""

    def fake(estimator, records, batch_size=32):
        calls.append((estimator, list(records), batch_size))
        return [PersonPrediction(r, r.keypoints[:, :2].astype(np.float64), np.ones(K, np.float32), r.score, 1e4)
                for r in records]

    return fake


def test_evaluate_dataset_scores_in_image_order(coco_sample, monkeypatch):
    calls = []
    monkeypatch.setattr(evaluate, "predict_records", _ground_truth_predictor(calls))
    data = CocoKeypoints(coco_sample, COCO_JOINTS)
    estimator = object()
    t0 = time.perf_counter()
    result = evaluate_dataset(estimator, data, batch_size=7)
    wall = time.perf_counter() - t0
    (est, records, batch), = calls
    assert est is estimator and batch == 7
    assert [(r.image_id, -r.score) for r in records] == sorted((r.image_id, -r.score) for r in data.records)
    assert result.num_persons == 12 and result.num_images == 4 and len(result.results) == 12
    assert result.metrics["AP"] == pytest.approx(1.0) and result.metrics["AR"] == pytest.approx(1.0)
    assert result.metrics["PCK@0.2"] == 1.0 and 0 < result.seconds <= wall
    assert list(result.metrics) == [*COCO_STATS, "PCK@0.2"]


def test_evaluate_dataset_max_images_scores_only_those(coco_sample, monkeypatch, tmp_path):
    """The first images by id: 785 (1 person) and 40083 (2). Scored against their own annotations only
    (with all four images' annotations, recall would be 3 / 12), and the temporary subset file is removed."""
    import tempfile

    calls = []
    monkeypatch.setattr(evaluate, "predict_records", _ground_truth_predictor(calls))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = CocoKeypoints(coco_sample, COCO_JOINTS)
    result = evaluate_dataset(object(), data, max_images=2)
    assert {r.image_id for r in calls[0][1]} == {785, 40083} and calls[0][2] == 32  # the default batch
    assert result.num_persons == 3 and result.num_images == 2 and len(result.results) == 3
    assert result.metrics["AP"] == pytest.approx(1.0) and result.metrics["AR"] == pytest.approx(1.0)
    assert list(tmp_path.iterdir()) == []  # the subset annotation file is gone
    assert data.ann_file.is_file()


def test_evaluate_dataset_with_detections_has_no_pck(coco_sample, monkeypatch):
    calls = []
    monkeypatch.setattr(evaluate, "predict_records", _ground_truth_predictor(calls))
    data = CocoKeypoints(coco_sample, COCO_JOINTS, boxes_file=coco_sample / "test_coco_det_AP_H_56.json")
    result = evaluate_dataset(object(), data, max_images=1)
    assert "PCK@0.2" not in result.metrics and set(result.metrics) == set(COCO_STATS)
    assert result.num_images == 1 and all(r.image_id == 785 for r in calls[0][1])
    scores = [r.score for r in calls[0][1]]
    assert scores == sorted(scores, reverse=True) and len(scores) > 1


def test_subset_annotations_keeps_only_the_given_images(coco_sample, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = evaluate._subset_annotations(coco_sample / "test_coco.json", {40083, 197388})
    assert path.parent == tmp_path and path.name.startswith("lite_hrnet_eval_") and path.suffix == ".json"
    sub = json.loads(path.read_text())
    full = json.loads((coco_sample / "test_coco.json").read_text())
    assert sorted(im["id"] for im in sub["images"]) == [40083, 197388]
    assert sub["annotations"] == [a for a in full["annotations"] if a["image_id"] in (40083, 197388)]
    assert sub["categories"] == full["categories"]


def test_evaluate_dataset_scores_with_the_joint_sets_sigmas(coco_sample, monkeypatch):
    """OKS uses the dataset's joint set sigmas, not pycocotools' COCO default: with 4x wider sigmas the
    same noisy predictions score as evaluate_coco scores them with those sigmas."""
    wide = replace(COCO_JOINTS, sigmas=tuple(4 * s for s in COCO_JOINTS.sigmas))
    rng = np.random.default_rng(10)

    def noisy(estimator, records, batch_size=32):
        return [PersonPrediction(r, r.keypoints[:, :2] + rng.normal(0, 0.05 * math.sqrt(r.area), (K, 2)),
                                 np.ones(K, np.float32), r.score, 1e4) for r in records]

    monkeypatch.setattr(evaluate, "predict_records", noisy)
    result = evaluate_dataset(object(), CocoKeypoints(coco_sample, wide))
    ann = coco_sample / "test_coco.json"
    assert result.metrics["AP"] == pytest.approx(evaluate_coco(result.results, ann, wide.sigmas)["AP"])
    assert result.metrics["AP"] > evaluate_coco(result.results, ann)["AP"] + 0.05

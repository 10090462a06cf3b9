"""Top-down evaluation: COCO keypoint AP/AR (OKS, pycocotools) and PCK (numpy + OpenCV; torch optional).

Predictions come from the pose pipeline: a :class:`~lite_hrnet.pipeline.PoseEstimator`
on any runtime backend (a PyTorch model, an exported file, or a callable with the
backend contract) crops every person region, runs the network (with the flip test
when the estimator has it) and decodes keypoints, exactly as ``lite-hrnet predict`` does.

Coordinates: keypoints in image pixels, pixel centres at integers (COCO).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..pipeline import PoseEstimator, PoseResult, load_image, to_coco_results
from .dataset import CocoKeypoints, PersonRecord

COCO_STATS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


@dataclass
class PersonPrediction:
    """Keypoints of one person region: K x 2 (x, y) image pixels, K scores, the region's box score.

    ``area`` is the area (pixels²) of the padded region the network saw, ``w x h`` of its
    scale: mmpose's ``CocoMetric`` takes ``prod(bbox_scales)`` as the person's area in OKS NMS.
    """

    record: PersonRecord
    keypoints: np.ndarray
    scores: np.ndarray
    box_score: float
    area: float


def predict_records(
    estimator: PoseEstimator, records: Sequence[PersonRecord], batch_size: int = 32
) -> List[PersonPrediction]:
    """Keypoints of every record's region, through the estimator's own steps, ``batch_size`` regions a batch.

    As :meth:`PoseEstimator.predict`, but the regions of consecutive records share one
    :meth:`~PoseEstimator.estimate` call even across images; each region is its record's
    COCO ``[x, y, w, h]`` box, kept even where it lies outside the image.
    """
    out: List[PersonPrediction] = []
    path, image = None, None
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (r.bbox for r in chunk)], np.float64)
        centers, scales = estimator.centers_scales(boxes)
        crops = []
        for rec, center, scale in zip(chunk, centers, scales):
            if rec.image_path != path:  # records come grouped by image: decode each image once
                path, image = rec.image_path, load_image(rec.image_path)
            crops.append(estimator.crops(image, center[None], scale[None]))
        keypoints, scores, _ = estimator.estimate(np.concatenate(crops), centers, scales)
        out.extend(PersonPrediction(rec, kp, sc, rec.score, float(np.prod(scale, dtype=np.float64)))
                   for rec, kp, sc, scale in zip(chunk, keypoints, scores, scales))
    return out


def oks(gt_kp: np.ndarray, gt_area: float, pred: np.ndarray, sigmas: np.ndarray, gt_vis: Optional[np.ndarray] = None) -> float:
    """COCO object keypoint similarity of one prediction (K x 2) to one person (K x 2, area in pixels²)."""
    var = (2 * sigmas) ** 2
    d2 = ((gt_kp - pred) ** 2).sum(axis=1)
    e = d2 / var / (gt_area + np.spacing(1)) / 2
    if gt_vis is not None:
        e = e[gt_vis > 0]
    return float(np.exp(-e).mean()) if len(e) else 0.0


def oks_nms(preds: List[PersonPrediction], scores: np.ndarray, sigmas: np.ndarray, threshold: float = 0.9) -> List[int]:
    """Indices kept by greedy NMS on OKS between the predictions of one image, as mmpose 1.x ``oks_nms``.

    Highest score first; a prediction is dropped when its OKS with a kept one exceeds
    ``threshold``. As mmpose's ``oks_iou``, the OKS of two predictions uses the mean of
    their two areas (each :attr:`PersonPrediction.area`, the padded region) and every joint.
    """
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    var = (2 * np.asarray(sigmas, np.float64)) ** 2
    keep: List[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = []
        for j in order:
            d2 = ((preds[i].keypoints - preds[j].keypoints) ** 2).sum(axis=1)
            mean_area = (preds[i].area + preds[j].area) / 2
            if np.exp(-d2 / var / (mean_area + np.spacing(1)) / 2).mean() <= threshold:
                rest.append(j)
        order = rest
    return keep


def nms_coco_results(
    preds: List[PersonPrediction], sigmas: Sequence[float], score_threshold: float = 0.2, nms_threshold: Optional[float] = 0.9,
) -> List[dict]:
    """COCO keypoint results of every image (:func:`lite_hrnet.pipeline.to_coco_results`), after OKS NMS.

    Each person is rescored as mmpose does (box score x mean of the joint scores
    above ``score_threshold``). With ``nms_threshold`` the predictions of each image
    go through OKS NMS (as for detected boxes; harmless with ground-truth boxes,
    which rarely overlap at OKS 0.9).
    """
    sig = np.asarray(sigmas, np.float64)
    by_image: Dict[int, List[PersonPrediction]] = {}
    for p in preds:
        by_image.setdefault(p.record.image_id, []).append(p)
    results = []
    for image_id, ps in by_image.items():
        entries = to_coco_results(PoseResult(
            keypoints=np.stack([p.keypoints for p in ps]), scores=np.stack([p.scores for p in ps]),
            boxes=np.zeros((len(ps), 4), np.float32), box_scores=np.array([p.box_score for p in ps], np.float64),
            box_indices=np.arange(len(ps)),
        ), int(image_id), kpt_score_thr=score_threshold)
        scores = np.array([e["score"] for e in entries])
        keep = oks_nms(ps, scores, sig, nms_threshold) if nms_threshold is not None else range(len(ps))
        results.extend(entries[i] for i in keep)
    return results


def evaluate_coco(predictions: List[dict], ann_file: Union[str, Path], sigmas: Optional[Sequence[float]] = None) -> Dict[str, float]:
    """COCO keypoint AP/AR of results against an annotation file (pycocotools ``COCOeval``).

    Args:
        predictions: COCO keypoint results: dicts with ``image_id``, ``category_id`` (1),
            ``keypoints`` (flat x, y, score * K) and ``score``.
        ann_file: the ground-truth COCO keypoint JSON.
        sigmas: K OKS sigmas (default: pycocotools' COCO sigmas, which need K = 17).

    Returns:
        ``{"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}`` in [0, 1]
        (-1 where pycocotools finds nothing to score, e.g. no medium persons).
    """
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ImportError("COCO evaluation needs pycocotools: pip install 'lite-hrnet[train]'") from None
    ann_file = Path(ann_file)
    if not ann_file.is_file():
        raise FileNotFoundError(f"annotation file not found: {ann_file}")
    if not predictions:
        return {k: 0.0 for k in COCO_STATS}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_file))
        dt = gt.loadRes(list(predictions))
        ev = COCOeval(gt, dt, "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: float(v) for k, v in zip(COCO_STATS, ev.stats)}


def pck(preds: List[PersonPrediction], threshold: float = 0.2) -> float:
    """PCK@``threshold``: fraction of labelled joints within ``threshold`` x the longer box side of the truth.

    Needs predictions on ground-truth boxes (each record carries its person's keypoints).
    """
    hits, total = 0, 0
    for p in preds:
        gt = p.record.keypoints
        vis = gt[:, 2] > 0
        if p.record.ann_id < 0 or not vis.any():
            continue
        norm = max(p.record.bbox[2], p.record.bbox[3], 1.0)
        d = np.linalg.norm(p.keypoints[vis] - gt[vis, :2], axis=1) / norm
        hits += int((d <= threshold).sum())
        total += int(vis.sum())
    return hits / total if total else float("nan")


@dataclass
class EvalResult:
    """Metrics of one evaluation pass and its timing (seconds, the whole pass including image decoding)."""

    metrics: Dict[str, float]
    num_persons: int
    num_images: int
    seconds: float
    results: List[dict] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        parts = [f"{k} {v:.4f}" for k, v in self.metrics.items()]
        rate = self.num_persons / self.seconds if self.seconds > 0 else float("inf")
        return (f"{', '.join(parts)} | {self.num_persons} persons in {self.num_images} images, "
                f"{self.seconds:.1f} s ({rate:.1f} persons/s)")


def evaluate_dataset(
    estimator: PoseEstimator, dataset: CocoKeypoints, batch_size: int = 32, max_images: Optional[int] = None,
) -> EvalResult:
    """Predict every region of ``dataset`` and score it: COCO AP/AR (OKS with the joint set's sigmas) and PCK@0.2.

    The estimator sets the input size, normalization, flip test and decoding.
    ``max_images`` limits the pass to the first images (by id), scoring only those.
    """
    t0 = time.perf_counter()
    records = sorted(dataset.records, key=lambda r: (r.image_id, -r.score))
    ann_file = dataset.ann_file
    if max_images is not None:
        keep_ids = set(sorted(dataset.images)[:max_images])
        records = [r for r in records if r.image_id in keep_ids]
        ann_file = _subset_annotations(dataset.ann_file, keep_ids)
    preds = predict_records(estimator, records, batch_size)
    sigmas = dataset.joints.sigmas
    results = nms_coco_results(preds, sigmas)
    metrics = evaluate_coco(results, ann_file, sigmas)
    p = pck(preds)
    if not np.isnan(p):
        metrics["PCK@0.2"] = p
    seconds = time.perf_counter() - t0
    if ann_file != dataset.ann_file:
        Path(ann_file).unlink(missing_ok=True)
    return EvalResult(metrics, len(records), len({r.image_id for r in records}), seconds, results)


def _subset_annotations(ann_file: Path, image_ids: set) -> Path:
    import tempfile

    coco = json.loads(Path(ann_file).read_text())
    coco["images"] = [im for im in coco["images"] if int(im["id"]) in image_ids]
    coco["annotations"] = [a for a in coco["annotations"] if int(a["image_id"]) in image_ids]
    fd, name = tempfile.mkstemp(suffix=".json", prefix="lite_hrnet_eval_")
    with open(fd, "w") as f:
        json.dump(coco, f)
    return Path(name)


__all__ = [
    "COCO_STATS", "EvalResult", "PersonPrediction", "evaluate_coco", "evaluate_dataset", "nms_coco_results", "oks",
    "oks_nms", "pck", "predict_records",
]

"""Top-down evaluation: COCO keypoint AP/AR (OKS, pycocotools) and PCK (numpy + OpenCV; torch optional).

The model is any callable that maps an N x 3 x H x W float32 batch of
normalized RGB crops to N x K x H/4 x W/4 heatmaps (numpy in, numpy or torch
out): a PyTorch model wrapped by :func:`torch_heatmap_fn`, or a runtime from
:mod:`lite_hrnet.runtimes`.

Coordinates: keypoints in image pixels, pixel centres at integers (COCO).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..codec import decode_heatmaps, flip_heatmaps_back
from ..specs import JointSet
from .dataset import CocoKeypoints, PersonRecord, read_image
from .transforms import apply_affine, box_from_xywh, crop_affine, normalize, warp_crop

HeatmapFn = Callable[[np.ndarray], np.ndarray]

COCO_STATS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


@dataclass
class PersonPrediction:
    """Keypoints of one person region: K x 2 (x, y) image pixels, K scores, the region's box score."""

    record: PersonRecord
    keypoints: np.ndarray
    scores: np.ndarray
    box_score: float


def predict_records(
    heatmap_fn: HeatmapFn,
    records: Sequence[PersonRecord],
    input_size: Tuple[int, int],
    joints: JointSet,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 32,
    flip: bool = False,
    heatmap_stride: int = 4,
    dark: bool = False,
) -> List[PersonPrediction]:
    """Crop every record's box, run the network and decode keypoints back to image pixels.

    With ``flip`` the mirrored crop's heatmaps (flipped back, channels swapped,
    shifted one pixel as the official test config) are averaged with the plain ones.
    """
    out: List[PersonPrediction] = []
    cache: Dict[str, np.ndarray] = {}
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        crops, mats = [], []
        for rec in chunk:
            if rec.image_path not in cache:
                cache.clear()  # records are grouped by image: keep one decoded image
                cache[rec.image_path] = read_image(rec.image_path)
            box = box_from_xywh(rec.bbox, input_size)
            crops.append(normalize(warp_crop(cache[rec.image_path], box, input_size), mean, std))
            mats.append(crop_affine(box, input_size, inverse=True))
        batch = np.stack(crops)
        heatmaps = _as_numpy(heatmap_fn(batch))
        if flip:
            flipped = _as_numpy(heatmap_fn(np.ascontiguousarray(batch[..., ::-1])))
            heatmaps = (heatmaps + flip_heatmaps_back(flipped, joints.flip_pairs, shift=True)) * 0.5
        coords, scores = decode_heatmaps(heatmaps, dark=dark)
        for rec, m, c, s in zip(chunk, mats, coords, scores):
            kp = apply_affine(c * heatmap_stride, m).astype(np.float32)
            out.append(PersonPrediction(rec, kp, s.astype(np.float32), rec.score))
    return out


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def oks(gt_kp: np.ndarray, gt_area: float, pred: np.ndarray, sigmas: np.ndarray, gt_vis: Optional[np.ndarray] = None) -> float:
    """COCO object keypoint similarity of one prediction (K x 2) to one person (K x 2, area in pixels²)."""
    var = (2 * sigmas) ** 2
    d2 = ((gt_kp - pred) ** 2).sum(axis=1)
    e = d2 / var / (gt_area + np.spacing(1)) / 2
    if gt_vis is not None:
        e = e[gt_vis > 0]
    return float(np.exp(-e).mean()) if len(e) else 0.0


def oks_nms(preds: List[PersonPrediction], scores: np.ndarray, sigmas: np.ndarray, threshold: float = 0.9) -> List[int]:
    """Indices kept by greedy NMS on OKS between the predictions of one image (mmpose ``oks_nms``)."""
    order = list(np.argsort(-scores))
    areas = [float(np.prod(p.record.bbox[2:4])) for p in preds]
    keep: List[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order if oks(preds[i].keypoints, areas[i], preds[j].keypoints, sigmas) <= threshold]
    return keep


def to_coco_results(
    preds: List[PersonPrediction], sigmas: Sequence[float], score_threshold: float = 0.2, nms_threshold: Optional[float] = 0.9,
) -> List[dict]:
    """COCO keypoint results, rescored as mmpose (box score x mean of joint scores above ``score_threshold``).

    With ``nms_threshold`` the predictions of each image go through OKS NMS
    (as for detected boxes; harmless with ground-truth boxes, which rarely overlap at OKS 0.9).
    """
    from ..pipeline import person_score

    sig = np.asarray(sigmas, np.float64)
    by_image: Dict[int, List[PersonPrediction]] = {}
    for p in preds:
        by_image.setdefault(p.record.image_id, []).append(p)
    results = []
    for image_id, ps in by_image.items():
        scores = np.asarray([person_score(p.scores, p.box_score, score_threshold) for p in ps])
        keep = oks_nms(ps, scores, sig, nms_threshold) if nms_threshold is not None else range(len(ps))
        for i in keep:
            p = ps[i]
            kp = np.concatenate([p.keypoints, p.scores[:, None]], axis=1)
            results.append({"image_id": int(image_id), "category_id": 1,
                            "keypoints": [round(float(v), 3) for v in kp.reshape(-1)], "score": float(scores[i])})
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
    heatmap_fn: HeatmapFn,
    dataset: CocoKeypoints,
    input_size: Tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 32,
    flip: bool = False,
    dark: bool = False,
    max_images: Optional[int] = None,
) -> EvalResult:
    """Predict every region of ``dataset`` and score it: COCO AP/AR (OKS with the joint set's sigmas) and PCK@0.2.

    ``max_images`` limits the pass to the first images (by id), scoring only those.
    """
    t0 = time.perf_counter()
    records = sorted(dataset.records, key=lambda r: (r.image_id, -r.score))
    ann_file = dataset.ann_file
    if max_images is not None:
        keep_ids = set(sorted(dataset.images)[:max_images])
        records = [r for r in records if r.image_id in keep_ids]
        ann_file = _subset_annotations(dataset.ann_file, keep_ids)
    preds = predict_records(heatmap_fn, records, input_size, dataset.joints, mean, std, batch_size, flip, dark=dark)
    sigmas = dataset.joints.sigmas
    results = to_coco_results(preds, sigmas)
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


def torch_heatmap_fn(model, device: Optional[str] = None) -> HeatmapFn:
    """Wrap a PyTorch pose network as a numpy heatmap function (eval mode, no grad)."""
    import torch

    dev = torch.device(device) if device else next(model.parameters()).device

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(batch)).to(dev)).float().cpu().numpy()

    return run


__all__ = [
    "COCO_STATS", "EvalResult", "PersonPrediction", "evaluate_coco", "evaluate_dataset", "oks", "oks_nms", "pck",
    "predict_records", "to_coco_results", "torch_heatmap_fn",
]

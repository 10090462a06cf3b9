"""COCO-format keypoint datasets for top-down training and evaluation (numpy + OpenCV; torch not imported).

A dataset is a COCO keypoint annotation JSON plus a folder of images. Person
regions come from the ground-truth boxes (training, or evaluation with
ground-truth boxes) or from a detection results file (COCO results format:
``image_id``, ``bbox`` as x, y, w, h, ``score``, ``category_id``).

:class:`TopDownDataset` is a map-style dataset that a ``torch.utils.data.DataLoader``
takes as is: each item is a dict of numpy arrays (the default collate turns
them into tensors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..codec import encode_gaussian
from ..geometry import apply_affine, box_from_xywh, crop_matrix, normalize_crops, warp_crop
from ..pipeline import load_image
from ..specs import COCO_JOINTS, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, JointSet
from .transforms import AugmentConfig, augment

_ANN_NAMES = ("annotations.json", "person_keypoints_val2017.json", "person_keypoints_train2017.json")


@dataclass(frozen=True)
class PersonRecord:
    """One person instance to crop.

    ``keypoints`` is K x 3 (x, y, v) in image pixels (zeros when the region
    comes from a detector); ``bbox`` is COCO ``[x, y, w, h]``; ``score`` is
    the detection score (1 for ground truth); ``ann_id`` is -1 for detections.
    """

    image_id: int
    image_path: str
    bbox: Tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float = 1.0
    ann_id: int = -1
    area: float = 0.0


def find_annotation_file(data: Union[str, Path]) -> Path:
    """The annotation JSON of ``data``: the file itself, or the one annotation file in the folder.

    In a folder: ``annotations.json`` (the layout of ``lite-hrnet synth``),
    else ``person_keypoints_*.json``, else the only ``*.json`` whose name does
    not mark it as detections or results (``det``, ``result``); also looked for
    under ``annotations/``.
    """
    path = Path(data)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"dataset not found: {path} (give a COCO annotation .json or a folder holding one)")
    for folder in (path, path / "annotations"):
        for name in _ANN_NAMES:
            if (folder / name).is_file():
                return folder / name
    candidates = sorted(
        p for folder in (path, path / "annotations") if folder.is_dir() for p in folder.glob("*.json")
        if "det" not in p.name.lower() and "result" not in p.name.lower()
    )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise FileNotFoundError(f"no COCO annotation .json in {path}")
    raise ValueError(f"several annotation files in {path} ({', '.join(p.name for p in candidates)}): pass one with --data FILE")


def _image_root(ann_file: Path, first_file_name: Optional[str], image_dir: Optional[Union[str, Path]]) -> Path:
    if image_dir is not None:
        root = Path(image_dir)
        if not root.is_dir():
            raise FileNotFoundError(f"image folder not found: {root}")
        return root
    base = ann_file.parent
    options = [base / "images", base, base.parent / "images", base.parent]
    if base.name == "annotations":
        options += sorted(p for p in base.parent.iterdir() if p.is_dir())
    if first_file_name is None:
        return options[0] if options[0].is_dir() else base
    for root in options:
        if (root / first_file_name).is_file():
            return root
    raise FileNotFoundError(f"image {first_file_name} of {ann_file} not found next to it (looked in {', '.join(map(str, options[:4]))})")


class CocoKeypoints:
    """A COCO keypoint annotation file and its images.

    Args:
        data: the annotation JSON or a folder holding it (see :func:`find_annotation_file`).
        joints: the joint set; its size must match the annotations' keypoint count.
        image_dir: image folder (default: ``images/`` next to the JSON, or the JSON's folder).
        boxes_file: detection results JSON; when given, :attr:`records` are the detected boxes.
        det_score_threshold: detections below this score are dropped.
        min_keypoints: ground-truth persons with fewer labelled joints are dropped (1 for training).
    """

    def __init__(
        self,
        data: Union[str, Path],
        joints: JointSet = COCO_JOINTS,
        image_dir: Optional[Union[str, Path]] = None,
        boxes_file: Optional[Union[str, Path]] = None,
        det_score_threshold: float = 0.0,
        min_keypoints: int = 1,
    ) -> None:
        self.ann_file = find_annotation_file(data)
        try:
            coco = json.loads(self.ann_file.read_text())
        except ValueError as e:
            raise ValueError(f"{self.ann_file} is not valid JSON: {e}") from None
        if not isinstance(coco, dict) or "images" not in coco or "annotations" not in coco:
            raise ValueError(f"{self.ann_file} is not a COCO annotation file (needs 'images' and 'annotations')")
        self.joints = joints
        self.images: Dict[int, dict] = {int(im["id"]): im for im in coco["images"]}
        first = coco["images"][0]["file_name"] if coco["images"] else None
        self.image_root = _image_root(self.ann_file, first, image_dir)
        self.annotations: List[dict] = [a for a in coco["annotations"] if int(a.get("category_id", 1)) == 1]
        k = joints.num_joints
        for a in self.annotations:
            if "keypoints" in a and len(a["keypoints"]) != 3 * k:
                raise ValueError(
                    f"{self.ann_file}: annotation {a.get('id')} has {len(a['keypoints']) // 3} keypoints, "
                    f"the joint set {joints.name!r} has {k}"
                )
        if boxes_file is not None:
            self.records = self._detection_records(Path(boxes_file), det_score_threshold)
        else:
            self.records = self._ground_truth_records(min_keypoints)

    def image_path(self, image_id: int) -> str:
        return str(self.image_root / self.images[image_id]["file_name"])

    def _ground_truth_records(self, min_keypoints: int) -> List[PersonRecord]:
        out = []
        k = self.joints.num_joints
        for a in self.annotations:
            if a.get("iscrowd", 0) or int(a.get("num_keypoints", 0)) < min_keypoints:
                continue
            im = self.images.get(int(a["image_id"]))
            if im is None:
                continue
            x, y, w, h = (float(v) for v in a["bbox"])
            # Clip to the image as mmpose does; drop empty boxes.
            x1, y1 = max(0.0, x), max(0.0, y)
            x2 = min(float(im.get("width", x + w)) - 1, x1 + max(0.0, w - 1))
            y2 = min(float(im.get("height", y + h)) - 1, y1 + max(0.0, h - 1))
            if a.get("area", 1) <= 0 or x2 < x1 or y2 < y1:
                continue
            kp = np.asarray(a.get("keypoints", [0] * 3 * k), np.float32).reshape(k, 3)
            out.append(PersonRecord(int(a["image_id"]), self.image_path(int(a["image_id"])),
                                    (x1, y1, x2 - x1, y2 - y1), kp, 1.0, int(a.get("id", -1)), float(a.get("area", 0.0))))
        return out

    def _detection_records(self, boxes_file: Path, threshold: float) -> List[PersonRecord]:
        if not boxes_file.is_file():
            raise FileNotFoundError(f"detection boxes file not found: {boxes_file}")
        try:
            dets = json.loads(boxes_file.read_text())
        except ValueError as e:
            raise ValueError(f"{boxes_file} is not valid JSON: {e}") from None
        if not isinstance(dets, list):
            raise ValueError(f"{boxes_file} must be a COCO results list of {{image_id, bbox, score}}")
        k = self.joints.num_joints
        out = []
        for n, d in enumerate(dets):
            try:
                category, score = int(d.get("category_id", 1)), float(d.get("score", 1.0))
                image_id, bbox = int(d["image_id"]), tuple(float(v) for v in d["bbox"][:4])
                if len(bbox) != 4 or not np.isfinite(bbox).all():
                    raise ValueError(f"bbox {d['bbox']!r} is not 4 numbers")
            except (AttributeError, KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{boxes_file}: detection {n} is not {{image_id, bbox: [x, y, w, h], score}}: "
                                 f"{type(e).__name__}: {e}") from None
            if category != 1 or score < threshold or image_id not in self.images:
                continue
            out.append(PersonRecord(image_id, self.image_path(image_id), bbox, np.zeros((k, 3), np.float32), score))
        return out

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class TopDownDataset:
    """Training / validation samples: a crop, its Gaussian heatmap targets and target weights.

    Each item is a dict:

    - ``image``: 3 x H x W float32, normalized RGB (``(v - mean) / std`` on 0-255);
    - ``target``: K x H/4 x W/4 float32 Gaussian heatmaps (peak 1, ``sigma`` heatmap pixels);
    - ``target_weight``: K float32, 1 for labelled joints whose Gaussian falls on the heatmap, else 0;
    - ``index``: the record index.

    With ``train=True`` the official augmentation runs (:func:`transforms.augment`);
    its randomness comes from the torch RNG of the loading process (seeded per
    worker and epoch by the DataLoader), so every epoch draws new transforms.
    """

    records: Sequence[PersonRecord]
    joints: JointSet
    input_size: Tuple[int, int]
    sigma: float = 2.0
    mean: Tuple[float, float, float] = IMAGENET_MEAN_RGB
    std: Tuple[float, float, float] = IMAGENET_STD_RGB
    train: bool = True
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)
    heatmap_stride: int = 4
    seed: Optional[int] = None

    def __len__(self) -> int:
        return len(self.records)

    def _rng(self, index: int) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng([self.seed, index])
        try:
            import torch

            return np.random.default_rng([int(torch.randint(0, 2**62, (1,)).item()), index])
        except ImportError:  # pragma: no cover - torch-free use
            return np.random.default_rng()

    def sample(self, index: int, rng: Optional[np.random.Generator] = None) -> Dict[str, np.ndarray]:
        """The crop and targets of record ``index``; also returns ``crop_bgr``, ``keypoints_crop`` (K x 3) and ``box``."""
        rec = self.records[index]
        image = load_image(rec.image_path)
        kp = rec.keypoints.astype(np.float64).copy()
        box = box_from_xywh(rec.bbox, self.input_size)
        if self.train:
            image, kp, box = augment(image, kp, box, self.joints, self.input_size, rng or self._rng(index), self.augment_config)
        m = crop_matrix(box.center, box.scale, self.input_size, box.rotation)
        crop = warp_crop(image, m, self.input_size)
        kp_crop = kp.copy()
        kp_crop[:, :2] = apply_affine(kp[:, :2], m)
        hm_size = (self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride)
        target, weight = encode_gaussian(kp_crop[:, :2] / self.heatmap_stride, kp_crop[:, 2], hm_size, self.sigma)
        return {
            "image": normalize_crops(crop, self.mean, self.std),
            "target": target,
            "target_weight": weight,
            "index": np.int64(index),
            "crop_bgr": crop,
            "keypoints_crop": kp_crop.astype(np.float32),
            "box": box,
        }

    def __getitem__(self, index: int) -> Dict[str, np.ndarray]:
        s = self.sample(index)
        return {k: s[k] for k in ("image", "target", "target_weight", "index")}


__all__ = ["CocoKeypoints", "PersonRecord", "TopDownDataset", "find_annotation_file"]

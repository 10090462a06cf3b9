"""The top-down pose pipeline: person boxes in, keypoints in image pixels out (numpy + OpenCV only).

There is no person detector in this package: boxes come from the user's
detector, or from :class:`PoseTracker`, which derives each person's next box
from the keypoints of the previous frame. With no boxes, the whole image is
one person.

Conventions (those of mmpose's top-down models, which Lite-HRNet was trained with):

- Images are H x W x 3 uint8 BGR (OpenCV's order); grayscale (H x W, H x W x 1)
  and BGRA (H x W x 4) images are converted.
- Boxes are N x 4 ``(x1, y1, x2, y2)`` in image pixels, or N x 5 with a
  detection score last. The crop geometry (box -> center and scale, the affine
  crop, heatmap coordinates back to the image) is :mod:`lite_hrnet.geometry`'s;
  the warp is bilinear with zero padding outside the image.
- Keypoints are N x K x 2 ``(x, y)`` image pixels, scores N x K.
- Boxes that lie entirely outside the image are skipped: the result then has
  fewer persons than boxes given, and ``PoseResult.box_indices`` says which
  input box each person came from. Boxes partly outside are used as they are
  (the warp pads with zeros).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .codec import decode_heatmaps, flip_heatmaps_back, flip_images
from .geometry import (
    PADDING, box_to_center_scale, crop_matrix, heatmap_to_image, keypoints_to_boxes, normalize_crops, warp_crop,
)
from .runtimes import Backend, load
from .smoothing import OneEuroFilter

__all__ = [
    "IMAGE_SUFFIXES", "PoseEstimator", "PoseResult", "PoseTracker", "box_to_center_scale", "check_boxes", "crop_matrix",
    "draw_poses", "heatmap_to_image", "keypoints_to_boxes", "load_image", "person_score", "prepare_image",
    "to_coco_results",
]


# ---------------------------------------------------------------------------- results


@dataclass
class PoseResult:
    """Poses of one image.

    Attributes:
        keypoints: N x K x 2 float32 (x, y) in image pixels.
        scores: N x K float32 keypoint scores (heatmap maxima).
        boxes: N x 4 float32 (x1, y1, x2, y2) the persons were cropped from.
        box_scores: N float32 detection scores (1 where none were given).
        box_indices: N int64 indices of these boxes in the boxes passed to ``predict``.
        track_ids: N int64 track identities (:class:`PoseTracker`), else None.
        heatmaps: N x K x h x w float32 when requested with ``return_heatmaps=True``.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray
    box_indices: np.ndarray
    track_ids: Optional[np.ndarray] = None
    heatmaps: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    @staticmethod
    def empty(num_joints: int) -> "PoseResult":
        return PoseResult(
            keypoints=np.zeros((0, num_joints, 2), np.float32), scores=np.zeros((0, num_joints), np.float32),
            boxes=np.zeros((0, 4), np.float32), box_scores=np.zeros((0,), np.float32),
            box_indices=np.zeros((0,), np.int64),
        )


# ---------------------------------------------------------------------------- input checks


def prepare_image(image: Any, name: str = "image") -> np.ndarray:
    """An H x W x 3 uint8 BGR image from BGR, grayscale (H x W or H x W x 1) or BGRA input.

    Raises:
        ValueError: naming ``name``, for a non-array, an empty image, a dtype other
            than uint8, or a shape that is not H x W (x 1, 3 or 4).
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array (H x W x 3 uint8 BGR), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (H x W x 3 BGR, 0-255), got dtype {image.dtype}")
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[0], image.shape[1]), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"{name} must be H x W x 3 (BGR), H x W, H x W x 1 or H x W x 4, got shape {image.shape}")


def check_boxes(
    boxes: Any, image_shape: Tuple[int, int], name: str = "boxes"
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate person boxes against an image of ``image_shape`` (height, width).

    Args:
        boxes: None (the whole image), a 4/5-vector, or N x 4 / N x 5 ``(x1, y1, x2, y2[, score])``.

    Returns:
        ``(boxes, box_scores, indices)``: M x 4 float32, M float32 and M int64 indices of
        the boxes kept (those that overlap the image; boxes entirely outside are skipped).

    Raises:
        ValueError: naming ``name`` and the box, for a wrong shape, NaN/inf values,
            or zero/negative width or height.
    """
    height, width = image_shape
    if boxes is None:
        return (np.array([[0, 0, width, height]], np.float32), np.ones((1,), np.float32), np.zeros((1,), np.int64))
    try:
        array = np.array(boxes, dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be N x 4 (x1, y1, x2, y2) or N x 5 numbers, got {type(boxes).__name__} "
                         "that is not a regular array of numbers") from None
    if array.ndim == 1 and array.shape[0] in (4, 5):
        array = array[None]
    if array.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    if array.ndim != 2 or array.shape[1] not in (4, 5):
        raise ValueError(f"{name} must be N x 4 (x1, y1, x2, y2) or N x 5 (with a score), got shape {array.shape}")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        raise ValueError(f"{name}[{i}] has NaN or infinite values: {array[i].tolist()}")
    empty = (array[:, 2] <= array[:, 0]) | (array[:, 3] <= array[:, 1])
    if empty.any():
        i = int(np.nonzero(empty)[0][0])
        raise ValueError(
            f"{name}[{i}] = {array[i, :4].tolist()} has zero or negative area (boxes are x1, y1, x2, y2 with x2 > x1, y2 > y1)"
        )
    inside = (array[:, 2] > 0) & (array[:, 3] > 0) & (array[:, 0] < width) & (array[:, 1] < height)
    indices = np.nonzero(inside)[0].astype(np.int64)
    scores = array[:, 4] if array.shape[1] == 5 else np.ones((array.shape[0],))
    return array[indices, :4].astype(np.float32), scores[indices].astype(np.float32), indices


# ---------------------------------------------------------------------------- estimator


class PoseEstimator:
    """Top-down pose estimation on any runtime.

    Args:
        model: a ``.onnx``/``.xml``/``.tflite``/``.pth`` file, a registered model name,
            a :class:`~lite_hrnet.runtimes.Backend`, or a callable with the backend contract
            (N x 3 x H x W float32 -> N x K x h x w float32; give ``spec``/``model_name``).
            An end-to-end ``.onnx``/``.tflite`` (``export --end-to-end``) decodes inside: it runs
            without heatmaps, so without ``flip_test``, ``dark`` and ``return_heatmaps``.
        device, threads, precision: passed to :func:`lite_hrnet.runtimes.load`.
        flip_test: also run the mirrored crops and average the heatmaps (flipped back,
            left/right swapped, shifted one pixel as the official test config does).
        dark: DARK sub-pixel refinement instead of the quarter-pixel shift.
        box_padding: the factor boxes are enlarged by (mmpose: 1.25).
        shift_heatmap: the one-pixel shift of the flipped heatmaps.
        model_name, weights, spec, max_batch: see :func:`lite_hrnet.runtimes.load`.

    Thread safety: ``predict`` keeps no state between calls; concurrent calls are as
    safe as the backend (see :mod:`lite_hrnet.runtimes`).
    """

    def __init__(
        self,
        model: Any,
        device: str = "cpu",
        threads: Optional[int] = None,
        flip_test: bool = False,
        dark: bool = False,
        precision: Optional[str] = None,
        *,
        box_padding: float = PADDING,
        shift_heatmap: bool = True,
        model_name: Optional[str] = None,
        weights: Optional[Union[str, os.PathLike]] = None,
        spec: Any = None,
        max_batch: Optional[int] = None,
    ) -> None:
        if not box_padding > 0:
            raise ValueError(f"box_padding must be positive, got {box_padding!r}")
        self.backend: Backend = load(
            model, device=device, threads=threads, precision=precision, model_name=model_name, weights=weights,
            spec=spec, max_batch=max_batch,
        )
        self.flip_test = bool(flip_test)
        self.dark = bool(dark)
        self.box_padding = float(box_padding)
        self.shift_heatmap = bool(shift_heatmap)
        if self.backend.end_to_end and (flip_test or dark):
            raise ValueError(f"{self.backend.info.path or self.backend.name} is an end-to-end file (decoding inside, no heatmaps): "
                             "flip_test and dark need the plain file")
        meta = self.backend.metadata
        self.mean = tuple(float(v) for v in meta["mean"])
        self.std = tuple(float(v) for v in meta["std"])
        self.rgb = str(meta.get("color_order", "RGB")).upper() == "RGB"

    # ------------------------------------------------------------------ metadata
    @property
    def metadata(self) -> Dict[str, Any]:
        return self.backend.metadata

    @property
    def info(self):
        return self.backend.info

    @property
    def input_size(self) -> Tuple[int, int]:
        """(height, width) of the network input."""
        return self.backend.input_size

    @property
    def num_joints(self) -> int:
        return self.backend.num_joints

    @property
    def keypoint_names(self) -> List[str]:
        return list(self.metadata.get("keypoint_names", []))

    @property
    def flip_pairs(self) -> List[Tuple[int, int]]:
        return [tuple(p) for p in self.metadata.get("flip_pairs", [])]

    @property
    def skeleton(self) -> List[Tuple[int, int]]:
        return [tuple(e) for e in self.metadata.get("skeleton", [])]

    # ------------------------------------------------------------------ steps
    def centers_scales(self, boxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """N x 2 centers and N x 2 scales (pixels) of N x 4 boxes for this model's aspect ratio."""
        h, w = self.input_size
        return box_to_center_scale(boxes, w / h, self.box_padding)

    def crops(self, image: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """N x H x W x 3 uint8 BGR crops of a BGR uint8 image, the input size."""
        h, w = self.input_size
        crops = np.empty((len(centers), h, w, 3), dtype=np.uint8)
        for i, (c, s) in enumerate(zip(centers, scales)):
            crops[i] = warp_crop(image, crop_matrix(c, s, (h, w)), (h, w))
        return crops

    def preprocess(self, image: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Crops of a BGR uint8 image as the network input: N x 3 x H x W float32, normalized RGB."""
        return normalize_crops(self.crops(image, centers, scales), self.mean, self.std, self.rgb)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Heatmaps of an N x 3 x H x W batch, with the flip test when enabled (one backend call)."""
        if not self.flip_test:
            return self.backend(batch)
        n = batch.shape[0]
        both = self.backend(np.concatenate([batch, flip_images(batch)], axis=0))
        flipped = flip_heatmaps_back(both[n:], self.flip_pairs, shift=self.shift_heatmap)
        return (both[:n] + flipped) * 0.5

    def postprocess(
        self, heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray
    ) -> Tuple[np.ndarray, np.ndarray]:
        """N x K x 2 float32 keypoints in image pixels and N x K float32 scores of N x K x h x w heatmaps."""
        coords, scores = decode_heatmaps(heatmaps, dark=self.dark)
        return heatmap_to_image(coords, centers, scales, heatmaps.shape[2:]), scores.astype(np.float32)

    def estimate(
        self, crops: np.ndarray, centers: np.ndarray, scales: np.ndarray
    ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """Keypoints of N x H x W x 3 uint8 BGR crops (:meth:`crops`) of the regions ``centers``/``scales``.

        The crops may come from several images (evaluation batches across images).

        Returns:
            ``(keypoints, scores, heatmaps)``: N x K x 2 float32 image pixels, N x K float32
            scores, and the N x K x h x w (flip-averaged) heatmaps (None for an end-to-end file).
        """
        if self.backend.end_to_end:  # RGB crops in, keypoints in crop pixels out: map them back as heatmaps of the input size
            out = self.backend.keypoints(np.ascontiguousarray(crops[..., ::-1]))
            return heatmap_to_image(out[..., :2], centers, scales, self.input_size), out[..., 2], None
        heatmaps = self.infer(normalize_crops(crops, self.mean, self.std, self.rgb))
        keypoints, scores = self.postprocess(heatmaps, centers, scales)
        return keypoints, scores, heatmaps

    def predict(self, image: np.ndarray, boxes: Any = None, return_heatmaps: bool = False) -> PoseResult:
        """Keypoints of the persons in ``boxes`` (all of them in one batch).

        Args:
            image: H x W x 3 uint8 BGR (grayscale and BGRA are converted).
            boxes: N x 4 ``(x1, y1, x2, y2)`` pixels, or N x 5 with a detection score;
                None: the whole image is one person. Boxes entirely outside the
                image are skipped (see ``PoseResult.box_indices``).
            return_heatmaps: keep the (flip-averaged) heatmaps in the result (not for end-to-end files).
        """
        if return_heatmaps and self.backend.end_to_end:
            raise ValueError(f"return_heatmaps=True: {self.backend.info.path or self.backend.name} is an end-to-end file and gives no heatmaps; "
                             "use its plain file")
        image = prepare_image(image)
        kept, box_scores, indices = check_boxes(boxes, image.shape[:2])
        if len(kept) == 0:
            return PoseResult.empty(self.num_joints)
        centers, scales = self.centers_scales(kept)
        keypoints, scores, heatmaps = self.estimate(self.crops(image, centers, scales), centers, scales)
        return PoseResult(
            keypoints=keypoints, scores=scores, boxes=kept, box_scores=box_scores,
            box_indices=indices, heatmaps=heatmaps if return_heatmaps else None,
        )

    __call__ = predict

    def __repr__(self) -> str:
        return f"PoseEstimator({self.backend!r}, flip_test={self.flip_test}, dark={self.dark})"


# ---------------------------------------------------------------------------- tracking


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N x M) of N x 4 and M x 4 ``(x1, y1, x2, y2)`` boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


class PoseTracker:
    """Video pose estimation that needs a detector only when tracking is lost.

    Each frame's boxes come from, in this order: the ``boxes`` given to
    :meth:`update` (e.g. a detector run every few frames); else the boxes derived
    from the previous frame's confident keypoints (:func:`keypoints_to_boxes`);
    else, when nobody is tracked, the whole frame (one person; check
    :attr:`needs_boxes` to run a detector instead).

    A person whose frame has fewer than ``min_keypoints`` keypoints above
    ``kpt_thr`` is lost. Track ids persist while a person is tracked; given boxes
    take over the id of the tracked box they overlap most (IoU above ``iou_thr``).

    With ``smoothing``, the returned keypoints are One-Euro filtered per track
    (:class:`lite_hrnet.smoothing.OneEuroFilter`, keyed by the frame's time stamp);
    the next boxes still come from the raw keypoints, so that the crops follow the
    person without the filter's lag. The Java library's ``PoseTracker`` does the same.

    Args:
        estimator: the :class:`PoseEstimator` to run.
        kpt_thr: keypoint score threshold for the next box.
        min_keypoints: confident keypoints needed to keep tracking a person.
        enlarge: factor the keypoints' bounding box grows by (before the estimator's own padding).
        iou_thr: IoU needed to carry a track id over to a given box.
        smoothing: None (default), True for :class:`~lite_hrnet.smoothing.OneEuroFilter` with its
            defaults, or a filter of your own.
    """

    #: Without time stamps, frame ``i`` (counted from the tracker's creation) is at ``i / 30`` seconds.
    DEFAULT_FRAME_RATE = 30.0

    def __init__(
        self, estimator: PoseEstimator, kpt_thr: float = 0.3, min_keypoints: int = 3, enlarge: float = 1.25,
        iou_thr: float = 0.3, smoothing: Union[None, bool, OneEuroFilter] = None,
    ) -> None:
        self.estimator = estimator
        self.kpt_thr = float(kpt_thr)
        self.min_keypoints = int(min_keypoints)
        self.enlarge = float(enlarge)
        self.iou_thr = float(iou_thr)
        if smoothing is True:
            smoothing = OneEuroFilter()
        elif smoothing is False:
            smoothing = None
        if smoothing is not None and not isinstance(smoothing, OneEuroFilter):
            raise ValueError(f"smoothing must be None, True or a OneEuroFilter, got {type(smoothing).__name__}")
        self.smoothing = smoothing
        self._frames = 0
        self.reset()

    def reset(self) -> None:
        """Forget every track (and the smoothing state); track ids start again at 0."""
        self._forget_tracks()
        self._next_id = 0

    def _forget_tracks(self) -> None:
        # the id counter survives: a person seen after the tracks were lost must not get an old id
        self._boxes = np.zeros((0, 4), np.float32)
        self._ids = np.zeros((0,), np.int64)
        self._box_scores = np.zeros((0,), np.float32)
        if self.smoothing is not None:
            self.smoothing.reset()

    @property
    def needs_boxes(self) -> bool:
        """True when nobody is tracked: the next frame needs detector boxes (or runs on the whole frame)."""
        return len(self._boxes) == 0

    @property
    def tracked_boxes(self) -> np.ndarray:
        """M x 4 boxes that the next frame will use when no boxes are given."""
        return self._boxes.copy()

    def _new_ids(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return ids

    def update(self, frame: np.ndarray, boxes: Any = None, timestamp: Optional[float] = None) -> PoseResult:
        """Poses of one frame; the result carries ``track_ids``.

        Args:
            frame: H x W x 3 uint8 BGR (grayscale and BGRA are converted).
            boxes: detector boxes (N x 4 or N x 5, image pixels), or None to use the tracked boxes
                (or the whole frame when nobody is tracked).
            timestamp: the frame's time in seconds, for smoothing (must increase); default
                ``frames so far / DEFAULT_FRAME_RATE``.
        """
        frame = prepare_image(frame, "frame")
        height, width = frame.shape[:2]
        t = float(timestamp) if timestamp is not None else self._frames / self.DEFAULT_FRAME_RATE
        self._frames += 1
        if boxes is not None:
            given, given_scores, given_indices = check_boxes(boxes, (height, width))
            ids = np.full((len(given),), -1, dtype=np.int64)
            if len(self._boxes) and len(given):
                iou = box_iou(given, self._boxes)
                taken = set()
                for i in np.argsort(-iou.max(axis=1)):
                    j = int(np.argmax(iou[i]))
                    if iou[i, j] > self.iou_thr and j not in taken:
                        ids[i] = self._ids[j]
                        taken.add(j)
            fresh = ids < 0
            ids[fresh] = self._new_ids(int(fresh.sum()))
            use_boxes, use_scores, use_ids = given, given_scores, ids
        elif len(self._boxes):
            use_boxes, use_scores, use_ids = self._boxes, self._box_scores, self._ids
            given_indices = None
        else:
            use_boxes = np.array([[0, 0, width, height]], np.float32)
            use_scores, use_ids = np.ones((1,), np.float32), self._new_ids(1)
            given_indices = None
        if len(use_boxes) == 0:
            self._forget_tracks()
            result = PoseResult.empty(self.estimator.num_joints)
            result.track_ids = np.zeros((0,), np.int64)
            return result
        scored = np.concatenate([use_boxes, use_scores[:, None]], axis=1)
        result = self.estimator.predict(frame, scored)
        result.track_ids = use_ids[result.box_indices]
        if given_indices is not None:  # box_indices count the boxes given to update, as predict's do
            result.box_indices = given_indices[result.box_indices]
        next_boxes, ok = keypoints_to_boxes(result.keypoints, result.scores, self.kpt_thr, self.min_keypoints, self.enlarge)
        next_boxes[:, [0, 2]] = np.clip(next_boxes[:, [0, 2]], 0, width)
        next_boxes[:, [1, 3]] = np.clip(next_boxes[:, [1, 3]], 0, height)
        ok &= (next_boxes[:, 2] > next_boxes[:, 0]) & (next_boxes[:, 3] > next_boxes[:, 1])
        self._boxes = next_boxes[ok]
        self._ids = result.track_ids[ok]
        self._box_scores = result.box_scores[ok]
        if self.smoothing is not None:
            result.keypoints = self.smoothing(result.keypoints, result.track_ids, t)
        return result


# ---------------------------------------------------------------------------- output


def person_score(keypoint_scores: np.ndarray, box_score: float, kpt_score_thr: float = 0.2) -> float:
    """mmpose's person score for COCO evaluation: box score x mean of the K keypoint scores above ``kpt_score_thr`` (0 if none)."""
    scores = np.asarray(keypoint_scores, np.float64)
    confident = scores[scores > kpt_score_thr]
    return (float(confident.mean()) if confident.size else 0.0) * float(box_score)


def to_coco_results(
    result: PoseResult, image_id: Union[int, str], category_id: int = 1, kpt_score_thr: float = 0.2
) -> List[Dict[str, Any]]:
    """COCO keypoint results (one dict per person) as mmpose writes them for COCO evaluation.

    ``keypoints`` is the flat ``[x1, y1, s1, x2, y2, s2, ...]`` list, and
    ``score`` the mean of the keypoint scores above ``kpt_score_thr`` (0 when
    none is) times the box score. No OKS-NMS is applied.
    """
    out: List[Dict[str, Any]] = []
    for i in range(len(result)):
        scores = result.scores[i].astype(np.float64)
        triples = np.concatenate([result.keypoints[i].astype(np.float64), scores[:, None]], axis=1)
        entry: Dict[str, Any] = {
            "image_id": image_id,
            "category_id": int(category_id),
            "keypoints": [round(float(v), 4) for v in triples.reshape(-1)],
            "score": person_score(scores, result.box_scores[i], kpt_score_thr),
        }
        if result.track_ids is not None:
            entry["track_id"] = int(result.track_ids[i])
        out.append(entry)
    return out


_LIMB_COLORS = [
    (255, 128, 0), (255, 153, 51), (255, 178, 102), (230, 230, 0), (255, 153, 255), (153, 204, 255),
    (255, 102, 255), (255, 51, 255), (102, 178, 255), (51, 153, 255), (255, 153, 153), (255, 102, 102),
    (255, 51, 51), (153, 255, 153), (102, 255, 102), (51, 255, 51), (0, 255, 0), (0, 0, 255), (255, 0, 0),
]


def draw_poses(
    image: np.ndarray,
    result: PoseResult,
    skeleton: Optional[Sequence[Sequence[int]]] = None,
    kpt_thr: float = 0.3,
    radius: int = 3,
    thickness: int = 2,
    draw_boxes: bool = False,
    copy: bool = True,
) -> np.ndarray:
    """Draw keypoints (score > ``kpt_thr``) and skeleton edges on a BGR image.

    Args:
        image: H x W x 3 uint8 BGR (grayscale/BGRA converted), drawn on a copy unless ``copy=False``.
        result: the :class:`PoseResult` of this image.
        skeleton: joint index pairs to connect (``PoseEstimator.skeleton``); None draws points only.
        draw_boxes: also draw the person boxes (and track ids).

    Returns:
        The annotated H x W x 3 uint8 BGR image.
    """
    canvas = prepare_image(image)
    if copy or canvas is not image:
        canvas = canvas.copy()
    scale = max(1.0, max(canvas.shape[:2]) / 640.0)
    r = max(1, int(round(radius * scale)))
    t = max(1, int(round(thickness * scale)))
    for i in range(len(result)):
        pts = result.keypoints[i]
        ok = (result.scores[i] > kpt_thr) & np.isfinite(pts).all(axis=1)
        if draw_boxes:
            x1, y1, x2, y2 = (int(round(v)) for v in result.boxes[i])
            cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 200, 255), t)
            if result.track_ids is not None:
                cv2.putText(canvas, f"#{int(result.track_ids[i])}", (x1, max(0, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.5 * scale, (0, 200, 255), t, cv2.LINE_AA)
        for e, (a, b) in enumerate(skeleton or []):
            if a < len(pts) and b < len(pts) and ok[a] and ok[b]:
                pa = (int(round(pts[a, 0])), int(round(pts[a, 1])))
                pb = (int(round(pts[b, 0])), int(round(pts[b, 1])))
                cv2.line(canvas, pa, pb, _LIMB_COLORS[e % len(_LIMB_COLORS)], t, cv2.LINE_AA)
        for j in np.nonzero(ok)[0]:
            cv2.circle(canvas, (int(round(pts[j, 0])), int(round(pts[j, 1]))), r, (0, 255, 0), -1, cv2.LINE_AA)
    return canvas


#: File suffixes read as images where a folder is searched for them (:func:`load_image` reads what OpenCV decodes).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _jpeg_truncated(data: bytes) -> bool:
    """True when no end-of-image marker follows the last start-of-scan (some OpenCV builds decode such files gray-filled).

    In entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so FF D9
    after the last FF DA is the image's own end (an EXIF thumbnail's comes before).
    """
    last_scan = data.rfind(b"\xff\xda")
    return last_scan < 0 or data.find(b"\xff\xd9", last_scan) < 0


def load_image(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an image file as H x W x 3 uint8 BGR; FileNotFoundError / ValueError naming the file.

    The one image reader of prediction, evaluation, training datasets and int8
    calibration. An EXIF orientation tag is applied (as mmpose's loader does, and as
    photo viewers show the picture), so a phone's portrait photo comes upright and the
    keypoints refer to the image the user sees. 16-bit and float images are scaled to
    8 bits, gray expanded to BGR, alpha dropped.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    if data[:2].tobytes() == b"\xff\xd8" and _jpeg_truncated(data.tobytes()):
        raise ValueError(f"{path}: truncated JPEG (no end-of-image marker after the image data)")
    # IMREAD_COLOR applies the EXIF orientation (IMREAD_UNCHANGED would not); ANYDEPTH keeps 16 bits.
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH) if data.size else None
    except cv2.error:  # a header OpenCV refuses (absurd sizes): the same answer as any unreadable file
        image = None
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(np.iinfo(image.dtype).max))) \
            if np.issubdtype(image.dtype, np.integer) else np.clip(image * 255, 0, 255).astype(np.uint8)
    return prepare_image(image, path)

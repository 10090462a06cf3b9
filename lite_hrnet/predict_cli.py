"""``lite-hrnet predict``: pose estimation on images, folders, videos and cameras.

No torch at import time: the runtime is chosen by the model file (``.onnx``,
``.xml``, ``.tflite``, ``.lhrn``; ``.pth`` or a registered name need the torch extra).

There is no person detector: boxes come from ``--boxes`` (a detector's output),
from tracking (``--track``), or the whole image is one person.

``--boxes`` formats (JSON):

- COCO detection results: ``[{"image_id": 785, "bbox": [x, y, w, h], "score": 0.99,
  "category_id": 1}, ...]``. An integer ``image_id`` matches an image whose file
  name is that number (COCO's ``000000000785.jpg`` is 785), or, for a video, the
  frame index (0-based); a string ``image_id`` matches the file name or its stem.
  Entries with a ``category_id`` other than 1 (person) are ignored.
- A COCO dataset file (``{"images": [...], "annotations": [...]}``): images match
  by ``file_name``, boxes are the annotations' (crowd annotations skipped).
- Simple: ``{"file_name.jpg": [[x1, y1, x2, y2, score], ...], ...}`` (score optional);
  keys match the path as given, the file name or the stem; for a video, the keys
  are frame indices (``"0"``, ``"1"``, ...).

``--smooth`` (with ``--track``) smooths the keypoints over time with a One-Euro filter per
track (:mod:`lite_hrnet.smoothing`; a video's clock is its frame times).

With ``--boxes``, an image or frame without entries has no persons (unless
``--track`` carries persons over from the previous frame). Results go to
``OUT/results.json`` (COCO keypoint results plus ``file_name`` and, for videos,
``frame``), annotated images to ``OUT/<name>`` and videos to ``OUT/<stem>_pose.mp4``.

Bad inputs among several (an unreadable or truncated image, a zero-byte file, a video
that does not open, video frames that cannot be decoded) are skipped: each is named on
stderr as it happens, every good one is processed and its results written, and a last
line says how many were skipped. ``results.json`` is written atomically (temporary file,
then rename), also after Ctrl-C. Exit status (:data:`EXIT_CODES`): 0 everything
processed, 3 finished with inputs skipped, 2 bad arguments or a single input that
cannot be read, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .arguments import writable_dir
from .messages import first_line

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

#: Exit status of ``lite-hrnet predict`` (1 stays the CLI's "internal error", see cli.main).
EXIT_OK, EXIT_BAD_INPUT, EXIT_SKIPPED, EXIT_INTERRUPTED = 0, 2, 3, 130
EXIT_CODES = {EXIT_OK: "every input processed", EXIT_BAD_INPUT: "bad arguments, or the single input cannot be read",
              EXIT_SKIPPED: "finished; some inputs or video frames could not be read and were skipped",
              EXIT_INTERRUPTED: "interrupted (results so far written)"}

# A video read that fails this many times in a row (before the frame count the file announces) ends the video.
MAX_FAILED_READS = 5


# ---------------------------------------------------------------------------- inputs


@dataclass
class Source:
    """One input: a list of images, a video file or a camera."""

    kind: str  # "images" | "video" | "camera"
    paths: List[Path] = field(default_factory=list)
    camera: int = 0

    @property
    def label(self) -> str:
        if self.kind == "camera":
            return f"camera{self.camera}"
        return self.paths[0].name if self.kind == "video" else f"{len(self.paths)} images"


def resolve_inputs(inputs: List[str]) -> List[Source]:
    """Sources for the INPUT arguments: image files and folders grouped, videos and cameras on their own.

    Raises:
        FileNotFoundError: an input that does not exist.
        ValueError: a folder without images, or a file of unknown type.
    """
    from .pipeline import IMAGE_SUFFIXES

    sources: List[Source] = []
    images: List[Path] = []
    for text in inputs:
        path = Path(text)
        if not path.exists() and text.isdigit():
            sources.append(Source("camera", camera=int(text)))
            continue
        if not path.exists():
            raise FileNotFoundError(f"input not found: {text}")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ValueError(f"input folder {text} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            images.extend(found)
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            sources.append(Source("video", paths=[path]))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            images.append(path)
        else:
            raise ValueError(f"input {text}: unknown file type {path.suffix or '(no suffix)'!r}; "
                             "expected an image, a video, a folder or a camera index")
    if images:
        sources.insert(0, Source("images", paths=images))
    return sources


def image_id_for(path: Path) -> Union[int, str]:
    """COCO-style image id of a file: the number its stem spells (``000000000785.jpg`` -> 785), else its name."""
    return int(path.stem) if path.stem.isdigit() else path.name


# ---------------------------------------------------------------------------- boxes


class BoxFile:
    """Person boxes per image or video frame, read from ``--boxes`` (formats in the module doc)."""

    def __init__(self, path: Union[str, os.PathLike], box_thr: float = 0.0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"--boxes file not found: {self.path}")
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as e:  # RecursionError: absurdly deep nesting
            raise ValueError(f"--boxes {self.path}: not valid JSON ({first_line(e) or type(e).__name__})") from None
        self.box_thr = float(box_thr)
        self.by_key: Dict[str, List[List[float]]] = {}
        self.image_ids: Dict[str, Union[int, str]] = {}
        if isinstance(data, list):
            self._read_results(data)
        elif isinstance(data, dict) and "annotations" in data and "images" in data:
            self._read_dataset(data)
        elif isinstance(data, dict):
            self._read_simple(data)
        else:
            raise ValueError(f"--boxes {self.path}: expected a list of COCO detections or a JSON object")

    def _bad(self, what: str) -> ValueError:
        return ValueError(f"--boxes {self.path}: {what}")

    def _numbers(self, values: Any, counts: Tuple[int, ...], where: str) -> List[float]:
        """``values`` as floats: a list of one of ``counts`` JSON numbers (NaN coordinates are refused later,
        naming the image); ValueError naming the file and ``where`` otherwise."""
        if (not isinstance(values, list) or len(values) not in counts
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values)):
            shown = json.dumps(values)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise self._bad(f"{where} must be a list of {' or '.join(map(str, counts))} numbers, got {shown}")
        return [float(v) for v in values]

    def _score(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self._bad(f"{where}: score must be a finite number, got {json.dumps(value)}")
        return float(value)

    def _person(self, entry: Dict[str, Any], where: str) -> bool:
        """Whether a COCO entry is a person (``category_id`` 1, the default)."""
        category = entry.get("category_id", 1)
        if isinstance(category, bool) or not isinstance(category, (int, float, str)) or not str(category).isdigit():
            raise self._bad(f"{where}: category_id must be an integer, got {json.dumps(category)}")
        return int(category) == 1

    def _add(self, key: Any, box: List[float]) -> None:
        if box[4] >= self.box_thr:
            self.by_key.setdefault(str(key), []).append(box)

    def _xywh(self, bbox: Any, where: str) -> List[float]:
        x, y, w, h = self._numbers(bbox, (4,), f"{where} bbox")
        return [x, y, x + w, y + h]

    def _read_results(self, data: List[Any]) -> None:
        for i, det in enumerate(data):
            where = f"entry {i}"
            if not isinstance(det, dict) or "image_id" not in det or "bbox" not in det:
                raise self._bad(f"{where} is not a COCO detection (needs image_id and bbox [x, y, w, h])")
            box = self._xywh(det["bbox"], where) + [self._score(det.get("score", 1.0), where)]
            if self._person(det, where):
                self._add(det["image_id"], box)

    def _read_dataset(self, data: Dict[str, Any]) -> None:
        if not isinstance(data["images"], list) or not isinstance(data["annotations"], list):
            raise self._bad("a COCO dataset file needs lists of 'images' and 'annotations'")
        names = {}
        for i, img in enumerate(data["images"]):
            if not isinstance(img, dict) or "id" not in img or not isinstance(img.get("file_name"), str):
                raise self._bad(f"images[{i}] needs an id and a file_name")
            if isinstance(img["id"], (dict, list)):
                raise self._bad(f"images[{i}]: id must be a number or a string")
            names[img["id"]] = img["file_name"]
            self.image_ids[img["file_name"]] = img["id"]
        for i, ann in enumerate(data["annotations"]):
            where = f"annotation {i}"
            if not isinstance(ann, dict) or "bbox" not in ann or "image_id" not in ann:
                raise self._bad(f"{where} lacks image_id or bbox")
            if isinstance(ann["image_id"], (dict, list)):
                raise self._bad(f"{where}: image_id must be a number or a string")
            box = self._xywh(ann["bbox"], where) + [self._score(ann.get("score", 1.0), where)]
            if ann.get("iscrowd", 0) or not self._person(ann, where):
                continue
            self._add(names.get(ann["image_id"], ann["image_id"]), box)

    def _read_simple(self, data: Dict[str, Any]) -> None:
        for key, boxes in data.items():
            where = f"entry {key!r}"
            shape = f"{where} must be a list of [x1, y1, x2, y2] or [x1, y1, x2, y2, score]"
            if not isinstance(boxes, list):
                raise self._bad(shape)
            self.by_key.setdefault(str(key), [])
            for j, b in enumerate(boxes):
                try:
                    box = self._numbers(b, (4, 5), "box")
                except ValueError:
                    raise self._bad(f"{shape}; box {j} is {json.dumps(b)[:60]}") from None
                score = self._score(box[4], f"{where} box {j}") if len(box) == 5 else 1.0
                self._add(key, box[:4] + [score])

    def _array(self, key: Optional[str]) -> Optional[np.ndarray]:
        if key is None or key not in self.by_key:
            return None
        return np.asarray(self.by_key[key], dtype=np.float32).reshape(-1, 5)

    def for_image(self, path: Path, text: Optional[str] = None) -> np.ndarray:
        """N x 5 boxes of an image file (0 x 5 when the file lists none)."""
        candidates = [text, str(path), path.name, path.stem, str(image_id_for(path))]
        for key in candidates:
            found = self._array(key)
            if found is not None:
                return found
        return np.zeros((0, 5), np.float32)

    def for_frame(self, index: int) -> Optional[np.ndarray]:
        """N x 5 boxes of a video frame, or None when the file lists none for it."""
        return self._array(str(index))


# ---------------------------------------------------------------------------- output


def _progress(total: Optional[int], desc: str, enabled: bool):
    from .progress import progress_bar

    return progress_bar(enabled, total=total, desc=desc, unit="frame", leave=False, file=sys.stderr)


class _Display:
    """cv2.imshow with a clear error where OpenCV has no GUI (opencv-python-headless)."""

    def __init__(self) -> None:
        import cv2

        self.cv2 = cv2
        try:
            cv2.namedWindow("lite-hrnet", cv2.WINDOW_NORMAL)
        except cv2.error:
            raise ValueError("--show needs OpenCV with GUI support: pip install opencv-python "
                             "(opencv-python-headless has no windows)") from None

    def show(self, image: np.ndarray) -> bool:
        """Show a frame; False when the user pressed q or Esc."""
        self.cv2.imshow("lite-hrnet", image)
        return (self.cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        self.cv2.destroyAllWindows()


@dataclass
class Stats:
    frames: int = 0
    persons: int = 0
    pose_seconds: float = 0.0
    skipped: int = 0  # images, videos and video frames that could not be read

    def skip(self, what: str, count: int = 1) -> None:
        """Name a skipped input on stderr, as it happens (a long run's log shows where)."""
        self.skipped += count
        print(f"lite-hrnet predict: skipped {what}", file=sys.stderr, flush=True)


def _unique_name(out_dir: Path, name: str, used: set) -> Path:
    stem, suffix = os.path.splitext(name)
    candidate, i = name, 1
    while candidate in used:
        candidate = f"{stem}_{i}{suffix}"
        i += 1
    used.add(candidate)
    return out_dir / candidate


# ---------------------------------------------------------------------------- the command


def cmd_predict(args: argparse.Namespace) -> int:
    import cv2

    from .pipeline import PoseEstimator, PoseTracker, draw_poses, load_image, to_coco_results

    if args.smooth and not args.track:
        raise ValueError("--smooth needs --track (smoothing follows tracked persons)")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be at least 1, got {args.max_frames}")
    for arg, value in (("--box-thr", args.box_thr), ("--kpt-thr", args.kpt_thr)):
        if not math.isfinite(value):
            raise ValueError(f"{arg} must be a finite number, got {value}")
    sources = resolve_inputs(args.inputs)
    boxes = BoxFile(args.boxes, args.box_thr) if args.boxes else None
    out_dir = Path(args.out) if args.out else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ValueError(f"--out {out_dir} exists and is not a folder")
        writable_dir(out_dir, "--out")  # checked before the model loads and the work starts
    estimator = PoseEstimator(
        args.model, device=args.device, threads=args.threads, flip_test=args.flip, dark=args.dark,
        precision=args.precision, model_name=args.model_name, weights=args.weights,
    )
    display = _Display() if args.show else None
    skeleton = estimator.skeleton
    results: List[Dict[str, Any]] = []
    stats = Stats()
    used_names: set = set()
    progress_on = not args.no_progress
    start = time.perf_counter()
    stop = interrupted = False
    # With a single input, an unreadable one is an error (exit 2); among several, it is skipped.
    single_input = sum(len(s.paths) if s.kind == "images" else 1 for s in sources) == 1

    def run(image: np.ndarray, frame_boxes: Optional[np.ndarray], tracker, label: str,
            timestamp: Optional[float] = None) -> Any:
        t0 = time.perf_counter()
        try:
            result = (tracker.update(image, frame_boxes, timestamp) if tracker is not None
                      else estimator.predict(image, frame_boxes))
        except ValueError as e:  # bad boxes from --boxes: say which image
            raise ValueError(f"{label}: {e}") from None
        stats.pose_seconds += time.perf_counter() - t0
        stats.frames += 1
        stats.persons += len(result)
        return result

    def annotate(image: np.ndarray, result) -> np.ndarray:
        return draw_poses(image, result, skeleton, kpt_thr=args.kpt_thr, draw_boxes=args.track)

    try:
        for source in sources:
            if stop:
                break
            tracker = PoseTracker(estimator, kpt_thr=args.kpt_thr, smoothing=args.smooth) if args.track else None
            if source.kind == "images":
                paths = source.paths[: args.max_frames] if args.max_frames else source.paths
                bar = _progress(len(paths), "images", progress_on and len(paths) > 1)
                for path in paths:
                    try:
                        image = load_image(path)
                    except (ValueError, OSError) as e:  # damaged, truncated, empty, not an image, vanished
                        if single_input:
                            raise
                        stats.skip(str(e))
                        if bar is not None:
                            bar.update(1)
                        continue
                    frame_boxes = boxes.for_image(path) if boxes is not None else None
                    result = run(image, frame_boxes, tracker, str(path))
                    image_id = boxes.image_ids.get(path.name, image_id_for(path)) if boxes is not None else image_id_for(path)
                    for entry in to_coco_results(result, image_id):
                        entry["file_name"] = path.name
                        results.append(entry)
                    if out_dir is not None or display is not None:
                        drawn = annotate(image, result)
                        if out_dir is not None:
                            target = _unique_name(out_dir, path.name, used_names)
                            if not cv2.imwrite(str(target), drawn):
                                raise ValueError(f"cannot write {target}")
                        if display is not None and not display.show(drawn):
                            stop = True
                            break
                    if bar is not None:
                        bar.update(1)
                if bar is not None:
                    bar.close()
            else:
                try:
                    stop = _run_stream(source, args, estimator, boxes, run, annotate, results, out_dir, used_names,
                                       display, progress_on, stats) or stop
                except VideoUnreadable as e:
                    if single_input:
                        raise ValueError(str(e)) from None
                    stats.skip(str(e))
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted; writing what was done", file=sys.stderr)
    finally:
        if display is not None:
            display.close()
    elapsed = time.perf_counter() - start
    if out_dir is not None:
        from .atomic import write_text_atomic

        write_text_atomic(out_dir / "results.json", json.dumps(results))
    info = estimator.info
    fps = stats.frames / stats.pose_seconds if stats.pose_seconds > 0 else float("nan")
    total_fps = stats.frames / elapsed if elapsed > 0 else float("nan")
    print(f"{stats.frames} frames, {stats.persons} persons: {fps:.1f} FPS pose estimation "
          f"({total_fps:.1f} FPS end to end) with {info.runtime} {info.version} on {info.device}, "
          f"{info.precision}, threads {info.threads if info.threads else 'default'}")
    if out_dir is not None:
        print(f"results: {out_dir / 'results.json'}")
    if stats.skipped:
        print(f"lite-hrnet predict: {stats.skipped} input(s) skipped (named above); "
              f"the results of the {stats.frames} processed were written", file=sys.stderr)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_SKIPPED if stats.skipped else EXIT_OK


class VideoUnreadable(ValueError):
    """A video file that cannot be opened or yields no frame (skipped when it is one input among several)."""


def _run_stream(source: Source, args, estimator, boxes: Optional[BoxFile], run, annotate, results, out_dir,
                used_names, display, progress_on, stats: Stats) -> bool:
    """Run a video file or a camera; True when the user asked to stop.

    Frames that fail to decode before the frame count the video announces are skipped
    (counted in ``stats``); :data:`MAX_FAILED_READS` failures in a row end the video, and the
    frames it still announced count as skipped. Results keep each frame's position in the file.
    """
    import cv2

    from .pipeline import PoseTracker, to_coco_results

    if source.kind == "video":
        cap = cv2.VideoCapture(str(source.paths[0]))
        name = source.paths[0].name
        if not cap.isOpened():
            raise VideoUnreadable(f"{source.paths[0]}: cannot open video (unsupported codec or not a video)")
    else:
        cap = cv2.VideoCapture(source.camera)
        name = f"camera{source.camera}"
        if not cap.isOpened():
            raise ValueError(f"camera {source.camera}: cannot open (is it connected, and free?)")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if source.kind == "video" else 0
    if args.max_frames:
        total = min(total, args.max_frames) if total > 0 else args.max_frames
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    bar = _progress(total or None, name, progress_on)
    writer = None
    stream_tracker = PoseTracker(estimator, kpt_thr=args.kpt_thr, smoothing=args.smooth) if args.track else None
    stop = False
    index = 0  # the frame's position in the file
    failed_in_a_row = unreadable = decoded = 0
    try:
        while args.max_frames is None or index < args.max_frames:
            ok, frame = cap.read()
            if not ok:
                if index >= total or failed_in_a_row >= MAX_FAILED_READS - 1:
                    unreadable += max(0, total - index)  # announced frames never read (a truncated file)
                    break
                failed_in_a_row += 1
                unreadable += 1
                index += 1
                continue
            failed_in_a_row = 0
            decoded += 1
            frame_boxes = boxes.for_frame(index) if boxes is not None else None
            if boxes is not None and frame_boxes is None and stream_tracker is None:
                frame_boxes = np.zeros((0, 5), np.float32)
            # smoothing's clock: the video's frame times, a camera's arrival times
            seconds = index / fps if source.kind == "video" else time.perf_counter()
            result = run(frame, frame_boxes, stream_tracker, f"{name} frame {index}", seconds)
            for entry in to_coco_results(result, index):
                entry["file_name"] = name
                entry["frame"] = index
                results.append(entry)
            if out_dir is not None or display is not None:
                drawn = annotate(frame, result)
                if out_dir is not None:
                    if writer is None:
                        target = _unique_name(out_dir, f"{Path(name).stem}_pose.mp4", used_names)
                        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                                 (drawn.shape[1], drawn.shape[0]))
                        if not writer.isOpened():
                            raise ValueError(f"cannot write video {target}")
                    writer.write(drawn)
                if display is not None and not display.show(drawn):
                    stop = True
                    break
            index += 1
            if bar is not None:
                bar.update(1)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if bar is not None:
            bar.close()
    if decoded == 0 and source.kind == "video":
        raise VideoUnreadable(f"{source.paths[0]}: no frames could be read")
    if unreadable:
        stats.skip(f"{unreadable} of the {total} frames of {name}: they could not be decoded", unreadable)
    return stop


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lite-hrnet predict``."""
    p = sub.add_parser(
        "predict",
        help="pose estimation on images, folders, videos or a camera (no detector: boxes from --boxes, tracking or the whole image)",
        description=(
            "Top-down pose estimation with any runtime (.onnx, .xml, .tflite, .lhrn, .pth or a registered name). "
            "There is no person detector: give boxes with --boxes, use --track on videos, "
            "or each image is one person."
        ),
        epilog="exit status: " + "; ".join(f"{code} {what}" for code, what in EXIT_CODES.items()),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="images, folders of images, video files or camera indices (0, 1, ...)")
    p.add_argument("--model", required=True, help="model file (.onnx, .xml, .tflite, .lhrn, .pth/.pt) or registered model name")
    p.add_argument("--model-name", help="registered model of a .pth checkpoint without meta['model_name'], "
                                        "or metadata for a file exported elsewhere")
    p.add_argument("--weights", help="checkpoint for a registered model name (default: its release, downloaded)")
    p.add_argument("--boxes", help="person boxes: COCO detection results JSON, a COCO dataset JSON, "
                                   "or {file_name: [[x1, y1, x2, y2, score], ...]}")
    p.add_argument("--box-thr", type=float, default=0.3, help="ignore --boxes entries scored below this (default 0.3)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or gpu (also npu/auto for OpenVINO); default cpu")
    p.add_argument("--threads", type=int, help="CPU threads for the runtime (default: the runtime's choice)")
    p.add_argument("--precision", help="OpenVINO inference precision (fp32, bf16, fp16) or the torch dtype")
    p.add_argument("--out", help="folder for results.json and the annotated images / videos")
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (q or Esc quits)")
    p.add_argument("--flip", action="store_true", help="flip test: average with the mirrored crops")
    p.add_argument("--dark", action="store_true", help="DARK sub-pixel decoding")
    p.add_argument("--track", action="store_true",
                   help="derive each person's next box from the previous frame's keypoints (videos, cameras, image sequences)")
    p.add_argument("--smooth", action="store_true",
                   help="with --track: One-Euro smoothing of the keypoints over time (lite_hrnet.smoothing)")
    p.add_argument("--kpt-thr", type=float, default=0.3, help="keypoint score threshold for drawing and tracking (default 0.3)")
    p.add_argument("--max-frames", type=int, help="stop each video/camera (and image list) after this many frames")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_predict)

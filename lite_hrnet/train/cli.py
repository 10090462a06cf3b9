"""The ``train``, ``eval`` and ``synth`` verbs of ``lite-hrnet``.

Importing this module imports neither torch nor pycocotools: each command
imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple

from ..arguments import parse_size

if TYPE_CHECKING:  # the runtimes are imported when a command runs
    from ..runtimes import Backend


def cmd_synth(args: argparse.Namespace) -> int:
    from ..synth import generate_dataset

    size = parse_size(args.size, "--size")
    path = generate_dataset(args.out_dir, args.images, seed=args.seed, image_size=size, progress=not args.quiet)
    coco = json.loads(path.read_text())
    print(f"wrote {len(coco['images'])} images with {len(coco['annotations'])} people to {Path(args.out_dir)} "
          f"(annotations: {path})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ..specs import get_model_spec

    get_model_spec(args.name)  # unknown names fail before torch loads
    for flag, value in (("--data", args.data), ("--val", args.val)):
        if value is not None and not Path(value).exists():
            raise FileNotFoundError(f"{flag}: {value} not found")
    from ..arguments import writable_dir

    writable_dir(args.out, "--out")  # before hours of training, not at the first checkpoint
    from .engine import TrainConfig, train

    cfg = TrainConfig(
        model_name=args.name, data=args.data, val=args.val, weights=args.weights, epochs=args.epochs, batch=args.batch,
        lr=args.lr, amp=args.amp, workers=args.workers, out=args.out, resume=args.resume,
        input_size=parse_size(args.input_size) if args.input_size else None,
        warmup_iters=args.warmup_iters, sync_bn=args.sync_bn, seed=args.seed, val_max_images=args.val_max_images,
        val_flip=args.val_flip, progress=not args.no_progress, device=args.device, threads=args.threads,
    )
    summary = train(cfg)
    if "final" in summary:
        best = summary["best_ap"]
        print(f"trained {summary['iterations']} iterations in {summary['seconds']:.0f} s; final weights {summary['final']}"
              + (f"; best val AP {best:.4f}" if best is not None and best >= 0 else ""))
    return 0


def load_eval_backend(
    model: str, weights: Optional[str] = None, model_name: Optional[str] = None, input_size: Optional[Tuple[int, int]] = None,
    device: str = "cpu", threads: Optional[int] = None,
) -> Backend:
    """The runtime backend ``lite-hrnet eval`` runs: :func:`lite_hrnet.runtimes.load`, at the size it evaluates.

    Checkpoints (``.pth``/``.pt``) and registered names run in PyTorch, at ``input_size``,
    else at a checkpoint's ``meta['input_size']`` (written by ``lite-hrnet train``), else at
    the model's own. Exported files (``.onnx``, ``.xml``, ``.tflite``) run at the size they
    were exported at; another ``input_size`` is an error.
    """
    from ..runtimes import load

    backend = load(model, device=device, threads=threads, model_name=model_name, weights=weights)
    size = tuple(input_size) if input_size else None
    if size is None and Path(model).suffix.lower() in (".pth", ".pt"):
        from ..models.checkpoint import read_checkpoint_meta

        trained = read_checkpoint_meta(model).get("input_size")
        size = (int(trained[0]), int(trained[1])) if trained else None
    if size is None or size == backend.input_size:
        return backend
    if backend.info.runtime != "torch":
        h, w = backend.input_size
        raise ValueError(f"--input-size {size[0]}x{size[1]} does not match {model}, exported at {h}x{w}")
    from ..specs import get_model_spec

    # The same network at another input size (Lite-HRNet is fully convolutional).
    return load(backend.module, device=backend.info.device, spec=replace(get_model_spec(backend.name), input_size=size))


def cmd_eval(args: argparse.Namespace) -> int:
    from ..pipeline import PoseEstimator
    from ..specs import JOINT_SETS, JointSet
    from .dataset import CocoKeypoints
    from .evaluate import evaluate_dataset

    backend = load_eval_backend(
        args.model, weights=args.weights, model_name=args.model_name,
        input_size=parse_size(args.input_size) if args.input_size else None, device=args.device, threads=args.threads,
    )
    meta, size = backend.metadata, backend.input_size
    joint_set = meta.get("joint_set")
    joints = JOINT_SETS.get(joint_set) if joint_set in JOINT_SETS else JointSet(
        name=str(joint_set or "custom"), keypoint_names=tuple(meta["keypoint_names"]),
        flip_pairs=tuple(tuple(p) for p in meta.get("flip_pairs", ())), skeleton=tuple(tuple(e) for e in meta.get("skeleton", ())),
        sigmas=tuple(meta["sigmas"]),
    )
    data = CocoKeypoints(args.data, joints, image_dir=args.images, boxes_file=args.boxes, det_score_threshold=args.det_threshold)
    estimator = PoseEstimator(backend, flip_test=args.flip, dark=args.dark)
    result = evaluate_dataset(estimator, data, batch_size=args.batch, max_images=args.max_images)
    report = {
        "model": args.model, "data": str(data.ann_file), "boxes": args.boxes or "ground truth", "input_size": list(size),
        "flip": args.flip, "metrics": result.metrics, "persons": result.num_persons, "images": result.num_images,
        "seconds": round(result.seconds, 3),
    }
    if args.save_results:
        Path(args.save_results).write_text(json.dumps(result.results))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.model} on {data.ann_file} ({report['boxes']} boxes, input {size[0]}x{size[1]}"
              f"{', flip' if args.flip else ''}):")
        print("  " + result.summary())
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``train``, ``eval`` and ``synth``."""
    p = sub.add_parser("train", help="train or fine-tune a model on COCO-format keypoint data",
                       description="Top-down training as the official configs (Adam, warm-up, step decay, JointsMSELoss). "
                                   "Multi-GPU: torchrun --nproc_per_node N -m lite_hrnet.cli train ...")
    p.add_argument("name", help="registered model name (architecture and joint set)")
    p.add_argument("--data", required=True, help="training set: COCO keypoint .json or a folder holding one and its images")
    p.add_argument("--val", help="validation set (same forms); evaluated (COCO AP) at every epoch end")
    p.add_argument("--weights", help="initial weights: checkpoint path or a registered name to download")
    p.add_argument("--epochs", type=int, default=210, help="epochs (default 210; decay epochs scale with it)")
    p.add_argument("--batch", type=int, default=64, help="samples per step and process (default 64)")
    p.add_argument("--lr", type=float, help="base lr (default 2e-3 x total batch / 512)")
    p.add_argument("--warmup-iters", type=int, default=500, help="linear warm-up iterations (default 500)")
    p.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    p.add_argument("--workers", type=int, default=2, help="data loading processes (default 2)")
    p.add_argument("--out", default="work_dirs/train", help="output folder for checkpoints and logs")
    p.add_argument("--resume", action="store_true", help="continue from OUT/latest.pth")
    p.add_argument("--input-size", help="HEIGHTxWIDTH crop size, multiples of 32 (default: the model's)")
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across processes (distributed runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-max-images", type=int, help="evaluate on the first N validation images only")
    p.add_argument("--val-flip", action="store_true", help="flip test during validation")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="COCO keypoint AP/AR (and PCK) of a model on a COCO-format dataset",
                       description="Evaluate a checkpoint, a registered model (its release) or an exported file.")
    p.add_argument("model", help="checkpoint .pth, registered model name, or exported .onnx / .xml / .tflite")
    p.add_argument("--data", required=True, help="COCO keypoint .json or a folder holding one and its images")
    p.add_argument("--images", help="image folder (default: next to the annotations)")
    p.add_argument("--boxes", help="person detections (COCO results .json); default: ground-truth boxes")
    p.add_argument("--det-threshold", type=float, default=0.0, help="minimum detection score (default 0)")
    p.add_argument("--flip", action="store_true", help="average with the mirrored crop (flip test)")
    p.add_argument("--dark", action="store_true", help="DARK sub-pixel decoding")
    p.add_argument("--weights", help="checkpoint for a registered model name")
    p.add_argument("--model-name", help="registered model of a checkpoint that does not record it")
    p.add_argument("--input-size", help="HEIGHTxWIDTH crop size (default: the checkpoint's or the model's)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--max-images", type=int, help="evaluate the first N images only")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int)
    p.add_argument("--save-results", help="write the COCO keypoint results to this .json")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("synth", help="write a synthetic person dataset (COCO keypoints format)")
    p.add_argument("out_dir", help="output folder (images/ and annotations.json)")
    p.add_argument("--images", type=int, default=100, help="number of images (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the output is deterministic for a seed")
    p.add_argument("--size", default="320x320", help="image HEIGHTxWIDTH (default 320x320)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)

"""The training loop: Adam, linear warm-up and step decay, JointsMSELoss, AMP, DDP, checkpoints and logs (needs torch).

Schedule of the official configs (Lite-HRNet / mmpose 0.x): Adam, lr 2e-3 for
a total batch of 512 (8 GPUs x 64), linear warm-up over the first 500
iterations from 0.001 x lr, lr x 0.1 at epochs 170 and 200 of 210. Here the
lr scales linearly with the total batch (``batch x processes``) unless given,
and the decay epochs scale with ``epochs`` (``round(epochs * 170 / 210)``...).

Multi-GPU: run under ``torchrun --nproc_per_node N -m lite_hrnet.cli train ...``;
each process gets ``batch`` samples per step (a DistributedSampler shards the
data), gradients are all-reduced by DistributedDataParallel (NCCL on CUDA,
gloo on CPU), and rank 0 evaluates, logs and writes the checkpoints.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..models import create_model
from ..models.checkpoint import (
    CheckpointError, load_state_dict_strict, normalize_state_dict, read_checkpoint, save_checkpoint,
)
from ..specs import get_model_spec
from .dataset import CocoKeypoints, TopDownDataset
from ..pipeline import PoseEstimator
from ..progress import progress_bar
from .evaluate import evaluate_dataset

OFFICIAL_LR = 2e-3
OFFICIAL_BATCH = 512
OFFICIAL_EPOCHS = 210
OFFICIAL_STEPS = (170, 200)


class JointsMSELoss(nn.Module):
    """MSE between heatmaps, masked by target weights, x 0.5 (mmpose ``JointsMSELoss(use_target_weight=True)``).

    ``pred`` and ``target`` are N x K x H x W, ``weight`` N x K. The loss is
    ``0.5 * mean_k mean_{n,y,x} (w_nk * (pred - target))²``.
    """

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
        w = weight[:, :, None, None].to(pred.dtype)
        return 0.5 * ((pred.float() - target.float()) * w.float()).pow(2).mean()


@dataclass
class LRSchedule:
    """Linear warm-up (per iteration), then step decay (per epoch)."""

    base_lr: float
    steps: Tuple[int, ...]
    gamma: float = 0.1
    warmup_iters: int = 500
    warmup_ratio: float = 0.001

    def lr(self, epoch: int, iteration: int) -> float:
        """lr at 0-based ``epoch`` and global 0-based ``iteration``."""
        lr = self.base_lr * self.gamma ** sum(epoch >= s for s in self.steps)
        if iteration < self.warmup_iters:
            lr *= 1 - (1 - iteration / self.warmup_iters) * (1 - self.warmup_ratio)
        return lr


def decay_steps(epochs: int) -> Tuple[int, ...]:
    """The official decay epochs (170, 200 of 210), scaled to ``epochs``; each at least 1 and below ``epochs`` when possible."""
    return tuple(max(1, round(epochs * s / OFFICIAL_EPOCHS)) for s in OFFICIAL_STEPS)


@dataclass
class TrainConfig:
    """Arguments of ``lite-hrnet train``. ``batch`` is per process; sizes are (height, width)."""

    model_name: str
    data: str
    val: Optional[str] = None
    weights: Optional[str] = None
    epochs: int = OFFICIAL_EPOCHS
    batch: int = 64
    lr: Optional[float] = None
    amp: bool = False
    workers: int = 2
    out: str = "work_dirs/train"
    resume: bool = False
    input_size: Optional[Tuple[int, int]] = None
    warmup_iters: int = 500
    sync_bn: bool = False
    seed: int = 0
    val_max_images: Optional[int] = None
    val_flip: bool = False
    progress: bool = True
    device: Optional[str] = None
    threads: Optional[int] = None


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_type: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _pick_device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.device:
        return torch.device(cfg.device)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _write_csv(path: Path, row: Dict[str, object], fields: List[str]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)


def _truncate_csv(path: Path, column: str, last: int) -> None:
    """Drop the rows logged after the checkpoint a run resumes from (``column > last``)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], [r for r in reader if int(r[column]) <= last]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


EPOCH_FIELDS = ["epoch", "iterations", "loss", "lr", "epoch_seconds", "samples_per_second",
                "val_AP", "val_AP50", "val_AP75", "val_AR", "val_PCK@0.2", "val_seconds"]
ITER_FIELDS = ["iteration", "epoch", "loss", "lr", "elapsed_seconds"]


def _resume_checkpoint(latest: Path, previous: Path, say: bool) -> Tuple[dict, Path]:
    """The checkpoint ``--resume`` continues from, and its path: ``latest``, else ``previous`` (the one before it).

    Checkpoints are written atomically, so a kill leaves no truncated file; the fallback
    covers a ``latest.pth`` damaged afterwards (a full disk, a bad copy) and the moment
    between rotating ``latest`` to ``previous`` and writing the new one.
    Raises FileNotFoundError (neither exists) or CheckpointError (none is usable), naming the files.
    """
    problems = []
    for path in (latest, previous):
        if not path.is_file():
            continue
        try:
            ckpt = read_checkpoint(path)
            if not isinstance(ckpt, dict) or "optimizer" not in ckpt or "epoch" not in ckpt:
                raise CheckpointError(f"{path} has no optimizer state or epoch to resume from")
        except CheckpointError as e:
            problems.append(str(e))
            continue
        if problems and say:
            print(f"lite-hrnet train: {problems[0]}; using {path.name} (epoch {int(ckpt['epoch'])}) instead",
                  file=sys.stderr)
        return ckpt, path
    if not problems:
        raise FileNotFoundError(f"--resume: no checkpoint at {latest}")
    raise CheckpointError(f"--resume: no usable checkpoint: {'; '.join(problems)}")


def train(cfg: TrainConfig) -> Dict[str, object]:
    """Train ``cfg.model_name`` on a COCO-format dataset; returns a summary (final metrics, checkpoint paths).

    Writes into ``cfg.out``: ``latest.pth`` (model + optimizer + epoch, for
    ``--resume``; the one before it kept as ``previous.pth``), ``best.pth`` (highest validation AP, when ``val`` is given),
    ``final.pth`` (weights and meta only), ``log.csv`` (per epoch) and
    ``iterations.csv`` (every few iterations). The ``.pth`` files use the
    released ``{'state_dict', 'meta'}`` layout: ``create_model(name, weights=path)`` loads them.
    """
    spec = get_model_spec(cfg.model_name)
    input_size = tuple(cfg.input_size) if cfg.input_size else spec.input_size
    if input_size[0] % 32 or input_size[1] % 32:
        raise ValueError(f"--input-size must be multiples of 32, got {input_size[0]}x{input_size[1]}")
    if cfg.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {cfg.epochs}")
    if cfg.batch < 1:
        raise ValueError(f"--batch must be at least 1, got {cfg.batch}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dev_type = "cuda" if (cfg.device or "").startswith("cuda") or (not cfg.device and torch.cuda.is_available()) else "cpu"
    dd = _init_distributed(dev_type)
    device = _pick_device(cfg, dd.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed + dd.rank)
    out = Path(cfg.out)
    if dd.main:
        out.mkdir(parents=True, exist_ok=True)

    train_set = CocoKeypoints(cfg.data, spec.joints, min_keypoints=1)
    if not train_set.records:
        raise ValueError(f"no person with labelled keypoints in {train_set.ann_file}")
    val_set = CocoKeypoints(cfg.val, spec.joints) if cfg.val else None
    val_spec = replace(spec, input_size=input_size)
    # The spec's sigma (2 at 256x192, 3 at 384x288); for another --input-size, the official rule by height.
    sigma = spec.target_sigma if input_size == spec.input_size else (3.0 if input_size[0] >= 384 else 2.0)
    ds = TopDownDataset(train_set.records, spec.joints, input_size, sigma, spec.mean, spec.std, train=True)

    sampler = torch.utils.data.distributed.DistributedSampler(ds, dd.world, dd.rank, shuffle=True, seed=cfg.seed) if dd.enabled else None
    loader = torch.utils.data.DataLoader(
        ds, batch_size=cfg.batch, shuffle=sampler is None, sampler=sampler, num_workers=cfg.workers,
        pin_memory=device.type == "cuda", drop_last=len(ds) >= cfg.batch * dd.world, persistent_workers=cfg.workers > 0,
    )

    model = create_model(cfg.model_name, weights=cfg.weights, progress=dd.main).train()
    if dd.enabled and cfg.sync_bn:
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif dd.main:
            print("lite-hrnet train: --sync-bn needs CUDA (torch's SyncBatchNorm); using per-process BatchNorm", file=sys.stderr)
    model.to(device)
    net: nn.Module = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) if dd.enabled else model

    total_batch = cfg.batch * dd.world
    base_lr = cfg.lr if cfg.lr is not None else OFFICIAL_LR * total_batch / OFFICIAL_BATCH
    schedule = LRSchedule(base_lr, decay_steps(cfg.epochs), warmup_iters=cfg.warmup_iters)
    optimizer = torch.optim.Adam(model.parameters(), lr=base_lr)
    use_amp = cfg.amp and device.type == "cuda"
    if cfg.amp and not use_amp and dd.main:
        print("lite-hrnet train: --amp needs CUDA; training in fp32", file=sys.stderr)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    criterion = JointsMSELoss()

    start_epoch, iteration, best_ap = 0, 0, -1.0
    latest, previous = out / "latest.pth", out / "previous.pth"
    if cfg.resume:
        ckpt, latest_read = _resume_checkpoint(latest, previous, dd.main)
        load_state_dict_strict(model, normalize_state_dict(ckpt), source=str(latest_read))
        optimizer.load_state_dict(ckpt["optimizer"])
        if use_amp and "scaler" in ckpt:
            scaler.load_state_dict(ckpt["scaler"])
        start_epoch, iteration = int(ckpt["epoch"]), int(ckpt.get("iteration", 0))
        best_ap = float(ckpt.get("best_ap", -1.0))
        if dd.main:
            _truncate_csv(out / "iterations.csv", "iteration", iteration)
            _truncate_csv(out / "log.csv", "epoch", start_epoch)
            print(f"resuming from {latest_read} at epoch {start_epoch + 1}", file=sys.stderr)

    meta = {
        "model_name": cfg.model_name, "input_size": list(input_size), "target_sigma": sigma,
        "joint_set": spec.joints.name, "num_joints": spec.num_joints, "trained_with": "lite-hrnet train",
        "train_data": str(train_set.ann_file), "total_batch": total_batch, "base_lr": base_lr,
    }
    config_dump = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}
    history: List[Dict[str, object]] = []
    t_start = time.perf_counter()
    log_every = max(1, min(20, len(loader) // 4 or 1))
    for epoch in range(start_epoch, cfg.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        # Shuffling and augmentation draw from a seed per epoch, so a resumed run repeats an uninterrupted one.
        torch.manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + dd.rank)
        net.train()
        t0 = time.perf_counter()
        loss_sum, n_seen = 0.0, 0
        bar = progress_bar(dd.main and cfg.progress, total=len(loader), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="it",
                           mininterval=2.0, dynamic_ncols=True, leave=True)
        window: List[float] = []
        for batch in loader:
            lr = schedule.lr(epoch, iteration)
            for g in optimizer.param_groups:
                g["lr"] = lr
            images = batch["image"].to(device, non_blocking=True)
            target = batch["target"].to(device, non_blocking=True)
            weight = batch["target_weight"].to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                pred = net(images)
            loss = criterion(pred, target, weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"loss is {value} at iteration {iteration}; lower --lr")
            loss_sum += value * images.shape[0]
            n_seen += images.shape[0]
            window.append(value)
            iteration += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.3e}", lr=f"{lr:.2e}", refresh=False)
            if dd.main and iteration % log_every == 0:
                _write_csv(out / "iterations.csv", {"iteration": iteration, "epoch": epoch + 1, "loss": f"{np.mean(window):.6e}",
                                                     "lr": f"{lr:.6e}", "elapsed_seconds": f"{time.perf_counter() - t_start:.1f}"},
                           ITER_FIELDS)
                window = []
        if bar is not None:
            bar.close()
        epoch_loss = loss_sum / max(1, n_seen)
        if dd.enabled:
            t = torch.tensor([loss_sum, float(n_seen)], dtype=torch.float64, device=device)
            dist.all_reduce(t)
            epoch_loss = float(t[0] / max(1.0, float(t[1])))
            n_seen = int(t[1])
        epoch_seconds = time.perf_counter() - t0
        row: Dict[str, object] = {
            "epoch": epoch + 1, "iterations": iteration, "loss": f"{epoch_loss:.6e}", "lr": f"{lr:.6e}",
            "epoch_seconds": f"{epoch_seconds:.1f}", "samples_per_second": f"{n_seen / max(epoch_seconds, 1e-9):.2f}",
        }
        if dd.main:
            ap = None
            if val_set is not None:
                # The model as it is, through the pipeline at the training input size (eval mode, then back).
                on = str(next(model.parameters()).device)
                estimator = PoseEstimator(model, device=on, flip_test=cfg.val_flip, spec=val_spec)
                res = evaluate_dataset(estimator, val_set, batch_size=max(cfg.batch, 16), max_images=cfg.val_max_images)
                model.train()
                ap = res.metrics["AP"]
                row.update({"val_AP": f"{ap:.4f}", "val_AP50": f"{res.metrics['AP50']:.4f}", "val_AP75": f"{res.metrics['AP75']:.4f}",
                            "val_AR": f"{res.metrics['AR']:.4f}", "val_PCK@0.2": f"{res.metrics.get('PCK@0.2', float('nan')):.4f}",
                            "val_seconds": f"{res.seconds:.1f}"})
            _write_csv(out / "log.csv", row, EPOCH_FIELDS)
            history.append(row)
            print(f"epoch {epoch + 1}/{cfg.epochs}: loss {epoch_loss:.4e}, lr {lr:.2e}, {epoch_seconds:.0f} s"
                  + (f", val AP {ap:.4f}" if ap is not None else ""), file=sys.stderr, flush=True)
            epoch_meta = dict(meta, epoch=epoch + 1, val_ap=ap)
            if ap is not None and ap > best_ap:
                best_ap = ap
                save_checkpoint(out / "best.pth", model, epoch_meta)
            extra = {"optimizer": optimizer.state_dict(), "epoch": epoch + 1, "iteration": iteration, "best_ap": best_ap,
                     "config": config_dump}
            if use_amp:
                extra["scaler"] = scaler.state_dict()
            if latest.is_file():  # kept until the new one is complete: the fallback of --resume
                os.replace(latest, previous)
            save_checkpoint(latest, model, epoch_meta, **extra)
        if dd.enabled:
            dist.barrier()
    summary: Dict[str, object] = {"epochs": cfg.epochs, "iterations": iteration, "history": history,
                                  "seconds": time.perf_counter() - t_start, "out": str(out), "best_ap": best_ap}
    if dd.main:
        summary["final"] = str(save_checkpoint(out / "final.pth", model, dict(meta, epoch=cfg.epochs)))
    if dd.enabled:
        dist.barrier()
        dist.destroy_process_group()
    return summary


__all__ = ["JointsMSELoss", "LRSchedule", "TrainConfig", "decay_steps", "train"]

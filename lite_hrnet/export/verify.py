"""Parity of an exported file against PyTorch: heatmap error and keypoint agreement.

The tolerances are those the toolkit promises:

- fp32: relative L2 error of the heatmaps <= 1e-4;
- fp16: <= 5e-3;
- int8: lossy by design, so judged by keypoints: the share of joints whose
  decoded location lies within 0.5 heatmap pixel of the fp32 model's ("PCK
  agreement") and the mean displacement in input-crop pixels. The export fails
  when agreement drops below ``INT8_MIN_AGREEMENT``: that is a broken model
  (dead or saturated activations), not a merely lossy one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

REL_ERROR_LIMITS = {"fp32": 1e-4, "fp16": 5e-3}
INT8_MIN_AGREEMENT = 0.5
AGREEMENT_RADIUS_HM_PX = 0.5


@dataclass
class Parity:
    """How an export's heatmaps compare with PyTorch's on the same inputs."""

    rel_error: float  # ||y - y_ref|| / ||y_ref|| over the whole batch
    mean_displacement_px: float  # keypoint shift in input-crop pixels
    max_displacement_px: float
    agreement: float  # share of joints within 0.5 heatmap pixel of PyTorch's
    passed: bool
    limit: str  # the rule that was applied, for the report


def argmax_keypoints(heatmaps: np.ndarray) -> np.ndarray:
    """N x K x H x W heatmaps -> N x K x 2 (x, y) integer argmax locations in heatmap pixels."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w).argmax(axis=2)
    return np.stack([flat % w, flat // w], axis=-1).astype(np.float32)


def compare(heatmaps: np.ndarray, reference: np.ndarray, precision: str, stride: int = 4) -> Parity:
    """Compare N x K x H x W ``heatmaps`` with PyTorch's ``reference`` and apply the precision's tolerance."""
    if heatmaps.shape != reference.shape:
        raise ValueError(f"heatmap shape {heatmaps.shape} differs from PyTorch's {reference.shape}")
    rel = float(np.linalg.norm(heatmaps - reference) / max(np.linalg.norm(reference), 1e-12))
    d = np.linalg.norm(argmax_keypoints(heatmaps) - argmax_keypoints(reference), axis=-1)
    agreement = float((d <= AGREEMENT_RADIUS_HM_PX).mean())
    if precision in REL_ERROR_LIMITS:
        limit = REL_ERROR_LIMITS[precision]
        passed, rule = rel <= limit, f"relative error <= {limit:g}"
    else:
        passed, rule = agreement >= INT8_MIN_AGREEMENT, f"keypoint agreement >= {INT8_MIN_AGREEMENT:.0%}"
    return Parity(rel, float(d.mean() * stride), float(d.max() * stride), agreement, bool(passed), rule)


def run_artifact(fmt: str, path, batch: np.ndarray, threads: Optional[int] = None) -> Tuple[np.ndarray, str]:
    """Run an exported file with its own runtime on N x 3 x H x W inputs; returns (heatmaps NCHW, precision run)."""
    from ..runtimes import load

    # OpenVINO would pick bf16 on CPUs with avx512_bf16; parity is checked in f32.
    backend = load(path, threads=threads, precision="fp32" if fmt == "openvino" else None)
    return backend(batch), backend.info.precision

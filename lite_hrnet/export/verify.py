"""Parity of an exported file against PyTorch: heatmap error and keypoint agreement.

The tolerances are those the toolkit promises:

- fp32: relative L2 error of the heatmaps <= 1e-4, or, for networks whose own
  float32 rounding is larger, <= ``FP32_NOISE_FACTOR`` x PyTorch's float32
  error against float64 on the same inputs. Measured: with random weights
  Lite-HRNet-30's PyTorch fp32 output is 1.5e-4 from its fp64 output (LH-18:
  1.0e-5), so its exported files (2-4e-4 from PyTorch fp32) are as close as
  float32 itself allows; a wrong graph is off by 1e-2 or more;
- fp16: <= 5e-3;
- int8: lossy by design, so judged by keypoints: the share of joints whose
  decoded location lies within 0.5 heatmap pixel of PyTorch's ("PCK
  agreement") and the mean displacement. The export fails when agreement drops
  below ``INT8_MIN_AGREEMENT`` or the mean shift exceeds
  ``INT8_MAX_MEAN_SHIFT_HM_PX`` heatmap pixels: a broken model (dead or
  saturated activations), not a merely lossy one. Measured: broken int8 files
  (calibrated on the wrong data) agree on 0-1% of joints and move them by
  80-100 input pixels; sound ones on the weakly trained 128x96 demo model agree
  on 37-74% and move them by 2.6-5 pixels (1.2 heatmap pixels at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

REL_ERROR_LIMITS = {"fp32": 1e-4, "fp16": 5e-3}
FP32_NOISE_FACTOR = 4.0
INT8_MIN_AGREEMENT = 0.2
INT8_MAX_MEAN_SHIFT_HM_PX = 4.0
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


def pytorch_float32_noise(model, batch: np.ndarray, reference: Optional[np.ndarray] = None) -> float:
    """Relative L2 distance of ``model``'s float32 heatmaps from its float64 ones on ``batch`` (N x 3 x H x W).

    How much float32 rounding alone moves this network's output: the floor
    under any fp32 export's error. ``model`` is left untouched (a float64 copy runs).
    """
    import copy

    import torch

    with torch.no_grad():
        if reference is None:
            reference = model(torch.from_numpy(batch)).numpy()
        exact = copy.deepcopy(model).double().eval()(torch.from_numpy(batch).double()).numpy()
    return float(np.linalg.norm(reference - exact) / max(np.linalg.norm(exact), 1e-300))


def compare(heatmaps: np.ndarray, reference: np.ndarray, precision: str, stride: int = 4,
            float32_noise: Optional[float] = None) -> Parity:
    """Compare N x K x H x W ``heatmaps`` with PyTorch's ``reference`` and apply the precision's tolerance.

    ``float32_noise`` (:func:`pytorch_float32_noise`) widens the fp32 limit for
    networks whose own float32 rounding exceeds it.
    """
    if heatmaps.shape != reference.shape:
        raise ValueError(f"heatmap shape {heatmaps.shape} differs from PyTorch's {reference.shape}")
    rel = float(np.linalg.norm(heatmaps - reference) / max(np.linalg.norm(reference), 1e-12))
    d = np.linalg.norm(argmax_keypoints(heatmaps) - argmax_keypoints(reference), axis=-1)
    agreement = float((d <= AGREEMENT_RADIUS_HM_PX).mean())
    if precision == "fp32" and float32_noise is not None and FP32_NOISE_FACTOR * float32_noise > REL_ERROR_LIMITS["fp32"]:
        limit = FP32_NOISE_FACTOR * float32_noise
        passed = rel <= limit
        rule = f"relative error <= {limit:.2g} ({FP32_NOISE_FACTOR:g} x PyTorch's own fp32-vs-fp64 error {float32_noise:.1e})"
    elif precision in REL_ERROR_LIMITS:
        limit = REL_ERROR_LIMITS[precision]
        passed, rule = rel <= limit, f"relative error <= {limit:g}"
    else:
        passed = agreement >= INT8_MIN_AGREEMENT and d.mean() <= INT8_MAX_MEAN_SHIFT_HM_PX
        rule = f"keypoint agreement >= {INT8_MIN_AGREEMENT:.0%} and mean shift <= {INT8_MAX_MEAN_SHIFT_HM_PX * stride:g}px"
    return Parity(rel, float(d.mean() * stride), float(d.max() * stride), agreement, bool(passed), rule)


def run_artifact(fmt: str, path, batch: np.ndarray, threads: Optional[int] = None) -> Tuple[np.ndarray, str]:
    """Run an exported file with its own runtime on N x 3 x H x W inputs; returns (heatmaps NCHW, precision run)."""
    from ..runtimes import load

    # OpenVINO would pick bf16 on CPUs with avx512_bf16; parity is checked in f32.
    backend = load(path, threads=threads, precision="fp32" if fmt == "openvino" else None)
    return backend(batch), backend.info.precision

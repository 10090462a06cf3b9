"""What crosses the process boundary of one benchmark row: the :class:`Job` to measure and its :class:`Measurement`.

Both are plain dataclasses of JSON values (``dataclasses.asdict`` in, ``cls(**data)`` out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Job:
    """One combination to measure; JSON-serializable so that it can cross a process boundary."""

    format: str  # torch, onnx, openvino, tflite, engine
    precision: str  # the file's precision (fp32, fp16, int8)
    path: str  # the exported file, or the .pth checkpoint for torch
    model_name: str
    data: str  # .npz with 'check' (N x 3 x H x W inputs) and optionally 'reference' (fp32 PyTorch heatmaps)
    threads: Optional[int] = 1
    batch: int = 1
    device: str = "cpu"
    precision_hint: Optional[str] = None  # OpenVINO INFERENCE_PRECISION_HINT; None: the runtime's default
    warmup: int = 10
    runs: Optional[int] = 100
    seconds: Optional[float] = None
    predict_runs: Optional[int] = 20
    predict_seconds: Optional[float] = None
    stride: int = 4


@dataclass
class Measurement:
    """What a job measured; ``status`` is ok or failed (with ``reason``)."""

    status: str = "ok"
    reason: str = ""
    runtime: Optional[str] = None
    runtime_version: Optional[str] = None
    precision_run: Optional[str] = None
    threads_applied: Optional[int] = None
    threads_source: str = ""
    os_threads: Optional[int] = None
    load_ms: Optional[float] = None
    first_ms: Optional[float] = None
    runs: Optional[int] = None
    median_ms: Optional[float] = None
    p90_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    min_ms: Optional[float] = None
    max_ms: Optional[float] = None
    mean_ms: Optional[float] = None
    throughput_pps: Optional[float] = None
    rss_base_mb: Optional[float] = None
    peak_rss_mb: Optional[float] = None
    rss_source: str = ""  # how peak_rss_mb was measured (see peak_rss_mb, reset_peak_rss)
    rel_error: Optional[float] = None
    kp_agreement: Optional[float] = None
    mean_shift_px: Optional[float] = None
    predict_1p_ms: Optional[float] = None
    predict_8p_ms: Optional[float] = None
    notes: List[str] = field(default_factory=list)


__all__ = ["Job", "Measurement"]

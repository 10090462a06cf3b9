"""Measure one benchmark combination: load, first call, latency, the whole predict, accuracy, threads, memory.

Run in a fresh process (``python -m lite_hrnet.benchmark.worker JOB.json RESULT.json``)
so that its peak RSS belongs to that combination alone and no runtime's thread
pool or process-wide setting (``torch.set_num_threads``) leaks into another;
:func:`run_job` is also called in-process when isolation is turned off.
Only the runtime the job needs is imported.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..formats import get_format
from ..messages import first_line
from .job import Job, Measurement
from .timing import summarize, time_calls

# Frame used to time the whole PoseEstimator.predict (its content does not change the work done).
FRAME_SIZE = (720, 1280)  # height, width


def peak_rss_mb() -> Tuple[Optional[float], str]:
    """This process's RSS high-water mark in MB (10^6 bytes) and where it was read.

    Linux: ``VmHWM`` of /proc/self/status, which belongs to the address space: a
    fresh one after exec, and resettable (:func:`reset_peak_rss`). ``ru_maxrss``
    is the fallback elsewhere; on Linux it would be wrong for a worker, because it
    survives fork + exec and so starts at the parent's peak.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6, "VmHWM"
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None, "unavailable"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6), "ru_maxrss"  # bytes on macOS, KiB elsewhere


def reset_peak_rss() -> bool:
    """Reset the RSS high-water mark to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def os_thread_count() -> Optional[int]:
    """Threads this process has now, as the kernel counts them (Linux); the independent check of thread settings."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def preimport_runtime(fmt: str) -> None:
    """Import the job's runtime before the load clock starts, so that load time is not import time."""
    try:
        if fmt == "tflite":
            from ..runtimes.tflite_backend import import_interpreter

            import_interpreter()
        else:
            importlib.import_module(get_format(fmt).runtime_module)
    except ImportError:
        pass  # load() raises the message that names the extra to install


def applied_threads(backend: Any, fmt: str) -> Tuple[Optional[int], str]:
    """The thread count the runtime reports it applied, and where that number was read."""
    try:
        if fmt == "torch":
            import torch

            return int(torch.get_num_threads()), "torch.get_num_threads()"
        if fmt == "onnx":
            value = int(backend.session.get_session_options().intra_op_num_threads)
            return (value or None), "SessionOptions.intra_op_num_threads" + (" (0: runtime default)" if not value else "")
        if fmt == "openvino":
            return int(backend.compiled.get_property("INFERENCE_NUM_THREADS")), "compiled INFERENCE_NUM_THREADS"
        if fmt == "engine":
            return backend.engine_count, "engines opened (one thread each)"
    except Exception:  # a backend without the handle: fall back to what it says it set
        pass
    return getattr(backend.info, "threads", None), "num_threads as set (no read-back API)" if fmt == "tflite" else "backend.info.threads"


def runtime_settings(backend: Any, fmt: str) -> List[str]:
    """Settings that change latency, as the runtime reports them (so that a report says what actually ran)."""
    out: List[str] = []
    try:
        if fmt == "openvino":
            props = [f"{k}={backend.compiled.get_property(k)}" for k in ("PERFORMANCE_HINT", "NUM_STREAMS", "ENABLE_CPU_PINNING")]
            out.append("OpenVINO " + ", ".join(props))
        elif fmt == "onnx":
            opts = backend.session.get_session_options()
            out.append(f"onnxruntime graph_optimization_level={opts.graph_optimization_level.name}, "
                       f"execution_mode={opts.execution_mode.name}")
    except Exception:  # a backend without these handles: nothing to add
        pass
    return out


def synthetic_frame(size: Tuple[int, int] = FRAME_SIZE, seed: int = 0) -> np.ndarray:
    """A BGR uint8 frame of noise: the pipeline's cost depends on sizes, not on pixels."""
    return np.random.default_rng(seed).integers(0, 256, (size[0], size[1], 3), dtype=np.uint8)


def person_boxes(count: int, size: Tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """``count`` person-shaped boxes (x1, y1, x2, y2) laid out in rows of four across the frame."""
    h, w = size
    cols = min(count, 4)
    rows = -(-count // cols)
    bw, bh = w / cols, h / rows
    boxes = [[c * bw + 0.2 * bw, r * bh + 0.05 * bh, c * bw + 0.8 * bw, r * bh + 0.95 * bh]
             for r in range(rows) for c in range(cols)][:count]
    return np.asarray(boxes, dtype=np.float32)


def _timing_batch(check: np.ndarray, batch: int) -> np.ndarray:
    reps = -(-batch // check.shape[0])
    return np.ascontiguousarray(np.concatenate([check] * reps, axis=0)[:batch])


def _time(fn, runs: Optional[int], seconds: Optional[float]) -> float:
    return summarize(time_calls(fn, runs=runs, seconds=seconds)).median_ms


def run_job(job: Job) -> Measurement:
    """Measure ``job``; a failure anywhere becomes ``status='failed'`` with the reason, never an exception."""
    result = Measurement()
    cv2_threads: Optional[int] = None
    try:
        import cv2

        from .. import runtimes
        from ..export.verify import compare
        from ..pipeline import PoseEstimator

        data = np.load(job.data)
        check = data["check"]
        reference = data["reference"] if "reference" in data.files else None
        x = _timing_batch(check, job.batch)
        if job.threads is not None:
            # Preprocessing counts too: keep OpenCV's pool at the same thread budget.
            cv2_threads = cv2.getNumThreads()
            cv2.setNumThreads(job.threads)
        preimport_runtime(job.format)
        # In a fresh worker this changes nothing; in-process it scopes the peak to this row.
        was_reset = reset_peak_rss()
        result.rss_base_mb, source = peak_rss_mb()
        result.rss_source = source + (" (reset before the row)" if was_reset else "")

        kwargs: Dict[str, Any] = {}
        if job.format == "torch":
            kwargs["model_name"] = job.model_name
        t0 = time.perf_counter_ns()
        backend = runtimes.load(job.path, device=job.device, threads=job.threads, precision=job.precision_hint, **kwargs)
        result.load_ms = (time.perf_counter_ns() - t0) / 1e6
        info = backend.info
        result.runtime, result.runtime_version, result.precision_run = info.runtime, info.version, info.precision

        t0 = time.perf_counter_ns()
        backend(x)
        result.first_ms = (time.perf_counter_ns() - t0) / 1e6
        for _ in range(job.warmup):
            backend(x)
        stats = summarize(time_calls(lambda: backend(x), runs=job.runs, seconds=job.seconds))
        for key in ("runs", "median_ms", "p90_ms", "p99_ms", "min_ms", "max_ms", "mean_ms"):
            setattr(result, key, getattr(stats, key))
        result.throughput_pps = job.batch * 1000.0 / stats.median_ms
        result.threads_applied, result.threads_source = applied_threads(backend, job.format)
        result.os_threads = os_thread_count()
        result.notes.extend(runtime_settings(backend, job.format))
        if backend.max_batch and job.batch > backend.max_batch:
            result.notes.append(f"file has a static batch of {backend.max_batch}: {-(-job.batch // backend.max_batch)} runtime calls per batch")

        if reference is not None:
            parity = compare(backend(check), reference, job.precision, job.stride)
            result.rel_error, result.kp_agreement, result.mean_shift_px = (
                parity.rel_error, parity.agreement, parity.mean_displacement_px)

        estimator = PoseEstimator(backend)
        frame = synthetic_frame()
        for persons, key in ((1, "predict_1p_ms"), (8, "predict_8p_ms")):
            boxes = person_boxes(persons)
            for _ in range(min(job.warmup, 1)):  # the backend is warm already; this warms the crop/decode path
                estimator.predict(frame, boxes)
            setattr(result, key, _time(lambda: estimator.predict(frame, boxes), job.predict_runs, job.predict_seconds))
        result.peak_rss_mb = peak_rss_mb()[0]
    except Exception as e:  # one combination failing must not stop the others
        result.status, result.reason = "failed", first_line(e)
    finally:
        if cv2_threads is not None:
            import cv2

            cv2.setNumThreads(cv2_threads)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m lite_hrnet.benchmark.worker JOB.json RESULT.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m lite_hrnet.benchmark.worker JOB.json RESULT.json", file=sys.stderr)
        return 2
    job = Job(**json.loads(Path(args[0]).read_text()))
    result = run_job(job)
    Path(args[1]).write_text(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

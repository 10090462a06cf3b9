"""``benchmark()``: export what is missing, plan the rows, measure each one, gather them in a report."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from ..arguments import writable_dir
from ..formats import get_format
from ..specs import get_model_spec
from ._exports import export_all
from ._measure import measure_row, torch_threads
from ._plan import DEFAULT_TIMEOUT_S, FORMATS, ExportedFiles, Settings, check_settings, plan_rows
from .machine import MATMUL_SIZE, MachineInfo, machine_info, measure_matmul_gflops
from .reference import RANDOM_WEIGHTS, build_reference, resolve_model
from .report import BenchmarkReport

VERIFY_COUNT = 4


def _export_files(settings: Settings, name: str, checkpoint: Path, model, say: Callable[[str], None]) -> ExportedFiles:
    """The exported files of every row: the default export, as users get it.

    ONNX and OpenVINO files have a dynamic batch (every batch size, and all persons of
    a frame, in one call); TFLite files have a batch of 1 that the backend resizes.
    """
    fmts = [f for f in settings.formats if f != "torch"]
    if not fmts:
        return {}
    say(f"exports: {', '.join(fmts)} x {', '.join(settings.precisions)} in {settings.exports}")
    exported = export_all(name, fmts, settings.precisions, settings.exports, str(checkpoint), model, True, say)
    return {(get_format(key[0]).dynamic_batch,) + key: value for key, value in exported.items()}


def _floor_ms(macs: int, gflops: Optional[float]) -> Optional[float]:
    """Milliseconds per image at ``gflops`` (fp32, one core): the compute floor (None: rate unknown)."""
    return 2.0 * macs / 1e9 / gflops * 1000.0 if gflops else None


class FloorProbe:
    """The compute floor measured in the run: this core's one-thread float32 matmul rate, sampled before the first
    row and after each, the best sample kept (a busy machine lowers some samples, as it slows some rows).

    With ``given`` (``--peak-gflops``) that rate is used and nothing is measured.
    """

    def __init__(self, macs: int, given: Optional[float], estimated: Optional[float], estimated_note: str) -> None:
        self.macs, self.given, self.samples = macs, given, []  # type: ignore[var-annotated]
        self.estimated, self.estimated_note = estimated, estimated_note

    def sample(self) -> None:
        if self.given is None:
            rate = measure_matmul_gflops()
            if rate:
                self.samples.append(round(rate, 1))

    @property
    def gflops(self) -> Optional[float]:
        return self.given if self.given is not None else (max(self.samples) if self.samples else self.estimated)

    def record(self, model: dict) -> Optional[float]:
        """Write the floor into the report's model section; return it (ms per image, one core)."""
        floor_ms = _floor_ms(self.macs, self.gflops)
        gflop = 2.0 * self.macs / 1e9
        if self.given is not None:
            note = f"{gflop:.3f} GFLOP / {self.given} GFLOP/s per core (given by the user)"
        elif self.samples:
            note = (f"{gflop:.3f} GFLOP / {self.gflops} GFLOP/s: measured in this run, the best of {len(self.samples)} "
                    f"one-thread numpy float32 {MATMUL_SIZE}^3 matmul samples taken before the first row and after each")
        else:
            note = f"{gflop:.3f} GFLOP / {self.estimated} GFLOP/s per core, estimated ({self.estimated_note}): the matmul probe failed"
        model.update(floor_ms_per_image_1thread=None if floor_ms is None else round(floor_ms, 3), floor_gflops_per_core=self.gflops,
                     floor_samples_gflops=list(self.samples), floor_note=note,
                     peak_estimate_gflops_per_core=self.estimated)
        return floor_ms


def _new_report(settings: Settings, name: str, weights_arg: Optional[str], checkpoint: Path, macs: int,
                machine: MachineInfo) -> BenchmarkReport:
    """The report's model, machine and settings sections; no rows yet."""
    spec = get_model_spec(name)
    gflop = 2.0 * macs / 1e9
    rss_scope = ("peak RSS = high-water mark (VmHWM) of a fresh process that measured only that row (Python, numpy, "
                 "OpenCV and the runtime included)" if settings.isolate else
                 "peak RSS = high-water mark of this one process, reset before each row where Linux allows it "
                 "(else process-wide ru_maxrss): it includes everything loaded before the row (torch, earlier runtimes)")
    s = settings
    return BenchmarkReport(
        model={"name": name, "input_size": list(spec.input_size), "weights": str(checkpoint) if weights_arg else RANDOM_WEIGHTS,
               "macs": int(macs), "gflop_per_image": round(gflop, 4)},
        machine=dict(machine.to_dict(), one_line=machine.one_line()),
        settings={"formats": s.formats, "precisions": s.precisions, "threads": s.threads, "batches": s.batches,
                  "openvino_precisions": s.hints, "device": s.device, "warmup": s.warmup, "runs": s.runs,
                  "seconds": s.seconds, "predict_runs": s.predict_runs, "predict_seconds": s.predict_seconds,
                  "isolated": s.isolate, "rss_scope": rss_scope, "exports": str(s.exports), "verify_crops": VERIFY_COUNT,
                  "frame": "1280x720 BGR, 1 and 8 person boxes", "note": s.note,
                  "files": [g.path for g in s.files]},
    )


def benchmark(
    model: Union[str, os.PathLike],
    weights: Optional[Union[str, os.PathLike]] = None,
    formats: Union[str, Sequence[str]] = FORMATS,
    precisions: Union[str, Sequence[str]] = ("fp32",),
    threads: Union[None, str, int, Sequence[Any]] = (1,),
    batches: Union[str, int, Sequence[Any]] = (1,),
    device: str = "cpu",
    warmup: int = 10,
    runs: Optional[int] = 100,
    seconds: Optional[float] = None,
    exports: Union[str, os.PathLike] = "exports",
    openvino_precisions: Union[str, Sequence[str]] = ("default",),
    isolate: bool = True,
    model_name: Optional[str] = None,
    peak_gflops_per_core: Optional[float] = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    predict_runs: Optional[int] = None,
    note: str = "",
    files: Union[None, str, Sequence[Union[str, os.PathLike]]] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> BenchmarkReport:
    """Export what is missing, then time every combination; failures become rows with their reason.

    Args:
        model: a registered model name, or a ``.pth`` checkpoint that records its model (else give ``model_name``).
        weights: checkpoint path or registered weights name for a model name; None: random init (seed 0).
        formats: torch, onnx, openvino, tflite, engine (list or comma-separated; engine rows are skipped, with the
            reason, where its library is not built).
        precisions: fp32, fp16, int8 of the exported files (torch runs fp32 only; other rows are skipped).
        threads: thread counts to run (None: each runtime's default).
        batches: batch sizes, each run in one call (ONNX/OpenVINO files have a dynamic batch, TFLite inputs are resized,
            the engine loops over persons, split between its threads).
        warmup: untimed calls before timing; runs / seconds: timed calls, or wall time per combination.
        exports: the export cache folder.
        openvino_precisions: OpenVINO ``INFERENCE_PRECISION_HINT`` per row: default (bf16 on CPUs with
            avx512_bf16/AMX), f32, bf16, f16.
        isolate: measure each combination in a fresh subprocess (honest peak RSS, no leaked thread pools);
            False runs in this process and reports its process-wide RSS high-water mark.
        peak_gflops_per_core: fp32 GFLOP/s of one core for the compute floor (default: measured in the run, the
            best one-thread numpy float32 matmul rate sampled before the first row and after each).
        timeout: seconds one isolated combination may take.
        predict_runs: timed ``PoseEstimator.predict`` calls per person count (default: runs / 5, at least 3;
            with ``seconds``, a quarter of that time).
        note: free text stored in the report (e.g. "preliminary").
        files: more model files to measure beside the exports, each in every row setting (its precision from its
            metadata): e.g. the plain graph, for the report's before/after (``graph`` column, ``before_after``).
    """
    say = progress or (lambda message: None)
    settings = check_settings(formats, precisions, threads, batches, device, warmup, runs, seconds, exports,
                              openvino_precisions, isolate, timeout, predict_runs, note, files)
    name, weights_arg = resolve_model(model, weights, model_name)
    if weights_arg is None or any(f != "torch" for f in settings.formats):
        writable_dir(settings.exports, "--exports")  # say so up front rather than fail every row
    spec = get_model_spec(name)
    machine = machine_info()
    # The reference model, the random weights and the exports run in this process: with the thread
    # budget of the rows (a busy machine with an oversubscribed OpenMP pool is many times slower).
    requested = [t for t in settings.threads if t is not None]
    with torch_threads(min(max(requested), machine.usable_cores) if requested else None):
        torch_model, checkpoint, macs = build_reference(name, weights_arg, settings.exports, say)

        import numpy as np
        import torch

        from ..export.calibration import calibration_batch

        check = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=VERIFY_COUNT, seed=1)
        with torch.no_grad():
            reference = torch_model(torch.from_numpy(check)).numpy()
        exported = _export_files(settings, name, checkpoint, torch_model, say)
        del torch_model  # the workers load their own; keep this process small

    report = _new_report(settings, name, weights_arg, checkpoint, macs, machine)
    floor = FloorProbe(macs, None if peak_gflops_per_core is None else float(peak_gflops_per_core),
                       machine.peak_fp32_gflops_per_core, machine.peak_note)
    floor.sample()
    with tempfile.TemporaryDirectory(prefix="lite-hrnet-bench-") as tmp:
        workdir = Path(tmp)
        data = workdir / "data.npz"
        np.savez(data, check=check, reference=reference)
        planned = plan_rows(settings, name, spec.heatmap_stride, checkpoint, exported, data)
        for index, (row, job) in enumerate(planned, start=1):
            report.rows.append(row)
            if job is None:
                continue
            hint = f" hint {row.precision_hint}" if row.precision_hint else ""
            say(f"measuring {row.format} {row.precision}{hint}, threads {row.threads}, batch {row.batch}")
            measure_row(row, job, workdir, index, settings.isolate, settings.timeout)
            floor.sample()
    report.apply_floor(floor.record(report.model))
    return report

"""CPU latency of a Lite-HRNet across runtimes, precisions, threads and batch sizes, with accuracy beside speed.

>>> from lite_hrnet.benchmark import benchmark
>>> report = benchmark("litehrnet_18_coco_256x192", weights="ckpt.pth", formats="torch,onnx,openvino",
...                    precisions="fp32,int8", threads=[1], runs=100)
>>> print(report.table()); report.write_json("bench.json"); report.plot("bench.png")

What is missing is exported first (:func:`lite_hrnet.export.export_model`,
``reuse=True``, into the ``exports`` cache folder), then every combination is
measured in a fresh subprocess by default (:mod:`lite_hrnet.benchmark.worker`):
its peak RSS is then that combination's own, and process-wide settings (torch's
thread pool, OpenCV's) cannot leak from one row into the next.

Per combination: load time, the first call, ``warmup`` calls, then ``runs``
timed calls (or ``seconds`` of them), each timed alone with
``time.perf_counter_ns``; then the whole ``PoseEstimator.predict`` for 1 and 8
persons; the thread count the runtime reports it applied; the RSS high-water
mark; heatmap error and keypoint agreement against the fp32 PyTorch model on
synthetic person crops.

Importing this module does not import torch (``lite-hrnet --help`` stays fast).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from ..specs import MODEL_SPECS, get_model_spec
from .machine import MachineInfo, machine_info
from .report import ROW_FIELDS, BenchmarkReport, BenchmarkRow
from .worker import Job, Measurement, run_job

FORMATS = ("torch", "onnx", "openvino", "tflite")
PRECISIONS = ("fp32", "fp16", "int8")
# --openvino-precision values -> the INFERENCE_PRECISION_HINT passed to the backend (None: OpenVINO's default)
OPENVINO_HINTS = {"default": None, "f32": "f32", "fp32": "f32", "bf16": "bf16", "f16": "f16", "fp16": "f16"}
RUNTIME_NAMES = {"torch": ("torch", "torch"), "onnx": ("onnxruntime", "onnxruntime"),
                 "openvino": ("openvino", "openvino"), "tflite": ("litert", "ai-edge-litert")}
# Modules each format needs to be exported (torch is needed by all of them).
EXPORT_MODULES = {"onnx": ("onnx", "onnxslim", "onnxruntime"), "openvino": ("openvino", "nncf"),
                  "tflite": ("onnx2tf", "tensorflow", "ai_edge_litert")}
VERIFY_COUNT = 4
RANDOM_WEIGHTS = "random weights (seed 0, He-normal convolutions, batch norm calibrated on synthetic people)"
DEFAULT_TIMEOUT_S = 900.0

__all__ = [
    "FORMATS", "OPENVINO_HINTS", "PRECISIONS", "ROW_FIELDS", "BenchmarkReport", "BenchmarkRow", "MachineInfo",
    "benchmark", "machine_info", "parse_choices", "parse_positive_ints",
]


# ---------------------------------------------------------------------------- argument checks


def parse_choices(values: Union[str, Sequence[str]], allowed: Sequence[str], arg: str) -> List[str]:
    """A comma-separated string or a list, checked against ``allowed``, duplicates dropped, order kept."""
    items = [str(v).strip().lower() for v in (values.split(",") if isinstance(values, str) else values) if str(v).strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise ValueError(f"{arg}: unknown value {', '.join(bad) or '(none given)'}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def parse_positive_ints(values: Union[str, int, Sequence[Any]], arg: str) -> List[int]:
    """``"1,2,4"`` / ``4`` / ``[1, 8]`` as a list of positive integers."""
    if isinstance(values, (int, str)):
        values = str(values).split(",")
    out: List[int] = []
    for v in values:
        text = str(v).strip()
        try:
            n = int(text)
        except ValueError:
            raise ValueError(f"{arg}: expected positive integers separated by commas, got {text!r}") from None
        if n < 1:
            raise ValueError(f"{arg}: must be at least 1, got {n}")
        out.append(n)
    if not out:
        raise ValueError(f"{arg}: no value given")
    return list(dict.fromkeys(out))


def _thread_list(threads: Union[None, str, int, Sequence[Any]]) -> List[Optional[int]]:
    if threads is None:
        return [None]
    return list(parse_positive_ints(threads, "--threads"))


def _missing_modules(fmt: str) -> List[str]:
    return [m for m in ("torch",) + EXPORT_MODULES.get(fmt, ()) if importlib.util.find_spec(m) is None]


def _runtime_version(fmt: str) -> Tuple[str, str]:
    from importlib import metadata

    runtime, dist = RUNTIME_NAMES[fmt]
    try:
        return runtime, metadata.version(dist)
    except metadata.PackageNotFoundError:
        return runtime, ""


# ---------------------------------------------------------------------------- the model


def resolve_model(model: Union[str, os.PathLike], weights: Optional[Union[str, os.PathLike]],
                  model_name: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """``(registered name, weights)`` from NAME_OR_CHECKPOINT and ``--weights``."""
    text = os.fspath(model)
    if text in MODEL_SPECS and not Path(text).is_file():
        if model_name is not None and model_name != text:
            raise ValueError(f"--model-name {model_name!r} contradicts the model {text!r}")
        if weights is not None and Path(str(weights)).suffix in (".pth", ".pt") and not Path(str(weights)).is_file():
            raise FileNotFoundError(f"--weights: checkpoint not found: {weights}")
        return text, None if weights is None else str(weights)
    path = Path(text)
    if path.suffix.lower() in (".pth", ".pt") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"NAME_OR_CHECKPOINT: checkpoint not found: {path}")
        if weights is not None:
            raise ValueError("--weights: give either a checkpoint as NAME_OR_CHECKPOINT or --weights, not both")
        name = model_name
        if name is None:
            from ..runtimes.torch_backend import checkpoint_model_name

            name = checkpoint_model_name(path)
        if not name:
            raise ValueError(f"{path}: the checkpoint does not record its model; pass --model-name (e.g. litehrnet_18_coco_256x192)")
        get_model_spec(name)
        return name, str(path)
    get_model_spec(text)  # raises UnknownModelError listing the registered names
    return text, None  # pragma: no cover - get_model_spec raised


def _build_reference(name: str, weights: Optional[str], exports: Path, say: Callable[[str], None]):
    """The fp32 PyTorch model, the checkpoint file its rows load, and its MAC count."""
    try:
        import torch

        from ..models import calibrated_random_model, create_model, resolve_weights
    except ImportError:
        raise ImportError("benchmark needs torch for the reference model and the exports: pip install 'lite-hrnet[export]'") from None

    spec = get_model_spec(name)
    if weights is not None:
        checkpoint = Path(resolve_weights(weights, spec))
        say(f"model: {name} with weights {checkpoint}")
    else:
        # Kept in the export cache, so that the weights (and with them the cached exports) are the same on every run.
        checkpoint = exports / f"{name}_random_seed0.pth"
        if not checkpoint.is_file():
            exports.mkdir(parents=True, exist_ok=True)
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"state_dict": calibrated_random_model(name).state_dict(),
                        "meta": {"model_name": name, "weights": RANDOM_WEIGHTS}}, tmp)
            os.replace(tmp, checkpoint)
        say(f"model: {name} with {RANDOM_WEIGHTS} ({checkpoint}); pass --weights for a trained one")
    model = create_model(name, weights=checkpoint).eval()
    return model, checkpoint, _cached_macs(model, name, spec.input_size, exports)


def _cached_macs(model, name: str, input_size: Tuple[int, int], exports: Path) -> int:
    """Multiply-accumulates per image; counting takes a traced forward (seconds), so it is kept in the export cache."""
    from ..models.complexity import count_macs

    cache = exports / "benchmark_macs.json"
    key = f"{name}@{input_size[0]}x{input_size[1]}"
    try:
        known = json.loads(cache.read_text()) if cache.is_file() else {}
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(key), int):
        return known[key]
    macs = int(count_macs(model, input_size))
    known[key] = macs
    try:
        exports.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1))
    except OSError:
        pass  # a read-only cache only costs the recount
    return macs


# ---------------------------------------------------------------------------- exports


def _export_all(name: str, formats: List[str], precisions: List[str], out_dir: Path, weights: Optional[str], model,
                dynamic_batch: bool, say: Callable[[str], None]) -> Dict[Tuple[str, str], Tuple[Optional[str], str]]:
    """Export what is missing; ``{(format, precision): (path or None, failure reason)}``."""
    from ..export import artifact_path, export_model
    from ..export.formats import ExportError

    results: Dict[Tuple[str, str], Tuple[Optional[str], str]] = {}
    todo = []
    for fmt in formats:
        missing = _missing_modules(fmt)
        if missing:
            for p in precisions:
                results[(fmt, p)] = (None, f"export needs {', '.join(missing)}: pip install 'lite-hrnet[export]'")
        else:
            todo.append(fmt)
    if not todo:
        return results
    # The benchmark measures parity itself and shows it beside the speed, so the export's own
    # check is not repeated (it would also delete a lossy int8 file that is still worth timing).
    try:
        report = export_model(name, todo, precisions, out_dir=out_dir, weights=weights, dynamic_batch=dynamic_batch,
                              verify=False, reuse=True, model=model, progress=say)
        artifacts = report.artifacts
        failure = ""
    except ExportError as e:
        artifacts = e.report.artifacts if e.report is not None else []
        failure = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
    except Exception as e:  # an export step that broke in an unforeseen way fails its rows, not the run
        artifacts, failure = [], f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    for a in artifacts:
        results[(a.format, a.precision)] = (a.path, "") if a.status != "failed" else (None, f"export failed: {a.message}")
    for fmt in todo:
        for p in precisions:
            if (fmt, p) not in results:
                path = artifact_path(out_dir, name, fmt, p)
                results[(fmt, p)] = (str(path), "") if path.is_file() else (None, f"export failed: {failure or 'not written'}")
    return results


def _check_writable(folder: Path) -> None:
    """The export cache must take files; say so up front rather than fail every row."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as e:
        raise OSError(f"--exports: cannot write to {folder}: {e.strerror or e}") from None


def _file_mb(path: Optional[str]) -> Optional[float]:
    if not path:
        return None
    p = Path(path)
    size = p.stat().st_size if p.is_file() else 0
    if p.suffix == ".xml" and p.with_suffix(".bin").is_file():
        size += p.with_suffix(".bin").stat().st_size
    return size / 1e6 if size else None


# ---------------------------------------------------------------------------- running a job


def _subprocess_env(threads: Optional[int]) -> Dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if threads is not None:
        # OpenMP/BLAS pools (torch's, numpy's) get the same budget as the runtime.
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
    return env


def _run_isolated(job: Job, workdir: Path, index: int, timeout: float) -> Measurement:
    job_file = workdir / f"job{index}.json"
    result_file = workdir / f"result{index}.json"
    job_file.write_text(json.dumps(asdict(job)))
    try:
        proc = subprocess.run([sys.executable, "-m", "lite_hrnet.benchmark.worker", str(job_file), str(result_file)],
                              capture_output=True, text=True, env=_subprocess_env(job.threads), timeout=timeout)
    except subprocess.TimeoutExpired:
        return Measurement(status="failed", reason=f"timed out after {timeout:.0f} s")
    if proc.returncode != 0 or not result_file.is_file():
        lines = [ln for ln in (proc.stderr or "").splitlines() if ln.strip()]
        why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
        return Measurement(status="failed", reason=f"worker {why}" + (f": {lines[-1].strip()}" if lines else ""))
    data = json.loads(result_file.read_text())
    return Measurement(**data)


@contextmanager
def _torch_threads(threads: Optional[int]) -> Iterator[None]:
    """torch.set_num_threads is process-wide: set it for a block (None: leave it) and put it back afterwards."""
    try:
        import torch
    except ImportError:  # the callers that need torch say so themselves
        yield
        return
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------- the benchmark


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
    progress: Optional[Callable[[str], None]] = None,
) -> BenchmarkReport:
    """Export what is missing, then time every combination; failures become rows with their reason.

    Args:
        model: a registered model name, or a ``.pth`` checkpoint that records its model (else give ``model_name``).
        weights: checkpoint path or registered weights name for a model name; None: random init (seed 0).
        formats: torch, onnx, openvino, tflite (list or comma-separated).
        precisions: fp32, fp16, int8 of the exported files (torch runs fp32 only; other rows are skipped).
        threads: thread counts to run (None: each runtime's default).
        batches: batch sizes; batches above 1 use a dynamic-batch ONNX/OpenVINO export (TFLite files are batch 1).
        warmup: untimed calls before timing; runs / seconds: timed calls, or wall time per combination.
        exports: the export cache folder.
        openvino_precisions: OpenVINO ``INFERENCE_PRECISION_HINT`` per row: default (bf16 on CPUs with
            avx512_bf16/AMX), f32, bf16, f16.
        isolate: measure each combination in a fresh subprocess (honest peak RSS, no leaked thread pools);
            False runs in this process and reports its process-wide RSS high-water mark.
        peak_gflops_per_core: fp32 GFLOP/s of one core for the compute floor (default: estimated from the CPU).
        timeout: seconds one isolated combination may take.
        predict_runs: timed ``PoseEstimator.predict`` calls per person count (default: runs / 5, at least 3;
            with ``seconds``, a quarter of that time).
        note: free text stored in the report (e.g. "preliminary").
    """
    say = progress or (lambda message: None)
    formats = parse_choices(formats, FORMATS, "--formats")
    precisions = parse_choices(precisions, PRECISIONS, "--precision")
    thread_counts = _thread_list(threads)
    batch_sizes = parse_positive_ints(batches, "--batch")
    hints = parse_choices(openvino_precisions, tuple(OPENVINO_HINTS), "--openvino-precision")
    hints = list(dict.fromkeys("f32" if h == "fp32" else "f16" if h == "fp16" else h for h in hints))
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"--warmup: must be a non-negative integer, got {warmup!r}")
    if seconds is not None:
        if not seconds > 0:
            raise ValueError(f"--seconds: must be positive, got {seconds!r}")
        runs = None
    elif isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"--runs: must be a positive integer, got {runs!r}")
    if predict_runs is not None and (isinstance(predict_runs, bool) or not isinstance(predict_runs, int) or predict_runs < 1):
        raise ValueError(f"predict_runs: must be a positive integer, got {predict_runs!r}")
    if not str(device).strip():
        raise ValueError("--device: empty")
    exports_dir = Path(exports)
    if exports_dir.exists() and not exports_dir.is_dir():
        raise ValueError(f"--exports: {exports_dir} is a file, not a folder")

    name, weights_arg = resolve_model(model, weights, model_name)
    if weights_arg is None or any(f != "torch" for f in formats):
        _check_writable(exports_dir)
    spec = get_model_spec(name)
    machine = machine_info(peak_gflops_per_core)
    # The reference model, the random weights and the exports run in this process: with the thread
    # budget of the rows (a busy machine with an oversubscribed OpenMP pool is many times slower).
    requested = [t for t in thread_counts if t is not None]
    with _torch_threads(min(max(requested), machine.usable_cores) if requested else None):
        torch_model, checkpoint, macs = _build_reference(name, weights_arg, exports_dir, say)

        import numpy as np
        import torch

        from ..export.calibration import calibration_batch

        check = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=VERIFY_COUNT, seed=1)
        with torch.no_grad():
            reference = torch_model(torch.from_numpy(check)).numpy()

        export_formats = [f for f in formats if f != "torch"]
        exported: Dict[Tuple[bool, str, str], Tuple[Optional[str], str]] = {}
        for dynamic in sorted({b > 1 for b in batch_sizes}):
            fmts = [f for f in export_formats if not (dynamic and f == "tflite")]
            if not fmts:
                continue
            out_dir = exports_dir / "dynamic_batch" if dynamic else exports_dir
            say(f"exports: {', '.join(fmts)} x {', '.join(precisions)} in {out_dir}{' (dynamic batch)' if dynamic else ''}")
            for key, value in _export_all(name, fmts, precisions, out_dir, str(checkpoint), torch_model, dynamic, say).items():
                exported[(dynamic,) + key] = value
        del torch_model  # the workers load their own; keep this process small

    gflop = 2.0 * macs / 1e9
    peak = machine.peak_fp32_gflops_per_core
    floor_ms = gflop / peak * 1000.0 if peak else None
    rss_scope = ("peak RSS = high-water mark (VmHWM) of a fresh process that measured only that row (Python, numpy, "
                 "OpenCV and the runtime included)" if isolate else
                 "peak RSS = high-water mark of this one process, reset before each row where Linux allows it "
                 "(else process-wide ru_maxrss): it includes everything loaded before the row (torch, earlier runtimes)")
    predict_seconds = None
    if predict_runs is None:
        if runs is None:
            predict_seconds = seconds / 4.0
        else:
            predict_runs = max(3, runs // 5)
    report = BenchmarkReport(
        model={"name": name, "input_size": list(spec.input_size), "weights": str(checkpoint) if weights_arg else RANDOM_WEIGHTS,
               "macs": int(macs), "gflop_per_image": round(gflop, 4),
               "floor_ms_per_image_1thread": None if floor_ms is None else round(floor_ms, 3),
               "floor_note": f"{gflop:.3f} GFLOP / {peak} GFLOP/s per core ({machine.peak_note})" if peak else machine.peak_note},
        machine=dict(machine.to_dict(), one_line=machine.one_line()),
        settings={"formats": formats, "precisions": precisions, "threads": thread_counts, "batches": batch_sizes,
                  "openvino_precisions": hints, "device": device, "warmup": warmup, "runs": runs, "seconds": seconds,
                  "predict_runs": predict_runs, "predict_seconds": predict_seconds, "isolated": isolate,
                  "rss_scope": rss_scope, "exports": str(exports_dir), "verify_crops": VERIFY_COUNT,
                  "frame": "1280x720 BGR, 1 and 8 person boxes", "note": note},
    )

    with tempfile.TemporaryDirectory(prefix="lite-hrnet-bench-") as tmp:
        workdir = Path(tmp)
        data = workdir / "data.npz"
        np.savez(data, check=check, reference=reference)
        index = 0
        for fmt in formats:
            runtime, version = _runtime_version(fmt)
            for precision in precisions:
                for hint in (hints if fmt == "openvino" else [None]):
                    for t in thread_counts:
                        for b in batch_sizes:
                            row = BenchmarkRow(runtime=runtime, runtime_version=version, format=fmt, precision=precision,
                                               threads=t, batch=b, precision_hint=hint)
                            report.rows.append(row)
                            if fmt == "torch":
                                if precision != "fp32":
                                    row.status, row.reason = "skipped", f"PyTorch runs fp32 on the CPU; {precision} is measured on the exported formats"
                                    continue
                                path, why = str(checkpoint), ""
                            else:
                                dynamic = b > 1 and fmt != "tflite"
                                path, why = exported.get((dynamic, fmt, precision), (None, "not exported"))
                            if path is None:
                                row.status, row.reason = "failed", why
                                continue
                            row.path, row.size_mb = path, _file_mb(path)
                            say(f"measuring {fmt} {precision}{' hint ' + hint if hint else ''}, threads {t}, batch {b}")
                            job = Job(format=fmt, precision=precision, path=path, model_name=name, data=str(data), threads=t,
                                      batch=b, device=device, precision_hint=OPENVINO_HINTS[hint] if hint else None,
                                      warmup=warmup, runs=runs, seconds=seconds, predict_runs=predict_runs,
                                      predict_seconds=predict_seconds, stride=spec.heatmap_stride)
                            index += 1
                            if isolate:
                                measured = _run_isolated(job, workdir, index, timeout)
                            else:
                                with _torch_threads(None):
                                    measured = run_job(job)
                            _merge(row, measured, floor_ms)
    return report


def _merge(row: BenchmarkRow, m: Measurement, floor_ms: Optional[float]) -> None:
    for key, value in asdict(m).items():
        if key in ("runtime", "runtime_version") and not value:
            continue  # keep the installed version found up front for rows that failed before loading
        if hasattr(row, key):
            setattr(row, key, value)
    if row.format == "openvino" and row.precision == "int8" and row.precision_run and not row.precision_run.startswith("int8"):
        # OpenVINO reports the hint, which applies to the layers left unquantized: say both.
        row.precision_run = f"int8+{row.precision_run}"
    if row.ok and floor_ms and row.median_ms:
        threads = row.threads_applied or row.threads or 1
        row.x_floor = round(row.median_ms / row.batch / (floor_ms / threads), 2)

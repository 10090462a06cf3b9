"""The benchmark's settings, checked, and its rows: one per format, precision, OpenVINO hint, threads and batch."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from ..arguments import parse_choices, parse_positive_ints
from ..formats import EXPORT_FORMATS, FORMAT_NAMES, PRECISIONS, files_size, format_of_path, get_format
from ..metadata import MetadataError, read_metadata
from ..runtimes.base import max_threads
from ..runtimes.engine_backend import EngineLibraryError, find_library
from .job import Job
from .report import BenchmarkRow

FORMATS = FORMAT_NAMES
# --openvino-precision values -> the INFERENCE_PRECISION_HINT passed to the backend (None: OpenVINO's default)
OPENVINO_HINTS = {"default": None, "f32": "f32", "fp32": "f32", "bf16": "bf16", "f16": "f16", "fp16": "f16"}
DEFAULT_TIMEOUT_S = 900.0
# (dynamic batch, format, precision) -> (the exported file, or None, and why not)
ExportedFiles = Dict[Tuple[bool, str, str], Tuple[Optional[str], str]]


@dataclass(frozen=True)
class GivenFile:
    """A model file given with ``--files``, measured beside the exports (e.g. the plain graph, for a before/after)."""

    format: str
    precision: str
    path: str


@dataclass(frozen=True)
class Settings:
    """The checked arguments of :func:`lite_hrnet.benchmark.benchmark` (see there)."""

    formats: List[str]
    precisions: List[str]
    threads: List[Optional[int]]  # [None]: each runtime's default
    batches: List[int]
    hints: List[str]  # OpenVINO precision hints: default, f32, bf16, f16
    device: str
    warmup: int
    runs: Optional[int]  # None when timed by seconds
    seconds: Optional[float]
    predict_runs: Optional[int]  # None when timed by predict_seconds
    predict_seconds: Optional[float]
    exports: Path
    isolate: bool
    timeout: float
    note: str
    files: Tuple[GivenFile, ...] = ()


def _positive_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def check_settings(formats: Union[str, Sequence[str]], precisions: Union[str, Sequence[str]],
                   threads: Union[None, str, int, Sequence[Any]], batches: Union[str, int, Sequence[Any]], device: str,
                   warmup: int, runs: Optional[int], seconds: Optional[float], exports: Union[str, os.PathLike],
                   openvino_precisions: Union[str, Sequence[str]], isolate: bool, timeout: float,
                   predict_runs: Optional[int], note: str,
                   files: Union[None, str, Sequence[Union[str, os.PathLike]]] = None) -> Settings:
    """The arguments checked, each error naming its command-line option; defaults filled in."""
    formats = parse_choices(formats, FORMATS, "--formats")
    precisions = parse_choices(precisions, PRECISIONS, "--precision")
    thread_counts: List[Optional[int]] = [None] if threads is None else list(parse_positive_ints(threads, "--threads"))
    if any(n is not None and n > max_threads() for n in thread_counts):
        raise ValueError(f"--threads: must be at most {max_threads()} (4 per CPU of the {os.cpu_count()} here), "
                         f"got {max(n for n in thread_counts if n is not None)}")
    batch_sizes = parse_positive_ints(batches, "--batch")
    hints = parse_choices(openvino_precisions, tuple(OPENVINO_HINTS), "--openvino-precision")
    hints = list(dict.fromkeys("f32" if h == "fp32" else "f16" if h == "fp16" else h for h in hints))
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"--warmup: must be a non-negative integer, got {warmup!r}")
    if seconds is not None:
        if not seconds > 0:
            raise ValueError(f"--seconds: must be positive, got {seconds!r}")
        runs = None
    elif not _positive_int(runs):
        raise ValueError(f"--runs: must be a positive integer, got {runs!r}")
    if predict_runs is not None and not _positive_int(predict_runs):
        raise ValueError(f"predict_runs: must be a positive integer, got {predict_runs!r}")
    if not str(device).strip():
        raise ValueError("--device: empty")
    exports_dir = Path(exports)
    if exports_dir.exists() and not exports_dir.is_dir():
        raise ValueError(f"--exports: {exports_dir} is a file, not a folder")
    predict_seconds = None
    if predict_runs is None:
        if runs is None:
            predict_seconds = seconds / 4.0
        else:
            predict_runs = max(3, runs // 5)
    return Settings(formats, precisions, thread_counts, batch_sizes, hints, device, warmup, runs, seconds,
                    predict_runs, predict_seconds, exports_dir, isolate, timeout, note, given_files(files))


def given_files(files: Union[None, str, Sequence[Union[str, os.PathLike]]]) -> Tuple[GivenFile, ...]:
    """``--files`` checked: existing .onnx/.xml/.tflite/.lhrn files with lite-hrnet metadata (their precision is read from it)."""
    if files is None:
        return ()
    paths = [p for p in (files.split(",") if isinstance(files, str) else files) if str(p).strip()]
    out = []
    for p in paths:
        path = Path(str(p).strip())
        fmt = format_of_path(path)
        if fmt is None or fmt.name not in EXPORT_FORMATS:
            raise ValueError(f"--files: {path} is not an .onnx, .xml or .tflite model file, nor a .lhrn engine program")
        if not path.is_file():
            raise ValueError(f"--files: not found: {path}")
        try:
            precision = str(read_metadata(path).get("precision", "fp32"))
        except (MetadataError, ValueError) as e:
            raise ValueError(f"--files: {path}: {str(e).splitlines()[0] if str(e) else 'no lite-hrnet metadata'}") from None
        out.append(GivenFile(fmt.name, precision, str(path)))
    return tuple(out)


# Rewrites that only let a file take any batch; the network's graph stays the plain one.
BATCH_ONLY_REWRITES = ("computed_reshapes_as_constants", "tflite_batch_free_reshapes")


def graph_of(path: str) -> Tuple[str, List[str]]:
    """("plain" or "deploy", then the file's batch; "engine" for a ``.lhrn`` program) and the graph rewrites its
    metadata records; ("?", []) when unreadable.

    "deploy": the network's graph was changed (the deploy form, or a rewrite such as the shuffles as
    convs); rewrites that only free the batch (``BATCH_ONLY_REWRITES``) leave it "plain".
    """
    try:
        meta = read_metadata(path)
    except Exception:  # a file the row itself will report on
        return "?", []
    rewrites = [str(r) for r in meta.get("graph_rewrites") or []]
    if meta.get("format") == "engine":  # its own program, not a runtime's graph (any batch: the backend loops)
        return "engine", rewrites
    changed = [r for r in rewrites if r.split()[0] not in BATCH_ONLY_REWRITES]
    batch = meta.get("batch", 1)
    return f"{'deploy' if changed else 'plain'} {'dyn' if batch == 'dynamic' else 'b' + str(batch)}", rewrites


def runtime_version(fmt: str) -> Tuple[str, str]:
    """(runtime name, installed version or "") of a format's runtime, read without importing it."""
    table = get_format(fmt)
    try:
        return table.runtime, metadata.version(table.runtime_dist)
    except metadata.PackageNotFoundError:
        return table.runtime, ""


def plan_rows(settings: Settings, model_name: str, stride: int, checkpoint: Path, exported: ExportedFiles,
              data: Path) -> Iterator[Tuple[BenchmarkRow, Optional[Job]]]:
    """Every row in table order, with the job that measures it; None for a row already decided (skipped, or failed to export)."""
    s = settings
    graphs: Dict[str, Tuple[str, List[str]]] = {}
    formats = list(s.formats) + [g.format for g in s.files if g.format not in s.formats]
    for fmt in dict.fromkeys(formats):
        runtime, version = runtime_version(fmt)
        hints: List[Optional[str]] = list(s.hints) if fmt == "openvino" else [None]
        # the default exports first, then the files given for this format (the plain graph, say)
        cases: List[Tuple[str, Optional[str]]] = [(p, None) for p in s.precisions] if fmt in s.formats else []
        cases += [(g.precision, g.path) for g in s.files if g.format == fmt]
        for (precision, given), hint, threads, batch in itertools.product(cases, hints, s.threads, s.batches):
            row = BenchmarkRow(runtime=runtime, runtime_version=version, format=fmt, precision=precision,
                               threads=threads, batch=batch, precision_hint=hint, source="file" if given else "export")
            if fmt == "torch" and precision != "fp32":
                row.status, row.reason = "skipped", f"PyTorch runs fp32 on the CPU; {precision} is measured on the exported formats"
                yield row, None
                continue
            table = get_format(fmt)
            if fmt != "torch" and precision not in table.precisions:
                row.status, row.reason = "skipped", f"{table.title} files are {', '.join(table.precisions)} only"
                yield row, None
                continue
            if fmt == "engine":
                try:
                    find_library()
                except EngineLibraryError as e:
                    row.status, row.reason = "skipped", str(e)
                    yield row, None
                    continue
            if fmt == "torch":
                path, why = str(checkpoint), ""
            elif given:
                path, why = given, ""
            else:
                dynamic = get_format(fmt).dynamic_batch
                path, why = exported.get((dynamic, fmt, precision), (None, "not exported"))
            if path is None:
                row.status, row.reason = "failed", why
                yield row, None
                continue
            row.path, row.size_mb = path, files_size(path) / 1e6 or None
            if fmt != "torch":
                row.graph, row.graph_rewrites = graphs.setdefault(path, graph_of(path))
            job = Job(format=fmt, precision=precision, path=path, model_name=model_name, data=str(data), threads=threads,
                      batch=batch, device=s.device, precision_hint=OPENVINO_HINTS[hint] if hint else None,
                      warmup=s.warmup, runs=s.runs, seconds=s.seconds, predict_runs=s.predict_runs,
                      predict_seconds=s.predict_seconds, stride=stride)
            yield row, job

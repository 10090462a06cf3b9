"""Export a Lite-HRNet to ONNX, OpenVINO IR and TFLite at fp32, fp16 and int8, each file verified.

The route is PyTorch -> ONNX (torch.onnx, opset 17, slimmed) -> OpenVINO
(``openvino.convert_model``; fp16 weight compression; NNCF int8) and TFLite
(onnx2tf; fp16; full int8 with calibration). Every artifact embeds its
metadata (see :mod:`lite_hrnet.metadata`), is run with its own runtime and
compared with PyTorch (see :mod:`lite_hrnet.export.verify`), and is written to a
staging folder first, so that a failed or interrupted export leaves nothing
half-written under its final name.

File names, for a model NAME and output folder OUT:

======== ============================ ============================== ===========================
format   fp32                         fp16                           int8
======== ============================ ============================== ===========================
onnx     OUT/NAME.onnx                OUT/NAME_fp16.onnx             OUT/NAME_int8.onnx
openvino OUT/NAME_openvino/NAME.xml   OUT/NAME_openvino/NAME_fp16.xml OUT/NAME_openvino/NAME_int8.xml
tflite   OUT/NAME_fp32.tflite         OUT/NAME_fp16.tflite           OUT/NAME_int8.tflite
======== ============================ ============================== ===========================
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

from .. import __version__
from ..specs import get_model_spec
from .formats import ExportError

FORMATS = ("onnx", "openvino", "tflite")
PRECISIONS = ("fp32", "fp16", "int8")
EXTRAS = {"onnx": ("onnx", "onnxslim", "onnxruntime"), "openvino": ("openvino", "nncf"), "tflite": ("onnx2tf", "tensorflow", "ai_edge_litert")}


class ExportCheckError(ExportError):
    """An artifact whose parity check failed; it was not kept."""


@dataclass
class Artifact:
    """One exported file and how it compares with PyTorch."""

    format: str
    precision: str
    path: str
    size_bytes: int = 0
    seconds: float = 0.0
    status: str = "ok"  # ok, failed, skipped (cached)
    runtime_precision: Optional[str] = None  # what the runtime actually ran during the check
    rel_error: Optional[float] = None
    mean_displacement_px: Optional[float] = None
    max_displacement_px: Optional[float] = None
    agreement: Optional[float] = None
    check: Optional[str] = None  # the tolerance that was applied
    message: str = ""


@dataclass
class ExportReport:
    model_name: str
    out_dir: str
    checkpoint_sha256: str
    artifacts: List[Artifact] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(a.status != "failed" for a in self.artifacts)

    def to_dict(self) -> Dict:
        return {"model_name": self.model_name, "out_dir": self.out_dir, "checkpoint_sha256": self.checkpoint_sha256,
                "ok": self.ok, "artifacts": [asdict(a) for a in self.artifacts]}

    def table(self) -> str:
        header = f"{'format':<9} {'precision':<9} {'status':<7} {'size':>8} {'time':>7} {'ran':<5} {'rel err':>9} {'kp agree':>8} {'kp Δpx':>7}  path"
        lines = [header, "-" * len(header)]
        for a in self.artifacts:
            size = f"{a.size_bytes / 1e6:.2f}MB" if a.size_bytes else "-"
            rel = f"{a.rel_error:.2e}" if a.rel_error is not None else "-"
            agree = f"{a.agreement:.0%}" if a.agreement is not None else "-"
            disp = f"{a.mean_displacement_px:.2f}" if a.mean_displacement_px is not None else "-"
            lines.append(f"{a.format:<9} {a.precision:<9} {a.status:<7} {size:>8} {a.seconds:>6.1f}s {a.runtime_precision or '-':<5} "
                         f"{rel:>9} {agree:>8} {disp:>7}  {a.path}")
            if a.message:
                lines.append(f"{'':<9} {a.message}")
        return "\n".join(lines)


def artifact_path(out_dir: Union[str, Path], name: str, fmt: str, precision: str) -> Path:
    """The predictable file name of one export (see the module docstring)."""
    out_dir = Path(out_dir)
    if fmt == "onnx":
        return out_dir / (f"{name}.onnx" if precision == "fp32" else f"{name}_{precision}.onnx")
    if fmt == "openvino":
        return out_dir / f"{name}_openvino" / (f"{name}.xml" if precision == "fp32" else f"{name}_{precision}.xml")
    if fmt == "tflite":
        return out_dir / f"{name}_{precision}.tflite"
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def _parse_choices(values: Union[str, Sequence[str]], allowed: Sequence[str], what: str) -> List[str]:
    items = [v.strip().lower() for v in (values.split(",") if isinstance(values, str) else values) if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise ValueError(f"unknown {what} {', '.join(bad) or '(none given)'}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def _check_dependencies(formats: Sequence[str]) -> None:
    import importlib.util

    missing = [m for f in formats for m in EXTRAS[f] if importlib.util.find_spec(m) is None]
    if importlib.util.find_spec("torch") is None:
        missing.insert(0, "torch")
    if missing:
        raise ImportError(f"export needs {', '.join(dict.fromkeys(missing))}: pip install 'lite-hrnet[export]'")


def _state_dict_sha256(model) -> str:
    h = hashlib.sha256()
    for key, value in model.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _writable_dir(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as e:
        raise OSError(f"--out: cannot write to {out_dir}: {e.strerror or e}") from None
    return out_dir


def _publish(staged: Path, final: Path) -> None:
    """Move a staged file (and an OpenVINO .bin beside an .xml) to its final name; the .xml last."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if staged.suffix == ".xml":
        os.replace(staged.with_suffix(".bin"), final.with_suffix(".bin"))
    os.replace(staged, final)


def _remove(path: Path) -> None:
    for p in (path, path.with_suffix(".bin")) if path.suffix == ".xml" else (path,):
        if p.exists():
            p.unlink()


class _Sources:
    """The intermediate files the artifacts are written from, each made at most once per export, in ``staging``.

    ``base()``: the slimmed fp32 ONNX every format starts from; ``openvino()``: it with
    the rewrites meant for OpenVINO (``rewrite.FORMAT_REWRITES``); ``tflite()``: every
    requested TFLite precision, from one onnx2tf run.
    """

    def __init__(self, model, input_size, name: str, staging: Path, dynamic_batch: bool,
                 meta_for: Callable[[str, str], Dict], say: Callable[[str], None]) -> None:
        self.model, self.input_size, self.name, self.staging = model, input_size, name, staging
        self.dynamic_batch, self.meta_for, self.say = dynamic_batch, meta_for, say
        # Each step's result, or its error: a step that failed fails every artifact built
        # on it with its own error, without being rerun.
        self._done: Dict[str, object] = {}

    def _once(self, step: str, make: Callable[[], object]):
        if step not in self._done:
            try:
                self._done[step] = make()
            except ImportError:
                raise
            except Exception as e:
                self._done[step] = e
        if isinstance(self._done[step], Exception):
            raise self._done[step]
        return self._done[step]

    def base(self) -> Path:
        from . import formats

        def make() -> Path:
            self.say("exporting ONNX (torch.onnx, opset 17, then onnxslim)")
            (self.staging / "base").mkdir(exist_ok=True)
            return formats.export_onnx(self.model, self.input_size, self.staging / "base" / f"{self.name}.onnx",
                                       self.dynamic_batch, self.meta_for("onnx", "fp32"))

        return self._once("onnx", make)

    def openvino(self) -> Path:
        from .rewrite import rewrite_for_format

        def make() -> Path:
            path = self.staging / "base" / f"{self.name}.openvino.onnx"
            rewrite_for_format(self.base(), path, "openvino")
            return path

        return self._once("openvino", make)

    def tflite(self, precision: str, wanted: Dict[str, Path], calib) -> Path:
        """The staged TFLite file for ``precision``; the first call converts every precision in ``wanted``."""
        from . import formats

        def make() -> Dict[str, Path]:
            src = self.base()
            self.say("tflite: converting with onnx2tf (all precisions in one run)")
            for path in wanted.values():
                path.parent.mkdir(parents=True, exist_ok=True)
            formats.onnx_to_tflite(src, wanted, calib, {p: self.meta_for("tflite", p) for p in wanted})
            return wanted

        return self._once("tflite", make)[precision]


def _write(fmt: str, precision: str, staged: Path, sources: _Sources, calib, meta: Dict) -> None:
    """Write the ONNX or OpenVINO file for ``precision`` to ``staged``."""
    from . import formats

    if fmt == "onnx" and precision == "fp32":
        shutil.copyfile(sources.base(), staged)
    elif fmt == "onnx" and precision == "fp16":
        formats.onnx_to_fp16(sources.base(), staged, meta)
    elif fmt == "onnx":
        formats.onnx_to_int8(sources.base(), staged, calib, meta)
    else:
        formats.onnx_to_openvino(sources.openvino(), staged, precision, calib, meta)


def _check(artifact: Artifact, staged: Path, batch, reference, noise: Optional[float], stride: int) -> None:
    """Run ``staged`` on ``batch``, record its parity with PyTorch's ``reference`` in ``artifact``; raise if it fails."""
    from .verify import compare, run_artifact

    heatmaps, ran = run_artifact(artifact.format, staged, batch)
    parity = compare(heatmaps, reference, artifact.precision, stride, float32_noise=noise)
    artifact.runtime_precision = ran
    artifact.rel_error, artifact.agreement = parity.rel_error, parity.agreement
    artifact.mean_displacement_px, artifact.max_displacement_px = parity.mean_displacement_px, parity.max_displacement_px
    artifact.check = parity.limit
    if not parity.passed:
        raise ExportCheckError(
            f"{Path(artifact.path).name} failed its check ({parity.limit}): relative error {parity.rel_error:.2e}, "
            f"keypoint agreement {parity.agreement:.0%}, mean shift {parity.mean_displacement_px:.2f}px")


def export_model(
    name: str,
    formats: Union[str, Sequence[str]] = ("onnx",),
    precisions: Union[str, Sequence[str]] = ("fp32",),
    out_dir: Union[str, Path] = "exports",
    weights: Optional[Union[str, Path]] = None,
    dynamic_batch: bool = False,
    calib: Optional[Union[str, Path]] = None,
    calib_count: int = 32,
    verify: Union[bool, Sequence[str]] = True,
    verify_count: int = 4,
    reuse: bool = False,
    progress: Optional[Callable[[str], None]] = None,
    model=None,
) -> ExportReport:
    """Export ``name`` to every requested format and precision, verifying each file against PyTorch.

    Args:
        name: a registered model name.
        formats / precisions: lists, or comma-separated strings ("onnx,openvino,tflite", "fp32,fp16,int8").
        out_dir: output folder (created); file names are given by :func:`artifact_path`.
        weights: checkpoint path or registered weights name (see ``create_model``); None is random init.
        dynamic_batch: ONNX/OpenVINO with a dynamic batch dimension (TFLite stays batch 1).
        calib: folder of calibration images, or None / "synthetic" for synthetic people.
        verify: run each file with its runtime and compare with PyTorch; a failure raises
            :class:`ExportCheckError` after the other artifacts are done, and the failing file is removed.
            ``True`` checks every precision, ``False`` none, a list (e.g. ``["fp32"]``) those precisions.
        reuse: keep an existing file whose metadata names the same checkpoint, precision and batch.
        model: an already built ``torch.nn.Module`` for ``name`` (skips ``create_model``).

    Returns:
        An :class:`ExportReport`. Its ``table()`` prints the summary.
    """
    spec = get_model_spec(name)
    formats = _parse_choices(formats, FORMATS, "format")
    precisions = _parse_choices(precisions, PRECISIONS, "precision")
    _check_dependencies(formats)
    if calib is not None and str(calib) != "synthetic" and not Path(calib).is_dir():
        raise FileNotFoundError(f"--calib: calibration folder not found: {calib}")
    say = progress or (lambda message: None)
    verified = set(precisions) if verify is True else set(_parse_choices(verify, PRECISIONS, "precision") if verify else [])

    import torch

    from .. import metadata as md
    from ..models import create_model, resolve_weights
    from . import formats as fmt_writers
    from .calibration import calibration_batch
    from .rewrite import FORMAT_REWRITES
    from .verify import pytorch_float32_noise

    # A weights name ("synthetic", "official", a model name) is resolved to its file first, so
    # that the checkpoint hash, and with it the export cache, is the same however it was named.
    weights_file = resolve_weights(weights, spec) if weights is not None else None
    if model is None:
        model = create_model(name, weights=weights_file)
    model = model.eval()
    out_dir = _writable_dir(Path(out_dir))
    if weights_file is not None:
        from ..models.checkpoint import file_sha256

        checkpoint_sha = file_sha256(weights_file)
    else:
        checkpoint_sha = _state_dict_sha256(model)
    report = ExportReport(name, str(out_dir), checkpoint_sha)
    batch_meta: Union[int, str] = "dynamic" if dynamic_batch else 1

    def meta_for(fmt: str, precision: str) -> Dict:
        return dict(
            spec.metadata(), format=fmt, precision=precision, layout="NHWC" if fmt == "tflite" else "NCHW",
            batch=1 if fmt == "tflite" else batch_meta, checkpoint_sha256=checkpoint_sha, toolkit_version=__version__,
            input_name=fmt_writers.INPUT_NAME, output_name=fmt_writers.OUTPUT_NAME,
            graph_rewrites=list(FORMAT_REWRITES.get(fmt, ())),
        )

    def cached(fmt: str, precision: str) -> bool:
        path = artifact_path(out_dir, name, fmt, precision)
        if not (reuse and path.is_file()):
            return False
        try:
            meta = md.read_metadata(path)
        except (ValueError, OSError):
            return False
        want = meta_for(fmt, precision)
        keys = ("checkpoint_sha256", "precision", "batch", "model_name", "graph_rewrites")
        # Files from before graph_rewrites was recorded had none applied.
        return all(meta.get(k, [] if k == "graph_rewrites" else None) == want[k] for k in keys)

    todo = [(f, p) for f in formats for p in precisions]
    need_calib = any(p == "int8" for _, p in todo) or "tflite" in formats
    calib_batch = calibration_batch(calib, spec.input_size, spec.mean, spec.std, count=calib_count, seed=0) if need_calib else None
    check_batch = reference = noise = None
    if verified:
        check_batch = calibration_batch(calib, spec.input_size, spec.mean, spec.std, count=verify_count, seed=1)
        with torch.no_grad():
            reference = model(torch.from_numpy(check_batch)).numpy()
        noise = pytorch_float32_noise(model, check_batch, reference) if "fp32" in verified else None

    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    failures: List[str] = []
    try:
        sources = _Sources(model, spec.input_size, name, staging, dynamic_batch, meta_for, say)
        tflite_wanted = {p: staging / artifact_path(out_dir, name, "tflite", p).relative_to(out_dir) for f, p in todo if f == "tflite"}
        for fmt, precision in todo:
            final = artifact_path(out_dir, name, fmt, precision)
            artifact = Artifact(fmt, precision, str(final))
            report.artifacts.append(artifact)
            if cached(fmt, precision):
                artifact.status = "cached"
                artifact.size_bytes = final.stat().st_size
                continue
            say(f"{fmt} {precision}: writing {final.name}")
            start = time.perf_counter()
            try:
                staged = staging / final.relative_to(out_dir)
                staged.parent.mkdir(parents=True, exist_ok=True)
                if fmt == "tflite":
                    staged = sources.tflite(precision, tflite_wanted, calib_batch)
                else:
                    _write(fmt, precision, staged, sources, calib_batch, meta_for(fmt, precision))
                artifact.seconds = time.perf_counter() - start
                artifact.size_bytes = staged.stat().st_size + (staged.with_suffix(".bin").stat().st_size if fmt == "openvino" else 0)
                if precision in verified:
                    say(f"{fmt} {precision}: checking against PyTorch")
                    _check(artifact, staged, check_batch, reference, noise, spec.heatmap_stride)
                _remove(final)
                _publish(staged, final)
            except Exception as e:  # one combination failing must not stop the others
                if isinstance(e, ImportError):
                    raise
                artifact.status = "failed"
                artifact.seconds = time.perf_counter() - start
                artifact.message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                failures.append(f"{fmt} {precision}: {artifact.message}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if failures:
        error = ExportCheckError if verified else ExportError
        raise error("; ".join(failures), report=report)
    return report


def write_report_json(report: ExportReport, path: Union[str, Path]) -> None:
    Path(path).write_text(json.dumps(report.to_dict(), indent=2))


__all__ = ["Artifact", "ExportCheckError", "ExportError", "ExportReport", "FORMATS", "PRECISIONS",
           "artifact_path", "export_model", "write_report_json"]

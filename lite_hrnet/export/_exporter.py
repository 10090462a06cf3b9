"""``export_model``: every requested format and precision of one model, each file checked, nothing half-written.

The route is PyTorch -> ONNX (torch.onnx, opset 17, slimmed) -> OpenVINO
(``openvino.convert_model``; fp16 weight compression; NNCF int8) and TFLite
(onnx2tf; fp16; full int8 with calibration); the lite-hrnet engine's ``.lhrn``
program (fp32) is compiled straight from the PyTorch model
(:mod:`lite_hrnet.export.engine_program`). Every artifact embeds its
metadata (see :mod:`lite_hrnet.metadata`), is run with its own runtime and
compared with PyTorch (see :mod:`lite_hrnet.export.verify`), and is written to a
staging folder first, so that a failed or interrupted export leaves nothing
half-written under its final name. File names: :func:`lite_hrnet.formats.artifact_path`.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

from .. import __version__
from ..arguments import parse_choices, writable_dir
from ..formats import EXPORT_EXTRA, EXPORT_FORMATS, PRECISIONS, artifact_path, files_size, get_format, missing_export_modules
from ..messages import first_line
from ..specs import get_model_spec
from ._staging import Sources, new_staging, publish
from .errors import ExportCheckError, ExportError
from .report import Artifact, ExportReport

# Files written with a batch of 1 even in a dynamic-batch export: NNCF's int8 of the
# dynamic-batch graph lost every keypoint of the demo model (relative error 0.83, at batch
# 1 and 4 alike, also when calibrated at batch 1); quantized from the batch-1 graph it passes.
STATIC_BATCH_ONLY = {("openvino", "int8")}

# The metadata fields that must match for an existing file to be reused.
REUSE_KEYS = ("checkpoint_sha256", "precision", "batch", "model_name", "graph_rewrites")


def _check_dependencies(formats: Sequence[str]) -> None:
    missing = missing_export_modules(formats)
    if missing:
        raise ImportError(f"export needs {', '.join(missing)}: pip install 'lite-hrnet[{EXPORT_EXTRA}]'")


def _written_precisions(formats: Sequence[str], precisions: Sequence[str]) -> List[tuple]:
    """The (format, precision) pairs to write: each format at the requested precisions it is written at
    (the engine: fp32 only); ValueError naming ``--precision`` for a format left with none."""
    todo = []
    for fmt in formats:
        table = get_format(fmt)
        mine = [p for p in precisions if p in table.precisions]
        if not mine:
            raise ValueError(f"--precision: {table.title} files are written at {', '.join(table.precisions)} only, "
                             f"not {', '.join(precisions)}")
        todo += [(fmt, p) for p in mine]
    return todo


def _check_engine_library(formats: Sequence[str], verified) -> None:
    """The engine's files are checked by running them: say up front when its library is not built (an ImportError,
    as for a missing runtime of the other formats)."""
    if "engine" in formats and "fp32" in verified:
        from ..runtimes.engine_backend import EngineLibraryError, find_library

        try:
            find_library()
        except EngineLibraryError as e:
            raise EngineLibraryError(f"checking the engine export needs its library: {e} (or pass verify=False / "
                                     "--no-verify to write it unchecked)") from None


def _state_dict_sha256(model) -> str:
    h = hashlib.sha256()
    for key, value in model.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


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


def _reusable(path: Path, want: Dict) -> bool:
    """Whether the existing file ``path`` was exported with the metadata ``want`` (same checkpoint, precision, batch...)."""
    from ..metadata import read_metadata

    if not path.is_file():
        return False
    try:
        meta = read_metadata(path)
    except (ValueError, OSError):
        return False
    # Files from before graph_rewrites was recorded had none applied.
    return all(meta.get(k, [] if k == "graph_rewrites" else None) == want[k] for k in REUSE_KEYS)


def _end_to_end(report: ExportReport, staging: Path, meta_for: Callable[[str, str], Dict], crops, verified,
                reuse: bool, say: Callable[[str], None]) -> List[str]:
    """Write, check and publish the end-to-end file of every plain ONNX fp32 and TFLite artifact in ``report``.

    Each is made from its published plain file and checked against decoding that file's
    heatmaps with the codec on ``crops`` (BGR uint8) where its precision is in ``verified``.
    Returns the failures, as ``export_model`` lists them.
    """
    from .end_to_end import check_end_to_end, e2e_metadata, e2e_target, write_end_to_end

    failures = []
    for plain in list(report.artifacts):
        final = e2e_target(plain.format, plain.precision, plain.path)
        if final is None:
            continue
        artifact = Artifact(plain.format, plain.precision, str(final), end_to_end=True)
        report.artifacts.append(artifact)
        meta = meta_for(plain.format, plain.precision)
        if reuse and plain.status == "cached" and _reusable(final, e2e_metadata(meta)):
            artifact.status, artifact.size_bytes = "cached", files_size(final)
            continue
        say(f"{plain.format} {plain.precision}: writing {final.name}")
        start = time.perf_counter()
        try:
            if plain.status == "failed":
                raise ExportError(f"not written: its plain file {Path(plain.path).name} failed")
            staged = staging / "e2e" / final.name
            staged.parent.mkdir(parents=True, exist_ok=True)
            write_end_to_end(plain.format, plain.path, staged, meta)
            artifact.seconds, artifact.size_bytes = time.perf_counter() - start, files_size(staged)
            if plain.precision in verified:
                parity = check_end_to_end(staged, plain.path, crops)
                artifact.runtime_precision, artifact.check = plain.precision, parity.limit
                artifact.agreement = 1.0 - parity.argmax_mismatches / max(parity.joints, 1)
                artifact.mean_displacement_px = artifact.max_displacement_px = parity.max_shift_px
                if not parity.passed:
                    raise ExportCheckError(
                        f"{final.name} failed its check ({parity.limit}): {parity.argmax_mismatches} of {parity.joints} "
                        f"arg-maxes differ, largest shift {parity.max_shift_px:.2e}px, score difference {parity.max_score_diff:.2e}")
            publish(staged, final)
        except Exception as e:  # as for the plain files: one failing must not stop the others
            if isinstance(e, ImportError):
                raise
            artifact.status, artifact.seconds, artifact.message = "failed", time.perf_counter() - start, first_line(e)
            failures.append(f"{plain.format} {plain.precision} end-to-end: {artifact.message}")
    return failures


def export_model(
    name: str,
    formats: Union[str, Sequence[str]] = ("onnx",),
    precisions: Union[str, Sequence[str]] = ("fp32",),
    out_dir: Union[str, Path] = "exports",
    weights: Optional[Union[str, Path]] = None,
    dynamic_batch: bool = True,
    calib: Optional[Union[str, Path]] = None,
    calib_count: int = 32,
    verify: Union[bool, Sequence[str]] = True,
    verify_count: int = 4,
    reuse: bool = False,
    progress: Optional[Callable[[str], None]] = None,
    model=None,
    end_to_end: bool = False,
) -> ExportReport:
    """Export ``name`` to every requested format and precision, verifying each file against PyTorch.

    Args:
        name: a registered model name.
        formats / precisions: lists, or comma-separated strings ("onnx,openvino,tflite,engine", "fp32,fp16,int8");
            each format is written at the requested precisions it has (the engine: fp32 only).
        out_dir: output folder (created); file names are given by :func:`artifact_path`.
        weights: checkpoint path or registered weights name (see ``create_model``); None is random init.
        dynamic_batch: ONNX/OpenVINO with a dynamic batch dimension, so that all persons of a frame run in
            one call (False: a fixed batch of 1). TFLite files have a batch of 1, which the backend resizes.
        calib: folder of calibration images, or None / "synthetic" for synthetic people.
        verify: run each file with its runtime and compare with PyTorch; a failure raises
            :class:`ExportCheckError` after the other artifacts are done, and the failing file is removed.
            ``True`` checks every precision, ``False`` none, a list (e.g. ``["fp32"]``) those precisions.
        reuse: keep an existing file whose metadata names the same checkpoint, precision and batch.
        model: an already built ``torch.nn.Module`` for ``name`` (skips ``create_model``).
        end_to_end: also write the end-to-end files (uint8 RGB crop in, N x K x 3 keypoints out;
            :mod:`lite_hrnet.export.end_to_end`) of the ONNX fp32 file and of every TFLite file,
            each checked against decoding its plain file's heatmaps with the codec.

    Returns:
        An :class:`ExportReport`. Its ``table()`` prints the summary.
    """
    spec = get_model_spec(name)
    formats = parse_choices(formats, EXPORT_FORMATS, "--formats", "format")
    precisions = parse_choices(precisions, PRECISIONS, "--precision", "precision")
    _check_dependencies(formats)
    if calib_count < 1:
        raise ValueError(f"--calib-count must be at least 1, got {calib_count}")
    if verify_count < 1:
        raise ValueError(f"verify_count must be at least 1, got {verify_count}")
    if calib is not None and str(calib) != "synthetic" and not Path(calib).is_dir():
        raise FileNotFoundError(f"--calib: calibration folder not found: {calib}")
    say = progress or (lambda message: None)
    verified = set(precisions) if verify is True else set(parse_choices(verify, PRECISIONS, "verify", "precision") if verify else [])
    todo = _written_precisions(formats, precisions)
    _check_engine_library(formats, verified)

    import torch

    from ..models import LiteHRNetPose, create_model, resolve_weights
    from ..models.deploy import supports_deploy_form
    from . import formats as writers
    from .calibration import calibration_batch
    from .rewrite import applied_rewrites, uses_deploy_form
    from .verify import pytorch_float32_noise

    # A weights name ("synthetic", "official", a model name) is resolved to its file first, so
    # that the checkpoint hash, and with it the export cache, is the same however it was named.
    weights_file = resolve_weights(weights, spec) if weights is not None else None
    if model is None:
        model = create_model(name, weights=weights_file)
    model = model.eval()
    out_dir = writable_dir(out_dir, "--out")
    if weights_file is not None:
        from ..models.checkpoint import file_sha256

        checkpoint_sha = file_sha256(weights_file)
    else:
        checkpoint_sha = _state_dict_sha256(model)
    report = ExportReport(name, str(out_dir), checkpoint_sha)

    # The deploy form is built from a LiteHRNetPose's modules; any other network given as ``model`` keeps its graph.
    deployable = isinstance(model, LiteHRNetPose) and supports_deploy_form(model.backbone.arch)

    def deploy_form(fmt: str, precision: str) -> bool:
        return deployable and uses_deploy_form(fmt, precision)

    def meta_for(fmt: str, precision: str) -> Dict:
        table = get_format(fmt)
        # The engine takes any batch whatever the export asks (its backend loops over persons).
        batch = ("dynamic" if fmt == "engine" or dynamic_batch and table.dynamic_batch and (fmt, precision) not in STATIC_BATCH_ONLY
                 else 1)
        return dict(
            spec.metadata(), format=fmt, precision=precision, layout=table.layout,
            batch=batch, checkpoint_sha256=checkpoint_sha, toolkit_version=__version__,
            input_name=writers.INPUT_NAME, output_name=writers.OUTPUT_NAME,
            graph_rewrites=applied_rewrites(fmt, deploy_form(fmt, precision)),
        )

    need_calib = any(p == "int8" for _, p in todo) or "tflite" in formats
    calib_batch = calibration_batch(calib, spec.input_size, spec.mean, spec.std, count=calib_count, seed=0) if need_calib else None
    check_batch = reference = noise = None
    if verified:
        check_batch = calibration_batch(calib, spec.input_size, spec.mean, spec.std, count=verify_count, seed=1)
        with torch.no_grad():
            reference = model(torch.from_numpy(check_batch)).numpy()
        noise = pytorch_float32_noise(model, check_batch, reference) if "fp32" in verified else None

    staging = new_staging(out_dir)
    failures: List[str] = []
    try:
        sources = Sources(model, spec.input_size, name, staging, dynamic_batch, meta_for, say, deploy_form)
        tflite_wanted = {p: staging / artifact_path(out_dir, name, "tflite", p).relative_to(out_dir) for f, p in todo if f == "tflite"}
        for fmt, precision in todo:
            final = artifact_path(out_dir, name, fmt, precision)
            artifact = Artifact(fmt, precision, str(final))
            report.artifacts.append(artifact)
            if reuse and _reusable(final, meta_for(fmt, precision)):
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
                elif fmt == "engine":
                    writers.engine_program_file(model, spec.input_size, staged, meta_for(fmt, precision))
                else:
                    sources.write(fmt, precision, staged, calib_batch, meta_for(fmt, precision))
                artifact.seconds = time.perf_counter() - start
                artifact.size_bytes = files_size(staged)
                if precision in verified:
                    say(f"{fmt} {precision}: checking against PyTorch")
                    _check(artifact, staged, check_batch, reference, noise, spec.heatmap_stride)
                publish(staged, final)
            except Exception as e:  # one combination failing must not stop the others
                if isinstance(e, ImportError):
                    raise
                artifact.status = "failed"
                artifact.seconds = time.perf_counter() - start
                artifact.message = first_line(e)
                failures.append(f"{fmt} {precision}: {artifact.message}")
        if end_to_end:
            crops = None
            if verified:
                from .calibration import images_from_folder, synthetic_crops

                crops = (synthetic_crops(spec.input_size, verify_count, seed=1) if calib is None or str(calib) == "synthetic"
                         else images_from_folder(calib, spec.input_size, verify_count))
            failures += _end_to_end(report, staging, meta_for, crops, verified, reuse, say)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if failures:
        error = ExportCheckError if verified else ExportError
        raise error("; ".join(failures), report=report)
    return report

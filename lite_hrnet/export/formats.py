"""Writers for each format: PyTorch -> ONNX -> OpenVINO IR / TFLite, at fp32, fp16 and int8; PyTorch -> ``.lhrn``.

Each writer takes the slimmed fp32 ONNX file (or the PyTorch model for ONNX
itself), writes into a staging folder and returns the paths it wrote; the
caller verifies them and moves them into place.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from .. import metadata as md
from ..messages import first_line
from .errors import ExportError

INPUT_NAME = "input"
OUTPUT_NAME = "heatmaps"


@contextlib.contextmanager
def _quiet(sink: Optional[io.StringIO] = None):
    """Silence the converters' own chatter (onnx2tf, the exporters) unless debugging; keep it in ``sink``."""
    if os.environ.get("LITE_HRNET_DEBUG"):
        yield
        return
    import logging

    torch_onnx_log = logging.getLogger("torch.onnx")
    level = torch_onnx_log.level
    torch_onnx_log.setLevel(logging.ERROR)
    try:
        sink = sink if sink is not None else io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        torch_onnx_log.setLevel(level)


def _flush_all() -> None:
    """Flush Python's and C's stdio buffers, so that nothing crosses a file-descriptor redirection."""
    import ctypes
    import sys

    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def _quiet_native():
    """Also silence what native code writes straight to file descriptors 1 and 2 (TensorFlow's start-up and MLIR logs).

    Enter it outside :func:`_quiet`. A native crash inside is silent too: rerun
    with ``LITE_HRNET_DEBUG=1`` to see everything.
    """
    if os.environ.get("LITE_HRNET_DEBUG"):
        yield
        return
    _flush_all()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                _flush_all()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


# ---------------------------------------------------------------- ONNX

def export_onnx(model, input_size, path: Path, dynamic_batch: bool, meta: Dict) -> Path:
    """Export with torch.onnx (TorchScript exporter, opset 17), slim with onnxslim, embed metadata.

    Why this exporter: the graph of the dynamo exporter (opset 18+) converts
    through onnx2tf to a TFLite file whose heatmaps are visibly off, while the
    TorchScript exporter's opset-17 graph converts exactly, and exports faster
    (figures: benchmarks/export/README.md). Weights are embedded, so the
    result is one self-contained ``.onnx``. Where a future torch drops the
    TorchScript exporter, the dynamo exporter is used instead, with
    ``external_data=False``.
    """
    import onnx
    import onnxslim
    import torch

    x = torch.zeros(1, 3, *input_size)
    raw = path.with_name(path.stem + ".raw.onnx")
    with _quiet(), torch.no_grad():
        try:
            torch.onnx.export(
                model, (x,), str(raw), dynamo=False, opset_version=17, do_constant_folding=True,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None,
            )
        except (TypeError, RuntimeError, NotImplementedError) as e:
            if "dynamo" not in str(e) and "TorchScript" not in str(e):
                raise
            dynamic_shapes = {"x": {0: torch.export.Dim("batch", min=1, max=1024)}} if dynamic_batch else None
            torch.onnx.export(
                model, (x,), str(raw), dynamo=True, external_data=False, opset_version=18,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_shapes=dynamic_shapes,
            )
    proto = onnx.load(str(raw))
    raw.unlink()
    with _quiet():
        proto = onnxslim.slim(proto)
    md.write_onnx_metadata(proto, meta)
    onnx.save(proto, str(path))
    return path


def onnx_to_fp16(src: Path, path: Path, meta: Dict) -> Path:
    """fp16 weights and activations inside, fp32 input and output (onnxconverter-common)."""
    import onnx
    from onnxconverter_common import float16

    proto = onnx.load(str(src))
    # Stale float32 value_info would contradict the converted types (ONNX Runtime refuses to load).
    del proto.graph.value_info[:]
    with _quiet():
        proto = float16.convert_float_to_float16(proto, keep_io_types=True)
    md.write_onnx_metadata(proto, meta)
    onnx.save(proto, str(path))
    return path


def onnx_to_int8(src: Path, path: Path, calib: np.ndarray, meta: Dict) -> Path:
    """ONNX Runtime static QDQ quantization: uint8 activations, per-channel int8 weights.

    Unsigned activations (the U8S8 scheme ONNX Runtime's x86 kernels are built
    for) let every convolution fuse with its Q/DQ pair; with signed activations
    many stayed unfused, between standalone (de)quantize nodes, and the file ran
    slower (benchmarks/export/README.md).
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter([{INPUT_NAME: calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self._it, None)

    staged = path.with_name(path.stem + ".q.onnx")
    with _quiet():
        quantize_static(
            str(src), str(staged), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )
    proto = onnx.load(str(staged))
    staged.unlink()
    md.write_onnx_metadata(proto, meta)
    onnx.save(proto, str(path))
    return path


# ---------------------------------------------------------------- lite-hrnet engine

def engine_program_file(model, input_size, path: Path, meta: Dict) -> Path:
    """The ``.lhrn`` program of the C engine for ``model`` at ``input_size`` (H, W), with ``meta`` inside.

    Compiled from the PyTorch model itself (:mod:`lite_hrnet.export.engine_program`), not from ONNX: only a
    ``LiteHRNetPose`` (naive or not) compiles; what the compiler refuses raises an ExportError naming it.
    """
    from .engine_program import write_program

    try:
        write_program(model, tuple(input_size), path, meta)
    except (TypeError, ValueError) as e:
        raise ExportError(str(e)) from None
    return path


# ---------------------------------------------------------------- OpenVINO

def onnx_to_openvino(src: Path, xml: Path, precision: str, calib: Optional[np.ndarray], meta: Dict) -> Path:
    """OpenVINO IR: fp32 as is, fp16 by weight compression, int8 by NNCF post-training quantization.

    ``src`` is the ONNX graph rewritten for OpenVINO (:func:`rewrite.rewrite_for_format`;
    ``export_model`` writes it once for all precisions): its channel shuffles are
    1x1 permutation convolutions, as OpenVINO's own ShuffleChannels kernel made
    the files 12-25% slower.

    int8 uses NNCF's PERFORMANCE preset (symmetric activations; unsigned where
    the calibration data is non-negative): the MIXED preset's asymmetric
    activations ran slower for a sliver of AP (benchmarks/export/README.md,
    benchmarks/training/export_accuracy.md).
    """
    import openvino as ov

    model = ov.convert_model(str(src))
    if precision == "int8":
        import nncf

        with _quiet():
            model = nncf.quantize(
                model, nncf.Dataset([calib[i:i + 1] for i in range(len(calib))]),
                preset=nncf.QuantizationPreset.PERFORMANCE, subset_size=len(calib),
            )
    md.write_openvino_metadata(model, meta)
    ov.save_model(model, str(xml), compress_to_fp16=(precision == "fp16"))
    return xml


# ---------------------------------------------------------------- TFLite

def onnx_to_tflite(src: Path, out: Dict[str, Path], calib: Optional[np.ndarray], metas: Dict[str, Dict]) -> List[Path]:
    """Convert with onnx2tf to NHWC TFLite files for the precisions in ``out`` (fp32, fp16, int8).

    onnx2tf is handled so that the user never meets its habits: it converts a
    copy (it rewrites its input in place), it gets a calibration ``.npy`` (else
    it downloads sample images on every conversion), the ONNX is already slimmed
    (it would shell out to ``onnxsim``), and signature defs are requested.
    onnx2tf writes fp32 and fp16; int8 is quantized here from its SavedModel
    (:func:`_saved_model_to_int8`), as onnx2tf's int8 flag would also make four
    calibrated variants nobody uses. This and onnx2tf's fast mode (below) cut the
    TFLite export to about a third of its former time (benchmarks/export/tflite_export_time.md).
    """
    # TensorFlow's C++ start-up logs go straight to the terminal, past any Python redirection.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    # Absolute paths: the conversion runs in its own working directory (see below).
    src = Path(src).resolve()
    out = {p: Path(t).resolve() for p, t in out.items()}
    work = Path(tempfile.mkdtemp(prefix="onnx2tf-", dir=str(next(iter(out.values())).parent)))
    try:
        copy = work / "model.onnx"
        shutil.copyfile(src, copy)
        calib_npy = work / "calib.npy"
        # Inputs are already normalized; onnx2tf applies (x - mean) / std, so mean 0 and std 1.
        sample = calib if calib is not None else np.zeros((1, 3, 8, 8), np.float32)
        np.save(calib_npy, np.ascontiguousarray(sample.transpose(0, 2, 3, 1)))
        kwargs = dict(
            input_onnx_file_path=str(copy), output_folder_path=str(work / "tf"),
            copy_onnx_input_output_names_to_tflite=True, output_signaturedefs=True,
            not_use_onnxsim=True, non_verbose=True,
            custom_input_op_name_np_data_path=[[INPUT_NAME, str(calib_npy), np.zeros((1, 1, 1, 3), np.float32), np.ones((1, 1, 1, 3), np.float32)]],
        )
        # onnx2tf fetches sample images from the internet for any 3-channel image input
        # unless a file of that name is in the working directory: give it ours.
        sample_nhwc = sample.transpose(0, 2, 3, 1)
        sample_128 = np.stack([_resize(img, (128, 128)) for img in sample_nhwc[:20]])
        np.save(work / ONNX2TF_SAMPLE_FILE, np.resize(sample_128, (20, 128, 128, 3)).astype(np.float32))
        cwd = os.getcwd()
        try:
            os.chdir(work)
            # onnx2tf's strict mode re-runs the partial Keras model at every Reshape and Concat to
            # choose layouts, which is quadratic in the graph. Its fast mode can choose a wrong
            # layout (LH-18 at 256x192, benchmarks/export/README.md), so the fast file is kept
            # only if it matches ONNX Runtime on a sample; otherwise convert again strictly.
            try:
                _run_onnx2tf(dict(kwargs, disable_strict_mode=True))
                fast_ok = tflite_matches_onnx(work / "tf" / "model_float32.tflite", src, sample[:1] if calib is not None else None)
            except ExportError:  # a wrong layout choice can also end in a shape error
                fast_ok = False
            if not fast_ok:
                shutil.rmtree(work / "tf", ignore_errors=True)
                shutil.copyfile(src, copy)
                _run_onnx2tf(kwargs)
        finally:
            os.chdir(cwd)
        produced = {"fp32": "model_float32.tflite", "fp16": "model_float16.tflite"}
        written = []
        for precision, target in out.items():
            if precision == "int8":
                quantized = _saved_model_to_int8(work / "tf", sample_nhwc)
                model = md.unpack_tflite(quantized)
                raise_tiny_quant_scales(model)
                rename_io_tensors(model, md.unpack_tflite((work / "tf" / produced["fp32"]).read_bytes()))
                data = md.pack_tflite(model, len(quantized))
            else:
                tflite = work / "tf" / produced[precision]
                if not tflite.is_file():
                    raise ExportError(f"onnx2tf did not produce {produced[precision]} for {target.name}")
                data = tflite.read_bytes()
            data = _batch_free(data)
            target.write_bytes(md.write_tflite_metadata(data, metas[precision]))
            written.append(target)
        return written
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _batch_free(data: bytes) -> bytes:
    """``data`` (a batch-1 .tflite) with reshape targets that take the batch from their input (any batch runs)."""
    from .rewrite import tflite_batch_free_reshapes

    model = md.unpack_tflite(data)
    tflite_batch_free_reshapes(model)
    return md.pack_tflite(model, len(data))


ONNX2TF_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"
FAST_CONVERSION_LIMIT = 1e-4  # relative L2 of onnx2tf's fast-mode fp32 file against ONNX Runtime


def _run_onnx2tf(kwargs: Dict) -> None:
    log = io.StringIO()
    try:
        # TensorFlow's start-up and converter logs are written by native code, past _quiet.
        with _quiet_native(), _quiet(log):
            import onnx2tf

            onnx2tf.convert(**kwargs)
    except SystemExit:  # onnx2tf exits the process on conversion errors instead of raising
        lines = [line for line in log.getvalue().splitlines() if line.strip()]
        raise ExportError(f"onnx2tf failed: {lines[-1].strip() if lines else 'no message'}") from None


def tflite_matches_onnx(tflite: Path, onnx_path: Path, x: Optional[np.ndarray] = None, limit: float = FAST_CONVERSION_LIMIT) -> bool:
    """Whether an NHWC fp32 TFLite file gives ONNX Runtime's output for ``onnx_path`` on ``x`` (1 x 3 x H x W).

    ``x`` None: a seeded normal sample of the ONNX input's shape. A file that
    does not load or run counts as not matching.
    """
    import onnxruntime as ort

    from ..runtimes.tflite_backend import import_interpreter

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    if x is None:
        shape = [1] + [int(d) for d in feed.shape[1:]]
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    reference = session.run(None, {feed.name: x})[0].transpose(0, 2, 3, 1)
    try:
        with _quiet_native():  # LiteRT announces its XNNPACK delegate on the native stderr
            interpreter = import_interpreter()[0](model_path=str(tflite))
            interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
        interpreter.invoke()
        out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    except Exception:  # whatever the interpreter raises, the file is not usable as is
        return False
    if out.shape != reference.shape:
        return False
    return float(np.linalg.norm(out - reference) / max(np.linalg.norm(reference), 1e-12)) <= limit


def _saved_model_to_int8(saved_model: Path, calib_nhwc: np.ndarray) -> bytes:
    """Full-integer TFLite (int8 weights and activations, float input/output) from onnx2tf's SavedModel.

    What onnx2tf's ``output_integer_quantized_tflite`` would give as its
    "integer_quant" file (TFLite's converter, per-channel weights, calibrated on
    ``calib_nhwc``, N x H x W x 3, normalized), without the four other
    calibrated variants that flag also converts (dynamic-range, full-integer
    with int8 I/O, and two int16-activation ones), which took most of the
    export time.
    """
    import tensorflow as tf

    def representative():
        for i in range(len(calib_nhwc)):
            yield [np.ascontiguousarray(calib_nhwc[i:i + 1], dtype=np.float32)]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    # int8 kernels only: an op without one fails the conversion instead of silently staying float.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        with _quiet_native(), _quiet():
            data = converter.convert()
    except Exception as e:  # the converter's messages are long MLIR dumps: keep the first line
        raise ExportError(f"TFLite int8 conversion failed: {first_line(e)}") from None
    return data


def rename_io_tensors(model, like) -> None:
    """Give the TFLite ``model`` the input and output tensor names of ``like`` (both ``ModelT``, same I/O count).

    TFLite's converter names them after the SavedModel signature
    (``serving_default_input:0``); onnx2tf's fp32/fp16 files carry the ONNX names.
    """
    graph, ref = model.subgraphs[0], like.subgraphs[0]
    if len(graph.inputs) != len(ref.inputs) or len(graph.outputs) != len(ref.outputs):
        return
    for mine, theirs in list(zip(graph.inputs, ref.inputs)) + list(zip(graph.outputs, ref.outputs)):
        graph.tensors[mine].name = ref.tensors[theirs].name


def _resize(image, size):
    import cv2

    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def raise_tiny_quant_scales(model, min_scale: float = 1e-5) -> int:
    """Raise near-zero int8 activation scales of the TFLite ``model`` (``ModelT``) so that XNNPACK can prepare it.

    A 1x1 conv whose ReLU output is all zero on the calibration data gets an
    output scale near zero, and XNNPACK rejects requantization factors >= 256.
    Such a tensor only ever holds zeros on that data, so a larger scale costs
    nothing in accuracy. Returns the number of scales raised.
    """
    schema = md.tflite_schema()
    changed = 0
    for subgraph in model.subgraphs or []:
        for tensor in subgraph.tensors or []:
            q = tensor.quantization
            if q is None or q.scale is None or len(q.scale) != 1 or tensor.type != schema.TensorType.INT8:
                continue
            if tensor.buffer and model.buffers[tensor.buffer].data is not None:
                continue  # weights keep their scales
            if float(q.scale[0]) < min_scale:
                q.scale = [min_scale]
                changed += 1
    return changed

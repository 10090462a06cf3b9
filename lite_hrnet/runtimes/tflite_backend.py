"""TFLite (LiteRT) backend for ``.tflite`` files.

The interpreter comes from ``ai_edge_litert`` (``pip install 'lite-hrnet[tflite]'``),
else ``tflite_runtime``, else ``tensorflow.lite``. Float models run on the
XNNPACK delegate that these interpreters apply by default, with ``num_threads``.

Batches: onnx2tf writes files with a static batch of 1. Their input tensor is
resized to the number of persons of a call (``resize_tensor_input`` +
``allocate_tensors``, kept until a call brings another count), so that all persons
of a frame run in one ``invoke``, up to ``batch_cap`` of them; a file whose graph
cannot be resized runs one person per call.

Thread safety: a TFLite ``Interpreter`` is NOT thread-safe (its input and
output tensors are shared state). Every call holds the backend's lock from
setting the input to reading the output, so concurrent calls are safe but run
one at a time; for parallelism, load one backend per thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..formats import get_format
from ..messages import first_line
from ..metadata import MetadataError, read_tflite_metadata
from .base import FileBackend, ModelFileError, SpecLike, missing_extra


def import_interpreter() -> Tuple[Any, str, str]:
    """``(Interpreter class, runtime name, version)`` from the first TFLite package installed."""
    try:
        from ai_edge_litert import interpreter as litert

        import ai_edge_litert

        return litert.Interpreter, "litert", getattr(ai_edge_litert, "__version__", "")
    except ImportError:
        pass
    try:
        import tflite_runtime
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime", getattr(tflite_runtime, "__version__", "")
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return tf.lite.Interpreter, "tensorflow", tf.__version__
    except ImportError:
        pass
    raise missing_extra("a TFLite interpreter (ai-edge-litert, for .tflite models)", get_format("tflite").extra)


class TFLiteBackend(FileBackend):
    """Runs a ``.tflite`` pose model (NHWC as exported by onnx2tf; the metadata's ``layout`` says).

    Args:
        path: the ``.tflite`` file.
        device: ``cpu`` only.
        threads: interpreter ``num_threads`` (XNNPACK threads); None: the interpreter's default.
        precision: the file's own precision only (None or that value).
        spec: metadata to use when the file carries none; the layout is then read from the input shape.

    Integer-quantized inputs/outputs (int8/uint8 tensors) are quantized and
    dequantized with the tensors' scale and zero point.
    """

    thread_safety = "guarded: the TFLite interpreter is not thread-safe, calls hold a lock and run one at a time"

    format_name = "tflite"

    def _import_runtime(self) -> Tuple[Any, str, str]:
        return import_interpreter()

    def _open(self, runtime: Tuple[Any, str, str], path: Path, device: str, threads: Optional[int],
              precision: Optional[str], spec: Optional[SpecLike]) -> None:
        Interpreter, runtime_name, version = runtime
        if str(device).lower() != "cpu":
            raise ValueError(f"device {device!r} is not supported by the TFLite backend; use device='cpu'")
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except Exception as e:
            raise ModelFileError(f"{path}: not a readable TFLite model ({first_line(e)})") from None
        self._lock = threading.Lock()
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1:
            raise ModelFileError(f"{path}: a pose model has one input, this file has {len(inputs)}")
        self._in, self._out = inputs[0], outputs[0]
        self.metadata = self._read_metadata(path, spec)
        self._check_io(path)
        file_precision = self._file_precision(precision, path, runtime_name)
        self.info = self._file_info(runtime_name, version, "cpu", file_precision, threads, path)

    def _read_metadata(self, path, spec: Optional[SpecLike]) -> Dict[str, Any]:
        try:
            return read_tflite_metadata(path)
        except MetadataError:
            pass
        meta = self._spec_metadata(path, spec)
        shape = list(self._in["shape"])
        layout = "NCHW" if len(shape) == 4 and shape[1] == 3 and shape[3] != 3 else "NHWC"
        meta["layout"] = layout
        return meta

    def _check_io(self, path) -> None:
        shape = [int(v) for v in self._in["shape"]]
        channel_axis = 3 if self.layout == "NHWC" else 1
        if len(shape) != 4 or shape[channel_axis] != 3:
            raise ModelFileError(
                f"{path}: input has shape {shape}; a pose model takes {self.layout} images with 3 channels "
                f"({'N x H x W x 3' if self.layout == 'NHWC' else 'N x 3 x H x W'})"
            )
        spatial = tuple(shape[1:3] if self.layout == "NHWC" else shape[2:4])
        if spatial != self.input_size:
            raise ModelFileError(f"{path}: input is {spatial[0]}x{spatial[1]} but the metadata says {self.input_size}")
        out_shape = [int(v) for v in self._out["shape"]]
        if self.end_to_end:
            if len(out_shape) != 3 or out_shape[2] != 3:
                raise ModelFileError(f"{path}: output has shape {out_shape}; an end-to-end file gives N x K x 3 keypoints")
        elif len(out_shape) != 4:
            raise ModelFileError(f"{path}: output has shape {out_shape}; expected heatmaps of rank 4")
        out_channels = out_shape[3 if self.layout == "NHWC" and not self.end_to_end else 1]
        if out_channels != self.num_joints:
            raise ModelFileError(f"{path}: output has {out_channels} channels but the metadata says {self.num_joints} joints")
        signature = self._in.get("shape_signature")
        dynamic = signature is not None and len(signature) == 4 and int(signature[0]) == -1
        # A static batch of 1 is resized too (heatmap files only: an end-to-end graph's decoding is left as written).
        self._resizable = dynamic or (shape[0] == 1 and not self.end_to_end)
        self.max_batch = None if self._resizable else shape[0]
        self._batch_now = shape[0]

    def _resize(self, n: int) -> bool:
        """Resize the input to a batch of ``n``; False (input back to batch 1) when the graph does not take it."""
        shape = [n] + [int(v) for v in self._in["shape"][1:]]
        try:
            self.interpreter.resize_tensor_input(self._in["index"], shape)
            self.interpreter.allocate_tensors()
            out_batch = int(self.interpreter.get_output_details()[0]["shape"][0])
            if out_batch != n:
                raise ValueError(f"output batch {out_batch}")
        except Exception:  # a batch size baked into the graph (a reshape): run one person per call
            self._resizable = False
            self.interpreter.resize_tensor_input(self._in["index"], [1] + shape[1:])
            self.interpreter.allocate_tensors()
            self._batch_now = 1
            return False
        self._batch_now = n
        return True

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self._in["index"], _quantize(batch, self._in))
        self.interpreter.invoke()
        # get_tensor copies: the next invoke overwrites the interpreter's buffer
        return self.interpreter.get_tensor(self._out["index"])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = batch.shape[0]
        with self._lock:
            if n != self._batch_now and not (self._resizable and self._resize(n)):
                raw = np.concatenate([self._invoke(batch[i:i + 1]) for i in range(n)], axis=0)
            else:
                raw = self._invoke(batch)
        return _dequantize(raw, self._out)


def _quantize(x: np.ndarray, detail: Dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if x.dtype == dtype:  # an end-to-end file's uint8 crops go in as they are
        return x
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype, copy=False)
    scale, zero = detail.get("quantization", (0.0, 0))
    if not scale:
        raise ModelFileError("the TFLite input is an integer tensor without quantization parameters")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: Dict[str, Any]) -> np.ndarray:
    if np.issubdtype(y.dtype, np.floating):
        return y.astype(np.float32, copy=False)
    scale, zero = detail.get("quantization", (0.0, 0))
    return ((y.astype(np.float32) - zero) * (scale or 1.0)).astype(np.float32)

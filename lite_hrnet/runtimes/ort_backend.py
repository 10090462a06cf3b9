"""ONNX Runtime backend for ``.onnx`` files.

Thread safety: an ``InferenceSession`` may be run from several threads at once
(onnxruntime documents ``run`` as thread-safe), so concurrent calls need no lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from ..messages import first_line
from ..metadata import METADATA_KEY, parse_metadata
from .base import FileBackend, ModelFileError, SpecLike

_DEVICES = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "gpu": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "openvino": ["OpenVINOExecutionProvider", "CPUExecutionProvider"],
}


def _static(dim: Any) -> Optional[int]:
    return dim if isinstance(dim, int) and dim > 0 else None


class OnnxRuntimeBackend(FileBackend):
    """Runs an ``.onnx`` pose model with onnxruntime.

    Args:
        path: the ``.onnx`` file.
        device: ``cpu``; ``cuda``/``gpu`` (CUDAExecutionProvider, needs onnxruntime-gpu);
            ``openvino`` (OpenVINOExecutionProvider, needs onnxruntime-openvino).
        threads: intra-op threads (None: onnxruntime's default, one per physical core).
        precision: onnxruntime runs the file's own precision; only None or that precision is accepted.
        spec: metadata to use when the file carries none (a file not exported by lite-hrnet).
    """

    thread_safety = "safe: onnxruntime sessions support concurrent run() calls"

    format_name = "onnx"

    def _open(self, ort: Any, path: Path, device: str, threads: Optional[int], precision: Optional[str],
              spec: Optional[SpecLike]) -> None:
        key = str(device).lower()
        if key not in _DEVICES:
            raise ValueError(f"device {device!r} is not supported by onnxruntime; use one of {', '.join(_DEVICES)}")
        providers: List[str] = _DEVICES[key]
        available = ort.get_available_providers()
        if providers[0] not in available:
            raise ValueError(
                f"device {device!r} needs onnxruntime's {providers[0]}, which this install lacks "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or onnxruntime-openvino, or use device='cpu'"
            )
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as e:  # InvalidProtobuf, InvalidGraph, Fail... depending on the damage
            raise ModelFileError(f"{path}: not a readable ONNX model ({first_line(e)})") from None
        self.metadata = self._read_metadata(path, spec)
        self._check_io(path)
        file_precision = self._file_precision(precision, path, "onnxruntime")
        self.info = self._file_info("onnxruntime", ort.__version__, self.session.get_providers()[0], file_precision,
                                    threads, path)

    def _read_metadata(self, path, spec: Optional[SpecLike]) -> Dict[str, Any]:
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY in props:
            return parse_metadata(props[METADATA_KEY], path)
        return self._spec_metadata(path, spec)

    def _check_io(self, path) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise ModelFileError(f"{path}: a pose model has one input, this file has {len(inputs)}")
        inp, out = inputs[0], outputs[0]
        shape = list(inp.shape)
        channel_axis = 3 if self.layout == "NHWC" else 1
        if len(shape) != 4 or _static(shape[channel_axis]) not in (3, None):
            raise ModelFileError(
                f"{path}: input {inp.name!r} has shape {shape}; a pose model takes N x 3 x H x W images ({self.layout})"
            )
        if self.end_to_end:
            if len(out.shape) != 3 or _static(out.shape[2]) not in (3, None):
                raise ModelFileError(f"{path}: output {out.name!r} has shape {list(out.shape)}; an end-to-end file gives N x K x 3 keypoints")
        elif len(out.shape) != 4:
            raise ModelFileError(f"{path}: output {out.name!r} has shape {list(out.shape)}; expected N x K x h x w heatmaps")
        out_channels = _static(out.shape[3 if self.layout == "NHWC" and not self.end_to_end else 1])
        if out_channels is not None and out_channels != self.num_joints:
            raise ModelFileError(
                f"{path}: output has {out_channels} channels but the metadata says {self.num_joints} joints"
            )
        spatial = shape[1:3] if self.layout == "NHWC" else shape[2:4]
        if all(_static(d) for d in spatial) and tuple(spatial) != self.input_size:
            raise ModelFileError(f"{path}: input is {spatial[0]}x{spatial[1]} but the metadata says {self.input_size}")
        self.max_batch = _static(shape[0])
        self._input_name = inp.name
        self._output_name = out.name
        self._input_dtype = {"tensor(float16)": np.float16, "tensor(uint8)": np.uint8}.get(inp.type, np.float32)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        out = self.session.run([self._output_name], {self._input_name: batch.astype(self._input_dtype, copy=False)})[0]
        return out.astype(np.float32, copy=False)

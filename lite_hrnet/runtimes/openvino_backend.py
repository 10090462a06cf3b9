"""OpenVINO backend for ``.xml`` (+ ``.bin``) IR files.

A file with a dynamic batch is compiled once per batch size actually run, each time
reshaped to a static N x 3 x H x W: OpenVINO's CPU plugin runs a static shape faster
than the dynamic one (benchmarks/speed/openvino_static_batch.md). The first call of a
new batch size compiles it (a one-time cost, measured in that file). At most ``batch_cap``
compiled models are kept, the least recently used dropped first (calls are split into
pieces of at most ``batch_cap`` persons, so larger sizes never occur).

Thread safety: each call takes an ``InferRequest`` of its own from a small
pool per compiled model (created on demand, returned after the call), so
concurrent calls never share a request; a lock guards only the cache of
compiled models (a call that compiles holds it while compiling).
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..messages import first_line
from ..metadata import METADATA_KEY, parse_metadata
from .base import FileBackend, ModelFileError, SpecLike

_DEVICES = {"cpu": "CPU", "gpu": "GPU", "npu": "NPU", "auto": "AUTO"}
# user-facing precision names -> OpenVINO element type names, and back
_PRECISION_HINTS = {"fp32": "f32", "f32": "f32", "bf16": "bf16", "fp16": "f16", "f16": "f16"}
_PRECISION_NAMES = {"f32": "fp32", "bf16": "bf16", "f16": "fp16", "i8": "int8", "u8": "int8"}


class OpenVINOBackend(FileBackend):
    """Runs an OpenVINO IR pose model.

    Args:
        path: the ``.xml`` file (its ``.bin`` next to it).
        device: ``cpu``, ``gpu`` (Intel GPU), ``npu``, ``auto``, or an OpenVINO
            device name such as ``GPU.1``. ``cuda`` is not an OpenVINO device.
        threads: ``INFERENCE_NUM_THREADS`` on CPU (None: OpenVINO's default).
        precision: ``INFERENCE_PRECISION_HINT`` on CPU/GPU: ``fp32``, ``bf16`` or
            ``fp16``; None keeps OpenVINO's default (bf16 on CPUs with AMX/AVX512-BF16,
            else fp32). ``info.precision`` reports what the compiled model runs.
        spec: metadata to use when the file carries none.
    """

    thread_safety = "safe: every call uses its own InferRequest from a pool; the compiled-model cache is locked"
    exact_batch = True

    format_name = "openvino"

    def _open(self, ov: Any, path: Path, device: str, threads: Optional[int], precision: Optional[str],
              spec: Optional[SpecLike]) -> None:
        weights = path.with_suffix(".bin")
        if not weights.is_file():
            raise FileNotFoundError(f"OpenVINO weights not found: {weights} (the .bin that belongs to {path})")
        core = ov.Core()
        ov_device = self._device_name(str(device), core)
        try:
            model = core.read_model(str(path))
        except Exception as e:
            raise ModelFileError(f"{path}: not a readable OpenVINO IR model ({first_line(e)})") from None
        self.metadata = self._read_metadata(model, path, spec)
        self._check_io(model, path)
        config: Dict[str, Any] = {}
        base = ov_device.split(".")[0]
        if precision is not None:
            hint = _PRECISION_HINTS.get(str(precision).lower())
            if hint is None:
                raise ValueError(f"precision must be one of fp32, bf16, fp16 or None, got {precision!r}")
            if base in ("CPU", "GPU"):
                config["INFERENCE_PRECISION_HINT"] = hint
        if threads is not None and base == "CPU":
            config["INFERENCE_NUM_THREADS"] = threads
        self._core, self._model, self._device, self._config, self._path = core, model, ov_device, config, path
        # batch size (None: the file's own shape) -> (compiled model, its pool of InferRequests), most recent last
        self._compiled: "OrderedDict[Optional[int], Tuple[Any, queue.SimpleQueue]]" = OrderedDict()
        self._cache_lock = threading.Lock()
        # A dynamic batch is compiled per batch size; batch 1 now, so that a model that does not compile fails here
        # and info reads the compiled properties.
        self.compiled = self._compiled_for(1 if self.max_batch is None else None)[0]
        self.info = self._file_info("openvino", ov.__version__.split("-")[0], self._property("EXECUTION_DEVICES", ov_device),
                                    self._precision(), self._threads(threads), path)

    @staticmethod
    def _device_name(device: str, core) -> str:
        key = device.lower()
        if key == "cuda":
            raise ValueError("device 'cuda' is not an OpenVINO device; use cpu, gpu (Intel GPU), npu or auto")
        name = _DEVICES.get(key, device.upper())
        available = list(core.available_devices)
        if name != "AUTO" and not name.startswith(("AUTO:", "MULTI:", "HETERO:")):
            if name not in available and name.split(".")[0] not in [d.split(".")[0] for d in available]:
                raise ValueError(f"device {device!r} is not available to OpenVINO here (available: {', '.join(available)})")
        return name

    def _read_metadata(self, model, path, spec: Optional[SpecLike]) -> Dict[str, Any]:
        if model.has_rt_info([METADATA_KEY]):
            return parse_metadata(model.get_rt_info([METADATA_KEY]).astype(str), path)
        return self._spec_metadata(path, spec)

    def _check_io(self, model, path) -> None:
        if len(model.inputs) != 1:
            raise ModelFileError(f"{path}: a pose model has one input, this file has {len(model.inputs)}")
        shape = model.inputs[0].get_partial_shape()
        out_shape = model.outputs[0].get_partial_shape()
        channel_axis = 3 if self.layout == "NHWC" else 1
        if shape.rank.is_dynamic or shape.rank.get_length() != 4 or (
            shape[channel_axis].is_static and shape[channel_axis].get_length() != 3
        ):
            raise ModelFileError(f"{path}: input has shape {shape}; a pose model takes N x 3 x H x W images ({self.layout})")
        if out_shape.rank.is_dynamic or out_shape.rank.get_length() != 4:
            raise ModelFileError(f"{path}: output has shape {out_shape}; expected N x K x h x w heatmaps")
        out_channels = out_shape[3 if self.layout == "NHWC" else 1]
        if out_channels.is_static and out_channels.get_length() != self.num_joints:
            raise ModelFileError(
                f"{path}: output has {out_channels.get_length()} channels but the metadata says {self.num_joints} joints"
            )
        self.max_batch = shape[0].get_length() if shape[0].is_static else None

    def _property(self, name: str, default: str) -> str:
        try:
            value = self.compiled.get_property(name)
        except Exception:
            return default
        return ",".join(value) if isinstance(value, (list, tuple)) else str(value)

    def _precision(self) -> str:
        try:
            hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        except Exception:
            return "unknown"
        name = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        return _PRECISION_NAMES.get(name, name)

    def _threads(self, requested: Optional[int]) -> Optional[int]:
        try:
            value = int(self.compiled.get_property("INFERENCE_NUM_THREADS"))
        except Exception:
            return requested
        return value if value > 0 else requested

    @property
    def compiled_batch_sizes(self) -> Tuple[Optional[int], ...]:
        """The batch sizes compiled so far, least recently used first (None: the file's own static shape)."""
        with self._cache_lock:
            return tuple(self._compiled)

    def _compiled_for(self, batch_size: Optional[int]) -> Tuple[Any, "queue.SimpleQueue"]:
        """The compiled model for ``batch_size`` persons (None: the file as it is) and its request pool; compiled on first use."""
        with self._cache_lock:
            entry = self._compiled.get(batch_size)
            if entry is not None:
                self._compiled.move_to_end(batch_size)
                return entry
            model = self._model
            if batch_size is not None:
                h, w = self.input_size
                shape = [batch_size, h, w, 3] if self.layout == "NHWC" else [batch_size, 3, h, w]
                model = self._model.clone()  # reshape works in place: the dynamic original stays for the next size
                try:
                    model.reshape({model.inputs[0]: shape})
                except Exception as e:
                    raise ModelFileError(f"{self._path}: OpenVINO cannot reshape the input to {shape}: {first_line(e)}") from None
            try:
                compiled = self._core.compile_model(model, self._device, self._config)
            except Exception as e:
                raise ValueError(f"{self._path}: OpenVINO cannot compile the model for {self._device} with {self._config}: "
                                 f"{first_line(e)}") from None
            entry = (compiled, queue.SimpleQueue())
            self._compiled[batch_size] = entry
            while len(self._compiled) > max(1, self.batch_cap or 1):
                self._compiled.popitem(last=False)  # requests still running keep their compiled model alive
            return entry

    def _run(self, batch: np.ndarray) -> np.ndarray:
        compiled, requests = self._compiled_for(None if self.max_batch is not None else batch.shape[0])
        try:
            request = requests.get_nowait()
        except queue.Empty:
            request = compiled.create_infer_request()
        try:
            request.infer({0: batch})
            return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)
        finally:
            requests.put(request)

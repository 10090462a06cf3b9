"""Torch-free runtime backends: one call contract for ONNX Runtime, OpenVINO, TFLite and PyTorch.

>>> backend = lite_hrnet.runtimes.load("litehrnet_18_coco_256x192.onnx", threads=4)
>>> heatmaps = backend(batch)          # N x 3 x 256 x 192 float32 -> N x 17 x 64 x 48 float32
>>> backend.metadata["keypoint_names"], backend.info.precision

The backend is chosen by the file: ``.onnx`` -> onnxruntime, ``.xml`` ->
OpenVINO, ``.tflite`` -> LiteRT, ``.pth``/``.pt`` or a registered model name ->
PyTorch (the only one that imports torch, lazily). A callable with the same
contract is wrapped as it is (its metadata from ``spec``/``model_name``).

Thread safety, per backend:

- onnxruntime: sessions support concurrent calls; no lock.
- OpenVINO: every call uses its own InferRequest from a pool; no shared state.
- TFLite: the interpreter is not thread-safe; calls are serialized by a lock.
- PyTorch: eval-mode inference does not mutate the module; no lock.
- callable: whatever the wrapped function guarantees.

Errors: a missing file raises ``FileNotFoundError``; a damaged or foreign file,
a bad argument or a bad input array raises a ``ValueError`` subclass naming
the file or argument; a missing runtime raises ``ImportError`` naming the extra
to install (``pip install 'lite-hrnet[ort]'``, ``[openvino]``, ``[tflite]``, ``[torch]``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional, Union

from ..metadata import MetadataError
from ..specs import MODEL_SPECS
from .base import Backend, CallableBackend, ModelFileError, RuntimeInfo, SpecLike, check_batch

ModelLike = Union[str, os.PathLike, Backend, Any]

_FILE_SUFFIXES = (".onnx", ".xml", ".tflite", ".pth", ".pt")

__all__ = [
    "Backend", "CallableBackend", "MetadataError", "ModelFileError", "RuntimeInfo",
    "check_batch", "is_torch_module", "load",
]


def is_torch_module(obj: Any) -> bool:
    """True for an ``nn.Module``; never imports torch (an object cannot be one unless torch is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def load(
    model: ModelLike,
    device: str = "cpu",
    threads: Optional[int] = None,
    precision: Optional[str] = None,
    *,
    model_name: Optional[str] = None,
    weights: Optional[Union[str, os.PathLike]] = None,
    spec: Optional[SpecLike] = None,
    max_batch: Optional[int] = None,
) -> Backend:
    """A backend for ``model``, callable as ``backend(N x 3 x H x W float32) -> N x K x h x w float32``.

    Args:
        model: a ``.onnx``, ``.xml``, ``.tflite``, ``.pth``/``.pt`` path, a registered
            model name, an ``nn.Module``, a :class:`Backend`, or any callable with the
            backend contract (NCHW float32 in, NCHW heatmaps out).
        device: ``cpu``; ``cuda``/``gpu`` (onnxruntime CUDA provider, PyTorch CUDA,
            OpenVINO's Intel ``GPU``); ``npu``/``auto`` (OpenVINO); ``openvino`` (onnxruntime's
            OpenVINO execution provider).
        threads: CPU threads for the runtime (None: its default).
        precision: OpenVINO ``INFERENCE_PRECISION_HINT`` (``fp32``, ``bf16``, ``fp16``), the
            PyTorch dtype; other runtimes run the file's own precision.
        model_name: the registered model of a checkpoint without ``meta['model_name']``,
            or the metadata source for a callable.
        weights: checkpoint for a registered model name (PyTorch backend).
        spec: metadata (ModelSpec, registered name or dict) for a callable or a file
            without lite-hrnet metadata.
        max_batch: for a callable: the largest batch it takes at once (None: any).
    """
    if isinstance(model, Backend):
        return model
    if is_torch_module(model):
        from .torch_backend import TorchBackend

        return TorchBackend(model, device, threads, precision, model_name=model_name, spec=spec)
    if not isinstance(model, (str, os.PathLike)):
        if callable(model):
            source = spec if spec is not None else model_name
            if source is None:
                raise ValueError("a model callable needs spec= or model_name= for its metadata (input size, joints)")
            return CallableBackend(model, source, max_batch=max_batch)
        raise ValueError(
            f"model must be a model file, a registered model name or a callable, got {type(model).__name__}"
        )
    text = os.fspath(model)
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from .ort_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(path, device, threads, precision, spec=spec or model_name)
    if suffix == ".xml":
        from .openvino_backend import OpenVINOBackend

        return OpenVINOBackend(path, device, threads, precision, spec=spec or model_name)
    if suffix == ".tflite":
        from .tflite_backend import TFLiteBackend

        return TFLiteBackend(path, device, threads, precision, spec=spec or model_name)
    if suffix == ".bin":
        raise ValueError(f"model {text}: pass the OpenVINO .xml file, not its .bin")
    if suffix in (".pth", ".pt") or text in MODEL_SPECS:
        if suffix in (".pth", ".pt") and not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        from .torch_backend import TorchBackend

        return TorchBackend(text, device, threads, precision, model_name=model_name, weights=weights)
    if path.exists():
        raise ValueError(f"model {text}: unknown model format {suffix or '(no suffix)'!r}; expected one of {', '.join(_FILE_SUFFIXES)}")
    raise FileNotFoundError(
        f"model {text!r} is neither an existing model file ({', '.join(_FILE_SUFFIXES)}) nor a registered model name "
        f"(see `lite-hrnet list`)"
    )

"""``load()``: the backend for a model file, a registered name, a module or a callable, chosen by the format table."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional, Type, Union

from ..formats import MODEL_SUFFIXES, companion_of, format_of_path
from ..specs import MODEL_SPECS
from .base import Backend, CallableBackend, FileBackend, SpecLike

ModelLike = Union[str, os.PathLike, Backend, Any]


def is_torch_module(obj: Any) -> bool:
    """True for an ``nn.Module``; never imports torch (an object cannot be one unless torch is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def file_backend_class(fmt: str) -> Type[FileBackend]:
    """The backend class for the file format ``fmt`` (onnx, openvino, tflite, engine); imported on demand, as each needs its runtime."""
    if fmt == "onnx":
        from .ort_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend
    if fmt == "openvino":
        from .openvino_backend import OpenVINOBackend

        return OpenVINOBackend
    if fmt == "tflite":
        from .tflite_backend import TFLiteBackend

        return TFLiteBackend
    if fmt == "engine":
        from .engine_backend import EngineBackend

        return EngineBackend
    raise ValueError(f"no file backend for format {fmt!r}")


def load(model: ModelLike, device: str = "cpu", threads: Optional[int] = None, precision: Optional[str] = None, *,
         model_name: Optional[str] = None, weights: Optional[Union[str, os.PathLike]] = None,
         spec: Optional[SpecLike] = None, max_batch: Optional[int] = None) -> Backend:
    """A backend for ``model``, callable as ``backend(N x 3 x H x W float32) -> N x K x h x w float32``.

    Args:
        model: a ``.onnx``, ``.xml``, ``.tflite``, ``.lhrn``, ``.pth``/``.pt`` path, a registered
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
        max_batch: the largest batch one call of the runtime gets: for a callable (None: any), and for
            a file that takes any batch (None: :data:`~lite_hrnet.runtimes.base.DEFAULT_BATCH_CAP`).
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
    fmt = format_of_path(path)
    if fmt is not None and fmt.name != "torch":
        return file_backend_class(fmt.name)(path, device, threads, precision, spec=spec or model_name, max_batch=max_batch)
    owner = companion_of(path)
    if owner is not None:
        raise ValueError(f"model {text}: pass the {owner.title} {owner.suffix} file, not its {path.suffix.lower()}")
    if fmt is not None or text in MODEL_SPECS:
        if fmt is not None and not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        from .torch_backend import TorchBackend

        return TorchBackend(text, device, threads, precision, model_name=model_name, weights=weights)
    if path.exists():
        raise ValueError(f"model {text}: unknown model format {path.suffix.lower() or '(no suffix)'!r}; "
                         f"expected one of {', '.join(MODEL_SUFFIXES)}")
    from ..specs import did_you_mean

    raise FileNotFoundError(
        f"model {text!r} is neither an existing model file ({', '.join(MODEL_SUFFIXES)}) nor a registered model name "
        f"(see `lite-hrnet list`){did_you_mean(text)}"
    )

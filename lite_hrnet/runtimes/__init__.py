"""Torch-free runtime backends: one call contract for ONNX Runtime, OpenVINO, TFLite, the lite-hrnet engine and PyTorch.

>>> backend = lite_hrnet.runtimes.load("litehrnet_18_coco_256x192.onnx", threads=4)
>>> heatmaps = backend(batch)          # N x 3 x 256 x 192 float32 -> N x 17 x 64 x 48 float32
>>> backend.metadata["keypoint_names"], backend.info.precision

The backend is chosen by the file (:mod:`lite_hrnet.formats`): ``.onnx`` ->
onnxruntime, ``.xml`` -> OpenVINO, ``.tflite`` -> LiteRT, ``.lhrn`` -> the lite-hrnet
engine (``liblhr_engine.so`` through ctypes, :mod:`.engine_backend`), ``.pth``/``.pt`` or a
registered model name -> PyTorch (the only one that imports torch, lazily). A
callable with the same contract is wrapped as it is (its metadata from
``spec``/``model_name``). The machinery is in :mod:`.base` (the contract) and
:mod:`._load` (the choice).

Thread safety, per backend:

- onnxruntime: sessions support concurrent calls; no lock.
- OpenVINO: every call uses its own InferRequest from a pool; no shared state.
- TFLite: the interpreter is not thread-safe; calls are serialized by a lock.
- lite-hrnet engine: calls are serialized by a lock; ``threads=T`` runs a call's persons on T engines.
- PyTorch: eval-mode inference does not mutate the module; no lock.
- callable: whatever the wrapped function guarantees.

Errors: a missing file raises ``FileNotFoundError``; a damaged or foreign file,
a bad argument or a bad input array raises a ``ValueError`` subclass naming
the file or argument; a missing runtime raises ``ImportError`` naming the extra
to install (``pip install 'lite-hrnet[ort]'``, ``[openvino]``, ``[tflite]``, ``[torch]``); an
engine library that is not built raises ``EngineLibraryError`` (an ImportError) saying to run ``make native``.
"""

from ..messages import first_line
from ..metadata import MetadataError
from ._load import ModelLike, file_backend_class, is_torch_module, load
from .base import Backend, CallableBackend, FileBackend, ModelFileError, RuntimeInfo, check_batch

__all__ = [
    "Backend", "CallableBackend", "FileBackend", "MetadataError", "ModelFileError", "ModelLike", "RuntimeInfo",
    "check_batch", "file_backend_class", "first_line", "is_torch_module", "load",
]

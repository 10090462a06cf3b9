"""What every runtime backend shares: the call contract, input checks, batching and layout.

A backend is a callable ``backend(batch) -> heatmaps``:

- ``batch``: N x 3 x H x W float32, normalized RGB (``(pixel - mean) / std``
  with the metadata's mean/std), ``(H, W)`` the model's ``input_size``;
- returns N x K x h x w float32 heatmaps (``h, w = H / 4, W / 4``).

Both are NCHW whatever the file's own layout (the metadata's ``layout`` says
NCHW or NHWC for the file; backends transpose). All persons of a call go to the
runtime at once when the file takes any batch (a dynamic batch, or a TFLite file
whose input is resized), up to ``batch_cap`` (:data:`DEFAULT_BATCH_CAP`) per run to
bound memory; batch sizes a static file does not support (a static batch of 1, say)
are run in pieces. Either way the results are joined in order.

End-to-end files (metadata ``end_to_end``, :mod:`lite_hrnet.export.end_to_end`) decode
inside and give no heatmaps: :meth:`Backend.keypoints` takes N x H x W x 3 uint8 RGB
crops and returns N x K x 3 ``(x, y, score)`` in input-crop pixels; calling them raises.

Input dtypes: float32 is used as is; float16 and float64 are converted to
float32. Integer and boolean arrays are refused with a ``ValueError`` because
an unnormalized ``uint8`` crop passed by mistake would otherwise give silent
garbage: normalize first (``PoseEstimator`` does it).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple, Union

import numpy as np

from ..formats import get_format
from ..metadata import REQUIRED_FIELDS, MetadataError
from ..specs import ModelSpec, get_model_spec

SpecLike = Union[ModelSpec, str, Mapping[str, Any]]

__all__ = [
    "Backend", "CallableBackend", "DEFAULT_BATCH_CAP", "FileBackend", "ModelFileError", "RuntimeInfo", "SpecLike",
    "check_batch", "check_threads", "existing_file", "metadata_from_spec", "missing_extra",
]


#: persons per runtime call, at most, for files that take any batch: bounds the memory the
#: runtime allocates for activations, which grows with the batch
DEFAULT_BATCH_CAP = 16


class ModelFileError(ValueError):
    """A model file that exists but cannot be used: truncated, foreign, or not a pose model."""


def missing_extra(what: str, extra: str) -> ImportError:
    """The ImportError for a missing optional dependency, naming the extra to install."""
    return ImportError(f"{what} is not installed: pip install 'lite-hrnet[{extra}]'")


@dataclass(frozen=True)
class RuntimeInfo:
    """What a backend actually runs with.

    Attributes:
        runtime: ``onnxruntime``, ``openvino``, ``litert`` (or ``tflite_runtime`` /
            ``tensorflow``), ``torch`` or ``callable``.
        version: the runtime package's version.
        device: the device or execution provider in use (``CPUExecutionProvider``,
            ``CPU``, ``cpu``, ``cuda:0``, ...).
        precision: the precision the runtime computes in (``fp32``, ``fp16``,
            ``bf16``, ``int8``), or ``unknown``.
        threads: CPU threads applied, or ``None`` where the runtime's default applies.
        batch: the file's static batch size, or ``None`` when any batch size runs at once.
        path: the model file, if any.
        thread_safe: how concurrent calls are handled.
    """

    runtime: str
    version: str
    device: str
    precision: str
    threads: Optional[int]
    batch: Optional[int] = None
    path: Optional[str] = None
    thread_safe: str = ""


def max_threads() -> int:
    """The most CPU threads a runtime is given: 4 per logical CPU, at least 16. More only oversubscribe
    the cores, and an absurd count (100000) makes a runtime create that many threads and exhaust memory."""
    return max(16, 4 * (os.cpu_count() or 1))


def check_threads(threads: Optional[int]) -> Optional[int]:
    """``threads`` as a positive int (at most :func:`max_threads`) or None; ValueError naming ``threads`` otherwise."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    if threads > max_threads():
        raise ValueError(f"threads must be at most {max_threads()} (4 per CPU of the {os.cpu_count()} here), "
                         f"got {int(threads)}")
    return int(threads)


def metadata_from_spec(spec: SpecLike, **extra: Any) -> Dict[str, Any]:
    """Metadata dict for a spec, a registered model name or an existing metadata mapping.

    ``extra`` fields (``format``, ``precision``, ``layout``, ``batch``) are added
    where the source lacks them; ``layout`` defaults to NCHW.
    """
    if isinstance(spec, ModelSpec):
        meta: Dict[str, Any] = spec.metadata()
    elif isinstance(spec, str):
        meta = get_model_spec(spec).metadata()
    elif isinstance(spec, Mapping):
        meta = dict(spec)
    else:
        raise ValueError(f"spec must be a ModelSpec, a registered model name or a metadata dict, got {type(spec).__name__}")
    meta.setdefault("layout", "NCHW")
    for key, value in extra.items():
        meta.setdefault(key, value)
    missing = [k for k in REQUIRED_FIELDS if k not in meta]
    if missing:
        raise MetadataError(f"spec metadata lacks {', '.join(missing)}")
    return meta


def check_batch(batch: Any, input_size: Optional[Tuple[int, int]] = None, name: str = "batch") -> np.ndarray:
    """Validate and convert a network input to a C-contiguous N x 3 x H x W float32 array.

    Raises:
        ValueError: naming ``name``, for integer/bool/object dtypes, a rank other
            than 4, other than 3 channels, or an ``(H, W)`` other than ``input_size``.
    """
    array = np.asarray(batch)
    if array.dtype == np.float32:
        pass
    elif np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    else:
        raise ValueError(
            f"{name} has dtype {array.dtype}; the network takes normalized float32 input "
            "(N x 3 x H x W, (RGB - mean) / std) - normalize first, as PoseEstimator does"
        )
    if array.ndim != 4 or array.shape[1] != 3:
        raise ValueError(f"{name} must be N x 3 x H x W, got shape {tuple(array.shape)}")
    if input_size is not None and tuple(array.shape[2:]) != tuple(input_size):
        raise ValueError(
            f"{name} is {array.shape[2]}x{array.shape[3]} (H x W) but the model takes {input_size[0]}x{input_size[1]}"
        )
    return np.ascontiguousarray(array)


class Backend:
    """Base class of the runtime backends: call contract, batching, layout and checks.

    Subclasses set ``metadata``, ``info`` and ``max_batch`` and implement
    :meth:`_run`, which gets a batch in the file's layout whose size fits the
    file and returns the raw output in the file's layout.
    """

    metadata: Dict[str, Any]
    info: RuntimeInfo
    #: largest batch one run takes (the file's static batch), None for any.
    max_batch: Optional[int] = None
    #: a static batch must be filled exactly (pad the last piece); False: runs take up to max_batch.
    exact_batch: bool = True
    #: largest batch one run takes when the file takes any (``max_batch`` None): a memory bound; None: no bound.
    batch_cap: Optional[int] = None
    #: what the backend promises for concurrent calls.
    thread_safety: str = ""

    # ------------------------------------------------------------------ metadata views
    @property
    def input_size(self) -> Tuple[int, int]:
        """(height, width) of the network input."""
        h, w = self.metadata["input_size"]
        return int(h), int(w)

    @property
    def num_joints(self) -> int:
        return int(self.metadata["num_joints"])

    @property
    def layout(self) -> str:
        return str(self.metadata.get("layout", "NCHW")).upper()

    @property
    def name(self) -> str:
        return str(self.metadata.get("model_name", "model"))

    @property
    def end_to_end(self) -> bool:
        """An end-to-end file (:mod:`lite_hrnet.export.end_to_end`): uint8 RGB crops in, keypoints out, no heatmaps."""
        return bool(self.metadata.get("end_to_end", False))

    # ------------------------------------------------------------------ the call
    def __call__(self, batch: Any) -> np.ndarray:
        """N x 3 x H x W float32 (NCHW) -> N x K x h x w float32 heatmaps (NCHW)."""
        if self.end_to_end:
            raise ValueError(f"{self._where()} is an end-to-end file: it gives keypoints, not heatmaps; "
                             "call .keypoints(crops) with uint8 RGB crops, or use PoseEstimator")
        x = check_batch(batch, self.input_size)
        n = x.shape[0]
        if n == 0:
            h, w = self.metadata.get("heatmap_size") or (self.input_size[0] // 4, self.input_size[1] // 4)
            return np.zeros((0, self.num_joints, int(h), int(w)), dtype=np.float32)
        outputs = [self._run_chunk(chunk) for chunk in self._chunks(x)]
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=0)

    def _chunks(self, x: np.ndarray) -> Iterator[np.ndarray]:
        step = self.max_batch or self.batch_cap or x.shape[0]
        for start in range(0, x.shape[0], step):
            yield x[start:start + step]

    def keypoints(self, crops: Any) -> np.ndarray:
        """End-to-end files only: N x H x W x 3 uint8 RGB crops (the input size) -> N x K x 3 float32.

        Each row is ``(x, y, score)``: x, y in input-crop pixels (the codec's quarter-pixel
        decoding, ``x_hm * W_in / W_hm``), the score the heatmap maximum.
        """
        if not self.end_to_end:
            raise ValueError(f"{self._where()} gives heatmaps, not keypoints: call the backend on normalized "
                             "N x 3 x H x W float32 input, or use PoseEstimator")
        crops = np.asarray(crops)
        h, w = self.input_size
        if crops.dtype != np.uint8 or crops.ndim != 4 or tuple(crops.shape[1:]) != (h, w, 3):
            raise ValueError(f"crops must be N x {h} x {w} x 3 uint8 RGB, got a {crops.dtype} array of shape {crops.shape}")
        outputs = [np.zeros((0, self.num_joints, 3), np.float32)]
        for chunk in self._chunks(np.ascontiguousarray(crops)) if len(crops) else []:
            out = np.asarray(self._run(self._padded(chunk)))[:len(chunk)]
            if out.shape[1:] != (self.num_joints, 3):
                raise ModelFileError(f"{self._where()}: output has shape {out.shape}, expected N x {self.num_joints} x 3 keypoints")
            outputs.append(out.astype(np.float32, copy=False))
        return np.concatenate(outputs, axis=0)

    def _padded(self, chunk: np.ndarray) -> np.ndarray:
        """``chunk`` filled up with zeros to the file's static batch, where it must be."""
        n = chunk.shape[0]
        if self.max_batch and self.exact_batch and n < self.max_batch:
            pad = np.zeros((self.max_batch - n,) + chunk.shape[1:], dtype=chunk.dtype)
            chunk = np.concatenate([chunk, pad], axis=0)
        return chunk

    def _run_chunk(self, chunk: np.ndarray) -> np.ndarray:
        n = chunk.shape[0]
        chunk = self._padded(chunk)
        if self.layout == "NHWC":
            chunk = np.ascontiguousarray(chunk.transpose(0, 2, 3, 1))
        out = np.asarray(self._run(chunk))
        if out.ndim != 4:
            raise ModelFileError(f"{self._where()}: output has rank {out.ndim}, expected 4 (heatmaps)")
        if self.layout == "NHWC":
            out = out.transpose(0, 3, 1, 2)
        out = out[:n]
        if out.shape[1] != self.num_joints:
            raise ModelFileError(
                f"{self._where()}: output has {out.shape[1]} channels, the metadata says {self.num_joints} joints"
            )
        return np.ascontiguousarray(out, dtype=np.float32)

    def _run(self, batch: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _where(self) -> str:
        return getattr(self.info, "path", None) or self.name

    def __repr__(self) -> str:
        i = self.info
        return (f"{type(self).__name__}({self.name}, runtime={i.runtime} {i.version}, device={i.device}, "
                f"precision={i.precision}, threads={i.threads}, path={i.path})")


class FileBackend(Backend):
    """A backend that runs one model file (ONNX Runtime, OpenVINO, TFLite): the opening they share.

    The constructor imports the runtime (:meth:`_import_runtime`, ImportError naming
    the extra), checks the file and ``threads``, then hands over to :meth:`_open`,
    which sets ``metadata``, ``info`` and ``max_batch``.

    Args:
        path: the model file.
        device: the runtime's device (see each backend).
        threads: CPU threads for the runtime (None: its default).
        precision: the precision to compute in, where the runtime can choose (see each backend).
        spec: metadata to use when the file carries none (a file not exported by lite-hrnet).
        max_batch: persons per runtime call at most when the file takes any batch (``batch_cap``;
            None: :data:`DEFAULT_BATCH_CAP`); a file with a static batch runs that batch.
    """

    #: the format's name in :data:`lite_hrnet.formats.FILE_FORMATS`
    format_name: str = ""

    def __init__(self, path: Union[str, os.PathLike], device: str = "cpu", threads: Optional[int] = None,
                 precision: Optional[str] = None, spec: Optional[SpecLike] = None, max_batch: Optional[int] = None) -> None:
        if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, (int, np.integer)) or max_batch < 1):
            raise ValueError(f"max_batch must be a positive integer or None, got {max_batch!r}")
        self.batch_cap = DEFAULT_BATCH_CAP if max_batch is None else int(max_batch)
        runtime = self._import_runtime()
        self._open(runtime, existing_file(path), device, check_threads(threads), precision, spec)

    def _import_runtime(self) -> Any:
        """The runtime module of the format (:data:`lite_hrnet.formats.FILE_FORMATS`); ImportError naming the extra."""
        table = get_format(self.format_name)
        try:
            return importlib.import_module(table.runtime_module)
        except ImportError:
            raise self._missing_runtime(f"{table.runtime_module} (for {table.suffix} models)") from None

    def _open(self, runtime: Any, path: Path, device: str, threads: Optional[int], precision: Optional[str],
              spec: Optional[SpecLike]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _missing_runtime(self, what: str) -> ImportError:
        return missing_extra(what, get_format(self.format_name).extra)

    def _spec_metadata(self, path: Path, spec: Optional[SpecLike]) -> Dict[str, Any]:
        """Metadata from ``spec`` for a file that carries none; MetadataError naming the file without one."""
        if spec is None:
            raise MetadataError(
                f"{path}: no lite-hrnet metadata (not exported by lite-hrnet?); pass spec=/--model-name to use it anyway"
            )
        return metadata_from_spec(spec, format=self.format_name, precision="fp32")

    def _file_precision(self, precision: Optional[str], path: Path, runtime: str) -> str:
        """The file's own precision, for a runtime that runs only that; ValueError when ``precision`` asks for another."""
        file_precision = str(self.metadata.get("precision", "fp32"))
        if precision is not None and str(precision).lower() != file_precision:
            raise ValueError(
                f"precision {precision!r} cannot be applied by {runtime}, which runs {path} as exported "
                f"({file_precision}); export another precision, or use the OpenVINO backend for bf16"
            )
        return file_precision

    def _file_info(self, runtime: str, version: str, device: str, precision: str, threads: Optional[int],
                   path: Path) -> RuntimeInfo:
        return RuntimeInfo(runtime=runtime, version=version, device=device, precision=precision, threads=threads,
                           batch=self.max_batch, path=str(path), thread_safe=self.thread_safety)


class CallableBackend(Backend):
    """Wraps a user function ``fn(batch) -> heatmaps`` with the same contract, NCHW in and out.

    Metadata comes from ``spec`` (a :class:`ModelSpec`, a registered name, or a
    metadata dict). Concurrent calls go straight to ``fn``: thread safety is the
    function's own.
    """

    thread_safety = "as thread-safe as the wrapped function"

    def __init__(self, fn: Callable[[np.ndarray], Any], spec: SpecLike, max_batch: Optional[int] = None) -> None:
        if not callable(fn):
            raise ValueError(f"model must be a file, a registered name or a callable, got {type(fn).__name__}")
        self.fn = fn
        self.metadata = metadata_from_spec(spec, format="callable", precision="unknown", batch="dynamic")
        self.metadata["layout"] = "NCHW"
        self.max_batch = max_batch
        self.exact_batch = False
        self.info = RuntimeInfo(
            runtime="callable", version="", device="unknown", precision="unknown", threads=None,
            batch=max_batch, path=None, thread_safe=self.thread_safety,
        )

    def _run(self, batch: np.ndarray) -> np.ndarray:
        out = self.fn(batch)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out)
        return out

    def _where(self) -> str:
        return f"model callable {getattr(self.fn, '__name__', type(self.fn).__name__)}"


def existing_file(path: Union[str, os.PathLike], what: str = "model file") -> Path:
    """``path`` as a Path; FileNotFoundError naming it when it is not a file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    return p


"""Metadata that travels inside exported files (no torch, no TensorFlow needed to read it).

One JSON object, stored under the key ``lite_hrnet``:

- ONNX: an entry of ``ModelProto.metadata_props``;
- OpenVINO IR: ``rt_info["lite_hrnet"]`` (a string) of the ``.xml``;
- TFLite: an entry of the flatbuffer's ``metadata`` table named ``lite_hrnet``,
  whose buffer holds the UTF-8 JSON;
- lite-hrnet engine (``.lhrn``): the JSON at the end of the program
  (:mod:`lite_hrnet.export.engine_program`).

The object holds :meth:`lite_hrnet.specs.ModelSpec.metadata` (model name, input
size (H, W), heatmap size and stride, mean/std on RGB 0-255 values, color
order, joint names, flip pairs, skeleton, OKS sigmas) plus what the export
adds: ``format``, ``precision`` (fp32, fp16, int8), ``layout`` (NCHW or NHWC,
the layout of the file's own input and output), ``batch`` (an int, or
``"dynamic"``), ``checkpoint_sha256``, ``toolkit_version`` and, where the
graph was rewritten for its runtime (see :mod:`lite_hrnet.export.rewrite`),
``graph_rewrites``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Dict, Union

from .formats import format_of_path, get_format

METADATA_KEY = "lite_hrnet"
# Marks the TFLite JSON blob so that a reader without a flatbuffer schema can still find it.
_TFLITE_MAGIC = b'{"lite_hrnet_metadata": 1, '

REQUIRED_FIELDS = ("model_name", "input_size", "mean", "std", "color_order", "layout", "num_joints")


class MetadataError(ValueError):
    """A file without (valid) lite-hrnet metadata."""


def to_json(meta: Dict[str, Any]) -> str:
    return json.dumps(meta, sort_keys=True)


def parse_metadata(text: Union[str, bytes], path: Union[str, Path]) -> Dict[str, Any]:
    """Parse and check the stored JSON; ``path`` names the file in errors."""
    try:
        meta = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MetadataError(f"{path}: lite-hrnet metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise MetadataError(f"{path}: lite-hrnet metadata is not a JSON object")
    meta.pop("lite_hrnet_metadata", None)
    missing = [k for k in REQUIRED_FIELDS if k not in meta]
    if missing:
        raise MetadataError(f"{path}: lite-hrnet metadata lacks {', '.join(missing)}")
    return meta


def _short(e: Exception) -> str:
    """The first line of a runtime's error, without its long prefixes and the path (the message names it)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = lines[0] if lines else type(e).__name__
    text = text.split("failed:", 1)[-1].strip() if "failed:" in text else text
    return text[:200]


# ---------------------------------------------------------------- ONNX

def read_onnx_metadata(path: Union[str, Path]) -> Dict[str, Any]:
    """Metadata of an ``.onnx`` file, via onnxruntime (no onnx package needed)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's InvalidProtobuf, InvalidArgument, Fail... for a damaged file
        raise MetadataError(f"{path}: not a readable ONNX file ({_short(e)})") from None
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise MetadataError(f"{path}: no lite-hrnet metadata (not exported by lite-hrnet?)")
    return parse_metadata(props[METADATA_KEY], path)


def write_onnx_metadata(model_proto, meta: Dict[str, Any]) -> None:
    """Set the ``lite_hrnet`` entry of an ``onnx.ModelProto`` in place."""
    for prop in list(model_proto.metadata_props):
        if prop.key == METADATA_KEY:
            model_proto.metadata_props.remove(prop)
    entry = model_proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = to_json(meta)


# ---------------------------------------------------------------- OpenVINO

def read_openvino_metadata(model_or_path) -> Dict[str, Any]:
    """Metadata of an OpenVINO ``ov.Model`` or ``.xml`` path."""
    model = model_or_path
    path = getattr(model_or_path, "friendly_name", "model")
    if isinstance(model_or_path, (str, Path)):
        import openvino as ov

        path = model_or_path
        try:
            model = ov.Core().read_model(str(model_or_path))
        except Exception as e:  # OpenVINO raises RuntimeError for damaged XML or weights
            raise MetadataError(f"{path}: not a readable OpenVINO IR ({_short(e)})") from None
    if not model.has_rt_info([METADATA_KEY]):
        raise MetadataError(f"{path}: no lite-hrnet metadata (not exported by lite-hrnet?)")
    return parse_metadata(model.get_rt_info([METADATA_KEY]).astype(str), path)


def write_openvino_metadata(model, meta: Dict[str, Any]) -> None:
    model.set_rt_info(to_json(meta), [METADATA_KEY])


# ---------------------------------------------------------------- TFLite

def tflite_schema():
    """The generated TFLite flatbuffer schema from whichever package provides it, or None."""
    for name in ("ai_edge_litert.schema_py_generated", "tflite_runtime.schema_py_generated",
                 "tensorflow.lite.python.schema_py_generated"):
        try:
            import importlib

            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def unpack_tflite(data: bytes):
    """The ``.tflite`` flatbuffer ``data`` as an editable object tree (the schema's ``ModelT``)."""
    schema = tflite_schema()
    if schema is None:
        raise ImportError("editing TFLite files needs ai-edge-litert: pip install 'lite-hrnet[tflite]'")
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def pack_tflite(model, size_hint: int = 0) -> bytes:
    """Serialize a ``ModelT`` (see :func:`unpack_tflite`) back to ``.tflite`` bytes."""
    import flatbuffers

    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_tflite_metadata(data: bytes, meta: Dict[str, Any]) -> bytes:
    """Return the ``.tflite`` flatbuffer ``data`` with a ``lite_hrnet`` metadata entry added."""
    model = unpack_tflite(data)
    schema = tflite_schema()
    blob = _TFLITE_MAGIC + to_json(meta).encode()[1:]
    buffer = schema.BufferT()
    buffer.data = list(blob)
    model.buffers = list(model.buffers or []) + [buffer]
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in (METADATA_KEY, METADATA_KEY.encode())] + [entry]
    return pack_tflite(model, len(data) + len(blob))


def read_tflite_metadata(path: Union[str, Path]) -> Dict[str, Any]:
    """Metadata of a ``.tflite`` file; works even where no flatbuffer schema is installed."""
    data = Path(path).read_bytes()
    schema = tflite_schema()
    if schema is not None:
        try:
            model = schema.Model.GetRootAsModel(data, 0)
            for i in range(model.MetadataLength()):
                entry = model.Metadata(i)
                if entry.Name() and entry.Name().decode() == METADATA_KEY:
                    blob = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
                    return parse_metadata(blob, path)
        except Exception:  # a damaged flatbuffer: fall through to the byte scan and its error
            pass
    start = data.find(_TFLITE_MAGIC)
    if start < 0:
        raise MetadataError(f"{path}: no lite-hrnet metadata (not exported by lite-hrnet?)")
    # The JSON has no nested braces beyond lists; scan to the matching closing brace.
    depth = 0
    for end in range(start, len(data)):
        ch = data[end:end + 1]
        if ch == b"{":
            depth += 1
        elif ch == b"}":
            depth -= 1
            if depth == 0:
                return parse_metadata(data[start:end + 1], path)
    raise MetadataError(f"{path}: lite-hrnet metadata is truncated")


#: The head of a ``.lhrn`` engine program: the magic, then three little-endian uint32 counts (int32
#: program words, float32 weights, metadata bytes); those follow, the metadata JSON last.
ENGINE_MAGIC = b"LHRNENG1"
ENGINE_HEADER = struct.Struct("<8s3I")


def read_engine_metadata(path: Union[str, Path]) -> Dict[str, Any]:
    """Metadata of a ``.lhrn`` engine program (see :data:`ENGINE_HEADER`), read without the engine."""
    with open(path, "rb") as fh:
        head = fh.read(ENGINE_HEADER.size)
        if len(head) < ENGINE_HEADER.size or head[:8] != ENGINE_MAGIC:
            raise MetadataError(f"{path}: not a lite-hrnet engine program (.lhrn)")
        _, ints, floats, size = ENGINE_HEADER.unpack(head)
        fh.seek(ENGINE_HEADER.size + 4 * (ints + floats))
        text = fh.read(size)
    if len(text) != size:
        raise MetadataError(f"{path}: the engine program is truncated")
    return parse_metadata(text, path)


def read_metadata(path: Union[str, Path]) -> Dict[str, Any]:
    """Metadata of an exported ``.onnx``, ``.xml``, ``.tflite`` or ``.lhrn`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    fmt = format_of_path(path)
    readers = {"onnx": read_onnx_metadata, "openvino": read_openvino_metadata, "tflite": read_tflite_metadata,
               "engine": read_engine_metadata}
    if fmt is None or fmt.name not in readers:
        expected = ", ".join(get_format(name).suffix for name in readers)
        raise MetadataError(f"{path}: unknown model format {path.suffix.lower()!r} (expected {expected})")
    return readers[fmt.name](path)

"""The model file formats, in one table that the exporter, the benchmark and the runtime loader all read.

Each :class:`FileFormat` says how a format's files are named, what layout
their input and output have, which runtime runs them (and the pip extra that
installs it), which modules exporting to it needs, and which precisions it is
written at. Standard library only: importing this never imports a runtime.

File names of the exports, for a model NAME in an output folder OUT:

======== ============================ =============================== ===============================
format   fp32                         fp16                            int8
======== ============================ =============================== ===============================
onnx     OUT/NAME.onnx                OUT/NAME_fp16.onnx              OUT/NAME_int8.onnx
openvino OUT/NAME_openvino/NAME.xml   OUT/NAME_openvino/NAME_fp16.xml OUT/NAME_openvino/NAME_int8.xml
tflite   OUT/NAME_fp32.tflite         OUT/NAME_fp16.tflite            OUT/NAME_int8.tflite
engine   OUT/NAME.lhrn                (fp32 only)                     (fp32 only)
======== ============================ =============================== ===============================

The ``engine`` format is lite-hrnet's own: a program for the hand-written C engine
(``native/src/engine.c``, built by ``make native`` into ``build/native/liblhr_engine.so``),
run through ctypes by :mod:`lite_hrnet.runtimes.engine_backend`. Nothing is pip-installed for
it: its runtime is that shared library, and its version is lite-hrnet's.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

PRECISIONS = ("fp32", "fp16", "int8")
# The pip extra that installs every exporter.
EXPORT_EXTRA = "export"


@dataclass(frozen=True)
class FileFormat:
    """One model file format.

    Attributes:
        name: the format's name on the command line and in reports (``onnx``).
        title: its name in prose (``ONNX``).
        suffixes: file suffixes the runtime loader recognizes, the written one first.
        layout: ``NCHW`` or ``NHWC``, the layout of the file's own input and output.
        precisions: the file precisions it is exported (or, for torch, benchmarked) at.
        runtime: the runtime's name in reports (``RuntimeInfo.runtime``, benchmark rows).
        runtime_dist: the pip distribution whose version is reported for that runtime.
        runtime_module: the module that runtime is imported as.
        extra: the pip extra that installs the runtime (``pip install 'lite-hrnet[ort]'``).
        export_modules: the modules exporting to this format needs besides torch (empty: none);
            None: the format is not exported (PyTorch checkpoints).
        artifact: the exported file under the output folder, ``{name}`` the model and ``{tag}``
            ``_{precision}`` (empty for fp32 unless ``fp32_tag``).
        fp32_tag: whether the fp32 file's name carries ``_fp32`` too.
        companions: suffixes of files that belong beside the main one (OpenVINO's ``.bin``).
        dynamic_batch: whether the exporter can write a dynamic batch dimension.
    """

    name: str
    title: str
    suffixes: Tuple[str, ...]
    layout: str
    precisions: Tuple[str, ...]
    runtime: str
    runtime_dist: str
    runtime_module: str
    extra: str
    export_modules: Optional[Tuple[str, ...]] = None
    artifact: str = ""
    fp32_tag: bool = False
    companions: Tuple[str, ...] = ()
    dynamic_batch: bool = True

    @property
    def suffix(self) -> str:
        return self.suffixes[0]

    @property
    def exported(self) -> bool:
        return self.export_modules is not None

    def artifact_path(self, out_dir: Union[str, os.PathLike], name: str, precision: str) -> Path:
        """Where the export of model ``name`` at ``precision`` is written under ``out_dir``; ValueError for a
        precision the format is not written at (the engine's fp16)."""
        if precision not in self.precisions:
            raise ValueError(f"{self.title} files are written at {', '.join(self.precisions)} only, not {precision}")
        tag = "" if precision == "fp32" and not self.fp32_tag else f"_{precision}"
        return Path(out_dir) / self.artifact.format(name=name, tag=tag)

    def files(self, path: Union[str, os.PathLike]) -> List[Path]:
        """``path`` and the companion files that belong to it."""
        path = Path(path)
        return [path] + [path.with_suffix(s) for s in self.companions]


FILE_FORMATS: Tuple[FileFormat, ...] = (
    FileFormat("torch", "PyTorch", (".pth", ".pt"), "NCHW", ("fp32",), "torch", "torch", "torch", "torch"),
    FileFormat("onnx", "ONNX", (".onnx",), "NCHW", PRECISIONS, "onnxruntime", "onnxruntime", "onnxruntime", "ort",
               ("onnx", "onnxslim", "onnxruntime"), "{name}{tag}.onnx"),
    FileFormat("openvino", "OpenVINO", (".xml",), "NCHW", PRECISIONS, "openvino", "openvino", "openvino", "openvino",
               ("openvino", "nncf"), "{name}_openvino/{name}{tag}.xml", companions=(".bin",)),
    # TFLite files also run with tflite_runtime or tensorflow.lite (lite_hrnet.runtimes.tflite_backend.import_interpreter).
    FileFormat("tflite", "TFLite", (".tflite",), "NHWC", PRECISIONS, "litert", "ai-edge-litert", "ai_edge_litert", "tflite",
               ("onnx2tf", "tensorflow", "ai_edge_litert"), "{name}{tag}.tflite", fp32_tag=True, dynamic_batch=False),
    # The engine ships inside lite-hrnet (ctypes + liblhr_engine.so): its version is the toolkit's, its runtime module
    # the ctypes backend, no extra installs it (the library is built by `make native`), and exporting needs only torch.
    # Any batch runs: the backend loops over persons.
    FileFormat("engine", "lite-hrnet engine", (".lhrn",), "NCHW", ("fp32",), "lhr_engine", "lite-hrnet",
               "lite_hrnet.runtimes.engine_backend", "", (), "{name}.lhrn"),
)

FORMAT_NAMES = tuple(f.name for f in FILE_FORMATS)
EXPORT_FORMATS = tuple(f.name for f in FILE_FORMATS if f.exported)
MODEL_SUFFIXES = tuple(s for f in FILE_FORMATS for s in f.suffixes)


def get_format(name: str) -> FileFormat:
    """The format called ``name``; ValueError listing the known ones otherwise."""
    for fmt in FILE_FORMATS:
        if fmt.name == name:
            return fmt
    raise ValueError(f"unknown format {name!r}; choose from {', '.join(FORMAT_NAMES)}")


def format_of_path(path: Union[str, os.PathLike]) -> Optional[FileFormat]:
    """The format whose suffix ``path`` has (case-insensitive), or None."""
    suffix = Path(path).suffix.lower()
    return next((f for f in FILE_FORMATS if suffix in f.suffixes), None)


def companion_of(path: Union[str, os.PathLike]) -> Optional[FileFormat]:
    """The format whose companion file ``path`` is (an OpenVINO ``.bin``), or None."""
    suffix = Path(path).suffix.lower()
    return next((f for f in FILE_FORMATS if suffix in f.companions), None)


def artifact_path(out_dir: Union[str, os.PathLike], name: str, fmt: str, precision: str) -> Path:
    """The predictable file name of one export (see the module docstring)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    return get_format(fmt).artifact_path(out_dir, name, precision)


def files_size(path: Union[str, os.PathLike]) -> int:
    """Bytes of a model file and its companions (the ones that exist)."""
    fmt = format_of_path(path)
    files = fmt.files(path) if fmt is not None else [Path(path)]
    return sum(p.stat().st_size for p in files if p.is_file())


def missing_export_modules(formats: Sequence[str]) -> List[str]:
    """The modules that exporting to ``formats`` needs and this install lacks, torch first."""
    wanted = ("torch",) + tuple(m for name in formats for m in get_format(name).export_modules or ())
    # importlib.util.find_spec is looked up at each call: tests replace it to fake a missing exporter.
    return [m for m in dict.fromkeys(wanted) if importlib.util.find_spec(m) is None]


__all__ = [
    "EXPORT_EXTRA", "EXPORT_FORMATS", "FILE_FORMATS", "FORMAT_NAMES", "FileFormat", "MODEL_SUFFIXES", "PRECISIONS",
    "artifact_path", "companion_of", "files_size", "format_of_path", "get_format", "missing_export_modules",
]

"""The staging folder of one export: intermediate files made once, and finished files moved into place whole."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict

from ..formats import format_of_path


def publish(staged: Path, final: Path) -> None:
    """Move a staged file and its companions (an OpenVINO .bin beside an .xml) to its final name; the main file last."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fmt = format_of_path(staged)
    for suffix in fmt.companions if fmt is not None else ():
        os.replace(staged.with_suffix(suffix), final.with_suffix(suffix))
    os.replace(staged, final)


def remove(path: Path) -> None:
    """Delete a file and its companions, those that exist."""
    fmt = format_of_path(path)
    for p in fmt.files(path) if fmt is not None else [path]:
        if p.exists():
            p.unlink()


class Sources:
    """The intermediate files the artifacts are written from, each made at most once per export, in ``staging``.

    ``base()``: the slimmed fp32 ONNX every format starts from; ``openvino()``: it with
    the rewrites meant for OpenVINO (``rewrite.FORMAT_REWRITES``); ``tflite()``: every
    requested TFLite precision, from one onnx2tf run.
    """

    def __init__(self, model, input_size, name: str, staging: Path, dynamic_batch: bool,
                 meta_for: Callable[[str, str], Dict], say: Callable[[str], None]) -> None:
        self.model, self.input_size, self.name, self.staging = model, input_size, name, staging
        self.dynamic_batch, self.meta_for, self.say = dynamic_batch, meta_for, say
        # Each step's result, or its error: a step that failed fails every artifact built
        # on it with its own error, without being rerun.
        self._done: Dict[str, object] = {}

    def _once(self, step: str, make: Callable[[], object]):
        if step not in self._done:
            try:
                self._done[step] = make()
            except ImportError:
                raise
            except Exception as e:
                self._done[step] = e
        if isinstance(self._done[step], Exception):
            raise self._done[step]
        return self._done[step]

    def base(self) -> Path:
        from . import formats

        def make() -> Path:
            self.say("exporting ONNX (torch.onnx, opset 17, then onnxslim)")
            (self.staging / "base").mkdir(exist_ok=True)
            return formats.export_onnx(self.model, self.input_size, self.staging / "base" / f"{self.name}.onnx",
                                       self.dynamic_batch, self.meta_for("onnx", "fp32"))

        return self._once("onnx", make)

    def openvino(self) -> Path:
        from .rewrite import rewrite_for_format

        def make() -> Path:
            path = self.staging / "base" / f"{self.name}.openvino.onnx"
            rewrite_for_format(self.base(), path, "openvino")
            return path

        return self._once("openvino", make)

    def tflite(self, precision: str, wanted: Dict[str, Path], calib) -> Path:
        """The staged TFLite file for ``precision``; the first call converts every precision in ``wanted``."""
        from . import formats

        def make() -> Dict[str, Path]:
            src = self.base()
            self.say("tflite: converting with onnx2tf (all precisions in one run)")
            for path in wanted.values():
                path.parent.mkdir(parents=True, exist_ok=True)
            formats.onnx_to_tflite(src, wanted, calib, {p: self.meta_for("tflite", p) for p in wanted})
            return wanted

        return self._once("tflite", make)[precision]

    def write(self, fmt: str, precision: str, staged: Path, calib, meta: Dict) -> None:
        """Write the ONNX or OpenVINO file for ``precision`` to ``staged``."""
        import shutil

        from . import formats

        if fmt == "onnx" and precision == "fp32":
            shutil.copyfile(self.base(), staged)
        elif fmt == "onnx" and precision == "fp16":
            formats.onnx_to_fp16(self.base(), staged, meta)
        elif fmt == "onnx":
            formats.onnx_to_int8(self.base(), staged, calib, meta)
        else:
            formats.onnx_to_openvino(self.openvino(), staged, precision, calib, meta)


__all__ = ["Sources", "publish", "remove"]

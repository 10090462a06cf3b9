"""The staging folder of one export: intermediate files made once, and finished files moved into place whole."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Callable, Dict, Optional

from ..formats import format_of_path


STAGING_PREFIX = ".staging-"


def new_staging(out_dir: Path) -> Path:
    """A fresh staging folder in ``out_dir``, named after this machine and process.

    First removes the staging folders that exports on this machine left when they were
    killed (their process no longer runs): a later export cleans up after a killed one.
    """
    host = _host()
    for old in out_dir.glob(f"{STAGING_PREFIX}{host}-*"):
        pid_text = old.name[len(STAGING_PREFIX) + len(host) + 1:].split("-", 1)[0]
        if old.is_dir() and pid_text.isdigit() and not _running(int(pid_text)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{host}-{os.getpid()}-", dir=out_dir))


def _host() -> str:
    """This machine's name, reduced to characters safe in a file name (a shared output folder may span machines)."""
    return "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


def _running(pid: int) -> bool:
    if os.name != "posix":
        return True  # no cheap check: keep the folder
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def publish(staged: Path, final: Path) -> None:
    """Move a staged file and its companions (an OpenVINO .bin beside an .xml) to its final name; the main file last.

    Each move is a rename, so a kill at any moment leaves under ``final`` either the
    previous file or the new one, whole. With companions, the previous main file is
    removed first, so that it is never paired with a new companion.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    fmt = format_of_path(staged)
    companions = fmt.companions if fmt is not None else ()
    if companions and final.exists():
        final.unlink()
    for suffix in companions:
        os.replace(staged.with_suffix(suffix), final.with_suffix(suffix))
    os.replace(staged, final)


class Sources:
    """The intermediate files the artifacts are written from, each made at most once per export, in ``staging``.

    ``base()``: a slimmed fp32 ONNX export (dynamic batch unless ``dynamic_batch`` is False or
    a batch of 1 is asked for: onnx2tf wants static shapes), of the plain network or of its
    deploy form; ``source(fmt, precision)``: the one a file is made from (``deploy_form(fmt,
    precision)`` chooses; the plain one gets the rewrites meant for ``fmt``,
    ``rewrite.FORMAT_REWRITES``); ``tflite()``: the TFLite precisions, one onnx2tf run per source.
    """

    def __init__(self, model, input_size, name: str, staging: Path, dynamic_batch: bool,
                 meta_for: Callable[[str, str], Dict], say: Callable[[str], None],
                 deploy_form: Callable[[str, str], bool] = lambda fmt, precision: False) -> None:
        self.model, self.input_size, self.name, self.staging = model, input_size, name, staging
        self.dynamic_batch, self.meta_for, self.say = dynamic_batch, meta_for, say
        self.deploy_form = deploy_form
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

    def base(self, static: bool = False, deploy: Optional[Dict[str, bool]] = None) -> Path:
        """The slimmed fp32 ONNX export: dynamic batch unless ``static`` (or the export is static);
        of the network's deploy form (``lite_hrnet.models.deploy``) with these options when ``deploy``."""
        from . import formats

        batch1 = static and self.dynamic_batch
        options = "".join(f".{k}" for k, v in sorted((deploy or {}).items()) if v)
        stem = self.name + (f".deploy{options}" if deploy is not None else "") + (".batch1" if batch1 else "")

        def make() -> Path:
            model = self.model
            if deploy is not None:
                from ..models.deploy import deploy_model

                model = deploy_model(self.model, **deploy)
            self.say(f"exporting ONNX{' (deploy form)' if deploy is not None else ''}{' with batch 1' if batch1 else ''} "
                     "(torch.onnx, opset 17, then onnxslim)")
            (self.staging / "base").mkdir(exist_ok=True)
            meta = dict(self.meta_for("onnx", "fp32"), batch=1) if batch1 else self.meta_for("onnx", "fp32")
            return formats.export_onnx(model, self.input_size, self.staging / "base" / f"{stem}.onnx",
                                       self.dynamic_batch and not batch1, meta)

        return self._once(stem, make)

    def source(self, fmt: str, precision: str, static: bool = False) -> Path:
        """The ONNX file a ``fmt`` ``precision`` file is made from (a batch of 1 for TFLite, or when ``static``).

        The deploy form where ``deploy_form(fmt, precision)``, else the plain export; with the
        rewrites meant for ``fmt`` (``rewrite.graph_rewrites``), or itself when there are none.
        """
        from .rewrite import deploy_form_options, graph_rewrites, rewrite_for_format

        static = static or fmt == "tflite"
        deploy = self.deploy_form(fmt, precision)
        src = self.base(static, deploy_form_options(fmt) if deploy else None)
        if not graph_rewrites(fmt, deploy):
            return src

        def make() -> Path:
            path = src.with_name(f"{src.stem}.{fmt}.onnx")
            applied = rewrite_for_format(src, path, fmt, deploy)
            self.say(f"{fmt}: graph rewrites {', '.join(applied) or 'none applied'}")
            return path

        return self._once(f"rewritten_{fmt}_{src.stem}", make)

    def tflite(self, precision: str, wanted: Dict[str, Path], calib) -> Path:
        """The staged TFLite file for ``precision``.

        The first call for a source graph converts every precision in ``wanted`` made from it in
        one onnx2tf run (fp32 and fp16 from the deploy form, int8 from the plain graph).
        """
        from . import formats

        deploy = self.deploy_form("tflite", precision)
        group = {p: path for p, path in wanted.items() if self.deploy_form("tflite", p) == deploy}

        def make() -> Dict[str, Path]:
            src = self.source("tflite", precision)
            self.say(f"tflite: converting {src.name} with onnx2tf ({', '.join(group)} in one run)")
            for path in group.values():
                path.parent.mkdir(parents=True, exist_ok=True)
            formats.onnx_to_tflite(src, group, calib, {p: self.meta_for("tflite", p) for p in group})
            return group

        return self._once(f"tflite{'_deploy' if deploy else ''}", make)[precision]

    def write(self, fmt: str, precision: str, staged: Path, calib, meta: Dict) -> None:
        """Write the ONNX or OpenVINO file for ``precision`` to ``staged``."""
        import shutil

        from . import formats

        # a file the export writes with a batch of 1 (see _exporter.STATIC_BATCH_ONLY) comes from the batch-1 graph
        src = self.source(fmt, precision, static=meta.get("batch") == 1)
        if fmt == "onnx" and precision == "fp32":
            shutil.copyfile(src, staged)  # its metadata is the base's, meta_for("onnx", "fp32"), kept by the rewrites
        elif fmt == "onnx" and precision == "fp16":
            formats.onnx_to_fp16(src, staged, meta)
        elif fmt == "onnx":
            formats.onnx_to_int8(src, staged, calib, meta)
        else:
            formats.onnx_to_openvino(src, staged, precision, calib, meta)


__all__ = ["STAGING_PREFIX", "Sources", "new_staging", "publish"]

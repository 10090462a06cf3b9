"""The lite-hrnet engine backend for ``.lhrn`` files: the hand-written C engine, through ctypes.

A ``.lhrn`` file is a program for ``native/src/engine.c`` (written by
:mod:`lite_hrnet.export.engine_program`); the engine is the shared library
``liblhr_engine.so`` that ``make native`` builds into ``build/native/`` of the source
checkout. It is found, in order, at:

1. the path in the environment variable ``LITE_HRNET_ENGINE_LIBRARY``;
2. ``build/native/liblhr_engine.so`` beside this package (a source checkout).

Nothing to pip-install: without the library, :class:`EngineLibraryError` (an ImportError)
says to run ``make native``.

The engine runs one image per call (planar float32, 3 x H x W in, K x H/4 x W/4 out).
A batch is a loop over persons; with ``threads=T`` the backend opens T engines and splits
the persons of a call between T threads (ctypes releases the GIL while the engine runs,
so they run in parallel). ``threads=None`` is one engine, one thread.

Thread safety: an engine runs one image at a time; every call holds the backend's lock,
so concurrent calls are safe but run one after the other (use ``threads`` to parallelize).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .. import __version__
from ..metadata import parse_metadata
from .base import FileBackend, ModelFileError, SpecLike

#: environment variable naming the engine library to use
LIBRARY_ENV = "LITE_HRNET_ENGINE_LIBRARY"
LIBRARY_NAME = "liblhr_engine.dylib" if sys.platform == "darwin" else "liblhr_engine.so"
#: bytes of the engine's error buffer (LHR_ERROR_SIZE in litehrnet.h)
_ERROR_SIZE = 512
# lhr_status values of litehrnet.h
_STATUS_NAMES = {1: "invalid argument", 2: "I/O error", 3: "bad model", 4: "runtime error", 5: "out of memory"}


class EngineLibraryError(ImportError):
    """The engine's shared library is not built, or cannot be loaded."""


def default_library_path() -> Path:
    """``build/native/liblhr_engine.so`` of the source checkout this package lives in."""
    return Path(__file__).resolve().parents[2] / "build" / "native" / LIBRARY_NAME


def find_library() -> Path:
    """The engine library to load (see the module docstring); EngineLibraryError, one line, when there is none."""
    given = os.environ.get(LIBRARY_ENV, "").strip()
    if given:
        path = Path(given)
        if not path.is_file():
            raise EngineLibraryError(f"{LIBRARY_ENV}={given}: no such file (the lite-hrnet engine library, {LIBRARY_NAME})")
        return path
    path = default_library_path()
    if not path.is_file():
        raise EngineLibraryError(
            f"the lite-hrnet engine library is not built ({path} not found): run `make native` in the lite-hrnet "
            f"source checkout, or set {LIBRARY_ENV} to a built {LIBRARY_NAME}")
    return path


def engine_library_available() -> bool:
    """Whether :func:`find_library` finds a library (it is not loaded here)."""
    try:
        find_library()
    except EngineLibraryError:
        return False
    return True


class EngineLibrary:
    """The engine's C API (``native/include/lhr_engine.h``), declared for ctypes."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = find_library() if path is None else Path(path)
        try:
            lib = ctypes.CDLL(str(self.path))
            handle, c_int_p, float_p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_float)
            lib.lhr_engine_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(handle), ctypes.c_char_p, ctypes.c_size_t]
            lib.lhr_engine_open.restype = ctypes.c_int
            lib.lhr_engine_close.argtypes = [handle]
            lib.lhr_engine_close.restype = None
            for getter in (lib.lhr_engine_input_shape, lib.lhr_engine_output_shape):
                getter.argtypes = [handle, c_int_p, c_int_p, c_int_p]
                getter.restype = None
            lib.lhr_engine_metadata_json.argtypes = [handle]
            lib.lhr_engine_metadata_json.restype = ctypes.c_char_p
            lib.lhr_engine_run.argtypes = [handle, float_p, float_p]
            lib.lhr_engine_run.restype = ctypes.c_int
        except (OSError, AttributeError) as e:  # not a library for this machine, or not the engine's
            raise EngineLibraryError(f"{self.path}: cannot load the lite-hrnet engine library ({e})") from None
        self.lib = lib

    def open(self, path: Path) -> ctypes.c_void_p:
        """An engine for the program ``path``; ModelFileError with the engine's message (it names the file) otherwise."""
        engine = ctypes.c_void_p()
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        status = self.lib.lhr_engine_open(os.fsencode(path), ctypes.byref(engine), error, _ERROR_SIZE)
        if status != 0 or not engine.value:
            message = error.value.decode("utf-8", "replace").strip()
            if str(path) not in message:
                message = f"{path}: {message or _STATUS_NAMES.get(status, f'status {status}')}"
            raise ModelFileError(message)
        return engine

    def shape(self, engine: ctypes.c_void_p, output: bool) -> Tuple[int, int, int]:
        """(channels, height, width) of the engine's input, or of its output."""
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        getter = self.lib.lhr_engine_output_shape if output else self.lib.lhr_engine_input_shape
        getter(engine, ctypes.byref(c), ctypes.byref(h), ctypes.byref(w))
        return c.value, h.value, w.value


class EngineBackend(FileBackend):
    """Runs a ``.lhrn`` pose model with the lite-hrnet engine.

    Args:
        path: the ``.lhrn`` file.
        device: ``cpu`` only.
        threads: engines run in parallel, each on its share of a call's persons (None: 1).
        precision: fp32 only (None or ``fp32``).
        spec: metadata to use when the file carries none.
        max_batch: persons per internal chunk (None: :data:`~lite_hrnet.runtimes.base.DEFAULT_BATCH_CAP`).
    """

    thread_safety = "guarded: calls hold a lock and run one at a time; threads= runs a call's persons in parallel"
    exact_batch = False

    format_name = "engine"

    def _import_runtime(self) -> EngineLibrary:
        return EngineLibrary()

    def _open(self, library: EngineLibrary, path: Path, device: str, threads: Optional[int], precision: Optional[str],
              spec: Optional[SpecLike]) -> None:
        if str(device).lower() != "cpu":
            raise ValueError(f"device {device!r} is not supported by the lite-hrnet engine; use device='cpu'")
        self._library, self._path = library, path
        self._engines: List[ctypes.c_void_p] = []
        self._pool: Optional[ThreadPoolExecutor] = None
        self._lock = threading.Lock()
        count = threads or 1
        try:
            for _ in range(count):
                self._engines.append(library.open(path))
            self.metadata = self._read_metadata(path, spec)
            self._check_io(path)
            file_precision = self._file_precision(precision, path, "the lite-hrnet engine")
        except BaseException:
            self.close()
            raise
        if count > 1:
            self._pool = ThreadPoolExecutor(max_workers=count - 1, thread_name_prefix="lhr-engine")
        self.max_batch = None
        self.library_path = str(library.path)
        self.info = self._file_info("lhr_engine", __version__, "cpu", file_precision, count, path)

    @property
    def engine_count(self) -> int:
        """Engines open: the threads a call's persons are split between (0 once closed)."""
        return len(self._engines)

    def _read_metadata(self, path: Path, spec: Optional[SpecLike]) -> Dict[str, Any]:
        raw = self._library.lib.lhr_engine_metadata_json(self._engines[0]) or b"{}"
        text = raw.decode("utf-8", "replace").strip()
        if text in ("", "{}"):
            return self._spec_metadata(path, spec)
        return parse_metadata(text, path)

    def _check_io(self, path: Path) -> None:
        channels, height, width = self._library.shape(self._engines[0], output=False)
        if channels != 3:
            raise ModelFileError(f"{path}: the program takes {channels} channels; a pose model takes 3 x H x W images")
        if (height, width) != self.input_size:
            raise ModelFileError(f"{path}: the program takes {height}x{width} but the metadata says {self.input_size}")
        self._out_shape = self._library.shape(self._engines[0], output=True)
        if self._out_shape[0] != self.num_joints:
            raise ModelFileError(
                f"{path}: the program gives {self._out_shape[0]} heatmaps but the metadata says {self.num_joints} joints")
        if self.end_to_end:
            raise ModelFileError(f"{path}: the metadata says end-to-end, but engine programs give heatmaps")

    def _run_persons(self, engine: ctypes.c_void_p, batch: np.ndarray, out: np.ndarray, start: int, stop: int) -> None:
        float_p = ctypes.POINTER(ctypes.c_float)
        run = self._library.lib.lhr_engine_run
        for i in range(start, stop):
            status = run(engine, batch[i].ctypes.data_as(float_p), out[i].ctypes.data_as(float_p))
            if status != 0:
                raise RuntimeError(f"{self._path}: the engine failed ({_STATUS_NAMES.get(status, f'status {status}')})")

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """N x 3 x H x W float32 (C-contiguous) -> N x K x h x w float32, persons split between the engines."""
        n = batch.shape[0]
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        out = np.empty((n,) + self._out_shape, dtype=np.float32)
        with self._lock:
            if not self._engines:
                raise ValueError(f"{self._path}: the backend is closed")
            parts = min(len(self._engines), n)
            bounds = [n * j // parts for j in range(parts + 1)]
            # Engine j runs persons bounds[j]:bounds[j + 1]; this thread runs the first share.
            futures = [self._pool.submit(self._run_persons, self._engines[j], batch, out, bounds[j], bounds[j + 1])
                       for j in range(1, parts)] if self._pool is not None else []
            try:
                self._run_persons(self._engines[0], batch, out, bounds[0], bounds[1])
            finally:
                for future in futures:
                    future.result()
        return out

    def close(self) -> None:
        """Free the engines and stop the threads (the backend cannot run afterwards); called again, does nothing."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            for engine in self._engines:
                self._library.lib.lhr_engine_close(engine)
            self._engines = []

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass


__all__ = ["EngineBackend", "EngineLibrary", "EngineLibraryError", "LIBRARY_ENV", "default_library_path",
           "engine_library_available", "find_library"]

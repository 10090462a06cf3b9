"""Files written whole or not at all: a temporary file beside the target, flushed to disk, then renamed over it.

A crash or kill while writing leaves the previous file (or none) under the final name,
never a truncated one; the temporary file (``.NAME.*.part``) is removed on errors and
is never read back. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import IO, Iterator, Union


@contextlib.contextmanager
def atomic_write(path: Union[str, os.PathLike], mode: str = "w", encoding: str = "utf-8") -> Iterator[IO]:
    """Open a temporary file for ``path`` (``mode`` "w" for text or "wb"); on success it replaces ``path``.

    The folder must exist. OSError (from the operating system) names the file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    # os.open with 0o666 (not mkstemp's 0o600): the finished file gets the permissions the umask gives.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": encoding})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Union[str, os.PathLike], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`); returns the path."""
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


__all__ = ["atomic_write", "write_text_atomic"]

"""Checks of user arguments shared by the verbs and their Python functions; each error names the argument.

Standard library only, so that any module may use it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, List, Sequence, Tuple, Union


def parse_choices(values: Union[str, Sequence[Any]], allowed: Sequence[str], arg: str, noun: str = "value") -> List[str]:
    """A comma-separated string or a list, lower-cased and checked against ``allowed``; duplicates dropped, order kept.

    ValueError ``"{arg}: unknown {noun} X; choose from ..."`` for a value not allowed or none at all.
    """
    items = [str(v).strip().lower() for v in (values.split(",") if isinstance(values, str) else values) if str(v).strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise ValueError(f"{arg}: unknown {noun} {', '.join(bad) or '(none given)'}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def parse_positive_ints(values: Union[str, int, Sequence[Any]], arg: str) -> List[int]:
    """``"1,2,4"`` / ``4`` / ``[1, 8]`` as a list of positive integers, duplicates dropped, order kept."""
    if isinstance(values, (int, str)):
        values = str(values).split(",")
    out: List[int] = []
    for v in values:
        text = str(v).strip()
        try:
            n = int(text)
        except ValueError:
            raise ValueError(f"{arg}: expected positive integers separated by commas, got {text!r}") from None
        if n < 1:
            raise ValueError(f"{arg}: must be at least 1, got {n}")
        out.append(n)
    if not out:
        raise ValueError(f"{arg}: no value given")
    return list(dict.fromkeys(out))


def parse_size(text: str, arg: str = "--input-size") -> Tuple[int, int]:
    """``HxW`` (e.g. ``256x192``) as (height, width) in pixels, both positive."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"{arg} must look like HEIGHTxWIDTH (e.g. 256x192), got {text!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"{arg} must be positive, got {text!r}")
    return h, w


def writable_dir(folder: Union[str, os.PathLike], arg: str) -> Path:
    """``folder``, created if needed, after checking that a file can be written there; OSError naming ``arg``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as e:
        raise OSError(f"{arg}: cannot write to {folder}: {e.strerror or e}") from None
    return folder


__all__ = ["parse_choices", "parse_positive_ints", "parse_size", "writable_dir"]

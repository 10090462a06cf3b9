"""Progress bars where tqdm is installed (an extra's dependency, not the core's); standard library only."""

from __future__ import annotations

from typing import Any, Optional


def progress_bar(enabled: bool = True, **tqdm_args: Any) -> Optional[Any]:
    """A ``tqdm(**tqdm_args)`` bar, or None when ``enabled`` is False or tqdm is not installed.

    Callers update and close the bar only when they got one: a progress bar is a nicety,
    so a missing tqdm never stops the work.
    """
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(**tqdm_args)


__all__ = ["progress_bar"]

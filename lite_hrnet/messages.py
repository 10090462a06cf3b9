"""How an error reaches the user: one line. Standard library only, so that every module may use it."""

from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The first line of an error's message (converters' messages can be long dumps), or its type's name when empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


__all__ = ["first_line"]

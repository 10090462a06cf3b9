"""The export's errors: a step that failed, and a file that failed its check against PyTorch."""

from __future__ import annotations


class ExportError(RuntimeError):
    """An export step that failed; the message says which file and why. ``report`` holds what was done."""

    def __init__(self, message: str, report=None) -> None:
        super().__init__(message)
        self.report = report


class ExportCheckError(ExportError):
    """An artifact whose parity check failed; it was not kept."""


__all__ = ["ExportCheckError", "ExportError"]

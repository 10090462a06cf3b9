"""The exported files a benchmark measures: what is missing is exported into the cache folder first."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from ..formats import EXPORT_EXTRA, artifact_path, get_format, missing_export_modules
from ..messages import first_line

# (format, precision) -> (the file, or None, and why not)
Exported = Dict[Tuple[str, str], Tuple[Optional[str], str]]


def export_all(name: str, formats: List[str], precisions: List[str], out_dir: Path, weights: Optional[str], model,
               dynamic_batch: bool, say: Callable[[str], None]) -> Exported:
    """Export what is missing; ``{(format, precision): (path or None, failure reason)}``."""
    from ..export import ExportError, export_model

    results: Exported = {}
    todo = []
    for fmt in formats:
        if not set(precisions) & set(get_format(fmt).precisions):
            continue  # nothing of it at these precisions (the engine's fp16): its rows say so
        missing = missing_export_modules([fmt])
        if missing:
            for p in precisions:
                results[(fmt, p)] = (None, f"export needs {', '.join(missing)}: pip install 'lite-hrnet[{EXPORT_EXTRA}]'")
        else:
            todo.append(fmt)
    if not todo:
        return results
    # The benchmark measures parity itself and shows it beside the speed, so the export's own
    # check is not repeated (it would also delete a lossy int8 file that is still worth timing).
    try:
        report = export_model(name, todo, precisions, out_dir=out_dir, weights=weights, dynamic_batch=dynamic_batch,
                              verify=False, reuse=True, model=model, progress=say)
        artifacts = report.artifacts
        failure = ""
    except ExportError as e:
        artifacts = e.report.artifacts if e.report is not None else []
        failure = first_line(e)
    except Exception as e:  # an export step that broke in an unforeseen way fails its rows, not the run
        artifacts, failure = [], f"{type(e).__name__}: {first_line(e)}"
    for a in artifacts:
        results[(a.format, a.precision)] = (a.path, "") if a.status != "failed" else (None, f"export failed: {a.message}")
    for fmt in todo:
        for p in precisions:
            if (fmt, p) not in results and p in get_format(fmt).precisions:
                path = artifact_path(out_dir, name, fmt, p)
                results[(fmt, p)] = (str(path), "") if path.is_file() else (None, f"export failed: {failure or 'not written'}")
    return results

"""Export a Lite-HRNet to ONNX, OpenVINO IR and TFLite at fp32, fp16 and int8, each file verified.

:func:`export_model` (in :mod:`._exporter`) runs the whole export; the writers of
each format are in :mod:`.formats`, the graph rewrites in :mod:`.rewrite`, the
parity check in :mod:`.verify`, the calibration data in :mod:`.calibration`.
File names are given by the format table, :func:`lite_hrnet.formats.artifact_path`.
"""

from ..formats import EXPORT_FORMATS as FORMATS
from ..formats import PRECISIONS, artifact_path
from ._exporter import export_model
from .errors import ExportCheckError, ExportError
from .report import Artifact, ExportReport

__all__ = ["Artifact", "ExportCheckError", "ExportError", "ExportReport", "FORMATS", "PRECISIONS",
           "artifact_path", "export_model"]

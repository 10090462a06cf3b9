"""CPU latency of a Lite-HRNet across runtimes, precisions, threads and batch sizes, with accuracy beside speed.

>>> from lite_hrnet.benchmark import benchmark
>>> report = benchmark("litehrnet_18_coco_256x192", weights="ckpt.pth", formats="torch,onnx,openvino",
...                    precisions="fp32,int8", threads=[1], runs=100)
>>> print(report.table()); report.write_json("bench.json"); report.plot("bench.png")

What is missing is exported first (:func:`lite_hrnet.export.export_model`,
``reuse=True``, into the ``exports`` cache folder), then every combination is
measured in a fresh subprocess by default (:mod:`lite_hrnet.benchmark.worker`):
its peak RSS is then that combination's own, and process-wide settings (torch's
thread pool, OpenCV's) cannot leak from one row into the next.

Per combination: load time, the first call, ``warmup`` calls, then ``runs``
timed calls (or ``seconds`` of them), each timed alone with
``time.perf_counter_ns``; then the whole ``PoseEstimator.predict`` for 1 and 8
persons; the thread count the runtime reports it applied; the RSS high-water
mark; heatmap error and keypoint agreement against the fp32 PyTorch model on
synthetic person crops.

Where to read: :mod:`._benchmark` (the run), :mod:`._plan` (settings and rows),
:mod:`._measure` (one row), :mod:`.worker` (inside the measuring process),
:mod:`.report` (rows and output). Importing this package does not import torch
(``lite-hrnet --help`` stays fast).
"""

from ..arguments import parse_choices, parse_positive_ints
from ..formats import PRECISIONS
from ._benchmark import benchmark
from ._plan import FORMATS, OPENVINO_HINTS
from .job import Job, Measurement
from .machine import MachineInfo, machine_info
from .report import ROW_FIELDS, BenchmarkReport, BenchmarkRow

__all__ = [
    "FORMATS", "OPENVINO_HINTS", "PRECISIONS", "ROW_FIELDS", "BenchmarkReport", "BenchmarkRow", "Job", "MachineInfo",
    "Measurement", "benchmark", "machine_info", "parse_choices", "parse_positive_ints",
]

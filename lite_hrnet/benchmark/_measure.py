"""Measuring one benchmark row: its job in a fresh worker process (or in this one), the result merged into the row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Dict, Iterator, Optional

from .job import Job, Measurement
from .report import BenchmarkRow
from .worker import run_job


def _subprocess_env(threads: Optional[int]) -> Dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if threads is not None:
        # OpenMP/BLAS pools (torch's, numpy's) get the same budget as the runtime.
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
    return env


def run_isolated(job: Job, workdir: Path, index: int, timeout: float) -> Measurement:
    """``job`` measured by ``python -m lite_hrnet.benchmark.worker`` in a fresh process; its failures as a failed Measurement."""
    job_file = workdir / f"job{index}.json"
    result_file = workdir / f"result{index}.json"
    job_file.write_text(json.dumps(asdict(job)))
    try:
        proc = subprocess.run([sys.executable, "-m", "lite_hrnet.benchmark.worker", str(job_file), str(result_file)],
                              capture_output=True, text=True, env=_subprocess_env(job.threads), timeout=timeout)
    except subprocess.TimeoutExpired:
        return Measurement(status="failed", reason=f"timed out after {timeout:.0f} s")
    if proc.returncode != 0 or not result_file.is_file():
        lines = [ln for ln in (proc.stderr or "").splitlines() if ln.strip()]
        why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
        return Measurement(status="failed", reason=f"worker {why}" + (f": {lines[-1].strip()}" if lines else ""))
    return Measurement(**json.loads(result_file.read_text()))


@contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """torch.set_num_threads is process-wide: set it for a block (None: leave it) and put it back afterwards."""
    try:
        import torch
    except ImportError:  # the callers that need torch say so themselves
        yield
        return
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def merge(row: BenchmarkRow, m: Measurement) -> None:
    """Copy what ``m`` measured into ``row``, with the OpenVINO int8 precision note (the floor is applied by the report)."""
    for f in fields(Measurement):
        value = getattr(m, f.name)
        if f.name in ("runtime", "runtime_version") and not value:
            continue  # keep the installed version found up front for rows that failed before loading
        setattr(row, f.name, value)
    if row.format == "openvino" and row.precision == "int8" and row.precision_run and not row.precision_run.startswith("int8"):
        # OpenVINO reports the hint, which applies to the layers left unquantized: say both.
        row.precision_run = f"int8+{row.precision_run}"


def measure_row(row: BenchmarkRow, job: Job, workdir: Path, index: int, isolate: bool, timeout: float) -> None:
    """Measure ``job`` (in a fresh process when ``isolate``) and fill ``row`` with the result."""
    if isolate:
        measured = run_isolated(job, workdir, index, timeout)
    else:
        with torch_threads(None):
            measured = run_job(job)
    merge(row, measured)

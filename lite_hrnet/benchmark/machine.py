"""Facts about the machine a benchmark ran on: CPU, SIMD flags, cores, OS and library versions.

Read from ``/proc/cpuinfo`` where it exists (Linux), else from :mod:`platform`.
Nothing here imports a runtime: versions come from the installed distributions.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

# The flags that decide which kernels a runtime can use (x86 and Arm spellings).
SIMD_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
    "asimd", "asimdhp", "asimddp", "i8mm", "bf16", "sve", "sve2",
)

# Distributions whose versions matter for the numbers (pip names).
LIBRARIES = (
    "lite-hrnet", "numpy", "opencv-python-headless", "opencv-python", "torch", "onnxruntime", "openvino",
    "ai-edge-litert", "tensorflow", "onnx", "onnx2tf", "nncf",
)

# Environment variables that change how many threads a runtime uses.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "OV_CPU_THREADS_NUM")


@dataclass
class MachineInfo:
    """The machine and software a benchmark ran on."""

    cpu_model: str
    logical_cores: int
    physical_cores: Optional[int]
    usable_cores: int  # this process's CPU affinity: what a container or taskset leaves us
    simd: List[str]
    cpu_mhz: Optional[float]
    os: str
    python: str
    libraries: Dict[str, str] = field(default_factory=dict)
    load_average: Optional[List[float]] = None  # 1/5/15 min at the start: a busy machine gives noisy numbers
    thread_env: Dict[str, str] = field(default_factory=dict)
    peak_fp32_gflops_per_core: Optional[float] = None
    peak_note: str = ""

    def to_dict(self) -> Dict:
        return asdict(self)

    def one_line(self) -> str:
        cores = f"{self.usable_cores} usable of {self.logical_cores} logical"
        if self.physical_cores:
            cores += f" / {self.physical_cores} physical"
        simd = ",".join(self.simd) or "-"
        load = "" if self.load_average is None else f", load {self.load_average[0]:.2f}"
        return f"{self.cpu_model} ({cores} cores; {simd}); {self.os}; Python {self.python}{load}"


def _cpuinfo() -> List[Dict[str, str]]:
    """/proc/cpuinfo as one dict per logical CPU (empty off Linux)."""
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return []
    cpus: List[Dict[str, str]] = []
    current: Dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            if current:
                cpus.append(current)
                current = {}
            continue
        key, _, value = line.partition(":")
        current[key.strip()] = value.strip()
    if current:
        cpus.append(current)
    return cpus


def _max_mhz(cpus: List[Dict[str, str]]) -> Optional[float]:
    """The highest clock this CPU reports: cpufreq's maximum where the kernel exposes it, else /proc/cpuinfo."""
    sysfs = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    try:
        return int(sysfs.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        pass
    values = []
    for cpu in cpus:
        try:
            values.append(float(cpu.get("cpu MHz", "")))
        except ValueError:
            continue
    return max(values) if values else None


def estimate_peak_gflops(simd: List[str], mhz: Optional[float]) -> "tuple[Optional[float], str]":
    """A rough fp32 peak per core, FMA lanes x 2 flops x 2 ports x clock; (None, why) where unknown.

    Two FMA ports is what server cores with AVX-512 (and most AVX2 cores) have;
    some have one, and turbo clocks are higher than what a VM reports, so this is
    an order of magnitude for the compute floor, not a measurement.
    """
    if not mhz:
        return None, "clock unknown"
    if "avx512f" in simd:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in simd and "fma" in simd:
        lanes, isa = 8, "AVX2+FMA"
    elif "asimd" in simd:
        lanes, isa = 4, "NEON"
    else:
        return None, "no FMA vector unit recognised"
    flops_per_cycle = lanes * 2 * 2
    return flops_per_cycle * mhz / 1000.0, f"{isa}: {flops_per_cycle} flop/cycle (2 FMA ports assumed) x {mhz:.0f} MHz reported"


# One BLAS thread (the variables are read when numpy loads), a square float32 matrix product, best of REPEATS.
_MATMUL_PROBE = """
import sys, time
import numpy as np
n, repeats = int(sys.argv[1]), int(sys.argv[2])
a = np.random.default_rng(0).random((n, n), dtype=np.float32)
a @ a
times = []
for _ in range(repeats):
    start = time.perf_counter()
    a @ a
    times.append(time.perf_counter() - start)
print(2.0 * n ** 3 / min(times) / 1e9)
"""
MATMUL_SIZE = 1024


def measure_matmul_gflops(size: int = MATMUL_SIZE, repeats: int = 3, timeout: float = 120.0) -> Optional[float]:
    """This core's float32 matrix-multiply rate now, in GFLOP/s: numpy's BLAS on one thread, ``size``^3, best of ``repeats``.

    Measured in a fresh process, so that the BLAS thread count is one whatever this process
    loaded. The compute floor of a network is its multiply-adds at this rate: what a core
    does when the arithmetic is all there is. None when it could not be measured.
    """
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = "1"
    try:
        proc = subprocess.run([sys.executable, "-c", _MATMUL_PROBE, str(size), str(repeats)], capture_output=True,
                              text=True, env=env, timeout=timeout)
        return float(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError, IndexError, OSError):
        return None


def _versions() -> Dict[str, str]:
    from importlib import metadata

    out: Dict[str, str] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def machine_info(peak_gflops_per_core: Optional[float] = None) -> MachineInfo:
    """Describe this machine. ``peak_gflops_per_core`` overrides the fp32 peak estimate (GFLOP/s)."""
    cpus = _cpuinfo()
    first = cpus[0] if cpus else {}
    model = first.get("model name") or first.get("Hardware") or platform.processor() or platform.machine() or "unknown"
    flags = set((first.get("flags") or first.get("Features") or "").split())
    simd = [f for f in SIMD_FLAGS if f in flags]
    physical = {(c.get("physical id", "0"), c.get("core id")) for c in cpus if c.get("core id") is not None}
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    mhz = _max_mhz(cpus)
    if peak_gflops_per_core is not None:
        peak, note = float(peak_gflops_per_core), "given by the user"
    else:
        peak, note = estimate_peak_gflops(simd, mhz)
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return MachineInfo(
        cpu_model=model, logical_cores=os.cpu_count() or 1, physical_cores=len(physical) or None, usable_cores=usable,
        simd=simd, cpu_mhz=mhz, os=platform.platform(), python=sys.version.split()[0], libraries=_versions(),
        load_average=load, thread_env={k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        peak_fp32_gflops_per_core=None if peak is None else round(peak, 1), peak_note=note,
    )

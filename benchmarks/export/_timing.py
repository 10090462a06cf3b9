"""What the speed scripts of this folder share: the compute floor, interleaved timing rounds, result files.

The floor is this core's one-thread float32 matmul rate (``lite_hrnet.benchmark.machine``), sampled once per
round so that it suffers the same load as the cases; the best sample is kept.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable, Dict, Hashable, List, Optional, Tuple

from lite_hrnet.benchmark.machine import MATMUL_SIZE, measure_matmul_gflops


def cpu_model() -> str:
    """The CPU's model name for a result file: /proc/cpuinfo where it exists, else :mod:`platform`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def floor_gflops() -> float:
    """This core's float32 matrix-multiply rate now (GFLOP/s, one BLAS thread)."""
    rate = measure_matmul_gflops()
    if rate is None:
        raise SystemExit("could not measure the matmul rate (the compute floor): numpy failed in a subprocess")
    return rate


def interleaved_rounds(calls: Dict[Hashable, Tuple[Callable[[], object], int]],
                       rounds: int) -> Tuple[Dict[Hashable, List[float]], List[float]]:
    """Time every case ``rounds`` times, interleaved: per round the floor, then each call its number of repeats.

    Returns the milliseconds of every call per case, and the floor's GFLOP/s per round.
    """
    samples: Dict[Hashable, List[float]] = {key: [] for key in calls}
    rates = []
    for _ in range(rounds):
        rates.append(floor_gflops())
        for key, (call, repeats) in calls.items():
            for _ in range(repeats):
                start = time.perf_counter()
                call()
                samples[key].append((time.perf_counter() - start) * 1e3)
    return samples, rates


def floor_record(rates: List[float], macs: int) -> Tuple[dict, float]:
    """The floor entry of a result file and the floor in ms per image: ``macs`` multiply-adds at the best rate."""
    rate = max(rates)
    floor_ms = 2.0 * macs / 1e9 / rate * 1e3
    return dict(gflops_per_core=round(rate, 1), gflops_per_round=[round(r, 1) for r in rates],
                ms_per_image_1thread=round(floor_ms, 3),
                how=f"best single-thread numpy float32 {MATMUL_SIZE}^3 matmul rate over the rounds"), floor_ms


def write_results(out: str, result: dict, render: Callable[[dict], str]) -> None:
    """``out``.json and ``out``.md (the rendered table), which is also printed."""
    path = Path(out)
    path.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    text = render(result)
    path.with_suffix(".md").write_text(text)
    print(text)


def load_average_now() -> Optional[List[float]]:
    """The 1/5/15-minute load averages, or None where the platform has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def run_header(result: dict, title: str, how: str, script: str) -> List[str]:
    """The opening lines of an interleaved run's table: machine, load, libraries, floor, how it was timed."""
    m, f = result["machine"], result["floor"]
    return [
        f"# {title}",
        "",
        f"- machine: {m['cpu_model']}, {m['usable_cores']} usable cores, load average {m['load_average']} at the start, "
        f"{result['load_average_after']} at the end",
        "- libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(m["libraries"].items())),
        f"- compute floor: {result['gflop_per_image']} GFLOP per image at {f['gflops_per_core']} GFLOP/s "
        f"({f['how']}; per round {f['gflops_per_round']}) = **{f['ms_per_image_1thread']} ms per image on one thread**",
        f"- {result['weights']}; every case timed in one process, {result['rounds']} interleaved rounds; {how}",
        f"- written by `python benchmarks/export/{script}`",
        "",
    ]


def run_result(model: str, input_size, macs: int, floor: dict, rounds: int, machine, rows: List[dict]) -> dict:
    """The result file of an interleaved run: the model, its floor, the machine (load at both ends) and the rows."""
    return dict(model=model, input_size=list(input_size), macs=macs, gflop_per_image=round(2 * macs / 1e9, 3),
                weights="seeded random (seed 0), batch norm calibrated", floor=floor, rounds=rounds,
                machine=machine.to_dict(), load_average_after=load_average_now(), rows=rows)


def time_cases(model: str, cases: List[tuple], persons: Callable[[tuple], int], rounds: int,
               say: Callable[[str], None]) -> Tuple[Dict[int, List[float]], dict, float, int, object]:
    """Warm each case (its call last in the tuple) up twice, then time all of them in interleaved rounds.

    Returns the milliseconds per case index, the floor entry, the floor in ms per image, the
    model's multiply-adds and the machine (for :func:`run_result`).
    """
    from lite_hrnet.benchmark.machine import machine_info
    from lite_hrnet.export.calibration import calibrated_random_model
    from lite_hrnet.models.complexity import count_macs
    from lite_hrnet.specs import get_model_spec

    macs = int(count_macs(calibrated_random_model(model, seed=0, calib_count=1), get_model_spec(model).input_size))
    machine = machine_info()
    say(f"timing {len(cases)} cases, {rounds} interleaved rounds; load average {machine.load_average}")
    for case in cases:  # warm up: first calls, resized TFLite tensors, OpenVINO's per-batch compiles
        for _ in range(2):
            case[-1]()
    timed, rates = interleaved_rounds({i: (case[-1], 3 if persons(case) == 1 else 2) for i, case in enumerate(cases)},
                                      rounds)
    floor, floor_ms = floor_record(rates, macs)
    return timed, floor, floor_ms, macs, machine

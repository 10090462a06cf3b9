"""Latency sampling and statistics: ``time.perf_counter_ns`` around one call at a time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Milliseconds over ``runs`` timed calls."""

    runs: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float


def summarize(samples_ns: Sequence[int]) -> LatencyStats:
    """Statistics of per-call durations in nanoseconds (percentiles interpolate linearly)."""
    if len(samples_ns) == 0:
        raise ValueError("no timing samples to summarize")
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return LatencyStats(
        runs=int(ms.size), median_ms=float(p50), p90_ms=float(p90), p99_ms=float(p99), min_ms=float(ms.min()),
        max_ms=float(ms.max()), mean_ms=float(ms.mean()),
    )


def time_calls(fn: Callable[[], object], runs: Optional[int] = None, seconds: Optional[float] = None,
               min_runs: int = 3) -> List[int]:
    """Durations (ns) of successive ``fn()`` calls: ``runs`` of them, or as many as fit in ``seconds`` (>= ``min_runs``).

    Only the call itself is inside the clock: the loop's own bookkeeping is not.
    """
    if (runs is None) == (seconds is None):
        raise ValueError("give exactly one of runs and seconds")
    samples: List[int] = []
    clock = time.perf_counter_ns
    if runs is not None:
        for _ in range(runs):
            t0 = clock()
            fn()
            samples.append(clock() - t0)
        return samples
    budget = int(seconds * 1e9)
    start = clock()
    while True:
        t0 = clock()
        fn()
        t1 = clock()
        samples.append(t1 - t0)
        if t1 - start >= budget and len(samples) >= min_runs:
            return samples

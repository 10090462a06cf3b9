"""OpenVINO: a dynamic-batch file compiled per batch size (static shapes, the backend now) against compiled once
with its dynamic batch (the backend before): openvino_static_batch.json / .md.

    python benchmarks/speed/openvino_static_batch.py --xml exports/litehrnet_18_coco_256x192_openvino/litehrnet_18_coco_256x192.xml

The file is the default export (dynamic batch, constant reshapes, shuffle as conv). Both ways run
in one process, interleaved round after round (each case called a few times per round), so that
a neighbour's load on a shared machine hits every case alike; one thread, with the f32 precision
hint and with OpenVINO's default hint. The figure to compare is the minimum per person; the
ratio static / dynamic is taken within the run. Also written: the first call of a new batch
size (which compiles) and the largest output difference between the two ways.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

HERE = Path(__file__).resolve().parent


class DynamicCompile:
    """The backend before: the file compiled once with its dynamic batch, every batch size run on it."""

    def __init__(self, path: str, threads: int, hint: Optional[str]) -> None:
        import openvino as ov

        core = ov.Core()
        config: Dict[str, object] = {"INFERENCE_NUM_THREADS": threads}
        if hint:
            config["INFERENCE_PRECISION_HINT"] = hint
        self.compiled = core.compile_model(core.read_model(path), "CPU", config)
        self.requests: "queue.SimpleQueue" = queue.SimpleQueue()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        try:
            request = self.requests.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        request.infer({0: batch})
        out = np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)
        self.requests.put(request)
        return out


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--xml", required=True, help="a dynamic-batch OpenVINO file of LH-18 256x192")
    p.add_argument("--static-xml", help="optional: the same network exported with a static batch of 1 (timed at batch 1 "
                                         "and as 8 calls of 1, f32 hint): the former default, for reference")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--out", default=str(HERE / "openvino_static_batch"))
    args = p.parse_args(argv)

    import openvino as ov

    from lite_hrnet import runtimes
    from lite_hrnet.benchmark.machine import machine_info
    from lite_hrnet.export.calibration import calibration_batch
    from lite_hrnet.specs import get_model_spec

    machine = machine_info()
    spec = get_model_spec("litehrnet_18_coco_256x192")
    x8 = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=8, seed=7)
    cases: List[Dict] = []
    compile_ms: Dict[str, float] = {}
    max_diff: Dict[str, float] = {}
    for hint, hint_name in (("f32", "f32"), (None, "default")):
        static = runtimes.load(args.xml, threads=1, precision=hint)
        start = time.perf_counter()
        static(x8)  # the first call of batch 8 compiles it
        compile_ms[hint_name] = round((time.perf_counter() - start) * 1e3, 1)
        dynamic = DynamicCompile(args.xml, 1, hint)
        for n in (1, 8):
            x = x8[:n]
            a, b = static(x), dynamic(x)
            max_diff[f"{hint_name}, batch {n}"] = float(np.abs(a - b).max() / np.abs(b).max())
            for way, fn in (("static per batch size (now)", static), ("dynamic, compiled once (before)", dynamic)):
                cases.append(dict(hint=hint_name, way=way, batch=n, call=(lambda f=fn, x=x: f(x)), samples=[]))
    if args.static_xml:
        former = runtimes.load(args.static_xml, threads=1, precision="f32")
        for n in (1, 8):
            cases.append(dict(hint="f32", way="static batch-1 file (former default, reference)", batch=n,
                              call=(lambda f=former, x=x8[:n]: f(x)), samples=[]))
    for case in cases:  # warm up
        for _ in range(2):
            case["call"]()
    for _ in range(args.rounds):
        for case in cases:
            for _ in range(3 if case["batch"] == 1 else 2):
                start = time.perf_counter()
                case["call"]()
                case["samples"].append((time.perf_counter() - start) * 1e3)
    rows = []
    for case in cases:
        s = case["samples"]
        rows.append(dict(hint=case["hint"], way=case["way"], batch=case["batch"], calls=len(s),
                         min_ms_per_person=round(min(s) / case["batch"], 2),
                         median_ms_per_person=round(float(np.median(s)) / case["batch"], 2)))
    for r in rows:
        base = next(q for q in rows if q["hint"] == r["hint"] and q["batch"] == r["batch"] and "before" in q["way"])
        r["min_over_before"] = round(r["min_ms_per_person"] / base["min_ms_per_person"], 3)
        r["median_over_before"] = round(r["median_ms_per_person"] / base["median_ms_per_person"], 3)
    result = dict(file=args.xml, openvino=ov.__version__, rounds=args.rounds, threads=1,
                  load_average_start=machine.load_average, load_average_end=[round(v, 2) for v in os.getloadavg()],
                  cpu=machine.cpu_model, usable_cores=machine.usable_cores,
                  first_call_batch8_ms=compile_ms, max_relative_difference=max_diff, rows=rows)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# OpenVINO: compiled per batch size (static) against compiled once (dynamic batch)", "",
        f"- file: `{args.xml}` (default export: dynamic batch), OpenVINO {result['openvino']}, 1 thread",
        f"- machine: {machine.cpu_model}, {machine.usable_cores} usable cores; load average {result['load_average_start']} "
        f"at the start, {result['load_average_end']} at the end (one core trains a network; other helpers share the other)",
        f"- {args.rounds} interleaved rounds; min per person is the figure to compare, median beside it",
        f"- first call of batch 8 (compiles the static batch-8 model): {compile_ms} ms",
        f"- largest difference static vs dynamic, relative to the largest output: {max_diff}",
        "- written by `python benchmarks/speed/openvino_static_batch.py`", "",
        "| hint | compiled | batch | min ms / person | median ms / person | min / before | median / before |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['hint']} | {r['way']} | {r['batch']} | {r['min_ms_per_person']:.2f} | "
                     f"{r['median_ms_per_person']:.2f} | {r['min_over_before']:.2f} | {r['median_over_before']:.2f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

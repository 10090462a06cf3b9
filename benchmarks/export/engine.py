"""The hand-written engine (native/src/engine.c, `.lhrn` files) against the best runtime files: engine.json / .md.

    make native                                   # builds build/native/liblhr_engine.so
    python benchmarks/export/engine.py            # builds what is missing in --work, then times
    python benchmarks/export/engine.py --rounds 4

LH-18 256x192, seeded random weights with batch norm calibrated (speed does not depend on the
values). The runtimes' files are those of deploy_form.py (its --work folder, built if missing):
the deploy form for LiteRT and OpenVINO, the plain graph for ONNX Runtime, each one's fastest
here. The engine's program is compiled from the same network. Every case runs through
lite_hrnet.runtimes (what users call), in one process, interleaved round after round with the
compute floor (this core's single-thread float32 matmul rate). Figures to read: the minimum per
case and its ratio to the floor (floor / threads for two threads).

A second table splits the engine's own time by op kind (lhr_engine_run_profiled, the minimum
over the rounds of each op), against the share of the multiply-adds each kind does.
"""

from __future__ import annotations

import os

# One BLAS thread for the floor (set before numpy loads); the runtimes get their threads explicitly.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402

from _timing import run_header, run_result, time_cases, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = "litehrnet_18_coco_256x192"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="/tmp/deploy_form", help="folder of the built files (shared with deploy_form.py)")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    p.add_argument("--out", default=str(HERE / "engine"), help="output stem (.json and .md are written)")
    return p.parse_args(argv)


def say(message: str) -> None:
    print(f"[engine] {message}", file=sys.stderr, flush=True)


def build(work: Path) -> Dict[str, Path]:
    """{runtime: file}: deploy_form.py's files, and the engine program compiled from the same network."""
    from deploy_form import build as build_runtime_files

    from lite_hrnet.export.calibration import calibrated_random_model
    from lite_hrnet.export.engine_program import write_program
    from lite_hrnet.specs import get_model_spec

    built = build_runtime_files(work)
    files = {"litert": built[("tflite", "deploy")], "openvino": built[("openvino", "deploy")],
             "onnxruntime": built[("onnxruntime", "plain")], "engine": work / "engine.lhrn"}
    if not files["engine"].is_file():
        say("engine program")
        spec = get_model_spec(MODEL)
        meta = dict(spec.metadata(), format="engine", precision="fp32", layout="NCHW", batch="dynamic")
        write_program(calibrated_random_model(MODEL, seed=0), spec.input_size, files["engine"], meta)
    return files


Case = Tuple[str, str, int, int, Callable[[], object]]  # runtime, what, threads, persons, call


def cases(files: Dict[str, Path]) -> List[Case]:
    from lite_hrnet import runtimes
    from lite_hrnet.benchmark.worker import person_boxes, synthetic_frame
    from lite_hrnet.export.calibration import calibration_batch
    from lite_hrnet.pipeline import PoseEstimator
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(MODEL)
    x8 = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=8, seed=7)
    frame = synthetic_frame()
    boxes = {n: person_boxes(n) for n in (1, 8)}
    out: List[Case] = []
    for runtime, path in files.items():
        for threads in (1, 2):
            backend = runtimes.load(path, threads=threads, precision="fp32" if runtime == "openvino" else None)
            for n in (1, 8):
                out.append((runtime, f"batch {n}", threads, n, lambda b=backend, x=x8[:n]: b(x)))
            estimator = PoseEstimator(backend)
            for n in (1, 8):
                out.append((runtime, f"PoseEstimator.predict, {n} person{'s' if n > 1 else ''}", threads, n,
                            lambda e=estimator, b=boxes[n]: e.predict(frame, b)))
    return out


def profile_engine(path: Path, rounds: int) -> Dict[str, float]:
    """The engine's milliseconds per op kind in one image (each op's minimum over ``rounds`` x 5 runs)."""
    from lite_hrnet.runtimes.engine_backend import EngineLibrary

    library = EngineLibrary()  # the backend's declarations of the C API, and its error messages
    lib = library.lib
    lib.lhr_engine_op_kind.restype = ctypes.c_char_p
    handle = library.open(path)
    try:
        n = lib.lhr_engine_num_ops(handle)
        kinds = [lib.lhr_engine_op_kind(handle, i).decode() for i in range(n)]
        x = np.random.default_rng(0).standard_normal(library.shape(handle, output=False)).astype(np.float32)
        y = np.zeros(library.shape(handle, output=True), np.float32)
        seconds = (ctypes.c_double * n)()
        best = np.full(n, np.inf)
        fp = ctypes.POINTER(ctypes.c_float)
        for _ in range(rounds * 5):
            lib.lhr_engine_run_profiled(handle, x.ctypes.data_as(fp), y.ctypes.data_as(fp), seconds)
            best = np.minimum(best, np.frombuffer(seconds, dtype=np.float64))
    finally:
        lib.lhr_engine_close(handle)
    by_kind: Dict[str, float] = defaultdict(float)
    for kind, s in zip(kinds, best):
        by_kind[kind] += s * 1e3
    return dict(by_kind)


def macs_by_kind() -> Dict[str, float]:
    """Multiply-adds per engine op kind (convolutions only, as the floor counts them), from the PyTorch model."""
    import torch

    from lite_hrnet.export.calibration import calibrated_random_model

    model = calibrated_random_model(MODEL, seed=0, calib_count=1)
    macs: Dict[str, float] = defaultdict(float)

    def hook(module, inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1]
        kind = "depthwise" if module.groups > 1 else ("pointwise" if k == 1 else "conv")
        macs[kind] += output.numel() * k * module.in_channels // module.groups

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, 256, 192))
    return dict(macs)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(MODEL)
    files = build(Path(args.work))
    todo = cases(files)
    timed, floor, floor_ms, macs, machine = time_cases(MODEL, todo, lambda case: case[3], args.rounds, say)
    rows = []
    for i, (runtime, what, threads, persons, _) in enumerate(todo):
        values = timed[i]
        rows.append(dict(runtime=runtime, case=what, threads=threads, persons=persons,
                         min_ms=round(min(values), 2), median_ms=round(float(np.median(values)), 2),
                         min_ms_per_person=round(min(values) / persons, 2),
                         x_floor=round(min(values) / persons / (floor_ms / threads), 2), calls=len(values)))
    result = run_result(MODEL, spec.input_size, macs, floor, args.rounds, machine, rows)
    kind_ms = profile_engine(files["engine"], args.rounds)
    kind_macs = macs_by_kind()
    total_macs = sum(kind_macs.values())
    result["engine_profile"] = [
        dict(kind=k, ms=round(ms, 3), share_of_time=round(ms / sum(kind_ms.values()), 3),
             share_of_macs=round(kind_macs.get(k, 0.0) / total_macs, 3),
             floor_ms=round(2.0 * kind_macs.get(k, 0.0) / 1e9 / floor["gflops_per_core"] * 1e3, 3))
        for k, ms in sorted(kind_ms.items(), key=lambda kv: -kv[1])]
    write_results(args.out, result, render)
    return 0


def render(result: Dict) -> str:
    lines = run_header(result, f"The hand-written engine against the runtimes: {result['model']}, measured",
                       "min is the figure to compare, median beside it; x floor = min per person / (floor / threads)",
                       "engine.py") + [
        "| runtime | case | threads | min ms | median ms | min ms / person | x floor |",
        "|---|---|---|---|---|---|---|",
    ]
    order = {"engine": 0, "litert": 1, "openvino": 2, "onnxruntime": 3}
    for r in sorted(result["rows"], key=lambda r: (r["case"], r["threads"], order.get(r["runtime"], 9))):
        lines.append(f"| {r['runtime']} | {r['case']} | {r['threads']} | {r['min_ms']:.2f} | {r['median_ms']:.2f} | "
                     f"{r['min_ms_per_person']:.2f} | {r['x_floor']:.2f} |")
    profile = result.get("engine_profile") or []
    if profile:
        total = sum(p["ms"] for p in profile)
        lines += ["", f"Where the engine's time goes (one image, 1 thread; each op's minimum over the runs, "
                      f"summed by kind: {total:.2f} ms in all):", "",
                  "| op kind | ms | share of time | share of multiply-adds | floor ms (its multiply-adds at the matmul rate) |",
                  "|---|---|---|---|---|"]
        for p in profile:
            lines.append(f"| {p['kind']} | {p['ms']:.2f} | {100 * p['share_of_time']:.0f}% | "
                         f"{100 * p['share_of_macs']:.0f}% | {p['floor_ms']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

"""The deploy form of Lite-HRNet (lite_hrnet.models.deploy) against the plain graph, per runtime: deploy_form.json / .md.

    python benchmarks/export/deploy_form.py                 # build what is missing in --work, then time
    python benchmarks/export/deploy_form.py --rounds 4

Builds LH-18 256x192 (seeded random weights, batch norm calibrated: speed does not depend on
the values) twice with the exporter's own writers (lite_hrnet.export.formats): the plain graph
as the exporter made it before the deploy form (ONNX with constant reshapes; OpenVINO with the
shuffles as convs; TFLite from the batch-1 graph), and the deploy form (no channel split,
concat or shuffle). Then times every file through lite_hrnet.runtimes (what users call), in one
process, interleaved round after round with the compute floor (this core's single-thread
float32 matmul rate), so that a neighbour's load hits every case alike. Figures to read: the
minimum per case, its ratio to the floor, and deploy / plain in the same run.
"""

from __future__ import annotations

import os

# One BLAS thread for the floor (set before numpy loads); the runtimes get their threads explicitly.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402

from _timing import run_header, run_result, time_cases, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = "litehrnet_18_coco_256x192"
GRAPHS = ("plain", "deploy")


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="/tmp/deploy_form", help="folder of the built files (kept between runs)")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    p.add_argument("--out", default=str(HERE / "deploy_form"), help="output stem (.json and .md are written)")
    return p.parse_args(argv)


def say(message: str) -> None:
    print(f"[deploy_form] {message}", file=sys.stderr, flush=True)


def build(work: Path) -> Dict[Tuple[str, str], Path]:
    """{(runtime, graph): file}, each made once in ``work`` (a file already there is kept)."""
    from lite_hrnet.export import formats
    from lite_hrnet.export.calibration import calibrated_random_model, calibration_batch
    from lite_hrnet.export.rewrite import applied_rewrites, deploy_form_options, rewrite_for_format
    from lite_hrnet.models.deploy import deploy_model
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(MODEL)
    work.mkdir(parents=True, exist_ok=True)
    files = {(r, g): work / f"{g}{suffix}" for g in GRAPHS
             for r, suffix in (("onnxruntime", ".onnx"), ("openvino", ".xml"), ("tflite", ".tflite"),
                               ("openvino int8", "_int8.xml"))}
    if all(p.is_file() for p in files.values()):
        return files
    model = calibrated_random_model(MODEL, seed=0)
    calib = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=8, seed=0)
    for graph in GRAPHS:
        deploy = graph == "deploy"

        def net(fmt: str):
            # as the exporter makes each format's file (lite_hrnet.export._staging.Sources.source)
            return deploy_model(model, **deploy_form_options(fmt)) if deploy else model

        def meta(fmt: str, batch, precision: str = "fp32") -> dict:
            return dict(spec.metadata(), format=fmt, precision=precision, layout="NHWC" if fmt == "tflite" else "NCHW",
                        batch=batch, graph_rewrites=applied_rewrites(fmt, deploy))

        for fmt, key in (("onnx", "onnxruntime"), ("openvino", "openvino")):
            if files[(key, graph)].is_file():
                continue
            say(f"{graph}: {key} (dynamic batch)")
            src = formats.export_onnx(net(fmt), spec.input_size, work / f"{graph}.{fmt}.raw.onnx", True, meta("onnx", "dynamic"))
            dst = files[(key, graph)] if fmt == "onnx" else work / f"{graph}.openvino.onnx"
            rewrite_for_format(src, dst, fmt, deploy)
            if fmt == "openvino":
                formats.onnx_to_openvino(dst, files[(key, graph)], "fp32", None, meta("openvino", "dynamic"))
        if not files[("openvino int8", graph)].is_file():
            say(f"{graph}: OpenVINO int8 (NNCF, batch 1 as the exporter writes it)")
            src = formats.export_onnx(net("openvino"), spec.input_size, work / f"{graph}.openvino.batch1.onnx", False, {})
            rewrite_for_format(src, src, "openvino", deploy)
            formats.onnx_to_openvino(src, files[("openvino int8", graph)], "int8", calib, meta("openvino", 1, "int8"))
        if not files[("tflite", graph)].is_file():
            say(f"{graph}: TFLite (batch-1 graph, onnx2tf: a minute or two)")
            static = formats.export_onnx(net("tflite"), spec.input_size, work / f"{graph}.batch1.onnx", False, {})
            rewrite_for_format(static, static, "tflite", deploy)
            formats.onnx_to_tflite(static, {"fp32": files[("tflite", graph)]}, calib, {"fp32": meta("tflite", 1)})
    return files


Case = Tuple[str, str, str, int, int, Callable[[], object]]  # runtime, graph, what, threads, persons, call


def cases(files: Dict[Tuple[str, str], Path]) -> List[Case]:
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
    for (runtime, graph), path in files.items():
        if runtime == "openvino int8":  # a batch-1 file, run as users do (default hint)
            backend = runtimes.load(path, threads=1)
            out.append(("openvino", graph, "int8 (NNCF), batch 1", 1, 1, lambda b=backend, x=x8[:1]: b(x)))
            continue
        for threads, precision, what in ((1, "fp32", "fp32"), (2, "fp32", "fp32")) + (
                ((1, None, "default hint (bf16 here)"),) if runtime == "openvino" else ()):
            backend = runtimes.load(path, threads=threads, precision=precision)
            for n in (1, 8):
                out.append((runtime, graph, f"{what}, batch {n}", threads, n, lambda b=backend, x=x8[:n]: b(x)))
            if threads == 1 and precision == "fp32":
                estimator = PoseEstimator(backend)
                for n in (1, 8):
                    out.append((runtime, graph, f"{what}, PoseEstimator.predict, {n} person{'s' if n > 1 else ''}",
                                threads, n, lambda e=estimator, b=boxes[n]: e.predict(frame, b)))
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(MODEL)
    files = build(Path(args.work))
    todo = cases(files)
    timed, floor, floor_ms, macs, machine = time_cases(MODEL, todo, lambda case: case[4], args.rounds, say)
    best = {(c[0], c[1], c[2], c[3]): min(timed[i]) for i, c in enumerate(todo)}
    rows = []
    for i, (runtime, graph, what, threads, persons, _) in enumerate(todo):
        values = timed[i]
        plain = best.get((runtime, "plain", what, threads))
        rows.append(dict(runtime=runtime, graph=graph, case=what, threads=threads, persons=persons,
                         min_ms=round(min(values), 2), median_ms=round(float(np.median(values)), 2),
                         min_ms_per_person=round(min(values) / persons, 2),
                         x_floor=round(min(values) / persons / (floor_ms / threads), 2),
                         deploy_over_plain=round(min(values) / plain, 3) if graph == "deploy" and plain else None,
                         calls=len(values)))
    result = run_result(MODEL, spec.input_size, macs, floor, args.rounds, machine, rows)
    write_results(args.out, result, render)
    return 0


def render(result: Dict) -> str:
    lines = run_header(result, f"Deploy form vs plain graph: {result['model']}, measured",
                       "min is the figure to compare, median beside it; x floor = min per person / (floor / threads); "
                       "deploy / plain = the deploy form's min over the plain graph's, same case", "deploy_form.py") + [
        "| runtime | graph | case | threads | min ms | median ms | min ms / person | x floor | deploy / plain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(result["rows"], key=lambda r: (r["runtime"], r["case"], r["threads"], r["graph"] != "plain")):
        ratio = f"{r['deploy_over_plain']:.2f}" if r["deploy_over_plain"] is not None else ""
        lines.append(f"| {r['runtime']} | {r['graph']} | {r['case']} | {r['threads']} | {r['min_ms']:.2f} | "
                     f"{r['median_ms']:.2f} | {r['min_ms_per_person']:.2f} | {r['x_floor']:.2f} | {ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

"""The deploy graph and batched persons, per runtime, against the compute floor: deploy_graph_run.json / .md.

    python benchmarks/export/deploy_graph.py                      # build what is missing in --work, then time
    python benchmarks/export/deploy_graph.py --rounds 4 --no-int8 # shorter

Exports LH-18 256x192 once (seeded random weights, batch norm calibrated: speed does not
depend on the values) with a static and with a dynamic batch, applies the exact
rewrites of lite_hrnet.export.rewrite to copies, writes the ONNX Runtime, OpenVINO and
TFLite files of each variant (fp32, and int8 unless --no-int8), and times every case
through lite_hrnet.runtimes (what users call) in one process, interleaved: round after
round, each case called a few times, so that a neighbour's load on this shared machine
hits every case alike. Each round also measures the compute floor: the single-thread
fp32 matrix-multiply rate of this core (numpy's BLAS, 1024^3), and the network's
multiply-adds at that rate. Figures to read: the minimum per case, and its ratio to
the floor and to the plain graph measured in the same run.

Also timed: ``PoseEstimator.predict`` on a 1280x720 frame with 1 and with 8 person
boxes (crop, normalise, infer, decode), which runs all 8 in one runtime call.
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


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="/tmp/deploy_graph", help="folder of the built files (kept between runs)")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    p.add_argument("--no-int8", action="store_true", help="skip the int8 files (their quantization is the slow part)")
    p.add_argument("--no-tflite", action="store_true", help="skip TFLite (onnx2tf conversions take minutes)")
    p.add_argument("--only", default="", help="comma-separated runtimes to time (onnxruntime,openvino,tflite)")
    p.add_argument("--build-only", action="store_true", help="make the files, time nothing")
    p.add_argument("--out", default=str(HERE / "deploy_graph_run"),
                   help="output stem (.json and .md are written; deploy_graph.md quotes them)")
    return p.parse_args(argv)


def say(message: str) -> None:
    print(f"[deploy_graph] {message}", file=sys.stderr, flush=True)


def _rewritten(src: Path, dst: Path, passes) -> Path:
    import onnx

    if not dst.is_file():
        proto = onnx.load(str(src))
        counts = [f"{p.__name__} x{p(proto)}" for p in passes]
        onnx.save(proto, str(dst))
        say(f"{dst.name}: {', '.join(counts)}")
    return dst


def build(work: Path, int8: bool, tflite: bool) -> Dict[str, Path]:
    """Every file the cases run, made where missing: {variant key: path}."""
    from lite_hrnet.export import formats
    from lite_hrnet.export.calibration import calibrated_random_model, calibration_batch
    from lite_hrnet.export.rewrite import (channel_shuffle_as_conv, computed_reshapes_as_constants,
                                           nearest_upsample_as_broadcast)
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(MODEL)
    work.mkdir(parents=True, exist_ok=True)
    files: Dict[str, Path] = {"static": work / "static.onnx", "dynamic": work / "dynamic.onnx"}
    model = None
    for key, dynamic in (("static", False), ("dynamic", True)):
        if not files[key].is_file():
            model = model or calibrated_random_model(MODEL, seed=0, calib_count=8)
            say(f"exporting {key} ONNX")
            formats.export_onnx(model, spec.input_size, files[key], dynamic_batch=dynamic, meta={})
    files["dynamic_const"] = _rewritten(files["dynamic"], work / "dynamic_const.onnx", [computed_reshapes_as_constants])
    files["dynamic_const_bc"] = _rewritten(files["dynamic_const"], work / "dynamic_const_bc.onnx", [nearest_upsample_as_broadcast])
    files["static_sc"] = _rewritten(files["static"], work / "static_sc.onnx", [channel_shuffle_as_conv])
    files["dynamic_const_sc"] = _rewritten(files["dynamic_const"], work / "dynamic_const_sc.onnx", [channel_shuffle_as_conv])
    files["dynamic_const_sc_bc"] = _rewritten(files["dynamic_const_sc"], work / "dynamic_const_sc_bc.onnx",
                                              [nearest_upsample_as_broadcast])
    files["static_bc"] = _rewritten(files["static"], work / "static_bc.onnx", [nearest_upsample_as_broadcast])
    calib = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=16, seed=0)
    for key in ("static_sc", "dynamic_const_sc", "dynamic_const_sc_bc"):
        xml = work / f"{key}.xml"
        if not xml.is_file():
            say(f"OpenVINO {key}")
            formats.onnx_to_openvino(files[key], xml, "fp32", calib, {})
        files[f"ov_{key}"] = xml
        if int8 and key == "static_sc":  # the exporter quantizes the batch-1 graph for OpenVINO (see _exporter)
            xml8 = work / f"{key}_int8.xml"
            if not xml8.is_file():
                say(f"OpenVINO int8 {key}")
                formats.onnx_to_openvino(files[key], xml8, "int8", calib, {})
            files[f"ov_{key}_int8"] = xml8
    if int8:
        for key in ("dynamic_const", "dynamic_const_bc"):
            path = work / f"{key}_int8.onnx"
            if not path.is_file():
                say(f"ONNX Runtime int8 {key}")
                formats.onnx_to_int8(files[key], path, calib, {})
            files[f"{key}_int8"] = path
    if tflite:
        for key in ("static", "static_bc"):
            wanted = {"fp32": work / f"{key}_fp32.tflite"}
            if int8:
                wanted["int8"] = work / f"{key}_int8.tflite"
            if not all(p.is_file() for p in wanted.values()):
                say(f"TFLite {key} ({', '.join(wanted)})")
                try:
                    formats.onnx_to_tflite(files[key], wanted, calib, {p: {} for p in wanted})
                except Exception as e:  # a variant that does not convert is a result too
                    say(f"TFLite {key} failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            for precision, path in wanted.items():
                if path.is_file():
                    _batch_free(path)
                    files[f"tflite_{key}_{precision}"] = path
    return files


def _batch_free(path: Path) -> None:
    """Apply the exporter's TFLite pass (reshapes that take the batch from their input) where it is missing."""
    from lite_hrnet import metadata as md
    from lite_hrnet.export.rewrite import tflite_batch_free_reshapes

    data = path.read_bytes()
    model = md.unpack_tflite(data)
    if tflite_batch_free_reshapes(model):
        path.write_bytes(md.pack_tflite(model, len(data)))


def _with_metadata(path: Path) -> Path:
    """``path`` with lite-hrnet metadata (the spec's, batch and precision from the file), written in place if it lacks it."""
    from lite_hrnet import metadata as md
    from lite_hrnet.specs import get_model_spec

    try:
        md.read_metadata(path)
        return path
    except (md.MetadataError, ValueError):
        pass
    precision = "int8" if "_int8" in path.name else "fp32"
    meta = dict(get_model_spec(MODEL).metadata(), precision=precision, batch=1 if "static" in path.name else "dynamic")
    if path.suffix == ".onnx":
        import onnx

        proto = onnx.load(str(path))
        md.write_onnx_metadata(proto, dict(meta, format="onnx", layout="NCHW"))
        onnx.save(proto, str(path))
    elif path.suffix == ".xml":
        import openvino as ov

        model = ov.Core().read_model(str(path))
        md.write_openvino_metadata(model, dict(meta, format="openvino", layout="NCHW"))
        tmp = path.with_name("tmp_" + path.name)
        ov.save_model(model, str(tmp), compress_to_fp16=False)
        del model
        tmp.with_suffix(".bin").replace(path.with_suffix(".bin"))
        tmp.replace(path)
    else:
        data = path.read_bytes()
        path.write_bytes(md.write_tflite_metadata(data, dict(meta, format="tflite", layout="NHWC", batch=1)))
    return path


Case = Tuple[str, str, str, int, int, Callable[[], object]]  # runtime, graph, what, threads, persons, call


def cases(files: Dict[str, Path], only: List[str]) -> List[Case]:
    from lite_hrnet import runtimes
    from lite_hrnet.benchmark.worker import person_boxes, synthetic_frame
    from lite_hrnet.export.calibration import calibration_batch
    from lite_hrnet.pipeline import PoseEstimator
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(MODEL)
    x8 = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=8, seed=7)
    x1 = x8[:1]
    frame = synthetic_frame()
    boxes = {n: person_boxes(n) for n in (1, 8)}
    out: List[Case] = []

    def add(runtime: str, graph: str, key: str, what: str, threads: int = 1, batches=(1,), predict: bool = False,
            precision: Optional[str] = None) -> None:
        if key not in files or (only and runtime not in only):
            return
        backend = runtimes.load(_with_metadata(files[key]), threads=threads, precision=precision)
        for n in batches:
            x = x1 if n == 1 else x8[:n]
            out.append((runtime, graph, f"{what}, batch {n}", threads, n, lambda b=backend, x=x: b(x)))
        if predict:
            estimator = PoseEstimator(backend)
            for n in (1, 8):
                out.append((runtime, graph, f"{what}, PoseEstimator.predict, {n} person{'s' if n > 1 else ''}", threads, n,
                            lambda e=estimator, b=boxes[n]: e.predict(frame, b)))

    ort, ov, tfl = "onnxruntime", "openvino", "tflite"
    add(ort, "plain, static batch 1 (the former default)", "static", "fp32", batches=(1, 8), predict=True)
    add(ort, "plain, dynamic batch as exported", "dynamic", "fp32")
    add(ort, "dynamic batch, constant reshapes (the default now)", "dynamic_const", "fp32", batches=(1, 8), predict=True)
    add(ort, "dynamic batch, constant reshapes", "dynamic_const", "fp32", threads=2, batches=(1, 8))
    add(ort, "+ upsample as broadcast", "dynamic_const_bc", "fp32", batches=(1, 8))
    add(ort, "dynamic batch, constant reshapes (the default now)", "dynamic_const_int8", "int8 (QDQ)", batches=(1, 8))
    add(ort, "+ upsample as broadcast", "dynamic_const_bc_int8", "int8 (QDQ)")
    add(ov, "shuffle as conv, static batch 1 (the former default)", "ov_static_sc", "fp32 file, f32", precision="fp32",
        batches=(1, 8), predict=True)
    add(ov, "shuffle as conv, dynamic batch, constant reshapes (the default now)", "ov_dynamic_const_sc", "fp32 file, f32",
        precision="fp32", batches=(1, 8), predict=True)
    add(ov, "shuffle as conv, dynamic batch, constant reshapes (the default now)", "ov_dynamic_const_sc", "fp32 file, f32",
        threads=2, precision="fp32", batches=(1, 8))
    add(ov, "shuffle as conv, dynamic batch, constant reshapes (the default now)", "ov_dynamic_const_sc",
        "fp32 file, default hint (bf16 here)", batches=(1, 8))
    add(ov, "+ upsample as broadcast", "ov_dynamic_const_sc_bc", "fp32 file, f32", precision="fp32", batches=(1, 8))
    add(ov, "+ upsample as broadcast", "ov_dynamic_const_sc_bc", "fp32 file, default hint (bf16 here)")
    add(ov, "shuffle as conv, static batch 1 (int8 stays batch 1)", "ov_static_sc_int8", "int8 (NNCF)", batches=(1, 8))
    add(tfl, "plain, batch-1 file (resized for batch 8)", "tflite_static_fp32", "fp32", batches=(1, 8), predict=True)
    add(tfl, "plain, batch-1 file (resized for batch 8)", "tflite_static_fp32", "fp32", threads=2, batches=(1, 8))
    add(tfl, "+ upsample as broadcast", "tflite_static_bc_fp32", "fp32", batches=(1, 8))
    add(tfl, "plain, batch-1 file (resized for batch 8)", "tflite_static_int8", "int8", batches=(1, 8))
    add(tfl, "+ upsample as broadcast", "tflite_static_bc_int8", "int8")
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(MODEL)
    files = build(Path(args.work), not args.no_int8, not args.no_tflite)
    if args.build_only:
        return 0
    only = [s for s in args.only.split(",") if s]
    todo = cases(files, only)
    timed, floor, floor_ms, macs, machine = time_cases(MODEL, todo, lambda case: case[4], args.rounds, say)
    samples = [timed[i] for i in range(len(todo))]
    rows = []
    for (runtime, graph, what, threads, persons, _), values in zip(todo, samples):
        best = min(values)
        rows.append(dict(runtime=runtime, graph=graph, case=what, threads=threads, persons=persons,
                         min_ms=round(best, 2), median_ms=round(float(np.median(values)), 2),
                         min_ms_per_person=round(best / persons, 2),
                         x_floor=round(best / persons / (floor_ms / threads), 2), calls=len(values)))
    result = run_result(MODEL, spec.input_size, macs, floor, args.rounds, machine, rows)
    write_results(args.out, result, render)
    return 0


def render(result: Dict) -> str:
    lines = run_header(result, f"Deploy graph and batched persons: {result['model']}, measured",
                       "min is the figure to compare (the machine is shared), median beside it; x floor = min per "
                       "person / (floor / threads)", "deploy_graph.py") + [
        "| runtime | graph | case | threads | min ms | median ms | min ms / person | x floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['runtime']} | {r['graph']} | {r['case']} | {r['threads']} | {r['min_ms']:.2f} | "
                     f"{r['median_ms']:.2f} | {r['min_ms_per_person']:.2f} | {r['x_floor']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

"""Channel shuffles folded into the layers around them, against the plain graph: shuffle_fold.json / .md.

    python benchmarks/export/shuffle_fold.py --work /tmp/shuffle-fold      # builds (onnx2tf: minutes), then times

Exports LH-18 256x192 (seeded random weights, batch norm calibrated; speed does
not depend on the values), makes for each runtime the graph it gets today
("plain": the FORMAT_REWRITES of that format before this pass) and the same graph
with ``channel_shuffle_folded`` applied, checks that both compute the same
heatmaps (relative L2, and against PyTorch), then times every case in one
process, interleaved round after round, one thread, batch 1 and batch 8. Each
round also measures the compute floor: LH-18's multiply-adds over this core's
single-thread float32 matmul rate (numpy, 1024^3), best over the rounds; ratios
are read within the run (the machine is shared).
"""

from __future__ import annotations

import os

# One BLAS thread for the floor (set before numpy loads); the runtimes get their threads explicitly.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Optional  # noqa: E402

import numpy as np  # noqa: E402

from _timing import floor_record, interleaved_rounds, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = "litehrnet_18_coco_256x192"
BATCHES = (1, 8)


def say(message: str) -> None:
    print(f"[shuffle_fold] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="/tmp/shuffle-fold", help="folder for the built files (reused when present)")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    p.add_argument("--no-tflite", action="store_true", help="skip TFLite (each onnx2tf conversion takes minutes)")
    p.add_argument("--build-only", action="store_true")
    p.add_argument("--only", default="", help="comma-separated runtimes to time (onnxruntime, openvino, tflite)")
    p.add_argument("--out", default=str(HERE / "shuffle_fold"), help="output stem (.json and .md are written)")
    return p.parse_args(argv)


def _rewritten(src: Path, dst: Path, names) -> Dict:
    """Write ``src`` with the named rewrites of lite_hrnet.export.rewrite to ``dst``; node counts and seconds."""
    import onnx

    from lite_hrnet.export import rewrite

    proto = onnx.load(str(src))
    seconds = {}
    for name in names:
        start = time.perf_counter()
        getattr(rewrite, name)(proto)
        seconds[name] = round(time.perf_counter() - start, 1)
    onnx.save(proto, str(dst))
    return dict(nodes=dict(sorted(Counter(n.op_type for n in proto.graph.node).items())), seconds=seconds)


def build(work: Path, tflite: bool) -> Dict:
    from lite_hrnet.export import formats
    from lite_hrnet.export.calibration import calibrated_random_model, calibration_batch
    from lite_hrnet.specs import get_model_spec

    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "manifest.json"
    if manifest.is_file():
        return json.loads(manifest.read_text())
    spec = get_model_spec(MODEL)
    model = calibrated_random_model(MODEL, seed=0, calib_count=8)
    import torch

    torch.save(model, work / "model.pt")
    say("exporting ONNX (dynamic and static batch)")
    dynamic = formats.export_onnx(model, spec.input_size, work / "dynamic.onnx", dynamic_batch=True, meta={})
    static = formats.export_onnx(model, spec.input_size, work / "static.onnx", dynamic_batch=False, meta={})
    graphs = {
        "ort_plain": (dynamic, ["computed_reshapes_as_constants"]),
        "ort_folded": (dynamic, ["computed_reshapes_as_constants", "channel_shuffle_folded"]),
        "ov_plain": (dynamic, ["computed_reshapes_as_constants", "channel_shuffle_as_conv"]),
        "ov_folded": (dynamic, ["computed_reshapes_as_constants", "channel_shuffle_folded"]),
        "tfl_plain": (static, []),
        "tfl_folded": (static, ["channel_shuffle_folded"]),
    }
    built = {"files": {}, "graphs": {}, "failures": {}}
    for key, (src, names) in graphs.items():
        say(f"{key}: {', '.join(names) or 'as exported'}")
        built["graphs"][key] = dict(rewrites=names, **_rewritten(src, work / f"{key}.onnx", names))
        built["files"][key] = str(work / f"{key}.onnx")
    if tflite:
        calib = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=8, seed=0)
        for key in ("tfl_plain", "tfl_folded"):
            out = work / f"{key}.tflite"
            say(f"onnx2tf {key}")
            start = time.perf_counter()
            try:
                formats.onnx_to_tflite(Path(built["files"][key]), {"fp32": out}, calib, {"fp32": {}})
                _batch_free(out)
                built["files"][f"{key}_tflite"] = str(out)
                built["graphs"][key]["onnx2tf_seconds"] = round(time.perf_counter() - start)
            except Exception as e:  # a variant that does not convert is a result too
                built["failures"][key] = str(e).splitlines()[0] if str(e) else type(e).__name__
    manifest.write_text(json.dumps(built, indent=2))
    return built


def _batch_free(path: Path) -> None:
    """The exporter's TFLite pass (reshapes take the batch from their input), so batch 8 runs in one call."""
    from lite_hrnet import metadata as md
    from lite_hrnet.export.rewrite import tflite_batch_free_reshapes

    data = path.read_bytes()
    model = md.unpack_tflite(data)
    if tflite_batch_free_reshapes(model):
        path.write_bytes(md.pack_tflite(model, len(data)))


def runners(files: Dict[str, str], x8: np.ndarray) -> Dict[str, Callable[[int], Callable[[], np.ndarray]]]:
    """Per case key, a factory: batch -> a call returning N x K x h x w heatmaps."""
    import onnxruntime as ort
    import openvino as ov

    def onnxruntime_case(path):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda batch: (lambda: session.run(None, {name: x8[:batch]})[0])

    def openvino_case(path):
        core = ov.Core()

        def make(batch):
            model = core.read_model(path)
            model.reshape([batch, *x8.shape[1:]])  # a static shape per batch: OpenVINO's fastest form of either graph
            request = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1,
                                                        "INFERENCE_PRECISION_HINT": "f32"}).create_infer_request()
            return lambda: request.infer({0: x8[:batch]})[0]
        return make

    def tflite_case(path):
        from ai_edge_litert.interpreter import Interpreter  # XNNPACK applied by default

        def make(batch):
            interpreter = Interpreter(model_path=path, num_threads=1)
            index = interpreter.get_input_details()[0]["index"]
            out = interpreter.get_output_details()[0]["index"]
            calls = 1
            if batch != 1:
                interpreter.resize_tensor_input(index, [batch, *x8.shape[2:], x8.shape[1]])
            try:
                interpreter.allocate_tensors()
            except RuntimeError as e:  # XNNPACK cannot reshape this file: one call per person instead
                say(f"{Path(path).name} at batch {batch}: {str(e).splitlines()[0]}; timed as {batch} batch-1 calls")
                interpreter = Interpreter(model_path=path, num_threads=1)
                interpreter.allocate_tensors()
                batch, calls = 1, batch
            nhwc = [np.ascontiguousarray(x8[i * batch:(i + 1) * batch].transpose(0, 2, 3, 1)) for i in range(calls)]

            def call():
                heatmaps = []
                for person in nhwc:
                    interpreter.set_tensor(index, person)
                    interpreter.invoke()
                    heatmaps.append(interpreter.get_tensor(out).transpose(0, 3, 1, 2))
                return np.concatenate(heatmaps)
            call.calls = calls
            return call
        return make

    made = {}
    for key in ("ort_plain", "ort_folded"):
        made[f"onnxruntime|{key.split('_')[1]}"] = onnxruntime_case(files[key])
    for key in ("ov_plain", "ov_folded"):
        made[f"openvino f32|{key.split('_')[1]}"] = openvino_case(files[key])
    for key in ("tfl_plain", "tfl_folded"):
        if f"{key}_tflite" in files:
            made[f"tflite|{key.split('_')[1]}"] = tflite_case(files[f"{key}_tflite"])
    return made


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import torch

    from lite_hrnet.benchmark.machine import machine_info
    from lite_hrnet.export.calibration import calibration_batch
    from lite_hrnet.models.complexity import count_macs
    from lite_hrnet.specs import get_model_spec

    work = Path(args.work)
    built = build(work, not args.no_tflite)
    if args.build_only:
        return 0
    spec = get_model_spec(MODEL)
    x8 = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=8, seed=7)
    model = torch.load(work / "model.pt", weights_only=False).eval()
    with torch.no_grad():
        reference = model(torch.from_numpy(x8)).numpy()
    macs = int(count_macs(model, spec.input_size))
    machine = machine_info()

    calls, exactness = {}, {}
    rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))  # noqa: E731
    only = [r for r in args.only.split(",") if r]
    for key, make in runners(built["files"], x8).items():
        if only and not any(key.startswith(r) for r in only):
            continue
        for batch in BATCHES:
            calls[(key, batch)] = make(batch)
    for key in sorted({k for k, _ in calls}):
        runtime, graph = key.split("|")
        if graph == "folded":
            folded, plain = calls[(key, 8)](), calls[(f"{runtime}|plain", 8)]()
            exactness[runtime] = dict(folded_vs_plain=rel(folded, plain), plain_vs_pytorch=rel(plain, reference),
                                      folded_vs_pytorch=rel(folded, reference))
            say(f"{runtime}: {exactness[runtime]}")

    say(f"timing {len(calls)} cases, {args.rounds} interleaved rounds; load average {machine.load_average}")
    for call in calls.values():
        call()
    samples, rates = interleaved_rounds({k: (call, 3 if k[1] == 1 else 2) for k, call in calls.items()}, args.rounds)
    floor, floor_ms = floor_record(rates, macs)
    rows = []
    for (key, batch), values in samples.items():
        runtime, graph = key.split("|")
        plain = samples[(f"{runtime}|plain", batch)]
        rows.append(dict(runtime=runtime, graph=graph, batch=batch, min_ms=round(min(values), 2),
                         median_ms=round(float(np.median(values)), 2), min_ms_per_person=round(min(values) / batch, 2),
                         x_floor=round(min(values) / batch / floor_ms, 2),
                         min_vs_plain=round(min(values) / min(plain), 3),
                         median_vs_plain=round(float(np.median(values) / np.median(plain)), 3), calls=len(values),
                         runtime_calls_per_batch=getattr(calls[(key, batch)], "calls", 1)))
    result = dict(model=MODEL, weights="seeded random (seed 0), batch norm calibrated", threads=1, rounds=args.rounds,
                  gflop_per_image=round(2 * macs / 1e9, 3),
                  floor=floor,
                  load_average_start=machine.load_average, load_average_end=[round(v, 2) for v in os.getloadavg()],
                  machine=machine.to_dict(), graphs=built["graphs"], failures=built["failures"],
                  exactness=exactness, rows=rows, only=args.only)
    write_results(args.out, result, render)
    return 0


def render(result: Dict) -> str:
    m, f = result["machine"], result["floor"]
    lines = [
        f"# Channel shuffles folded: {result['model']}, 1 thread, batch 1 and 8",
        "",
        f"- machine: {m['cpu_model']}, {m['usable_cores']} usable cores; load average {result['load_average_start']} "
        f"at the start, {result['load_average_end']} at the end (one core trains a network)",
        f"- compute floor: {result['gflop_per_image']} GFLOP per person at {f['gflops_per_core']} GFLOP/s ({f['how']}) "
        f"= {f['ms_per_image_1thread']:.2f} ms per person",
        f"- {result['weights']}; {result['rounds']} interleaved rounds (3 calls at batch 1, 2 at batch 8, per round); "
        "min is the figure to compare, median beside it",
        "- written by `python benchmarks/export/shuffle_fold.py" + (f" --only {result['only']}" if result.get("only") else "")
        + f" --rounds {result['rounds']}`",
        "",
        "| runtime | graph | batch | min ms | median ms | min ms / person | x floor | min / plain | median / plain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(result["rows"], key=lambda r: (r["runtime"], r["batch"], r["graph"] != "plain")):
        how = f" ({r['runtime_calls_per_batch']} calls)" if r["runtime_calls_per_batch"] > 1 else ""
        lines.append(f"| {r['runtime']} | {r['graph']} | {r['batch']}{how} | {r['min_ms']:.2f} | {r['median_ms']:.2f} | "
                     f"{r['min_ms_per_person']:.2f} | {r['x_floor']:.2f} | {r['min_vs_plain']:.3f} | "
                     f"{r['median_vs_plain']:.3f} |")
    lines += ["", "Exactness (relative L2 of the batch-8 heatmaps):", ""]
    for runtime, e in result["exactness"].items():
        lines.append(f"- {runtime}: folded vs plain {e['folded_vs_plain']:.1e}; plain vs PyTorch "
                     f"{e['plain_vs_pytorch']:.1e}; folded vs PyTorch {e['folded_vs_pytorch']:.1e}")
    lines += ["", "Graphs (node counts):", ""]
    for key, g in result["graphs"].items():
        lines.append(f"- {key} ({' + '.join(g['rewrites']) or 'as exported'}): "
                     + ", ".join(f"{k} {v}" for k, v in g["nodes"].items()))
    if result["failures"]:
        lines += ["", "Failed conversions:", ""] + [f"- {k}: {v}" for k, v in result["failures"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

"""Which graph rewrites and int8 settings make Lite-HRNet faster on which runtime: rewrites.json / rewrites.md.

    python benchmarks/export/rewrites.py                 # ONNX Runtime and OpenVINO, a few minutes
    python benchmarks/export/rewrites.py --tflite        # + TFLite (three onnx2tf runs, ~6 min each here)

Exports the network once (seeded random weights: speed does not depend on the
values), applies each rewrite of lite_hrnet.export.rewrite to a copy, builds the
fp32 and int8 files of every variant, then times them all in one process,
interleaved (round after round, each case called 6 times per round, one thread)
so that a neighbour's load on a shared machine hits every case alike. The
figure to read is the minimum; the median is given beside it. This is the
evidence behind FORMAT_REWRITES and the NNCF preset in lite_hrnet.export.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from _timing import write_results

HERE = Path(__file__).resolve().parent


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="litehrnet_18_coco_256x192")
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds (6 calls per case per round)")
    p.add_argument("--tflite", action="store_true", help="also convert and time TFLite variants (slow)")
    p.add_argument("--out", default=str(HERE / "rewrites"), help="output stem (.json and .md are written)")
    return p.parse_args(argv)


def ort_runner(path: Path, x: np.ndarray) -> Callable[[], object]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: x})


def ov_runner(model, x: np.ndarray, hint: Optional[str]) -> Callable[[], object]:
    import openvino as ov

    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1}
    if hint:
        config["INFERENCE_PRECISION_HINT"] = hint
    request = ov.Core().compile_model(model, "CPU", config).create_infer_request()
    return lambda: request.infer({0: x})


def tflite_runner(path: Path, x_nhwc: np.ndarray) -> Callable[[], object]:
    from ai_edge_litert.interpreter import Interpreter  # XNNPACK applied by default

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]

    def run():
        interpreter.set_tensor(index, x_nhwc)
        interpreter.invoke()

    return run


def fully_delegable_for_xnnpack(model) -> int:
    """Experiment only (not shipped): make every op of the int8 graph one XNNPACK delegates.

    XNNPACK's delegate runs AVERAGE_POOL_2D in float only and has no nearest
    resize, so int8 files fall back to TFLite kernels there. Here each average
    pool (kernel = stride = k) becomes a k x k stride-k depthwise conv with
    weights 1/k^2, and each nearest upsample by b a 1x1 conv that repeats the
    channels b^2 times (0/1 weights) followed by DepthToSpace(b); the Concat
    form of :func:`nearest_upsample_as_depth_to_space` does not survive the
    int8 converter. Returns the number of nodes replaced.
    """
    from onnx import helper, numpy_helper

    from lite_hrnet.export.rewrite import node_attribute, nearest_power_of_two_steps, tensor_shapes

    graph = model.graph
    shapes = tensor_shapes(model)
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes, replaced = [], 0
    for node in graph.node:
        channels = (shapes.get(node.input[0]) or [None, None])[1]
        steps = nearest_power_of_two_steps(node, constants) if node.op_type == "Resize" else 0
        kernel = list(node_attribute(node, "kernel_shape", [])) if node.op_type == "AveragePool" else []
        if channels and kernel and list(node_attribute(node, "strides", [1, 1])) == kernel and not any(node_attribute(node, "pads", [0])):
            weight = np.full((channels, 1, *kernel), 1.0 / (kernel[0] * kernel[1]), np.float32)
            graph.initializer.append(numpy_helper.from_array(weight, node.output[0] + "_pool_weight"))
            nodes.append(helper.make_node("Conv", [node.input[0], node.output[0] + "_pool_weight"], [node.output[0]],
                                          group=channels, kernel_shape=kernel, strides=kernel))
        elif channels and steps:
            block = 2 ** steps
            weight = np.zeros((block * block * channels, channels, 1, 1), np.float32)
            for r in range(block * block):
                weight[r * channels + np.arange(channels), np.arange(channels), 0, 0] = 1.0
            graph.initializer.append(numpy_helper.from_array(weight, node.output[0] + "_repeat_weight"))
            nodes.append(helper.make_node("Conv", [node.input[0], node.output[0] + "_repeat_weight"],
                                          [node.output[0] + "_repeated"], kernel_shape=[1, 1]))
            nodes.append(helper.make_node("DepthToSpace", [node.output[0] + "_repeated"], [node.output[0]],
                                          blocksize=block, mode="DCR"))
        else:
            nodes.append(node)
            continue
        replaced += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return replaced


def depthwise_padded_to_16(model) -> int:
    """Experiment only (not shipped): widen depthwise convs to a multiple of 16 channels for ONNX Runtime int8.

    MLAS's fast symmetric int8 depthwise kernel (x86) takes group counts that
    are multiples of 16; LH-18's 20- and 40-channel depthwise convs get the
    generic kernel. Here each such conv gets zero channels padded in (Pad),
    zero filters, and a Slice back. Returns the number of convs widened.
    """
    from onnx import helper, numpy_helper

    from lite_hrnet.export.rewrite import node_attribute

    graph = model.graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes, replaced = [], 0
    for node in graph.node:
        groups = node_attribute(node, "group", 1)
        if node.op_type != "Conv" or groups == 1 or groups % 16 == 0 or node.input[1] not in weights:
            nodes.append(node)
            continue
        weight = weights[node.input[1]]
        extra = (groups + 15) // 16 * 16 - groups
        out = node.output[0]
        padded_inputs = [out + "_in16", out + "_w16"]
        graph.initializer.append(numpy_helper.from_array(np.concatenate([weight, np.zeros((extra, *weight.shape[1:]), weight.dtype)]), out + "_w16"))
        if len(node.input) > 2 and node.input[2]:
            bias = weights[node.input[2]]
            graph.initializer.append(numpy_helper.from_array(np.concatenate([bias, np.zeros(extra, bias.dtype)]), out + "_b16"))
            padded_inputs.append(out + "_b16")
        for name, value in ((out + "_pads", [0, 0, 0, 0, 0, extra, 0, 0]), (out + "_start", [0]), (out + "_end", [groups]), (out + "_axis", [1])):
            graph.initializer.append(numpy_helper.from_array(np.array(value, np.int64), name))
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        attributes["group"] = groups + extra
        nodes.append(helper.make_node("Pad", [node.input[0], out + "_pads"], [out + "_in16"], mode="constant"))
        nodes.append(helper.make_node("Conv", padded_inputs, [out + "_16"], **attributes))
        nodes.append(helper.make_node("Slice", [out + "_16", out + "_start", out + "_end", out + "_axis"], [out]))
        replaced += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return replaced


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import onnx
    import openvino as ov

    import nncf
    from lite_hrnet.benchmark.machine import machine_info
    from lite_hrnet.export import formats
    from lite_hrnet.export.calibration import calibrated_random_model, calibration_batch
    from lite_hrnet.export.rewrite import channel_shuffle_as_conv, nearest_upsample_as_depth_to_space
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(args.model)
    machine = machine_info()
    calib = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=32, seed=0)
    x = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=1, seed=7)
    work = Path(tempfile.mkdtemp(prefix="rewrites-"))
    say = lambda m: print(f"[rewrites] {m}", file=sys.stderr, flush=True)  # noqa: E731

    say("exporting ONNX")
    plain = formats.export_onnx(calibrated_random_model(args.model, seed=0, calib_count=8), spec.input_size,
                                work / "plain.onnx", dynamic_batch=False, meta={})
    variants = {"plain": plain}
    rewrites = (("shuffle_as_conv", channel_shuffle_as_conv), ("upsample_as_depth_to_space", nearest_upsample_as_depth_to_space),
                ("pool_and_upsample_as_convs", fully_delegable_for_xnnpack), ("depthwise_padded_to_16", depthwise_padded_to_16))
    for name, rewrite in rewrites:
        proto = onnx.load(str(plain))
        count = rewrite(proto)
        variants[name] = work / f"{name}.onnx"
        onnx.save(proto, str(variants[name]))
        say(f"{name}: {count} nodes rewritten")

    cases: Dict[str, Callable[[], object]] = {}
    failures: Dict[str, str] = {}
    for variant in ("plain", "shuffle_as_conv", "depthwise_padded_to_16"):
        src = variants[variant]
        say(f"onnxruntime {variant}: fp32 + QDQ int8")
        int8 = formats.onnx_to_int8(src, work / f"{variant}_int8.onnx", calib, {})
        cases[f"onnxruntime | {variant} | fp32"] = ort_runner(src, x)
        cases[f"onnxruntime | {variant} | int8 (QDQ, u8 activations)"] = ort_runner(int8, x)
        if variant == "depthwise_padded_to_16":
            continue
        model = ov.convert_model(str(src))
        cases[f"openvino | {variant} | fp32 file, default hint (bf16 here)"] = ov_runner(model, x, None)
        cases[f"openvino | {variant} | fp32 file, f32 hint"] = ov_runner(model, x, "f32")
        for preset in ("MIXED", "PERFORMANCE"):
            say(f"openvino {variant}: NNCF int8, {preset} preset")
            quantized = nncf.quantize(ov.convert_model(str(src)), nncf.Dataset([calib[i:i + 1] for i in range(len(calib))]),
                                      preset=getattr(nncf.QuantizationPreset, preset), subset_size=len(calib))
            cases[f"openvino | {variant} | int8 {preset}, default hint"] = ov_runner(quantized, x, None)
            cases[f"openvino | {variant} | int8 {preset}, f32 hint"] = ov_runner(quantized, x, "f32")
    if args.tflite:
        for variant in ("plain", "shuffle_as_conv", "upsample_as_depth_to_space", "pool_and_upsample_as_convs"):
            say(f"tflite {variant}: onnx2tf fp32 + int8")
            out = {p: work / f"{variant}_{p}.tflite" for p in ("fp32", "int8")}
            try:
                formats.onnx_to_tflite(variants[variant], out, calib, {p: {} for p in out})
            except Exception as e:  # a variant that does not convert is a result too
                failures[f"tflite | {variant} | fp32 + int8"] = str(e).splitlines()[0]
                try:
                    formats.onnx_to_tflite(variants[variant], {"fp32": out["fp32"]}, calib, {"fp32": {}})
                except Exception as e2:
                    failures[f"tflite | {variant} | fp32"] = str(e2).splitlines()[0]
            for precision, path in out.items():
                if path.is_file():
                    cases[f"tflite | {variant} | {precision}"] = tflite_runner(path, np.ascontiguousarray(x.transpose(0, 2, 3, 1)))

    say(f"timing {len(cases)} cases, {args.rounds} interleaved rounds")
    for fn in cases.values():
        for _ in range(5):
            fn()
    samples: Dict[str, List[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for key, fn in cases.items():
            for _ in range(6):
                start = time.perf_counter()
                fn()
                samples[key].append((time.perf_counter() - start) * 1e3)
    rows = []
    for key, values in samples.items():
        runtime, variant, what = key.split(" | ")
        rows.append(dict(runtime=runtime, variant=variant, case=what, min_ms=round(min(values), 2),
                         median_ms=round(float(np.median(values)), 2), calls=len(values)))
    result = dict(model=args.model, input_size=list(spec.input_size), weights="seeded random (seed 0), batch norm calibrated",
                  threads=1, rounds=args.rounds, machine=machine.to_dict(), rows=rows, failures=failures)
    write_results(args.out, result, render)
    return 0


def render(result: Dict) -> str:
    m = result["machine"]
    lines = [
        f"# Graph rewrites and int8 settings: {result['model']} {result['input_size'][0]}x{result['input_size'][1]}, batch 1, "
        f"{result['threads']} thread",
        "",
        f"- machine: {m['cpu_model']}, {m['usable_cores']} usable cores, load average {m['load_average']} at the start",
        f"- libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(m["libraries"].items())),
        f"- {result['weights']}; every case timed in one process, {result['rounds']} interleaved rounds of 6 calls; "
        "min is the figure to compare (the machine is shared), median beside it",
        "- written by `python benchmarks/export/rewrites.py" + (" --tflite" if any(r["runtime"] == "tflite" for r in result["rows"]) else "") + "`",
        "",
        "| runtime | graph | case | min ms | median ms |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['runtime']} | {r['variant']} | {r['case']} | {r['min_ms']:.2f} | {r['median_ms']:.2f} |")
    if result["failures"]:
        lines += ["", "Failed conversions:", ""]
        lines += [f"- {k}: {v}" for k, v in result["failures"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

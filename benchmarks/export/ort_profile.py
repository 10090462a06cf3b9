"""Where ONNX Runtime spends its time on Lite-HRNet, per operator type, fp32 against int8: ort_profile.md.

    python benchmarks/export/ort_profile.py

ONNX Runtime's own profiler (one thread, 30 profiled runs after 10 warm-up
runs) on LH-18 256x192 with seeded random weights: the plain fp32 file, its QDQ
int8 file, and the int8 file of the graph whose depthwise convs are padded to a
multiple of 16 channels (rewrites.depthwise_padded_to_16). Profiling adds its
own overhead to every node: compare the rows with each other, and take
latencies from rewrites.md.
"""

from __future__ import annotations

import collections
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RUNS = 30
WARMUP = 10


def profile(path: Path, x: np.ndarray, prefix: Path):
    """Per op type: total ms per run and node count; plus the costliest (op, input shape) groups."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = str(prefix)
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for _ in range(WARMUP + RUNS):
        session.run(None, {name: x})
    events = json.loads(Path(session.end_profiling()).read_text())
    # Only node events after the warm-up calls count.
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    cutoff = runs[WARMUP - 1]["ts"] + runs[WARMUP - 1]["dur"]
    events = [e for e in events if e["ts"] >= cutoff]
    by_op, count, by_shape = collections.Counter(), collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            op = e["args"]["op_name"]
            by_op[op] += e["dur"]
            count[op] += 1
            shapes = [list(d.values())[0] for d in e["args"].get("input_type_shape", [])]
            by_shape[(op, str(shapes[0]) if shapes else "")] += e["dur"]
    calls = RUNS
    ops = [(op, us / calls / 1e3, count[op] // calls) for op, us in by_op.most_common()]
    top = [(op, shape, us / calls / 1e3) for (op, shape), us in by_shape.most_common(8)]
    return ops, top


def main() -> int:
    sys.path.insert(0, str(HERE))
    import onnx

    from lite_hrnet.export import formats
    from lite_hrnet.export.calibration import calibrated_random_model, calibration_batch
    from lite_hrnet.specs import get_model_spec
    from rewrites import depthwise_padded_to_16

    name = "litehrnet_18_coco_256x192"
    spec = get_model_spec(name)
    work = Path(tempfile.mkdtemp(prefix="ort-profile-"))
    calib = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=32, seed=0)
    x = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=1, seed=7)
    plain = formats.export_onnx(calibrated_random_model(name, seed=0, calib_count=8), spec.input_size, work / "plain.onnx", False, {})
    padded_proto = onnx.load(str(plain))
    depthwise_padded_to_16(padded_proto)
    onnx.save(padded_proto, str(work / "padded.onnx"))
    files = {
        "fp32": plain,
        "int8": formats.onnx_to_int8(plain, work / "plain_int8.onnx", calib, {}),
        "int8, depthwise padded to 16": formats.onnx_to_int8(work / "padded.onnx", work / "padded_int8.onnx", calib, {}),
    }
    lines = [f"# ONNX Runtime profile, {name}, batch 1, 1 thread, {RUNS} profiled runs (ms per run, profiler overhead included)", ""]
    for label, path in files.items():
        ops, top = profile(path, x, work / label.replace(" ", "_").replace(",", ""))
        total = sum(ms for _, ms, _ in ops)
        lines += [f"## {label}: {total:.1f} ms in nodes", "", "| op | ms | nodes |", "|---|---|---|"]
        lines += [f"| {op} | {ms:.2f} | {n} |" for op, ms, n in ops[:14]]
        lines += ["", "Costliest (op, first input shape; NHWC for the int8 layout-transformed nodes):", ""]
        lines += [f"- {op} {shape}: {ms:.2f} ms" for op, shape, ms in top]
        lines.append("")
    (HERE / "ort_profile.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Are int8 convolutions faster than fp32 at Lite-HRNet-18's layer shapes? int8_kernels.json / int8_kernels.md.

    python benchmarks/export/int8_kernels.py            # ~10 min here (six onnx2tf conversions)

The whole-network int8 files are slower than fp32 on ONNX Runtime and LiteRT
here. This separates the kernels from the graph: for each convolution shape
that dominates LH-18 at 256x192 (depthwise 3x3 and pointwise 1x1 at the
branch resolutions), a chain of ``depth`` such layers (after a 3->C 1x1 stem
conv, as the exporters take 3-channel inputs) goes through the toolkit's own
writers (``lite_hrnet.export.formats``: ONNX, ONNX Runtime QDQ int8, OpenVINO
IR + NNCF int8, onnx2tf fp32 + int8), and every file is timed in one process,
interleaved round by round, one thread, batch 1. Activations stay int8
between layers (Conv + ReLU chains), so the int8 figure is the kernels' own
speed, not Q/DQ traffic. Weights are seeded random: speed does not depend on
their values.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# (label, channels, height, width, depthwise): LH-18's branch widths are 40/80/160/320 at
# 64x48/32x24/16x12/8x6 for a 256x192 input; the conditional channel weighting runs its
# depthwise 3x3 on half of each branch (20/40/80/160 channels).
SHAPES: Tuple[Tuple[str, int, int, int, bool], ...] = (
    ("depthwise 3x3, 20 ch, 64x48", 20, 64, 48, True),
    ("depthwise 3x3, 32 ch, 64x48 (20 padded to 32)", 32, 64, 48, True),
    ("depthwise 3x3, 40 ch, 32x24", 40, 32, 24, True),
    ("depthwise 3x3, 80 ch, 16x12", 80, 16, 12, True),
    ("pointwise 1x1, 40->40, 64x48", 40, 64, 48, False),
    ("pointwise 1x1, 80->80, 32x24", 80, 32, 24, False),
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=int, default=12, help="layers per chain")
    p.add_argument("--rounds", type=int, default=10, help="interleaved rounds (20 calls per file per round)")
    p.add_argument("--no-tflite", action="store_true", help="skip the onnx2tf conversions (slow)")
    p.add_argument("--out", default=str(HERE / "int8_kernels"), help="output stem (.json and .md are written)")
    return p.parse_args(argv)


def chain(channels: int, height: int, width: int, depthwise: bool, depth: int, seed: int = 0):
    """A 3->C stem 1x1 conv, then ``depth`` x (3x3 depthwise or 1x1 pointwise conv + ReLU), input 1 x 3 x H x W."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers: List[nn.Module] = [nn.Conv2d(3, channels, 1), nn.ReLU()]
    for _ in range(depth):
        conv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels) if depthwise else nn.Conv2d(channels, channels, 1)
        # Keep activations in range through the chain (int8 calibration sees a realistic spread).
        nn.init.normal_(conv.weight, std=(1.0 / 9) ** 0.5 if depthwise else (2.0 / channels) ** 0.5)
        layers += [conv, nn.ReLU()]
    return nn.Sequential(*layers).eval()


def timed(cases: Dict[str, Callable[[], object]], rounds: int, calls: int = 20) -> Dict[str, List[float]]:
    for run in cases.values():
        for _ in range(5):
            run()
    times: Dict[str, List[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for key, run in cases.items():
            for _ in range(calls):
                start = time.perf_counter()
                run()
                times[key].append((time.perf_counter() - start) * 1e3)
    return times


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from rewrites import ort_runner, ov_runner, tflite_runner

    import openvino as ov
    from lite_hrnet.benchmark.machine import machine_info
    from lite_hrnet.export import formats

    machine = machine_info().to_dict()
    work = Path(tempfile.mkdtemp(prefix="int8-kernels-"))
    say = lambda m: print(f"[int8_kernels] {m}", file=sys.stderr, flush=True)  # noqa: E731
    rows = []
    for label, channels, height, width, depthwise in SHAPES:
        say(label)
        rng = np.random.default_rng(0)
        calib = rng.standard_normal((16, 3, height, width)).astype(np.float32)
        x = rng.standard_normal((1, 3, height, width)).astype(np.float32)
        stem = work / f"{channels}_{height}_{depthwise}"
        fp32 = formats.export_onnx(chain(channels, height, width, depthwise, args.depth), (height, width),
                                   stem.with_suffix(".onnx"), dynamic_batch=False, meta={})
        int8 = formats.onnx_to_int8(fp32, stem.with_name(stem.name + "_int8.onnx"), calib, {})
        ov_int8 = formats.onnx_to_openvino(fp32, stem.with_name(stem.name + "_int8.xml"), "int8", calib, {})
        cases: Dict[str, Callable[[], object]] = {
            "onnxruntime fp32": ort_runner(fp32, x),
            "onnxruntime int8": ort_runner(int8, x),
            "openvino f32": ov_runner(ov.Core().read_model(str(fp32)), x, "f32"),
            "openvino bf16": ov_runner(ov.Core().read_model(str(fp32)), x, "bf16"),
            "openvino int8": ov_runner(ov.Core().read_model(str(ov_int8)), x, None),
        }
        if not args.no_tflite:
            tfl = {p: stem.with_name(f"{stem.name}_{p}.tflite") for p in ("fp32", "int8")}
            formats.onnx_to_tflite(fp32, tfl, calib, {"fp32": {}, "int8": {}})
            x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            cases["litert fp32"] = tflite_runner(tfl["fp32"], x_nhwc)
            cases["litert int8"] = tflite_runner(tfl["int8"], x_nhwc)
        times = timed(cases, args.rounds)
        for case, values in times.items():
            runtime, precision = case.split(" ")
            rows.append(dict(layers=label, runtime=runtime, precision=precision, depth=args.depth,
                             min_ms=float(np.min(values)), median_ms=float(np.median(values)),
                             per_layer_us=float(np.min(values)) * 1e3 / (args.depth + 1)))
        say("  " + ", ".join(f"{k} {np.min(v):.2f}" for k, v in times.items()))
    result = dict(machine=machine, depth=args.depth, rounds=args.rounds, rows=rows)
    Path(args.out + ".json").write_text(json.dumps(result, indent=2))
    Path(args.out + ".md").write_text(render(result))
    print(render(result))
    return 0


def render(result: Dict) -> str:
    m = result["machine"]
    lines = [
        f"# int8 against fp32 per kernel, at Lite-HRNet-18's layer shapes (batch 1, 1 thread)",
        "",
        f"- machine: {m.get('cpu_model', '?')}, {m.get('usable_cores', '?')} usable cores",
        "- libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(m.get("libraries", {}).items())),
        f"- each file: a 3->C 1x1 stem conv, then {result['depth']} x (conv + ReLU); the toolkit's own writers;"
        f" timed in one process, {result['rounds']} interleaved rounds of 20 calls; min ms is the figure to compare",
        "- written by `python benchmarks/export/int8_kernels.py`",
        "",
        "| layers | runtime | fp32 min ms | int8 min ms | int8 speed-up | bf16 min ms |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r["layers"], r["runtime"], r["precision"]): r for r in result["rows"]}
    for label in dict.fromkeys(r["layers"] for r in result["rows"]):
        for runtime in ("onnxruntime", "openvino", "litert"):
            fp32 = by.get((label, runtime, "fp32")) or by.get((label, runtime, "f32"))
            int8 = by.get((label, runtime, "int8"))
            if not fp32 or not int8:
                continue
            bf16 = by.get((label, runtime, "bf16"))
            bf16_cell = f" {bf16['min_ms']:.3f} " if bf16 else " "
            lines.append(f"| {label} | {runtime} | {fp32['min_ms']:.3f} | {int8['min_ms']:.3f} | "
                         f"x{fp32['min_ms'] / int8['min_ms']:.2f} |{bf16_cell}|")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

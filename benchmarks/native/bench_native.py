"""Per-person time of the C pipeline (liblitehrnet) vs the Python pipeline, split into crop, inference
and decode: bench_native.md / bench_native.json.

    make native                                   # builds build/native/litehrnet-bench
    .venv/bin/python benchmarks/native/bench_native.py [--model FILE.tflite] [--threads 1] [--persons 4]

Both pipelines run the same .tflite file with the same thread count on the same 640 x 480 image
and the same person boxes. C: ``litehrnet-bench`` (lhr_model_last_timings). Python:
``PoseEstimator``'s steps timed one by one (centers/scales + preprocess = crop; the backend call
= inference; decode_heatmaps + heatmap_to_image = decode). Medians over ``--runs`` frames,
divided by the persons per frame (and the fastest run).

Two files: the demo model (``--model``, default: exported once into build/bench-native) and a
256 x 192 stand-in (three convolutions with Lite-HRNet's input and output shapes, converted by
onnx2tf in seconds), because the crop and decode costs depend only on the input and heatmap
sizes; the issue's target is the non-interpreter time at 256 x 192 (<= 0.3 ms per person).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

DEMO = "litehrnet_18_coco_128x96"
STAND_IN = "naive_litehrnet_18_coco_256x192"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="a plain .tflite file (default: the demo model, exported once)")
    p.add_argument("--native-build", default=str(ROOT / "build" / "native"), help="folder with litehrnet-bench")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--persons", type=int, default=4)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--no-stand-in", action="store_true", help="skip the 256 x 192 stand-in file")
    return p.parse_args(argv)


def person_boxes(width: int, height: int, persons: int) -> np.ndarray:
    """The boxes litehrnet-bench uses: person-shaped, spread across the image."""
    boxes = []
    for p in range(persons):
        w, h = np.float32(width / 4.0), np.float32(height * 0.6)
        x = np.float32((width - w) * (np.float32(p) / (persons - 1) if persons > 1 else 0.5))
        y = np.float32(height * 0.2)
        boxes.append([x, y, x + w, y + h])
    return np.asarray(boxes, np.float32)


def python_timings(model: Path, image_bgr: np.ndarray, persons: int, threads: int, runs: int) -> Dict[str, float]:
    from lite_hrnet.codec import decode_heatmaps
    from lite_hrnet.geometry import heatmap_to_image
    from lite_hrnet.pipeline import PoseEstimator

    est = PoseEstimator(str(model), threads=threads)
    boxes = person_boxes(image_bgr.shape[1], image_bgr.shape[0], persons)
    parts: Dict[str, List[float]] = {"crop_ms": [], "inference_ms": [], "decode_ms": [], "total_ms": []}
    for r in range(runs + 3):
        t0 = time.perf_counter()
        centers, scales = est.centers_scales(boxes)
        batch = est.preprocess(image_bgr, centers, scales)
        t1 = time.perf_counter()
        heatmaps = est.infer(batch)
        t2 = time.perf_counter()
        coords, _ = decode_heatmaps(heatmaps)
        heatmap_to_image(coords, centers, scales, heatmaps.shape[2:])
        t3 = time.perf_counter()
        if r >= 3:  # warm-up
            for key, value in (("crop_ms", t1 - t0), ("inference_ms", t2 - t1), ("decode_ms", t3 - t2),
                               ("total_ms", t3 - t0)):
                parts[key].append(value * 1e3 / persons)
    out = {k: statistics.median(v) for k, v in parts.items()}
    out.update({f"best_{k}": min(v) for k, v in parts.items()})
    return out


def c_timings(bench: Path, model: Path, image: Path, persons: int, threads: int, runs: int) -> Dict[str, float]:
    run = subprocess.run([str(bench), "--model", str(model), "--image", str(image), "--persons", str(persons),
                          "--threads", str(threads), "--runs", str(runs), "--warmup", "3"],
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise SystemExit(f"litehrnet-bench failed: {run.stderr.strip().splitlines()[-1:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def demo_model() -> Path:
    from lite_hrnet.export import export_model

    out = ROOT / "build" / "bench-native"
    report = export_model(DEMO, "tflite", "fp32", out_dir=out, weights="synthetic", reuse=True)
    return Path(next(a.path for a in report.artifacts if a.format == "tflite"))


_CONVERT = r"""
import os, sys, numpy as np, onnx2tf
os.chdir(sys.argv[1])
np.save("calibration_image_sample_data_20x128x128x3_float32.npy", np.random.rand(20, 128, 128, 3).astype(np.float32))
onnx2tf.convert(input_onnx_file_path="stand_in.onnx", output_folder_path="stand_in_tf", non_verbose=True, verbosity="error")
"""


def stand_in_model(folder: Path) -> Path:
    """Three convolutions, N x 256 x 192 x 3 -> N x 64 x 48 x 17, with lite-hrnet metadata (NHWC, batch 1)."""
    import torch

    from lite_hrnet.metadata import write_tflite_metadata
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(STAND_IN)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(16, spec.num_joints, 1)).eval()
    with torch.no_grad():
        torch.onnx.export(net, torch.zeros(1, 3, *spec.input_size), str(folder / "stand_in.onnx"), dynamo=False,
                          opset_version=17, input_names=["input"], output_names=["heatmaps"])
    subprocess.run([sys.executable, "-c", _CONVERT, str(folder)], check=True, capture_output=True)
    data = (folder / "stand_in_tf" / "stand_in_float32.tflite").read_bytes()
    meta = dict(spec.metadata(), format="tflite", precision="fp32", layout="NHWC", batch=1)
    path = folder / "stand_in_256x192.tflite"
    path.write_bytes(write_tflite_metadata(data, meta))
    return path


def verdict(median: float, fastest: float, target: float = 0.3) -> str:
    if median <= target:
        return "met, median and fastest"
    return "met by the fastest run only" if fastest <= target else "not met"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def main(argv: Optional[List[str]] = None) -> int:
    import cv2

    args = parse_args(argv)
    bench = Path(args.native_build) / "litehrnet-bench"
    if not bench.is_file():
        raise SystemExit(f"{bench} not found: run `make native` first")
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        image = tmp_path / "frame.png"
        rng = np.random.default_rng(0)
        frame = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (7, 7), 0)
        cv2.imwrite(str(image), frame)
        model = Path(args.model) if args.model else demo_model()
        files = [(model.name, model)]
        if not args.no_stand_in:
            files.append(("256x192 stand-in (3 convolutions)", stand_in_model(tmp_path)))
        for label, model in files:
            c = c_timings(bench, model, image, args.persons, args.threads, args.runs)
            py = python_timings(model, cv2.imread(str(image)), args.persons, args.threads, args.runs)
            rows.append({"file": label, "input": c["input"], "persons": args.persons, "threads": args.threads,
                         "runs": args.runs, "c": dict({p + k: c[p + k] for p in ("", "best_") for k in ("crop_ms", "inference_ms", "decode_ms", "total_ms")},
                                   crop_loops=c["crop_loops"]),
                         "python": py})
    load_after = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    result = {"commit": commit, "machine": machine(), "crop_loops": rows[0]["c"]["crop_loops"], "load_average_1_5_15_min":
              {"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in load_after]},
              "rows": rows}
    (HERE / "bench_native.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# C pipeline (liblitehrnet) vs Python pipeline: milliseconds per person", "",
             f"Written by `python benchmarks/native/bench_native.py` at commit {commit} on {result['machine']} "
             f"(crop loops: {result['crop_loops']}). Load average (1, 5, 15 min) "
             f"{', '.join(f'{v:.2f}' for v in load_before)} before and "
             f"{', '.join(f'{v:.2f}' for v in load_after)} after the runs: this machine was shared. "
             "Each cell: median over the runs, and in brackets the fastest run (the cost without interference "
             "from other processes). Each frame has the persons listed, in one 640 x 480 "
             "image; the same .tflite file and thread count for both pipelines. \"outside the interpreter\" = "
             "crop + decode.", "",
             "| file | input | persons | threads | pipeline | crop | inference | decode | outside the interpreter | total |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def cell(t: Dict[str, float], key: str, digits: int = 3) -> str:
        if key == "outside":
            return f"{t['crop_ms'] + t['decode_ms']:.{digits}f} ({t['best_crop_ms'] + t['best_decode_ms']:.{digits}f})"
        return f"{t[key]:.{digits}f} ({t['best_' + key]:.{digits}f})"

    for r in rows:
        for name in ("c", "python"):
            t = r[name]
            lines.append(f"| {r['file']} | {r['input'][0]}x{r['input'][1]} | {r['persons']} | {r['threads']} | "
                         f"{'C' if name == 'c' else 'Python'} | {cell(t, 'crop_ms')} | {cell(t, 'inference_ms', 2)} | "
                         f"{cell(t, 'decode_ms')} | {cell(t, 'outside')} | {cell(t, 'total_ms', 2)} |")
    target = next((r for r in rows if tuple(r["input"]) == (256, 192)), None)
    if target is not None:
        c, py = target["c"], target["python"]
        outside, best = c["crop_ms"] + c["decode_ms"], c["best_crop_ms"] + c["best_decode_ms"]
        lines += ["", f"Target of issue 11: everything but the interpreter call <= 0.3 ms per person at 256x192. "
                  f"Measured here: {outside:.3f} ms median, {best:.3f} ms fastest run "
                  f"({verdict(outside, best)} on this machine), against "
                  f"{py['crop_ms'] + py['decode_ms']:.3f} ms median for the Python pipeline. The crop is a float32 "
                  "bilinear warp (the arithmetic of OpenCV's warpAffine, so that the crops are identical) fused with "
                  "the normalization (u - mean) / std, done row by row: the horizontal interpolation of each source "
                  "row once for all output columns (pixels outside the image count 0, so there is no per-pixel "
                  "border branch), then per output row the vertical interpolation, rounding and normalization "
                  "written straight into the interpreter's input, 4 channels per SIMD register (SSE2 or NEON, two "
                  "pixels per register with AVX2 where the CPU has it); decoding is one branch-free pass over the "
                  "heatmaps."]
    (HERE / "bench_native.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

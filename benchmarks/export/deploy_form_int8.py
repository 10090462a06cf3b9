"""int8 files from the plain graph and from the deploy form, on the trained demo model: deploy_form_int8.json / .md.

    python benchmarks/export/deploy_form_int8.py

Which graph the int8 files come from is decided by speed (deploy_form.md) and by this accuracy:
the demo model (lite_hrnet/assets, trained on synthetic people) is quantized twice per runtime
with the exporter's own writers, as the exporter does it (OpenVINO: NNCF on the batch-1 graph;
TFLite: TensorFlow's converter from onnx2tf's SavedModel, per-branch deploy form without the
depth-to-space rewrite, which that converter rejects), on the same 16 synthetic calibration
crops. Each file's heatmap arg-maxes over 32 other synthetic crops are compared with PyTorch's
fp32 ones: share of keypoints at the same heatmap cell, within 2 cells, mean distance in cells.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from _timing import cpu_model, load_average_now, write_results

HERE = Path(__file__).resolve().parent
MODEL = "litehrnet_18_coco_128x96"


def keypoint_cells(heatmaps: np.ndarray) -> np.ndarray:
    """N x K x 2 (x, y) heatmap cells of the maxima of N x K x H x W heatmaps."""
    n, k, _, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1).argmax(-1)
    return np.stack([flat % w, flat // w], -1)


def main(argv: Optional[List[str]] = None) -> int:
    import torch

    from lite_hrnet import runtimes
    from lite_hrnet.export import formats
    from lite_hrnet.export.calibration import calibration_batch
    from lite_hrnet.export.rewrite import rewrite_for_format
    from lite_hrnet.models import create_model, deploy_model

    model = create_model(MODEL, weights="synthetic")
    spec = model.spec
    calib = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=16, seed=0)
    crops = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=32, seed=1)
    with torch.no_grad():
        reference = keypoint_cells(model(torch.from_numpy(crops)).numpy())
    work = Path("/tmp/deploy_form_int8")
    work.mkdir(parents=True, exist_ok=True)
    rows: List[Dict] = []
    for graph in ("plain", "deploy"):
        for fmt in ("openvino", "tflite"):
            net = deploy_model(model, merge_weighting=fmt == "openvino") if graph == "deploy" else model
            src = formats.export_onnx(net, spec.input_size, work / f"{graph}.{fmt}.onnx", False, {})
            meta = dict(spec.metadata(), format=fmt, precision="int8", layout="NHWC" if fmt == "tflite" else "NCHW",
                        batch=1)
            if fmt == "openvino":
                if graph == "plain":
                    rewrite_for_format(src, src, "openvino")  # the shuffles as convs, as the plain int8 file had
                path = formats.onnx_to_openvino(src, work / f"{graph}_int8.xml", "int8", calib, meta)
            else:
                path = work / f"{graph}_int8.tflite"
                formats.onnx_to_tflite(src, {"int8": path}, calib, {"int8": meta})
            backend = runtimes.load(path, threads=1, precision="fp32" if fmt == "openvino" else None)
            cells = keypoint_cells(np.concatenate([backend(crops[i:i + 1]) for i in range(len(crops))]))
            distance = np.linalg.norm(cells - reference, axis=-1)
            rows.append(dict(format=fmt, graph=graph, same_cell=round(float((distance == 0).mean()), 3),
                             within_2_cells=round(float((distance <= 2).mean()), 3),
                             mean_cells=round(float(distance.mean()), 2)))
            print(rows[-1], file=sys.stderr, flush=True)
    result = dict(model=MODEL, weights="the trained demo model (lite_hrnet/assets)", cpu=cpu_model(),
                  load_average_after=load_average_now(), calibration_crops=16, test_crops=32, rows=rows)
    write_results(str(HERE / "deploy_form_int8"), result, render)
    return 0


def render(result: Dict) -> str:
    lines = [
        f"# int8 from the plain graph and from the deploy form: {result['model']}, keypoints against PyTorch fp32",
        "",
        f"- {result['weights']}; {result['calibration_crops']} calibration crops, {result['test_crops']} test crops "
        "(synthetic people, other seeds); OpenVINO run with the f32 hint (int8 where quantized), one thread",
        f"- machine: {result['cpu']}; written by `python benchmarks/export/deploy_form_int8.py`",
        "",
        "| format | graph | same heatmap cell | within 2 cells | mean distance (cells) |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['format']} | {r['graph']} | {r['same_cell']:.0%} | {r['within_2_cells']:.0%} | "
                     f"{r['mean_cells']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

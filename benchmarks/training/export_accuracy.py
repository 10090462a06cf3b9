"""How accuracy survives export: COCO AP of the demo model's fp32 / fp16 / int8 files on held-out synthetic people.

Usage:  python benchmarks/training/export_accuracy.py [--data DIR] [--exports DIR] [--threads N]

Draws the held-out test set (`lite-hrnet synth DIR --images 100 --seed 2000`, the set of
benchmarks/training/README.md) if it is missing, exports the bundled demo model
(litehrnet_18_coco_128x96, weights="synthetic") to every format and precision (reusing files
already exported from the same checkpoint), evaluates PyTorch and every file with
`lite-hrnet eval` (ground-truth boxes), and writes export_accuracy.json / .md beside this script.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = "litehrnet_18_coco_128x96"


def evaluate(model: str, data: Path, threads: int, extra=()) -> dict:
    cmd = [sys.executable, "-m", "lite_hrnet.cli", "eval", model, "--data", str(data), "--threads", str(threads), "--json", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"status": "failed", "reason": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return {"status": "ok", **json.loads(out.stdout)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/lhr_synth/test")
    parser.add_argument("--exports", default="exports")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "annotations.json").is_file():
        subprocess.run([sys.executable, "-m", "lite_hrnet.cli", "synth", str(data), "--images", "100", "--seed", "2000"], check=True)

    from lite_hrnet.export import export_model
    from lite_hrnet.models import resolve_weights

    weights = resolve_weights("synthetic", __import__("lite_hrnet").get_model_spec(MODEL))
    report = export_model(MODEL, "onnx,openvino,tflite", "fp32,fp16,int8", out_dir=args.exports, weights="synthetic", reuse=True)
    # Fidelity to PyTorch on the export check's inputs, measured here so that cached files get it too.
    import torch

    import lite_hrnet
    from lite_hrnet.export.calibration import calibration_batch
    from lite_hrnet.export.verify import compare, run_artifact

    spec = lite_hrnet.get_model_spec(MODEL)
    check = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=16, seed=1)
    with torch.no_grad():
        reference = lite_hrnet.create_model(MODEL, weights="synthetic").eval()(torch.from_numpy(check)).numpy()
    # The label goes last: the eval JSON has a "model" entry of its own (the path it was given).
    rows = [{**evaluate(str(weights), data, args.threads, ("--model-name", MODEL)),
             "model": f"PyTorch ({weights.name})", "format": "torch", "precision": "fp32"}]
    for a in report.artifacts:
        parity = compare(run_artifact(a.format, a.path, check)[0], reference, a.precision, spec.heatmap_stride)
        rows.append({**evaluate(a.path, data, args.threads), "model": f"{Path(args.exports).name}/{Path(a.path).name}",
                     "format": a.format, "precision": a.precision, "heatmap_rel_error": parity.rel_error,
                     "kp_agreement": parity.agreement})
    (HERE / "export_accuracy.json").write_text(json.dumps({"data": str(data), "rows": rows}, indent=1))
    lines = ["| file | format | precision | AP | AP50 | AR | PCK@0.2 | heatmap rel. error vs PyTorch | kp agreement |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r.get("metrics", r)
        f = lambda k, spec=".3f": format(m[k], spec) if isinstance(m.get(k), (int, float)) else "-"  # noqa: E731
        rel = format(r["heatmap_rel_error"], ".1e") if r.get("heatmap_rel_error") is not None else "-"
        agree = format(r["kp_agreement"], ".0%") if r.get("kp_agreement") is not None else "-"
        lines.append(f"| {r['model']} | {r['format']} | {r['precision']} | {f('AP')} | {f('AP50')} | {f('AR')} | {f('PCK@0.2')} | {rel} | {agree} |")
    (HERE / "export_accuracy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

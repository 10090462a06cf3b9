"""Parity of every export against PyTorch, for each model, format and precision.

Usage:  python benchmarks/export/parity_table.py [--models a,b] [--out benchmarks/export]

Writes parity.json and parity.md beside this script. fp16 and int8 are judged
on the trained synthetic demo model: with random weights Lite-HRNet amplifies
rounding noise about 20x, so for the other models (seeded weights with batch
norm calibrated on synthetic people) those rows are reported, not judged.
Also loads every TFLite file in tflite-runtime 2.14 (numpy < 2) when a venv
with it is given (--tflite-runtime-python), as older Raspberry Pi images have.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _timing import cpu_model

HERE = Path(__file__).resolve().parent

DEFAULT_MODELS = [
    "litehrnet_18_coco_128x96@synthetic",
    "naive_litehrnet_18_coco_256x192",
    "litehrnet_18_coco_256x192",
    "litehrnet_30_coco_256x192",
    "wider_naive_litehrnet_18_coco_256x192",
]

TFLITE_RUNTIME_CHECK = r'''
import json, sys, numpy as np, tflite_runtime, tflite_runtime.interpreter as tfl
out = {"tflite_runtime": tflite_runtime.__version__, "numpy": np.__version__, "files": {}}
for path in sys.argv[1:]:
    try:
        x = np.load(path + ".x.npy")
        it = tfl.Interpreter(model_path=path, num_threads=1)
        it.allocate_tensors()
        i, o = it.get_input_details()[0], it.get_output_details()[0]
        it.set_tensor(i["index"], x)
        it.invoke()
        y, ref = it.get_tensor(o["index"]), np.load(path + ".litert.npy")
        out["files"][path] = {"status": "ok", "rel_diff_vs_litert": float(np.linalg.norm(y - ref) / np.linalg.norm(ref))}
    except Exception as e:
        out["files"][path] = {"status": "failed", "reason": str(e).splitlines()[0][:200]}
print(json.dumps(out))
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="NAME or NAME@WEIGHTS, comma-separated")
    parser.add_argument("--out", default=str(HERE))
    parser.add_argument("--tflite-runtime-python", default=None, help="python of a numpy<2 venv with tflite-runtime 2.14")
    args = parser.parse_args()

    import lite_hrnet
    from lite_hrnet.export import export_model
    from lite_hrnet.export.calibration import calibrated_random_model, calibration_batch
    from lite_hrnet.runtimes import load

    rows, tflite_files = [], []
    work = Path(tempfile.mkdtemp(prefix="parity-"))
    for entry in args.models.split(","):
        name, _, weights = entry.partition("@")
        trained = bool(weights)
        model = lite_hrnet.create_model(name, weights=weights) if trained else calibrated_random_model(name, calib_count=8)
        start = time.perf_counter()
        try:
            report = export_model(name, "onnx,openvino,tflite", "fp32,fp16,int8", out_dir=work / entry.replace("@", "_"),
                                  model=model, verify=True if trained else ["fp32"], calib_count=8)
        except Exception as e:  # a failed check still has a report with every row
            report = getattr(e, "report", None)
            if report is None:
                raise
        if not trained:  # numbers for the lossy rows, reported but not judged
            from lite_hrnet.export.verify import compare
            import torch

            x = calibration_batch(None, model.spec.input_size, model.spec.mean, model.spec.std, count=4, seed=1)
            with torch.no_grad():
                ref = model(torch.from_numpy(x)).numpy()
            for a in report.artifacts:
                if a.rel_error is None and a.status == "ok":
                    p = compare(load(a.path)(x), ref, a.precision)
                    a.rel_error, a.agreement, a.mean_displacement_px = p.rel_error, p.agreement, p.mean_displacement_px
                    a.check = "not judged (random weights)"
        for a in report.artifacts:
            rows.append(dict(model=name, weights=weights or "seeded random", format=a.format, precision=a.precision,
                             status=a.status, runtime_precision=a.runtime_precision, size_mb=round(a.size_bytes / 1e6, 2),
                             export_s=round(a.seconds, 1), rel_error=a.rel_error, kp_agreement=a.agreement,
                             mean_shift_px=a.mean_displacement_px, check=a.check, message=a.message))
            if a.format == "tflite" and a.status == "ok":
                tflite_files.append(a.path)
        print(f"{entry}: {time.perf_counter() - start:.0f}s", flush=True)
        write_tables(Path(args.out), rows, None)  # partial results survive an interrupted run

    compat = None
    if args.tflite_runtime_python and tflite_files:
        for path in tflite_files:  # one synthetic person crop at each file's own input size
            backend = load(path)
            meta = backend.metadata
            x = calibration_batch(None, tuple(meta["input_size"]), meta["mean"], meta["std"], count=1, seed=3)
            np.save(path + ".x.npy", np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
            np.save(path + ".litert.npy", backend(x).transpose(0, 2, 3, 1))
        result = subprocess.run([args.tflite_runtime_python, "-c", TFLITE_RUNTIME_CHECK, *tflite_files],
                                capture_output=True, text=True)
        compat = json.loads(result.stdout) if result.returncode == 0 else {"error": result.stderr.strip().splitlines()[-1]}

    write_tables(Path(args.out), rows, compat)
    return 0


def write_tables(out_dir: Path, rows, compat) -> None:
    import ai_edge_litert
    import onnxruntime
    import openvino
    import torch

    out = {
        "machine": {"cpu": cpu_model(), "cores": __import__("os").cpu_count(), "python": platform.python_version()},
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                     "openvino": openvino.__version__, "ai_edge_litert": getattr(ai_edge_litert, "__version__", "2.3")},
        "rows": rows,
        "tflite_runtime_compat": compat,
    }
    (out_dir / "parity.json").write_text(json.dumps(out, indent=1))
    lines = ["| model | weights | format | precision | status | ran | size MB | rel. L2 error | kp agreement | mean shift px | check |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        lines.append(f"| {r['model']} | {r['weights']} | {r['format']} | {r['precision']} | {r['status']} | {r['runtime_precision'] or '-'} | "
                     f"{r['size_mb']} | {fmt(r['rel_error'], '.2e')} | {fmt(r['kp_agreement'], '.0%')} | {fmt(r['mean_shift_px'], '.2f')} | {r['check'] or '-'} |")
    if compat:
        lines += ["", f"tflite-runtime {compat.get('tflite_runtime')} (numpy {compat.get('numpy')}) loading the .tflite files above:", ""]
        for path, res in (compat.get("files") or {}).items():
            detail = f"ok, output differs from ai-edge-litert by {res['rel_diff_vs_litert']:.1e} (rel. L2)" if res["status"] == "ok" else f"failed: {res['reason']}"
            lines.append(f"- `{Path(path).name}`: {detail}")
    (out_dir / "parity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())

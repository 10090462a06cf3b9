"""How long the TFLite export takes: tflite_export_time.json / tflite_export_time.md (one row per run, appended).

    python benchmarks/export/tflite_export_time.py
    PYTHONPATH=/path/to/older/checkout python benchmarks/export/tflite_export_time.py --label "before"

Times ``export_model(MODEL, "tflite", "fp32,fp16,int8")`` (the demo model and
its bundled weights by default, 16 calibration images, every file checked
against PyTorch) in a fresh output folder, with whichever ``lite_hrnet`` is
imported, so that an older checkout can be timed by the same script. Each run
appends a row with the toolkit's git commit, so the file keeps before/after
pairs side by side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="litehrnet_18_coco_128x96")
    p.add_argument("--weights", default="synthetic")
    p.add_argument("--label", default="current")
    p.add_argument("--out", default=str(HERE / "tflite_export_time"), help="output stem (.json and .md)")
    return p.parse_args(argv)


def git_commit(path: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import lite_hrnet
    from lite_hrnet.benchmark.machine import machine_info
    from lite_hrnet.export import export_model

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tflite-export-time-") as out:
        report = export_model(args.model, "tflite", "fp32,fp16,int8", out_dir=out, weights=args.weights, calib_count=16)
    seconds = time.perf_counter() - start
    machine = machine_info().to_dict()
    row = dict(label=args.label, model=args.model, commit=git_commit(Path(lite_hrnet.__file__).parent),
               seconds=round(seconds, 1), cpu_model=machine.get("cpu_model"), usable_cores=machine.get("usable_cores"),
               files={a.precision: dict(rel_error=a.rel_error, agreement=a.agreement) for a in report.artifacts})
    path = Path(args.out + ".json")
    rows: List[Dict] = json.loads(path.read_text()) if path.is_file() else []
    rows.append(row)
    path.write_text(json.dumps(rows, indent=2))
    Path(args.out + ".md").write_text(render(rows))
    print(render(rows))
    return 0


def render(rows: List[Dict]) -> str:
    lines = ["# TFLite export time (fp32 + fp16 + int8, each file checked against PyTorch)", "",
             "Written by `python benchmarks/export/tflite_export_time.py` (one row per run).", "",
             "| label | commit | model | seconds | int8 rel. error | int8 kp agreement | machine |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        int8 = r["files"].get("int8", {})
        lines.append(f"| {r['label']} | {r['commit']} | {r['model']} | {r['seconds']} | {int8.get('rel_error', 0):.3g} | "
                     f"{int8.get('agreement', 0):.0%} | {r['cpu_model']}, {r['usable_cores']} cores |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

"""Reproduce the published CPU figures: benchmarks/results/<name>.json, <name>.md and <name>.png.

    python benchmarks/run_benchmark.py                                  # LH-18 256x192, official weights, 100 runs
    python benchmarks/run_benchmark.py --weights random --runs 20 --name lh18_preliminary --note "preliminary"
    python benchmarks/run_benchmark.py --threads 1,2 --batch 1,8 --seconds 10
    python benchmarks/run_benchmark.py --from-json benchmarks/results/NAME.json   # recompute the summary, re-render .md/.png

Everything goes through :func:`lite_hrnet.benchmark.benchmark` (the same code as
``lite-hrnet benchmark``); this script only fixes the published configuration and
writes the three files. Run it on a quiet machine: other processes on the same
cores show up directly in the latencies (the report records the load average).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="litehrnet_18_coco_256x192", help="registered model name or .pth checkpoint")
    p.add_argument("--weights", default="official",
                   help="checkpoint path, 'official' (download the mmpose release), or 'random' "
                        "(seeded random weights with calibrated batch norm: same speed, accuracy columns then measure fidelity only)")
    p.add_argument("--formats", default="torch,onnx,openvino,tflite")
    p.add_argument("--precision", default="fp32,fp16,int8")
    p.add_argument("--openvino-precision", default="default,f32")
    p.add_argument("--threads", default="1")
    p.add_argument("--batch", default="1")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--seconds", type=float, default=None, help="time each combination for this long instead of --runs")
    p.add_argument("--predict-runs", type=int, default=None)
    p.add_argument("--peak-gflops", type=float, default=None,
                   help="fp32 GFLOP/s of one core for the compute floor (default: estimated from the SIMD flags and the reported clock)")
    p.add_argument("--exports", default="exports", help="export cache folder")
    p.add_argument("--name", default=None, help="result file stem (default: the model name)")
    p.add_argument("--note", default="", help="label stored in the results, e.g. 'preliminary, loaded machine'")
    p.add_argument("--out", default=str(RESULTS), help="results folder (default: benchmarks/results)")
    p.add_argument("--from-json", default=None, help="re-render the .md and .png of an existing results JSON, measuring nothing")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from lite_hrnet.benchmark import BenchmarkReport, benchmark

    if args.from_json:
        source = Path(args.from_json)
        report = BenchmarkReport.from_dict(json.loads(source.read_text()))
        note = report.settings.get("note") or ""
        title = f"{report.model['name']} CPU benchmark" + (f" ({note})" if note else "")
        # The JSON is rewritten too, so that its summary follows the current summary code.
        for path in (report.write_json(source), report.write_markdown(source.with_suffix(".md"), title=title),
                     report.plot(source.with_suffix(".png"))):
            print(f"wrote {path}", file=sys.stderr)
        return 0

    weights = None if args.weights == "random" else args.weights
    report = benchmark(
        args.model, weights=weights, formats=args.formats, precisions=args.precision, threads=args.threads,
        batches=args.batch, warmup=args.warmup, runs=None if args.seconds else args.runs, seconds=args.seconds,
        exports=args.exports, openvino_precisions=args.openvino_precision, predict_runs=args.predict_runs,
        peak_gflops_per_core=args.peak_gflops, note=args.note, progress=lambda m: print(f"[benchmark] {m}", file=sys.stderr, flush=True),
    )
    stem = args.name or report.model["name"]
    out = Path(args.out)
    title = f"{report.model['name']} CPU benchmark" + (f" ({args.note})" if args.note else "")
    paths = [report.write_json(out / f"{stem}.json"), report.write_markdown(out / f"{stem}.md", title=title),
             report.plot(out / f"{stem}.png")]
    print(report.table())
    for path in paths:
        print(f"wrote {path}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

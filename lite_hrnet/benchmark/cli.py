"""``lite-hrnet benchmark``: CPU latency across runtimes, precisions and threads, accuracy beside speed.

No torch at import time: :mod:`lite_hrnet.benchmark` is imported when the verb runs.
Exit status: 0 when every row is ok or skipped, 1 when a row failed (the table
still prints and the files are written), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys


def cmd_benchmark(args: argparse.Namespace) -> int:
    from . import benchmark

    if args.runs is not None and args.seconds is not None:
        raise ValueError("--runs and --seconds: give one of them")

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[benchmark] {message}", file=sys.stderr, flush=True)

    report = benchmark(
        args.model, weights=args.weights, formats=args.formats, precisions=args.precision, threads=args.threads,
        batches=args.batch, device=args.device, warmup=args.warmup, runs=100 if args.runs is None else args.runs,
        seconds=args.seconds, exports=args.exports, openvino_precisions=args.openvino_precision,
        isolate=not args.in_process, model_name=args.model_name, peak_gflops_per_core=args.peak_gflops,
        predict_runs=args.predict_runs, files=args.files, progress=progress,
    )
    if args.json:
        report.write_json(args.json)
    if args.csv:
        report.write_csv(args.csv)
    if args.markdown:
        report.write_markdown(args.markdown, title=f"{report.model['name']} benchmark")
    if args.plot:
        report.plot(args.plot)
    print(report.table())
    for path in (args.json, args.csv, args.markdown, args.plot):
        if path:
            progress(f"wrote {path}")
    return 0 if report.ok else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark", help="CPU latency per runtime, precision, threads and batch, with accuracy against PyTorch",
        description="Export what is missing (into --exports), then time every combination of format, precision, "
                    "threads and batch, each in a fresh process, and print one table.",
    )
    p.add_argument("model", metavar="NAME_OR_CHECKPOINT", help="registered model name, or a .pth checkpoint that records its model")
    p.add_argument("--weights", help="checkpoint path or registered weights name for a model name (default: random init, seed 0)")
    p.add_argument("--model-name", help="the registered model of a checkpoint that does not record it")
    p.add_argument("--formats", default="torch,onnx,openvino,tflite,engine",
                   help="comma-separated: torch,onnx,openvino,tflite,engine (default: all)")
    p.add_argument("--precision", default="fp32", help="comma-separated: fp32,fp16,int8 (default: fp32)")
    p.add_argument("--threads", default="1", help="comma-separated thread counts, e.g. 1,2,4 (default: 1)")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes, e.g. 1,8 (default: 1)")
    p.add_argument("--device", default="cpu", help="runtime device (default: cpu)")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls before timing (default: 10)")
    p.add_argument("--runs", type=int, default=None, help="timed calls per combination (default: 100)")
    p.add_argument("--seconds", type=float, default=None, help="time each combination for this many seconds instead of --runs")
    p.add_argument("--predict-runs", type=int, default=None,
                   help="timed PoseEstimator.predict calls for 1 and for 8 persons (default: runs / 5, at least 3)")
    p.add_argument("--openvino-precision", default="default",
                   help="OpenVINO inference precision hints, one row each: default,f32,bf16,f16 (default: default, "
                        "which is bf16 on CPUs with avx512_bf16/AMX)")
    p.add_argument("--exports", default="exports", help="export cache folder (default: exports)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--csv", metavar="FILE", help="write the rows as CSV")
    p.add_argument("--markdown", metavar="FILE", help="write a Markdown table")
    p.add_argument("--plot", metavar="FILE.png", help="write a PNG: latency against keypoint agreement, and latency per runtime")
    p.add_argument("--in-process", action="store_true",
                   help="measure in this process instead of one fresh process per row (faster; peak RSS is then process-wide)")
    p.add_argument("--peak-gflops", type=float, default=None,
                   help="fp32 GFLOP/s of one core for the compute floor (default: measured in the run, one-thread numpy matmul)")
    p.add_argument("--files", default=None, metavar="FILE[,FILE]",
                   help="more .onnx/.xml/.tflite/.lhrn files (with lite-hrnet metadata) measured in every row setting beside the "
                        "exports, e.g. the plain graph: the table's graph column and summary then compare plain and deploy")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.set_defaults(func=cmd_benchmark)


__all__ = ["add_parser", "cmd_benchmark"]

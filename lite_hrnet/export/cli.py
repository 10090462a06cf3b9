"""``lite-hrnet export``: the command-line face of :func:`lite_hrnet.export.export_model` (no torch at import)."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_export(args: argparse.Namespace) -> int:
    from ..messages import first_line
    from . import ExportError, export_model

    def progress(message: str) -> None:
        if not args.json:
            print(f"[export] {message}", file=sys.stderr, flush=True)

    try:
        report = export_model(
            args.name, formats=args.formats, precisions=args.precision, out_dir=args.out, weights=args.weights,
            dynamic_batch=not args.static_batch, calib=args.calib, calib_count=args.calib_count,
            verify=not args.no_verify, reuse=args.reuse, progress=progress, end_to_end=args.end_to_end,
        )
    except ExportError as e:
        if e.report is not None:
            print(json.dumps(e.report.to_dict(), indent=2) if args.json else e.report.table())
        print(f"lite-hrnet export: error: {first_line(e)}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model to ONNX / OpenVINO / TFLite (fp32, fp16, int8) or the lite-hrnet engine (fp32), each file checked")
    p.add_argument("name", help="registered model name")
    p.add_argument("--weights", help="checkpoint path or registered weights name (default: random init)")
    p.add_argument("--formats", default="onnx", help="comma-separated: onnx,openvino,tflite,engine (default: onnx)")
    p.add_argument("--precision", default="fp32", help="comma-separated: fp32,fp16,int8 (default: fp32)")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument("--static-batch", action="store_true",
                       help="ONNX and OpenVINO files with a fixed batch of 1 (default: dynamic batch, all persons of a frame in one call)")
    batch.add_argument("--dynamic-batch", action="store_true", help="dynamic batch dimension for ONNX and OpenVINO (the default)")
    p.add_argument("--calib", default=None, help="folder of calibration images, or 'synthetic' (default)")
    p.add_argument("--calib-count", type=int, default=32, help="calibration images to use (default 32)")
    p.add_argument("--out", default="exports", help="output folder (default: exports)")
    p.add_argument("--no-verify", action="store_true", help="skip the parity check against PyTorch")
    p.add_argument("--end-to-end", action="store_true",
                   help="also write NAME_e2e.onnx / NAME_e2e_PRECISION.tflite: uint8 RGB crop in, N x K x 3 keypoints (x, y crop pixels, score) out")
    p.add_argument("--reuse", action="store_true", help="keep existing files exported from the same checkpoint")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_export)

"""The ``lite-hrnet`` command line.

Every verb lives in a module of :data:`VERB_MODULES` (this one holds ``list``
and ``info``), and every such module has ``add_parser(subparsers)``, which adds
its verbs, each with ``set_defaults(func=cmd_<verb>)``; ``cmd_<verb>(args)``
runs the verb and returns the exit code.

Every verb reports bad input as one line on stderr and a non-zero exit code;
set ``LITE_HRNET_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from types import ModuleType
from typing import Iterator, Optional, Sequence

from . import __version__
from .arguments import parse_size
from .messages import first_line
from .specs import UnknownModelError, get_model_spec, list_models, spec_to_dict

# The verb modules after this one, in the order of `lite-hrnet --help`. Imported when the parser
# is built (each imports its heavy dependencies only when its verb runs); a module that is not
# part of the install drops its verbs.
VERB_MODULES = ("lite_hrnet.export.cli", "lite_hrnet.predict_cli", "lite_hrnet.benchmark.cli", "lite_hrnet.train.cli")


def _format_count(n: float) -> str:
    return f"{n:,.0f}"


def cmd_info(args: argparse.Namespace) -> int:
    spec = get_model_spec(args.name)
    input_size = parse_size(args.input_size) if args.input_size else spec.input_size
    from .models import check_input_shape, create_model
    from .models.complexity import count_macs, count_parameters

    check_input_shape((1, 3, *input_size))
    model = create_model(args.name, weights=args.weights)
    info = spec_to_dict(spec)
    info.update(
        input_size=list(input_size),
        heatmap_size=[input_size[0] // spec.heatmap_stride, input_size[1] // spec.heatmap_stride],
        parameters=count_parameters(model),
        macs=count_macs(model, input_size),
        weights=getattr(model, "checkpoint_path", None),
        version=__version__,
    )
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    arch = spec.arch
    rows = [
        ("model", spec.name),
        ("architecture", f"{spec.arch_name} ({arch.module_type[0].lower()} blocks, branches {list(arch.num_channels[-1])})"),
        ("parameters", _format_count(info["parameters"])),
        ("FLOPs (multiply-adds)", f"{info['macs'] / 1e6:.1f}M"),
        ("input (H x W)", f"{input_size[0]} x {input_size[1]}, RGB, mean {list(spec.mean)} std {list(spec.std)}"),
        ("heatmaps (H x W)", f"{info['heatmap_size'][0]} x {info['heatmap_size'][1]} (stride {spec.heatmap_stride})"),
        ("joints", f"{spec.num_joints} ({spec.joints.name}): {', '.join(spec.joints.keypoint_names)}"),
        ("weights", info["weights"] or "random init (official N(0, 0.001))"),
        ("released checkpoint", spec.pretrained.url if spec.pretrained else "none downloadable"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for name in list_models():
        spec = get_model_spec(name)
        print(f"{name:<40} {spec.input_size[0]}x{spec.input_size[1]}  {spec.num_joints} joints"
              f"{'  (release downloadable)' if spec.pretrained else ''}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The verbs of this module: ``list`` and ``info``."""
    p = sub.add_parser("list", help="list the registered models")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("info", help="parameters, FLOPs, input/heatmap sizes and joints of a model")
    p.add_argument("name", help="registered model name (see `lite-hrnet list`)")
    p.add_argument("--weights", help="checkpoint path, or a model name to download its release")
    p.add_argument("--input-size", help="HEIGHTxWIDTH to count FLOPs at (multiples of 32); default: the model's")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_info)


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the whole usage first), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # The verbs' subparsers are made with the same class (argparse's default parser_class).
    parser = _OneLineErrorParser(
        prog="lite-hrnet", description="Lite-HRNet pose estimation: models, export, runtimes and benchmarks."
    )
    parser.add_argument("--version", action="version", version=f"lite-hrnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _verb_modules():
        module.add_parser(sub)
    return parser


def _verb_modules() -> Iterator[ModuleType]:
    """This module, then those of :data:`VERB_MODULES` that the install has."""
    yield sys.modules[__name__]
    for module_name in VERB_MODULES:
        try:
            yield importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
                continue  # that verb's module is not part of this install
            raise


# Errors that are the user's to fix: printed as one line, exit code 2.
# (CheckpointError and the export/runtime errors derive from ValueError.)
USER_ERRORS = (UnknownModelError, ValueError, OSError, ImportError)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("lite-hrnet: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if os.environ.get("LITE_HRNET_DEBUG"):
            raise
        print(f"lite-hrnet {args.command}: error: {first_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # anything else is a bug, but the user still gets one line
        if os.environ.get("LITE_HRNET_DEBUG"):
            raise
        what = f"{type(e).__name__}: {first_line(e)}" if str(e).strip() else type(e).__name__
        print(f"lite-hrnet {args.command}: internal error: {what} (set LITE_HRNET_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

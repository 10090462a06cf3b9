"""Golden files for the engine's C test (native/tests/test_engine.c): a tiny Lite-HRNet compiled to .lhrn
programs, an input and PyTorch's output.

Run from the repository root with the project's venv:

    .venv/bin/python native/tests/make_engine_golden.py

The network is the smallest that still has every part the engine compiles: a stem (dense 3x3
stride-2 conv, stride-2 depthwise convs), 3 stages with 2, 3 and 4 branches (LITE stages:
cross-resolution weighting, pooling, scaled depthwise convs, spatial weighting; a NAIVE stage:
shuffle units), fuse layers (sums with upsampled terms, chained stride-2 downsampling), the
iterative head (bilinear x2 adds) and the final 1x1 conv to K = 3 heatmaps. Its weights and batch
norm statistics are drawn from a seeded NumPy generator (the same files on every run and torch
version, up to PyTorch's float rounding of the reference).

It writes into native/tests/golden/:

* engine_tiny.lhrn: the network compiled for 64 x 32 inputs (H x W), metadata
  {"input_size": [64, 32], "name": "engine_tiny", "num_joints": 3, "seed": 20261202};
* engine_tiny_ops.txt: the kind of each of its ops, one a line, in program order (as
  lhr_engine_op_kind names them);
* engine_tiny_input.f32: a 3 x 64 x 32 input (standard normal);
* engine_tiny_output.f32: PyTorch's output for it, 3 x 16 x 8;
* engine_tiny256.lhrn: the same network for 256 x 256 inputs (large enough that the engine's
  stride-2 depthwise conv goes through its row-by-row path), metadata {"name": "engine_tiny256"};
* engine_tiny256_output.f32: PyTorch's output, 3 x 64 x 64, for the input `formula_input`
  (computed, not stored: 768 KB; test_engine.c computes the same floats).

A .f32 file is b"LHRT", uint32 channels, height, width (little-endian), then channels x height x
width float32 (little-endian, C x H x W row-major). References are computed in float64 and
rounded to float32, so they hold the network's values, not PyTorch's float32 rounding.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lite_hrnet.export.engine_program import compile_model, write_program  # noqa: E402
from lite_hrnet.models.litehrnet import LiteHRNetPose  # noqa: E402
from lite_hrnet.specs import ArchSpec, StemSpec  # noqa: E402

OUT = Path(__file__).resolve().parent / "golden"
SEED = 20261202
NUM_JOINTS = 3
TENSOR_MAGIC = b"LHRT"
# Op kinds by their number in a program (engine.c's numbering), as lhr_engine_op_kind names them.
OP_KIND_NAMES = {1: "conv", 2: "depthwise", 3: "pointwise", 4: "pool", 5: "scale", 6: "sum", 7: "bilinear_add"}

TINY_ARCH = ArchSpec(
    stem=StemSpec(stem_channels=8, out_channels=8, expand_ratio=1),
    num_modules=(2, 1, 1),
    num_branches=(2, 3, 4),
    num_blocks=(1, 2, 1),
    module_type=("LITE", "NAIVE", "LITE"),
    reduce_ratios=(2, 1, 2),
    # the smallest widths the blocks allow: spatial weighting divides half a branch by 4
    num_channels=((8, 16), (8, 16, 16), (8, 8, 16, 16)),
)


def tiny_model(seed: int = SEED) -> LiteHRNetPose:
    """TINY_ARCH in eval mode with seeded weights: convs uniform with unit output variance, BN randomized."""
    rng = np.random.default_rng(seed)
    model = LiteHRNetPose(TINY_ARCH, NUM_JOINTS).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                fan_in = module.weight[0].numel()
                bound = float(np.sqrt(3.0 / fan_in))
                module.weight.copy_(torch.from_numpy(rng.uniform(-bound, bound, module.weight.shape)))
                if module.bias is not None:
                    module.bias.copy_(torch.from_numpy(rng.uniform(-0.1, 0.1, module.bias.shape)))
            elif isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.from_numpy(rng.uniform(-0.2, 0.2, n)))
                module.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, n)))
                module.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, n)))
                module.bias.copy_(torch.from_numpy(rng.uniform(-0.2, 0.2, n)))
    return model


def formula_input(channels: int, height: int, width: int) -> np.ndarray:
    """channels x height x width float32: ((7 c + 13 y + 29 x) mod 97 - 48) / 32, exact in float32
    (test_engine.c computes the same values)."""
    c, y, x = np.meshgrid(np.arange(channels), np.arange(height), np.arange(width), indexing="ij")
    return (((7 * c + 13 * y + 29 * x) % 97 - 48).astype(np.float32) / np.float32(32.0)).astype(np.float32)


def reference(model: LiteHRNetPose, x: np.ndarray) -> np.ndarray:
    """The network's K x H/4 x W/4 output for one C x H x W input, computed in float64."""
    with torch.no_grad():
        y = model.double()(torch.from_numpy(x.astype(np.float64))[None])[0].numpy()
    model.float()
    return y.astype(np.float32)


def write_tensor(path: Path, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array, dtype="<f4")
    c, h, w = array.shape
    path.write_bytes(TENSOR_MAGIC + struct.pack("<3I", c, h, w) + array.tobytes())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = tiny_model()

    size = (64, 32)
    write_program(model, size, OUT / "engine_tiny.lhrn",
                  {"name": "engine_tiny", "input_size": list(size), "num_joints": NUM_JOINTS, "seed": SEED})
    kinds = [OP_KIND_NAMES[op.fields[0]] for op in compile_model(model, size).ops]
    (OUT / "engine_tiny_ops.txt").write_text("".join(f"{k}\n" for k in kinds))
    x = np.random.default_rng(SEED + 1).standard_normal((3, *size)).astype(np.float32)
    write_tensor(OUT / "engine_tiny_input.f32", x)
    write_tensor(OUT / "engine_tiny_output.f32", reference(model, x))

    size = (256, 256)
    write_program(model, size, OUT / "engine_tiny256.lhrn", {"name": "engine_tiny256"})
    write_tensor(OUT / "engine_tiny256_output.f32", reference(model, formula_input(3, *size)))
    total = sum(p.stat().st_size for p in OUT.glob("engine_*"))
    print(f"wrote {OUT}/engine_* ({total} bytes)")


if __name__ == "__main__":
    main()

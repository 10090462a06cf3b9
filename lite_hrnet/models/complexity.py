"""Parameter and multiply-accumulate counts, as the Lite-HRNet paper reports them.

Convolutions are counted by ``torch.utils.flop_counter``; on top of that, as
mmcv's counter (which produced the paper's figures) does, a convolution bias
costs one operation per output element and an affine batch norm one per
element. Element-wise products, additions, pooling and resizing are not
counted. The result matches the published FLOPs within 1%.
"""

from __future__ import annotations

import copy
import math
from typing import Tuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, conv_flop

aten = torch.ops.aten


def _numel(shape) -> int:
    return int(math.prod(shape))


def _conv_with_bias(x_shape, w_shape, bias, stride, padding, dilation, transposed, *args, out_shape=None, **kwargs) -> int:
    flops = conv_flop.__wrapped__(x_shape, w_shape, bias, stride, padding, dilation, transposed, out_shape=out_shape)
    # FlopCounterMode counts 2 FLOPs per MAC; a bias add is one MAC-equivalent per output element.
    return flops + (2 * _numel(out_shape) if bias is not None else 0)


def _batch_norm(x_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * _numel(x_shape)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: Tuple[int, int]) -> int:
    """Multiply-accumulates of one forward pass on a 1 x 3 x H x W input (``input_size`` = (H, W)).

    Counted on a copy of ``model`` on the meta device: the counter needs shapes only, and no arithmetic runs.
    """
    mapping = {
        aten.convolution: _conv_with_bias,
        aten._native_batch_norm_legit_no_training: _batch_norm,
    }
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    shapes_only = copy.deepcopy(model).to("meta").eval()
    with counter, torch.no_grad():
        shapes_only(torch.zeros(1, 3, *input_size, device="meta"))
    return counter.get_total_flops() // 2

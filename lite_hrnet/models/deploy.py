"""Deploy form of Lite-HRNet: the same function with no channel split, concat or shuffle.

Lite-HRNet's block (conditional channel weighting) splits each branch in two
halves, weights one half, concatenates and shuffles. Everything the block does
to a channel is per channel (depthwise conv, multiplications by weights); only
the small weight-computing 1x1 convs look across channels. So the block can run
on all channels in place:

* the half that passes through gets weight exactly 1 (a weight conv row of zeros
  with a large bias: sigmoid(30) is 1.0 in float32) and an identity depthwise
  kernel (centre 1, the rest 0), which return the same values bit for bit;
* the shuffle is a fixed permutation, so instead of moving data the module
  remembers, per branch, which logical channel each stored channel holds, and
  the next layer reads its weights in that order. Every layer that mixes
  channels (1x1 convs of fuse layers, transitions, the head) absorbs the order
  in its weight columns and writes its outputs in the order the tensor it is
  added to already has.

The graph then has no Split, Transpose or Reshape, and one Concat (the stem's),
on feature maps; only the weighting's small tensors (pooled to the lowest
branch, or to one value per channel) are concatenated, so that all branches'
weights come from one conv. Batch norm is folded into every convolution.
Only LITE modules have this form; :func:`deploy_model` raises ValueError for
the naive networks (their blocks have 1x1 convs and ReLUs inside the weighted
half, which a pass-through channel cannot cross unchanged).

Shapes as in :mod:`.litehrnet`: N x 3 x H x W in, N x K x H/4 x W/4 heatmaps out.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..specs import ArchSpec
from .litehrnet import (
    ConditionalChannelWeighting,
    ConvModule,
    IterativeHead,
    LiteHRModule,
    LiteHRNetPose,
    Stem,
)

# sigmoid(SATURATED) == 1.0 exactly in float32 (1 / (1 + e^-30) rounds to 1).
SATURATED = 30.0


def shuffle_source(channels: int, groups: int = 2) -> Tensor:
    """For a ShuffleNet channel shuffle of ``channels``: element j is input channel j's index after the shuffle."""
    per_group = channels // groups
    j = torch.arange(channels)
    return (j % per_group) * groups + j // per_group


def folded_conv(conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d]) -> Tuple[Tensor, Tensor]:
    """Conv weight and bias with the batch norm folded in (computed in float64)."""
    w = conv.weight.detach().double()
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    if bn is not None:
        scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
        w = w * scale[:, None, None, None]
        b = (b - bn.running_mean.double()) * scale + bn.bias.detach().double()
    return w, b


def _conv(weight: Tensor, bias: Tensor, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    k = weight.shape[-1]
    conv = nn.Conv2d(weight.shape[1] * groups, weight.shape[0], k, stride, k // 2, groups=groups, bias=True)
    with torch.no_grad():
        conv.weight.copy_(weight.float())
        conv.bias.copy_(bias.float())
    return conv


def _pointwise(conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d], in_order: Optional[Tensor] = None,
               out_order: Optional[Tensor] = None) -> nn.Conv2d:
    """A (possibly strided) dense conv reading channels stored in ``in_order``, writing in ``out_order``.

    An order lists, per stored channel, the logical channel it holds (None: natural order).
    """
    w, b = folded_conv(conv, bn)
    if in_order is not None:
        w = w[:, in_order]
    if out_order is not None:
        w, b = w[out_order], b[out_order]
    return _conv(w, b, conv.stride[0])


def _depthwise(conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d], order: Optional[Tensor]) -> nn.Conv2d:
    w, b = folded_conv(conv, bn)
    if order is not None:
        w, b = w[order], b[order]
    return _conv(w, b, conv.stride[0], groups=w.shape[0])


def _placed(values: Tensor, positions: Tensor, size: int, dim: int = 0, fill: float = 0.0) -> Tensor:
    """A float64 tensor like ``values`` whose dimension ``dim`` has ``size`` entries: ``values`` at ``positions``
    (channel indices, in order), ``fill`` at every other channel."""
    shape = list(values.shape)
    shape[dim] = size
    out = torch.full(shape, fill, dtype=torch.float64)
    return out.index_copy_(dim, positions, values.double())


def _block_diagonal(weights: Sequence[Tensor]) -> Tensor:
    """One 1x1 conv weight applying each of ``weights`` (O_i x I_i x 1 x 1) to its own slice of the input channels."""
    out = torch.zeros(sum(w.shape[0] for w in weights), sum(w.shape[1] for w in weights), 1, 1, dtype=torch.float64)
    r = c = 0
    for w in weights:
        out[r:r + w.shape[0], c:c + w.shape[1]] = w
        r, c = r + w.shape[0], c + w.shape[1]
    return out


def supports_deploy_form(arch: ArchSpec) -> bool:
    """Whether a network of this architecture has a deploy form: LITE modules of two or more branches
    with fuse layers, and the iterative head (every Lite-HRNet-18/30; none of the naive networks)."""
    return (arch.with_head and all(t == "LITE" for t in arch.module_type) and all(arch.with_fuse)
            and all(n >= 2 for n in arch.num_branches))


def _module_conv(module: ConvModule) -> Tuple[nn.Conv2d, Optional[nn.BatchNorm2d]]:
    return module.conv, module.bn


class DeployBlock(nn.Module):
    """A conditional channel weighting block over all channels, in place (see the module docstring)."""

    def __init__(self, block: ConditionalChannelWeighting, orders: Sequence[Tensor], merge_weighting: bool = True) -> None:
        super().__init__()
        self.merge_weighting = merge_weighting
        halves = block.branch_channels
        n = len(halves)
        self.factors = [2 ** (n - 1 - i) for i in range(n)]
        crw = block.cross_resolution_weighting
        w1, b1 = folded_conv(*_module_conv(crw.conv1))
        w2, b2 = folded_conv(*_module_conv(crw.conv2))
        offsets = [sum(halves[:i]) for i in range(n)]
        self.split = [2 * h for h in halves]
        self.depthwise = nn.ModuleList()
        spatial1, spatial2 = [], []
        # Cross-resolution weighting reads all branches' pooled channels, in stored order, and
        # writes every branch's weights in stored order (pass-through channels: weight 1).
        columns, rows, biases = [], [], []
        for i, (order, half) in enumerate(zip(orders, halves)):
            weighted = order >= half  # stored channels of the weighted half
            stored = weighted.nonzero().flatten()
            logical = order[weighted] - half  # their index within the half, in stored order
            columns.append(_placed(w1[:, offsets[i] + logical], stored, 2 * half, dim=1))
            rows.append(_placed(w2[offsets[i] + logical], stored, 2 * half))
            biases.append(_placed(b2[offsets[i] + logical], stored, 2 * half, fill=SATURATED))
            # Depthwise conv and spatial weighting, per branch; the pass-through half gets the identity kernel.
            wd, bd = folded_conv(*_module_conv(block.depthwise_convs[i]))
            kernel = _placed(wd[logical], stored, 2 * half)
            kernel[~weighted, 0, 1, 1] = 1.0
            self.depthwise.append(_conv(kernel, _placed(bd[logical], stored, 2 * half), groups=2 * half))
            sw = block.spatial_weighting[i]
            ws1, bs1 = folded_conv(*_module_conv(sw.conv1))
            spatial1.append((_placed(ws1[:, logical], stored, 2 * half, dim=1), bs1))
            ws2, bs2 = folded_conv(*_module_conv(sw.conv2))
            spatial2.append((_placed(ws2[logical], stored, 2 * half),
                             _placed(bs2[logical], stored, 2 * half, fill=SATURATED)))
        if merge_weighting:
            # All branches' weights from one conv pair over the concatenated pooled channels, and their
            # spatial weighting at once: block-diagonal 1x1 convs over the concatenated means.
            self.pool_conv = _conv(torch.cat(columns, dim=1), b1)
            self.weight_conv = _conv(torch.cat(rows), torch.cat(biases))
            self.spatial1 = _conv(_block_diagonal([w for w, _ in spatial1]), torch.cat([b for _, b in spatial1]))
            self.spatial2 = _conv(_block_diagonal([w for w, _ in spatial2]), torch.cat([b for _, b in spatial2]))
        else:
            # Per branch: conv1 over the concatenation is the sum of per-branch convs (bias once).
            self.pool_convs = nn.ModuleList([_conv(c, b1 if i == 0 else torch.zeros_like(b1)) for i, c in enumerate(columns)])
            self.weight_convs = nn.ModuleList([_conv(r, b) for r, b in zip(rows, biases)])
            self.spatial1 = nn.ModuleList([_conv(w, b) for w, b in spatial1])
            self.spatial2 = nn.ModuleList([_conv(w, b) for w, b in spatial2])

    @staticmethod
    def next_orders(orders: Sequence[Tensor], halves: Sequence[int]) -> List[Tensor]:
        """Orders after the block's concat + shuffle (data stays where it is)."""
        return [shuffle_source(2 * h)[o] for o, h in zip(orders, halves)]

    def forward(self, x: List[Tensor]) -> List[Tensor]:
        pooled = [F.avg_pool2d(s, f, f) if f > 1 else s for s, f in zip(x, self.factors)]
        if self.merge_weighting:
            hidden = F.relu(self.pool_conv(torch.cat(pooled, dim=1)))
            weights = torch.split(torch.sigmoid(self.weight_conv(hidden)), self.split, dim=1)
        else:
            hidden = self.pool_convs[0](pooled[0])
            for conv, p in zip(self.pool_convs[1:], pooled[1:]):
                hidden = hidden + conv(p)
            hidden = F.relu(hidden)
            weights = [torch.sigmoid(conv(hidden)) for conv in self.weight_convs]
        mixed = []
        for i, s in enumerate(x):
            w = weights[i]
            if self.factors[i] > 1:
                w = F.interpolate(w, scale_factor=float(self.factors[i]), mode="nearest")
            mixed.append(self.depthwise[i](s * w))
        if self.merge_weighting:
            means = torch.cat([F.adaptive_avg_pool2d(s, 1) for s in mixed], dim=1)
            gates = torch.split(torch.sigmoid(self.spatial2(F.relu(self.spatial1(means)))), self.split, dim=1)
        else:
            gates = [torch.sigmoid(c2(F.relu(c1(F.adaptive_avg_pool2d(s, 1)))))
                     for s, c1, c2 in zip(mixed, self.spatial1, self.spatial2)]
        out = [s * g for s, g in zip(mixed, gates)]
        return out


class DeployFuse(nn.Module):
    """A module's fuse layers reading and writing stored channel orders (official double-count kept)."""

    def __init__(self, module: LiteHRModule, orders: Sequence[Tensor]) -> None:
        super().__init__()
        self.rows = nn.ModuleList()
        self.factors: List[List[int]] = []
        for i, row in enumerate(module.fuse_layers):
            convs = nn.ModuleList()
            factors = []
            for j, layer in enumerate(row):
                if j == i:
                    convs.append(nn.Identity())
                    factors.append(1)
                elif j > i:
                    convs.append(_pointwise(layer[0], layer[1], orders[j], orders[i]))
                    factors.append(2 ** (j - i))
                else:
                    steps = []
                    for k, step in enumerate(layer):
                        last = k == len(layer) - 1
                        steps.append(_depthwise(step[0], step[1], orders[j] if k == 0 else None))
                        steps.append(_pointwise(step[2], step[3], orders[j] if k == 0 else None,
                                                orders[i] if last else None))
                        if not last:
                            steps.append(nn.ReLU())
                    convs.append(nn.Sequential(*steps))
                    factors.append(1)
            self.rows.append(convs)
            self.factors.append(factors)

    def _term(self, i: int, j: int, x: Tensor) -> Tensor:
        y = self.rows[i][j](x)
        f = self.factors[i][j]
        return F.interpolate(y, scale_factor=float(f), mode="nearest") if f > 1 else y

    def forward(self, x: List[Tensor]) -> List[Tensor]:
        x0 = x[0]
        fused = []
        for i in range(len(self.rows)):
            if i == 0:
                y = x0 + x0
            else:
                first = self._term(i, 0, x0)
                y = first + first
            for j in range(1, len(x)):
                y = y + (x[j] if i == j else self._term(i, j, x[j]))
            if i == 0:
                x0 = y
            fused.append(F.relu(y))
        return fused


class DeployStem(nn.Module):
    """The stem without its split and final shuffle (the shuffle becomes the output's stored order).

    Each branch's first layer reads all channels of the first conv, with zero weights on the other
    branch's half, so no copy splits them.
    """

    def __init__(self, stem: Stem) -> None:
        super().__init__()
        half, total = stem.branch_channels, stem.stem_channels
        first, second = torch.arange(half), torch.arange(half, total)
        self.conv1 = nn.Sequential(_pointwise(stem.conv1.conv, stem.conv1.bn), nn.ReLU())
        b1 = stem.branch1
        dw, bias = folded_conv(b1[0].conv, b1[0].bn)
        w, b = folded_conv(b1[1].conv, b1[1].bn)
        self.branch1 = nn.Sequential(
            _conv(_placed(dw, first, total), _placed(bias, first, total), b1[0].conv.stride[0], groups=total),
            _conv(_placed(w, first, total, dim=1), b), nn.ReLU())
        w, b = folded_conv(stem.expand_conv.conv, stem.expand_conv.bn)
        self.branch2 = nn.Sequential(
            _conv(_placed(w, second, total, dim=1), b), nn.ReLU(),
            _depthwise(stem.depthwise_conv.conv, stem.depthwise_conv.bn, None),
            _pointwise(stem.linear_conv.conv, stem.linear_conv.bn), nn.ReLU())
        self.out_order = shuffle_source(stem._cat_channels)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return torch.cat((self.branch1(x), self.branch2(x)), dim=1)


class DeployHead(nn.Module):
    """The iterative head reading stored orders; its output is in natural order."""

    def __init__(self, head: IterativeHead, orders: Sequence[Tensor]) -> None:
        super().__init__()
        rev = list(orders)[::-1]
        self.projects = nn.ModuleList()
        for i, project in enumerate(head.projects):
            dw, pw = project.depthwise_conv, project.pointwise_conv
            out_order = rev[i + 1] if i + 1 < len(rev) else None
            self.projects.append(nn.Sequential(
                _depthwise(dw.conv, dw.bn, rev[i]), _pointwise(pw.conv, pw.bn, rev[i], out_order), nn.ReLU()))

    def forward(self, x: List[Tensor]) -> Tensor:
        last: Optional[Tensor] = None
        for s, project in zip(x[::-1], self.projects):
            if last is not None:
                s = s + F.interpolate(last, scale_factor=2.0, mode="bilinear", align_corners=True)
            last = project(s)
        return last


class DeployLiteHRNetPose(nn.Module):
    """:class:`LiteHRNetPose` in deploy form: same heatmaps (float rounding aside), friendlier graph.

    forward: N x 3 x H x W normalized RGB (H, W multiples of 32) -> N x K x H/4 x W/4 heatmaps.
    """

    def __init__(self, model: LiteHRNetPose, merge_weighting: bool = True) -> None:
        super().__init__()
        backbone = model.backbone
        if not supports_deploy_form(backbone.arch):
            raise ValueError("the deploy form covers Lite-HRNet's LITE modules (two or more branches, fuse layers, "
                             "the iterative head), not the naive networks")
        self.stem = DeployStem(backbone.stem)
        orders: List[Tensor] = [self.stem.out_order]
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        self.sources: List[List[int]] = []
        for i in range(backbone.num_stages):
            transition = getattr(backbone, f"transition{i}")
            layers, sources, new_orders = nn.ModuleList(), [], []
            for j, t in enumerate(transition):
                src = min(j, len(orders) - 1)
                sources.append(src)
                if t is None:
                    layers.append(nn.Identity())
                    new_orders.append(orders[j])
                    continue
                steps = []
                # An existing branch's transition is one conv-bn-conv-bn-relu; a new branch's is a list of them.
                for k, step in enumerate([t] if j < len(orders) else t):
                    order = orders[src] if k == 0 else None
                    steps += [_depthwise(step[0], step[1], order), _pointwise(step[2], step[3], order), nn.ReLU()]
                layers.append(nn.Sequential(*steps))
                new_orders.append(torch.arange(steps[-2].out_channels))
            self.transitions.append(layers)
            self.sources.append(sources)
            orders = new_orders
            modules = nn.ModuleList()
            for module in getattr(backbone, f"stage{i}"):
                parts = []
                for block in module.layers:
                    parts.append(DeployBlock(block, orders, merge_weighting))
                    orders = DeployBlock.next_orders(orders, block.branch_channels)
                parts.append(DeployFuse(module, orders))
                modules.append(nn.ModuleList(parts))
            self.stages.append(modules)
        self.head = DeployHead(backbone.head_layer, orders)
        self.final_layer = model.keypoint_head.final_layer

    def forward(self, x: Tensor) -> Tensor:
        y = [self.stem(x)]
        for transition, sources, modules in zip(self.transitions, self.sources, self.stages):
            y = [t(y[s]) for t, s in zip(transition, sources)]
            for parts in modules:
                for part in parts:
                    y = part(y)
        return self.final_layer(self.head(y))


def deploy_model(model: LiteHRNetPose, merge_weighting: bool = True) -> DeployLiteHRNetPose:
    """The deploy form of an eval-mode ``model`` (raises ValueError for the naive networks).

    ``merge_weighting``: compute every branch's weights with one conv pair over concatenated
    small tensors (fewer, larger ops: OpenVINO runs that faster) instead of one per branch
    (XNNPACK runs that faster); the same function either way.
    """
    return DeployLiteHRNetPose(model, merge_weighting).eval()

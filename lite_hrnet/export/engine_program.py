"""Compile a Lite-HRNet into a program for the C engine (``native/src/engine.c``): a ``.lhrn`` file.

A general runtime spends most of Lite-HRNet's time moving data: channel split,
concat and shuffle, layout reorders, upsampling before a product. Here every
tensor is a list of channel planes (each H x W, row-major), so:

* split, concat and channel shuffle only re-list planes and cost nothing;
* the cross-resolution weights multiply the input inside the depthwise conv
  that follows (the weight map is read at its own, smaller, resolution);
* a fuse layer's terms are summed in one pass, upsampled while they are read;
* batch norm is folded into the convolutions (in float64);
* buffers whose lifetimes do not overlap share memory, so the working set stays small.

The program computes the network of the PyTorch model it was compiled from,
to float32 rounding (tests/test_engine.py). Only the engine's file layout is
written here; the engine checks every field when it reads one.

File layout: :data:`lite_hrnet.metadata.ENGINE_HEADER` (the magic and the counts), the
int32 program, the float32 weights, the metadata JSON (all little-endian).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..atomic import atomic_write
from ..metadata import ENGINE_HEADER, ENGINE_MAGIC
from ..models.deploy import folded_conv
from ..models.litehrnet import (ConditionalChannelWeighting, ConvModule, IterativeHead, LiteHRModule, LiteHRNetPose,
                                ShuffleUnit, Stem, check_input_shape)

# Op kinds and activations: the numbering of engine.c.
_CONV, _DEPTHWISE, _POINTWISE, _POOL, _SCALE, _SUM, _BILINEAR_ADD = 1, 2, 3, 4, 5, 6, 7
_ACTIVATIONS = {nn.Identity: 0, nn.ReLU: 1, nn.Sigmoid: 2}
_NONE, _RELU, _SIGMOID = 0, 1, 2

Plane = Tuple[int, int]  # (buffer, channel)


@dataclass(frozen=True)
class View:
    """A tensor as the engine sees it: ``planes[c]`` holds channel c, each ``height`` x ``width``."""

    planes: Tuple[Plane, ...]
    height: int
    width: int

    @property
    def channels(self) -> int:
        return len(self.planes)

    def split(self, sizes: Sequence[int]) -> List["View"]:
        out, start = [], 0
        for size in sizes:
            out.append(View(self.planes[start:start + size], self.height, self.width))
            start += size
        return out

    def shuffled(self, groups: int = 2) -> "View":
        """ShuffleNet's channel shuffle: output channel ``c * groups + g`` is input channel ``g * (C / groups) + c``."""
        per_group = self.channels // groups
        return View(tuple(self.planes[g * per_group + c] for c in range(per_group) for g in range(groups)),
                    self.height, self.width)


def concat(views: Sequence[View]) -> View:
    return View(tuple(p for v in views for p in v.planes), views[0].height, views[0].width)


@dataclass
class _Op:
    fields: List[Union[int, View]]
    reads: List[View]
    writes: List[View]


@dataclass
class Program:
    """Buffers (channels, height, width), ops and weights; :meth:`to_bytes` lays them out for the engine."""

    buffers: List[Tuple[int, int, int]] = field(default_factory=list)
    ops: List[_Op] = field(default_factory=list)
    weights: List[np.ndarray] = field(default_factory=list)
    weight_count: int = 0
    input: Optional[View] = None
    output: Optional[View] = None

    def new_buffer(self, channels: int, height: int, width: int) -> View:
        self.buffers.append((channels, height, width))
        b = len(self.buffers) - 1
        return View(tuple((b, c) for c in range(channels)), height, width)

    def _weights(self, array) -> int:
        flat = np.ascontiguousarray(np.asarray(array, dtype=np.float32).reshape(-1))
        offset = self.weight_count
        self.weights.append(flat)
        self.weight_count += flat.size
        return offset

    def _emit(self, kind: int, act: int, cin: int, cout: int, x: View, out: View, extra: List, reads: List[View]) -> None:
        header = [kind, act, cin, cout, x.height, x.width, out.height, out.width]
        self.ops.append(_Op(header + extra, reads, [out]))

    # ------------------------------------------------------------------ ops
    def conv(self, x: View, weight, bias, stride: int, padding: int, act: int) -> View:
        cout, cin, k, _ = weight.shape
        h = (x.height + 2 * padding - k) // stride + 1
        w = (x.width + 2 * padding - k) // stride + 1
        out = self.new_buffer(cout, h, w)
        self._emit(_CONV, act, cin, cout, x, out,
                   [k, stride, padding, self._weights(weight), self._weights(bias), x, out], [x])
        return out

    def depthwise(self, x: View, weight, bias, stride: int, act: int, scale: Optional[View] = None, shift: int = -1) -> View:
        c = x.channels
        out = self.new_buffer(c, (x.height - 1) // stride + 1, (x.width - 1) // stride + 1)
        extra = [stride, shift if scale is not None else -1, self._weights(weight), self._weights(bias), x, out]
        if scale is not None:
            extra.append(scale)
        self._emit(_DEPTHWISE, act, c, c, x, out, extra, [x] + ([scale] if scale is not None else []))
        return out

    def pointwise(self, x: View, weight, bias, act: int) -> View:
        cout = weight.shape[0]
        out = self.new_buffer(cout, x.height, x.width)
        self._emit(_POINTWISE, act, x.channels, cout, x, out,
                   [self._weights(weight.reshape(cout, -1)), self._weights(bias), x, out], [x])
        return out

    def pool(self, x: View, fy: int, fx: int) -> View:
        out = self.new_buffer(x.channels, x.height // fy, x.width // fx)
        self._emit(_POOL, _NONE, x.channels, x.channels, x, out, [x, out], [x])
        return out

    def scale(self, x: View, factors: View) -> View:
        """x * factors per channel (factors 1 x 1 planes), written over x: x is not read again."""
        self._emit(_SCALE, _NONE, x.channels, x.channels, x, x, [x, factors, x], [x, factors])
        return x

    def sum(self, terms: Sequence[Tuple[int, int, View]], act: int, in_place: bool = False) -> View:
        """act(sum of coef * nearest-upsample(view, 2**shift)) over ``terms`` (coef, shift, view), in order.

        ``in_place``: written over the first term's planes (unshifted; the caller knows they are not read again),
        which are then still in cache, instead of new memory."""
        c = terms[0][2].channels
        h, w = terms[0][2].height << terms[0][1], terms[0][2].width << terms[0][1]
        if in_place and terms[0][1] != 0:
            raise ValueError("a sum is written in place over an unshifted first term only")
        out = terms[0][2] if in_place else self.new_buffer(c, h, w)
        extra: List = [len(terms)]
        for coef, shift, view in terms:
            extra += [shift, coef, view]
        self._emit(_SUM, act, c, c, out, out, extra + [out], [t[2] for t in terms])
        return out

    def bilinear_add(self, x: View, low: View) -> View:
        """x + bilinear x2 upsampling of ``low`` (aligned corners)."""
        out = self.new_buffer(x.channels, x.height, x.width)
        self._emit(_BILINEAR_ADD, _NONE, x.channels, x.channels, low, out, [x, low, out], [x, low])
        return out

    # ------------------------------------------------------------------ layout
    def _arena(self) -> Tuple[List[int], int]:
        """Offsets (floats) of every buffer: first fit, a buffer's memory reused after its last read."""
        n = len(self.buffers)
        size = [c * h * w for c, h, w in self.buffers]
        first_write = [len(self.ops)] * n
        last_use = [-1] * n
        for i, op in enumerate(self.ops):
            for v in op.reads + op.writes:
                for b in {p[0] for p in v.planes}:
                    last_use[b] = max(last_use[b], i)
            for v in op.writes:
                for b in {p[0] for p in v.planes}:
                    first_write[b] = min(first_write[b], i)
        # The engine runs two kinds of op inside the op before them (engine.c, when it reads the program):
        # a global mean right after a depthwise conv of it, and a ReLU copy right after a sum of it (row 0
        # of a fuse layer). Their outputs are written while that op runs, so their memory must not be its
        # inputs' even though it reads them last.
        for i in range(1, len(self.ops)):
            op, prev = self.ops[i], self.ops[i - 1]
            if op.reads[0] != prev.writes[0]:
                continue
            mean = (op.fields[0] == _POOL and prev.fields[0] == _DEPTHWISE
                    and op.writes[0].height == op.writes[0].width == 1)
            relu_copy = (op.fields[0] == prev.fields[0] == _SUM and op.fields[8] == 1
                         and op.fields[1] == _RELU and prev.fields[1] == _NONE)
            if mean or relu_copy:
                for b in {p[0] for p in op.writes[0].planes}:
                    first_write[b] = min(first_write[b], i - 1)
        in_b, out_b = self.input.planes[0][0], self.output.planes[0][0]
        first_write[in_b], last_use[out_b] = -1, len(self.ops)
        offsets = [0] * n
        live: List[Tuple[int, int, int]] = []  # (offset, end, buffer)
        arena = 0
        for b in sorted(range(n), key=lambda b: (first_write[b], b)):
            live = [iv for iv in live if last_use[iv[2]] >= first_write[b]]  # lifetimes overlap unless freed before
            start = 0
            for lo, hi, _ in sorted(live):
                if start + size[b] <= lo:
                    break
                start = max(start, (hi + 15) // 16 * 16)
            offsets[b] = start
            live.append((start, start + size[b], b))
            arena = max(arena, start + size[b])
        return offsets, arena

    def to_bytes(self, metadata: Optional[Dict] = None) -> bytes:
        first_plane, total = [], 0
        for c, _, _ in self.buffers:
            first_plane.append(total)
            total += c
        offsets, arena = self._arena()
        ints: List[int] = [len(self.buffers)]
        for (c, h, w), off in zip(self.buffers, offsets):
            ints += [c, h, w, off]
        ints += [arena, self.input.planes[0][0], self.output.planes[0][0], len(self.ops)]
        for op in self.ops:
            for f in op.fields:
                if isinstance(f, View):
                    ints.append(f.channels)
                    ints += [first_plane[b] + c for b, c in f.planes]
                else:
                    ints.append(int(f))
        weights = np.concatenate(self.weights) if self.weights else np.zeros(0, np.float32)
        meta = json.dumps(metadata or {}, sort_keys=True).encode("utf-8")
        return b"".join([ENGINE_HEADER.pack(ENGINE_MAGIC, len(ints), weights.size, len(meta)),
                         np.asarray(ints, dtype="<i4").tobytes(), weights.astype("<f4").tobytes(), meta])


# ---------------------------------------------------------------------- the network

def _conv_bn(p: Program, x: View, conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d], act: int) -> View:
    """A conv with its batch norm folded in: depthwise, pointwise or dense, as the conv is."""
    w, b = folded_conv(conv, bn)
    if conv.groups > 1:
        if conv.groups != conv.in_channels:
            raise ValueError(f"the engine compiles depthwise or ungrouped convs, not {conv.groups} groups of {conv}")
        return p.depthwise(x, w, b, conv.stride[0], act)
    if conv.kernel_size == (1, 1):
        return p.pointwise(x, w, b, act)
    return p.conv(x, w, b, conv.stride[0], conv.padding[0], act)


def _conv_module(p: Program, x: View, m: ConvModule) -> View:
    return _conv_bn(p, x, m.conv, m.bn, _ACTIVATIONS[type(m.activate)])


def _conv_bn_sequence(p: Program, x: View, seq: nn.Sequential, start: int = 0) -> View:
    """A Sequential of (conv, bn)[, ReLU] pairs as the fuse and transition layers store them, from module ``start``."""
    mods = list(seq)
    i = start
    while i < len(mods):
        conv, bn = mods[i], mods[i + 1]
        i += 2
        relu = i < len(mods) and isinstance(mods[i], nn.ReLU)
        if relu:
            i += 1
        x = _conv_bn(p, x, conv, bn, _RELU if relu else _NONE)
    return x


def _stem(p: Program, x: View, stem: Stem) -> View:
    x = _conv_module(p, x, stem.conv1)
    x1, x2 = x.split([stem.branch_channels, stem.stem_channels - stem.branch_channels])
    for m in (stem.expand_conv, stem.depthwise_conv, stem.linear_conv):
        x2 = _conv_module(p, x2, m)
    for m in stem.branch1:
        x1 = _conv_module(p, x1, m)
    return concat([x1, x2]).shuffled(2)


def _lite_block(p: Program, xs: List[View], block: ConditionalChannelWeighting) -> List[View]:
    halves = [x.split([c, c]) for x, c in zip(xs, block.branch_channels)]
    weighted = [h[1] for h in halves]
    n = len(weighted)
    crw = block.cross_resolution_weighting
    pooled = [p.pool(s, 2 ** (n - 1 - i), 2 ** (n - 1 - i)) if i < n - 1 else s for i, s in enumerate(weighted)]
    weights = _conv_module(p, _conv_module(p, concat(pooled), crw.conv1), crw.conv2).split(block.branch_channels)
    out = []
    for i, (s, w, dw, sw) in enumerate(zip(weighted, weights, block.depthwise_convs, block.spatial_weighting)):
        wd, bd = folded_conv(dw.conv, dw.bn)
        y = p.depthwise(s, wd, bd, 1, _NONE, scale=w, shift=n - 1 - i)
        factors = _conv_module(p, _conv_module(p, p.pool(y, y.height, y.width), sw.conv1), sw.conv2)
        out.append(p.scale(y, factors))
    return [concat([h[0], y]).shuffled(2) for h, y in zip(halves, out)]


def _shuffle_unit(p: Program, x: View, unit: ShuffleUnit) -> View:
    if unit.stride != 1:
        raise ValueError("the engine compiles stride-1 shuffle units only (those of the naive modules)")
    x1, x2 = x.split([unit.branch_features, unit.branch_features])
    for m in unit.branch2:
        x2 = _conv_module(p, x2, m)
    return concat([x1, x2]).shuffled(2)


def _fuse(p: Program, out: List[View], module: LiteHRModule) -> List[View]:
    # The official fuse (see LiteHRModule._fuse): y_0 = 2 x_0 + sum_j f_0j(x_j), and later rows
    # read y_0 before its ReLU.
    x0 = out[0]
    fused = []
    rows = module.fuse_layers
    first: Dict[Tuple[int, int], View] = {}
    for i, row in enumerate(rows):
        if i == 1:
            first = _first_downsamplings(p, [x0] + list(out[1:]), rows)
        terms = [(2, 0, x0 if i == 0 else _conv_bn_chain(p, x0, row[0], first.get((i, 0))))]
        for j in range(1, module.num_branches):
            if j == i:
                terms.append((1, 0, out[j]))
            elif j > i:
                conv, bn, _ = list(row[j])
                terms.append((1, j - i, _conv_bn(p, out[j], conv, bn, _NONE)))
            else:
                terms.append((1, 0, _conv_bn_chain(p, out[j], row[j], first.get((i, j)))))
        if i == 0 and len(rows) > 1:
            # Over x_0, which nothing reads after this sum, when its rows are whole vectors (narrower rows in place
            # cost the engine exact stores at each row's end): the module's largest planes, then in cache.
            x0 = p.sum(terms, _NONE, in_place=x0.width % 16 == 0)
            fused.append(p.sum([(1, 0, x0)], _RELU))
        else:
            fused.append(p.sum(terms, _RELU))
    return fused


def _first_downsamplings(p: Program, sources: List[View], rows) -> Dict[Tuple[int, int], View]:
    """The first conv (a stride-2 depthwise conv and its batch norm) of every downsampling chain f_ij (j < i, i >= 1),
    emitted together per source branch j: the engine runs depthwise convs of one input side by side, preparing each
    input plane once. Keyed (i, j); a chain whose first pair is followed by a ReLU is left out."""
    first = {}
    for j, src in enumerate(sources):
        for i in range(max(1, j + 1), len(rows)):
            mods = list(rows[i][j][0])
            if len(mods) > 2 and not isinstance(mods[2], nn.ReLU):
                first[(i, j)] = _conv_bn(p, src, mods[0], mods[1], _NONE)
    return first


def _conv_bn_chain(p: Program, x: View, steps: nn.Sequential, first: Optional[View] = None) -> View:
    """The chain of (conv, bn)[, ReLU] steps on ``x``; ``first``: the first pair's output, already emitted."""
    for k, step in enumerate(steps):
        x = _conv_bn_sequence(p, first, step, start=2) if k == 0 and first is not None else _conv_bn_sequence(p, x, step)
    return x


def _module(p: Program, xs: List[View], module: LiteHRModule) -> List[View]:
    if module.num_branches == 1:
        raise ValueError("the engine does not compile single-branch modules (no released configuration has one)")
    if module.module_type == "LITE":
        for block in module.layers:
            xs = _lite_block(p, xs, block)
    else:
        outs = []
        for branch, x in zip(module.layers, xs):
            for unit in branch:
                x = _shuffle_unit(p, x, unit)
            outs.append(x)
        xs = outs
    if module.with_fuse:
        return _fuse(p, xs, module)
    return xs if module.multiscale_output else [xs[0]]


def _head(p: Program, xs: List[View], head: IterativeHead) -> List[View]:
    y, last = [], None
    for s, project in zip(xs[::-1], head.projects):
        if last is not None:
            s = p.bilinear_add(s, last)
        last = _conv_module(p, _conv_module(p, s, project.depthwise_conv), project.pointwise_conv)
        y.append(last)
    return y[::-1]


def compile_model(model: LiteHRNetPose, input_size: Tuple[int, int]) -> Program:
    """The engine program of ``model`` (in eval mode) for 1 x 3 x H x W inputs, ``input_size`` = (H, W)."""
    if not isinstance(model, LiteHRNetPose):
        raise TypeError(f"the lite-hrnet engine compiles LiteHRNetPose models only, not a {type(model).__name__}")
    h, w = input_size
    check_input_shape((1, 3, h, w))
    backbone = model.backbone
    p = Program()
    with torch.no_grad():
        p.input = p.new_buffer(3, h, w)
        ys = [_stem(p, p.input, backbone.stem)]
        for i in range(backbone.num_stages):
            xs = []
            for j, t in enumerate(getattr(backbone, f"transition{i}")):
                if t is None:
                    xs.append(ys[j])
                else:
                    src = ys[j] if j < len(ys) else ys[-1]
                    xs.append(_conv_bn_chain(p, src, t) if isinstance(t[0], nn.Sequential) else _conv_bn_sequence(p, src, t))
            for module in getattr(backbone, f"stage{i}"):
                xs = _module(p, xs, module)
            ys = xs
        if backbone.with_head:
            ys = _head(p, ys, backbone.head_layer)
        final = model.keypoint_head.final_layer
        p.output = p.pointwise(ys[0], final.weight.detach().double(), final.bias.detach().double(), _NONE)
    return p


def write_program(model: LiteHRNetPose, input_size: Tuple[int, int], path: Union[str, os.PathLike],
                  metadata: Optional[Dict] = None) -> int:
    """Compile ``model`` and write its ``.lhrn`` file atomically; returns the file size in bytes."""
    data = compile_model(model.eval(), input_size).to_bytes(metadata)
    with atomic_write(path, "wb") as f:
        f.write(data)
    return len(data)

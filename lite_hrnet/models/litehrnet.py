"""Lite-HRNet (Yu et al., CVPR 2021) for top-down heatmap pose estimation.

The modules mirror the official implementation (HRNet/Lite-HRNet and mmpose)
block for block and attribute for attribute, so that the released checkpoints
load with identical state_dict keys and produce the same heatmaps. The code is
written to export cleanly: channel counts and resampling factors are fixed at
construction, so no traced value depends on a tensor's shape.

Shapes: inputs are N x 3 x H x W normalized RGB with H and W multiples of 32;
the branch of index b runs at stride 4 * 2**b; heatmaps are N x K x H/4 x W/4.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..specs import ArchSpec


def channel_shuffle(x: Tensor, groups: int, channels: int) -> Tensor:
    """ShuffleNet channel shuffle of an N x C x H x W tensor with C = ``channels`` known statically."""
    return x.unflatten(1, (groups, channels // groups)).transpose(1, 2).flatten(1, 2)


class ConvModule(nn.Module):
    """Conv2d, optional BatchNorm, optional activation (mmcv's ``ConvModule`` layout).

    The convolution has a bias only when there is no norm layer, as in mmcv.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        norm: bool = True,
        act: Optional[str] = "relu",
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=not norm
        )
        self.bn = nn.BatchNorm2d(out_channels) if norm else None
        if act == "relu":
            self.activate: nn.Module = nn.ReLU()
        elif act == "sigmoid":
            self.activate = nn.Sigmoid()
        elif act is None:
            self.activate = nn.Identity()
        else:
            raise ValueError(f"unsupported activation {act!r}")

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.activate(x)


class DepthwiseSeparableConvModule(nn.Module):
    """3x3 depthwise conv + BN, then 1x1 pointwise conv + BN + ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, 3, 1, 1, groups=in_channels, act=None)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class SpatialWeighting(nn.Module):
    """Squeeze-and-excitation style weighting of one branch (the paper's H_s)."""

    def __init__(self, channels: int, ratio: int = 4) -> None:
        super().__init__()
        self.conv1 = ConvModule(channels, int(channels / ratio), norm=False, act="relu")
        self.conv2 = ConvModule(int(channels / ratio), channels, norm=False, act="sigmoid")

    def forward(self, x: Tensor) -> Tensor:
        weights = F.adaptive_avg_pool2d(x, 1)
        return x * self.conv2(self.conv1(weights))


class CrossResolutionWeighting(nn.Module):
    """Weights computed from all branches pooled to the lowest resolution (the paper's H).

    Branch ``i`` of ``n`` is ``2 ** (n - 1 - i)`` times larger than the smallest,
    so pooling is an average pool with that integer kernel and stride, and the
    weights go back up by nearest-neighbour upsampling with the same factor. For
    inputs that are multiples of 32 this equals the official adaptive pooling.
    """

    def __init__(self, channels: Sequence[int], ratio: int = 16) -> None:
        super().__init__()
        self.channels = list(channels)
        total = sum(self.channels)
        self.conv1 = ConvModule(total, int(total / ratio), act="relu")
        self.conv2 = ConvModule(int(total / ratio), total, act="sigmoid")

    def forward(self, x: List[Tensor]) -> List[Tensor]:
        n = len(x)
        factors = [2 ** (n - 1 - i) for i in range(n)]
        pooled = [F.avg_pool2d(s, f, f) if f > 1 else s for s, f in zip(x, factors)]
        weights = self.conv2(self.conv1(torch.cat(pooled, dim=1)))
        out = []
        for s, w, f in zip(x, torch.split(weights, self.channels, dim=1), factors):
            if f > 1:
                w = F.interpolate(w, scale_factor=float(f), mode="nearest")
            out.append(s * w)
        return out


class ConditionalChannelWeighting(nn.Module):
    """The Lite-HRNet block: half the channels pass through, half are weighted.

    The weighted half goes through cross-resolution weighting, a 3x3 depthwise
    conv and spatial weighting; the halves are concatenated and shuffled.
    """

    def __init__(self, in_channels: Sequence[int], reduce_ratio: int) -> None:
        super().__init__()
        self.in_channels = list(in_channels)
        branch_channels = [c // 2 for c in self.in_channels]
        self.branch_channels = branch_channels
        self.cross_resolution_weighting = CrossResolutionWeighting(branch_channels, ratio=reduce_ratio)
        self.depthwise_convs = nn.ModuleList(
            [ConvModule(c, c, 3, 1, 1, groups=c, act=None) for c in branch_channels]
        )
        self.spatial_weighting = nn.ModuleList([SpatialWeighting(c, ratio=4) for c in branch_channels])

    def forward(self, x: List[Tensor]) -> List[Tensor]:
        halves = [torch.split(s, [c, c], dim=1) for s, c in zip(x, self.branch_channels)]
        kept = [h[0] for h in halves]
        weighted = self.cross_resolution_weighting([h[1] for h in halves])
        weighted = [sw(dw(s)) for s, dw, sw in zip(weighted, self.depthwise_convs, self.spatial_weighting)]
        return [
            channel_shuffle(torch.cat([a, b], dim=1), 2, c)
            for a, b, c in zip(kept, weighted, self.in_channels)
        ]


class Stem(nn.Module):
    """Stride-2 3x3 conv followed by a ShuffleNet-style stride-2 block (stride 4 in total)."""

    def __init__(self, in_channels: int, stem_channels: int, out_channels: int, expand_ratio: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stem_channels = stem_channels
        mid_channels = int(round(stem_channels * expand_ratio))
        branch_channels = stem_channels // 2
        if stem_channels == out_channels:
            inc_channels = out_channels - branch_channels
            linear_out = branch_channels
        else:
            inc_channels = out_channels - stem_channels
            linear_out = stem_channels
        self.branch_channels = branch_channels

        self.conv1 = ConvModule(in_channels, stem_channels, 3, 2, 1)
        self.branch1 = nn.Sequential(
            ConvModule(branch_channels, branch_channels, 3, 2, 1, groups=branch_channels, act=None),
            ConvModule(branch_channels, inc_channels, 1),
        )
        self.expand_conv = ConvModule(branch_channels, mid_channels, 1)
        self.depthwise_conv = ConvModule(mid_channels, mid_channels, 3, 2, 1, groups=mid_channels, act=None)
        self.linear_conv = ConvModule(mid_channels, linear_out, 1)
        self._cat_channels = inc_channels + linear_out

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x1, x2 = torch.split(x, [self.branch_channels, self.stem_channels - self.branch_channels], dim=1)
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(x2)))
        return channel_shuffle(torch.cat((self.branch1(x1), x2), dim=1), 2, self._cat_channels)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit (stride 1 or 2), the block of the naive Lite-HRNet."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        branch_features = out_channels // 2
        self.branch_features = branch_features
        self.out_channels = out_channels
        if stride == 1 and in_channels != branch_features * 2:
            raise ValueError(f"in_channels ({in_channels}) must be 2 * branch features when stride is 1")
        if stride > 1:
            self.branch1 = nn.Sequential(
                ConvModule(in_channels, in_channels, 3, stride, 1, groups=in_channels, act=None),
                ConvModule(in_channels, branch_features, 1),
            )
        self.branch2 = nn.Sequential(
            ConvModule(in_channels if stride > 1 else branch_features, branch_features, 1),
            ConvModule(branch_features, branch_features, 3, stride, 1, groups=branch_features, act=None),
            ConvModule(branch_features, branch_features, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            x1, x2 = torch.split(x, [self.branch_features, self.branch_features], dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        return channel_shuffle(out, 2, self.out_channels)


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1, groups: int = 1) -> List[nn.Module]:
    """Bias-free conv + BN as two plain Sequential entries (the released key layout of fuse/transition layers)."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
    ]


class LiteHRModule(nn.Module):
    """One high-resolution module: parallel branches, then fusion across resolutions."""

    def __init__(
        self,
        num_branches: int,
        num_blocks: int,
        in_channels: Sequence[int],
        reduce_ratio: int,
        module_type: str,
        multiscale_output: bool = True,
        with_fuse: bool = True,
    ) -> None:
        super().__init__()
        if num_branches != len(in_channels):
            raise ValueError(f"num_branches ({num_branches}) != len(in_channels) ({len(in_channels)})")
        self.in_channels = list(in_channels)
        self.num_branches = num_branches
        self.module_type = module_type
        self.multiscale_output = multiscale_output
        self.with_fuse = with_fuse

        if module_type == "LITE":
            self.layers = nn.Sequential(
                *[ConditionalChannelWeighting(self.in_channels, reduce_ratio) for _ in range(num_blocks)]
            )
        elif module_type == "NAIVE":
            self.layers = nn.ModuleList(
                [nn.Sequential(*[ShuffleUnit(c, c) for _ in range(num_blocks)]) for c in self.in_channels]
            )
        else:
            raise ValueError(f"module_type must be 'LITE' or 'NAIVE', not {module_type!r}")
        if with_fuse:
            self.fuse_layers = self._make_fuse_layers()
            self.relu = nn.ReLU()

    def _make_fuse_layers(self) -> Optional[nn.ModuleList]:
        if self.num_branches == 1:
            return None
        c = self.in_channels
        fuse_layers = []
        for i in range(self.num_branches if self.multiscale_output else 1):
            row: List[Optional[nn.Module]] = []
            for j in range(self.num_branches):
                if j > i:
                    row.append(nn.Sequential(*_conv_bn(c[j], c[i]), nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:
                    steps = []
                    for k in range(i - j):
                        if k == i - j - 1:
                            steps.append(nn.Sequential(*_conv_bn(c[j], c[j], 3, 2, c[j]), *_conv_bn(c[j], c[i])))
                        else:
                            steps.append(
                                nn.Sequential(*_conv_bn(c[j], c[j], 3, 2, c[j]), *_conv_bn(c[j], c[j]), nn.ReLU(inplace=True))
                            )
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(row))
        return nn.ModuleList(fuse_layers)

    def forward(self, x: List[Tensor]) -> List[Tensor]:
        if self.num_branches == 1:
            return [self.layers[0](x[0])]
        if self.module_type == "LITE":
            out = self.layers(x)
        else:
            out = [branch(s) for branch, s in zip(self.layers, x)]
        if self.with_fuse:
            return self._fuse(out)
        return out if self.multiscale_output else [out[0]]

    def _fuse(self, out: List[Tensor]) -> List[Tensor]:
        # The official fuse accumulates into out[0] in place, and its loop over j
        # starts at 0 for every output, so branch 0's term is counted twice:
        #   y_0 = 2 * x_0 + sum_{j>0} f_0j(x_j)        (and x_0 is overwritten by y_0)
        #   y_i = 2 * f_i0(y_0) + sum_{j>0} f_ij(x_j)  for i > 0
        # The released checkpoints were trained that way, so it is reproduced
        # here in the same order of additions. In training, f_i0 runs twice as
        # upstream does, so BatchNorm statistics update exactly as they did.
        x0 = out[0]
        fused = []
        for i, row in enumerate(self.fuse_layers):
            if i == 0:
                y = x0 + x0
            else:
                first = row[0](x0)
                y = first + (row[0](x0) if self.training else first)
            for j in range(1, self.num_branches):
                y = y + (out[j] if i == j else row[j](out[j]))
            if i == 0:
                x0 = y
            fused.append(self.relu(y))
        return fused


class IterativeHead(nn.Module):
    """Merges branches from the lowest resolution up: upsample x2 bilinearly, add, project."""

    def __init__(self, in_channels: Sequence[int]) -> None:
        super().__init__()
        rev = list(in_channels)[::-1]
        self.in_channels = rev
        self.projects = nn.ModuleList(
            [DepthwiseSeparableConvModule(rev[i], rev[i + 1] if i < len(rev) - 1 else rev[i]) for i in range(len(rev))]
        )

    def forward(self, x: List[Tensor]) -> List[Tensor]:
        y = []
        last: Optional[Tensor] = None
        for s, project in zip(x[::-1], self.projects):
            if last is not None:
                # Each branch is exactly twice the size of the one below, so a
                # static factor equals the official resize to the branch's size.
                s = s + F.interpolate(last, scale_factor=2.0, mode="bilinear", align_corners=True)
            last = project(s)
            y.append(last)
        return y[::-1]


class LiteHRNet(nn.Module):
    """The Lite-HRNet backbone; returns the stride-4 feature map N x C x H/4 x W/4."""

    def __init__(self, arch: ArchSpec, in_channels: int = 3) -> None:
        super().__init__()
        self.arch = arch
        self.stem = Stem(in_channels, arch.stem.stem_channels, arch.stem.out_channels, arch.stem.expand_ratio)
        self.num_stages = arch.num_stages
        channels_last = [self.stem.out_channels]
        for i in range(self.num_stages):
            channels = list(arch.num_channels[i])
            self.add_module(f"transition{i}", self._make_transition_layer(channels_last, channels))
            stage = nn.Sequential(
                *[
                    LiteHRModule(
                        arch.num_branches[i],
                        arch.num_blocks[i],
                        channels,
                        arch.reduce_ratios[i],
                        arch.module_type[i],
                        multiscale_output=True,
                        with_fuse=arch.with_fuse[i],
                    )
                    for _ in range(arch.num_modules[i])
                ]
            )
            self.add_module(f"stage{i}", stage)
            channels_last = channels
        self.with_head = arch.with_head
        if self.with_head:
            self.head_layer = IterativeHead(channels_last)
        self.out_channels = channels_last[0]

    @staticmethod
    def _make_transition_layer(pre: List[int], cur: List[int]) -> nn.ModuleList:
        layers: List[Optional[nn.Module]] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                if c != pre[i]:
                    layers.append(nn.Sequential(*_conv_bn(pre[i], pre[i], 3, 1, pre[i]), *_conv_bn(pre[i], c), nn.ReLU()))
                else:
                    layers.append(None)
            else:
                steps = []
                for j in range(i + 1 - len(pre)):
                    cin = pre[-1]
                    cout = c if j == i - len(pre) else cin
                    steps.append(nn.Sequential(*_conv_bn(cin, cin, 3, 2, cin), *_conv_bn(cin, cout), nn.ReLU()))
                layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    def forward(self, x: Tensor) -> Tensor:
        y_list = [self.stem(x)]
        for i in range(self.num_stages):
            transition = getattr(self, f"transition{i}")
            x_list = []
            for j, t in enumerate(transition):
                if t is None:
                    x_list.append(y_list[j])
                else:
                    x_list.append(t(y_list[j] if j < len(y_list) else y_list[-1]))
            y_list = getattr(self, f"stage{i}")(x_list)
        if self.with_head:
            y_list = self.head_layer(y_list)
        return y_list[0]


class TopDownHead(nn.Module):
    """The official ``TopdownHeatmapSimpleHead`` with no deconvolutions: one 1x1 conv to K heatmaps."""

    def __init__(self, in_channels: int, num_joints: int) -> None:
        super().__init__()
        self.final_layer = nn.Conv2d(in_channels, num_joints, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.final_layer(x)


class LiteHRNetPose(nn.Module):
    """Top-down pose network: ``backbone`` + ``keypoint_head`` (the released checkpoint layout).

    forward: N x 3 x H x W normalized RGB (H, W multiples of 32) -> N x K x H/4 x W/4 heatmaps.
    """

    def __init__(self, arch: ArchSpec, num_joints: int) -> None:
        super().__init__()
        self.backbone = LiteHRNet(arch)
        # The head follows the backbone (the naive configs declare 40 channels for a 30-channel backbone).
        self.keypoint_head = TopDownHead(self.backbone.out_channels, num_joints)
        self.num_joints = num_joints

    def forward(self, x: Tensor) -> Tensor:
        if not (torch.jit.is_tracing() or torch.jit.is_scripting()):
            check_input_shape(tuple(x.shape))
        return self.keypoint_head(self.backbone(x))

    def init_weights(self) -> None:
        """The official initialization for training from scratch: conv N(0, 0.001), BN (1, 0)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def check_input_shape(shape: tuple) -> None:
    """Raise ValueError unless ``shape`` is N x 3 x H x W with H and W multiples of 32."""
    if len(shape) != 4 or shape[1] != 3:
        raise ValueError(f"input must be N x 3 x H x W, got shape {tuple(shape)}")
    h, w = int(shape[2]), int(shape[3])
    if h % 32 or w % 32 or h == 0 or w == 0:
        raise ValueError(
            f"input height and width must be positive multiples of 32 (the lowest branch runs at stride 32), got {h}x{w}"
        )

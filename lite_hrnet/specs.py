"""Named model configurations as plain data (no torch).

Everything the pipeline, the runtimes and the exporters need to know about a
registered model lives here: the architecture description of the official
config, the input size, the joint set (names, flip pairs, skeleton, OKS
sigmas), the input normalization and the released checkpoint, if any.

Sizes are written (height, width) throughout, as in the config names
(``256x192`` is 256 high and 192 wide).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

# ImageNet normalization of the official configs, on RGB pixel values in [0, 255].
IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)

HEATMAP_STRIDE = 4


@dataclass(frozen=True)
class JointSet:
    """A keypoint convention: joint names, left/right pairs, drawing edges, OKS sigmas."""

    name: str
    keypoint_names: Tuple[str, ...]
    flip_pairs: Tuple[Tuple[int, int], ...]
    skeleton: Tuple[Tuple[int, int], ...]
    sigmas: Tuple[float, ...]

    @property
    def num_joints(self) -> int:
        return len(self.keypoint_names)


COCO_JOINTS = JointSet(
    name="coco",
    keypoint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    skeleton=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
        (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
        (1, 3), (2, 4), (3, 5), (4, 6),
    ),
    # The official COCO keypoint OKS sigmas.
    sigmas=(
        0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
        0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
    ),
)

MPII_JOINTS = JointSet(
    name="mpii",
    keypoint_names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee",
        "left_ankle", "pelvis", "thorax", "upper_neck", "head_top",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
        "left_elbow", "left_wrist",
    ),
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    skeleton=(
        (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8),
        (8, 9), (8, 12), (12, 11), (11, 10), (8, 13), (13, 14), (14, 15),
    ),
    # MPII is scored with PCKh; these OKS-style sigmas only serve AP on MPII-like data.
    sigmas=(
        0.089, 0.087, 0.107, 0.107, 0.087, 0.089, 0.107, 0.079, 0.079,
        0.035, 0.062, 0.072, 0.079, 0.079, 0.072, 0.062,
    ),
)

JOINT_SETS: Dict[str, JointSet] = {"coco": COCO_JOINTS, "mpii": MPII_JOINTS}


@dataclass(frozen=True)
class StemSpec:
    stem_channels: int = 32
    out_channels: int = 32
    expand_ratio: int = 1


@dataclass(frozen=True)
class ArchSpec:
    """The ``extra`` dict of the official backbone configs, as data.

    ``module_type`` is ``"LITE"`` (conditional channel weighting) or ``"NAIVE"``
    (ShuffleNet blocks). One entry per stage in every tuple.
    """

    stem: StemSpec
    num_modules: Tuple[int, ...]
    num_branches: Tuple[int, ...]
    num_blocks: Tuple[int, ...]
    module_type: Tuple[str, ...]
    reduce_ratios: Tuple[int, ...]
    num_channels: Tuple[Tuple[int, ...], ...]
    with_fuse: Tuple[bool, ...] = (True, True, True)
    with_head: bool = True

    @property
    def num_stages(self) -> int:
        return len(self.num_modules)

    @property
    def out_channels(self) -> int:
        """Channels of the stride-4 feature map the keypoint head reads."""
        return self.num_channels[-1][0]


def _arch(modules: Tuple[int, ...], module_type: str, width: int) -> ArchSpec:
    return ArchSpec(
        stem=StemSpec(),
        num_modules=modules,
        num_branches=(2, 3, 4),
        num_blocks=(2, 2, 2),
        module_type=(module_type,) * 3,
        reduce_ratios=(8, 8, 8) if module_type == "LITE" else (1, 1, 1),
        num_channels=tuple(tuple(width * 2**i for i in range(n)) for n in (2, 3, 4)),
    )


ARCHS: Dict[str, ArchSpec] = {
    "litehrnet_18": _arch((2, 4, 2), "LITE", 40),
    "litehrnet_30": _arch((3, 8, 3), "LITE", 40),
    "naive_litehrnet_18": _arch((2, 4, 2), "NAIVE", 30),
    "wider_naive_litehrnet_18": _arch((2, 4, 2), "NAIVE", 40),
}


@dataclass(frozen=True)
class PretrainedWeights:
    """A released checkpoint: where it is and the SHA-256 prefix its file name carries."""

    url: str
    file_name: str
    sha256_prefix: str
    source: str


_MMPOSE_BASE = "https://download.openmmlab.com/mmpose/top_down/litehrnet/"


def _mmpose(file_name: str) -> PretrainedWeights:
    sha = file_name.split("-")[1].split("_")[0]
    return PretrainedWeights(_MMPOSE_BASE + file_name, file_name, sha, "mmpose model zoo")


@dataclass(frozen=True)
class ModelSpec:
    """Everything that a registered model name stands for.

    ``input_size`` is (height, width) in pixels of the network input crop; the
    heatmaps are ``input_size / 4``. ``mean`` and ``std`` apply to RGB pixel
    values in [0, 255].
    """

    name: str
    arch_name: str
    arch: ArchSpec
    input_size: Tuple[int, int]
    joints: JointSet
    pretrained: Optional[PretrainedWeights] = None
    mean: Tuple[float, float, float] = IMAGENET_MEAN_RGB
    std: Tuple[float, float, float] = IMAGENET_STD_RGB
    color_order: str = "RGB"
    heatmap_stride: int = HEATMAP_STRIDE
    # Gaussian sigma of the training targets, in heatmap pixels (official configs).
    target_sigma: float = 2.0
    # A checkpoint shipped inside the package (lite_hrnet/assets/), loaded with weights="synthetic".
    bundled_weights: Optional[str] = None

    @property
    def num_joints(self) -> int:
        return self.joints.num_joints

    @property
    def heatmap_size(self) -> Tuple[int, int]:
        return (self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride)

    def metadata(self) -> Dict[str, object]:
        """The dict that exported files embed, JSON-serializable."""
        return {
            "model_name": self.name,
            "arch": self.arch_name,
            "input_size": list(self.input_size),
            "heatmap_size": list(self.heatmap_size),
            "heatmap_stride": self.heatmap_stride,
            "mean": list(self.mean),
            "std": list(self.std),
            "color_order": self.color_order,
            "num_joints": self.num_joints,
            "joint_set": self.joints.name,
            "keypoint_names": list(self.joints.keypoint_names),
            "flip_pairs": [list(p) for p in self.joints.flip_pairs],
            "skeleton": [list(e) for e in self.joints.skeleton],
            "sigmas": list(self.joints.sigmas),
        }


def _spec(
    arch_name: str, dataset: str, size: Tuple[int, int], weights: Optional[str] = None, bundled: Optional[str] = None
) -> ModelSpec:
    name = f"{arch_name}_{dataset}_{size[0]}x{size[1]}"
    return ModelSpec(
        name=name,
        arch_name=arch_name,
        arch=ARCHS[arch_name],
        input_size=size,
        joints=JOINT_SETS[dataset],
        pretrained=_mmpose(weights) if weights else None,
        target_sigma=3.0 if size[0] >= 384 else 2.0,
        bundled_weights=bundled,
    )


_SPECS = [
    _spec("litehrnet_18", "coco", (256, 192), "litehrnet18_coco_256x192-6bace359_20211230.pth"),
    _spec("litehrnet_18", "coco", (384, 288), "litehrnet18_coco_384x288-8d4dac48_20211230.pth"),
    _spec("litehrnet_30", "coco", (256, 192), "litehrnet30_coco_256x192-4176555b_20210626.pth"),
    _spec("litehrnet_30", "coco", (384, 288), "litehrnet30_coco_384x288-a3aef5c4_20210626.pth"),
    _spec("litehrnet_18", "mpii", (256, 256), "litehrnet18_mpii_256x256-cabd7984_20210623.pth"),
    _spec("litehrnet_30", "mpii", (256, 256), "litehrnet30_mpii_256x256-faae8bd8_20210622.pth"),
    # The naive variants were released by the paper's authors on OneDrive only,
    # which has no stable download URL: load them from a local path.
    _spec("naive_litehrnet_18", "coco", (256, 192)),
    _spec("wider_naive_litehrnet_18", "coco", (256, 192)),
    _spec("naive_litehrnet_18", "mpii", (256, 256)),
    _spec("wider_naive_litehrnet_18", "mpii", (256, 256)),
    # Not an official config: the toolkit's demo model, Lite-HRNet-18 trained on the
    # synthetic person set (lite-hrnet synth) at a size a 2-core CPU can train.
    _spec("litehrnet_18", "coco", (128, 96), bundled="litehrnet_18_coco_128x96_synthetic.pth"),
]

MODEL_SPECS: Dict[str, ModelSpec] = {s.name: s for s in _SPECS}


class UnknownModelError(KeyError):
    """Raised for a model name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def list_models() -> List[str]:
    """Names of the registered models, in registry order."""
    return list(MODEL_SPECS)


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered under ``name``.

    Raises:
        UnknownModelError: ``name`` is not registered; the message lists the known names.
    """
    try:
        return MODEL_SPECS[name]
    except (KeyError, TypeError):
        raise UnknownModelError(
            f"unknown model name {name!r}{did_you_mean(name)}; known models: {', '.join(MODEL_SPECS)}"
        ) from None


def did_you_mean(name: object) -> str:
    """``"; did you mean 'X'?"`` for the registered name closest to a misspelled ``name`` (difflib), else ``""``."""
    import difflib

    close = difflib.get_close_matches(str(name), list(MODEL_SPECS), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def spec_to_dict(spec: ModelSpec) -> Dict[str, object]:
    """A JSON-serializable view of a spec, for ``lite-hrnet info --json``."""
    out = spec.metadata()
    out["architecture"] = asdict(spec.arch)
    out["pretrained"] = asdict(spec.pretrained) if spec.pretrained else None
    return out


__all__ = [
    "ArchSpec", "JointSet", "ModelSpec", "PretrainedWeights", "StemSpec",
    "COCO_JOINTS", "MPII_JOINTS", "MODEL_SPECS", "UnknownModelError",
    "did_you_mean", "get_model_spec", "list_models", "spec_to_dict",
]

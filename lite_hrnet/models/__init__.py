"""Lite-HRNet networks, named configurations and checkpoint loading (needs torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install
    raise ImportError("the PyTorch models need torch: pip install 'lite-hrnet[torch]'") from None

from ..specs import MODEL_SPECS, ModelSpec, get_model_spec, list_models
from .checkpoint import CheckpointError, load_state_dict_strict, read_state_dict, resolve_pretrained
from .litehrnet import LiteHRNet, LiteHRNetPose, check_input_shape


def resolve_weights(weights: Union[str, Path], spec: Optional[ModelSpec] = None, progress: bool = True) -> Path:
    """A local checkpoint path for ``weights``.

    ``weights`` is an existing file, ``"synthetic"`` (the checkpoint bundled with
    the package for models that have one), or a registered model name (or
    ``"official"`` for ``spec``'s own) whose released checkpoint is downloaded.
    """
    path = Path(weights)
    if path.is_file():
        return path
    name = str(weights)
    if name == "synthetic":
        if spec is None or spec.bundled_weights is None:
            with_bundle = [n for n, s in MODEL_SPECS.items() if s.bundled_weights]
            raise CheckpointError(f"weights='synthetic' exists only for {', '.join(with_bundle)}")
        bundled = Path(__file__).resolve().parents[1] / "assets" / spec.bundled_weights
        if not bundled.is_file():
            raise CheckpointError(f"bundled checkpoint missing from the install: {bundled}")
        return bundled
    if name in ("official", "pretrained") and spec is not None:
        name = spec.name
    if name in MODEL_SPECS:
        pretrained = MODEL_SPECS[name].pretrained
        if pretrained is None:
            raise CheckpointError(f"model {name!r} has no downloadable checkpoint; pass a local file with weights=PATH")
        return resolve_pretrained(pretrained, progress=progress)
    raise CheckpointError(f"weights file not found: {weights} (give a checkpoint path or a registered model name)")


def create_model(
    name: str,
    weights: Optional[Union[str, Path]] = None,
    num_joints: Optional[int] = None,
    progress: bool = True,
):
    """Build a registered Lite-HRNet in eval mode.

    Args:
        name: a registered name, see :func:`list_models` (e.g. ``"litehrnet_18_coco_256x192"``).
        weights: a checkpoint path, or a registered model name (or ``"official"``) to
            download its released checkpoint. ``None`` gives the official random init.
        num_joints: override the number of output heatmaps (for fine-tuning on other joint sets).

    Returns:
        A ``LiteHRNetPose`` whose forward maps N x 3 x H x W normalized RGB to
        N x K x H/4 x W/4 heatmaps. ``model.spec`` is the :class:`ModelSpec`.
    """
    spec = get_model_spec(name)
    model = LiteHRNetPose(spec.arch, num_joints or spec.num_joints)
    model.spec = spec
    model.model_name = name
    model.init_weights()
    if weights is not None:
        path = resolve_weights(weights, spec, progress=progress)
        load_state_dict_strict(model, read_state_dict(path), source=str(path))
        model.checkpoint_path = str(path)
    return model.eval()


def calibrated_random_model(name: str, seed: int = 0, calib_count: int = 4):
    """A model with seeded random weights whose activations are of order 1, like a trained network's.

    The official init (N(0, 0.001) convolutions) gives heatmaps of order 1e-18:
    keypoint agreement then compares ties, and int8 calibration sees nothing.
    He-normal convolutions, random batch-norm affines and batch-norm statistics
    measured on synthetic people give realistic activation ranges; the speed is
    that of any weights. Not a trained model: the accuracy columns then measure
    how faithfully each runtime computes this network, not pose accuracy.
    """
    import torch

    from ..export.calibration import calibration_batch

    spec = get_model_spec(name)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = create_model(name)
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                torch.nn.init.normal_(m.weight, std=(2.0 / fan_in) ** 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
    x = torch.from_numpy(calibration_batch(None, spec.input_size, spec.mean, spec.std, count=calib_count, seed=5))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the one calibration batch
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


__all__ = [
    "CheckpointError", "calibrated_random_model", "LiteHRNet", "LiteHRNetPose", "check_input_shape", "create_model",
    "get_model_spec", "list_models", "resolve_weights",
]

"""Building a registered model: weights names resolved to files, the network created and loaded (needs torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from ..specs import MODEL_SPECS, ModelSpec, get_model_spec
from .checkpoint import CheckpointError, load_state_dict_strict, read_state_dict, resolve_pretrained
from .litehrnet import LiteHRNetPose

#: Checkpoints shipped inside the package (``ModelSpec.bundled_weights``), loaded with ``weights="synthetic"``.
ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"


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
        bundled = ASSETS_DIR / spec.bundled_weights
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


__all__ = ["ASSETS_DIR", "create_model", "resolve_weights"]

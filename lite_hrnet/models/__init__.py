"""Lite-HRNet networks, named configurations and checkpoint loading (needs torch).

The machinery lives in named modules: :mod:`.litehrnet` (the networks),
:mod:`._factory` (``create_model``, ``resolve_weights``), :mod:`.checkpoint`
(reading, downloading and writing checkpoints), :mod:`.complexity` (parameters, FLOPs),
:mod:`.deploy` (the deploy form: the same function with no channel split, concat or shuffle).
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install
    raise ImportError("the PyTorch models need torch: pip install 'lite-hrnet[torch]'") from None

from ..specs import get_model_spec, list_models
from ._factory import create_model, resolve_weights
from .checkpoint import CheckpointError
from .deploy import DeployLiteHRNetPose, deploy_model
from .litehrnet import LiteHRNet, LiteHRNetPose, check_input_shape

__all__ = [
    "CheckpointError", "DeployLiteHRNetPose", "LiteHRNet", "LiteHRNetPose", "check_input_shape", "create_model", "get_model_spec",
    "deploy_model", "list_models", "resolve_weights",
]

"""lite-hrnet: Lite-HRNet pose estimation from PyTorch to the devices where it runs.

Importing this package never imports torch: the model functions import it when called.
"""

from __future__ import annotations

from .specs import ModelSpec, get_model_spec, list_models

__version__ = "0.1.0"


def create_model(name, weights=None, num_joints=None, progress=True):
    """Build a registered Lite-HRNet (needs torch); see :func:`lite_hrnet.models.create_model`."""
    from .models import create_model as _create_model

    return _create_model(name, weights=weights, num_joints=num_joints, progress=progress)


# The pipeline needs OpenCV; load it on first use so `import lite_hrnet` stays light.
_LAZY = {"PoseEstimator": "pipeline", "PoseResult": "pipeline", "PoseTracker": "pipeline"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'lite_hrnet' has no attribute {name!r}")


__all__ = ["ModelSpec", "PoseEstimator", "PoseResult", "PoseTracker", "create_model", "get_model_spec",
           "list_models", "__version__"]

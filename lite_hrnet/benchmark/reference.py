"""The model a benchmark measures: its registered name and checkpoint, the fp32 PyTorch reference, its MAC count."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

from ..formats import get_format
from ..specs import MODEL_SPECS, get_model_spec

RANDOM_WEIGHTS = "random weights (seed 0, He-normal convolutions, batch norm calibrated on synthetic people)"
CHECKPOINT_SUFFIXES = get_format("torch").suffixes


def resolve_model(model: Union[str, os.PathLike], weights: Optional[Union[str, os.PathLike]],
                  model_name: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """``(registered name, weights)`` from NAME_OR_CHECKPOINT and ``--weights``."""
    text = os.fspath(model)
    path = Path(text)
    registered = text in MODEL_SPECS and not path.is_file()
    if not registered and (path.suffix.lower() in CHECKPOINT_SUFFIXES or path.exists()):
        return _checkpoint_model(path, weights, model_name), str(path)
    get_model_spec(text)  # raises UnknownModelError listing the registered names, unless it is one
    if model_name is not None and model_name != text:
        raise ValueError(f"--model-name {model_name!r} contradicts the model {text!r}")
    if weights is not None and Path(str(weights)).suffix in CHECKPOINT_SUFFIXES and not Path(str(weights)).is_file():
        raise FileNotFoundError(f"--weights: checkpoint not found: {weights}")
    return text, None if weights is None else str(weights)


def _checkpoint_model(path: Path, weights, model_name: Optional[str]) -> str:
    """The registered model of the checkpoint ``path`` given as NAME_OR_CHECKPOINT."""
    if not path.is_file():
        raise FileNotFoundError(f"NAME_OR_CHECKPOINT: checkpoint not found: {path}")
    if weights is not None:
        raise ValueError("--weights: give either a checkpoint as NAME_OR_CHECKPOINT or --weights, not both")
    name = model_name
    if name is None:
        from ..runtimes.torch_backend import checkpoint_model_name

        name = checkpoint_model_name(path)
    if not name:
        raise ValueError(f"{path}: the checkpoint does not record its model; pass --model-name (e.g. litehrnet_18_coco_256x192)")
    get_model_spec(name)
    return name


def build_reference(name: str, weights: Optional[str], exports: Path, say: Callable[[str], None]):
    """The fp32 PyTorch model, the checkpoint file its rows load, and its MAC count."""
    try:
        from ..export.calibration import calibrated_random_model
        from ..models import create_model, resolve_weights
        from ..models.checkpoint import save_checkpoint
    except ImportError:
        raise ImportError("benchmark needs torch for the reference model and the exports: pip install 'lite-hrnet[export]'") from None

    spec = get_model_spec(name)
    if weights is not None:
        checkpoint = Path(resolve_weights(weights, spec))
        say(f"model: {name} with weights {checkpoint}")
    else:
        # Kept in the export cache, so that the weights (and with them the cached exports) are the same on every run.
        checkpoint = exports / f"{name}_random_seed0.pth"
        if not checkpoint.is_file():
            save_checkpoint(checkpoint, calibrated_random_model(name), {"model_name": name, "weights": RANDOM_WEIGHTS})
        say(f"model: {name} with {RANDOM_WEIGHTS} ({checkpoint}); pass --weights for a trained one")
    model = create_model(name, weights=checkpoint).eval()
    return model, checkpoint, cached_macs(model, name, spec.input_size, exports)


def cached_macs(model, name: str, input_size: Tuple[int, int], exports: Path) -> int:
    """Multiply-accumulates per image; counting takes a traced forward (seconds), so it is kept in the export cache."""
    from ..models.complexity import count_macs

    cache = exports / "benchmark_macs.json"
    key = f"{name}@{input_size[0]}x{input_size[1]}"
    try:
        known = json.loads(cache.read_text()) if cache.is_file() else {}
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(key), int):
        return known[key]
    macs = int(count_macs(model, input_size))
    known[key] = macs
    try:
        exports.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1))
    except OSError:
        pass  # a read-only cache only costs the recount
    return macs


__all__ = ["RANDOM_WEIGHTS", "build_reference", "cached_macs", "resolve_model"]

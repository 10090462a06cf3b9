"""Loading released checkpoints, and downloading them into a local cache.

Accepted layouts: ``{'state_dict': ..., 'meta': ...}`` (mmpose 0.x / the
official repository), a bare state dict, mmpose 1.x naming (``head.*`` instead
of ``keypoint_head.*``) and the ``module.`` prefix that DataParallel adds.
Files are read with ``torch.load(..., weights_only=True)``: a checkpoint whose
pickle would run code is refused.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Mapping, Optional, Union

import torch
from torch import nn

from ..progress import progress_bar
from ..messages import first_line
from ..specs import PretrainedWeights


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model."""


def cache_dir() -> Path:
    """Where downloaded checkpoints live: ``$LITE_HRNET_HOME/checkpoints`` (default ``~/.cache/lite_hrnet``)."""
    home = os.environ.get("LITE_HRNET_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "lite_hrnet")
    return Path(home) / "checkpoints"


def file_sha256(path: Union[str, Path]) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_prefix_from_name(file_name: str) -> Optional[str]:
    """The hash prefix that mmpose/torch.hub file names carry (``name-6bace359_20211230.pth`` -> ``6bace359``)."""
    m = re.search(r"-([0-9a-f]{8,64})(?:_\d+)?\.pth?$", file_name)
    return m.group(1) if m else None


def download_checkpoint(
    url: str,
    file_name: Optional[str] = None,
    sha256_prefix: Optional[str] = None,
    directory: Optional[Union[str, Path]] = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` into the cache (once) and return the local path.

    The file is written to a temporary name in the cache folder and renamed
    only after its SHA-256 starts with ``sha256_prefix`` (taken from the file
    name when not given), so a failed or corrupted download is never cached.
    A cached file is checked against the prefix too, and replaced when it fails.
    Names without a hash (and no ``sha256_prefix``) are cached unverified.
    """
    directory = Path(directory) if directory is not None else cache_dir()
    file_name = file_name or url.rsplit("/", 1)[-1]
    sha256_prefix = sha256_prefix or sha256_prefix_from_name(file_name)
    target = directory / file_name
    if target.exists() and (not sha256_prefix or file_sha256(target).startswith(sha256_prefix)):
        return target  # (a cached copy that fails its hash, damaged since, is downloaded again)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{file_name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
                raise _network_error(e, url, file_name, target) from None
            with response:
                total = int(response.headers.get("Content-Length") or 0) or None
                bar = progress_bar(progress, total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=file_name,
                                   leave=False)
                while True:
                    try:
                        block = response.read(1 << 16)
                    except (http.client.HTTPException, OSError) as e:  # the connection dropped half-way
                        raise _network_error(e, url, file_name, target) from None
                    if not block:
                        break
                    out.write(block)
                    if bar is not None:
                        bar.update(len(block))
                if bar is not None:
                    bar.close()
        if sha256_prefix:
            digest = file_sha256(tmp_name)
            if not digest.startswith(sha256_prefix):
                raise CheckpointError(
                    f"download of {url} is corrupted: SHA-256 {digest[:len(sha256_prefix)]} does not match "
                    f"the expected prefix {sha256_prefix}; nothing was cached"
                )
        os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise
    return target


def _network_error(e: BaseException, url: str, file_name: str, target: Path) -> CheckpointError:
    """A network failure (offline, DNS, HTTP error, timeout, cut connection) as an error that says which
    checkpoint, from where, and how to do without the download."""
    reason = getattr(e, "reason", None) or first_line(e) or type(e).__name__
    return CheckpointError(
        f"cannot download checkpoint {file_name} from {url} ({reason}); offline? fetch that file elsewhere and "
        f"pass it with --weights PATH (weights=PATH in Python), or copy it to {target}")


def resolve_pretrained(weights: PretrainedWeights, progress: bool = True) -> Path:
    """Local path of a registered checkpoint, downloading it on first use."""
    return download_checkpoint(weights.url, weights.file_name, weights.sha256_prefix, progress=progress)


def read_checkpoint(path: Union[str, Path]) -> object:
    """The object stored in a checkpoint file, read with ``weights_only=True`` on the CPU: the one reader of ``.pth`` files.

    Raises:
        CheckpointError: naming the file, when it is missing, damaged, or its pickle would run code.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError, KeyError... depending on the damage
        raise CheckpointError(f"cannot read checkpoint {path}: {_load_problem(e)}") from None


def _load_problem(e: Exception) -> str:
    """What torch.load's error means for the user, in one line (its first line is advice about weights_only)."""
    text = str(e)
    if "Weights only load failed" in text:
        needed = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if needed:
            return (f"its pickle needs {needed.group(1)}, which the safe loader (weights_only=True) refuses "
                    "because it could run code")
        details = [line.strip() for line in text.splitlines()[1:]
                   if line.strip() and not line.startswith(("Please file", "Check the documentation"))]
        return f"damaged, or not a PyTorch checkpoint ({details[-1] if details else 'unpickling failed'})"
    return f"damaged, or not a PyTorch checkpoint ({type(e).__name__}: {first_line(e) or 'no details'})"


def read_checkpoint_meta(path: Union[str, Path]) -> Dict[str, object]:
    """The ``meta`` dict of a checkpoint (``model_name``, ``input_size``... as ``lite-hrnet train`` writes), or {}."""
    obj = read_checkpoint(path)
    meta = obj.get("meta") if isinstance(obj, Mapping) else None
    return dict(meta) if isinstance(meta, Mapping) else {}


def read_state_dict(path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """Read a checkpoint file and return its state dict in the released ``backbone.* / keypoint_head.*`` naming."""
    return normalize_state_dict(read_checkpoint(path), source=str(Path(path)))


def normalize_state_dict(obj: object, source: str = "checkpoint") -> Dict[str, torch.Tensor]:
    """Unwrap ``state_dict``/``model`` containers, strip ``module.`` and map mmpose 1.x ``head.`` to ``keypoint_head.``."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{source} does not contain a state dict of tensors")
    out: Dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if key.startswith("module."):
            key = key[len("module."):]
        if key.startswith("head."):
            key = "keypoint_head." + key[len("head."):]
        out[key] = value
    return out


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load strictly; on mismatch raise one readable error naming the first missing, unexpected and misshaped keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or misshaped:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape (file vs model)", misshaped)):
            if keys:
                more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
                parts.append(f"{len(keys)} {label}: {', '.join(keys[:3])}{more}")
        name = getattr(model, "model_name", type(model).__name__)
        raise CheckpointError(f"{source} does not fit {name}: " + "; ".join(parts))
    model.load_state_dict(state_dict, strict=True)


def save_checkpoint(path: Union[str, Path], model: nn.Module, meta: Optional[dict] = None, **extra: object) -> Path:
    """Write ``{'state_dict', 'meta', **extra}`` (the released layout) atomically.

    A temporary file in the same folder, flushed to disk, then renamed: a kill at any
    moment leaves the previous file (or none) under ``path``, never a truncated one.
    """
    from ..atomic import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": meta or {}}
    payload.update(extra)
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)
    return path


__all__ = [
    "CheckpointError", "cache_dir", "download_checkpoint", "file_sha256", "load_state_dict_strict",
    "normalize_state_dict", "read_checkpoint", "read_checkpoint_meta", "read_state_dict", "resolve_pretrained",
    "save_checkpoint", "sha256_prefix_from_name",
]

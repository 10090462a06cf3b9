"""PyTorch backend: a registered model name, a ``.pth``/``.pt`` checkpoint, or an ``nn.Module``.

This is the only backend that imports torch, and it does so when constructed.

Thread safety: forward in eval mode under ``torch.inference_mode`` does not
mutate the module, so concurrent calls are safe without a lock. ``threads``
sets torch's intra-op thread pool, which is process-wide (``torch.set_num_threads``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ..specs import MODEL_SPECS, get_model_spec
from .base import Backend, RuntimeInfo, SpecLike, check_threads, metadata_from_spec, missing_extra


def _import_torch():
    try:
        import torch
    except ImportError:
        raise missing_extra("torch (for .pth checkpoints and registered model names)", "torch") from None
    return torch


def checkpoint_model_name(path: Union[str, os.PathLike]) -> Optional[str]:
    """``meta['model_name']`` of a checkpoint file, if it records one (read with ``weights_only=True``)."""
    _import_torch()
    from ..models.checkpoint import read_checkpoint_meta

    name = read_checkpoint_meta(path).get("model_name")
    return str(name) if name else None


class TorchBackend(Backend):
    """Runs a Lite-HRNet with PyTorch, NCHW numpy in and out.

    Args:
        model: a registered model name, a ``.pth``/``.pt`` checkpoint path, or an
            ``nn.Module`` mapping N x 3 x H x W to N x K x h x w.
        device: ``cpu`` or ``cuda``/``gpu`` (``cuda:1`` etc. accepted).
        threads: torch intra-op threads (process-wide); None leaves torch's setting.
        precision: ``fp32`` (default), ``fp16`` (CUDA only) or ``bf16``.
        model_name: the registered name for a checkpoint whose ``meta`` has no ``model_name``.
        weights: for a registered name: a checkpoint path, a name/"official" to download the
            release; None downloads the release where there is one, else it is an error.
        spec: metadata for an ``nn.Module`` that has no ``.spec``.
    """

    thread_safety = "safe: eval-mode forward under inference_mode does not mutate the module"

    def __init__(
        self,
        model: Any,
        device: str = "cpu",
        threads: Optional[int] = None,
        precision: Optional[str] = None,
        model_name: Optional[str] = None,
        weights: Optional[Union[str, os.PathLike]] = None,
        spec: Optional[SpecLike] = None,
    ) -> None:
        torch = _import_torch()
        self._torch = torch
        threads = check_threads(threads)
        path: Optional[str] = None
        if isinstance(model, torch.nn.Module):
            module = model
            spec = spec or getattr(model, "spec", None) or model_name
            if spec is None:
                raise ValueError("a torch module needs spec= (a ModelSpec or registered model name) for its metadata")
            meta = metadata_from_spec(spec, format="torch", precision="fp32", batch="dynamic")
        else:
            module, meta, path = self._build(str(model), model_name, weights)
        device_name = self._device(str(device))
        dtype = {None: torch.float32, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(
            None if precision is None else str(precision).lower(), "bad"
        )
        if dtype == "bad":
            raise ValueError(f"precision must be fp32, fp16, bf16 or None, got {precision!r}")
        if dtype == torch.float16 and not device_name.startswith("cuda"):
            raise ValueError("precision 'fp16' needs device='cuda' for the PyTorch backend; use fp32 or bf16 on CPU")
        if threads is not None:
            torch.set_num_threads(threads)
        self.module = module.eval().to(device=device_name, dtype=dtype)
        self._device_name, self._dtype = device_name, dtype
        self.metadata = meta
        self.metadata.update(layout="NCHW", batch="dynamic", format="torch")
        self.max_batch = None
        self.info = RuntimeInfo(
            runtime="torch", version=torch.__version__, device=device_name,
            precision={torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype],
            threads=torch.get_num_threads() if device_name == "cpu" else None, batch=None, path=path,
            thread_safe=self.thread_safety,
        )

    def _build(self, model: str, model_name: Optional[str], weights):
        from ..models import create_model

        if model in MODEL_SPECS and not Path(model).is_file():
            spec = get_model_spec(model)
            if weights is None:
                if spec.pretrained is None:
                    raise ValueError(
                        f"model {model!r} has no downloadable checkpoint; pass weights=PATH (--weights) "
                        "or a .pth file as the model"
                    )
                weights = "official"
            net = create_model(model, weights=weights)
            return net, metadata_from_spec(spec, format="torch", precision="fp32"), getattr(net, "checkpoint_path", None)
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        name = model_name or checkpoint_model_name(path)
        if not name:
            raise ValueError(
                f"{path}: the checkpoint does not record its model (meta['model_name']); "
                "pass model_name= (--model-name), e.g. litehrnet_18_coco_256x192"
            )
        spec = get_model_spec(name)
        net = create_model(name, weights=path)
        return net, metadata_from_spec(spec, format="torch", precision="fp32"), str(path)

    def _device(self, device: str) -> str:
        key = device.lower()
        if key == "cpu":
            return "cpu"
        if key in ("cuda", "gpu") or key.startswith("cuda:"):
            if not self._torch.cuda.is_available():
                raise ValueError(f"device {device!r}: torch finds no CUDA device here; use device='cpu'")
            return "cuda:0" if key in ("cuda", "gpu") else key
        raise ValueError(f"device {device!r} is not supported by the PyTorch backend; use cpu or cuda")

    def _run(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(device=self._device_name, dtype=self._dtype)
            return self.module(x).float().cpu().numpy()

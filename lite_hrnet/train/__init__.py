"""Training and evaluation of Lite-HRNet on COCO-format keypoint data.

Importing this package does not import torch: :mod:`.engine` (the training
loop) needs it, :mod:`.dataset`, :mod:`.transforms` and :mod:`.evaluate` do not.
"""

from __future__ import annotations

from pathlib import Path

# The demo checkpoint shipped with the package: Lite-HRNet-18 trained on the
# synthetic people of ``lite_hrnet.synth`` only (not on real images), at a 128x96 input.
DEMO_WEIGHTS_FILE = "litehrnet_18_coco_128x96_synthetic.pth"
DEMO_MODEL_NAME = "litehrnet_18_coco_256x192"
DEMO_INPUT_SIZE = (128, 96)


def demo_weights_path() -> Path:
    """Path of the synthetic-data demo checkpoint (fits ``create_model(DEMO_MODEL_NAME)``; run it at ``DEMO_INPUT_SIZE``)."""
    path = Path(__file__).resolve().parent.parent / "assets" / DEMO_WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"demo checkpoint not found: {path}")
    return path


def evaluate_coco(predictions, ann_file, sigmas=None):
    """COCO keypoint AP/AR of results against an annotation file; see :func:`lite_hrnet.train.evaluate.evaluate_coco`."""
    from .evaluate import evaluate_coco as _evaluate_coco

    return _evaluate_coco(predictions, ann_file, sigmas)


__all__ = ["DEMO_INPUT_SIZE", "DEMO_MODEL_NAME", "DEMO_WEIGHTS_FILE", "demo_weights_path", "evaluate_coco"]

"""Calibration and verification inputs: normalized N x 3 x H x W float32 person crops.

Two sources:

- a folder of images: each image (person crops, or full images whose whole
  frame is taken as the person box) is warped to the network input with the
  top-down affine of the pipeline and normalized with the model's mean/std;
- ``"synthetic"``: person crops drawn by :mod:`lite_hrnet.synth`, the toolkit's
  synthetic person generator (no download, deterministic for a seed).

Random noise is not a calibration set: activations of a pose network on noise
have other ranges than on people, and int8 scales calibrated on it clip real data.

:func:`calibrated_random_model` (needs torch) uses these crops to give a randomly
initialized network realistic activation ranges, for export checks and benchmarks
without a trained checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple, Union

import numpy as np

from ..geometry import box_to_center_scale, crop_matrix, normalize_crops, warp_crop
from ..pipeline import IMAGE_SUFFIXES, load_image
from ..specs import get_model_spec



def _crop_whole_image(image: np.ndarray, input_size: Tuple[int, int]) -> np.ndarray:
    """The whole image as one person box, through the same affine the pipeline uses at inference."""
    h, w = image.shape[:2]
    centers, scales = box_to_center_scale(np.array([[0, 0, w, h]], np.float32), input_size[1] / input_size[0])
    return warp_crop(image, crop_matrix(centers[0], scales[0], input_size), input_size)


def images_from_folder(folder: Union[str, Path], input_size: Tuple[int, int], limit: int) -> List[np.ndarray]:
    """Up to ``limit`` images of ``folder`` (sorted by name) as input-size BGR crops."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--calib: calibration folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"--calib: no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    crops = []
    for path in files[:limit]:
        try:
            image = load_image(path)
        except ValueError as e:
            raise ValueError(f"--calib: {e}") from None
        crops.append(_crop_whole_image(image, input_size))
    return crops


def synthetic_crops(input_size: Tuple[int, int], count: int, seed: int) -> List[np.ndarray]:
    """``count`` synthetic person crops of ``input_size`` (H, W), BGR uint8."""
    from ..synth import synthetic_person_crops

    return [crop for crop, _ in synthetic_person_crops(count, input_size, seed=seed)]


def calibration_batch(
    source: Union[str, Path, None],
    input_size: Tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    count: int = 32,
    seed: int = 0,
) -> np.ndarray:
    """Normalized N x 3 x H x W float32 inputs from a folder, or synthetic people when ``source`` is None or "synthetic"."""
    if source is None or str(source) == "synthetic":
        crops = synthetic_crops(input_size, count, seed)
    else:
        crops = images_from_folder(source, input_size, count)
    return normalize_crops(np.stack(crops), mean, std)


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

    from ..models import create_model

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

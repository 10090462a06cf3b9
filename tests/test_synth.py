"""The synthetic person generator: determinism, valid COCO output, keypoints on the figures, no torch."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT, cli
from lite_hrnet.specs import COCO_JOINTS
from lite_hrnet.synth import SynthConfig, generate_dataset, render_image, synthetic_person_crops


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "images").iterdir())}


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    return generate_dataset(out, 6, seed=11, image_size=(192, 256))


def test_deterministic_for_a_seed(tmp_path, synth_set):
    again = generate_dataset(tmp_path / "a", 6, seed=11, image_size=(192, 256))
    assert again.read_text() == synth_set.read_text()
    assert _digest(again.parent) == _digest(synth_set.parent)
    other = generate_dataset(tmp_path / "b", 6, seed=12, image_size=(192, 256))
    assert other.read_text() != synth_set.read_text()
    assert set(_digest(other.parent).values()).isdisjoint(_digest(synth_set.parent).values())


def test_valid_coco_keypoints_json(synth_set):
    from pycocotools.coco import COCO
    import contextlib, io

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(synth_set))
    data = json.loads(synth_set.read_text())
    assert data["categories"][0]["keypoints"] == list(COCO_JOINTS.keypoint_names)
    assert len(data["images"]) == 6 and len(coco.getAnnIds()) == len(data["annotations"]) >= 6
    ids = [a["id"] for a in data["annotations"]]
    assert len(set(ids)) == len(ids)
    for im in data["images"]:
        img = cv2.imread(str(synth_set.parent / "images" / im["file_name"]))
        assert img.shape == (192, 256, 3) and (im["height"], im["width"]) == (192, 256)
    n_hidden = 0
    for a in data["annotations"]:
        kp = np.array(a["keypoints"]).reshape(17, 3)
        assert set(np.unique(kp[:, 2])) <= {0, 1, 2}
        assert a["num_keypoints"] == int((kp[:, 2] > 0).sum()) > 0
        assert np.all(kp[kp[:, 2] == 0, :2] == 0)
        lab = kp[kp[:, 2] > 0]
        assert np.all((lab[:, 0] >= 0) & (lab[:, 0] <= 255) & (lab[:, 1] >= 0) & (lab[:, 1] <= 191))
        x, y, w, h = a["bbox"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 256 and y + h <= 192
        assert 0 < a["area"] <= w * h
        # Joints sit on the limb axes, inside the drawn silhouette's box.
        assert np.all((lab[:, 0] >= x - 1) & (lab[:, 0] <= x + w + 1) & (lab[:, 1] >= y - 1) & (lab[:, 1] <= y + h + 1))
        n_hidden += int((kp[:, 2] == 1).sum())
    assert n_hidden > 0  # occlusion and the far side of heads produce v = 1


def test_visible_joints_lie_on_the_figure():
    """A visible joint's pixel belongs to its person: it changes when the person is not drawn."""
    rng_a = np.random.default_rng(5)
    cfg = SynthConfig(image_size=(160, 160), people_per_image=(1, 1), occluder_prob=0.0, blur_prob=0.0, noise_sigma=(0.0, 0.0))
    img, anns = render_image(rng_a, cfg)
    assert len(anns) == 1
    empty = SynthConfig(image_size=(160, 160), people_per_image=(0, 0), occluder_prob=0.0, blur_prob=0.0, noise_sigma=(0.0, 0.0))
    # Same seed, no person: the background is drawn first from the same stream, so it is identical.
    bg, none = render_image(np.random.default_rng(5), empty)
    assert none == []
    kp = anns[0]["keypoints"]
    vis = kp[:, 2] == 2
    assert vis.sum() >= 5
    changed = [np.abs(img[int(round(y)), int(round(x))].astype(int) - bg[int(round(y)), int(round(x))].astype(int)).sum() > 0
               for x, y in kp[vis, :2]]
    assert np.mean(changed) >= 0.9


def test_person_crops_for_calibration():
    crops = synthetic_person_crops(4, (128, 96), seed=3)
    assert len(crops) == 4
    for crop, kp in crops:
        assert crop.shape == (128, 96, 3) and crop.dtype == np.uint8
        lab = kp[kp[:, 2] > 0]
        assert len(lab) >= 5
        # The person is centred: its labelled joints fill the middle of the crop.
        centre = lab[:, :2].mean(axis=0)
        assert 20 < centre[0] < 76 and 25 < centre[1] < 103
    again = synthetic_person_crops(4, (128, 96), seed=3)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(crops, again))


def test_synth_and_train_cli_modules_do_not_import_torch():
    code = ("import sys, lite_hrnet.synth, lite_hrnet.train, lite_hrnet.train.cli, lite_hrnet.train.dataset, "
            "lite_hrnet.train.evaluate; bad = [m for m in ('torch', 'pycocotools') if m in sys.modules]; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_synth_cli(tmp_path):
    r = cli("synth", str(tmp_path / "s"), "--images", "2", "--seed", "4", "--size", "96x128", "--quiet")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "s" / "annotations.json").read_text())
    assert len(data["images"]) == 2
    assert cv2.imread(str(tmp_path / "s" / "images" / data["images"][0]["file_name"])).shape == (96, 128, 3)
    bad = cli("synth", str(tmp_path / "t"), "--size", "96by128")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--size" in bad.stderr

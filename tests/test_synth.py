"""The synthetic person generator: determinism, valid COCO output, keypoints on the figures, no torch."""

from __future__ import annotations

import hashlib
import json
import math
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


def _front_and_back(seed: int):
    """The same figure drawn facing the camera (yaw 0) and facing away (yaw pi), upright, on a flat background."""
    from lite_hrnet import synth

    out = []
    for yaw in (0.0, math.pi):
        img = np.full((240, 200, 3), 128.0, np.float32)
        person = synth._draw_person(img, np.random.default_rng(seed), np.array([100.0, 120.0]), 200.0, yaw=yaw, roll=0.0)
        out.append((img, person.keypoints))
    return out


from lite_hrnet.synth import EYE_WHITE


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_left_right_convention_follows_the_drawn_face(seed):
    """COCO's left is the person's own left: on the image's right when the drawn face looks at the camera.

    Which way the figure faces is read from the pixels (eye whites painted on
    the head), not from the label code; then the labelled shoulders, hips and
    eyes must sit on the matching sides.
    """
    (front, kp_front), (back, kp_back) = _front_and_back(seed)
    names = list(COCO_JOINTS.keypoint_names)
    nose = names.index("nose")

    def eye_white_pixels(img, kp):
        cx, cy = kp[nose, :2]
        head = img[int(cy) - 20:int(cy) + 20, int(cx) - 20:int(cx) + 20]
        return int((np.abs(head - EYE_WHITE).max(axis=2) < 12).sum())

    assert eye_white_pixels(front, kp_front) >= 4  # the face is drawn toward the camera
    assert eye_white_pixels(back, kp_back) == 0  # seen from behind: hair only
    for joint in ("shoulder", "hip", "eye"):
        left, right = names.index(f"left_{joint}"), names.index(f"right_{joint}")
        assert kp_front[left, 0] > kp_front[right, 0] + 2, joint
        assert kp_back[left, 0] < kp_back[right, 0] - 2, joint


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_left_limbs_are_drawn_lighter_than_right(seed):
    """The body-fixed side cue: the pixels at the person's left wrist/ankle/elbow/knee are lighter than the right's."""
    names = list(COCO_JOINTS.keypoint_names)
    for img, kp in _front_and_back(seed):
        lighter = 0
        for joint in ("elbow", "wrist", "knee", "ankle"):
            values = []
            for side in ("left", "right"):
                x, y = kp[names.index(f"{side}_{joint}"), :2]
                values.append(img[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2].mean())
            lighter += values[0] > values[1]
        assert lighter >= 3  # one pair may overlap the other limb or the torso


def test_side_tint():
    from lite_hrnet.synth import side_tint

    c = np.array([100.0, 20.0, 200.0], np.float32)
    np.testing.assert_allclose(side_tint(c, "left"), [162.0, 114.0, 222.0])
    np.testing.assert_allclose(side_tint(c, "right"), [65.0, 13.0, 130.0])
    with pytest.raises(ValueError, match="side"):
        side_tint(c, "middle")

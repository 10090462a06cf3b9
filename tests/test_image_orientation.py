"""EXIF orientation: load_image (the reader of predict, evaluation, datasets and calibration) applies the tag."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from lite_hrnet.pipeline import load_image

PIL_Image = pytest.importorskip("PIL.Image", reason="Pillow writes the tagged JPEGs")

ORIENTATION_TAG = 0x0112

# What a viewer shows for each EXIF orientation value, written out from the EXIF 2.3 table
# (row 0 / column 0 of the stored image is at ...): stored H x W x C -> displayed array.
DISPLAYED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: a[::-1, ::-1],  # rotated 180
    4: lambda a: a[::-1, :],  # mirrored top-bottom
    5: lambda a: a.transpose(1, 0, 2),  # transposed
    6: lambda a: a.transpose(1, 0, 2)[:, ::-1],  # stored 90 counter-clockwise: turn 90 clockwise
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],  # transverse
    8: lambda a: a.transpose(1, 0, 2)[::-1, :],  # stored 90 clockwise: turn 90 counter-clockwise
}


def write_tagged_jpeg(path, bgr: np.ndarray, orientation: int) -> None:
    exif = PIL_Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    PIL_Image.fromarray(np.ascontiguousarray(bgr[..., ::-1])).save(path, exif=exif.tobytes(), quality=95)


def stored_pixels(path) -> np.ndarray:
    """The pixels as stored in the file, orientation ignored (the same decoder as load_image)."""
    return cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)


def picture(h: int = 24, w: int = 40) -> np.ndarray:
    """An asymmetric H x W x 3 test picture: a red block at the top left, a gradient to the right."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 1] = np.linspace(0, 200, w, dtype=np.uint8)[None, :]
    img[: h // 3, : w // 4] = (0, 0, 255)
    return img


@pytest.mark.parametrize("orientation", sorted(DISPLAYED))
def test_load_image_applies_every_exif_orientation(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.jpg"
    write_tagged_jpeg(path, picture(), orientation)
    stored = stored_pixels(path)
    assert stored.shape == (24, 40, 3)  # the file holds the landscape pixels whatever the tag says
    loaded = load_image(path)
    expected = DISPLAYED[orientation](stored)
    assert loaded.shape == expected.shape
    np.testing.assert_array_equal(loaded, expected)
    # And what Pillow's own exif_transpose shows (an independent implementation), within JPEG decoder rounding.
    from PIL import ImageOps

    with PIL_Image.open(path) as im:
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))[..., ::-1]
    assert shown.shape == loaded.shape
    assert np.abs(shown.astype(int) - loaded).mean() < 2.0


def test_portrait_phone_photo_predicts_on_the_upright_image(tmp_path):
    """`lite-hrnet predict` on a photo stored landscape with Orientation=6 gives the keypoints of the upright image."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from model_files import export_onnx, file_meta, tiny_model

    from lite_hrnet.cli import main
    from lite_hrnet.pipeline import PoseEstimator

    model = export_onnx(tiny_model(), tmp_path / "tiny.onnx", file_meta("onnx"))
    rng = np.random.default_rng(3)
    stored = cv2.GaussianBlur(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8), (5, 5), 2)
    photo = tmp_path / "photos" / "portrait.jpg"
    photo.parent.mkdir()
    write_tagged_jpeg(photo, stored, 6)
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model), str(photo), "--out", str(out), "--no-progress"]) == 0
    (entry,) = json.loads((out / "results.json").read_text())
    upright = DISPLAYED[6](stored_pixels(photo))
    assert upright.shape[:2] == (200, 120)
    expected = PoseEstimator(str(model)).predict(np.ascontiguousarray(upright))
    keypoints = np.asarray(entry["keypoints"], dtype=np.float64).reshape(-1, 3)
    np.testing.assert_allclose(keypoints[:, :2], expected.keypoints[0], atol=0.01)
    # The annotated image written is the upright one too.
    assert cv2.imread(str(out / "portrait.jpg")).shape[:2] == (200, 120)

"""`lite-hrnet predict` over folders and videos with broken items: every good one processed, each bad one named,
a count of the skipped, exit status 3; results.json written whole."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite_hrnet.cli import main
from lite_hrnet.predict_cli import EXIT_SKIPPED

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> Path:
    """The 3-conv pose-contract model of model_files as ONNX (built in about a second)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from model_files import export_onnx, file_meta, tiny_model

    return export_onnx(tiny_model(), tmp_path_factory.mktemp("tiny") / "tiny.onnx", file_meta("onnx"))


def noise(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (5, 5), 2)


def run_predict(capsys, *args: str):
    code = main(["predict", *args, "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_folder_with_broken_images_processes_the_good_ones(tiny_onnx, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    good = {"a_good.jpg": noise(120, 90, 0), "b_good.png": noise(64, 80, 1)}
    for name, img in good.items():
        cv2.imwrite(str(folder / name), img)
    cv2.imwrite(str(folder / "c_16bit.png"), noise(50, 40, 2).astype(np.uint16) * 257)  # readable: scaled to 8 bits
    cv2.imwrite(str(folder / "d_tiny.png"), np.full((1, 1, 3), 200, np.uint8))  # readable: a 1 x 1 image
    # A PNG under a .jpg name: decoded by its content.
    (folder / "e_png_named.jpg").write_bytes(cv2.imencode(".png", noise(40, 30, 4))[1].tobytes())
    jpeg = cv2.imencode(".jpg", noise(120, 90, 5))[1].tobytes()
    (folder / "x_truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "y_empty.jpg").write_bytes(b"")
    (folder / "z_text.png").write_text("not an image")
    (folder / "notes.txt").write_text("not an image suffix: never listed as an input")
    out = tmp_path / "out"

    code, stdout, stderr = run_predict(capsys, "--model", str(tiny_onnx), str(folder), "--out", str(out))

    assert code == EXIT_SKIPPED == 3
    assert "Traceback" not in stderr
    for bad in ("x_truncated.jpg: truncated JPEG", "y_empty.jpg: not a readable image", "z_text.png: not a readable image"):
        assert sum(bad in line and "skipped" in line for line in stderr.splitlines()) == 1, stderr
    assert "3 input(s) skipped" in stderr and "notes.txt" not in stderr
    assert "5 frames, 5 persons" in stdout
    results = json.loads((out / "results.json").read_text())
    assert sorted(r["file_name"] for r in results) == ["a_good.jpg", "b_good.png", "c_16bit.png", "d_tiny.png",
                                                       "e_png_named.jpg"]
    assert sorted(p.name for p in out.iterdir()) == sorted([r["file_name"] for r in results] + ["results.json"])
    # The good images' results are those of the same image predicted alone.
    from lite_hrnet.pipeline import PoseEstimator

    alone = PoseEstimator(str(tiny_onnx)).predict(good["b_good.png"])
    (entry,) = [r for r in results if r["file_name"] == "b_good.png"]
    np.testing.assert_allclose(np.reshape(entry["keypoints"], (-1, 3))[:, :2], alone.keypoints[0], atol=0.01)


def test_a_single_unreadable_image_is_an_error(tiny_onnx, tmp_path, capsys):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 then nothing")
    code, _, stderr = run_predict(capsys, "--model", str(tiny_onnx), str(tmp_path / "broken.jpg"))
    assert code == 2 and stderr.strip().count("\n") == 0 and "broken.jpg" in stderr


def write_video(path: Path, frames: int, size=(64, 48)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(noise(size[1], size[0], 100 + i))
    writer.release()


def test_truncated_video_and_unopenable_video_among_inputs(tiny_onnx, tmp_path, capsys):
    whole, cut, fake = tmp_path / "whole.avi", tmp_path / "cut.avi", tmp_path / "fake.mp4"
    write_video(whole, 12)
    write_video(cut, 30)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # the header still announces 30 frames
    fake.write_text("not a video")
    out = tmp_path / "out"
    readable = cv2.VideoCapture(str(cut))
    decodable = 0
    while readable.read()[0]:
        decodable += 1
    readable.release()
    assert 0 < decodable < 30

    code, stdout, stderr = run_predict(capsys, "--model", str(tiny_onnx), str(whole), str(cut), str(fake),
                                       "--out", str(out), "--track")

    assert code == 3 and "Traceback" not in stderr
    assert f"skipped {30 - decodable} of the 30 frames of cut.avi" in stderr
    assert "skipped " in stderr and "fake.mp4: cannot open video" in stderr
    assert f"{30 - decodable + 1} input(s) skipped" in stderr
    results = json.loads((out / "results.json").read_text())
    frames = {name: sorted({r["frame"] for r in results if r["file_name"] == name}) for name in ("whole.avi", "cut.avi")}
    assert frames == {"whole.avi": list(range(12)), "cut.avi": list(range(decodable))}
    # The annotated videos are complete files with every frame read.
    for name, count in (("whole_pose.mp4", 12), ("cut_pose.mp4", decodable)):
        cap = cv2.VideoCapture(str(out / name))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == count
        cap.release()


def test_results_json_is_written_atomically(tiny_onnx, tmp_path, capsys, monkeypatch):
    """A failure while results.json is written leaves the previous file whole and no temporary file behind."""
    import lite_hrnet.atomic as atomic

    image = tmp_path / "a.jpg"
    cv2.imwrite(str(image), noise(60, 40, 7))
    out = tmp_path / "out"
    assert run_predict(capsys, "--model", str(tiny_onnx), str(image), "--out", str(out))[0] == 0
    before = (out / "results.json").read_bytes()
    assert len(json.loads(before)) == 1

    real_fsync = atomic.os.fsync

    def crash(fd):  # the data is half on its way to disk when the process dies
        real_fsync(fd)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", crash)
    code, _, stderr = run_predict(capsys, "--model", str(tiny_onnx), str(image), str(image), "--out", str(out))
    assert code == 2 and "No space left on device" in stderr
    assert (out / "results.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a_1.jpg", "results.json"]  # no .part file

"""``lite-hrnet predict``: images, folders, videos, the box file formats, errors, and no torch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import cli
from model_files import litehrnet_files, tiny_files

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    return litehrnet_files(str(tmp_path_factory.getbasetemp()))["onnx"]


@pytest.fixture()
def images(tmp_path) -> Path:
    """Two small images in a folder: a BGR JPEG and a grayscale PNG."""
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "a.jpg"), cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (7, 7), 2))
    cv2.imwrite(str(folder / "b.png"), rng.integers(0, 255, (200, 150), dtype=np.uint8))
    return folder


def one_line_error(out, needle: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert needle in out.stderr, out.stderr


def test_folder_with_coco_detections(coco_sample, onnx_model, tmp_path):
    out_dir = tmp_path / "out"
    detections = json.loads((coco_sample / "test_coco_det_AP_H_56.json").read_text())
    expected = sorted(d["image_id"] for d in detections if d["score"] >= 0.5)
    run = cli("predict", "--model", str(onnx_model), str(coco_sample), "--boxes",
              str(coco_sample / "test_coco_det_AP_H_56.json"), "--box-thr", "0.5", "--out", str(out_dir),
              "--threads", "2", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert re.search(r"4 frames, \d+ persons: [\d.]+ FPS pose estimation", run.stdout)
    results = json.loads((out_dir / "results.json").read_text())
    assert sorted(r["image_id"] for r in results) == expected  # COCO ids from the numeric file names
    for r in results:
        assert r["category_id"] == 1 and len(r["keypoints"]) == 51
        assert r["file_name"] == f"{r['image_id']:012d}.jpg"
        # mmpose's person score: the box's detection score x the mean of the keypoint scores above 0.2.
        kp_scores = np.array(r["keypoints"][2::3])
        mean_confident = kp_scores[kp_scores > 0.2].mean() if (kp_scores > 0.2).any() else 0.0
        box_scores = [d["score"] for d in detections if d["image_id"] == r["image_id"] and d["score"] >= 0.5]
        assert min(abs(r["score"] - b * mean_confident) for b in box_scores) <= 1e-3, r["score"]
    for name in ("000000000785.jpg", "000000197388.jpg"):
        original, drawn = cv2.imread(str(coco_sample / name)), cv2.imread(str(out_dir / name))
        assert drawn.shape == original.shape
        assert np.abs(drawn.astype(int) - original).max() > 100  # keypoints were drawn


def test_coco_dataset_file_as_boxes_and_flip(coco_sample, onnx_model, tmp_path):
    out_dir = tmp_path / "out"
    run = cli("predict", "--model", str(onnx_model), str(coco_sample / "000000040083.jpg"), "--boxes",
              str(coco_sample / "test_coco.json"), "--flip", "--dark", "--out", str(out_dir))
    assert run.returncode == 0, run.stderr
    results = json.loads((out_dir / "results.json").read_text())
    assert len(results) == 3 and {r["image_id"] for r in results} == {40083}  # its three annotations


def test_simple_boxes_whole_images_and_grayscale(images, onnx_model, tmp_path):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a.jpg": [[10, 20, 110, 220, 0.9], [150, 30, 300, 230]]}))
    out_dir = tmp_path / "out"
    run = cli("predict", "--model", str(onnx_model), str(images), "--boxes", str(boxes), "--box-thr", "0",
              "--out", str(out_dir))
    assert run.returncode == 0, run.stderr
    results = json.loads((out_dir / "results.json").read_text())
    # b.png is not in the box file: no persons there
    assert [r["file_name"] for r in results] == ["a.jpg", "a.jpg"]
    assert (out_dir / "b.png").is_file() and cv2.imread(str(out_dir / "b.png")).shape == (200, 150, 3)
    # without --boxes each image is one person
    run = cli("predict", "--model", str(onnx_model), str(images / "b.png"), str(images / "a.jpg"), "--out", str(out_dir))
    assert run.returncode == 0, run.stderr
    results = json.loads((out_dir / "results.json").read_text())
    assert [r["image_id"] for r in results] == ["b.png", "a.jpg"]  # in argument order; non-numeric names stay names


def test_video_with_tracking(onnx_model, tmp_path):
    """The demo model follows a synthetic person moving 4 px a frame, from one box on the first frame,
    at the default keypoint threshold."""
    from lite_hrnet.synth import generate_dataset

    coco = json.loads(generate_dataset(tmp_path / "synth", 1, seed=3).read_text())
    person = max(coco["annotations"], key=lambda a: a["area"])
    image = cv2.imread(str(tmp_path / "synth" / "images" / coco["images"][0]["file_name"]))
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, image.shape[1::-1])
    for t in range(5):
        writer.write(np.roll(image, 4 * t, axis=1))
    writer.release()
    x, y, w, h = person["bbox"]
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"0": [[x, y, x + w, y + h, 1.0]]}))
    out_dir = tmp_path / "out"
    run = cli("predict", "--model", "litehrnet_18_coco_128x96", "--weights", "synthetic", str(video), "--boxes",
              str(boxes), "--track", "--out", str(out_dir), "--threads", "1", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "5 frames, 5 persons" in run.stdout
    results = json.loads((out_dir / "results.json").read_text())
    assert [r["frame"] for r in results] == [0, 1, 2, 3, 4] and {r["track_id"] for r in results} == {0}
    first = np.array(results[0]["keypoints"]).reshape(-1, 3)
    for t, r in enumerate(results):
        kp = np.array(r["keypoints"]).reshape(-1, 3)
        assert (kp[:, 2] > 0.3).sum() >= 12  # confident at the default threshold (measured: all 17)
        # The person moved 4t px right: within 5 px (measured within 3.1; one heatmap px here is about 7 px).
        assert abs(np.median(kp[:, 0] - first[:, 0]) - 4 * t) <= 5 and abs(np.median(kp[:, 1] - first[:, 1])) <= 2
    cap = cv2.VideoCapture(str(out_dir / "clip_pose.mp4"))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == 5
    run = cli("predict", "--model", str(onnx_model), str(video), "--max-frames", "2", "--no-progress")
    assert run.returncode == 0 and "2 frames, 2 persons" in run.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--model", "/nonexistent/m.onnx", "{image}"], "model file not found: /nonexistent/m.onnx"),
        (["--model", "{onnx}", "/nonexistent/in.jpg"], "input not found: /nonexistent/in.jpg"),
        (["--model", "{onnx}", "{image}", "--boxes", "/nonexistent/b.json"], "--boxes file not found: /nonexistent/b.json"),
        (["--model", "{onnx}", "{image}", "--boxes", "{bad_json}"], "bad.json: not valid JSON"),
        (["--model", "{onnx}", "{image}", "--boxes", "{nan_boxes}"], "a.jpg: boxes[0] has NaN"),
        (["--model", "{onnx}", "{image}", "--boxes", "{flat_boxes}"], "a.jpg: boxes[0] = [5.0, 5.0, 5.0, 50.0] has zero"),
        (["--model", "{onnx}", "{image}", "--boxes", "{wrong_boxes}"], "entry 'a.jpg' must be a list of [x1, y1, x2, y2]"),
        (["--model", "{onnx}", "{image}", "--threads", "0"], "threads must be a positive integer"),
        (["--model", "{onnx}", "{image}", "--device", "tpu"], "device 'tpu' is not supported by onnxruntime"),
        (["--model", "{onnx}", "{not_image}"], "fake.jpg: not a readable image"),
        (["--model", "{onnx}", "{empty_dir}"], "has no images"),
        (["--model", "{onnx}", "{image}", "--show"], "--show needs OpenCV with GUI support"),
        (["--model", "{foreign}", "{image}"], "add.onnx: no lite-hrnet metadata"),
        (["--model", "litehrnet_99", "{image}"], "'litehrnet_99' is neither an existing model file"),
    ],
)
def test_errors_are_one_line(args, needle, images, onnx_model, tmp_path):
    if needle.startswith("--show"):
        try:
            cv2.namedWindow("probe")
            pytest.skip("this OpenCV has GUI support")
        except cv2.error:
            pass
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "nan.json").write_text('{"a.jpg": [[0, NaN, 10, 10]]}')
    (tmp_path / "flat.json").write_text('{"a.jpg": [[5, 5, 5, 50]]}')
    (tmp_path / "wrong.json").write_text('{"a.jpg": [[5, 5, 5]]}')
    (tmp_path / "fake.jpg").write_text("not an image")
    (tmp_path / "empty").mkdir()
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 256, 192])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 256, 192])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "add.onnx"))
    values = dict(image=str(images / "a.jpg"), onnx=str(onnx_model), bad_json=str(tmp_path / "bad.json"),
                  nan_boxes=str(tmp_path / "nan.json"), flat_boxes=str(tmp_path / "flat.json"),
                  wrong_boxes=str(tmp_path / "wrong.json"), not_image=str(tmp_path / "fake.jpg"),
                  empty_dir=str(tmp_path / "empty"), foreign=str(tmp_path / "add.onnx"))
    one_line_error(cli("predict", *[a.format(**values) for a in args]), needle)


# ---------------------------------------------------------------------------- a fresh, torch-free install


_NO_TORCH_RUNNER = r"""
import importlib.abc, importlib.util, sys
attempts = []

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            attempts.append(name)
        return None

print("TORCH_INSTALLED", importlib.util.find_spec("torch") is not None)
sys.meta_path.insert(0, NoTorch())
from lite_hrnet.cli import main
code = main(sys.argv[1:])
print("TORCH_IMPORT_ATTEMPTS", attempts)
sys.exit(code)
"""


def test_predict_with_onnx_never_imports_torch(images, onnx_model, tmp_path):
    """Even where torch is installed, predicting with an .onnx never tries to import it."""
    run = subprocess.run([sys.executable, "-c", _NO_TORCH_RUNNER, "predict", "--model", str(onnx_model),
                          str(images / "a.jpg"), "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "TORCH_IMPORT_ATTEMPTS []" in run.stdout, run.stdout


@pytest.mark.slow
def test_fresh_venv_with_ort_and_tflite_extras_runs_predict_without_torch(tmp_path_factory, onnx_model):
    try:
        tiny = tiny_files(str(tmp_path_factory.getbasetemp()))  # adds a .tflite run
    except pytest.skip.Exception:
        tiny = None
    work = tmp_path_factory.mktemp("fresh_venv")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f"{ROOT}[ort,tflite]"],
        capture_output=True, text=True, timeout=600,
    )
    if install.returncode != 0:
        if re.search(r"NewConnectionError|Name or service not known|Temporary failure|No matching distribution", install.stderr):
            pytest.skip(f"PyPI not reachable: {install.stderr.strip().splitlines()[-1]}")
        raise AssertionError(install.stderr[-3000:])
    image = work / "person.jpg"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (240, 180, 3), dtype=np.uint8))
    for model in [onnx_model] + ([tiny["tflite"]] if tiny else []):
        out_dir = work / f"out_{model.suffix[1:]}"
        run = subprocess.run([str(python), "-c", _NO_TORCH_RUNNER, "predict", "--model", str(model), str(image),
                              "--out", str(out_dir)], capture_output=True, text=True, cwd=work)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "TORCH_INSTALLED False" in run.stdout and "TORCH_IMPORT_ATTEMPTS []" in run.stdout, run.stdout
        results = json.loads((out_dir / "results.json").read_text())
        assert len(results) == 1 and len(results[0]["keypoints"]) == 51

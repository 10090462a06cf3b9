"""A short soak (a few hundred frames; the long one is benchmarks/soak/soak.py): PoseTracker and
`lite-hrnet predict --track` over a synthetic video: every frame read gives a result, files are closed."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite_hrnet.cli import main
from lite_hrnet.pipeline import PoseEstimator, PoseTracker

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 300

pytest.importorskip("onnxruntime")


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak", ROOT / "benchmarks" / "soak" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return _soak_module().write_synthetic_video(tmp_path_factory.mktemp("soak") / "people.avi", FRAMES, size=(120, 100))


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from model_files import export_onnx, file_meta, tiny_model

    return export_onnx(tiny_model(), tmp_path_factory.mktemp("tiny") / "tiny.onnx", file_meta("onnx"))


def open_files() -> set:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    return {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}


def test_predict_track_over_a_video_writes_every_frame_and_closes_its_files(video, tiny_onnx, tmp_path, capsys):
    out = tmp_path / "out"
    before = open_files()
    assert main(["predict", "--model", str(tiny_onnx), str(video), "--track", "--out", str(out), "--no-progress"]) == 0
    leaked = {f for f in open_files() - before if str(tmp_path) in f or str(video.parent) in f}
    assert not leaked  # the video reader and the writer are closed
    results = json.loads((out / "results.json").read_text())
    assert sorted(r["frame"] for r in results) == list(range(FRAMES))  # one tracked person per frame
    assert all("track_id" in r for r in results)
    assert f"{FRAMES} frames, {FRAMES} persons" in capsys.readouterr().out
    cap = cv2.VideoCapture(str(out / "people_pose.mp4"))
    try:
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES  # the writer was finalized
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (100, 120)
    finally:
        cap.release()


def test_pose_tracker_over_many_frames_loses_none_and_repeats_exactly(video, tiny_onnx):
    """The tracker carries boxes from frame to frame and never loses a frame; the same video twice gives the same."""
    estimator = PoseEstimator(str(tiny_onnx), threads=1)

    def run() -> list:
        tracker, results = PoseTracker(estimator), []
        cap = cv2.VideoCapture(str(video))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                result = tracker.update(frame)
                results.append((result.keypoints.copy(), result.boxes.copy(), result.track_ids.copy()))
        finally:
            cap.release()
        return results

    first, second = run(), run()
    assert len(first) == len(second) == FRAMES
    assert all(len(k) == 1 for k, _, _ in first)
    for (k1, b1, t1), (k2, b2, t2) in zip(first, second):
        np.testing.assert_array_equal(k1, k2)
        np.testing.assert_array_equal(b1, b2)
        np.testing.assert_array_equal(t1, t2)

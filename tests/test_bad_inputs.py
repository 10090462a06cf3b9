"""A corpus of bad inputs run through every CLI verb: exit status 2, one line on stderr naming the file or
argument, no traceback. In-process (``lite_hrnet.cli.main``), so that the corpus stays fast."""

from __future__ import annotations

import contextlib
import io
import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite_hrnet.cli import main

DEMO = "litehrnet_18_coco_128x96"

# The corpus: files written by the `corpus` fixture, by name.
BAD_FILES = {
    "boxes_not_json.json": b"{not json",
    "boxes_binary.json": b"\xff\xfe\x00\x01garbage",
    "boxes_deep.json": b"[" * 100_000,
    "boxes_null.json": b"null",
    "boxes_number.json": b"5",
    "boxes_entry_string.json": b'{"a.jpg": "x"}',
    "boxes_short.json": b'{"a.jpg": [[5, 5, 5]]}',
    "boxes_nan.json": b'{"a.jpg": [[0, NaN, 10, 10]]}',
    "boxes_infinite.json": b'{"a.jpg": [[0, 0, Infinity, 10]]}',
    "boxes_nan_score.json": b'{"a.jpg": [[0, 0, 10, 10, NaN]]}',
    "boxes_flat.json": b'{"a.jpg": [[5, 5, 5, 50]]}',
    "dets_text_coordinate.json": b'[{"image_id": 1, "bbox": [1, 2, "a", 4]}]',
    "dets_bbox_null.json": b'[{"image_id": 1, "bbox": null}]',
    "dets_category_text.json": b'[{"image_id": 1, "bbox": [0, 0, 10, 10], "category_id": "x"}]',
    "dets_not_objects.json": b"[1, 2, 3]",
    "coco_images_number.json": b'{"images": 5, "annotations": []}',
    "coco_image_without_name.json": b'{"images": [{"id": 1}], "annotations": []}',
    "coco_bbox_text.json": b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "bbox": "abcd"}]}',
    "notes.pth": b"not a checkpoint",
    "cut.pth": b"PK\x03\x04 cut short",
    "fake.jpg": b"not an image",
    "empty.jpg": b"",
    "file.txt": b"a file where a folder is expected",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad_inputs")
    for name, data in BAD_FILES.items():
        (folder / name).write_bytes(data)
    cv2.imwrite(str(folder / "a.jpg"), np.full((80, 60, 3), 120, np.uint8))
    (folder / "no_images").mkdir()
    return folder


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from model_files import export_onnx, file_meta, tiny_model

    return export_onnx(tiny_model(), tmp_path_factory.mktemp("tiny") / "tiny.onnx", file_meta("onnx"))


P = ["predict", "--model", "{onnx}", "{d}/a.jpg", "--no-progress"]

CASES = [
    # predict: boxes files
    (P + ["--boxes", "{d}/missing.json"], "--boxes file not found: {d}/missing.json"),
    (P + ["--boxes", "{d}/boxes_not_json.json"], "boxes_not_json.json: not valid JSON"),
    (P + ["--boxes", "{d}/boxes_binary.json"], "boxes_binary.json: not valid JSON"),
    (P + ["--boxes", "{d}/boxes_deep.json"], "boxes_deep.json: not valid JSON"),
    (P + ["--boxes", "{d}/boxes_null.json"], "boxes_null.json: expected a list of COCO detections or a JSON object"),
    (P + ["--boxes", "{d}/boxes_number.json"], "boxes_number.json: expected a list"),
    (P + ["--boxes", "{d}/boxes_entry_string.json"], "boxes_entry_string.json: entry 'a.jpg' must be a list"),
    (P + ["--boxes", "{d}/boxes_short.json"], "boxes_short.json: entry 'a.jpg' must be a list of [x1, y1, x2, y2]"),
    (P + ["--boxes", "{d}/boxes_nan.json"], "a.jpg: boxes[0] has NaN"),
    (P + ["--boxes", "{d}/boxes_infinite.json"], "a.jpg: boxes[0] has NaN or infinite values"),
    (P + ["--boxes", "{d}/boxes_nan_score.json"], "boxes_nan_score.json: entry 'a.jpg' box 0: score must be a finite"),
    (P + ["--boxes", "{d}/boxes_flat.json"], "a.jpg: boxes[0] = [5.0, 5.0, 5.0, 50.0] has zero"),
    (P + ["--boxes", "{d}/dets_text_coordinate.json"], "dets_text_coordinate.json: entry 0 bbox must be a list of 4 numbers"),
    (P + ["--boxes", "{d}/dets_bbox_null.json"], "dets_bbox_null.json: entry 0 bbox must be a list of 4 numbers, got null"),
    (P + ["--boxes", "{d}/dets_category_text.json"], "dets_category_text.json: entry 0: category_id must be an integer"),
    (P + ["--boxes", "{d}/dets_not_objects.json"], "dets_not_objects.json: entry 0 is not a COCO detection"),
    (P + ["--boxes", "{d}/coco_images_number.json"], "coco_images_number.json: a COCO dataset file needs lists"),
    (P + ["--boxes", "{d}/coco_image_without_name.json"], "coco_image_without_name.json: images[0] needs an id and a file_name"),
    (P + ["--boxes", "{d}/coco_bbox_text.json"], "coco_bbox_text.json: annotation 0 bbox must be a list of 4 numbers"),
    # predict: arguments, inputs, outputs
    (P + ["--threads", "-1"], "threads must be a positive integer"),
    (P + ["--threads", "0"], "threads must be a positive integer"),
    (P + ["--threads", "many"], "argument --threads: invalid int value: 'many'"),
    (P + ["--threads", "100000"], "threads must be at most"),
    (P + ["--box-thr", "nan"], "--box-thr must be a finite number"),
    (P + ["--kpt-thr", "inf"], "--kpt-thr must be a finite number"),
    (P + ["--max-frames", "0"], "--max-frames must be at least 1"),
    (P + ["--precision", "fp8"], "precision 'fp8'"),
    (P + ["--device", "tpu"], "device 'tpu'"),
    (P + ["--out", "{d}/file.txt/sub"], "--out: cannot write to {d}/file.txt/sub"),
    (P + ["--out", "{d}/file.txt"], "--out {d}/file.txt exists and is not a folder"),
    (["predict", "--model", "{onnx}", "{d}/missing.mp4"], "input not found: {d}/missing.mp4"),
    (["predict", "--model", "{onnx}", "{d}/fake.jpg"], "fake.jpg: not a readable image"),
    (["predict", "--model", "{onnx}", "{d}/empty.jpg"], "empty.jpg: not a readable image"),
    (["predict", "--model", "{onnx}", "{d}/file.txt"], "input {d}/file.txt: unknown file type '.txt'"),
    (["predict", "--model", "{onnx}", "{d}/no_images"], "no_images has no images"),
    (["predict", "--model", "{d}/missing.onnx", "{d}/a.jpg"], "model file not found: {d}/missing.onnx"),
    (["predict", "--model", "{d}/notes.pth", "{d}/a.jpg"], "notes.pth"),
    (["predict", "--model", "litehrnet_18_coco_256x19", "{d}/a.jpg"], "did you mean 'litehrnet_18_coco_256x192'?"),
    (["predict", "{d}/a.jpg"], "the following arguments are required: --model"),
    # info / list
    (["info", "litehrnet_18_coco_256x19"], "did you mean 'litehrnet_18_coco_256x192'?"),
    (["info", "litehrnet18_coco_256x192"], "did you mean 'litehrnet_18_coco_256x192'?"),
    (["info", DEMO, "--input-size", "0x5"], "--input-size must be positive"),
    (["info", DEMO, "--input-size", "100x96"], "100"),
    (["info", DEMO, "--weights", "{d}/missing.pth"], "weights file not found: {d}/missing.pth"),
    (["info", DEMO, "--weights", "{d}/notes.pth"], "cannot read checkpoint {d}/notes.pth: damaged, or not a PyTorch"),
    (["info", DEMO, "--weights", "{d}/cut.pth"], "cannot read checkpoint {d}/cut.pth"),
    (["list", "extra"], "unrecognized arguments: extra"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    # export
    (["export", "litehrnt_18_coco_256x192"], "did you mean 'litehrnet_18_coco_256x192'?"),
    (["export", DEMO, "--formats", "onnx,foo"], "--formats: unknown format foo"),
    (["export", DEMO, "--precision", "fp8"], "--precision: unknown precision fp8"),
    (["export", DEMO, "--out", "{d}/file.txt/sub"], "--out: cannot write to {d}/file.txt/sub"),
    (["export", DEMO, "--calib", "{d}/missing_dir"], "--calib: calibration folder not found: {d}/missing_dir"),
    (["export", DEMO, "--weights", "{d}/notes.pth"], "notes.pth"),
    (["export", DEMO, "--calib-count", "-3"], "--calib-count must be at least 1, got -3"),
    # benchmark
    (["benchmark", "litehrnet_18_coco_128x9"], "did you mean 'litehrnet_18_coco_128x96'?"),
    (["benchmark", DEMO, "--threads", "-2"], "--threads: must be at least 1"),
    (["benchmark", DEMO, "--threads", "two"], "--threads: expected positive integers"),
    (["benchmark", DEMO, "--threads", "1,100000"], "--threads: must be at most"),
    (["benchmark", DEMO, "--formats", "foo"], "--formats: unknown value foo"),
    (["benchmark", DEMO, "--batch", "0"], "--batch: must be at least 1"),
    (["benchmark", DEMO, "--runs", "0"], "--runs: must be a positive integer"),
    (["benchmark", DEMO, "--precision", "fp8"], "--precision: unknown value fp8"),
    # train / eval / synth
    (["train", "--data", "{d}/missing.json"], "the following arguments are required: name"),
    (["train", "litehrnet_18_cocoo_256x192", "--data", "{d}/missing.json"], "did you mean 'litehrnet_18_coco_256x192'?"),
    (["train", DEMO, "--data", "{d}/missing.json", "--out", "{d}/file.txt/sub"], "missing.json"),
    (["train", DEMO, "--data", "{d}/boxes_null.json", "--out", "{d}/file.txt/sub"], "--out: cannot write to {d}/file.txt/sub"),
    (["train", DEMO, "--data", "{d}/boxes_null.json", "--out", "{d}/train_out"], "boxes_null.json"),
    (["train", DEMO, "--data", "{d}/a.jpg", "--input-size", "abc"], "--input-size must look like HEIGHTxWIDTH"),
    (["eval", "{onnx}", "--data", "{d}/boxes_null.json"], "boxes_null.json is not a COCO annotation file"),
    (["eval", "{onnx}", "--data", "{d}/missing.json"], "missing.json"),
    (["eval", "{onnx}", "--data", "{d}/boxes_null.json", "--threads", "100000"], "threads must be at most"),
    (["eval", "{d}/missing.onnx", "--data", "{d}/boxes_null.json"], "missing.onnx"),
    (["eval", "litehrnet_30_coco_256x19", "--data", "{d}/boxes_null.json"], "litehrnet_30_coco_256x19"),
    (["synth", "{d}/synth_out", "--images", "-5"], "--images must be at least 1"),
    (["synth", "{d}/synth_out", "--size", "0x10"], "--size must be positive"),
    (["synth", "{d}/file.txt/sub", "--images", "1"], "file.txt/sub"),
]


def run_cli(argv):
    """Exit status, stdout and stderr of ``lite-hrnet ARGV`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's usage errors
            code = e.code
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code, stderr: str, fragment: str) -> None:
    assert code == 2, (code, stderr)
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("lite-hrnet"), lines[0]
    assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("argv,fragment", CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CASES])
def test_bad_input_is_one_line_exit_2(argv, fragment, corpus, request):
    values = {"d": str(corpus)}
    if any("{onnx}" in a for a in argv):
        values["onnx"] = str(request.getfixturevalue("tiny_onnx"))
    code, _, stderr = run_cli([a.format(**values) for a in argv])
    assert_one_line_error(code, stderr, fragment.format(**values))


def test_offline_checkpoint_download_says_which_from_where_and_what_to_do(monkeypatch, tmp_path):
    """No network: the error names the checkpoint and its URL, and how to pass a local file."""
    pytest.importorskip("torch")
    from lite_hrnet.specs import get_model_spec

    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr("urllib.request.urlopen", offline)
    name = "litehrnet_18_coco_256x192"
    release = get_model_spec(name).pretrained
    for argv in (["info", name, "--weights", name], ["predict", "--model", name, str(tmp_path)]):
        (tmp_path / "a.jpg").write_bytes(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
        code, _, stderr = run_cli(argv)
        assert_one_line_error(code, stderr, f"cannot download checkpoint {release.file_name} from {release.url}")
        assert "Name or service not known" in stderr and "--weights PATH" in stderr
    assert not list((tmp_path.parent).glob("**/*.part"))  # nothing half-downloaded left in the cache

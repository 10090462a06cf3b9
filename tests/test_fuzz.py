"""Fuzzing the readers of untrusted files with hypothesis: every input parses or raises the documented error.

- model metadata (``lite_hrnet.metadata.read_metadata``, ONNX / OpenVINO / TFLite): ``MetadataError``;
- checkpoints (``lite_hrnet.models.checkpoint.read_checkpoint``): ``CheckpointError``;
- person boxes files (``lite_hrnet.predict_cli.BoxFile``): ``ValueError`` naming the file.

Inputs are valid files with bytes flipped, inserted, cut or replaced (so the fuzzer gets past the first
header check), plus arbitrary bytes and JSON values. Bounded: few examples each, no deadline.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lite_hrnet.metadata import MetadataError, read_metadata  # noqa: E402
from lite_hrnet.predict_cli import BoxFile  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """``original`` with a few edits: byte flips, a cut, an insertion or a replaced span."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "replace"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            data = data[:at]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            span = draw(st.integers(1, 64))
            data[at:at + span] = draw(st.binary(min_size=0, max_size=span))
    return bytes(data)


def fuzz_bytes(original: bytes):
    return st.one_of(mutated(original), st.binary(max_size=256))


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------- model metadata


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Small valid files with lite-hrnet metadata: ONNX (3-conv model), OpenVINO IR of it, and a TFLite flatbuffer."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from model_files import _onnx_to_openvino, export_onnx, file_meta, tiny_model

    folder = tmp_path_factory.mktemp("fuzz_models")
    files = {"onnx": export_onnx(tiny_model(), folder / "m.onnx", file_meta("onnx"))}
    try:
        files["xml"] = _onnx_to_openvino(files["onnx"], folder / "m.xml", file_meta("openvino"))
    except ImportError:
        pass
    try:
        from lite_hrnet.metadata import pack_tflite, tflite_schema, write_tflite_metadata

        schema = tflite_schema()
        if schema is not None:
            empty = schema.ModelT()
            empty.version = 3
            files["tflite"] = folder / "m.tflite"
            files["tflite"].write_bytes(write_tflite_metadata(pack_tflite(empty), file_meta("tflite", layout="NHWC")))
    except ImportError:
        pass
    for path in files.values():
        assert read_metadata(path)["model_name"]  # the unmutated files parse
    return files


def check_metadata_reader(path: Path) -> None:
    try:
        meta = read_metadata(path)
    except MetadataError as e:
        assert str(path) in str(e) or path.name in str(e)
        return
    assert isinstance(meta, dict)


@pytest.mark.parametrize("kind", ["onnx", "tflite", "xml"])
def test_metadata_readers_parse_or_raise_metadata_error(model_files, kind):
    if kind not in model_files:
        pytest.skip(f"no {kind} runtime here")
    original = model_files[kind].read_bytes()
    folder = Path(tempfile.mkdtemp(dir=model_files[kind].parent))
    name = model_files[kind].name
    if kind == "xml":  # the .bin beside it stays valid; the XML is what is fuzzed
        (folder / "m.bin").write_bytes(model_files["xml"].with_suffix(".bin").read_bytes())

    @FUZZ
    @given(fuzz_bytes(original))
    def run(data: bytes):
        check_metadata_reader(write(folder, name, data))

    run()


# ---------------------------------------------------------------------------- checkpoints


def test_checkpoint_reader_parses_or_raises_checkpoint_error(tmp_path):
    torch = pytest.importorskip("torch")
    from lite_hrnet.models.checkpoint import CheckpointError, read_checkpoint

    good = tmp_path / "good.pth"
    torch.save({"state_dict": {"w": torch.arange(6.0).reshape(2, 3)}, "meta": {"epoch": 1}}, good)
    original = good.read_bytes()

    @FUZZ
    @given(fuzz_bytes(original))
    def run(data: bytes):
        path = write(tmp_path, "fuzzed.pth", data)
        try:
            read_checkpoint(path)
        except CheckpointError as e:
            assert "fuzzed.pth" in str(e) and "\n" not in str(e)

    run()


# ---------------------------------------------------------------------------- boxes files

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)
box = st.lists(st.floats(-1e4, 1e4) | st.integers(-10, 1000) | st.sampled_from([float("nan"), "1", None]),
               min_size=3, max_size=6)
box_files = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(["a.jpg", "0", "b"]), st.lists(box, max_size=3), max_size=3),
    st.lists(st.fixed_dictionaries({"image_id": st.integers(0, 3) | st.text(max_size=3), "bbox": box},
                                   optional={"score": json_values, "category_id": json_values}), max_size=4),
    st.fixed_dictionaries({"images": st.lists(st.fixed_dictionaries(
        {"id": st.integers(0, 3)}, optional={"file_name": st.text(max_size=5) | json_values}), max_size=3) | json_values,
        "annotations": st.lists(st.fixed_dictionaries({"image_id": json_values, "bbox": box},
                                                      optional={"iscrowd": json_values}), max_size=3) | json_values}),
)


def check_box_file(path: Path) -> None:
    try:
        boxes = BoxFile(path, box_thr=0.0)
    except ValueError as e:
        assert str(path) in str(e) and "\n" not in str(e)
        return
    for key in boxes.by_key:
        found = boxes._array(key)
        assert found.ndim == 2 and found.shape[1] == 5 and found.dtype == np.float32
        assert all(math.isfinite(s) for s in found[:, 4])  # scores were checked; NaN coordinates are refused later


def test_box_file_reader_parses_or_raises_value_error(tmp_path):
    @settings(FUZZ, max_examples=25)
    @given(box_files)
    def structured(value):
        check_box_file(write(tmp_path, "boxes.json", json.dumps(value).encode()))

    @settings(FUZZ, max_examples=25)
    @given(fuzz_bytes(json.dumps([{"image_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9}]).encode()))
    def raw(data: bytes):
        check_box_file(write(tmp_path, "boxes.json", data))

    structured()
    raw()

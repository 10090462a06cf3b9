"""Runtime-specific ONNX rewrites: each must compute exactly what the plain graph computes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from lite_hrnet.export import formats  # noqa: E402
from lite_hrnet.export.rewrite import (  # noqa: E402
    FORMAT_REWRITES,
    channel_shuffle_as_conv,
    nearest_upsample_as_depth_to_space,
    rewrite_for_format,
    shuffle_permutation,
)
from lite_hrnet.models.litehrnet import channel_shuffle  # noqa: E402

NAME = "litehrnet_18_coco_128x96"  # every pattern the rewrites touch: shuffles, CRW and fuse upsamplings, bilinear head


@pytest.fixture(scope="module")
def plain_onnx(tmp_path_factory):
    """A dynamic-batch export: its reshape targets are computed with Shape/Concat, the harder case.

    The static-batch graph (the default) is rewritten in every OpenVINO export of test_export.
    """
    from lite_hrnet.export.calibration import calibrated_random_model
    from lite_hrnet.specs import get_model_spec

    name = NAME
    spec = get_model_spec(name)
    model = calibrated_random_model(name, seed=3, calib_count=4)
    path = tmp_path_factory.mktemp("rewrite") / f"{name}.onnx"
    formats.export_onnx(model, spec.input_size, path, dynamic_batch=True, meta={})
    x = np.random.RandomState(0).randn(2, 3, *spec.input_size).astype(np.float32)
    return path, x


def _run(model_or_path, x):
    source = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    # No fusions: ONNX Runtime fuses an Add into whichever Conv precedes it, which reorders
    # float additions differently in the two graphs. Unfused, the rewrite must be bit-exact.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
    return session.run(None, {formats.INPUT_NAME: x})[0]


def test_shuffle_permutation_matches_the_model():
    x = torch.arange(2 * 12 * 3 * 2, dtype=torch.float32).reshape(2, 12, 3, 2)
    perm = shuffle_permutation(12, 2)
    assert torch.equal(channel_shuffle(x, 2, 12), x[:, torch.from_numpy(perm)])
    assert sorted(perm.tolist()) == list(range(12)) and perm.tolist()[:4] == [0, 6, 1, 7]
    with pytest.raises(ValueError, match="13 channels"):
        shuffle_permutation(13, 2)


def test_channel_shuffle_as_conv_is_exact(plain_onnx):
    path, x = plain_onnx
    model = onnx.load(str(path))
    before = Counter(n.op_type for n in model.graph.node)
    replaced = channel_shuffle_as_conv(model)
    after = Counter(n.op_type for n in model.graph.node)
    assert replaced == before["Transpose"] > 10  # every Transpose of this network is a channel shuffle
    assert after["Transpose"] == 0 and after["Conv"] == before["Conv"] + replaced
    assert after["Reshape"] == before["Reshape"] - 2 * replaced
    np.testing.assert_array_equal(_run(model, x), _run(path, x))


def test_nearest_upsample_as_depth_to_space_is_exact(plain_onnx):
    path, x = plain_onnx
    model = onnx.load(str(path))
    nearest = [n for n in model.graph.node if n.op_type == "Resize"
               and any(a.name == "mode" and a.s == b"nearest" for a in n.attribute)]
    replaced = nearest_upsample_as_depth_to_space(model)
    remaining = [n for n in model.graph.node if n.op_type == "Resize"]
    assert replaced == len(nearest) > 5
    # What is left is the head's bilinear resize, which this rewrite must not touch.
    assert all(any(a.name == "mode" and a.s == b"linear" for a in n.attribute) for n in remaining)
    assert Counter(n.op_type for n in model.graph.node)["DepthToSpace"] >= replaced
    np.testing.assert_array_equal(_run(model, x), _run(path, x))


def test_rewrite_for_format_writes_a_new_file_and_says_what_it_did(plain_onnx, tmp_path):
    path, x = plain_onnx
    original = path.read_bytes()
    applied = rewrite_for_format(path, tmp_path / "ov.onnx", "openvino")
    assert [a.split(" x")[0] for a in applied] == list(FORMAT_REWRITES["openvino"])
    assert all(int(a.split(" x")[1]) > 0 for a in applied)
    assert path.read_bytes() == original
    np.testing.assert_array_equal(_run(tmp_path / "ov.onnx", x), _run(path, x))
    ort = rewrite_for_format(path, tmp_path / "ort.onnx", "onnx")
    assert [a.split(" x")[0] for a in ort] == list(FORMAT_REWRITES["onnx"])
    np.testing.assert_array_equal(_run(tmp_path / "ort.onnx", x), _run(path, x))
    assert rewrite_for_format(path, tmp_path / "none.onnx", "tflite") == []  # TFLite's graph is converted as it is

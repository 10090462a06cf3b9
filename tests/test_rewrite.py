"""Runtime-specific ONNX rewrites: each must compute exactly what the plain graph computes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from model_files import run_onnx_unfused  # noqa: E402

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
    np.testing.assert_array_equal(run_onnx_unfused(model, x)[0], run_onnx_unfused(path, x)[0])


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
    np.testing.assert_array_equal(run_onnx_unfused(model, x)[0], run_onnx_unfused(path, x)[0])


def test_rewrite_for_format_writes_a_new_file_and_says_what_it_did(plain_onnx, tmp_path):
    path, x = plain_onnx
    original = path.read_bytes()
    applied = rewrite_for_format(path, tmp_path / "ov.onnx", "openvino")
    assert [a.split(" x")[0] for a in applied] == list(FORMAT_REWRITES["openvino"])
    assert all(int(a.split(" x")[1]) > 0 for a in applied)
    assert path.read_bytes() == original
    np.testing.assert_array_equal(run_onnx_unfused(tmp_path / "ov.onnx", x)[0], run_onnx_unfused(path, x)[0])
    ort = rewrite_for_format(path, tmp_path / "ort.onnx", "onnx")
    assert [a.split(" x")[0] for a in ort] == list(FORMAT_REWRITES["onnx"])
    np.testing.assert_array_equal(run_onnx_unfused(tmp_path / "ort.onnx", x)[0], run_onnx_unfused(path, x)[0])
    assert rewrite_for_format(path, tmp_path / "none.onnx", "tflite") == []  # TFLite's graph is converted as it is


def _relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


class _ShuffleNetPieces(torch.nn.Module):
    """Every pattern the shuffle folding handles: ShuffleNet units (Split, Concat, shuffle), depthwise and dense convs,
    a squeeze-excitation Mul, a per-channel constant, an Add of two differently shuffled tensors, a shuffled output."""

    def __init__(self):
        super().__init__()
        from lite_hrnet.models.litehrnet import ShuffleUnit

        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.units = torch.nn.ModuleList([ShuffleUnit(8, 8) for _ in range(3)])
        self.squeeze = torch.nn.Conv2d(8, 2, 1)
        self.excite = torch.nn.Conv2d(2, 8, 1)
        self.scale = torch.nn.Parameter(torch.linspace(0.5, 2.0, 8).reshape(1, 8, 1, 1))
        self.head = torch.nn.Conv2d(8, 4, 1)

    def forward(self, x):
        x1 = self.units[0](self.stem(x))
        x2 = self.units[1](x1)
        x3 = self.units[2](x2 + x1)  # two shuffles' orders meet: no convolution can take the other's order
        weights = torch.sigmoid(self.excite(torch.relu(self.squeeze(x3.mean((2, 3), keepdim=True)))))
        y = x3 * weights * self.scale
        return self.head(y), torch.relu(channel_shuffle(y, 2, 8))


def test_channel_shuffle_folded_on_a_small_network(tmp_path):
    onnxslim = pytest.importorskip("onnxslim")
    from lite_hrnet.export.rewrite import channel_shuffle_folded

    torch.manual_seed(0)
    net = _ShuffleNetPieces().eval()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial folded batch norms
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 12, 10)
    path = tmp_path / "pieces.onnx"
    torch.onnx.export(net, (x,), str(path), dynamo=False, opset_version=17, input_names=[formats.INPUT_NAME],
                      output_names=["heat", "features"])
    onnx.save(onnxslim.slim(onnx.load(str(path))), str(path))  # as the exporter does: constant reshape targets
    model = onnx.load(str(path))
    before = Counter(n.op_type for n in model.graph.node)
    assert channel_shuffle_folded(model) == before["Transpose"] == 4
    after = Counter(n.op_type for n in model.graph.node)
    assert after["Transpose"] == 0 and after["Reshape"] == before["Reshape"] - 8
    # the Add of two orders and the shuffled graph output each need one Gather back; nothing else copies more
    assert after["Gather"] == 2
    assert [o.name for o in model.graph.output] == ["heat", "features"]
    with torch.no_grad():
        expected = [t.numpy() for t in net(x)]
    for got, plain, reference in zip(run_onnx_unfused(model, x.numpy()), run_onnx_unfused(path, x.numpy()), expected):
        assert _relative(got, plain) < 1e-6
        assert _relative(got, reference) < 1e-5


def test_channel_shuffle_folded_on_lite_hrnet_18(plain_onnx):
    """LH-18 (dynamic batch, constant reshapes first as in FORMAT_REWRITES): every shuffle gone, no Gather,
    heatmaps within 1e-5 relative of the plain graph and of PyTorch."""
    from lite_hrnet.export.calibration import calibration_batch
    from lite_hrnet.export.rewrite import channel_shuffle_folded, computed_reshapes_as_constants
    from lite_hrnet.specs import get_model_spec

    path, _ = plain_onnx
    spec = get_model_spec(NAME)
    x = calibration_batch(None, spec.input_size, spec.mean, spec.std, count=3, seed=1)
    model = onnx.load(str(path))
    computed_reshapes_as_constants(model)
    before = Counter(n.op_type for n in model.graph.node)
    assert channel_shuffle_folded(model) == before["Transpose"] > 40
    after = Counter(n.op_type for n in model.graph.node)
    assert after["Transpose"] == after["Gather"] == after["Reshape"] == 0
    assert after["Split"] == before["Split"] and after["Conv"] == before["Conv"]
    for n in (1, 3):
        got, plain = run_onnx_unfused(model, x[:n])[0], run_onnx_unfused(path, x[:n])[0]
        assert _relative(got, plain) < 1e-5
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # still a dynamic batch

"""The deploy form of Lite-HRNet (lite_hrnet.models.deploy): same function, no split/concat/shuffle."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from conftest import DEMO_NAME, NAIVE

torch = pytest.importorskip("torch")

from lite_hrnet.export.calibration import calibration_batch  # noqa: E402
from lite_hrnet.export.rewrite import applied_rewrites, uses_deploy_form  # noqa: E402
from lite_hrnet.models import create_model  # noqa: E402
from lite_hrnet.models.deploy import SATURATED, DeployBlock, deploy_model, shuffle_source, supports_deploy_form  # noqa: E402
from lite_hrnet.specs import get_model_spec, list_models  # noqa: E402
from lite_hrnet.models.litehrnet import channel_shuffle  # noqa: E402


def _rel(a, b) -> float:
    return float((a - b).norm() / b.norm())


def _crops(spec, count=4):
    return torch.from_numpy(calibration_batch(None, spec.input_size, spec.mean, spec.std, count=count, seed=3))


@pytest.mark.parametrize("merge_weighting", [True, False])
def test_trained_demo_model_gives_the_same_heatmaps(demo_weights, merge_weighting):
    model = create_model(DEMO_NAME, weights=demo_weights)
    deploy = deploy_model(model, merge_weighting=merge_weighting)
    x = _crops(model.spec)
    with torch.no_grad():
        plain, ours = model(x), deploy(x)
    assert ours.shape == plain.shape == (4, 17, 32, 24)
    assert _rel(ours, plain) < 1e-5  # measured 2.7e-7: float rounding of the folded batch norms
    # The same peaks, so the same keypoints.
    assert torch.equal(ours.flatten(2).argmax(-1), plain.flatten(2).argmax(-1))


def test_lh30_is_as_close_to_float64_as_the_plain_network():
    """Random weights amplify rounding (~20x): judge against float64, next to the plain network's own error."""
    from model_files import seeded_model

    model = seeded_model("litehrnet_30_coco_256x192")
    deploy = deploy_model(model)
    x = _crops(model.spec, count=2)
    with torch.no_grad():
        exact = copy.deepcopy(model).double()(x.double()).float()
        plain, ours = model(x), deploy(x)
    assert _rel(ours, exact) <= 2 * _rel(plain, exact) + 1e-6


@pytest.mark.parametrize("merge_weighting", [True, False])
def test_pass_through_channels_are_returned_bit_for_bit(merge_weighting):
    model = create_model(DEMO_NAME)  # any weights: the pass-through half must not change at all
    block = model.backbone.stage1[0].layers[0]
    channels = block.in_channels
    orders = [torch.randperm(c, generator=torch.Generator().manual_seed(i)) for i, c in enumerate(channels)]
    deploy = DeployBlock(block, orders, merge_weighting).eval()
    torch.manual_seed(0)
    x = [torch.randn(2, c, 16 >> i, 12 >> i) for i, c in enumerate(channels)]
    with torch.no_grad():
        out = deploy(x)
        plain = block([s[:, order.argsort()] for s, order in zip(x, orders)])  # logical order for the plain block
    assert torch.sigmoid(torch.tensor(SATURATED, dtype=torch.float32)).item() == 1.0
    for s, o, p, order, c in zip(x, out, plain, orders, channels):
        kept = order < c // 2
        assert kept.sum() == c // 2
        assert torch.equal(o[:, kept], s[:, kept])
        # And the weighted half matches the plain block (which writes it in shuffled logical order).
        new_order = DeployBlock.next_orders([order], [c // 2])[0]
        assert torch.allclose(o, p[:, new_order], rtol=1e-5, atol=1e-5)


def test_shuffle_source_says_where_each_channel_goes():
    x = torch.arange(12.0).view(1, 12, 1, 1)
    shuffled = channel_shuffle(x, 2, 12).flatten()
    assert torch.equal(shuffled[shuffle_source(12)], x.flatten())
    assert shuffle_source(6).tolist() == [0, 2, 4, 1, 3, 5]


def test_naive_networks_have_no_deploy_form():
    model = create_model(NAIVE)
    with pytest.raises(ValueError, match="naive"):
        deploy_model(model)
    assert not supports_deploy_form(model.spec.arch)


def test_which_networks_and_files_come_from_the_deploy_form():
    lite = get_model_spec(DEMO_NAME).arch
    assert all(supports_deploy_form(get_model_spec(n).arch) == n.startswith("litehrnet") for n in list_models())
    assert not supports_deploy_form(dataclasses.replace(lite, with_head=False))
    assert not supports_deploy_form(dataclasses.replace(lite, with_fuse=(True, False, True)))
    made = {(f, p) for f in ("onnx", "openvino", "tflite") for p in ("fp32", "fp16", "int8") if uses_deploy_form(f, p)}
    # ONNX Runtime and XNNPACK's int8 run the deploy form slower (benchmarks/export/deploy_form.md).
    assert made == {("openvino", "fp32"), ("openvino", "fp16"), ("openvino", "int8"), ("tflite", "fp32"), ("tflite", "fp16")}
    assert applied_rewrites("openvino", True) == ["deploy_form", "merged_weighting"]
    assert applied_rewrites("tflite", True) == ["deploy_form", "nearest_upsample_as_depth_to_space", "tflite_batch_free_reshapes"]
    assert applied_rewrites("openvino", False) == ["computed_reshapes_as_constants", "channel_shuffle_as_conv"]


def test_exported_deploy_graph_moves_no_feature_map(tmp_path, demo_weights):
    """No shuffle, reshape or gather at all; split and concat only on the weighting's small tensors
    (at most a stage's lowest branch: stride 8 in the first stage) and the stem's one concat."""
    onnx = pytest.importorskip("onnx")
    from lite_hrnet.export.formats import export_onnx

    model = create_model(DEMO_NAME, weights=demo_weights)
    plain = export_onnx(model, (128, 96), tmp_path / "plain.onnx", False, {})
    deploy = export_onnx(deploy_model(model), (128, 96), tmp_path / "deploy.onnx", False, {})

    def moves(path):
        """{op: [H * W of each output]} of the ops that move data between channels."""
        graph = onnx.shape_inference.infer_shapes(onnx.load(str(path))).graph
        sizes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in graph.value_info}
        out = {}
        for node in graph.node:
            if node.op_type in ("Split", "Concat", "Transpose", "Reshape", "Gather", "Slice"):
                shape = sizes.get(node.output[0], [0, 0, 0, 0])
                out.setdefault(node.op_type, []).append(shape[2] * shape[3] if len(shape) == 4 else -1)
        return out

    before, after = moves(plain), moves(deploy)
    assert len(before["Transpose"]) > 10 and max(before["Split"]) > 12 and max(before["Concat"]) > 12
    lowest = (128 // 8) * (96 // 8)
    assert set(after) == {"Split", "Concat"}
    assert max(after["Split"]) <= lowest
    big = [size for size in after["Concat"] if size > lowest]
    assert big == [(128 // 4) * (96 // 4)]  # the stem's


def test_a_network_that_is_not_lite_hrnet_keeps_its_own_graph(tmp_path):
    """``export_model(model=...)`` with another network under a LITE name: no deploy form is attempted."""
    pytest.importorskip("openvino")
    from lite_hrnet import metadata as md
    from lite_hrnet.export import export_model
    from model_files import tiny_model

    report = export_model("litehrnet_18_coco_256x192", "openvino", "fp32", out_dir=tmp_path, model=tiny_model())
    [artifact] = report.artifacts
    assert artifact.status == "ok", report.table()
    assert md.read_metadata(artifact.path)["graph_rewrites"] == applied_rewrites("openvino", False)

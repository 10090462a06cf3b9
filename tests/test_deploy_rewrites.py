"""The deploy-graph passes of lite_hrnet.export.rewrite: each computes what the plain graph computes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from model_files import run_onnx_unfused  # noqa: E402

from lite_hrnet.export import formats  # noqa: E402
from lite_hrnet.export.rewrite import (  # noqa: E402
    computed_reshapes_as_constants,
    nearest_integer_factor,
    nearest_upsample_as_broadcast,
)

NAME = "litehrnet_18_coco_128x96"  # cross-resolution weights and fuse layers upsample by 2, 4 and 8


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The same seeded network exported with a dynamic and with a static batch, and two inputs."""
    from lite_hrnet.export.calibration import calibrated_random_model
    from lite_hrnet.specs import get_model_spec

    spec = get_model_spec(NAME)
    model = calibrated_random_model(NAME, seed=5, calib_count=4)
    folder = tmp_path_factory.mktemp("deploy_rewrites")
    paths = {}
    for key, dynamic in (("dynamic", True), ("static", False)):
        paths[key] = formats.export_onnx(model, spec.input_size, folder / f"{key}.onnx", dynamic_batch=dynamic, meta={})
    x = np.random.RandomState(1).randn(3, 3, *spec.input_size).astype(np.float32)
    return paths, x


def test_computed_reshapes_as_constants_drop_the_shape_arithmetic(exported):
    paths, x = exported
    model = onnx.load(str(paths["dynamic"]))
    before = Counter(n.op_type for n in model.graph.node)
    changed = computed_reshapes_as_constants(model)
    after = Counter(n.op_type for n in model.graph.node)
    static = Counter(n.op_type for n in onnx.load(str(paths["static"])).graph.node)
    assert before["Shape"] > 0 and changed >= before["Shape"] // 2  # two per channel shuffle
    assert after == static  # the dynamic-batch graph now has the static graph's operations
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # and still a dynamic batch
    for n in (1, 3):
        np.testing.assert_array_equal(run_onnx_unfused(model, x[:n])[0], run_onnx_unfused(paths["dynamic"], x[:n])[0])


def test_computed_reshapes_as_constants_leave_a_static_graph_alone(exported):
    paths, _ = exported
    model = onnx.load(str(paths["static"]))
    assert computed_reshapes_as_constants(model) == 0


@pytest.mark.parametrize("batch", ["dynamic", "static"])
def test_nearest_upsample_as_broadcast_is_exact(exported, batch):
    paths, x = exported
    x = x if batch == "dynamic" else x[:1]
    model = onnx.load(str(paths[batch]))
    computed_reshapes_as_constants(model)
    resizes = Counter(n.op_type for n in model.graph.node)["Resize"]
    removed = nearest_upsample_as_broadcast(model)
    after = Counter(n.op_type for n in model.graph.node)
    # every nearest upsampling of the cross-resolution weighting and the fuse layers; the head's bilinear ones stay
    assert removed >= 20 and after["Resize"] == resizes - removed
    assert all(n.op_type != "Resize" or nearest_integer_factor(n, {}) == 0 for n in model.graph.node)
    read = {name for node in model.graph.node for name in node.input}
    assert all(init.name in read for init in model.graph.initializer)  # the Resize scales went with them
    np.testing.assert_array_equal(run_onnx_unfused(model, x)[0], run_onnx_unfused(paths[batch], x)[0])


def test_nearest_integer_factor_reads_torch_nearest_only():
    from onnx import helper

    scales = {"s2": np.array([1, 1, 2, 2], np.float32), "s3": np.array([1, 1, 3, 3], np.float32),
              "half": np.array([1, 1, 1.5, 1.5], np.float32), "uneven": np.array([1, 1, 2, 4], np.float32)}

    def resize(name, **attributes):
        base = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        return helper.make_node("Resize", ["x", "", name], ["y"], **dict(base, **attributes))

    assert nearest_integer_factor(resize("s2"), scales) == 2
    assert nearest_integer_factor(resize("s3"), scales) == 3
    assert nearest_integer_factor(resize("half"), scales) == 0
    assert nearest_integer_factor(resize("uneven"), scales) == 0
    assert nearest_integer_factor(resize("s2", mode="linear"), scales) == 0
    assert nearest_integer_factor(resize("s2", coordinate_transformation_mode="half_pixel"), scales) == 0

"""End-to-end model files (uint8 RGB crop in, N x K x 3 keypoints out): decoding graph, files, checks.

The decoding inside the files is tested on crafted heatmaps: tiny "plain" ONNX and TFLite
files whose output is a constant set of heatmaps, with maxima on the borders, next to
them, on ties and with equal neighbours, compared with :mod:`lite_hrnet.codec` and with
values worked out by hand from mmpose 1.x's rule. The demo model's real files are checked
once against decoding their plain files.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from model_files import empty_tflite  # noqa: E402

from lite_hrnet import metadata as md  # noqa: E402
from lite_hrnet.export import end_to_end as e2e  # noqa: E402
from lite_hrnet.runtimes import load  # noqa: E402
from lite_hrnet.specs import get_model_spec  # noqa: E402

DEMO_NAME = "litehrnet_18_coco_128x96"
SPEC = get_model_spec(DEMO_NAME)
IN_H, IN_W = SPEC.input_size  # 128 x 96
H, W = SPEC.heatmap_size  # 32 x 24
K = SPEC.num_joints


def crafted_heatmaps():
    """4 x K x H x W heatmaps (low noise plus one peak per joint) and, for some joints, the
    expected (x, y) in input-crop pixels worked out by hand with mmpose 1.x's rule:
    x moves where 1 < x < W-1 and y > 0, y where 1 < y < H-1 and x > 0, a quarter
    heatmap pixel toward the higher neighbour; input-crop pixels are heatmap pixels x 4."""
    rng = np.random.default_rng(0)
    maps = rng.uniform(0.0, 0.1, size=(4, K, H, W)).astype(np.float32)
    expected = {}

    def peak(n, k, x, y, right=0.5, left=0.3, below=0.5, above=0.3):
        maps[n, k, y, x] = 1.0
        if x + 1 < W:
            maps[n, k, y, x + 1] = right
        if x - 1 >= 0:
            maps[n, k, y, x - 1] = left
        if y + 1 < H:
            maps[n, k, y + 1, x] = below
        if y - 1 >= 0:
            maps[n, k, y - 1, x] = above

    cases = [
        # (x, y, neighbours, expected heatmap (x, y))
        (10, 12, {}, (10.25, 12.25)),  # inside: toward the right and lower neighbours
        (10, 12, dict(right=0.2, below=0.1), (9.75, 11.75)),  # toward the left and upper ones
        (10, 12, dict(right=0.3, left=0.3), (10.0, 12.25)),  # equal x neighbours: x stays
        (0, 12, {}, (0.0, 12.0)),  # x = 0: no x move, and no y move (needs x > 0)
        (1, 12, {}, (1.0, 12.25)),  # x = 1: no x move (needs x > 1), y moves
        (W - 2, 12, {}, (W - 2 + 0.25, 12.25)),  # x = W-2 still moves
        (W - 1, 12, {}, (W - 1, 12.25)),  # x = W-1: no x move, y moves
        (10, 0, {}, (10.0, 0.0)),  # y = 0: no y move, and no x move (needs y > 0)
        (10, 1, {}, (10.25, 1.0)),  # y = 1: x moves, y does not
        (10, H - 2, {}, (10.25, H - 2 + 0.25)),
        (10, H - 1, {}, (10.25, H - 1)),  # last row: mmpose 1.x moves x along the border
        (0, 0, {}, (0.0, 0.0)),
        (W - 1, H - 1, {}, (W - 1, H - 1)),
    ]
    for k, (x, y, neighbours, want) in enumerate(cases):
        peak(0, k, x, y, **neighbours)
        expected[(0, k)] = (want[0] * 4, want[1] * 4)
    # A tie: the first maximum in row-major order wins (y = 5 before y = 20).
    peak(1, 0, 15, 20)
    peak(1, 0, 7, 5, right=0.2, below=0.1)
    expected[(1, 0)] = (6.75 * 4, 4.75 * 4)
    # A map with no positive value keeps its arg-max (the codec's convention); its score is negative.
    maps[1, 1] -= 2.0
    # Random peaks everywhere else, on borders too.
    for n in range(1, 4):
        for k in range(2, K):
            peak(n, k, int(rng.integers(0, W)), int(rng.integers(0, H)), *rng.uniform(0, 1, 4))
    return maps, expected


def constant_onnx(path, heatmaps: np.ndarray, batch=None):
    """A plain-looking ONNX file (N x 3 x H x W float32 in) whose output is always ``heatmaps``.

    ``batch="batch"``: a dynamic batch, every person getting ``heatmaps[0]``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = batch or heatmaps.shape[0]
    heatmaps = heatmaps[:1] if batch else heatmaps
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["avg"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["avg", "zero"], ["nothing"]),
        helper.make_node("Add", ["maps", "nothing"], ["heatmaps"]),
    ]
    graph = helper.make_graph(
        nodes, "constant", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, 3, IN_H, IN_W])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [n] + list(heatmaps.shape[1:]))],
        [numpy_helper.from_array(heatmaps, "maps"), numpy_helper.from_array(np.zeros((1,), np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    md.write_onnx_metadata(model, dict(SPEC.metadata(), format="onnx", precision="fp32", layout="NCHW",
                                       batch="dynamic" if batch else n))
    onnx.save(model, str(path))
    return path


def constant_tflite(path, heatmaps: np.ndarray):
    """A plain-looking TFLite file (N x H x W x 3 float32 in, NHWC heatmaps out) whose output is always ``heatmaps``."""
    pytest.importorskip("ai_edge_litert")
    model, graph, edit = empty_tflite()
    n = heatmaps.shape[0]
    pixels = edit.tensor("input", [n, IN_H, IN_W, 3], np.float32)
    avg = edit.out("MEAN", "avg", [n, 1, 1, 1], np.float32, [pixels, edit.const("axes", [1, 2, 3], np.int32)],
                   "ReducerOptions", keepDims=True)
    nothing = edit.out("MUL", "nothing", [n, 1, 1, 1], np.float32, [avg, edit.const("zero", [0.0], np.float32)], "MulOptions")
    maps = edit.const("maps", heatmaps.transpose(0, 2, 3, 1), np.float32)
    out = edit.out("ADD", "heatmaps", [n, H, W, K], np.float32, [maps, nothing], "AddOptions")
    graph.inputs, graph.outputs = [pixels], [out]
    meta = dict(SPEC.metadata(), format="tflite", precision="fp32", layout="NHWC", batch=n)
    path.write_bytes(md.write_tflite_metadata(md.pack_tflite(model), meta))
    return path


def crops(n: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, size=(n, IN_H, IN_W, 3), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_decoding_inside_the_file_follows_the_codec_and_mmpose_1x_on_borders_ties_and_flat_neighbours(tmp_path, fmt):
    heatmaps, expected = crafted_heatmaps()
    if fmt == "onnx":
        plain = constant_onnx(tmp_path / "plain.onnx", heatmaps)
        made = e2e.onnx_end_to_end(plain, tmp_path / "e2e.onnx")
    else:
        plain = constant_tflite(tmp_path / "plain.tflite", heatmaps)
        made = e2e.tflite_end_to_end(plain, tmp_path / "e2e.tflite")
    got = load(made).keypoints(crops(len(heatmaps)))
    assert got.shape == (4, K, 3) and got.dtype == np.float32
    for (n, k), xy in expected.items():
        assert tuple(got[n, k, :2]) == pytest.approx(xy, abs=0), (n, k)
    np.testing.assert_array_equal(got, e2e.decode_to_crop(heatmaps, (IN_H, IN_W)))
    np.testing.assert_array_equal(got[..., 2], heatmaps.reshape(4, K, -1).max(axis=2))
    assert got[1, 1, 2] < 0  # a non-positive map keeps its location and reports its maximum
    parity = e2e.check_end_to_end(made, plain, [c[:, :, ::-1] for c in crops(len(heatmaps))])
    assert parity.passed and parity.argmax_mismatches == 0 and parity.max_shift_px == 0.0


def test_decode_to_crop_maps_heatmap_pixels_as_the_pipeline_maps_a_box_that_is_the_crop():
    heatmaps = np.zeros((1, 2, H, W), np.float32)
    heatmaps[0, 0, 7, 5] = 1.0  # neighbours equal: no shift
    heatmaps[0, 1, 3, 20], heatmaps[0, 1, 3, 21] = 2.0, 1.0
    got = e2e.decode_to_crop(heatmaps, (IN_H, IN_W))
    np.testing.assert_allclose(got[0], [[5 * 4, 7 * 4, 1.0], [20.25 * 4, 3 * 4, 2.0]])


def test_metadata_says_end_to_end_and_what_the_output_holds(tmp_path):
    heatmaps, _ = crafted_heatmaps()
    made = e2e.onnx_end_to_end(constant_onnx(tmp_path / "plain.onnx", heatmaps), tmp_path / "e2e.onnx")
    meta = md.read_metadata(made)
    assert meta["end_to_end"] is True and meta["layout"] == "NHWC" and meta["input_dtype"] == "uint8"
    assert meta["output"] == "keypoints" and "N x K x 3" in meta["output_description"]
    assert meta["model_name"] == DEMO_NAME and meta["keypoint_names"] == list(SPEC.joints.keypoint_names)
    import onnxruntime as ort

    session = ort.InferenceSession(str(made), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape) == ("input", "tensor(uint8)", [4, IN_H, IN_W, 3])
    assert (out.name, out.type, out.shape) == ("keypoints", "tensor(float)", [4, K, 3])


def test_names_and_bad_inputs(tmp_path):
    assert e2e.e2e_path(tmp_path, "m", "onnx") == tmp_path / "m_e2e.onnx"
    assert e2e.e2e_path(tmp_path, "m", "tflite", "int8") == tmp_path / "m_e2e_int8.tflite"
    assert e2e.e2e_target("tflite", "fp16", tmp_path / "m_x_fp16.tflite") == tmp_path / "m_x_e2e_fp16.tflite"
    assert e2e.e2e_target("onnx", "fp32", tmp_path / "m_x.onnx") == tmp_path / "m_x_e2e.onnx"
    assert e2e.e2e_target("onnx", "int8", tmp_path / "m_x_int8.onnx") is None
    assert e2e.e2e_target("openvino", "fp32", tmp_path / "m_x_openvino" / "m_x.xml") is None
    with pytest.raises(ValueError, match="fp32 only"):
        e2e.e2e_path(tmp_path, "m", "onnx", "fp16")
    with pytest.raises(ValueError, match="openvino"):
        e2e.e2e_path(tmp_path, "m", "openvino")
    heatmaps, _ = crafted_heatmaps()
    made = e2e.onnx_end_to_end(constant_onnx(tmp_path / "plain.onnx", heatmaps), tmp_path / "e2e.onnx")
    with pytest.raises(ValueError, match="e2e.onnx"):  # already end to end: its input is not N x 3 x H x W
        e2e.onnx_end_to_end(made, tmp_path / "again.onnx")
    with pytest.raises(ValueError, match="RGB crops"):
        e2e.e2e_metadata(dict(SPEC.metadata(), color_order="BGR"))


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_runtimes_load_end_to_end_files_keypoints_without_heatmaps(tmp_path, fmt):
    heatmaps, _ = crafted_heatmaps()
    if fmt == "onnx":
        plain = constant_onnx(tmp_path / "plain.onnx", heatmaps)
        made = e2e.onnx_end_to_end(plain, tmp_path / "e2e.onnx")
    else:
        plain = constant_tflite(tmp_path / "plain.tflite", heatmaps)
        made = e2e.tflite_end_to_end(plain, tmp_path / "e2e.tflite")
    backend = load(made)
    assert backend.end_to_end and backend.max_batch == 4 and not load(plain).end_to_end
    want = e2e.decode_to_crop(heatmaps, (IN_H, IN_W))
    # 6 crops on a file of static batch 4: a full run, then a padded one.
    np.testing.assert_array_equal(backend.keypoints(crops(6)), np.concatenate([want, want[:2]]))
    assert backend.keypoints(crops(0)).shape == (0, K, 3)
    with pytest.raises(ValueError, match="end-to-end file: it gives keypoints, not heatmaps"):
        backend(np.zeros((1, 3, IN_H, IN_W), np.float32))
    with pytest.raises(ValueError, match=f"crops must be N x {IN_H} x {IN_W} x 3 uint8 RGB"):
        backend.keypoints(crops(2).astype(np.float32))
    with pytest.raises(ValueError, match="gives heatmaps, not keypoints"):
        load(plain).keypoints(crops(1))


def test_a_dynamic_batch_onnx_file_stays_dynamic_end_to_end(tmp_path):
    heatmaps, _ = crafted_heatmaps()
    made = e2e.onnx_end_to_end(constant_onnx(tmp_path / "plain.onnx", heatmaps, batch="batch"), tmp_path / "e2e.onnx")
    backend = load(made)
    assert backend.max_batch is None and md.read_metadata(made)["batch"] == "dynamic"
    got = backend.keypoints(crops(3))
    np.testing.assert_array_equal(got, np.repeat(e2e.decode_to_crop(heatmaps[:1], (IN_H, IN_W)), 3, axis=0))


def test_pose_estimator_runs_end_to_end_files_and_refuses_what_needs_heatmaps(tmp_path):
    from lite_hrnet.geometry import heatmap_to_image
    from lite_hrnet.pipeline import PoseEstimator

    heatmaps, _ = crafted_heatmaps()
    plain = constant_tflite(tmp_path / "plain.tflite", heatmaps)
    made = e2e.tflite_end_to_end(plain, tmp_path / "e2e.tflite")
    image = np.random.default_rng(2).integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    boxes = np.array([[10, 20, 110, 220], [150, 5, 300, 235], [0, 0, 320, 240], [40, 60, 90, 130]], np.float32)
    estimator = PoseEstimator(made)
    got = estimator.predict(image, boxes)
    want = PoseEstimator(plain).predict(image, boxes)
    assert got.heatmaps is None
    np.testing.assert_allclose(got.keypoints, want.keypoints, rtol=0, atol=1e-3)
    np.testing.assert_array_equal(got.scores, want.scores)
    centers, scales = estimator.centers_scales(boxes)
    decoded = e2e.decode_to_crop(heatmaps, (IN_H, IN_W))
    np.testing.assert_allclose(got.keypoints, heatmap_to_image(decoded[..., :2], centers, scales, (IN_H, IN_W)), atol=1e-3)
    with pytest.raises(ValueError, match="return_heatmaps=True: .*e2e.tflite is an end-to-end file"):
        estimator.predict(image, boxes, return_heatmaps=True)
    for option in ("flip_test", "dark"):
        with pytest.raises(ValueError, match="flip_test and dark need the plain file"):
            PoseEstimator(made, **{option: True})


# ---------------------------------------------------------------- the demo model, exported once

E2E_FILES = {("onnx", "fp32"): f"{DEMO_NAME}_e2e.onnx", ("tflite", "fp32"): f"{DEMO_NAME}_e2e_fp32.tflite",
             ("tflite", "int8"): f"{DEMO_NAME}_e2e_int8.tflite"}


@pytest.fixture(scope="session")
def e2e_export(demo_tflite):
    """The trained demo model as ONNX fp32 and TFLite fp32 and int8, with the end-to-end files.

    Exported into conftest's demo_export folder with reuse=True: the plain files are there
    already (the int8 one calibrated on 16 crops, not 8), so only the end-to-end files are made.
    """
    pytest.importorskip("torch")
    pytest.importorskip("onnx2tf")
    from lite_hrnet.export import export_model

    out = demo_tflite.parent  # conftest's demo_export folder: the plain files are there already
    # Two calls: one with "onnx,tflite" x "fp32,int8" would also quantize an int8 ONNX file, which has no end-to-end file.
    report = export_model(DEMO_NAME, "onnx", "fp32", out_dir=out, weights="synthetic", reuse=True, end_to_end=True)
    tflite = export_model(DEMO_NAME, "tflite", "fp32,int8", out_dir=out, weights="synthetic", calib_count=8,
                          reuse=True, end_to_end=True)
    report.artifacts += tflite.artifacts
    return report, out


def test_export_writes_and_checks_the_end_to_end_files(e2e_export):
    report, out = e2e_export
    assert report.ok
    e2e_rows = {(a.format, a.precision): a for a in report.artifacts if a.end_to_end}
    assert set(e2e_rows) == set(E2E_FILES)  # none for ONNX int8
    checked = 0
    for key, a in e2e_rows.items():
        assert a.path == str(out / E2E_FILES[key]) and (out / E2E_FILES[key]).is_file()
        if a.status == "cached":  # made earlier in the session from a reused plain file (tests/test_native.py)
            continue
        assert a.status == "ok" and a.agreement == 1.0 and a.max_displacement_px <= e2e.MAX_SHIFT_PX
        assert "same arg-max" in a.check
        checked += 1
    assert checked >= 2  # at least the int8 files are new in any test order
    assert not list(out.glob(".staging-*"))
    assert "tflite e2e" in report.table()


@pytest.mark.parametrize("key", sorted(E2E_FILES))
def test_end_to_end_files_equal_the_codec_on_their_plain_files_on_fresh_crops(e2e_export, key):
    from lite_hrnet.export.calibration import synthetic_crops

    _, out = e2e_export
    fmt, precision = key
    plain = out / (f"{DEMO_NAME}.onnx" if fmt == "onnx" else f"{DEMO_NAME}_{precision}.tflite")
    parity = e2e.check_end_to_end(out / E2E_FILES[key], plain, synthetic_crops(SPEC.input_size, 6, seed=7))
    assert parity.passed, parity
    assert parity.joints == 6 * K and parity.argmax_mismatches == 0 and parity.max_shift_px <= 1e-4
    meta = md.read_metadata(out / E2E_FILES[key])
    assert meta["end_to_end"] is True and meta["precision"] == precision and meta["input_dtype"] == "uint8"


def test_end_to_end_tflite_files_use_builtin_operators_only_and_take_uint8_crops(e2e_export):
    _, out = e2e_export
    schema = md.tflite_schema()
    for precision in ("fp32", "int8"):
        model = md.unpack_tflite((out / f"{DEMO_NAME}_e2e_{precision}.tflite").read_bytes())
        assert all(not code.customCode and max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.CUSTOM
                   for code in model.operatorCodes)
        graph = model.subgraphs[0]
        (inp,), (outp,) = [graph.tensors[i] for i in graph.inputs], [graph.tensors[i] for i in graph.outputs]
        assert inp.type == schema.TensorType.UINT8 and list(inp.shape) == [1, IN_H, IN_W, 3]
        assert outp.type == schema.TensorType.FLOAT32 and list(outp.shape) == [1, K, 3]


def test_a_failing_end_to_end_check_fails_the_export_and_leaves_no_file(e2e_export, tmp_path, monkeypatch):
    """Plain files reused from the first export; a writer that swaps x and y must be caught."""
    import shutil

    from lite_hrnet.export import ExportCheckError, export_model

    _, out = e2e_export
    shutil.copy(out / f"{DEMO_NAME}_fp32.tflite", tmp_path)
    real = e2e.write_end_to_end

    def swapped_xy(fmt, plain, path, meta=None):
        made = real(fmt, plain, path, meta)
        model = md.unpack_tflite(made.read_bytes())
        graph = model.subgraphs[0]
        xy = next(o for o in graph.operators if graph.tensors[o.outputs[0]].name in ("e2e/xy", b"e2e/xy"))
        xy.inputs = list(xy.inputs)[::-1]
        made.write_bytes(md.pack_tflite(model))
        return made

    monkeypatch.setattr(e2e, "write_end_to_end", swapped_xy)
    with pytest.raises(ExportCheckError, match="e2e_fp32.tflite failed its check"):
        export_model(DEMO_NAME, "tflite", "fp32", out_dir=tmp_path, weights="synthetic", reuse=True, end_to_end=True)
    assert not (tmp_path / f"{DEMO_NAME}_e2e_fp32.tflite").exists()
    assert (tmp_path / f"{DEMO_NAME}_fp32.tflite").is_file()


def test_cli_end_to_end_flag(e2e_export, tmp_path):
    import shutil

    from conftest import cli

    _, out = e2e_export
    shutil.copy(out / f"{DEMO_NAME}_fp32.tflite", tmp_path)
    done = cli("export", DEMO_NAME, "--weights", "synthetic", "--formats", "tflite", "--out", str(tmp_path), "--reuse",
               "--end-to-end", "--json")
    assert done.returncode == 0, done.stderr
    import json

    rows = json.loads(done.stdout)["artifacts"]
    assert [(r["status"], r["end_to_end"]) for r in rows] == [("cached", False), ("ok", True)]
    assert (tmp_path / f"{DEMO_NAME}_e2e_fp32.tflite").is_file()


def test_pose_estimator_gives_the_same_poses_from_the_end_to_end_and_the_plain_demo_files(e2e_export):
    from lite_hrnet.pipeline import PoseEstimator
    from lite_hrnet.synth import synthetic_person_crops

    _, out = e2e_export
    image = np.concatenate([crop for crop, _ in synthetic_person_crops(2, (240, 180), seed=3)], axis=1)
    boxes = np.array([[10, 10, 170, 230], [190, 5, 350, 235], [100, 50, 260, 200]], np.float32)
    for plain, made in ((f"{DEMO_NAME}_fp32.tflite", E2E_FILES[("tflite", "fp32")]),
                        (f"{DEMO_NAME}_int8.tflite", E2E_FILES[("tflite", "int8")]), (f"{DEMO_NAME}.onnx", E2E_FILES[("onnx", "fp32")])):
        got, want = PoseEstimator(out / made).predict(image, boxes), PoseEstimator(out / plain).predict(image, boxes)
        np.testing.assert_allclose(got.keypoints, want.keypoints, rtol=0, atol=1e-3, err_msg=made)
        np.testing.assert_allclose(got.scores, want.scores, rtol=0, atol=1e-6, err_msg=made)

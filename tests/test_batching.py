"""All persons of a frame in one runtime call: the default exports take any batch, and batch N equals N x batch 1.

The trained demo model (LH-18 128x96) is exported once with the defaults (dynamic batch
for ONNX and OpenVINO, a batch-1 TFLite file whose reshapes take any batch), unchecked
against PyTorch: the export tests do that; here each file is checked against itself.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

import lite_hrnet  # noqa: E402
from lite_hrnet import metadata as md  # noqa: E402
from lite_hrnet import runtimes  # noqa: E402

DEMO_NAME = "litehrnet_18_coco_128x96"
FORMATS = ("onnx", "openvino", "tflite")
# relative to the largest heatmap value: batch N may only change the order of float sums
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def demo_files(request):
    """The demo model's default fp32 files: conftest's demo_export, found again with reuse=True."""
    from lite_hrnet.export import export_model
    from lite_hrnet.formats import missing_export_modules
    from lite_hrnet.models import resolve_weights

    missing = missing_export_modules(FORMATS)
    if missing:
        pytest.skip(f"exporting needs {', '.join(missing)}")
    _, out = request.getfixturevalue("demo_export")
    weights = resolve_weights("synthetic", lite_hrnet.get_model_spec(DEMO_NAME))
    report = export_model(DEMO_NAME, FORMATS, "fp32", out_dir=out, weights=weights, verify=False, reuse=True)
    assert {a.status for a in report.artifacts} == {"cached"}, report.table()
    return {a.format: a.path for a in report.artifacts}


@pytest.fixture(scope="module")
def crops():
    from lite_hrnet.export.calibration import calibration_batch

    spec = lite_hrnet.get_model_spec(DEMO_NAME)
    return calibration_batch(None, spec.input_size, spec.mean, spec.std, count=5, seed=3)


def _counting_runs(backend):
    """Count the backend's runtime calls (each ``_run``) from now on; returns the list they are appended to."""
    calls = []
    run = backend._run

    def counted(batch):
        calls.append(batch.shape[0])
        return run(batch)

    backend._run = counted
    return calls


def _open(path):
    # OpenVINO computes in bf16 by default on CPUs that have it: compare in f32.
    return runtimes.load(path, threads=1, precision="fp32" if str(path).endswith(".xml") else None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_batch_n_is_n_times_batch_1_in_one_call(demo_files, crops, fmt):
    backend = _open(demo_files[fmt])
    singles = np.concatenate([backend(crops[i:i + 1]) for i in range(len(crops))])
    calls = _counting_runs(backend)
    batched = backend(crops)
    assert calls == [len(crops)], f"{fmt}: {len(crops)} persons took runtime calls of {calls}"
    assert batched.shape == singles.shape == (len(crops), 17, 32, 24)
    scale = np.abs(singles).max()
    assert scale > 0.1  # a trained network's heatmaps, not zeros
    assert np.abs(batched - singles).max() <= TOLERANCE * scale
    assert backend.max_batch is None and backend.info.batch is None


def test_default_exports_record_their_batch_and_rewrites(demo_files):
    assert md.read_metadata(demo_files["onnx"])["batch"] == "dynamic"
    assert md.read_metadata(demo_files["openvino"])["batch"] == "dynamic"
    tflite = md.read_metadata(demo_files["tflite"])
    assert tflite["batch"] == 1 and "tflite_batch_free_reshapes" in tflite["graph_rewrites"]
    assert md.read_metadata(demo_files["openvino"])["graph_rewrites"] == ["deploy_form", "merged_weighting"]
    from lite_hrnet.runtimes.tflite_backend import import_interpreter

    interpreter = import_interpreter()[0](model_path=str(demo_files["tflite"]))
    assert list(interpreter.get_input_details()[0]["shape_signature"][:1]) == [-1]  # marked resizable


def test_batch_cap_splits_a_call_and_keeps_the_order(demo_files, crops):
    whole = _open(demo_files["tflite"])(crops)
    capped = runtimes.load(demo_files["tflite"], threads=1, max_batch=2)
    calls = _counting_runs(capped)
    np.testing.assert_allclose(capped(crops), whole, rtol=0, atol=TOLERANCE * np.abs(whole).max())
    assert calls == [2, 2, 1]
    assert runtimes.load(demo_files["onnx"]).batch_cap == 16  # the default bound
    with pytest.raises(ValueError, match="max_batch"):
        runtimes.load(demo_files["onnx"], max_batch=0)


def test_predict_runs_every_box_of_a_frame_in_one_call(demo_files):
    from lite_hrnet.pipeline import PoseEstimator

    rng = np.random.RandomState(0)
    frame = rng.randint(0, 255, (480, 640, 3), dtype=np.uint8)
    boxes = np.array([[40 + 70 * i, 60, 100 + 70 * i, 300] for i in range(8)], np.float32)
    estimator = PoseEstimator(_open(demo_files["onnx"]))
    one_by_one = [estimator.predict(frame, boxes[i:i + 1]) for i in range(len(boxes))]
    calls = _counting_runs(estimator.backend)
    together = estimator.predict(frame, boxes)
    assert calls == [8]
    np.testing.assert_allclose(together.keypoints, np.concatenate([r.keypoints for r in one_by_one]), atol=1e-3)
    np.testing.assert_allclose(together.scores, np.concatenate([r.scores for r in one_by_one]), atol=1e-5)


def test_openvino_compiles_a_static_model_per_batch_size_with_the_same_results(demo_files, crops):
    import openvino as ov

    path = str(demo_files["openvino"])
    crops8 = np.concatenate([crops, crops[:3, :, ::-1]])  # 8 different crops (3 flipped upside down)
    # the backend before: the dynamic-batch file compiled once, every batch size run on it
    core = ov.Core()
    dynamic = core.compile_model(core.read_model(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1})
    before = dynamic(crops8)[0]
    scale = np.abs(before).max()
    assert scale > 0.1

    backend = _open(path)
    assert backend.compiled_batch_sizes == (1,)  # batch 1 is compiled when the file opens
    by_size = {n: np.concatenate([backend(crops8[i:i + n]) for i in range(0, 8, n)]) for n in (1, 3, 8)}
    for n, out in by_size.items():
        assert out.shape == before.shape
        assert np.abs(out - before).max() <= TOLERANCE * scale, f"batch {n} differs from the dynamic compile"
    assert backend.compiled_batch_sizes == (1, 3, 2, 8)  # 8 = 3 + 3 + 2 in the batch-3 pass
    shapes = {n: list(backend._compiled[n][0].inputs[0].get_shape()) for n in backend.compiled_batch_sizes}
    assert shapes == {n: [n, 3, 128, 96] for n in (1, 3, 2, 8)}  # static shapes, not the file's dynamic one


def test_openvino_keeps_at_most_the_batch_cap_compiled(demo_files, crops):
    backend = runtimes.load(demo_files["openvino"], threads=1, precision="fp32", max_batch=2)
    calls = _counting_runs(backend)
    for n in range(1, 6):
        backend(crops[:n])
    assert calls == [1, 2, 2, 1, 2, 2, 2, 2, 1]  # pieces of at most 2 persons
    assert sorted(backend.compiled_batch_sizes) == [1, 2]
    backend._compiled_for(5)  # a size the cap would never send: the least recently used is dropped
    assert backend.compiled_batch_sizes == (1, 5)

"""Runtime backends: dispatch by file, metadata and info, batching, layouts, thread safety, bad input.

The model files are built once per session (helpers below, shared with
test_pipeline.py and test_predict_cli.py): the seeded naive Lite-HRNet-18 as
.pth, .onnx (dynamic and static batch) and OpenVINO IR, and a tiny 3-conv
"pose model" with the same input/output contract in every format including
TFLite (onnx2tf converts it in a few seconds).
"""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest

from lite_hrnet import runtimes
from lite_hrnet.metadata import MetadataError, write_onnx_metadata, write_openvino_metadata, write_tflite_metadata
from lite_hrnet.runtimes import CallableBackend, ModelFileError
from lite_hrnet.specs import get_model_spec

MODEL = "naive_litehrnet_18_coco_256x192"
SPEC = get_model_spec(MODEL)
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- model files (shared helpers)


def file_meta(fmt: str, layout: str = "NCHW", batch="dynamic", precision: str = "fp32") -> Dict:
    meta = SPEC.metadata()
    meta.update(format=fmt, layout=layout, batch=batch, precision=precision)
    return meta


def seeded_model(seed: int = 0):
    """The naive Lite-HRNet-18 with seeded, non-trivial weights (PyTorch's default init, random BN statistics)."""
    import torch

    import lite_hrnet

    model = lite_hrnet.create_model(MODEL)
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.reset_parameters()
        elif isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def tiny_model(in_channels: int = 3, seed: int = 0):
    """A 3-conv network with the pose contract: N x 3 x 256 x 192 -> N x 17 x 64 x 48."""
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(in_channels, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(16, SPEC.num_joints, 1),
    )
    return net.eval()


def _export_onnx(model, path: Path, meta: Dict, batch: Optional[int] = None, shape=(3, 256, 192)) -> Path:
    import onnx
    import torch

    dynamic = None if batch else {"input": {0: "batch"}, "heatmaps": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(model, torch.zeros(batch or 1, *shape), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["heatmaps"], dynamic_axes=dynamic)
    proto = onnx.load(str(path))
    if meta is not None:
        write_onnx_metadata(proto, meta)
    onnx.save(proto, str(path))
    return path


def _with_static_batch(src: Path, path: Path, meta: Dict) -> Path:
    """A copy of a dynamic-batch ONNX file whose input and output batch is fixed to 1."""
    import onnx

    proto = onnx.load(str(src))
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    write_onnx_metadata(proto, meta)
    onnx.save(proto, str(path))
    return path


def _onnx_to_openvino(src: Path, xml: Path, meta: Dict) -> Path:
    import openvino as ov

    model = ov.convert_model(str(src))
    write_openvino_metadata(model, meta)
    ov.save_model(model, str(xml), compress_to_fp16=False)
    return xml


_ONNX2TF_SCRIPT = r"""
import os, sys, numpy as np, onnx2tf
os.chdir(sys.argv[1])
# onnx2tf downloads sample images for 3-channel inputs unless this file is in the working directory
np.save("calibration_image_sample_data_20x128x128x3_float32.npy", np.random.rand(20, 128, 128, 3).astype(np.float32))
for name in sys.argv[2:]:
    onnx2tf.convert(input_onnx_file_path=name + ".onnx", output_folder_path=name + "_tf", non_verbose=True,
                    verbosity="error")
"""


@functools.lru_cache(maxsize=None)
def litehrnet_files(base: str) -> Dict[str, Path]:
    """The seeded naive Lite-HRNet-18 as ``pth``, ``onnx`` (dynamic batch), ``onnx_b1`` (static) and ``xml``."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import torch

    out = Path(base) / "litehrnet_files"
    out.mkdir(parents=True, exist_ok=True)
    model = seeded_model()
    files = {"pth": out / "seeded.pth"}
    torch.save({"state_dict": model.state_dict(), "meta": {"model_name": MODEL}}, files["pth"])
    files["onnx"] = _export_onnx(model, out / "seeded.onnx", file_meta("onnx"))
    files["onnx_b1"] = _with_static_batch(files["onnx"], out / "seeded_b1.onnx", file_meta("onnx", batch=1))
    files["xml"] = _onnx_to_openvino(files["onnx"], out / "seeded.xml", file_meta("openvino"))
    return files


@functools.lru_cache(maxsize=None)
def litehrnet_tflite(base: str) -> Path:
    """The same seeded model as TFLite, through ``lite_hrnet.export`` (skips the test when that is unavailable)."""
    try:
        from lite_hrnet.export import export_model
    except ImportError as e:
        pytest.skip(f"lite_hrnet.export is not available: {e}")
    files = litehrnet_files(base)
    out = (Path(base) / "litehrnet_export").resolve()
    try:
        report = export_model(MODEL, formats=("tflite",), precisions=("fp32",), out_dir=out,
                              weights=str(files["pth"]), verify=False)
    except (Exception, SystemExit) as e:  # onnx2tf exits on conversion errors
        pytest.fail(f"TFLite export of {MODEL} failed: {type(e).__name__}: {e}")
    found = [Path(a.path) for a in report.artifacts if a.format == "tflite" and a.precision == "fp32"]
    assert found and found[0].is_file(), report.table()
    return found[0]


@functools.lru_cache(maxsize=None)
def tiny_files(base: str) -> Dict[str, Path]:
    """The tiny model as ``pth`` (the module is :func:`tiny_model`), ``onnx``, ``onnx_b2`` (static batch 2),
    ``xml``, ``tflite`` (NHWC), and the foreign files ``tflite_rank2`` and ``tflite_1ch`` (with lite-hrnet
    metadata, so that only their shapes are wrong)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import torch

    out = Path(base) / "tiny_files"
    out.mkdir(parents=True, exist_ok=True)
    model = tiny_model()
    files = {"onnx": _export_onnx(model, out / "tiny.onnx", file_meta("onnx"))}
    files["onnx_b2"] = _export_onnx(model, out / "tiny_b2.onnx", file_meta("onnx", batch=2), batch=2)
    files["xml"] = _onnx_to_openvino(files["onnx"], out / "tiny.xml", file_meta("openvino"))
    _export_onnx(model, out / "tiny_static.onnx", None, batch=1)
    _export_onnx(tiny_model(in_channels=1), out / "one_channel.onnx", None, batch=1, shape=(1, 256, 192))
    _export_onnx(torch.nn.Linear(10, 17).eval(), out / "rank2.onnx", None, batch=1, shape=(10,))
    run = subprocess.run([sys.executable, "-c", _ONNX2TF_SCRIPT, str(out), "tiny_static", "one_channel", "rank2"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"onnx2tf could not convert the tiny test models: {run.stderr.strip().splitlines()[-1:]}")
    for key, name, layout in (("tflite", "tiny_static", "NHWC"), ("tflite_1ch", "one_channel", "NHWC"),
                              ("tflite_rank2", "rank2", "NHWC")):
        data = (out / f"{name}_tf" / f"{name}_float32.tflite").read_bytes()
        files[key] = out / f"{name}.tflite"
        files[key].write_bytes(write_tflite_metadata(data, file_meta("tflite", layout=layout, batch=1)))
    return files


@pytest.fixture(scope="session")
def lh(tmp_path_factory) -> Dict[str, Path]:
    return litehrnet_files(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Dict[str, Path]:
    pytest.importorskip("onnx2tf")
    return tiny_files(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="session")
def batch() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((3, 3, 256, 192)).astype(np.float32)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


# ---------------------------------------------------------------------------- dispatch, metadata, info


def test_onnx_backend_matches_torch_and_reports_info(lh, batch):
    import onnxruntime as ort
    import torch

    backend = runtimes.load(lh["onnx"], threads=2)
    assert type(backend).__name__ == "OnnxRuntimeBackend"
    assert backend.metadata["model_name"] == MODEL and backend.metadata["layout"] == "NCHW"
    assert backend.input_size == (256, 192) and backend.num_joints == 17 and backend.max_batch is None
    info = backend.info
    assert (info.runtime, info.version, info.device) == ("onnxruntime", ort.__version__, "CPUExecutionProvider")
    assert info.precision == "fp32" and info.threads == 2 and info.path == str(lh["onnx"])
    out = backend(batch)
    assert out.shape == (3, 17, 64, 48) and out.dtype == np.float32
    with torch.no_grad():
        ref = seeded_model()(torch.from_numpy(batch)).numpy()
    assert rel_err(out, ref) < 1e-4


def test_static_batch_file_runs_in_pieces(lh, tiny, batch):
    dynamic = runtimes.load(lh["onnx"])
    static = runtimes.load(lh["onnx_b1"])
    assert static.max_batch == 1 and static.info.batch == 1
    np.testing.assert_allclose(static(batch), dynamic(batch), rtol=0, atol=1e-4)
    two = runtimes.load(tiny["onnx_b2"])  # 3 = 2 + (1 padded to 2)
    assert two.max_batch == 2
    np.testing.assert_allclose(two(batch), runtimes.load(tiny["onnx"])(batch), rtol=0, atol=1e-5)
    assert two(batch[:0]).shape == (0, 17, 64, 48)


def test_openvino_backend_precision_threads_and_output(lh, batch):
    import openvino as ov

    ref = runtimes.load(lh["onnx"])(batch)
    fp32 = runtimes.load(lh["xml"], threads=1, precision="fp32")
    assert type(fp32).__name__ == "OpenVINOBackend" and fp32.metadata["model_name"] == MODEL
    assert fp32.info.runtime == "openvino" and ov.__version__.startswith(fp32.info.version)
    assert fp32.info.device == "CPU" and fp32.info.threads == 1 and fp32.info.precision == "fp32"
    assert fp32.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() == "f32"
    assert rel_err(fp32(batch), ref) < 1e-4
    default = runtimes.load(lh["xml"])
    # the default is OpenVINO's own (bf16 on CPUs with bf16 support): info reports what it compiled
    hint = default.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    assert default.info.precision == {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}[hint]
    assert rel_err(default(batch), ref) < (0.1 if hint != "f32" else 1e-4)
    with pytest.raises(ValueError, match="precision"):
        runtimes.load(lh["xml"], precision="int4")
    with pytest.raises(ValueError, match="'cuda' is not an OpenVINO device"):
        runtimes.load(lh["xml"], device="cuda")


def test_tflite_backend_nhwc_file_nchw_contract(tiny, batch):
    import torch

    backend = runtimes.load(tiny["tflite"], threads=2)
    assert type(backend).__name__ == "TFLiteBackend"
    assert backend.layout == "NHWC" and backend.max_batch == 1
    assert backend.info.runtime == "litert" and backend.info.threads == 2 and backend.info.device == "cpu"
    with torch.no_grad():
        ref = tiny_model()(torch.from_numpy(batch)).numpy()
    out = backend(batch)  # NCHW in, NCHW out, 3 runs of batch 1
    assert out.shape == (3, 17, 64, 48)
    assert rel_err(out, ref) < 1e-5
    with pytest.raises(ValueError, match="device 'cuda'"):
        runtimes.load(tiny["tflite"], device="cuda")


def test_torch_backend_from_checkpoint_module_and_name(lh, batch, tmp_path):
    import torch

    ref = runtimes.load(lh["onnx"])(batch[:1])
    from_file = runtimes.load(lh["pth"])  # the model name comes from meta['model_name']
    assert type(from_file).__name__ == "TorchBackend" and from_file.metadata["model_name"] == MODEL
    assert from_file.info.runtime == "torch" and from_file.info.threads == torch.get_num_threads()
    assert rel_err(from_file(batch[:1]), ref) < 1e-4
    bare = tmp_path / "bare.pth"
    torch.save(seeded_model().state_dict(), bare)
    with pytest.raises(ValueError, match=r"bare\.pth.*--model-name"):
        runtimes.load(bare)
    assert rel_err(runtimes.load(bare, model_name=MODEL)(batch[:1]), ref) < 1e-4
    module = runtimes.load(tiny_model(), spec=MODEL)
    assert module.metadata["num_joints"] == 17 and module(batch).shape == (3, 17, 64, 48)
    with pytest.raises(ValueError, match="weights"):  # no released checkpoint to download
        runtimes.load(MODEL)
    with pytest.raises(ValueError, match="precision 'fp16' needs device='cuda'"):
        runtimes.load(lh["pth"], precision="fp16")


def test_callable_backend_splits_batches_and_needs_a_spec(batch):
    sizes = []

    def fake(x: np.ndarray) -> np.ndarray:
        sizes.append(x.shape[0])
        return np.full((x.shape[0], 17, 64, 48), x.mean(axis=(1, 2, 3))[:, None, None, None], np.float32)

    backend = runtimes.load(fake, spec=MODEL, max_batch=2)
    assert isinstance(backend, CallableBackend) and backend.metadata["model_name"] == MODEL
    out = backend(batch)
    assert sizes == [2, 1]
    np.testing.assert_allclose(out[:, 0, 0, 0], batch.mean(axis=(1, 2, 3)), rtol=1e-5)
    assert runtimes.load(backend) is backend
    with pytest.raises(ValueError, match="spec= or model_name="):
        runtimes.load(fake)

    def wrong(x):
        return np.zeros((x.shape[0], 5, 64, 48), np.float32)

    with pytest.raises(ValueError, match="5 channels.*17 joints"):
        runtimes.load(wrong, model_name=MODEL)(batch)


# ---------------------------------------------------------------------------- inputs


def test_input_dtypes_and_shapes(tiny, batch):
    backend = runtimes.load(tiny["onnx"])
    np.testing.assert_allclose(backend(batch.astype(np.float64)), backend(batch), rtol=0, atol=1e-6)
    np.testing.assert_allclose(backend(batch.astype(np.float16)), backend(batch.astype(np.float16).astype(np.float32)))
    with pytest.raises(ValueError, match="batch has dtype uint8.*normalize"):
        backend(np.zeros((1, 3, 256, 192), np.uint8))
    with pytest.raises(ValueError, match=r"batch must be N x 3 x H x W, got shape \(1, 256, 192, 3\)"):
        backend(np.zeros((1, 256, 192, 3), np.float32))
    with pytest.raises(ValueError, match="batch is 128x96.*256x192"):
        backend(np.zeros((1, 3, 128, 96), np.float32))
    with pytest.raises(ValueError, match="threads"):
        runtimes.load(tiny["onnx"], threads=0)


# ---------------------------------------------------------------------------- thread safety


@pytest.mark.parametrize("kind", ["onnx", "xml", "tflite", "torch"])
def test_concurrent_calls_give_the_sequential_results(tiny, kind):
    backend = runtimes.load(tiny_model(), spec=MODEL) if kind == "torch" else runtimes.load(tiny[kind], threads=1)
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((int(rng.integers(1, 4)), 3, 256, 192)).astype(np.float32) for _ in range(12)]
    expected = [backend(x) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(backend, inputs))
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-5)


def test_tflite_interpreter_is_never_entered_twice(tiny):
    backend = runtimes.load(tiny["tflite"], threads=1)
    assert "not thread-safe" in backend.info.thread_safe
    state = {"active": 0, "max": 0}
    guard = threading.Lock()
    invoke = backend.interpreter.invoke

    def counting_invoke():
        with guard:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])
        try:
            threading.Event().wait(0.002)
            return invoke()
        finally:
            with guard:
                state["active"] -= 1

    backend.interpreter.invoke = counting_invoke
    x = np.zeros((2, 3, 256, 192), np.float32)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(backend, [x] * 8))
    assert state["max"] == 1


# ---------------------------------------------------------------------------- bad files


def test_missing_files_name_the_path(tmp_path, tiny):
    for name in ("absent.onnx", "absent.xml", "absent.tflite", "absent.pth"):
        with pytest.raises(FileNotFoundError, match=str(tmp_path / name)):
            runtimes.load(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="neither an existing model file.*registered model name"):
        runtimes.load("litehrnet_99")
    lonely = tmp_path / "lonely.xml"
    lonely.write_bytes(tiny["xml"].read_bytes())
    with pytest.raises(FileNotFoundError, match=r"lonely\.bin"):
        runtimes.load(lonely)
    with pytest.raises(ValueError, match=r"pass the OpenVINO \.xml"):
        runtimes.load(tiny["xml"].with_suffix(".bin"))
    other = tmp_path / "model.caffemodel"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown model format '.caffemodel'"):
        runtimes.load(other)


@pytest.mark.parametrize("key", ["onnx", "xml", "tflite"])
def test_truncated_files_are_model_file_errors(tmp_path, tiny, key):
    src = tiny[key]
    bad = tmp_path / src.name
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
    if key == "xml":
        bad.with_suffix(".bin").write_bytes(src.with_suffix(".bin").read_bytes())
    with pytest.raises(ValueError, match=str(bad)) as err:
        runtimes.load(bad)
    assert isinstance(err.value, (ModelFileError, MetadataError))


def test_foreign_onnx_files(tmp_path, tiny):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])], "add",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [4]), helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [4])],
    )
    path = tmp_path / "add.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(MetadataError, match=f"{path}: no lite-hrnet metadata"):
        runtimes.load(path)
    with pytest.raises(ModelFileError, match=f"{path}: a pose model has one input"):
        runtimes.load(path, spec=MODEL)
    # a bare onnx of the right shape works with spec=, with the spec's metadata
    bare = tiny["onnx"].parent / "tiny_static.onnx"
    assert runtimes.load(bare, spec=MODEL).metadata["model_name"] == MODEL
    proto = onnx.load(str(tiny["onnx"]))
    meta = file_meta("onnx")
    meta["num_joints"] = 16
    write_onnx_metadata(proto, meta)
    wrong = tmp_path / "wrong_joints.onnx"
    onnx.save(proto, str(wrong))
    with pytest.raises(ModelFileError, match="17 channels but the metadata says 16 joints"):
        runtimes.load(wrong)


def test_foreign_tflite_files(tiny):
    with pytest.raises(ModelFileError, match=f"{tiny['tflite_rank2']}: input has shape \\[1, 10\\]"):
        runtimes.load(tiny["tflite_rank2"])
    with pytest.raises(ModelFileError, match=f"{tiny['tflite_1ch']}: input has shape \\[1, 256, 192, 1\\].*3 channels"):
        runtimes.load(tiny["tflite_1ch"])


def test_missing_runtime_names_the_extra(monkeypatch, tiny, lh):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install 'lite-hrnet\[ort\]'"):
        runtimes.load(tiny["onnx"])
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(ImportError, match=r"pip install 'lite-hrnet\[openvino\]'"):
        runtimes.load(tiny["xml"])
    for name in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter", "tensorflow"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'lite-hrnet\[tflite\]'"):
        runtimes.load(tiny["tflite"])
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'lite-hrnet\[torch\]'"):
        runtimes.load(lh["pth"])


def test_onnx_and_tflite_backends_never_import_torch(tiny):
    code = (
        "import sys, numpy as np\n"
        "from lite_hrnet import runtimes\n"
        f"for p in ({str(tiny['onnx'])!r}, {str(tiny['xml'])!r}, {str(tiny['tflite'])!r}):\n"
        "    runtimes.load(p)(np.zeros((1, 3, 256, 192), np.float32))\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


# ---------------------------------------------------------------------------- GPU


def _has_cuda_torch() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
def test_torch_backend_on_cuda(lh, batch):
    if not _has_cuda_torch():
        pytest.skip("no CUDA device")
    gpu = runtimes.load(lh["pth"], device="cuda")
    assert gpu.info.device.startswith("cuda")
    assert rel_err(gpu(batch), runtimes.load(lh["pth"])(batch)) < 1e-3


@pytest.mark.gpu
def test_onnxruntime_on_cuda(lh, batch):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers() or not _has_cuda_torch():
        pytest.skip("no CUDAExecutionProvider / CUDA device")
    gpu = runtimes.load(lh["onnx"], device="cuda")
    assert gpu.info.device == "CUDAExecutionProvider"
    assert rel_err(gpu(batch), runtimes.load(lh["onnx"])(batch)) < 1e-3


def test_cuda_request_without_cuda_is_a_clear_error(lh):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ValueError, match="device 'cuda' needs onnxruntime's CUDAExecutionProvider"):
        runtimes.load(lh["onnx"], device="cuda")
    if not _has_cuda_torch():
        with pytest.raises(ValueError, match="no CUDA device"):
            runtimes.load(lh["pth"], device="cuda")

"""Model files the runtime, pipeline and predict tests share, built once per session.

The seeded naive Lite-HRNet-18 as .pth, .onnx (dynamic and static batch) and
OpenVINO IR, and a tiny 3-conv "pose model" with the same input/output contract in
every format including TFLite (onnx2tf converts it in a few seconds). The seeded
Lite-HRNet-18 as TFLite comes from the session export fixture (conftest ``naive_export``). A helper
module, not a test module: tests import it, pytest does not collect it.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Dict, Optional

import pytest

from lite_hrnet.metadata import write_onnx_metadata, write_openvino_metadata, write_tflite_metadata
from lite_hrnet.specs import get_model_spec

MODEL = "naive_litehrnet_18_coco_256x192"
SPEC = get_model_spec(MODEL)


def file_meta(fmt: str, layout: str = "NCHW", batch="dynamic", precision: str = "fp32") -> Dict:
    meta = SPEC.metadata()
    meta.update(format=fmt, layout=layout, batch=batch, precision=precision)
    return meta


def seeded_model(name: str = MODEL, seed: int = 0):
    """The one seeded test network: ``name`` with seeded random weights and batch norm calibrated on
    synthetic people (activations of order 1, like a trained network's), in eval mode."""
    from lite_hrnet.export.calibration import calibrated_random_model

    return calibrated_random_model(name, seed=seed, calib_count=8).eval()


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


def export_onnx(model, path: Path, meta: Dict, batch: Optional[int] = None, shape=(3, 256, 192)) -> Path:
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
    files["onnx"] = export_onnx(model, out / "seeded.onnx", file_meta("onnx"))
    files["onnx_b1"] = _with_static_batch(files["onnx"], out / "seeded_b1.onnx", file_meta("onnx", batch=1))
    files["xml"] = _onnx_to_openvino(files["onnx"], out / "seeded.xml", file_meta("openvino"))
    return files


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
    files = {"onnx": export_onnx(model, out / "tiny.onnx", file_meta("onnx"))}
    files["onnx_b2"] = export_onnx(model, out / "tiny_b2.onnx", file_meta("onnx", batch=2), batch=2)
    files["xml"] = _onnx_to_openvino(files["onnx"], out / "tiny.xml", file_meta("openvino"))
    export_onnx(model, out / "tiny_static.onnx", None, batch=1)
    export_onnx(tiny_model(in_channels=1), out / "one_channel.onnx", None, batch=1, shape=(1, 256, 192))
    export_onnx(torch.nn.Linear(10, 17).eval(), out / "rank2.onnx", None, batch=1, shape=(10,))
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


def run_onnx_unfused(model_or_path, x):
    """All outputs of an ONNX model (a ModelProto or a path) on ``x``, ONNX Runtime, one thread, no graph fusions.

    Unfused, because ONNX Runtime fuses an Add into whichever Conv precedes it, which orders float additions
    differently in two graphs that compute the same function: unfused, an exact rewrite gives the very same floats.
    """
    import onnxruntime as ort
    from lite_hrnet.export.formats import INPUT_NAME

    source = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: x})


def empty_tflite():
    """``(model, graph, editor)``: an empty TFLite model (a ``ModelT`` with one subgraph, buffer 0 the empty one)
    and ``lite_hrnet.export.end_to_end``'s editor, which adds tensors and builtin operators to it."""
    from lite_hrnet.export.end_to_end import _TFLiteEditor
    from lite_hrnet.metadata import tflite_schema

    schema = tflite_schema()
    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT()]
    model.operatorCodes = []
    graph = schema.SubGraphT()
    graph.tensors, graph.operators = [], []
    model.subgraphs = [graph]
    return model, graph, _TFLiteEditor(model)

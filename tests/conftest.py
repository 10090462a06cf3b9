"""Shared fixtures. Data in ../shared is optional: tests that need it skip when it is absent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# One OpenMP/BLAS thread for torch and numpy, here and in the CLI processes the tests start. With two,
# every operator ends in a barrier that waits for the other thread; when the second core is busy (a
# subprocess of the same test, another job) each barrier waits for a descheduled thread: tests/test_models.py
# took 405 s instead of 21 s on this 2-core machine. Runtime thread counts are set explicitly, not by this.
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "torch" in sys.modules:  # imported before this file (a plugin): the variable came too late for it
    sys.modules["torch"].set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LITE_HRNET_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference" / "litehrnet"
COCO_SAMPLE = SHARED / "data" / "coco_val2017_sample"


def cli(*args: str, env=None):
    """Run the CLI in a subprocess, as a user would; returns CompletedProcess with text output."""
    import subprocess

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "lite_hrnet.cli", *args], capture_output=True, text=True, env=full_env, cwd=ROOT
    )


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def coco_sample() -> Path:
    if not (COCO_SAMPLE / "test_coco.json").is_file():
        pytest.skip(f"COCO sample not found at {COCO_SAMPLE}")
    return COCO_SAMPLE


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's checkpoint cache from a test."""
    monkeypatch.setenv("LITE_HRNET_HOME", str(tmp_path_factory.getbasetemp() / "lite_hrnet_home"))


# ---------------------------------------------------------------- session exports (slow: their users are marked slow)
DEMO_NAME = "litehrnet_18_coco_128x96"
NAIVE = "naive_litehrnet_18_coco_256x192"
ALL_FORMATS = ("onnx", "openvino", "tflite")
ALL_PRECISIONS = ("fp32", "fp16", "int8")


@pytest.fixture(scope="session")
def demo_weights() -> Path:
    """The shipped demo checkpoint (trained on synthetic people); its absence is a packaging bug, not a skip."""
    pytest.importorskip("torch")
    import lite_hrnet
    from lite_hrnet.models import resolve_weights

    try:
        return Path(resolve_weights("synthetic", lite_hrnet.get_model_spec(DEMO_NAME)))
    except Exception as e:
        pytest.fail(f"demo checkpoint missing: {e}")


@pytest.fixture(scope="session")
def demo_export(tmp_path_factory, demo_weights):
    """``(report, folder)``: the demo Lite-HRNet-18 exported to every format and precision, all verified.

    The one export of the demo model per session: the other fixtures that need demo files
    (demo_tflite, test_end_to_end's, test_native's, test_batching's) export into this folder with
    reuse=True, so they find these files and only add what is missing (end-to-end files).
    """
    pytest.importorskip("onnx")
    from lite_hrnet.export import export_model

    out = tmp_path_factory.getbasetemp() / "demo_export"
    report = export_model(DEMO_NAME, ALL_FORMATS, ALL_PRECISIONS, out_dir=out, weights=demo_weights, calib_count=16)
    return report, out


@pytest.fixture(scope="session")
def naive_export(tmp_path_factory):
    """``(artifacts, folder, model)``: naive-18 with seeded weights (``model_files.seeded_model``) as fp32
    ONNX, OpenVINO and TFLite, verified. Lossy precisions are judged on the trained demo model only: with
    random weights Lite-HRNet amplifies rounding about 20x."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from lite_hrnet.export import export_model
    from model_files import seeded_model

    out = tmp_path_factory.mktemp("naive_export")
    model = seeded_model(NAIVE)
    report = export_model(NAIVE, ALL_FORMATS, ("fp32",), out_dir=out, model=model, calib_count=8)
    return report.artifacts, out, model


@pytest.fixture(scope="session")
def demo_tflite(request) -> Path:
    """The demo model as plain fp32 TFLite: demo_export's file (test_native, test_java and test_end_to_end
    export into its folder with reuse=True, so that one export serves all of them)."""
    pytest.importorskip("lite_hrnet.export", reason="lite_hrnet.export is not available (pip install 'lite-hrnet[export]')")
    report, _ = request.getfixturevalue("demo_export")
    found = [Path(a.path) for a in report.artifacts if a.format == "tflite" and a.precision == "fp32"]
    assert found and found[0].is_file(), report.table()
    return found[0]

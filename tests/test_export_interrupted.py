"""An export killed (SIGKILL) at any step leaves no file under a final name that fails to load (a previous
good file stays as it was), and the next export succeeds and removes the killed one's staging folder.

Cheap: a 3-conv network with the pose contract, ONNX fp32 only, each kill in a fresh process.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
if not hasattr(signal, "SIGKILL"):
    pytest.skip("needs SIGKILL", allow_module_level=True)

from lite_hrnet.export._staging import STAGING_PREFIX  # noqa: E402
from lite_hrnet.metadata import read_metadata  # noqa: E402

TESTS = Path(__file__).resolve().parent
NAME = "naive_litehrnet_18_coco_256x192"  # the tiny network has its input/output contract

# Runs one export of the tiny network into OUT and kills itself (SIGKILL: no cleanup runs) at STEP:
# "onnx" half-way through writing the base ONNX file, "check" while the staged file is checked,
# "publish" when the checked file is about to be moved to its final name.
_KILLED_EXPORT = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[3])
from pathlib import Path
import lite_hrnet.export._exporter as exporter
import lite_hrnet.export.formats as formats
from model_files import tiny_model

out, step = Path(sys.argv[1]), sys.argv[2]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
if step == "onnx":
    real = formats.export_onnx
    def half_written(model, input_size, path, *args, **kwargs):
        real(model, input_size, path, *args, **kwargs)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])
        die()
    formats.export_onnx = half_written
elif step == "check":
    exporter._check = die
elif step == "publish":
    exporter.publish = die
exporter.export_model("naive_litehrnet_18_coco_256x192", formats="onnx", precisions="fp32", out_dir=out,
                      model=tiny_model(), verify=True, verify_count=1, calib_count=1)
print("NOT KILLED")
"""


def export(out: Path):
    from model_files import tiny_model

    from lite_hrnet.export import export_model

    return export_model(NAME, formats="onnx", precisions="fp32", out_dir=out, model=tiny_model(), verify=True,
                        verify_count=1, calib_count=1)


def killed_export(out: Path, step: str) -> None:
    run = subprocess.run([sys.executable, "-c", _KILLED_EXPORT, str(out), step, str(TESTS)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, (run.returncode, run.stdout[-500:], run.stderr[-2000:])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_killed_first_export_leaves_no_final_file_and_the_next_one_succeeds(tmp_path):
    out = tmp_path / "exports"
    killed_export(out, "publish")
    assert not list(out.glob("*.onnx"))  # nothing under a final name
    assert len(list(out.glob(STAGING_PREFIX + "*"))) == 1  # the killed process's staging folder
    report = export(out)
    (artifact,) = report.artifacts
    assert artifact.status == "ok" and read_metadata(artifact.path)["model_name"] == NAME
    assert sorted(p.name for p in out.iterdir()) == [Path(artifact.path).name]  # the stale staging is gone


@pytest.mark.parametrize("step", ["onnx", "publish"])
def test_a_killed_re_export_keeps_the_previous_file_whole(tmp_path, step):
    out = tmp_path / "exports"
    (artifact,) = export(out).artifacts
    final = Path(artifact.path)
    before = digest(final)
    killed_export(out, step)
    assert digest(final) == before  # untouched, and it loads
    assert read_metadata(final)["model_name"] == NAME
    from lite_hrnet.pipeline import PoseEstimator

    assert PoseEstimator(str(final)).input_size == (256, 192)
    assert [p.name for p in out.glob("*.onnx")] == [final.name]
    (again,) = export(out).artifacts
    assert again.status == "ok" and not list(out.glob(STAGING_PREFIX + "*"))

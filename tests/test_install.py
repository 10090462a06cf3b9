"""The install route the README gives (lite-hrnet is not on PyPI): build a wheel, install it with the tflite
extra into a fresh venv, which has no torch, and run `lite-hrnet predict` on an exported TFLite file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = re.compile(r"NewConnectionError|Name or service not known|Temporary failure|No matching distribution|"
                     r"Network is unreachable|ConnectTimeout|ReadTimeout")


@pytest.mark.slow
def test_wheel_with_tflite_extra_in_a_fresh_venv_runs_predict(tmp_path_factory):
    pytest.importorskip("onnx2tf")
    from model_files import tiny_files

    tflite = tiny_files(str(tmp_path_factory.getbasetemp()))["tflite"]
    work = tmp_path_factory.mktemp("wheel_install")
    # 1. On the PC: the wheel (pip alone suffices; `python -m build --wheel` makes the same file).
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                            "-w", str(work / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (work / "dist").glob("lite_hrnet-*.whl")
    # 2. On the device: a fresh venv and `pip install 'lite_hrnet-VERSION-py3-none-any.whl[tflite]'`.
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    install = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              f"{wheel}[tflite]"], capture_output=True, text=True, timeout=900)
    if install.returncode != 0:
        if OFFLINE.search(install.stderr):
            pytest.skip(f"PyPI not reachable for the dependencies: {install.stderr.strip().splitlines()[-1]}")
        raise AssertionError(install.stderr[-3000:])
    check = subprocess.run([str(bin_dir / "python"), "-c", "import importlib.util as u, lite_hrnet; "
                            "print(u.find_spec('torch') is None, lite_hrnet.__file__)"],
                           capture_output=True, text=True, cwd=work)
    torch_absent, location = check.stdout.split()
    assert torch_absent == "True" and str(venv) in location  # the installed copy, not the clone
    # 3. The console script on an exported file.
    image = work / "person.jpg"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (240, 180, 3), dtype=np.uint8))
    run = subprocess.run([str(bin_dir / "lite-hrnet"), "predict", "--model", str(tflite), str(image),
                          "--out", str(work / "out")], capture_output=True, text=True, cwd=work, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"1 frames, 1 persons: .* with litert ", run.stdout), run.stdout
    results = json.loads((work / "out" / "results.json").read_text())
    assert len(results) == 1 and len(results[0]["keypoints"]) == 51

"""Shared fixtures. Data in ../shared is optional: tests that need it skip when it is absent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

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

"""`lite-hrnet info` and the CLI's handling of bad input."""

from __future__ import annotations

import json
import re

import pytest

from conftest import cli

pytest.importorskip("torch")


def test_info_table():
    out = cli("info", "litehrnet_18_coco_256x192")
    assert out.returncode == 0, out.stderr
    assert "1,130,769" in out.stdout
    # The paper's 205.2M, to the print's 0.1M plus the count's 0.07% (well below the head's 2.1M).
    flops = float(re.search(r"FLOPs \(multiply-adds\)\s+([0-9.]+)M", out.stdout).group(1))
    assert abs(flops - 205.2) <= 0.25
    assert "64 x 48" in out.stdout and "left_shoulder" in out.stdout


def test_info_json_at_other_size():
    out = cli("info", "litehrnet_18_coco_256x192", "--input-size", "384x288", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["parameters"] == 1_130_769
    # The paper's 461.6M at 384x288, within half the head's 4.8M multiply-adds (40 x 17 + 17, at 96 x 72).
    assert abs(info["macs"] - 461.6e6) < (40 * 17 + 17) * 96 * 72 / 2
    assert info["heatmap_size"] == [96, 72] and info["num_joints"] == 17
    assert info["flip_pairs"][0] == [1, 2]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["info", "litehrnet_99"], "known models: litehrnet_18_coco_256x192"),
        (["info", "litehrnet_18_coco_256x192", "--input-size", "250x190"], "multiples of 32"),
        (["info", "litehrnet_18_coco_256x192", "--input-size", "big"], "--input-size"),
        (["info", "litehrnet_18_coco_256x192", "--weights", "/nonexistent/w.pth"], "/nonexistent/w.pth"),
    ],
)
def test_bad_input_is_one_line_without_traceback(args, needle):
    out = cli(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert needle in out.stderr


def test_checkpoint_of_another_architecture(tmp_path):
    import torch

    import lite_hrnet

    path = tmp_path / "naive.pth"
    torch.save({"state_dict": lite_hrnet.create_model("naive_litehrnet_18_coco_256x192").state_dict()}, path)
    out = cli("info", "litehrnet_18_coco_256x192", "--weights", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "does not fit litehrnet_18_coco_256x192" in out.stderr and str(path) in out.stderr


def test_list():
    out = cli("list")
    assert out.returncode == 0
    assert len(out.stdout.strip().splitlines()) == 11

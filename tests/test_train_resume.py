"""Checkpoints are written whole, and `train --resume` continues from the last complete one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from lite_hrnet.models.checkpoint import CheckpointError, save_checkpoint  # noqa: E402

MODEL = "litehrnet_18_coco_256x192"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _cfg(data: Path, out: Path, **kw):
    from lite_hrnet.train.engine import TrainConfig

    base = dict(model_name=MODEL, data=str(data), epochs=2, batch=4, workers=0, out=str(out), input_size=(64, 64),
                warmup_iters=2, progress=False, device="cpu", lr=1e-3, threads=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A two-epoch run on four synthetic images: latest.pth is epoch 2, previous.pth epoch 1."""
    from lite_hrnet.synth import generate_dataset
    from lite_hrnet.train.engine import train

    data = tmp_path_factory.mktemp("synth")
    generate_dataset(data, 4, seed=21, image_size=(128, 128))
    out = tmp_path_factory.mktemp("run")
    train(_cfg(data, out))
    return data, out


def _epoch(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])


def test_a_damaged_latest_checkpoint_resumes_from_the_previous_complete_one(two_epochs, tmp_path, capsys):
    from lite_hrnet.train.engine import train

    data, src = two_epochs
    assert (_epoch(src / "latest.pth"), _epoch(src / "previous.pth")) == (2, 1)
    out = tmp_path / "run"
    shutil.copytree(src, out)
    whole = (out / "latest.pth").read_bytes()
    (out / "latest.pth").write_bytes(whole[: len(whole) // 2])  # e.g. a copy cut short
    (out / ".latest.pth.1234.abcd.part").write_bytes(whole[:100])  # a write killed half-way: never read

    train(_cfg(data, out, epochs=3, resume=True))

    err = capsys.readouterr().err
    assert "cannot read checkpoint" in err and "latest.pth" in err and "using previous.pth (epoch 1)" in err
    assert f"resuming from {out / 'previous.pth'} at epoch 2" in err
    assert (_epoch(out / "latest.pth"), _epoch(out / "previous.pth")) == (3, 2)
    # Epochs 2 and 3 were trained again after epoch 1: the log has each epoch once.
    import csv

    assert [r["epoch"] for r in csv.DictReader(open(out / "log.csv"))] == ["1", "2", "3"]


def test_resume_with_no_usable_checkpoint_names_the_files(two_epochs, tmp_path):
    from lite_hrnet.train.engine import train

    data, _ = two_epochs
    out = tmp_path / "run"
    out.mkdir()
    (out / "latest.pth").write_bytes(b"PK\x03\x04 cut")
    (out / "previous.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"no usable checkpoint.*latest\.pth.*previous\.pth"):
        train(_cfg(data, out, resume=True))


def test_a_checkpoint_write_killed_midway_leaves_the_previous_file(tmp_path, monkeypatch):
    model = torch.nn.Linear(3, 2)
    path = save_checkpoint(tmp_path / "latest.pth", model, {"epoch": 1}, epoch=1)
    before = path.read_bytes()

    def killed(obj, f, *args, **kwargs):  # half the bytes reach the file, then the process is interrupted
        f.write(before[: len(before) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, {"epoch": 2}, epoch=2)
    assert path.read_bytes() == before and _epoch(path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pth"]  # the temporary file is gone

"""Training: dataset reader, augmentations, targets, loss, schedule, checkpoints, resume and DDP on CPU."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT, cli
from lite_hrnet.specs import COCO_JOINTS, MPII_JOINTS
from lite_hrnet.synth import generate_dataset
from lite_hrnet.train.dataset import CocoKeypoints, TopDownDataset, find_annotation_file
from lite_hrnet.geometry import Box, apply_affine, box_from_xywh, crop_matrix, warp_crop
from lite_hrnet.train.transforms import AugmentConfig, augment, flip_sample, half_body_box, lower_body_mask

torch = pytest.importorskip("torch")

MODEL = "litehrnet_18_coco_256x192"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a small shared machine, OpenMP threads spinning against other jobs run 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_synth(tmp_path_factory) -> Path:
    """Four synthetic images (about ten people), the data of the short training runs."""
    out = tmp_path_factory.mktemp("tiny_synth")
    generate_dataset(out, 4, seed=21, image_size=(128, 128))
    return out


# ----------------------------------------------------------------- crops and flip


@pytest.mark.parametrize("rotation,scale", [(0.0, 1.0), (35.0, 0.8), (-50.0, 1.2)])
def test_keypoints_move_with_the_warped_image(coco_sample, rotation, scale):
    """On real COCO images: the crop's pixels at the transformed keypoints are the image's pixels at the keypoints."""
    data = CocoKeypoints(coco_sample, COCO_JOINTS)
    errors, baseline = [], []
    rng = np.random.default_rng(0)
    for rec in data.records[:6]:
        image = cv2.GaussianBlur(cv2.imread(rec.image_path), (0, 0), 2.0).astype(np.float32)
        b = box_from_xywh(rec.bbox, (256, 192))
        box = Box(b.cx, b.cy, b.w * scale, b.h * scale, rotation)
        m = crop_matrix(box.center, box.scale, (256, 192), box.rotation)
        crop = warp_crop(image, m, (256, 192))
        kp = rec.keypoints
        pts = apply_affine(kp[:, :2], m)
        for (x, y, v), (cx, cy) in zip(kp, pts):
            if v == 0 or not (2 <= cx < 190 and 2 <= cy < 254):
                continue
            a = cv2.getRectSubPix(image, (1, 1), (float(x), float(y)))[0, 0]
            c = cv2.getRectSubPix(crop, (1, 1), (float(cx), float(cy)))[0, 0]
            errors.append(np.abs(a - c).mean())
            ox, oy = cx + rng.uniform(-1, 1) * 15, cy + rng.uniform(-1, 1) * 15
            baseline.append(np.abs(a - cv2.getRectSubPix(crop, (1, 1), (float(ox), float(oy)))[0, 0]).mean())
    assert len(errors) >= 30
    assert np.mean(errors) < 3.0, np.mean(errors)  # pixel values 0-255, blurred: interpolation differences only
    assert np.mean(baseline) > 4 * np.mean(errors)


def test_flip_maps_joints_through_flip_pairs(coco_sample):
    data = CocoKeypoints(coco_sample, COCO_JOINTS)
    rec = max(data.records, key=lambda r: (r.keypoints[:, 2] > 0).sum())
    image = cv2.imread(rec.image_path)
    box = box_from_xywh(rec.bbox, (256, 192))
    flipped, kp, fbox = flip_sample(image, rec.keypoints.astype(np.float64), box, COCO_JOINTS.flip_pairs)
    w = image.shape[1]
    assert fbox.cx == pytest.approx(w - 1 - box.cx)
    for a, b in COCO_JOINTS.flip_pairs:
        for src, dst in ((a, b), (b, a)):
            if rec.keypoints[src, 2] > 0:
                x, y = rec.keypoints[src, :2]
                assert kp[dst, 0] == w - 1 - x and kp[dst, 1] == y and kp[dst, 2] == rec.keypoints[src, 2]
                # Same pixel: COCO keypoints are integers and the mirror is exact.
                assert np.array_equal(flipped[int(y), int(kp[dst, 0])], image[int(y), int(x)])
    assert kp[0, 0] == w - 1 - rec.keypoints[0, 0]  # the nose has no pair


def test_lower_body_and_half_body_box():
    assert list(np.nonzero(lower_body_mask(COCO_JOINTS))[0]) == list(range(11, 17))
    assert set(np.nonzero(lower_body_mask(MPII_JOINTS))[0]) == {0, 1, 2, 3, 4, 5, 6}
    kp = np.zeros((17, 3))
    kp[:, 2] = 2
    kp[:11, :2] = np.random.default_rng(0).uniform([100, 50], [140, 120], (11, 2))
    kp[11:, :2] = np.random.default_rng(1).uniform([90, 150], [150, 300], (6, 2))
    lower = lower_body_mask(COCO_JOINTS)
    seen = set()
    for seed in range(20):
        box = half_body_box(kp, lower, (256, 192), np.random.default_rng(seed))
        part = "upper" if box.cy < 130 else "lower"
        seen.add(part)
        sel = kp[:11] if part == "upper" else kp[11:]
        assert abs(box.w / box.h - 0.75) < 1e-9
        assert np.all(np.abs(sel[:, 0] - box.cx) <= box.w / 2) and np.all(np.abs(sel[:, 1] - box.cy) <= box.h / 2)
    assert seen == {"upper", "lower"}


def test_augment_statistics_match_the_config():
    kp = np.zeros((17, 3))
    kp[:, :2] = np.random.default_rng(0).uniform(50, 150, (17, 2))
    kp[:, 2] = 2
    image = np.zeros((200, 200, 3), np.uint8)
    box = Box(100, 100, 150, 200)
    rng = np.random.default_rng(1)
    flips, rots, scales, halves = 0, [], [], 0
    n = 600
    for _ in range(n):
        _, k2, b = augment(image, kp, box, COCO_JOINTS, (256, 192), rng)
        flips += int(k2[0, 0] != kp[0, 0])
        rots.append(b.rotation)
        if abs(b.w / 150 - b.h / 200) < 1e-9 and b.cx in (100, 99):
            scales.append(b.w / 150)
        else:
            halves += 1
    rots = np.array(rots)
    assert 0.43 < flips / n < 0.57
    assert 0.52 < np.mean(rots != 0) < 0.68 and np.abs(rots).max() <= 60
    assert 0.22 < halves / n < 0.38
    assert min(scales) >= 0.75 - 1e-9 and max(scales) <= 1.25 + 1e-9 and 0.15 < np.std(scales) < 0.25


# ----------------------------------------------------------------- dataset and targets


def test_dataset_reader_on_coco_sample(coco_sample):
    assert find_annotation_file(coco_sample).name == "test_coco.json"
    gt = CocoKeypoints(coco_sample, COCO_JOINTS)
    assert len(gt.records) == 12  # the annotations with keypoints
    det = CocoKeypoints(coco_sample, COCO_JOINTS, boxes_file=coco_sample / "test_coco_det_AP_H_56.json")
    assert len(det.records) == 118 and all(r.ann_id == -1 for r in det.records)
    assert len(CocoKeypoints(coco_sample, COCO_JOINTS, boxes_file=coco_sample / "test_coco_det_AP_H_56.json",
                             det_score_threshold=0.5).records) < 118
    with pytest.raises(ValueError, match="has 17 keypoints"):
        CocoKeypoints(coco_sample, MPII_JOINTS)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        CocoKeypoints(coco_sample / "nowhere", COCO_JOINTS)


def test_targets_peak_at_the_joints_and_zero_weight_for_unlabelled(coco_sample):
    data = CocoKeypoints(coco_sample, COCO_JOINTS)
    ds = TopDownDataset(data.records, COCO_JOINTS, (256, 192), sigma=2.0, train=False)
    checked_zero = 0
    for i in range(len(ds)):
        s = ds.sample(i)
        assert s["image"].shape == (3, 256, 192) and s["target"].shape == (17, 64, 48)
        kp = s["keypoints_crop"]
        for j in range(17):
            if kp[j, 2] == 0:
                assert s["target_weight"][j] == 0 and s["target"][j].max() == 0
                checked_zero += 1
                continue
            hx, hy = kp[j, 0] / 4, kp[j, 1] / 4
            if 0 <= hx <= 47 and 0 <= hy <= 63:
                assert s["target_weight"][j] == 1
                y, x = np.unravel_index(np.argmax(s["target"][j]), (64, 48))
                assert abs(x - hx) <= 0.5 + 1e-6 and abs(y - hy) <= 0.5 + 1e-6
                assert s["target"][j].max() == pytest.approx(1.0)
    assert checked_zero > 0
    # ImageNet normalization of RGB: the mean colour maps to 0.
    s = ds.sample(0)
    rgb = s["crop_bgr"][..., ::-1].astype(np.float32)
    for c, (m, sd) in enumerate(zip((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))):
        np.testing.assert_allclose(s["image"][c], (rgb[..., c] - m) / sd, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------- loss, schedule


def test_joints_mse_loss_matches_mmpose_definition():
    from lite_hrnet.train.engine import JointsMSELoss

    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 4, 5, generator=g), torch.rand(2, 3, 4, 5, generator=g)
    weight = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    expected = sum(0.5 * torch.mean((pred[:, k] * weight[:, k, None, None] - target[:, k] * weight[:, k, None, None]) ** 2)
                   for k in range(3)) / 3
    assert JointsMSELoss()(pred, target, weight).item() == pytest.approx(expected.item(), rel=1e-6)
    # A joint with weight 0 does not count, whatever its prediction.
    pred2 = pred.clone()
    pred2[0, 1] += 100
    assert JointsMSELoss()(pred2, target, weight).item() == pytest.approx(expected.item(), rel=1e-6)


def test_lr_schedule_official_and_scaled():
    from lite_hrnet.train.engine import LRSchedule, decay_steps

    assert decay_steps(210) == (170, 200)
    assert decay_steps(21) == (17, 20)
    s = LRSchedule(2e-3, decay_steps(210))
    assert s.lr(0, 0) == pytest.approx(2e-6)
    assert s.lr(0, 250) == pytest.approx(2e-3 * (1 - 0.5 * 0.999))
    assert s.lr(5, 500) == pytest.approx(2e-3)
    assert s.lr(170, 10**6) == pytest.approx(2e-4) and s.lr(199, 10**6) == pytest.approx(2e-4)
    assert s.lr(200, 10**6) == pytest.approx(2e-5)


def test_loss_decreases_on_a_few_synthetic_images(tiny_synth):
    from lite_hrnet import create_model
    from lite_hrnet.train.engine import JointsMSELoss

    torch.manual_seed(0)
    data = CocoKeypoints(tiny_synth, COCO_JOINTS)
    ds = TopDownDataset(data.records[:6], COCO_JOINTS, (64, 64), sigma=2.0, train=False)
    batch = torch.utils.data.default_collate([ds[i] for i in range(len(ds))])
    model = create_model(MODEL).train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = JointsMSELoss()
    losses = []
    for _ in range(25):
        loss = loss_fn(model(batch["image"]), batch["target"], batch["target_weight"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses


# ----------------------------------------------------------------- the training loop


def _cfg(data: Path, out: Path, **kw):
    from lite_hrnet.train.engine import TrainConfig

    base = dict(model_name=MODEL, data=str(data), epochs=1, batch=4, workers=0, out=str(out), input_size=(64, 64),
                warmup_iters=2, progress=False, device="cpu", lr=1e-3, threads=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained_once(tiny_synth, tmp_path_factory):
    from lite_hrnet.train.engine import train

    out = tmp_path_factory.mktemp("run")
    summary = train(_cfg(tiny_synth, out, val=str(tiny_synth), epochs=1))
    return out, summary


def test_checkpoint_round_trip(trained_once):
    from lite_hrnet import create_model
    from lite_hrnet.models.checkpoint import read_state_dict

    out, summary = trained_once
    assert Path(summary["final"]) == out / "final.pth"
    ckpt = torch.load(out / "final.pth", map_location="cpu", weights_only=True)
    assert set(ckpt) == {"state_dict", "meta"}
    assert ckpt["meta"]["model_name"] == MODEL and ckpt["meta"]["input_size"] == [64, 64]
    model = create_model(MODEL, weights=out / "final.pth")
    fresh = create_model(MODEL)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x)
        state = read_state_dict(out / "final.pth")
        direct = create_model(MODEL)
        direct.load_state_dict(state)
        assert torch.equal(y, direct(x))
        assert not torch.allclose(y, fresh(x))  # training changed the weights
    # latest.pth (with optimizer) loads the same weights through create_model.
    with torch.no_grad():
        assert torch.equal(create_model(MODEL, weights=out / "latest.pth")(x), y)
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert len(rows) == 1 and rows[0]["epoch"] == "1" and 0 <= float(rows[0]["val_AP"]) <= 1


def test_resume_continues_with_the_optimizer_state(trained_once, tiny_synth, tmp_path):
    import shutil

    from lite_hrnet.train.engine import train

    src, _ = trained_once
    out = tmp_path / "resume"
    shutil.copytree(src, out)
    first = torch.load(out / "latest.pth", map_location="cpu", weights_only=True)
    iters = first["iteration"]
    assert first["epoch"] == 1 and iters >= 2
    first_steps = {int(v["step"]) for v in first["optimizer"]["state"].values()}
    assert first_steps == {iters}
    with open(out / "iterations.csv", "a") as f:  # a row logged by an interrupted run after the checkpoint
        f.write(f"{iters + 1},2,1.0,1e-3,9.9\n")
    summary = train(_cfg(tiny_synth, out, epochs=2, resume=True))
    logged = [int(r["iteration"]) for r in csv.DictReader(open(out / "iterations.csv"))]
    assert logged == sorted(set(logged)) and logged[-1] == 2 * iters  # the stale row is gone
    second = torch.load(out / "latest.pth", map_location="cpu", weights_only=True)
    assert second["epoch"] == 2 and summary["iterations"] == second["iteration"] == 2 * iters
    # Adam's step counters continue from the saved state (a fresh optimizer would count only the new epoch).
    assert {int(v["step"]) for v in second["optimizer"]["state"].values()} == {2 * iters}
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    # Same weights as an uninterrupted two-epoch run: data order and augmentation are seeded per epoch.
    train(_cfg(tiny_synth, tmp_path / "straight", epochs=2, val=str(tiny_synth)))
    a = torch.load(out / "final.pth", map_location="cpu", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "straight" / "final.pth", map_location="cpu", weights_only=True)["state_dict"]
    assert max(float((a[k].double() - b[k].double()).abs().max()) for k in a) < 1e-4
    with pytest.raises(FileNotFoundError, match="latest.pth"):
        train(_cfg(tiny_synth, tmp_path / "empty", resume=True))


def test_default_lr_scales_with_total_batch(tiny_synth, tmp_path):
    from lite_hrnet.train.engine import train

    train(_cfg(tiny_synth, tmp_path / "lr", lr=None, batch=4, warmup_iters=500))
    meta = torch.load(tmp_path / "lr" / "final.pth", map_location="cpu", weights_only=True)["meta"]
    assert meta["base_lr"] == pytest.approx(2e-3 * 4 / 512) and meta["total_batch"] == 4
    first = next(csv.DictReader(open(tmp_path / "lr" / "iterations.csv")))
    assert float(first["lr"]) == pytest.approx(2e-3 * 4 / 512 * 0.001, rel=1e-3)


def test_distributed_training_gloo_two_processes(tiny_synth, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, LITE_HRNET_DEBUG="1", **ONE_THREAD)
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "lite_hrnet.cli", "train", MODEL, "--data", str(tiny_synth), "--epochs", "1", "--batch", "2",
         "--input-size", "64x64", "--workers", "0", "--out", str(out), "--device", "cpu", "--sync-bn",
         "--warmup-iters", "2", "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=180,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "--sync-bn needs CUDA" in r.stderr  # on CPU the flag is reported, not fatal
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert len(rows) == 1
    n_people = len(CocoKeypoints(tiny_synth, COCO_JOINTS).records)
    per_rank_batches = -(-n_people // 2) // 2  # DistributedSampler: ceil(n / 2) per rank; full batches of 2
    assert int(rows[0]["iterations"]) == per_rank_batches
    meta = torch.load(out / "final.pth", map_location="cpu", weights_only=True)["meta"]
    assert meta["total_batch"] == 4  # 2 processes x 2
    from lite_hrnet import create_model

    create_model(MODEL, weights=out / "final.pth")  # SyncBatchNorm keys load into the plain model


def test_train_cli_errors(tmp_path):
    r = cli("train", MODEL, "--data", str(tmp_path / "missing"), env=ONE_THREAD)
    assert r.returncode == 2 and str(tmp_path / "missing") in r.stderr and r.stderr.count("\n") == 1
    r = cli("train", "no_such_model", "--data", str(tmp_path), env=ONE_THREAD)
    assert r.returncode == 2 and "unknown model" in r.stderr


def test_other_joint_sets_read_and_flip_with_their_pairs(tiny_synth, tmp_path):
    """A 16-joint (MPII layout) COCO-format file: read with MPII_JOINTS, mirrored through MPII's flip pairs."""
    import json

    coco = json.loads((tiny_synth / "annotations.json").read_text())
    for a in coco["annotations"]:
        kp = np.array(a["keypoints"]).reshape(17, 3)[1:]  # any 16 joints will do
        a["keypoints"] = kp.reshape(-1).tolist()
        a["num_keypoints"] = int((kp[:, 2] > 0).sum())
    coco["annotations"] = [a for a in coco["annotations"] if a["num_keypoints"] > 0]
    ann = tmp_path / "mpii_like.json"
    ann.write_text(json.dumps(coco))
    data = CocoKeypoints(ann, MPII_JOINTS, image_dir=tiny_synth / "images")
    assert len(data.records) == len(coco["annotations"])
    plain = TopDownDataset(data.records, MPII_JOINTS, (64, 64), train=False)
    only_flip = AugmentConfig(flip_prob=1.0, half_body_prob=0.0, scale_factor=0.0, rotation_prob=0.0)
    flipped = TopDownDataset(data.records, MPII_JOINTS, (64, 64), train=True, augment_config=only_flip, seed=0)
    a, b = plain.sample(0), flipped.sample(0)
    assert b["target"].shape == (16, 16, 16)
    for i, j in MPII_JOINTS.flip_pairs + tuple((j, i) for i, j in MPII_JOINTS.flip_pairs):
        if a["keypoints_crop"][i, 2] > 0:
            # The box centre maps to x = W / 2 in both crops, so the mirror is x -> 64 - x (mmpose's convention,
            # whose half-pixel offset the flip test's heatmap shift compensates).
            assert b["keypoints_crop"][j, 0] == pytest.approx(64 - a["keypoints_crop"][i, 0], abs=1e-3)
            assert b["keypoints_crop"][j, 1] == pytest.approx(a["keypoints_crop"][i, 1], abs=1e-3)

"""Long soak: PoseTracker over a synthetic video of thousands of frames on each runtime, and
`lite-hrnet predict --track` over it; resident memory after warm-up, open file descriptors, frame counts.

Each runtime runs in a fresh process (so its RSS is its own). Writes soak.json and soak.md
beside this script (or --out). The model is the bundled demo model (litehrnet_18_coco_128x96,
trained on synthetic people), exported once to ONNX, OpenVINO and TFLite fp32 under --work.

    .venv/bin/python benchmarks/soak/soak.py --frames 3000          # about 4 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEMO = "litehrnet_18_coco_128x96"
RUNTIMES = ("onnx", "openvino", "tflite", "torch")


def write_synthetic_video(path: Path, frames: int, size=(192, 160), seed: int = 0) -> Path:
    """An MJPG .avi of ``frames`` frames (H x W = ``size``): one synthetic scene of people drifting slowly."""
    import cv2

    from lite_hrnet.synth import SynthConfig, render_image

    h, w = size
    scene, _ = render_image(np.random.default_rng(seed), SynthConfig(image_size=(h + 40, w + 40), people_per_image=(1, 2)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    try:
        for i in range(frames):
            dx, dy = int(20 + 18 * np.sin(i / 40)), int(20 + 18 * np.cos(i / 55))
            writer.write(np.ascontiguousarray(scene[dy:dy + h, dx:dx + w]))
    finally:
        writer.release()
    return path


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def child(runtime: str, model: str, video: Path, warmup: int, every: int) -> Dict:
    """Run PoseTracker over every frame of ``video``; RSS every ``every`` frames after ``warmup``."""
    import cv2

    from lite_hrnet.pipeline import PoseEstimator, PoseTracker

    fds_before = open_fds()
    kwargs = {"weights": "synthetic"} if runtime == "torch" else {}
    estimator = PoseEstimator(model, threads=1, **kwargs)
    tracker = PoseTracker(estimator)
    cap = cv2.VideoCapture(str(video))
    frames = persons = 0
    samples: List[List[float]] = []
    start = time.perf_counter()
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            persons += len(tracker.update(frame))
            frames += 1
            if frames >= warmup and (frames - warmup) % every == 0:
                samples.append([frames, round(rss_mb(), 2)])
    finally:
        cap.release()
    seconds = time.perf_counter() - start
    del tracker, estimator
    return {"runtime": runtime, "frames": frames, "persons": persons, "seconds": round(seconds, 1),
            "rss_mb": samples, "fds_before": fds_before, "fds_after": open_fds()}


def models(work: Path) -> Dict[str, str]:
    from lite_hrnet.export import export_model

    report = export_model(DEMO, formats=("onnx", "openvino", "tflite"), precisions=("fp32",), out_dir=work / "exports",
                          weights="synthetic", verify=False, reuse=True)
    found = {a.format: a.path for a in report.artifacts if not a.end_to_end}
    return {"onnx": found["onnx"], "openvino": found["openvino"], "tflite": found["tflite"], "torch": DEMO}


def summarize(r: Dict) -> Dict:
    rss = np.array(r["rss_mb"], dtype=float)
    growth = float(rss[-1, 1] - rss[0, 1]) if len(rss) > 1 else float("nan")
    span = float(rss[-1, 0] - rss[0, 0]) if len(rss) > 1 else float("nan")
    return dict(r, rss_after_warmup_mb=float(rss[0, 1]), rss_end_mb=float(rss[-1, 1]), rss_max_mb=float(rss[:, 1].max()),
                growth_mb=round(growth, 2), growth_mb_per_1000_frames=round(1000 * growth / span, 3) if span else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200, help="frames before the first RSS sample")
    parser.add_argument("--every", type=int, default=100, help="frames between RSS samples")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES))
    parser.add_argument("--work", default=str(ROOT / "build" / "soak"))
    parser.add_argument("--out", default=str(HERE))
    parser.add_argument("--child", nargs=2, metavar=("RUNTIME", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    video = work / f"soak_{args.frames}.avi"
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], video, args.warmup, args.every)))
        return 0
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not video.is_file():
        write_synthetic_video(video, args.frames)
    files = models(work)
    print(f"video and models ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    results = []
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for runtime in args.runtimes.split(","):
        run = subprocess.run([sys.executable, __file__, "--frames", str(args.frames), "--warmup", str(args.warmup),
                              "--every", str(args.every), "--work", str(work), "--child", runtime, files[runtime]],
                             capture_output=True, text=True, env=env)
        if run.returncode != 0:
            raise SystemExit(f"{runtime}: {run.stderr.strip().splitlines()[-1:]}")
        results.append(summarize(json.loads(run.stdout.strip().splitlines()[-1])))
        print(f"{runtime}: {results[-1]['frames']} frames, RSS {results[-1]['rss_after_warmup_mb']:.1f} -> "
              f"{results[-1]['rss_end_mb']:.1f} MB", file=sys.stderr)
    # The CLI path: predict --track writing results.json and the annotated video.
    out = work / "predict_out"
    t1 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "lite_hrnet.cli", "predict", "--model", files["onnx"], str(video), "--track",
                          "--threads", "1", "--out", str(out), "--no-progress"], capture_output=True, text=True, env=env)
    import cv2

    frames_written = {r["frame"] for r in json.loads((out / "results.json").read_text())}
    cap = cv2.VideoCapture(str(out / f"{video.stem}_pose.mp4"))
    video_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    cli = {"exit_status": run.returncode, "frames_in_results": len(frames_written), "frames_in_annotated_video": video_frames,
           "seconds": round(time.perf_counter() - t1, 1)}
    report = {"frames": args.frames, "warmup": args.warmup, "model": DEMO, "threads": 1, "runtimes": results,
              "predict_track_cli": cli, "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
              "total_seconds": round(time.perf_counter() - t0, 1)}
    out_dir = Path(args.out)
    (out_dir / "soak.json").write_text(json.dumps(report, indent=1))
    lines = [f"# Soak: PoseTracker over {args.frames} synthetic frames ({DEMO}, 1 thread)", "",
             "RSS sampled every {} frames after {} warm-up frames; each runtime in its own process.".format(args.every, args.warmup), "",
             "| runtime | frames | RSS after warm-up (MB) | RSS at end (MB) | max (MB) | growth (MB / 1000 frames) | fds before / after | s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['runtime']} | {r['frames']} | {r['rss_after_warmup_mb']:.1f} | {r['rss_end_mb']:.1f} | "
                     f"{r['rss_max_mb']:.1f} | {r['growth_mb_per_1000_frames']} | {r['fds_before']} / {r['fds_after']} | {r['seconds']} |")
    lines += ["", f"`lite-hrnet predict --track` (onnx): exit {cli['exit_status']}, {cli['frames_in_results']} frames in "
              f"results.json, {cli['frames_in_annotated_video']} in the annotated video, {cli['seconds']} s.", ""]
    (out_dir / "soak.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

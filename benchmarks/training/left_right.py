"""Does a checkpoint tell left from right? Numbers behind the diagnosis in README.md.

Usage: python benchmarks/training/left_right.py CHECKPOINT DATA_DIR RESULTS.json

RESULTS.json is what ``lite-hrnet eval CHECKPOINT --data DATA_DIR --save-results`` wrote
(COCO keypoint results, ground-truth boxes). Prints, as Markdown:

- per joint, the median distance of the prediction to its ground truth in units of
  sqrt(area) of the person (the OKS scale), and the mean signed x / y error;
- "merged": of the left/right limb pairs (shoulders ... ankles) whose ground-truth joints are
  more than 0.1 sqrt(area) apart, the share predicted closer to each other than 0.3 of that
  distance (both joints on one limb, or between the two);
- the Pearson correlation of the predicted left and right heatmaps of shoulders, hips, knees
  and ankles on the first 20 crops (every third person), next to that of the targets.

Each result is matched to the ground-truth person of its image it is closest to.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List

import numpy as np

PAIRS = [(5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]


def main(argv: List[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    checkpoint, data, results_file = argv[0], Path(argv[1]), Path(argv[2])
    gt = json.loads((data / "annotations.json").read_text())
    names = gt["categories"][0]["keypoints"]
    by_image = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    errors: List[List[float]] = [[] for _ in names]
    signed = []
    merged = total = 0
    for r in json.loads(results_file.read_text()):
        pred = np.array(r["keypoints"], np.float64).reshape(-1, 3)
        best = min(by_image[r["image_id"]],
                   key=lambda a: np.mean(np.abs(np.array(a["keypoints"]).reshape(-1, 3)[:, :2] - pred[:, :2])))
        g = np.array(best["keypoints"], np.float64).reshape(-1, 3)
        s = np.sqrt(best["area"])
        for k in range(len(names)):
            if g[k, 2] > 0:
                errors[k].append(float(np.linalg.norm(pred[k, :2] - g[k, :2]) / s))
                signed.append((pred[k, :2] - g[k, :2]) / s)
        for a, b in PAIRS:
            if g[a, 2] > 0 and g[b, 2] > 0:
                apart = np.linalg.norm(g[a, :2] - g[b, :2])
                if apart > 0.1 * s:
                    total += 1
                    merged += int(np.linalg.norm(pred[a, :2] - pred[b, :2]) < 0.3 * apart)
    signed_mean = np.mean(signed, axis=0)
    print(f"## {checkpoint} on {data}\n")
    print("| joint | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    print("| median error / sqrt(area) | " + " | ".join(f"{np.median(e):.3f}" for e in errors) + " |\n")
    print(f"mean signed error / sqrt(area): x {signed_mean[0]:+.4f}, y {signed_mean[1]:+.4f}\n")
    print(f"merged limb pairs: {merged} / {total} = {merged / max(total, 1):.2f}\n")

    import torch

    import lite_hrnet
    from lite_hrnet.specs import COCO_JOINTS
    from lite_hrnet.train.dataset import CocoKeypoints, TopDownDataset

    torch.set_num_threads(1)
    meta = torch.load(checkpoint, map_location="cpu", weights_only=False).get("meta", {})
    model = lite_hrnet.create_model(meta["model_name"], weights=checkpoint).eval()
    dataset = TopDownDataset(CocoKeypoints(data).records, COCO_JOINTS, tuple(meta["input_size"]), train=False)
    picked = range(0, min(60, len(dataset)), 3)
    samples = [dataset.sample(i) for i in picked]
    with torch.no_grad():
        heatmaps = model(torch.from_numpy(np.stack([s["image"] for s in samples]))).numpy()
    targets = np.stack([s["target"] for s in samples])
    print("| pair | predicted L/R heatmap correlation | target correlation |\n|---|---|---|")
    for a, b in [(5, 6), (11, 12), (13, 14), (15, 16)]:
        pred_corr = np.mean([np.corrcoef(h[a].ravel(), h[b].ravel())[0, 1] for h in heatmaps])
        target_corr = np.mean([np.corrcoef(t[a].ravel(), t[b].ravel())[0, 1] for t in targets if t[a].max() > 0 and t[b].max() > 0])
        print(f"| {names[a].replace('left_', '')} | {pred_corr:.4f} | {target_corr:.2f} |")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

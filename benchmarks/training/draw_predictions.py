"""Draw saved keypoint predictions on their images: a grid of the first N images of a set.

Usage: python benchmarks/training/draw_predictions.py OUT.jpg DATA_DIR RESULTS.json [N]

DATA_DIR holds ``annotations.json`` and ``images/`` (as ``lite-hrnet synth`` writes
them); RESULTS.json is what ``lite-hrnet eval --save-results`` writes (COCO keypoint
results: ``keypoints`` = [x, y, score] * 17 in image pixels). Joints with a score
above 0.2 are drawn: red = the person's left, blue = right, green = nose, with the
limbs of the COCO skeleton in grey.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List

import cv2
import numpy as np

SKELETON = [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
            (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)]
SCORE_MIN = 0.2


def _color(k: int) -> tuple:
    if k == 0:
        return (0, 200, 0)
    return (0, 0, 255) if k % 2 == 1 else (255, 0, 0)  # odd COCO indices are the left joints (BGR)


def main(argv: List[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out, data, results_file = Path(argv[0]), Path(argv[1]), Path(argv[2])
    count = int(argv[3]) if len(argv) == 4 else 8
    coco = json.loads((data / "annotations.json").read_text())
    results = json.loads(results_file.read_text())
    tiles = []
    for image in coco["images"][:count]:
        img = cv2.imread(str(data / "images" / image["file_name"]))
        if img is None:
            print(f"cannot read {data / 'images' / image['file_name']}", file=sys.stderr)
            return 2
        img = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)  # room for the dots
        for r in results:
            if r["image_id"] != image["id"]:
                continue
            kp = np.array(r["keypoints"], np.float64).reshape(-1, 3)
            kp[:, :2] = kp[:, :2] * 2 + 0.5
            ok = kp[:, 2] > SCORE_MIN
            for a, b in SKELETON:
                if ok[a] and ok[b]:
                    cv2.line(img, tuple(int(v) for v in kp[a, :2]), tuple(int(v) for v in kp[b, :2]), (160, 160, 160), 2,
                             cv2.LINE_AA)
            for k in np.nonzero(ok)[0]:
                cv2.circle(img, tuple(int(v) for v in kp[k, :2]), 5, _color(int(k)), -1, cv2.LINE_AA)
        tiles.append(img)
    cols = 4
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.concatenate([np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)], axis=0)
    grid = cv2.resize(grid, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    if not cv2.imwrite(str(out), grid, [cv2.IMWRITE_JPEG_QUALITY, 88]):
        print(f"cannot write {out}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

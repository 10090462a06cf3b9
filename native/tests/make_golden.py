"""Golden values for the C unit tests (native/tests/test_core.c), computed by the Python implementation.

Run from the repository root with the project's venv:

    .venv/bin/python native/tests/make_golden.py

It rewrites native/tests/golden/: geometry.txt (box to center/scale, crop matrix, mapping back),
warp.txt (cv2.warpAffine crops of a small synthetic image), decode.txt (heatmap decoding with
arg-maxes on the border rows and columns) and tiny_meta.tflite (a minimal TFLite flatbuffer
carrying lite_hrnet metadata). Text files hold one record per line: a tag, then numbers; float32
values are written with enough digits to read back exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lite_hrnet import metadata as md  # noqa: E402
from lite_hrnet.codec import decode_heatmaps  # noqa: E402
from lite_hrnet.geometry import box_to_center_scale, crop_matrix, heatmap_to_image  # noqa: E402
from lite_hrnet.specs import get_model_spec  # noqa: E402

OUT = Path(__file__).resolve().parent / "golden"


def f32(values) -> str:
    """float32 values as text that reads back to the same float32 (9 significant digits)."""
    return " ".join(f"{float(v):.9g}" for v in np.asarray(values, dtype=np.float32).reshape(-1))


def f64(values) -> str:
    return " ".join(repr(float(v)) for v in np.asarray(values, dtype=np.float64).reshape(-1))


def geometry(rng: np.random.Generator) -> str:
    lines = ["# bcs aspect padding x1 y1 x2 y2 -> cx cy sw sh (box_to_center_scale)",
             "# crop out_h out_w cx cy sw sh -> m0..m5 (crop_matrix)",
             "# map k map_h map_w cx cy sw sh x1 y1 ... -> X1 Y1 ... (heatmap_to_image)"]
    boxes = [[10, 20, 110, 220], [0, 0, 640, 480], [-30.5, 12.25, 60.75, 400.5], [5.3, 7.7, 150.2, 118.9],
             [100, 100, 101, 180], [100, 100, 180, 101]]
    boxes += rng.uniform(-100, 700, (20, 2)).tolist()
    full = []
    for b in boxes:
        if len(b) == 2:  # random corner + random size
            w, h = rng.uniform(1, 300, 2)
            b = [b[0], b[1], b[0] + w, b[1] + h]
        full.append(np.asarray(b, np.float32))
    for (in_h, in_w) in ((256, 192), (128, 96), (384, 288), (100, 100)):
        aspect = in_w / in_h
        for b in full:
            c, s = box_to_center_scale(b[None], aspect, 1.25)
            lines.append(f"bcs {f64([aspect, 1.25])} {f32(b)} {f32(c)} {f32(s)}")
            m = crop_matrix(c[0], s[0], (in_h, in_w))
            lines.append(f"crop {in_h} {in_w} {f32(c)} {f32(s)} {f64(m)}")
            for (mh, mw) in ((in_h // 4, in_w // 4), (in_h, in_w)):
                k = 5
                coords = np.concatenate([rng.uniform(-1, mw, (1, k, 1)), rng.uniform(-1, mh, (1, k, 1))],
                                        axis=2).astype(np.float32)
                coords[0, 0] = (0, 0)
                coords[0, 1] = (mw - 1, mh - 1)
                coords[0, 2] = np.round(coords[0, 2] * 4) / 4
                mapped = heatmap_to_image(coords, c, s, (mh, mw))
                lines.append(f"map {k} {mh} {mw} {f32(c)} {f32(s)} {f32(coords)} {f32(mapped)}")
    return "\n".join(lines) + "\n"


def warp(rng: np.random.Generator) -> str:
    """Crops of a 37 x 53 BGR image by cv2.warpAffine, as the pipeline makes them."""
    h, w = 37, 53
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.stack([(xx * 5 + yy * 3) % 256, (xx * 11 + 7 * yy * yy) % 256, rng.integers(0, 256, (h, w))],
                     axis=2).astype(np.uint8)
    lines = ["# image H W C then the pixels (row-major, interleaved)",
             "# warp x1 y1 x2 y2 out_h out_w map0 map1 map2 -> out_h x out_w x 3 crop bytes,",
             "#   crop channel c = source channel map[c] (the pipeline's BGR image, RGB crops reversed)",
             f"image {h} {w} 3 " + " ".join(str(int(v)) for v in image.reshape(-1))]
    boxes = [[5, 4, 40, 30], [-20, -10, 30, 50], [10.5, 3.25, 52.75, 36.5], [30, 20, 90, 70], [-100, -100, -50, -50],
             [0, 0, 53, 37], [20.2, 15.1, 21.3, 18.9]]
    for box in boxes:
        for (oh, ow) in ((32, 24), (17, 13)):
            c, s = box_to_center_scale(np.asarray([box], np.float32), ow / oh, 1.25)
            m = crop_matrix(c[0], s[0], (oh, ow))
            crop = cv2.warpAffine(image, m, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=(0, 0, 0))
            for cmap in ((0, 1, 2), (2, 1, 0)):
                out = crop[..., list(cmap)]
                lines.append(f"warp {f32(box)} {oh} {ow} {cmap[0]} {cmap[1]} {cmap[2]} "
                             + " ".join(str(int(v)) for v in out.reshape(-1)))
    return "\n".join(lines) + "\n"


def decode(rng: np.random.Generator) -> str:
    """Heatmaps with maxima inside, on every border row and column and in the corners, and ties."""
    lines = ["# decode k h w then k x h x w float32 heatmaps -> x1 y1 ... (k x 2) and k scores (decode_heatmaps)"]
    for (k, h, w) in ((17, 16, 12), (6, 5, 4), (3, 3, 3), (4, 1, 6), (3, 6, 1)):
        for trial in range(4):
            hm = rng.normal(0, 0.1, (1, k, h, w)).astype(np.float32)
            spots = [(rng.integers(0, w), rng.integers(0, h)), (0, rng.integers(0, h)), (w - 1, rng.integers(0, h)),
                     (rng.integers(0, w), 0), (rng.integers(0, w), h - 1), (0, 0), (w - 1, h - 1), (1, 1),
                     (w - 2, h - 2)]
            for j in range(k):
                x, y = spots[(j + trial) % len(spots)]
                hm[0, j, y, x] = 1.0 + j * 0.01
            if trial == 1 and w > 2 and h > 2:  # equal neighbours: no shift
                x, y = max(1, w // 2), max(1, h // 2)
                hm[0, 0] = 0
                hm[0, 0, y, x] = 1
            if trial == 2:  # a tie: the first maximum wins
                hm[0, k - 1] = 0.5
            coords, scores = decode_heatmaps(hm)
            lines.append(f"decode {k} {h} {w} {f32(hm)} {f32(coords)} {f32(scores)}")
    return "\n".join(lines) + "\n"


def tiny_tflite() -> bytes:
    """A TFLite flatbuffer with no graph, only buffers and the lite_hrnet metadata entry."""
    schema = md.tflite_schema()
    if schema is None:
        raise SystemExit("needs ai-edge-litert (the tflite extra) for the TFLite schema")
    model = schema.ModelT()
    model.version = 3
    empty = schema.BufferT()
    other = schema.BufferT()
    other.data = list(b"other metadata")
    model.buffers = [empty, other]
    entry = schema.MetadataT()
    entry.name = "min_runtime_version"
    entry.buffer = 1
    model.metadata = [entry]
    meta = dict(get_model_spec("litehrnet_18_coco_128x96").metadata(), format="tflite", precision="fp32", layout="NHWC",
                batch=1, note="caf\u00e9 \"quoted\" \\ \u2603 \U0001F600")
    return md.write_tflite_metadata(md.pack_tflite(model), meta)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    (OUT / "geometry.txt").write_text(geometry(rng))
    (OUT / "warp.txt").write_text(warp(rng))
    (OUT / "decode.txt").write_text(decode(rng))
    (OUT / "tiny_meta.tflite").write_bytes(tiny_tflite())
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()

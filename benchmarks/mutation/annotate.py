"""Annotate mutmut survivors with the reason each is equivalent or acceptable.

Reads the ``survivors.tsv`` files written by summary.py (``name, status, changed line``) and writes one
TSV with two more columns, ``class`` (equivalent / acceptable, or killed: by a test added after the run,
checked with ``MUTANT_UNDER_TEST``) and ``reason``::

    python benchmarks/mutation/annotate.py build/mutation/core/survivors.tsv build/mutation/evaluate/survivors.tsv \
        > benchmarks/mutation/after_survivors.tsv

A survivor that no rule below explains is written with class ``UNEXPLAINED`` (and the exit status is 1):
it needs a test, or a rule here with its reason. Rules match the mutant's function (the name without its
``__mutmut_N``) and its changed line; each was checked by reading the mutant (``mutmut show NAME``).
"""

from __future__ import annotations

import re
import sys
from typing import List, Tuple

EQ, OK = "equivalent", "acceptable"
DTYPE_SAME = ("the dtype argument dropped or None: numpy's default (float64 / int64) is what the values are already, "
              "or they are promoted to float64 by the next operation, or written into a typed array right away")

# (function regex, changed-line regex, class, reason); the first match wins.
RULES: List[Tuple[str, str, str, str]] = [
    (r".", r"reshape\(-2", EQ, "numpy treats any negative size as 'infer': reshape(-2, ...) is reshape(-1, ...)"),
    (r"box_from_xywh", r"xywh\[:5\]", EQ, "xywh[:5] of a 4-vector is xywh[:4]"),
    (r"_refinable|refine_default|flip_keypoints", r"np\.array\(\w+, dtype=np\.float32, \)", EQ,
     "copy= removed: np.array copies by default"),
    (r"refine_default", r"astype\(np\.float32, (copy=(None|True))?\)", EQ,
     "only the copy flag: the array is read, never written"),
    (r"refine_default", r"astype\(None, copy=False\)", EQ,
     "float64 instead of float32 heatmaps: the arg-max and the signs of neighbour differences are the same "
     "(float32 values convert exactly; a float32 difference of two different values is never rounded to 0)"),
    (r"refine_default", r"(px|py) <= (w|h)\)", EQ, "the arg-max index is at most w - 1 / h - 1, so <= w equals < w"),
    (r"gaussian_blur_heatmaps", r"pad = \(kernel \+ 1\) // 2|[23] \* pad, w \+ [23] \* pad", EQ,
     "more zero padding than the blur kernel reaches: the cropped-out centre is the same"),
    (r"gaussian_blur_heatmaps", r"GaussianBlur\(padded, \(kernel, kernel\), None\)", EQ,
     "OpenCV's sigma None is sigma 0: computed from the kernel size, as before"),
    (r"gaussian_blur_heatmaps", r"astype\(None\)|dtype=None\)|, \)$", EQ,
     "float64 working copy or padding: the blurred values are written back into the float32 heatmap"),
    (r"refine_dark", r"np\.where\(good, det, 2\.0\)", EQ,
     "the placeholder determinant where not good: those offsets are zeroed anyway"),
    (r"refine_dark", r"np\.where\(good, o[xy], 0\.0\)\.astype\(None\)", EQ,
     "float64 offset added into a float32 array: the same float32 result"),
    (r"refine_dark", r"logs\[.*\]\.astype\(None\)", OK,
     "the log heatmap in float32 instead of float64: DARK's offsets move by about 1e-6 pixel"),
    (r"encode_gaussian", r"np\.asarray\(keypoints, (dtype=None)?\)|np\.arange\(size, (dtype=None)?\)", OK,
     "the Gaussian computed in the input's float type or int64 grid: values differ at float32 rounding level "
     "and are stored as float32 targets"),
    (r"apply_affine|heatmap_to_image|keypoints_to_boxes", r"np\.asarray\(\w+, (dtype=None)?\)", EQ, DTYPE_SAME),
    (r"box_iou", r"np\.asarray\([ab], (dtype=None)?\)", EQ,
     "integer boxes stay integer: overlaps and areas are exact integers and the IoU is a float64 division either way"),
    (r"person_score", r"np\.asarray\(keypoint_scores, (None)?\)", OK,
     "float32 scores averaged in float32: the person score differs below 1e-7 relative"),
    (r"to_coco_results", r"astype\(None\)", EQ, "astype(None) is astype(float64)"),
    (r"PoseTracker.*(reset|_forget_tracks)", r"self\._(ids|box_scores) = ", EQ,
     "the ids and box scores of the tracks are only read while _boxes is not empty, and are set with _boxes"),
    (r"PoseTracker.*_new_ids", r"dtype=None|, \)$", EQ, "np.arange of Python ints is int64 already"),
    (r"PoseTracker.*update", r"np\.(full|ones|array)\(.*(None|, )\)(, self\._new_ids\(1\))?$", EQ, DTYPE_SAME),
    (r"PoseTracker.*update", r"np\.full\(\(len\(given\),\), -2", EQ, "any negative id marks a box without a track"),
    (r"PoseTracker.*update", r"iou\[i, j\] >= self\.iou_thr", OK,
     "differs only for an IoU exactly equal to the threshold in float64"),
    (r"warp_crop", r"flags=None|borderMode=None|borderValue=None\)|^borderValue=0\)$|output_size\[0\]\)\), borderMode", EQ,
     "OpenCV's warpAffine defaults are INTER_LINEAR, BORDER_CONSTANT and border value 0: the values given"),
    (r"heatmap_to_image", r"np\.array\(\[hm_w, hm_h\], (dtype=None)?\)", EQ,
     "an int64 divisor of float64 scales: the same float64 quotient"),
    (r"PoseEstimator.*(__init__|predict)", r"flip_test and dark\)|raise ValueError\(None\)|info\.path and self\.backend\.name|XXflip_test|FLIP_TEST|XXuse its|USE ITS", "killed",
     "killed by test_pipeline.py::test_end_to_end_backend_refuses_flip_dark_and_heatmaps_naming_the_model, "
     "added after the run (checked with MUTANT_UNDER_TEST=NAME on the run's mutated copy)"),
    (r"PoseEstimator.*__init__", r"device: str = \"(XXcpuXX|CPU)\"|device=None|threads=None|precision=None|weights=None|"
     r"model, (threads|device=device, precision|device=device, threads=threads, model_name|device=device, threads=threads, "
     r"precision=precision, model_name=model_name, spec)", OK,
     "options forwarded to runtimes.load for model files; the callables of this selection ignore them "
     "(file-backed runtimes are tested by the runtime and export tests, left out for time)"),
    (r"PoseEstimator.*__init__", r"meta\.get\(\"color_order\", ", EQ,
     "color_order is a required metadata field (metadata.REQUIRED_FIELDS): the default is never used"),
    (r"PoseEstimator.*infer", r"np\.concatenate\(\[batch, flip_images\(batch\)\], \)", EQ, "concatenate's axis default is 0"),
    (r"PoseTracker.*update", r"^ok = \(next_boxes", EQ,
     "a person without enough keypoints has an all-zero box, which fails the width test anyway"),
    (r"prepare_image", r"type\(None\)\.__name__", OK,
     "the message still names the argument and what it must be; only the received type's name is wrong"),
    (r"fit_aspect", r"^w = np\.asarray\(w, (dtype=None)?\)$", "killed",
     "killed by test_geometry.py::test_fit_aspect_answers_in_float64_whatever_it_is_given, added after the run "
     "(checked on the mutated code): float32 sizes would stay float32"),
    (r"box_to_center_scale", r"np\.asarray\(boxes, (dtype=None)?\)", "killed",
     "killed by test_geometry.py::test_float32_boxes_give_the_exact_midpoint_rounded_once, added after the run "
     "(checked on the mutated code): float32 arithmetic moves 11 of 200 centers by one float32 step"),
    (r"fit_aspect", r"^h = np\.asarray\(h, (dtype=None)?\)$", EQ,
     "h is only combined with the float64 w (np.where promotes), so float32 or integer heights give the same float64 values"),
    (r"fit_aspect|box_to_center_scale", r"np\.asarray\(\w+, (dtype=None)?\)", EQ, DTYPE_SAME),
    (r"fit_aspect", r"wider = w >= aspect \* h|~wider \| \(w < aspect \* h\)|~wider & \(w <= aspect \* h\)", EQ,
     "differs only where w == aspect x h already: both branches then give the same box (to the last bit of w / aspect)"),
    (r"crop_matrix", r"astype\(None\)|dtype=None\)$|out_h \* 0\.5 - cy \* sy\]\], \)$", EQ,
     "astype(None) is float64, and an array of Python floats is float64: the matrix is float64 either way"),
    (r"warp_crop", r"borderMode=cv2\.BORDER_CONSTANT, \)$", EQ, "warpAffine's default border value is 0, the value given"),
    (r"get_max_preds", r"take_along_axis\(flat, idx\[\.\.\., None\], \)", EQ,
     "take_along_axis's default axis is -1, the axis given"),
    (r"box_iou", r"union >= 0", EQ, "a zero union has a zero intersection: 0 / 1e-12 is the 0.0 of the other branch"),
    (r"PoseTracker.*__init__", r"self\._frames = 1", EQ,
     "the default time stamps all move by 1/30 s: the One-Euro filter uses only time steps"),
    (r"_jpeg_truncated", r"rfind\(b\"\\xff\\xd9\", last_scan\)", EQ,
     "find and rfind from the last scan agree on whether an end marker follows it"),
    (r"_jpeg_truncated", r"last_scan\) (<= 0|< 1)", EQ,
     "the end marker is searched from the last scan's offset, which holds FF DA: it is never found at 0"),
    (r"load_image", r"max\(2, int\(np\.iinfo", EQ, "the integer type's maximum is at least 255, never below 2"),
    (r"load_image", r"prepare_image\(image, (None)?\)", EQ,
     "the name is shown only for an invalid image, and a decoded image is always valid"),
    (r"load_image", r"if \(data\.size\) or True", EQ, "an empty file fails in imdecode with the same message"),
    (r"load_image", r"image = \"\"", OK, "the branch where OpenCV raises on a header: not reproducible with a small file"),
    (r"draw_poses", r"shape\[:3\]", EQ, "the 3 channels are never the largest side"),
    (r"draw_poses", r"/ 641\.0", OK, "the radius rounds differently only within 0.2% of a rounding step"),
    (r"draw_poses", r"256", EQ, "a colour of 256 saturates to 255"),
    (r"draw_poses", r"cv2\.putText\(.*\), None,$|, t, (None)?\)$|cv2\.LINE_AA\)$|-2, cv2\.LINE_AA", OK,
     "font 0 is FONT_HERSHEY_SIMPLEX; anti-aliasing on or off; a circle of thickness -2 is filled like -1"),
    (r"draw_poses", r"max\(1, y1 - 4\)|max\(0, y1 - 5\)", OK, "the track label one pixel higher or at row 1 instead of 0"),
    # ---- train/evaluate.py
    (r"predict_records", r"batch_size: int = 33", EQ, "results do not depend on the batch split (each crop is estimated alone)"),
    (r"predict_records", r"np\.prod\(scale, dtype=None\)", OK,
     "the area as the float32 product of the float32 scale: differs below 1e-7 relative"),
    (r"predict_records", r"np\.array\(\[\[x, y, x \+ w, y \+ h\].*, (None)?\)$", EQ,
     "record boxes are Python floats: a float64 array either way"),
    (r"predict_records", r"np\.prod\(scale, \)", OK,
     "the area as the float32 product of the float32 scale: differs below 1e-7 relative"),
    (r"oks$|oks_nms", r"np\.spacing\(2\)", EQ,
     "the guard against a zero area: 4e-16 instead of 2e-16 changes OKS by 1e-16 relative, and a zero area "
     "gives 0 (moved joints) or 1 (exact joints) either way"),
    (r"EvalResult.*summary", r"float\(\"INF\"\)", EQ, "float() accepts inf in any case"),
    (r"oks_nms", r"kind=\"STABLE\"", EQ, "numpy accepts the sort kind in any case"),
    (r"oks_nms|nms_coco_results|evaluate_coco", r"np\.asarray\(sigmas, (None)?\)", EQ,
     "sigmas are Python floats (a tuple or list): float64 either way"),
    (r"nms_coco_results", r"boxes=(None|np\.zeros\(\(len\(ps\), [45]\), (None|np\.float32)?\))|box_indices=None|box_scores=np\.array\(\[p\.box_score for p in ps\], (None)?\)", EQ,
     "to_coco_results reads neither boxes nor box indices; box scores are Python floats (float64 either way)"),
    (r"evaluate_coco", r"redirect_stdout\(None\)", EQ, "print with sys.stdout None writes nothing, as into the StringIO"),
    (r"evaluate_coco", r"useSegm = (\"XX\"|True|False|\"\")", EQ, "useSegm is only read for the bbox/segm iou types"),
    (r"pck", r"float\(\"NAN\"\)", EQ, "float() accepts NaN in any case"),
    (r"evaluate_dataset", r"unlink\(missing_ok=(None|False)\)", EQ, "the subset file always exists at that point"),
]


def classify(name: str, line: str) -> Tuple[str, str]:
    function = re.sub(r"__mutmut_\d+$", "", name)
    for fn_pattern, line_pattern, kind, reason in RULES:
        if re.search(fn_pattern, function) and re.search(line_pattern, line):
            return kind, reason
    return "UNEXPLAINED", "needs a test or a reason"


def main(paths: List[str]) -> int:
    unexplained = 0
    print("mutant\tstatus\tchanged line\tclass\treason")
    for path in paths:
        for row in open(path):
            name, status, line = row.rstrip("\n").split("\t", 2)
            kind, reason = classify(name, line)
            unexplained += kind == "UNEXPLAINED"
            print(f"{name}\t{status}\t{line}\t{kind}\t{reason}")
    print(f"{unexplained} unexplained survivors", file=sys.stderr)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The pipeline's image input and drawn output: load_image on every file kind, draw_poses' behaviour.

draw_poses is checked by what it must do, not by its palette: confident keypoints (score above the
threshold, finite) get a green filled disk whose radius grows with images larger than 640 pixels,
limbs join confident joints only, boxes and track ids only on request, the input untouched unless
``copy=False``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lite_hrnet.pipeline import PoseResult, check_boxes, draw_poses, load_image, to_coco_results

GREEN = (0, 255, 0)
K = 5


def one_person(points, scores, box=(100.0, 100.0, 300.0, 400.0), track_id=None) -> PoseResult:
    return PoseResult(
        keypoints=np.asarray(points, np.float32)[None], scores=np.asarray(scores, np.float32)[None],
        boxes=np.asarray([box], np.float32), box_scores=np.ones((1,), np.float32),
        box_indices=np.zeros((1,), np.int64), track_ids=None if track_id is None else np.array([track_id], np.int64),
    )


POINTS = [[150.0, 150.0], [250.0, 150.0], [150.0, 300.0], [250.0, 300.0], [np.nan, 200.0]]


def drawn(canvas: np.ndarray) -> np.ndarray:
    return canvas.any(axis=2)


def test_confident_keypoints_are_green_disks_and_the_rest_is_not_drawn():
    image = np.zeros((480, 640, 3), np.uint8)
    result = one_person(POINTS, [0.9, 0.31, 0.3, 0.1, 0.9])  # 0.3 is not above the default threshold
    canvas = draw_poses(image, result)
    assert canvas.shape == (480, 640, 3) and canvas.dtype == np.uint8
    assert not image.any()  # drawn on a copy
    for x, y in ((150, 150), (250, 150)):
        assert tuple(canvas[y, x]) == GREEN and tuple(canvas[y, x + 3]) != (0, 0, 0)  # radius 3
        assert not canvas[y, x + 5].any() and not canvas[y + 5, x].any()
    ys, xs = np.nonzero(drawn(canvas))
    assert xs.min() >= 146 and xs.max() <= 254 and ys.min() >= 146 and ys.max() <= 154  # nothing else
    # a lower threshold draws the 0.3 and 0.1 joints too; NaN is never drawn
    canvas = draw_poses(image, result, kpt_thr=0.05)
    assert tuple(canvas[300, 150]) == GREEN and tuple(canvas[300, 250]) == GREEN
    assert not drawn(canvas)[190:210].any()


def test_radius_and_thickness_grow_with_images_larger_than_640_pixels():
    small = draw_poses(np.zeros((240, 320, 3), np.uint8), one_person([[100.0, 100.0]] * K, [0.9] * K))
    assert tuple(small[100, 103]) != (0, 0, 0) and not small[100, 105].any()  # radius 3, not smaller
    big = draw_poses(np.zeros((1280, 960, 3), np.uint8), one_person([[400.0, 400.0]] * K, [0.9] * K))
    assert tuple(big[400, 405]) == GREEN and not big[400, 408].any()  # radius 3 x 1280 / 640 = 6
    # limbs: thickness 2, or 4 at twice the size; a horizontal limb from (100, 200) to (300, 200)
    person = one_person([[100.0, 200.0], [300.0, 200.0]] + [[0.0, 0.0]] * 3, [0.9, 0.9, 0, 0, 0])
    normal = draw_poses(np.zeros((480, 640, 3), np.uint8), person, skeleton=[(0, 1)])
    assert normal[200, 200].any() and not normal[203, 200].any()
    wide = draw_poses(np.zeros((1280, 960, 3), np.uint8), person, skeleton=[(0, 1)])
    assert wide[202, 200].any() and not wide[205, 200].any()
    custom = draw_poses(np.zeros((480, 640, 3), np.uint8), person, skeleton=[(0, 1)], radius=8, thickness=6)
    assert tuple(custom[200, 107]) == GREEN and custom[203, 200].any()


def test_limbs_join_confident_joints_only_in_their_own_colors():
    image = np.zeros((480, 640, 3), np.uint8)
    result = one_person(POINTS, [0.9, 0.9, 0.9, 0.1, 0.9])
    skeleton = [(0, 1), (0, 2), (1, 3), (2, 3), (0, 4), (0, K), (K, 0)]  # K: no such joint, ignored
    canvas = draw_poses(image, result, skeleton=skeleton)
    top, left = tuple(canvas[150, 200]), tuple(canvas[225, 150])
    assert top != (0, 0, 0) and left != (0, 0, 0) and top != left and GREEN not in (top, left)
    assert not canvas[225, 250].any() and not canvas[300, 200].any()  # joint 3 is not confident
    # joint 4 has a NaN coordinate: no limb toward it, and nothing drawn along row 200 right of the disks
    assert not drawn(canvas)[195:205, 160:240].any()
    np.testing.assert_array_equal(draw_poses(image, result), draw_poses(image, result, skeleton=None))
    # a slanted limb from (100, 200) to (300, 260) passes through (200, 230)
    slanted = one_person([[100.0, 200.0], [300.0, 260.0]] + [[0.0, 0.0]] * 3, [0.9, 0.9, 0, 0, 0])
    canvas = draw_poses(image, slanted, skeleton=[(0, 1)])
    assert canvas[230, 200].any() and canvas[215, 150].any() and not canvas[200, 250].any()


def test_minimum_radius_and_thicknesses():
    image = np.zeros((480, 640, 3), np.uint8)
    person = one_person([[100.0, 200.0], [300.0, 200.0]] + [[0.0, 0.0]] * 3, [0.9, 0.9, 0, 0, 0], track_id=3)
    dot = draw_poses(image, person, radius=0)  # at least one pixel: a 5-pixel anti-aliased dot
    assert dot[200, 98:103].any(axis=1).all() and not dot[200, 103].any() and not dot[200, 97].any()
    thin = draw_poses(image, person, skeleton=[(0, 1)], thickness=0)  # at least one pixel
    assert thin[199:202, 200].any(axis=1).all() and not thin[198, 200].any() and not thin[202, 200].any()
    # the box edge is as thick as the limbs: 1 pixel, or 3 rows for the default 2
    one_px = draw_poses(image, person, draw_boxes=True, thickness=1)
    two_px = draw_poses(image, person, draw_boxes=True)
    assert one_px[100, 200].any() and not one_px[101, 200].any() and two_px[99:102, 200].any(axis=1).all()
    # so is the track id's stroke
    assert two_px[70:97, 95:160].any(axis=2).sum() > one_px[70:97, 95:160].any(axis=2).sum() > 0


def test_boxes_and_track_ids_only_on_request():
    image = np.zeros((480, 640, 3), np.uint8)
    result = one_person(POINTS, [0.9] * K, box=(100.0, 100.0, 300.0, 400.0), track_id=7)
    plain = draw_poses(image, result)
    assert not plain[100, 200].any() and not plain[80:99].any()
    boxed = draw_poses(image, result, draw_boxes=True)
    edge = tuple(boxed[100, 200])
    assert edge != (0, 0, 0) and edge != GREEN
    assert tuple(boxed[400, 200]) == edge and tuple(boxed[250, 100]) == edge and tuple(boxed[250, 300]) == edge
    assert not boxed[250, 200].any()  # the box is not filled
    # the track id is written just above the box's top-left corner, in the box's color
    label = boxed[75:98, 95:160]
    assert label.any() and (label == edge).all(axis=2).any()
    assert not boxed[:75].any() and not boxed[75:98, 160:].any()
    rows = np.nonzero(label.any(axis=(1, 2)))[0] + 75
    assert rows.max() < 98 and rows.max() - rows.min() < 15  # above the box edge (rows 99-101)
    assert not boxed[102:120, 102:140].any()  # and nothing of it inside the box
    big = draw_poses(np.zeros((1280, 960, 3), np.uint8), result, draw_boxes=True)  # twice the text
    big_rows = np.nonzero(big[40:97, 95:220].any(axis=(1, 2)))[0]
    assert big_rows.max() - big_rows.min() > 1.5 * (rows.max() - rows.min())
    without_id = draw_poses(image, one_person(POINTS, [0.9] * K), draw_boxes=True)
    assert not without_id[75:98].any()


def test_copy_false_draws_in_place_and_grayscale_is_converted():
    image = np.zeros((480, 640, 3), np.uint8)
    canvas = draw_poses(image, one_person(POINTS, [0.9] * K), copy=False)
    assert canvas is image and tuple(image[150, 150]) == GREEN
    gray = np.zeros((480, 640), np.uint8)
    canvas = draw_poses(gray, one_person(POINTS, [0.9] * K), copy=False)
    assert canvas.shape == (480, 640, 3) and tuple(canvas[150, 150]) == GREEN and not gray.any()


# ---------------------------------------------------------------------------- boxes


def test_check_boxes_defaults_scores_and_the_frame_edges():
    boxes, scores, indices = check_boxes(None, (480, 640))  # no boxes: the whole image
    assert boxes.tolist() == [[0, 0, 640, 480]] and scores.tolist() == [1.0] and indices.tolist() == [0]
    assert boxes.dtype == scores.dtype == np.float32 and indices.dtype == np.int64
    for empty in ([], np.zeros((0, 5))):
        boxes, scores, indices = check_boxes(empty, (480, 640))
        assert boxes.shape == (0, 4) and scores.shape == (0,) and indices.shape == (0,)
        assert boxes.dtype == scores.dtype == np.float32 and indices.dtype == np.int64
    boxes, scores, _ = check_boxes([10, 20, 30, 40, 0.5], (480, 640))  # one box as a 5-vector
    assert boxes.tolist() == [[10, 20, 30, 40]] and scores.tolist() == [0.5]
    assert check_boxes([10, 20, 30, 40], (480, 640))[1].tolist() == [1.0]
    # a box touching the frame from outside is outside; half a pixel in is inside
    edges = [[-10, 10, 0, 20], [-10, 10, 0.5, 20], [10, -10, 20, 0], [10, -10, 20, 0.5],
             [640, 10, 650, 20], [639.5, 10, 650, 20], [10, 480, 20, 490], [10, 479.5, 20, 490]]
    boxes, scores, indices = check_boxes(np.c_[edges, np.arange(8) / 10], (480, 640))
    assert indices.tolist() == [1, 3, 5, 7]
    np.testing.assert_allclose(scores, [0.1, 0.3, 0.5, 0.7], rtol=1e-6)
    assert boxes.dtype == scores.dtype == np.float32
    np.testing.assert_array_equal(boxes, np.array(edges, np.float32)[[1, 3, 5, 7]])


def test_check_boxes_errors_name_the_argument_and_the_box():
    cases = [
        ([10, 20, 10, 40], r"dets\[0\] = \[10.0, 20.0, 10.0, 40.0\] has zero or negative area"),
        ([[1, 2, 3, 4, 0.5], [1, 2, 3, 2, 0.9]], r"dets\[1\] = \[1.0, 2.0, 3.0, 2.0\] has zero or negative area"),
        ([[1, 2, 3, 4], [1, 2]], r"dets must be N x 4 \(x1, y1, x2, y2\) or N x 5 numbers, got list that is not a "
                                 r"regular array of numbers"),
        ([[1, 2, 3, np.nan]], r"dets\[0\] has NaN or infinite values"),
        (np.zeros((2, 3)), r"dets must be N x 4 .* got shape \(2, 3\)"),
    ]
    for boxes, message in cases:
        with pytest.raises(ValueError, match=message):
            check_boxes(boxes, (480, 640), name="dets")


# ---------------------------------------------------------------------------- COCO results


def test_coco_results_round_to_four_decimals_score_by_mmpose_and_carry_track_ids():
    points = [[1.234567, 2.0], [10.0, 20.00004], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
    result = one_person(points, [0.9, 0.5, 0.25, 0.1, 0.8], track_id=7)
    result.box_scores[:] = 0.5
    (entry,) = to_coco_results(result, image_id=42)
    assert entry["image_id"] == 42 and entry["category_id"] == 1
    assert entry["track_id"] == 7 and type(entry["track_id"]) is int
    assert entry["keypoints"][:6] == [1.2346, 2.0, 0.9, 10.0, 20.0, 0.5] and len(entry["keypoints"]) == 15
    # box score x mean of the keypoint scores above 0.2 (mmpose's rescoring)
    assert entry["score"] == pytest.approx(0.5 * (0.9 + 0.5 + 0.25 + 0.8) / 4, rel=1e-6)
    (entry,) = to_coco_results(result, image_id="a", category_id=3, kpt_score_thr=0.6)
    assert entry["score"] == pytest.approx(0.5 * (0.9 + 0.8) / 2, rel=1e-6) and entry["category_id"] == 3
    result.track_ids = None
    assert "track_id" not in to_coco_results(result, 1)[0]


# ---------------------------------------------------------------------------- load_image


def test_load_image_reads_color_gray_alpha_and_16_bit_files(tmp_path):
    rng = np.random.default_rng(0)
    color = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "color.png"), color)
    np.testing.assert_array_equal(load_image(tmp_path / "color.png"), color)
    gray = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    np.testing.assert_array_equal(load_image(str(tmp_path / "gray.png")), np.repeat(gray[..., None], 3, axis=2))
    bgra = np.dstack([color, np.full((20, 30), 128, np.uint8)])
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    np.testing.assert_array_equal(load_image(tmp_path / "alpha.png"), color)
    deep = (color.astype(np.uint16) * 257)  # 16-bit: 65535 is white
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    loaded = load_image(tmp_path / "deep.png")
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, color)
    floats = (color / 255.0).astype(np.float32)  # float TIFF: 1.0 is white, x 255 truncated
    floats[0, :3] = np.array([-0.5, 1.5, 0.999])[:, None]  # out of range: clipped
    cv2.imwrite(str(tmp_path / "float.tiff"), floats)
    loaded = load_image(tmp_path / "float.tiff")
    assert loaded.dtype == np.uint8
    assert loaded[0, :3].tolist() == [[0] * 3, [255] * 3, [254] * 3]
    np.testing.assert_array_equal(loaded[1:], (floats[1:] * 255).astype(np.uint8))


def test_load_image_refuses_a_truncated_jpeg(tmp_path):
    color = np.random.default_rng(1).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    data = cv2.imencode(".jpg", color)[1].tobytes()
    assert data.endswith(b"\xff\xd9")
    (tmp_path / "whole.jpg").write_bytes(data)
    assert load_image(tmp_path / "whole.jpg").shape == (16, 24, 3)
    for name, cut in (("cut.jpg", data[:-2]), ("half.jpg", data[: len(data) // 2]),
                      ("headless.jpg", data[:2] + b"\x00" * 64 + b"\xff\xd9")):  # no image data at all
        (tmp_path / name).write_bytes(cut)
        with pytest.raises(ValueError, match=f"{name}: truncated JPEG"):
            load_image(tmp_path / name)


def test_jpeg_truncated_looks_for_the_end_marker_after_the_last_scan(tmp_path):
    """FF DA starts a scan, FF D9 ends the image; only an end after the LAST scan makes the file whole."""
    from lite_hrnet.pipeline import _jpeg_truncated

    soi, sos, eoi = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"
    assert not _jpeg_truncated(soi + sos + b"scan" + eoi)
    assert not _jpeg_truncated(sos + b"scan" + eoi)  # a scan at offset 0 is still a scan
    assert _jpeg_truncated(soi + b"header" + eoi)  # no scan at all
    assert _jpeg_truncated(soi + sos + b"scan")  # no end
    # Two scans (a progressive JPEG) with an end marker only between them: the last scan is cut.
    assert _jpeg_truncated(soi + sos + b"first" + eoi + sos + b"second")
    assert not _jpeg_truncated(soi + sos + b"first" + sos + b"second" + eoi)
    # The same through load_image: a real progressive JPEG, whole and cut inside its last scan.
    color = np.random.default_rng(2).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    data = cv2.imencode(".jpg", color, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    assert data.count(sos) >= 2
    (tmp_path / "progressive.jpg").write_bytes(data)
    assert load_image(tmp_path / "progressive.jpg").shape == (32, 40, 3)
    last = data.rfind(sos)
    (tmp_path / "cut.jpg").write_bytes(data[:last + (len(data) - last) // 2])
    with pytest.raises(ValueError, match="cut.jpg: truncated JPEG"):
        load_image(tmp_path / "cut.jpg")


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match="image not found"):
        load_image(tmp_path)  # a folder is not an image file
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="text.png: not a readable image"):
        load_image(tmp_path / "text.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.jpg: not a readable image"):
        load_image(tmp_path / "empty.jpg")

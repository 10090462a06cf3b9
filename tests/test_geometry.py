"""Crop geometry against mmpose's published top-down conventions, with expected numbers worked out by hand.

The references used here do not come from :mod:`lite_hrnet.geometry`:

- ``_box2cs`` (mmpose 0.x ``TopDownCocoDataset``): widen the box to the input aspect ratio
  around its center, then pad both sides by 1.25 (the scale is kept in pixels here, not / 200);
- ``get_affine_transform`` (mmpose 0.x, ``rot = 0``): three point pairs, the center to the
  crop center, the point half a scale width above the center to the point half a crop width
  above the crop center, and a third point at a right angle, solved by ``cv2.getAffineTransform``;
- ``transform_preds``: ``x_image = x_hm * scale_w / W_hm + center_x - scale_w / 2`` (same in y).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lite_hrnet.geometry import (
    Box, apply_affine, box_from_xywh, box_to_center_scale, crop_matrix, fit_aspect, heatmap_to_image,
    keypoints_to_boxes, normalize_crops, warp_crop,
)


def mmpose_affine(center, scale, output_size) -> np.ndarray:
    """mmpose 0.x ``get_affine_transform(center, scale, rot=0, output_size)`` with the scale in pixels.

    ``output_size`` is (height, width). Three image points and their crop points give the 2 x 3 matrix.
    """
    out_h, out_w = output_size
    cx, cy = float(center[0]), float(center[1])
    src_w = float(scale[0])

    def third(a, b):  # b + (a - b) turned by 90 degrees, as mmpose's _get_3rd_point
        d = np.subtract(a, b)
        return np.add(b, [-d[1], d[0]])

    src0, src1 = np.array([cx, cy]), np.array([cx, cy - 0.5 * src_w])
    dst0, dst1 = np.array([out_w * 0.5, out_h * 0.5]), np.array([out_w * 0.5, out_h * 0.5 - 0.5 * out_w])
    src = np.stack([src0, src1, third(src0, src1)]).astype(np.float32)
    dst = np.stack([dst0, dst1, third(dst0, dst1)]).astype(np.float32)
    return cv2.getAffineTransform(src, dst)


# ---------------------------------------------------------------------------- box -> center, scale


def test_tall_box_is_widened_to_the_aspect_ratio_and_padded():
    # box 120 x 360 at (100, 50); aspect 192/256 = 0.75: 120 < 0.75 * 360 = 270, so the width becomes 270
    centers, scales = box_to_center_scale(np.array([[100.0, 50.0, 220.0, 410.0]]), 192 / 256)
    assert centers.dtype == np.float32 and scales.dtype == np.float32
    np.testing.assert_allclose(centers, [[160.0, 230.0]], rtol=1e-7)
    np.testing.assert_allclose(scales, [[270 * 1.25, 360 * 1.25]], rtol=1e-7)  # 337.5 x 450


def test_wide_box_is_heightened_to_the_aspect_ratio_and_padded():
    # box 400 x 100 at (10, 20): 400 > 0.75 * 100, so the height becomes 400 / 0.75 = 533.33
    centers, scales = box_to_center_scale(np.array([10.0, 20.0, 410.0, 120.0]), 0.75)
    np.testing.assert_allclose(centers, [[210.0, 70.0]], rtol=1e-7)
    np.testing.assert_allclose(scales, [[500.0, 2000.0 / 3.0]], rtol=1e-6)


def test_box_of_the_exact_aspect_ratio_is_only_padded_and_padding_is_a_factor():
    boxes = np.array([[0.0, 0.0, 75.0, 100.0], [-20.0, 10.0, 40.0, 30.0]])
    centers, scales = box_to_center_scale(boxes, 0.75, padding=2.0)
    np.testing.assert_allclose(centers, [[37.5, 50.0], [10.0, 20.0]], rtol=1e-7)
    # second box 60 x 20 is wider than 0.75: height 60 / 0.75 = 80
    np.testing.assert_allclose(scales, [[150.0, 200.0], [120.0, 160.0]], rtol=1e-7)
    _, unpadded = box_to_center_scale(boxes[:1], 0.75, padding=1.0)
    np.testing.assert_allclose(unpadded, [[75.0, 100.0]], rtol=1e-7)


def test_square_aspect_ratio_of_the_mpii_models():
    centers, scales = box_to_center_scale(np.array([[0.0, 0.0, 50.0, 80.0], [0.0, 0.0, 80.0, 50.0]]), 1.0)
    np.testing.assert_allclose(centers, [[25.0, 40.0], [40.0, 25.0]])
    np.testing.assert_allclose(scales, [[100.0, 100.0], [100.0, 100.0]])


# ---------------------------------------------------------------------------- the crop


@pytest.mark.parametrize("center,scale,size", [
    ((160.0, 230.0), (337.5, 450.0), (256, 192)),
    ((210.0, 70.0), (500.0, 2000.0 / 3.0), (256, 192)),
    ((-5.5, 12.25), (64.0, 64.0), (256, 256)),
    ((320.0, 240.0), (96.0, 128.0), (128, 96)),
])
def test_crop_matrix_is_mmpose_get_affine_transform(center, scale, size):
    matrix = crop_matrix(center, scale, size)
    assert matrix.shape == (2, 3)
    np.testing.assert_allclose(matrix, mmpose_affine(center, scale, size), rtol=1e-5, atol=1e-4)


def test_crop_matrix_by_hand():
    # center (160, 230), scale (337.5, 450) into 256 x 192: both axes scale by 192 / 337.5 = 256 / 450 = 0.568..
    matrix = crop_matrix((160.0, 230.0), (337.5, 450.0), (256, 192))
    s = 192 / 337.5
    np.testing.assert_allclose(matrix, [[s, 0.0, 96.0 - 160.0 * s], [0.0, s, 128.0 - 230.0 * s]], rtol=1e-12)
    # the box corner (center - scale / 2) goes to the crop origin, the far corner to (W, H)
    corners = np.array([[160 - 168.75, 230 - 225.0, 1.0], [160 + 168.75, 230 + 225.0, 1.0]])
    np.testing.assert_allclose(corners @ matrix.T, [[0.0, 0.0], [192.0, 256.0]], atol=1e-9)


# ---------------------------------------------------------------------------- heatmap -> image


def test_heatmap_to_image_is_transform_preds_by_hand():
    # one person: center (160, 230), scale (337.5, 450), heatmap 64 x 48: one heatmap pixel is 7.03125 image pixels
    centers = np.array([[160.0, 230.0], [0.0, 0.0]])
    scales = np.array([[337.5, 450.0], [48.0, 128.0]])
    coords = np.array([
        [[0.0, 0.0], [24.0, 32.0], [47.0, 63.0]],
        [[0.0, 0.0], [12.5, 8.25], [-1.0, 64.0]],
    ])
    out = heatmap_to_image(coords, centers, scales, (64, 48))
    assert out.shape == (2, 3, 2) and out.dtype == np.float32
    expected = [
        [[-8.75, 5.0], [160.0, 230.0], [47 * 7.03125 - 8.75, 63 * 7.03125 + 5.0]],
        # second: 1 image pixel per heatmap pixel in x, 2 in y; the origin at (-24, -64)
        [[-24.0, -64.0], [-11.5, -47.5], [-25.0, 64.0]],
    ]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_heatmap_to_image_inverts_the_crop_at_a_quarter_of_the_input_resolution():
    # a point mapped into the input crop and divided by the stride 4 comes back (mmpose's joints / feat_stride)
    center, scale = np.array([412.5, 97.0]), np.array([150.0, 200.0])
    matrix = mmpose_affine(center, scale, (256, 192))
    points = np.array([[350.0, 20.0], [412.5, 97.0], [480.25, 190.5]])
    in_crop = np.c_[points, np.ones(3)] @ matrix.T
    back = heatmap_to_image((in_crop / 4.0)[None], center[None], scale[None], (64, 48))
    np.testing.assert_allclose(back[0], points, atol=1e-3)


# ---------------------------------------------------------------------------- keypoints -> the next box


def test_keypoints_to_boxes_by_hand():
    keypoints = np.array([
        [[10.0, 20.0], [30.0, 60.0], [20.0, 40.0], [1000.0, -500.0]],  # the last is not confident
        [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0], [5.0, 5.0]],  # one point: the box is the minimum size
        [[0.0, 0.0], [50.0, 50.0], [9.0, 9.0], [9.0, 9.0]],  # only two confident keypoints
        [[0.0, 3.0], [40.0, 3.0], [20.0, 3.0], [20.0, 3.0]],  # a horizontal line: the height is the minimum
    ])
    scores = np.array([
        [0.9, 0.8, 0.31, 0.2],
        [0.9, 0.9, 0.9, 0.0],
        [0.9, 0.9, 0.1, 0.25],
        [0.9, 0.9, 0.9, 0.9],
    ])
    boxes, ok = keypoints_to_boxes(keypoints, scores)  # the defaults: thr 0.3, 3 keypoints, x 1.25, 8 pixels
    assert boxes.shape == (4, 4) and boxes.dtype == np.float32
    assert ok.tolist() == [True, True, False, True]
    # person 0: extent (10..30, 20..60), center (20, 40), half sizes (10, 20) * 1.25
    np.testing.assert_allclose(boxes[0], [7.5, 15.0, 32.5, 65.0])
    np.testing.assert_allclose(boxes[1], [1.0, 1.0, 9.0, 9.0])
    np.testing.assert_array_equal(boxes[2], [0, 0, 0, 0])
    np.testing.assert_allclose(boxes[3], [-5.0, -1.0, 45.0, 7.0])  # half sizes (25, max(0, 4))
    boxes, ok = keypoints_to_boxes(keypoints, scores, thr=0.5, min_keypoints=2)
    assert ok.tolist() == [True, True, True, True]
    np.testing.assert_allclose(boxes[2], [-6.25, -6.25, 56.25, 56.25])  # (0, 0)-(50, 50) x 1.25
    boxes, ok = keypoints_to_boxes(keypoints[:1], scores[:1], enlarge=2.0, min_size=50.0)
    np.testing.assert_allclose(boxes[0], [-5.0, 0.0, 45.0, 80.0])  # half sizes max((20, 40), 25) = (25, 40)
    # a score equal to the threshold is not confident
    assert keypoints_to_boxes(keypoints[1:2], np.full((1, 4), 0.5), thr=0.5)[1].tolist() == [False]
    assert keypoints_to_boxes(keypoints[1:2], np.full((1, 4), 0.5), thr=0.49)[1].tolist() == [True]


# ---------------------------------------------------------------------------- training boxes, rotation, the network input


def test_box_to_center_scale_widens_to_the_aspect_ratio():
    centers, scales = box_to_center_scale(np.array([[0, 0, 30, 40], [0, 0, 300, 40], [10, 20, 40, 60]]), 0.75)
    np.testing.assert_allclose(centers, [[15, 20], [150, 20], [25, 40]])
    np.testing.assert_allclose(scales, [[37.5, 50], [375, 500], [37.5, 50]])


def test_box_from_xywh_widens_to_aspect_and_pads():
    b = box_from_xywh([10, 20, 30, 100], (256, 192))  # too narrow: widen
    assert (b.cx, b.cy) == (25.0, 70.0)
    assert b.w == pytest.approx(75 * 1.25) and b.h == pytest.approx(100 * 1.25)
    b = box_from_xywh([0, 0, 120, 40], (256, 192))  # too wide: heighten
    assert b.w == pytest.approx(150) and b.h == pytest.approx(200)


def test_coco_and_corner_boxes_give_the_same_region():
    rng = np.random.default_rng(0)
    for x, y, w, h in rng.uniform([0, 0, 5, 5], [300, 200, 200, 300], (20, 4)):
        box = box_from_xywh([x, y, w, h], (256, 192))
        centers, scales = box_to_center_scale(np.array([[x, y, x + w, y + h]]), 192 / 256)
        np.testing.assert_allclose(centers[0], box.center, rtol=1e-6)
        np.testing.assert_allclose(scales[0], box.scale, rtol=1e-6)


def test_fit_aspect_scalars_and_arrays():
    assert [float(v) for v in fit_aspect(30.0, 40.0, 0.5)] == [30.0, 60.0]  # too wide: heighten
    assert [float(v) for v in fit_aspect(10.0, 40.0, 0.5)] == [20.0, 40.0]  # too narrow: widen
    w, h = fit_aspect(np.array([30.0, 10.0, 20.0]), np.array([40.0, 40.0, 40.0]), 0.5)
    np.testing.assert_array_equal(w, [30, 20, 20])
    np.testing.assert_array_equal(h, [60, 40, 40])


def test_crop_matrix_maps_box_to_input():
    box = Box(100.0, 50.0, 60.0, 80.0)
    m = crop_matrix(box.center, box.scale, (256, 192))
    corners = apply_affine(np.array([[70.0, 10.0], [130.0, 90.0], [100.0, 50.0]]), m)
    np.testing.assert_allclose(corners, [[0, 0], [192, 256], [96, 128]], atol=1e-9)
    back = crop_matrix(box.center, box.scale, (256, 192), inverse=True)
    np.testing.assert_allclose(apply_affine(corners, back), [[70, 10], [130, 90], [100, 50]], atol=1e-9)


def test_rotation_turns_the_content_counter_clockwise_about_the_center():
    # 60 x 80 box on a 192 x 256 crop: 3.2 crop pixels per image pixel.
    m = crop_matrix((100.0, 50.0), (60.0, 80.0), (256, 192), rotation=90.0)
    right_of_center, below_center = apply_affine(np.array([[130.0, 50.0], [100.0, 60.0]]), m)
    np.testing.assert_allclose(right_of_center, [96, 128 - 30 * 3.2], atol=1e-9)  # turned up, as displayed
    np.testing.assert_allclose(below_center, [96 + 10 * 3.2, 128], atol=1e-9)  # turned right
    back = crop_matrix((100.0, 50.0), (60.0, 80.0), (256, 192), rotation=90.0, inverse=True)
    np.testing.assert_allclose(apply_affine(right_of_center, back), [130, 50], atol=1e-9)
    # The rotation formula meets the axis-aligned one as the angle goes to 0.
    np.testing.assert_allclose(crop_matrix((100.0, 50.0), (60.0, 80.0), (256, 192), rotation=1e-9),
                               crop_matrix((100.0, 50.0), (60.0, 80.0), (256, 192)), atol=1e-6)


def test_warp_crop_samples_the_image_at_the_mapped_points():
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 90:110] = 200  # a 20 x 20 square centred on (99.5, 49.5)
    m = crop_matrix((99.5, 49.5), (40.0, 40.0), (64, 64))
    crop = warp_crop(image, m, (64, 64))
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    assert crop[32, 32, 0] == 200 and crop[2, 2, 0] == 0  # the square fills the middle half of the crop
    outside = warp_crop(image, crop_matrix((-500.0, -500.0), (40.0, 40.0), (64, 64)), (64, 64))
    assert not outside.any()  # zeros outside the image


def test_normalize_crops_rgb_order_and_channels_first():
    crop = np.zeros((4, 6, 3), np.uint8)
    crop[..., 0] = 255  # blue (BGR)
    mean, std = (10.0, 20.0, 30.0), (2.0, 4.0, 5.0)
    x = normalize_crops(crop, mean, std)
    assert x.shape == (3, 4, 6) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(x[:, 0, 0], [(0 - 10) / 2, (0 - 20) / 4, (255 - 30) / 5])
    batch = normalize_crops(np.stack([crop, crop]), mean, std, rgb=False)
    assert batch.shape == (2, 3, 4, 6)
    np.testing.assert_allclose(batch[1, :, 0, 0], [(255 - 10) / 2, (0 - 20) / 4, (0 - 30) / 5])


def test_keypoints_to_boxes():
    kpts = np.array([[[10, 20], [30, 60], [20, 40], [500, 500]], [[0, 0], [1, 1], [2, 2], [3, 3]]], np.float32)
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.9, 0.1, 0.1, 0.1]], np.float32)
    boxes, ok = keypoints_to_boxes(kpts, scores, thr=0.3, min_keypoints=3, enlarge=1.5)
    assert ok.tolist() == [True, False]
    np.testing.assert_allclose(boxes[0], [5, 10, 35, 70])


def test_float32_boxes_give_the_exact_midpoint_rounded_once():
    # Float32 boxes of a large image: subtracting and halving in float32 rounds twice and moves some
    # centers by one float32 step; widened to float64 first, the center is the exact midpoint
    # (x1 + x2) / 2 rounded once to float32 (the reference below uses exact fractions).
    from fractions import Fraction

    rng = np.random.default_rng(0)
    boxes = rng.uniform(0, 4000, (200, 4)).astype(np.float32)
    boxes[:, 2:] = boxes[:, :2] + rng.uniform(1, 900, (200, 2)).astype(np.float32)
    centers, _ = box_to_center_scale(boxes, 0.75)
    expected = np.array([[float((Fraction(float(b[0])) + Fraction(float(b[2]))) / 2),
                          float((Fraction(float(b[1])) + Fraction(float(b[3]))) / 2)] for b in boxes]).astype(np.float32)
    np.testing.assert_array_equal(centers, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_fit_aspect_answers_in_float64_whatever_it_is_given(dtype):
    # Documented as float64: float32 or integer sizes are widened before the arithmetic.
    w, h = fit_aspect(np.array([3, 40], dtype=dtype), np.array([5, 10], dtype=dtype), 0.75)
    assert w.dtype == np.float64 and h.dtype == np.float64
    np.testing.assert_array_equal(w, [3.75, 40.0])  # 3 x 5 is too narrow: widened to 0.75 x 5
    np.testing.assert_array_equal(h, [5.0, 40 / 0.75])  # 40 x 10 is too wide: heightened to 40 / 0.75

/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import static io.github.litehrnet.Golden.doubles;
import static io.github.litehrnet.Golden.floats;
import static io.github.litehrnet.Golden.list;
import static io.github.litehrnet.Golden.map;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Geometry against Python's lite_hrnet.geometry (golden/geometry.json), and by hand. */
class GeometryTest {
    private static final Map<String, Object> GOLDEN = Golden.load("geometry.json");

    private static List<Box> boxes() {
        List<Box> out = new ArrayList<>();
        for (Object b : list(GOLDEN.get("boxes"))) {
            out.add(Golden.box(b));
        }
        return out;
    }

    @Test
    void boxToCenterScaleMatchesPythonExactly() {
        List<Box> boxes = boxes();
        for (Object item : list(GOLDEN.get("center_scale"))) {
            Map<String, Object> c = map(item);
            double aspect = ((Number) c.get("aspect_ratio")).doubleValue();
            double padding = ((Number) c.get("padding")).doubleValue();
            float[] centers = floats(c.get("centers"));
            float[] scales = floats(c.get("scales"));
            for (int i = 0; i < boxes.size(); i++) {
                float[] cs = Geometry.boxToCenterScale(boxes.get(i), aspect, padding);
                assertArrayEquals(new float[] {centers[2 * i], centers[2 * i + 1], scales[2 * i], scales[2 * i + 1]},
                        cs, "box " + i + " aspect " + aspect);
            }
        }
    }

    @Test
    void boxToCenterScaleByHand() {
        // 100 x 100 box at an aspect ratio of 0.75: too wide, so the height grows to 100 / 0.75; padded by 1.25
        float[] cs = Geometry.boxToCenterScale(new Box(0, 0, 100, 100), 0.75, 1.25);
        assertArrayEquals(new float[] {50f, 50f, 125f, (float) (100 / 0.75 * 1.25)}, cs, 1e-4f);
        // 30 x 100 at 0.75: too narrow, the width grows to 75
        cs = Geometry.boxToCenterScale(new Box(10, 0, 40, 100), 0.75, 1.0);
        assertArrayEquals(new float[] {25f, 50f, 75f, 100f}, cs, 1e-4f);
    }

    @Test
    void cropMatrixMatchesPython() {
        Map<String, Object> c = map(GOLDEN.get("crop_matrix"));
        double[] size = doubles(c.get("output_size"));
        List<Object> matrices = list(c.get("matrices"));
        Map<String, Object> h = map(GOLDEN.get("heatmap_to_image"));
        float[] centers = floats(h.get("centers"));
        float[] scales = floats(h.get("scales"));
        for (int i = 0; i < matrices.size(); i++) {
            double[] m = Geometry.cropMatrix(centers[2 * i], centers[2 * i + 1], scales[2 * i], scales[2 * i + 1],
                    (int) size[0], (int) size[1]);
            assertArrayEquals(doubles(matrices.get(i)), m, 1e-9, "box " + i);
        }
    }

    @Test
    void cropMatrixMapsTheBoxCornersByHand() {
        // center (50, 60), scale (40, 80) to a 128 x 96 crop: (30, 20) -> (0, 0), (50, 60) -> (48, 64)
        double[] m = Geometry.cropMatrix(50, 60, 40, 80, 128, 96);
        assertEquals(0.0, m[0] * 30 + m[1] * 20 + m[2], 1e-9);
        assertEquals(0.0, m[3] * 30 + m[4] * 20 + m[5], 1e-9);
        assertEquals(48.0, m[0] * 50 + m[1] * 60 + m[2], 1e-9);
        assertEquals(64.0, m[3] * 50 + m[4] * 60 + m[5], 1e-9);
    }

    @Test
    void heatmapToImageMatchesPythonExactly() {
        Map<String, Object> h = map(GOLDEN.get("heatmap_to_image"));
        double[] size = doubles(h.get("heatmap_size"));
        float[] coords = floats(h.get("coords"));
        float[] centers = floats(h.get("centers"));
        float[] scales = floats(h.get("scales"));
        float[] expected = floats(h.get("expected"));
        int persons = centers.length / 2;
        int perPerson = coords.length / persons;
        for (int i = 0; i < persons; i++) {
            float[] xy = Arrays.copyOfRange(coords, i * perPerson, (i + 1) * perPerson);
            Geometry.heatmapToImage(xy, new float[] {centers[2 * i], centers[2 * i + 1], scales[2 * i],
                scales[2 * i + 1]}, (int) size[0], (int) size[1]);
            assertArrayEquals(Arrays.copyOfRange(expected, i * perPerson, (i + 1) * perPerson), xy, "person " + i);
        }
    }

    @Test
    void keypointsToBoxMatchesPythonExactly() {
        Map<String, Object> k = map(GOLDEN.get("keypoints_to_boxes"));
        float thr = (float) ((Number) k.get("thr")).doubleValue();
        int minKeypoints = ((Number) k.get("min_keypoints")).intValue();
        float enlarge = (float) ((Number) k.get("enlarge")).doubleValue();
        float minSize = (float) ((Number) k.get("min_size")).doubleValue();
        List<Object> keypoints = list(k.get("keypoints"));
        List<Object> scores = list(k.get("scores"));
        List<Object> boxes = list(k.get("boxes"));
        List<Object> ok = list(k.get("ok"));
        for (int i = 0; i < keypoints.size(); i++) {
            Box b = Geometry.keypointsToBox(floats(keypoints.get(i)), floats(scores.get(i)), thr, minKeypoints,
                    enlarge, minSize);
            if (Boolean.TRUE.equals(ok.get(i))) {
                assertArrayEquals(floats(boxes.get(i)), new float[] {b.x1, b.y1, b.x2, b.y2}, "person " + i);
            } else {
                assertNull(b, "person " + i);
            }
        }
    }

    @Test
    void keypointsToBoxByHand() {
        float[] xy = {10, 20, 30, 60, 20, 40, 500, 500};
        float[] scores = {0.9f, 0.8f, 0.7f, 0.1f};
        // bounding box (10, 20)-(30, 60), center (20, 40), half size (10, 20) * 1.25
        Box b = Geometry.keypointsToBox(xy, scores, 0.3f, 3, 1.25f, 8f);
        assertArrayEquals(new float[] {7.5f, 15f, 32.5f, 65f}, new float[] {b.x1, b.y1, b.x2, b.y2});
        assertNull(Geometry.keypointsToBox(xy, scores, 0.75f, 3, 1.25f, 8f)); // two confident: too few
    }

    @Test
    void iouMatchesPython() {
        Map<String, Object> c = map(GOLDEN.get("box_iou"));
        List<Object> a = list(c.get("a"));
        List<Object> b = list(c.get("b"));
        double[] expected = doubles(c.get("expected"));
        for (int i = 0; i < a.size(); i++) {
            for (int j = 0; j < b.size(); j++) {
                assertEquals(expected[i * b.size() + j], Geometry.iou(Golden.box(a.get(i)), Golden.box(b.get(j))),
                        1e-12, "a " + i + " b " + j);
            }
        }
        // by hand: two 10 x 10 boxes sharing half: 50 / 150
        assertEquals(1.0 / 3.0, Geometry.iou(new Box(0, 0, 10, 10), new Box(5, 0, 15, 10)), 1e-12);
    }

    @Test
    void checkBoxesKeepsWhatPythonKeeps() {
        Map<String, Object> c = map(GOLDEN.get("check_boxes"));
        double[] size = doubles(c.get("image_size"));
        List<Box> boxes = new ArrayList<>();
        for (Object b : list(c.get("boxes"))) {
            boxes.add(Golden.box(b));
        }
        Geometry.KeptBoxes kept = Geometry.checkBoxes(boxes, (int) size[1], (int) size[0]);
        double[] indices = doubles(c.get("indices"));
        assertEquals(indices.length, kept.indices.length);
        float[] keptValues = floats(c.get("kept"));
        float[] keptScores = floats(c.get("kept_scores"));
        for (int i = 0; i < indices.length; i++) {
            assertEquals((int) indices[i], kept.indices[i]);
            Box b = kept.boxes.get(i);
            assertArrayEquals(Arrays.copyOfRange(keptValues, 4 * i, 4 * i + 4), new float[] {b.x1, b.y1, b.x2, b.y2});
            assertEquals(keptScores[i], b.score);
        }
    }

    @Test
    void checkBoxesWholeImageAndErrors() {
        Geometry.KeptBoxes whole = Geometry.checkBoxes(null, 640, 480);
        assertEquals(new Box(0, 0, 640, 480), whole.boxes.get(0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Geometry.checkBoxes(
                List.of(new Box(0, 0, 10, 10), new Box(5, 5, 5, 20)), 100, 100));
        assertTrue(e.getMessage().contains("boxes[1]") && e.getMessage().contains("zero or negative area"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Geometry.checkBoxes(
                List.of(new Box(Float.NaN, 0, 10, 10)), 100, 100));
        assertTrue(e.getMessage().contains("boxes[0] has NaN"), e.getMessage());
        List<Box> withNull = new ArrayList<>();
        withNull.add(null);
        e = assertThrows(IllegalArgumentException.class, () -> Geometry.checkBoxes(withNull, 100, 100));
        assertTrue(e.getMessage().contains("boxes[0] is null"), e.getMessage());
    }
}

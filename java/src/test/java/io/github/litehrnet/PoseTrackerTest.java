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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The tracker (and its smoothing) against Python's PoseTracker on a recorded sequence (golden/tracker.json). */
class PoseTrackerTest {
    /**
     * The stand-in estimator of make_golden.py: for each box, the recorded person with the most keypoints inside it
     * (ties: the lowest index); none inside: keypoints at the box center with scores 0.
     */
    static final class RecordedModel implements PoseModel {
        List<float[]> keypoints = new ArrayList<>();
        List<float[]> scores = new ArrayList<>();
        final List<List<Box>> calls = new ArrayList<>();

        @Override
        public List<Pose> predict(Image image, List<Box> boxes) {
            calls.add(boxes);
            Geometry.KeptBoxes kept = Geometry.checkBoxes(boxes, image.width(), image.height());
            List<Pose> out = new ArrayList<>();
            for (int i = 0; i < kept.boxes.size(); i++) {
                Box b = kept.boxes.get(i);
                int best = -1;
                int bestCount = 0;
                for (int p = 0; p < keypoints.size(); p++) {
                    float[] kp = keypoints.get(p);
                    int inside = 0;
                    for (int k = 0; k < kp.length / 2; k++) {
                        float x = kp[2 * k];
                        float y = kp[2 * k + 1];
                        if (x >= b.x1 && x <= b.x2 && y >= b.y1 && y <= b.y2) {
                            inside++;
                        }
                    }
                    if (inside > bestCount) {
                        best = p;
                        bestCount = inside;
                    }
                }
                float[] kp = new float[34];
                float[] sc = new float[17];
                if (best < 0) {
                    for (int k = 0; k < 17; k++) {
                        kp[2 * k] = (b.x1 + b.x2) * 0.5f;
                        kp[2 * k + 1] = (b.y1 + b.y2) * 0.5f;
                    }
                } else {
                    kp = keypoints.get(best);
                    sc = scores.get(best);
                }
                out.add(new Pose(kp, sc, b, kept.indices[i], -1));
            }
            return out;
        }

        @Override
        public int numJoints() {
            return 17;
        }
    }

    private static final Map<String, Object> GOLDEN = Golden.load("tracker.json");

    private static void replay(boolean smoothing) {
        double[] size = doubles(GOLDEN.get("image_size"));
        Image frame = Image.ofBytes(new byte[(int) (size[0] * size[1] * 3)], (int) size[1], (int) size[0],
                PixelFormat.BGR);
        Map<String, Object> o = map(GOLDEN.get("options"));
        PoseTracker.Options options = new PoseTracker.Options()
                .setKptThr((float) ((Number) o.get("kpt_thr")).doubleValue())
                .setMinKeypoints(((Number) o.get("min_keypoints")).intValue())
                .setEnlarge((float) ((Number) o.get("enlarge")).doubleValue())
                .setIouThr(((Number) o.get("iou_thr")).doubleValue());
        if (smoothing) {
            Map<String, Object> s = map(GOLDEN.get("smoothing"));
            options.setSmoothing(new OneEuroFilter(((Number) s.get("min_cutoff")).doubleValue(),
                    ((Number) s.get("beta")).doubleValue(), ((Number) s.get("d_cutoff")).doubleValue()));
        }
        RecordedModel model = new RecordedModel();
        PoseTracker tracker = new PoseTracker(model, options);
        assertTrue(tracker.needsBoxes());
        List<Object> frames = list(GOLDEN.get("frames"));
        for (int i = 0; i < frames.size(); i++) {
            Map<String, Object> f = map(frames.get(i));
            model.keypoints = new ArrayList<>();
            model.scores = new ArrayList<>();
            for (Object p : list(f.get("persons"))) {
                model.keypoints.add(floats(map(p).get("keypoints")));
                model.scores.add(floats(map(p).get("scores")));
            }
            List<Box> given = null;
            if (f.get("boxes") != null) {
                given = new ArrayList<>();
                for (Object b : list(f.get("boxes"))) {
                    given.add(Golden.box(b));
                }
            }
            List<Pose> poses = tracker.update(frame, given, ((Number) f.get("timestamp")).doubleValue());
            Map<String, Object> e = map(f.get("expected"));
            String where = "frame " + i + (smoothing ? " (smoothed)" : "");
            double[] ids = doubles(e.get("track_ids"));
            double[] boxIndices = doubles(e.get("box_indices"));
            assertEquals(ids.length, poses.size(), where);
            List<Object> boxes = list(e.get("boxes"));
            List<Object> keypoints = list(e.get(smoothing ? "smoothed" : "keypoints"));
            List<Object> scores = list(e.get("scores"));
            for (int n = 0; n < poses.size(); n++) {
                Pose pose = poses.get(n);
                assertEquals((long) ids[n], pose.trackId(), where + " person " + n);
                assertEquals((int) boxIndices[n], pose.boxIndex(), where + " person " + n);
                assertEquals(Golden.box(boxes.get(n)), pose.box(), where + " person " + n);
                assertArrayEquals(floats(keypoints.get(n)), pose.keypoints(), 1e-4f, where + " person " + n);
                assertArrayEquals(floats(scores.get(n)), pose.scores(), where + " person " + n);
            }
            List<Object> tracked = list(e.get("tracked_boxes"));
            List<Box> next = tracker.trackedBoxes();
            assertEquals(tracked.size(), next.size(), where);
            for (int n = 0; n < next.size(); n++) {
                Box b = next.get(n);
                assertArrayEquals(floats(tracked.get(n)), new float[] {b.x1, b.y1, b.x2, b.y2}, where);
            }
            assertEquals(e.get("needs_boxes"), tracker.needsBoxes(), where);
        }
    }

    @Test
    void followsPythonOnTheRecordedSequence() {
        replay(false);
    }

    @Test
    void smoothsAsPythonOnTheRecordedSequence() {
        replay(true);
    }

    @Test
    void wholeFrameFirstThenTheKeypointBox() {
        RecordedModel model = new RecordedModel();
        float[] kp = new float[34];
        float[] sc = new float[17];
        for (int k = 0; k < 17; k++) {
            kp[2 * k] = 100 + k;
            kp[2 * k + 1] = 50 + 2 * k;
            sc[k] = 0.9f;
        }
        model.keypoints.add(kp);
        model.scores.add(sc);
        PoseTracker tracker = new PoseTracker(model);
        Image frame = Image.ofArgb(new int[200 * 100], 200, 100);
        List<Pose> first = tracker.update(frame);
        assertEquals(List.of(new Box(0, 0, 200, 100)), model.calls.get(0));
        assertEquals(0L, first.get(0).trackId());
        assertFalse(tracker.needsBoxes());
        // keypoints span x 100..116, y 50..82: center (108, 66), half sizes 8 * 1.25 and 16 * 1.25
        tracker.update(frame);
        assertEquals(List.of(new Box(98f, 46f, 118f, 86f)), model.calls.get(1));
        assertEquals(0L, tracker.update(frame).get(0).trackId());
    }

    @Test
    void timestampsMustIncreaseWithSmoothing() {
        RecordedModel model = new RecordedModel();
        float[] kp = new float[34];
        float[] sc = new float[17];
        for (int k = 0; k < 17; k++) {
            kp[2 * k] = 5 + k % 4;
            kp[2 * k + 1] = 2 + k % 5;
            sc[k] = 0.9f;
        }
        model.keypoints.add(kp);
        model.scores.add(sc);
        PoseTracker tracker = new PoseTracker(model, new PoseTracker.Options().setSmoothing(new OneEuroFilter()));
        Image frame = Image.ofArgb(new int[20 * 10], 20, 10);
        tracker.update(frame, null, 1.0);
        assertThrows(IllegalArgumentException.class, () -> tracker.update(frame, null, 0.5));
        assertThrows(NullPointerException.class, () -> tracker.update(null));
        assertThrows(IllegalArgumentException.class, () -> new PoseTracker.Options().setMinKeypoints(0));
    }
}

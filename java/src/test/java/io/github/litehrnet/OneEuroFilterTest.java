/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import static io.github.litehrnet.Golden.floats;
import static io.github.litehrnet.Golden.list;
import static io.github.litehrnet.Golden.map;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The One-Euro filter against Python's lite_hrnet.smoothing (golden/one_euro.json), and by hand. */
class OneEuroFilterTest {
    @Test
    void matchesPythonOnAVariableRateSequence() {
        Map<String, Object> golden = Golden.load("one_euro.json");
        List<Object> sequence = list(golden.get("sequence"));
        for (Object c : list(golden.get("cases"))) {
            Map<String, Object> params = map(map(c).get("params"));
            OneEuroFilter filter = new OneEuroFilter(((Number) params.get("min_cutoff")).doubleValue(),
                    ((Number) params.get("beta")).doubleValue(), ((Number) params.get("d_cutoff")).doubleValue());
            List<Object> expected = list(map(c).get("expected"));
            for (int i = 0; i < sequence.size(); i++) {
                Map<String, Object> frame = map(sequence.get(i));
                List<Object> ids = list(frame.get("track_ids"));
                List<Object> points = list(frame.get("keypoints"));
                float[][] keypoints = new float[ids.size()][];
                long[] trackIds = new long[ids.size()];
                for (int n = 0; n < ids.size(); n++) {
                    keypoints[n] = floats(points.get(n));
                    trackIds[n] = ((Number) ids.get(n)).longValue();
                }
                float[][] out = filter.filter(keypoints, trackIds, ((Number) frame.get("timestamp")).doubleValue());
                List<Object> want = list(expected.get(i));
                for (int n = 0; n < ids.size(); n++) {
                    assertArrayEquals(floats(want.get(n)), out[n], 1e-4f, "frame " + i + " track " + trackIds[n]
                            + " " + filter);
                }
            }
        }
    }

    @Test
    void twoStepsByHand() {
        OneEuroFilter f = new OneEuroFilter(1.0, 0.0, 1.0);
        assertArrayEquals(new float[] {0f, 5f}, f.filter(new float[][] {{0f, 5f}}, new long[] {7}, 0.0)[0]);
        // beta 0: a low-pass with alpha = 1 / (1 + 1 / (2 pi 0.1)) = 0.38586954
        assertArrayEquals(new float[] {3.8586954f, 5f}, f.filter(new float[][] {{10f, 5f}}, new long[] {7}, 0.1)[0],
                1e-6f);
        assertEquals(0.38586954, OneEuroFilter.alpha(1.0, 0.1), 1e-8);
    }

    @Test
    void betaByHand() {
        OneEuroFilter f = new OneEuroFilter(1.0, 0.1, 1.0);
        f.filter(new float[][] {{0f, 0f}}, new long[] {0}, 0.0);
        // speed 100 px/s filtered to 38.586954; cut-off 4.8586954 Hz; alpha 0.75325770
        assertArrayEquals(new float[] {7.532577f, 0f}, f.filter(new float[][] {{10f, 0f}}, new long[] {0}, 0.1)[0],
                1e-5f);
    }

    @Test
    void absentTracksAreForgotten() {
        OneEuroFilter f = new OneEuroFilter(1.0, 0.0, 1.0);
        f.filter(new float[][] {{0f, 0f}, {100f, 100f}}, new long[] {1, 2}, 0.0);
        f.filter(new float[][] {{10f, 0f}}, new long[] {1}, 0.1);
        assertEquals(Set.of(1L), f.trackIds());
        float[][] back = f.filter(new float[][] {{10f, 0f}, {0f, 0f}}, new long[] {1, 2}, 0.2);
        assertArrayEquals(new float[] {0f, 0f}, back[1]); // track 2 starts afresh
        f.reset();
        assertTrue(f.trackIds().isEmpty());
    }

    @Test
    void badInputIsRejectedAndLeavesTheStateAlone() {
        assertThrows(IllegalArgumentException.class, () -> new OneEuroFilter(0, 0.1, 1));
        assertThrows(IllegalArgumentException.class, () -> new OneEuroFilter(1, -0.1, 1));
        assertThrows(IllegalArgumentException.class, () -> new OneEuroFilter(1, 0.1, Double.NaN));
        OneEuroFilter f = new OneEuroFilter(1.0, 0.0, 1.0);
        f.filter(new float[][] {{0f, 0f}}, new long[] {3}, 1.0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> f.filter(new float[][] {{1f, 1f}}, new long[] {3}, 1.0));
        assertTrue(e.getMessage().contains("not after the previous one of track 3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> f.filter(new float[][] {{1f, 1f}, {2f, 2f}}, new long[] {4, 4}, 2.0));
        assertTrue(e.getMessage().contains("distinct"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> f.filter(new float[][] {{1f, 1f}}, new long[] {3, 4}, 2));
        assertThrows(IllegalArgumentException.class, () -> f.filter(new float[][] {{Float.NaN, 1f}}, new long[] {3},
                2));
        assertThrows(NullPointerException.class, () -> f.filter((float[][]) null, new long[0], 2));
        assertEquals(Set.of(3L), f.trackIds());
        // dt = 1 s from the first call: alpha(1 Hz, 1 s)
        assertEquals(10 * OneEuroFilter.alpha(1.0, 1.0), f.filter(new float[][] {{10f, 10f}}, new long[] {3}, 2.0)[0][0],
                1e-5);
    }
}

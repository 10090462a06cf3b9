/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import static io.github.litehrnet.Golden.doubles;
import static io.github.litehrnet.Golden.floats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Decoding against Python's lite_hrnet.codec.decode_heatmaps (golden/decode.json), and by hand. */
class HeatmapDecoderTest {
    @Test
    void matchesPythonExactly() {
        Map<String, Object> golden = Golden.load("decode.json");
        double[] shape = doubles(golden.get("shape"));
        int n = (int) shape[0];
        int k = (int) shape[1];
        float[] coords = new float[n * k * 2];
        float[] scores = new float[n * k];
        HeatmapDecoder.decode(floats(golden.get("heatmaps")), n, k, (int) shape[2], (int) shape[3], coords, scores);
        assertArrayEquals(floats(golden.get("coords")), coords);
        assertArrayEquals(floats(golden.get("scores")), scores);
    }

    @Test
    void quarterPixelShiftByHand() {
        // 4 rows x 5 columns, peak at (x 2, y 1): x is refined (1 < 2 < 4), toward the higher right neighbour;
        // y = 1 is not refined (needs 1 < y < 3), although the row below is higher.
        float[] hm = {
            0, 0, 0, 0, 0,
            0, 0.2f, 1, 0.5f, 0,
            0, 0, 0.9f, 0, 0,
            0, 0, 0, 0, 0,
        };
        float[] coords = new float[2];
        float[] scores = new float[1];
        HeatmapDecoder.decode(hm, 1, 1, 4, 5, coords, scores);
        assertArrayEquals(new float[] {2.25f, 1f}, coords);
        assertArrayEquals(new float[] {1f}, scores);
        // peak on the top row at x 2: mmpose 1.x refines x along the border only when y > 0, so nothing moves
        float[] top = {0, 0.3f, 1, 0.1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        HeatmapDecoder.decode(top, 1, 1, 4, 5, coords, scores);
        assertArrayEquals(new float[] {2f, 0f}, coords);
    }

    @Test
    void wrongSizesAreErrors() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HeatmapDecoder.decode(new float[10], 1, 1, 4, 5, new float[2], new float[1]));
        assertTrue(e.getMessage().contains("needs 20"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> HeatmapDecoder.decode(new float[40], 1, 2, 4, 5, new float[2], new float[2]));
        assertThrows(NullPointerException.class, () -> HeatmapDecoder.decode(null, 1, 1, 4, 5, new float[2],
                new float[1]));
    }
}

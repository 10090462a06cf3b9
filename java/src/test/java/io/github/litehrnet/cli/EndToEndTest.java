/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.litehrnet.internal.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * litehrnet-predict against {@code lite-hrnet predict} on the COCO val2017 sample with its detector boxes: the same
 * results.json entries, keypoints within 2 image pixels for at least 95% of them. The Python results come from
 * tests/test_java.py (system properties {@code litehrnet.test.model}, {@code litehrnet.test.coco},
 * {@code litehrnet.test.python_results}); skipped without them.
 */
class EndToEndTest {
    private static List<Object> readList(Path file) throws IOException {
        Object value = Json.parse(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
        assertTrue(value instanceof List, file + " is not a JSON list");
        @SuppressWarnings("unchecked")
        List<Object> list = (List<Object>) value;
        return list;
    }

    @Test
    void matchesPythonOnTheCocoSample(@TempDir Path out) throws IOException {
        String model = System.getProperty("litehrnet.test.model");
        String coco = System.getProperty("litehrnet.test.coco");
        String python = System.getProperty("litehrnet.test.python_results");
        Assumptions.assumeTrue(model != null && coco != null && python != null,
                "needs -Dlitehrnet.test.model, -Dlitehrnet.test.coco and -Dlitehrnet.test.python_results");
        PredictMainTest.Run run = new PredictMainTest.Run("--model", model, coco, "--boxes", Paths.get(coco, "test_coco_det_AP_H_56.json").toString(),
                "--out", out.toString(), "--threads", "2", "--no-progress");
        assertEquals(0, run.status, run.err);
        assertTrue(run.out.matches("(?s)4 frames, \\d+ persons: [\\d.]+ FPS pose estimation.*"), run.out);
        List<Object> got = readList(out.resolve("results.json"));
        List<Object> want = readList(Paths.get(python));
        assertEquals(want.size(), got.size(), "persons");
        int close = 0;
        int total = 0;
        double largest = 0;
        for (int i = 0; i < want.size(); i++) {
            Map<?, ?> w = (Map<?, ?>) want.get(i);
            Map<?, ?> g = (Map<?, ?>) got.get(i);
            assertEquals(w.get("image_id"), g.get("image_id"), "entry " + i);
            assertEquals(w.get("file_name"), g.get("file_name"), "entry " + i);
            assertEquals(w.get("category_id"), g.get("category_id"), "entry " + i);
            List<?> wk = (List<?>) w.get("keypoints");
            List<?> gk = (List<?>) g.get("keypoints");
            assertEquals(wk.size(), gk.size());
            for (int k = 0; k < wk.size(); k += 3) {
                double dx = ((Number) wk.get(k)).doubleValue() - ((Number) gk.get(k)).doubleValue();
                double dy = ((Number) wk.get(k + 1)).doubleValue() - ((Number) gk.get(k + 1)).doubleValue();
                double d = Math.hypot(dx, dy);
                largest = Math.max(largest, d);
                close += d <= 2.0 ? 1 : 0;
                total++;
            }
        }
        double share = close / (double) total;
        // tests/test_java.py picks this line up and reports it
        System.out.println(String.format(Locale.ROOT, "END_TO_END: %d of %d keypoints (%.2f%%) within 2 px of "
                + "lite-hrnet predict, largest difference %.3f px, %d persons", close, total, 100 * share, largest,
                want.size()));
        assertTrue(share >= 0.95, "share within 2 px: " + share);
        byte[] annotated = Files.readAllBytes(out.resolve("000000000785.jpg"));
        assertTrue(annotated.length > 1000);
        assertTrue(new String(Files.readAllBytes(out.resolve("results.json")), StandardCharsets.UTF_8)
                .startsWith("[{\"image_id\": "));
    }
}

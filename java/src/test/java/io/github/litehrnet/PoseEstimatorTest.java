/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * PoseEstimator through JNI on the demo model's TFLite file (system property {@code litehrnet.test.model}; skipped
 * without it): metadata, every pixel format giving the same keypoints, boxes, and bad input as exceptions.
 */
class PoseEstimatorTest {
    static final String MODEL = System.getProperty("litehrnet.test.model");
    private static final int W = 160;
    private static final int H = 120;
    private static PoseEstimator estimator;
    private static int[] argb;

    static void assumeModel() {
        org.junit.jupiter.api.Assumptions.assumeTrue(MODEL != null && !MODEL.isEmpty(),
                "no model: set -Dlitehrnet.test.model=FILE.tflite (tests/test_java.py does)");
    }

    @BeforeAll
    static void open() {
        assumeModel();
        estimator = new PoseEstimator(new PoseEstimator.Options().setModelPath(MODEL).setThreads(1));
        // a gray background with a bright, person-sized blob and a gradient, so that heatmaps differ per channel
        argb = new int[W * H];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                boolean body = Math.abs(x - 80) < 15 + (y > 60 ? 10 : 0) && y > 15 && y < 110;
                int r = body ? 220 : (x * 255) / W;
                int g = body ? 180 : 90;
                int b = body ? 120 : (y * 255) / H;
                argb[y * W + x] = 0xFF000000 | (r << 16) | (g << 8) | b;
            }
        }
    }

    @AfterAll
    static void close() {
        if (estimator != null) {
            estimator.close();
        }
    }

    private static byte[] bytes(String order, int pad) {
        int channels = order.length();
        int stride = W * channels + pad;
        byte[] out = new byte[stride * H];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int p = argb[y * W + x];
                for (int c = 0; c < channels; c++) {
                    int shift = 24 - 8 * "ARGB".indexOf(order.charAt(c)); // A 24, R 16, G 8, B 0
                    out[y * stride + x * channels + c] = (byte) (p >> shift);
                }
            }
        }
        return out;
    }

    private static final List<Box> BOXES = List.of(new Box(40, 5, 120, 115, 0.9f), new Box(500, 500, 600, 600),
            new Box(-20, -10, 60, 70));

    private static float[] flat(List<Pose> poses) {
        float[] out = new float[0];
        for (Pose p : poses) {
            float[] kp = p.keypoints();
            float[] sc = p.scores();
            int n = out.length;
            out = Arrays.copyOf(out, n + kp.length + sc.length);
            System.arraycopy(kp, 0, out, n, kp.length);
            System.arraycopy(sc, 0, out, n + kp.length, sc.length);
        }
        return out;
    }

    @Test
    void metadataComesFromTheFile() {
        ModelMetadata m = estimator.metadata();
        assertEquals("litehrnet_18_coco_128x96", m.name());
        assertEquals(128, m.inputHeight());
        assertEquals(96, m.inputWidth());
        assertEquals(17, estimator.numJoints());
        assertEquals("nose", estimator.keypointNames().get(0));
        assertEquals("right_ankle", estimator.keypointNames().get(16));
        assertTrue(Arrays.deepToString(estimator.flipPairs()).contains("[1, 2]"));
        assertTrue(estimator.skeleton().length >= 16);
        assertFalse(m.isEndToEnd());
        assertTrue(m.json().contains("keypoint_names"));
        assertFalse(PoseEstimator.nativeVersion().isEmpty());
    }

    @Test
    void everyPixelFormatGivesTheSameKeypoints() {
        List<Pose> reference = estimator.predict(argb, W, H, BOXES);
        assertEquals(2, reference.size()); // the box outside the image is skipped
        assertEquals(0, reference.get(0).boxIndex());
        assertEquals(2, reference.get(1).boxIndex());
        assertEquals(BOXES.get(0), reference.get(0).box());
        assertEquals(-1L, reference.get(0).trackId());
        for (Pose p : reference) {
            for (int k = 0; k < p.size(); k++) {
                assertTrue(Float.isFinite(p.x(k)) && Float.isFinite(p.y(k)), "keypoint " + k);
            }
        }
        float[] expected = flat(reference);
        assertArrayEquals(expected, flat(estimator.predict(bytes("RGB", 0), W, H, PixelFormat.RGB, BOXES)));
        assertArrayEquals(expected, flat(estimator.predict(bytes("BGR", 0), W, H, PixelFormat.BGR, BOXES)));
        assertArrayEquals(expected, flat(estimator.predict(bytes("RGBA", 0), W, H, PixelFormat.RGBA, BOXES)));
        assertArrayEquals(expected, flat(estimator.predict(bytes("BGRA", 0), W, H, PixelFormat.BGRA, BOXES)));
        assertArrayEquals(expected, flat(estimator.predict(Image.ofBytes(bytes("RGB", 7), W, H, PixelFormat.RGB,
                W * 3 + 7), BOXES)));
        ByteBuffer direct = ByteBuffer.allocateDirect(W * H * 4 + 3);
        direct.put(new byte[3]).put(bytes("RGBA", 0)).position(3);
        assertArrayEquals(expected, flat(estimator.predict(direct, W, H, PixelFormat.RGBA, BOXES)));
        ByteBuffer heap = ByteBuffer.allocate(W * H * 3 + 5);
        heap.put(new byte[5]).put(bytes("BGR", 0)).position(5);
        assertArrayEquals(expected, flat(estimator.predict(heap, W, H, PixelFormat.BGR, BOXES)));
        assertArrayEquals(expected, flat(estimator.predict(heap.asReadOnlyBuffer(), W, H, PixelFormat.BGR, BOXES)));
        // the channel order is honoured: RGB bytes read as BGR give other scores
        float[] swapped = flat(estimator.predict(bytes("RGB", 0), W, H, PixelFormat.BGR, BOXES));
        assertFalse(Arrays.equals(expected, swapped));
    }

    @Test
    void wholeImageAndNoBoxes() {
        List<Pose> whole = estimator.predict(argb, W, H, null);
        assertEquals(1, whole.size());
        assertEquals(new Box(0, 0, W, H), whole.get(0).box());
        assertTrue(estimator.predict(argb, W, H, List.of()).isEmpty());
        assertTrue(estimator.predict(argb, W, H, List.of(new Box(-50, -50, -1, -1))).isEmpty());
        double[] timings = estimator.lastTimingsMs();
        assertEquals(3, timings.length);
        assertTrue(timings[1] >= 0);
    }

    @Test
    void trackerRunsOnTheEstimator() {
        PoseTracker tracker = new PoseTracker(estimator, new PoseTracker.Options().setKptThr(0f)
                .setSmoothing(new OneEuroFilter()));
        assertTrue(tracker.needsBoxes());
        List<Pose> first = tracker.update(Image.ofArgb(argb, W, H), List.of(BOXES.get(0)), 0.0);
        assertEquals(0L, first.get(0).trackId());
        assertFalse(tracker.needsBoxes()); // kpt_thr 0: every keypoint counts, so the person stays tracked
        List<Pose> second = tracker.update(Image.ofArgb(argb, W, H), null, 1.0 / 30);
        assertEquals(0L, second.get(0).trackId());
    }

    @Test
    void concurrentCallsAreSerialized() throws Exception {
        float[] expected = flat(estimator.predict(argb, W, H, BOXES));
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<float[]>> results = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                results.add(pool.submit(() -> flat(estimator.predict(argb, W, H, BOXES))));
            }
            for (Future<float[]> f : results) {
                assertArrayEquals(expected, f.get());
            }
        } finally {
            pool.shutdown();
        }
    }

    private static void fails(Class<? extends Throwable> type, String needle, Executable call) {
        Throwable e = assertThrows(type, call);
        assertTrue(e.getMessage() != null && e.getMessage().contains(needle), type.getSimpleName() + ": "
                + e.getMessage());
    }

    @Test
    void badInputThrowsClearExceptions() {
        fails(NullPointerException.class, "pixels must not be null", () -> estimator.predict((int[]) null, W, H,
                null));
        fails(IllegalArgumentException.class, "needs 19200", () -> estimator.predict(new int[100], W, H, null));
        fails(IllegalArgumentException.class, "image size must be positive", () -> estimator.predict(argb, 0, H,
                null));
        fails(IllegalArgumentException.class, "needs 57600", () -> estimator.predict(new byte[W * H], W, H,
                PixelFormat.RGB, null));
        fails(IllegalArgumentException.class, "boxes[1] has NaN", () -> estimator.predict(argb, W, H,
                List.of(new Box(0, 0, 5, 5), new Box(Float.NaN, 0, 5, 5))));
        fails(IllegalArgumentException.class, "boxes[0] = [10.0, 10.0, 5.0, 20.0] has zero or negative area",
                () -> estimator.predict(argb, W, H, List.of(new Box(10, 10, 5, 20))));
        fails(NullPointerException.class, "image must not be null", () -> estimator.predict((Image) null, null));
        fails(IllegalArgumentException.class, "threads must be >= 0", () -> new PoseEstimator.Options()
                .setThreads(-1));
        fails(NullPointerException.class, "model path is not set", () -> new PoseEstimator(
                new PoseEstimator.Options()));
    }

    @Test
    void missingAndForeignModelFiles(@TempDir Path dir) throws IOException {
        LiteHrnetException e = assertThrows(LiteHrnetException.class,
                () -> new PoseEstimator(dir.resolve("nope.tflite").toString()));
        assertEquals(LiteHrnetException.Status.IO, e.status());
        assertTrue(e.getMessage().contains("nope.tflite"), e.getMessage());
        Path text = dir.resolve("notes.tflite");
        Files.write(text, "not a model".getBytes(StandardCharsets.UTF_8));
        e = assertThrows(LiteHrnetException.class, () -> new PoseEstimator(text.toString()));
        assertEquals(LiteHrnetException.Status.BAD_MODEL, e.status());
        assertTrue(e.getMessage().contains("notes.tflite"), e.getMessage());
        Path empty = dir.resolve("empty.tflite");
        Files.write(empty, new byte[0]);
        assertThrows(LiteHrnetException.class, () -> new PoseEstimator(empty.toString()));
        Path folder = Files.createDirectory(dir.resolve("folder.tflite"));
        e = assertThrows(LiteHrnetException.class, () -> new PoseEstimator(folder.toString()));
        assertEquals(LiteHrnetException.Status.IO, e.status());
    }

    @Test
    void theJniGlueChecksWhatItIsGiven() {
        // the Java classes check everything before calling; the glue must still refuse bad calls without crashing
        fails(IllegalStateException.class, "the model is closed", () -> NativeApi.predictBytes(0, new byte[12], 0, 2,
                2, 6, 0, new float[4], 1, new float[34], new float[17]));
        fails(IllegalStateException.class, "the model is closed", () -> NativeApi.info(0));
        long handle = NativeApi.open(MODEL, 1);
        try {
            float[] box = {0, 0, 2, 2};
            fails(IllegalArgumentException.class, "too short for the image size", () -> NativeApi.predictBytes(handle,
                    new byte[11], 0, 2, 2, 6, 0, box, 1, new float[34], new float[17]));
            fails(IllegalArgumentException.class, "too short for the image size", () -> NativeApi.predictBytes(handle,
                    new byte[12], 1, 2, 2, 6, 0, box, 1, new float[34], new float[17]));
            fails(IllegalArgumentException.class, "unknown pixel format", () -> NativeApi.predictBytes(handle,
                    new byte[12], 0, 2, 2, 6, 9, box, 1, new float[34], new float[17]));
            fails(IllegalArgumentException.class, "bad image size or row stride", () -> NativeApi.predictBytes(
                    handle, new byte[12], 0, 2, 2, 5, 0, box, 1, new float[34], new float[17]));
            fails(IllegalArgumentException.class, "too short for the boxes", () -> NativeApi.predictBytes(handle,
                    new byte[12], 0, 2, 2, 6, 0, box, 2, new float[68], new float[34]));
            fails(IllegalArgumentException.class, "too short for the boxes", () -> NativeApi.predictBytes(handle,
                    new byte[12], 0, 2, 2, 6, 0, box, 1, new float[33], new float[17]));
            fails(NullPointerException.class, "pixels must not be null", () -> NativeApi.predictBytes(handle, null, 0,
                    2, 2, 6, 0, box, 1, new float[34], new float[17]));
            fails(IllegalArgumentException.class, "not a direct ByteBuffer", () -> NativeApi.predictBuffer(handle,
                    ByteBuffer.allocate(12), 0, 2, 2, 6, 0, box, 1, new float[34], new float[17]));
            fails(IllegalArgumentException.class, "box", () -> NativeApi.predictBytes(handle, new byte[12], 0, 2, 2,
                    6, 0, new float[] {0, 0, Float.NaN, 2}, 1, new float[34], new float[17])); // the C library's check
            float[] keypoints = new float[34];
            NativeApi.predictBytes(handle, new byte[12], 0, 2, 2, 6, 0, box, 1, keypoints, new float[17]);
            assertTrue(Float.isFinite(keypoints[0]));
        } finally {
            NativeApi.close(handle);
        }
    }

    @Test
    void useAfterCloseIsAnIllegalState() {
        PoseEstimator second = new PoseEstimator(MODEL);
        assertEquals(1, second.predict(argb, W, H, null).size());
        second.close();
        assertTrue(second.isClosed());
        second.close(); // twice is fine
        fails(IllegalStateException.class, "PoseEstimator is closed", () -> second.predict(argb, W, H, null));
        fails(IllegalStateException.class, "PoseEstimator is closed", second::lastTimingsMs);
        assertEquals(17, second.numJoints()); // the metadata stays readable
    }
}

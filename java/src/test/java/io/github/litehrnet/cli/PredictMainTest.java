/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.litehrnet.Box;
import io.github.litehrnet.Pose;
import io.github.litehrnet.internal.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** litehrnet-predict without a model: arguments, box files, COCO results, errors as one line with status 2. */
class PredictMainTest {
    static final class Run {
        final int status;
        final String out;
        final String err;

        Run(String... args) {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            ByteArrayOutputStream e = new ByteArrayOutputStream();
            status = PredictMain.run(args, new PrintStream(o, true), new PrintStream(e, true));
            out = o.toString(StandardCharsets.UTF_8);
            err = e.toString(StandardCharsets.UTF_8);
        }
    }

    private static void oneLineError(Run run, String needle) {
        assertEquals(2, run.status, run.err);
        String[] lines = run.err.trim().split("\n");
        assertEquals(1, lines.length, run.err);
        assertTrue(lines[0].startsWith("litehrnet-predict: error: "), run.err);
        assertTrue(lines[0].contains(needle), run.err);
    }

    @Test
    void badArguments(@TempDir Path dir) throws IOException {
        oneLineError(new Run("x.jpg"), "the following arguments are required: --model (see litehrnet-predict --help)");
        oneLineError(new Run("--model", "m.tflite", "--box-thr", "nan", "x.jpg"), "--box-thr must be a finite number");
        Run help = new Run("--help");
        assertEquals(0, help.status);
        assertTrue(help.out.startsWith("usage: litehrnet-predict --model"), help.out);
        oneLineError(new Run("--model", "m.tflite"), "the following arguments are required: INPUT");
        oneLineError(new Run("--model", "m.tflite", "--flip", "x.jpg"), "--flip is not supported by litehrnet-predict");
        oneLineError(new Run("--model", "m.tflite", "--threads", "two", "x.jpg"), "invalid int value: 'two'");
        oneLineError(new Run("--model", "m.tflite", "--smooth", "x.jpg"), "--smooth needs --track");
        oneLineError(new Run("--model", "m.tflite", "--bogus", "x.jpg"), "unrecognized arguments: --bogus");
        oneLineError(new Run("--model", "m.tflite", "--max-frames=0", "x.jpg"), "--max-frames must be at least 1");
        oneLineError(new Run("--model", "m.tflite", dir.resolve("x.jpg").toString()), "input not found");
        Path video = Files.write(dir.resolve("clip.mp4"), new byte[1]);
        oneLineError(new Run("--model", "m.tflite", video.toString()), "videos are not supported");
        Path other = Files.write(dir.resolve("notes.txt"), new byte[1]);
        oneLineError(new Run("--model", "m.tflite", other.toString()), "unknown file type '.txt'");
        Path folder = Files.createDirectory(dir.resolve("empty"));
        oneLineError(new Run("--model", "m.tflite", folder.toString()), "has no images");
        Path image = Files.write(dir.resolve("a.png"), new byte[] {1, 2, 3});
        oneLineError(new Run("--model", dir.resolve("m.tflite").toString(), image.toString()), "model file not found");
        Path badJson = Files.write(dir.resolve("boxes.json"), "[1, 2".getBytes(StandardCharsets.UTF_8));
        oneLineError(new Run("--model", "m.tflite", "--boxes", badJson.toString(), image.toString()),
                "not valid JSON");
    }

    private static Path json(Path dir, String name, String text) throws IOException {
        return Files.write(dir.resolve(name), text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void boxFilesInTheirThreeFormats(@TempDir Path dir) throws IOException {
        Path image = dir.resolve("000000000785.jpg");
        BoxFile results = new BoxFile(json(dir, "det.json", "[{\"image_id\": 785, \"bbox\": [10, 20, 30, 40], "
                + "\"score\": 0.9, \"category_id\": 1}, {\"image_id\": 785, \"bbox\": [0, 0, 5, 5], \"score\": 0.1},"
                + " {\"image_id\": 785, \"bbox\": [1, 1, 5, 5], \"score\": 0.95, \"category_id\": 2},"
                + " {\"image_id\": 9, \"bbox\": [1, 1, 5, 5]}]"), 0.3);
        assertEquals(List.of(new Box(10, 20, 40, 60, 0.9f)), results.forImage(image, PredictMain.imageIdFor(image)));
        assertTrue(results.forImage(Paths.get("other.jpg"), "other.jpg").isEmpty());

        BoxFile dataset = new BoxFile(json(dir, "coco.json", "{\"images\": [{\"id\": 7, \"file_name\": \"a.jpg\"}],"
                + " \"annotations\": [{\"image_id\": 7, \"bbox\": [1, 2, 3, 4]}, {\"image_id\": 7, \"bbox\": [0, 0, 9,"
                + " 9], \"iscrowd\": 1}]}"), 0.3);
        Path a = dir.resolve("a.jpg");
        assertEquals(List.of(new Box(1, 2, 4, 6, 1f)), dataset.forImage(a, PredictMain.imageIdFor(a)));
        assertEquals(7L, dataset.imageIds.get("a.jpg"));

        BoxFile simple = new BoxFile(json(dir, "simple.json", "{\"a.jpg\": [[1, 2, 3, 4], [5, 6, 7, 8, 0.2]],"
                + " \"b\": []}"), 0.3);
        assertEquals(List.of(new Box(1, 2, 3, 4, 1f)), simple.forImage(a, "a.jpg"));
        assertTrue(simple.forImage(dir.resolve("b.png"), "b.png").isEmpty());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new BoxFile(json(dir,
                "bad.json", "{\"a.jpg\": [[1, 2, 3]]}"), 0.3));
        assertTrue(e.getMessage().contains("entry 'a.jpg' must be a list of [x1, y1, x2, y2]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BoxFile(json(dir, "bad2.json",
                "[{\"bbox\": [1, 2, 3, 4]}]"), 0.3));
        assertTrue(e.getMessage().contains("entry 0 is not a COCO detection"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BoxFile(json(dir, "bad3.json",
                "[{\"image_id\": 1, \"bbox\": [1, 2, 3, 4], \"score\": \"high\"}]"), 0.3));
        assertTrue(e.getMessage().contains("entry 0: score must be a finite number, got \"high\""), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BoxFile(json(dir, "bad4.json",
                "[{\"image_id\": 1, \"bbox\": [1, 2, 3, 4], \"category_id\": 1.5}]"), 0.3));
        assertTrue(e.getMessage().contains("entry 0: category_id must be an integer, got 1.5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BoxFile(json(dir, "bad5.json",
                "[{\"image_id\": 1, \"bbox\": [1, 2, \"x\", 4]}]"), 0.3));
        assertTrue(e.getMessage().contains("entry 0 bbox must be a list of 4 numbers, got [1, 2, \"x\", 4]"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new BoxFile(dir.resolve("none.json"), 0.3));
        assertTrue(e.getMessage().contains("--boxes file not found"), e.getMessage());
    }

    @Test
    void cocoResultsAsPythonWritesThem() {
        float[] kp = {10.123456f, 20f, 30.5f, 40.25f};
        float[] sc = {0.9f, 0.1f};
        Pose pose = new Pose(kp, sc, new Box(0, 0, 50, 50, 0.5f), 0, 4);
        Map<String, Object> entry = PredictMain.cocoResults(List.of(pose), 785L, true).get(0);
        // keypoints rounded to 4 decimals; score: box score x mean of the scores above 0.2 (only 0.9 here)
        assertEquals("{\"image_id\": 785, \"category_id\": 1, \"keypoints\": [10.1235, 20.0, 0.9, 30.5, 40.25, 0.1],"
                + " \"score\": " + Json.number(0.5 * (double) 0.9f) + ", \"track_id\": 4}", Json.write(entry));
        assertEquals(785L, PredictMain.imageIdFor(Paths.get("x/000000000785.jpg")));
        assertEquals("a1.jpg", PredictMain.imageIdFor(Paths.get("a1.jpg")));
    }
}

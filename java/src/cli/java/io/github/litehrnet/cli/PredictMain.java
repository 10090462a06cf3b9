/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.cli;

import io.github.litehrnet.Box;
import io.github.litehrnet.Image;
import io.github.litehrnet.LiteHrnetException;
import io.github.litehrnet.OneEuroFilter;
import io.github.litehrnet.Pose;
import io.github.litehrnet.PoseEstimator;
import io.github.litehrnet.PoseTracker;
import io.github.litehrnet.internal.Json;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * {@code litehrnet-predict}: {@code lite-hrnet predict} on the JVM for images (JPEG, PNG, BMP through ImageIO, turned
 * upright by their EXIF orientation as Python's {@code load_image} does), with the same arguments and the same
 * {@code OUT/results.json} (COCO keypoint results plus {@code file_name}), annotated images next to it. Videos and cameras are Python-only; so are the options of other runtimes ({@code --device},
 * {@code --precision}, {@code --flip}, {@code --dark}, {@code --show}, {@code --model-name}, {@code --weights}).
 *
 * <p>Exit status as Python's: 0 every input processed; 2 bad arguments or a single input that cannot be read (one
 * line on stderr); 3 finished with unreadable inputs among several skipped (each named on stderr as it happens, a
 * count at the end, the results of the others written); 1 a bug.
 */
public final class PredictMain {
    static final Set<String> IMAGE_SUFFIXES = new HashSet<>(Arrays.asList(
            ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"));
    static final Set<String> VIDEO_SUFFIXES = new HashSet<>(Arrays.asList(
            ".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"));
    private static final String USAGE = "usage: litehrnet-predict --model MODEL.tflite [--boxes BOXES.json] "
            + "[--box-thr 0.3] [--threads N] [--out DIR] [--track [--smooth]] [--kpt-thr 0.3] [--max-frames N] "
            + "[--no-progress] INPUT...";
    private static final Set<String> PYTHON_ONLY = new HashSet<>(Arrays.asList(
            "--device", "--precision", "--flip", "--dark", "--show", "--model-name", "--weights"));

    /** Parsed arguments. */
    static final class Arguments {
        final List<String> inputs = new ArrayList<>();
        String model;
        String boxes;
        double boxThr = 0.3;
        int threads;
        String out;
        boolean track;
        boolean smooth;
        float kptThr = 0.3f;
        Integer maxFrames;
    }

    private PredictMain() {
    }

    /**
     * Runs the command. The system property {@code litehrnet.predict.stderr} names a file for the tool's messages (the
     * launcher passes the original stderr as {@code /dev/fd/3} and sends fd 2, where LiteRT logs, to /dev/null).
     */
    public static void main(String[] args) {
        PrintStream err = System.err;
        String messages = System.getProperty("litehrnet.predict.stderr");
        if (messages != null && !messages.isEmpty()) {
            try {
                err = new PrintStream(new FileOutputStream(messages), true, "UTF-8");
            } catch (IOException | SecurityException e) {
                err = System.err; // keep the JVM's stderr
            }
        }
        System.exit(run(args, System.out, err));
    }

    /** Runs the command; returns the exit status (0, 2 for bad input, 1 for a bug). */
    static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            return predict(parse(args), out, err);
        } catch (HelpRequested e) {
            out.println(USAGE);
            out.println(HELP);
            return 0;
        } catch (UsageError e) {
            err.println("litehrnet-predict: error: " + e.getMessage() + " (see litehrnet-predict --help)");
            return 2;
        } catch (IllegalArgumentException | IllegalStateException | LiteHrnetException | NullPointerException e) {
            err.println("litehrnet-predict: error: " + firstLine(e.getMessage(), e));
            return 2;
        } catch (RuntimeException e) {
            err.println("litehrnet-predict: internal error: " + e.getClass().getSimpleName() + ": "
                    + firstLine(e.getMessage(), e));
            return 1;
        }
    }

    private static String firstLine(String message, Throwable e) {
        if (message == null || message.trim().isEmpty()) {
            return e.getClass().getSimpleName();
        }
        return message.trim().split("\n", 2)[0];
    }

    static final class HelpRequested extends RuntimeException {
        private static final long serialVersionUID = 1L;
    }

    private static final String HELP = String.join("\n",
            "lite-hrnet predict on the JVM, for images (JPEG, PNG, BMP). There is no person detector: give boxes",
            "with --boxes, or each image is one person.",
            "  INPUT               images or folders of images",
            "  --model FILE        a lite-hrnet .tflite file (plain or end-to-end)",
            "  --boxes FILE        COCO detection results, a COCO dataset file or {file_name: [[x1, y1, x2, y2, score]]}",
            "  --box-thr T         ignore --boxes entries scored below T (default 0.3)",
            "  --threads N         LiteRT threads (default: LiteRT's choice)",
            "  --out DIR           results.json and the annotated images",
            "  --track             next boxes from the previous image's keypoints (image sequences)",
            "  --smooth            with --track: One-Euro smoothing of the keypoints",
            "  --kpt-thr T         keypoint score threshold for drawing and tracking (default 0.3)",
            "  --max-frames N      stop after N images",
            "  --no-progress       accepted for lite-hrnet predict's sake (there is no progress bar)",
            "Exit status: 0 done, 2 bad arguments or a single unreadable input, 3 unreadable inputs skipped.");

    static final class UsageError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageError(String message) {
            super(message);
        }
    }

    static Arguments parse(String[] args) {
        Arguments a = new Arguments();
        boolean positionalOnly = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!positionalOnly && arg.equals("-h")) {
                throw new HelpRequested();
            }
            if (positionalOnly || !arg.startsWith("--") || arg.equals("-")) {
                a.inputs.add(arg);
                continue;
            }
            if (arg.equals("--")) {
                positionalOnly = true;
                continue;
            }
            if (arg.equals("--help")) {
                throw new HelpRequested();
            }
            String name = arg;
            String value = null;
            int eq = arg.indexOf('=');
            if (eq > 0) {
                name = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            }
            if (PYTHON_ONLY.contains(name)) {
                throw new UsageError(name + " is not supported by litehrnet-predict (use lite-hrnet predict)");
            }
            switch (name) {
                case "--track":
                case "--smooth":
                case "--no-progress":
                    if (value != null) {
                        throw new UsageError("argument " + name + ": ignored explicit argument '" + value + "'");
                    }
                    if (name.equals("--track")) {
                        a.track = true;
                    } else if (name.equals("--smooth")) {
                        a.smooth = true;
                    }
                    continue;
                case "--model":
                case "--boxes":
                case "--box-thr":
                case "--threads":
                case "--out":
                case "--kpt-thr":
                case "--max-frames":
                    break;
                default:
                    throw new UsageError("unrecognized arguments: " + arg);
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    throw new UsageError("argument " + name + ": expected one argument");
                }
                value = args[++i];
            }
            switch (name) {
                case "--model": a.model = value; break;
                case "--boxes": a.boxes = value; break;
                case "--box-thr": a.boxThr = parseDouble(name, value); break;
                case "--threads": a.threads = parseInt(name, value); break;
                case "--out": a.out = value; break;
                case "--kpt-thr": a.kptThr = (float) parseDouble(name, value); break;
                default: a.maxFrames = parseInt(name, value);
            }
        }
        if (a.model == null) {
            throw new UsageError("the following arguments are required: --model");
        }
        if (a.inputs.isEmpty()) {
            throw new UsageError("the following arguments are required: INPUT");
        }
        if (a.smooth && !a.track) {
            throw new UsageError("--smooth needs --track (smoothing follows tracked persons)");
        }
        if (!Double.isFinite(a.boxThr)) {
            throw new UsageError("--box-thr must be a finite number, got " + a.boxThr);
        }
        if (!Float.isFinite(a.kptThr)) {
            throw new UsageError("--kpt-thr must be a finite number, got " + a.kptThr);
        }
        if (a.threads < 0) {
            throw new UsageError("argument --threads: must be >= 0, got " + a.threads);
        }
        return a;
    }

    private static double parseDouble(String name, String value) {
        String text = value.trim().toLowerCase(Locale.ROOT).replaceFirst("^([+-]?)inf(inity)?$", "$1Infinity");
        if (text.matches("[+-]?nan")) {
            return Double.NaN; // as Python's float() reads it; refused later with a clear message
        }
        try {
            return Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new UsageError("argument " + name + ": invalid float value: '" + value + "'");
        }
    }

    private static int parseInt(String name, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new UsageError("argument " + name + ": invalid int value: '" + value + "'");
        }
    }

    static String suffix(Path path) {
        String name = path.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(dot).toLowerCase(Locale.ROOT) : "";
    }

    /** The image files of the inputs, folders expanded (sorted by name), in the order given. */
    static List<Path> resolveInputs(List<String> inputs) {
        List<Path> images = new ArrayList<>();
        for (String text : inputs) {
            Path path = Paths.get(text);
            if (!Files.exists(path) && !text.isEmpty() && text.chars().allMatch(Character::isDigit)) {
                throw new IllegalArgumentException("input " + text + ": cameras are not supported by "
                        + "litehrnet-predict (use lite-hrnet predict)");
            }
            if (!Files.exists(path)) {
                throw new IllegalArgumentException("input not found: " + text);
            }
            if (Files.isDirectory(path)) {
                List<Path> found;
                try (Stream<Path> listing = Files.list(path)) {
                    found = listing.filter(p -> Files.isRegularFile(p) && IMAGE_SUFFIXES.contains(suffix(p)))
                            .sorted().collect(Collectors.toList());
                } catch (IOException e) {
                    throw new IllegalArgumentException("input folder " + text + ": cannot list (" + e.getMessage()
                            + ")");
                }
                if (found.isEmpty()) {
                    throw new IllegalArgumentException("input folder " + text + " has no images ("
                            + String.join(", ", new java.util.TreeSet<>(IMAGE_SUFFIXES)) + ")");
                }
                images.addAll(found);
            } else if (VIDEO_SUFFIXES.contains(suffix(path))) {
                throw new IllegalArgumentException("input " + text + ": videos are not supported by "
                        + "litehrnet-predict (use lite-hrnet predict)");
            } else if (IMAGE_SUFFIXES.contains(suffix(path))) {
                images.add(path);
            } else {
                String s = suffix(path);
                throw new IllegalArgumentException("input " + text + ": unknown file type '"
                        + (s.isEmpty() ? "(no suffix)" : s) + "'; expected an image or a folder of images");
            }
        }
        return images;
    }

    /** COCO-style image id of a file: the number its stem spells (000000000785.jpg: 785), else its name. */
    static Object imageIdFor(Path path) {
        String name = path.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        if (!stem.isEmpty() && stem.length() < 19 && stem.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return Long.parseLong(stem);
        }
        return name;
    }

    /** mmpose's person score: box score x mean of the keypoint scores above 0.2 (0 when none is). */
    static double personScore(Pose pose) {
        double sum = 0;
        int count = 0;
        for (int k = 0; k < pose.size(); k++) {
            if (pose.score(k) > 0.2) {
                sum += pose.score(k);
                count++;
            }
        }
        return (count > 0 ? sum / count : 0.0) * pose.box().score;
    }

    /** COCO keypoint results of one image, as Python's {@code to_coco_results} writes them. */
    static List<Map<String, Object>> cocoResults(List<Pose> poses, Object imageId, boolean tracked) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Pose pose : poses) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("image_id", imageId);
            entry.put("category_id", 1L);
            List<Object> triples = new ArrayList<>(pose.size() * 3);
            for (int k = 0; k < pose.size(); k++) {
                triples.add(Json.rounded(pose.x(k), 4));
                triples.add(Json.rounded(pose.y(k), 4));
                triples.add(Json.rounded(pose.score(k), 4));
            }
            entry.put("keypoints", triples);
            entry.put("score", personScore(pose));
            if (tracked) {
                entry.put("track_id", pose.trackId());
            }
            out.add(entry);
        }
        return out;
    }

    private static int predict(Arguments a, PrintStream stdout, PrintStream stderr) {
        if (a.maxFrames != null && a.maxFrames < 1) {
            throw new IllegalArgumentException("--max-frames must be at least 1, got " + a.maxFrames);
        }
        List<Path> images = resolveInputs(a.inputs);
        // with a single input, an unreadable one is an error (exit 2); among several, it is skipped (exit 3)
        boolean singleInput = images.size() == 1;
        if (a.maxFrames != null && images.size() > a.maxFrames) {
            images = images.subList(0, a.maxFrames);
        }
        BoxFile boxes = a.boxes != null ? new BoxFile(Paths.get(a.boxes), a.boxThr) : null;
        Path outDir = a.out != null ? Paths.get(a.out) : null;
        if (outDir != null) {
            if (Files.exists(outDir) && !Files.isDirectory(outDir)) {
                throw new IllegalArgumentException("--out " + outDir + " exists and is not a folder");
            }
            try {
                Files.createDirectories(outDir);
            } catch (IOException e) {
                throw new IllegalArgumentException("--out " + outDir + ": cannot create (" + e.getMessage() + ")");
            }
            if (!Files.isWritable(outDir)) { // checked before the model loads and the work starts
                throw new IllegalArgumentException("--out " + outDir + " is not writable");
            }
        }
        List<Object> results = new ArrayList<>();
        int frames = 0;
        int persons = 0;
        int skipped = 0;
        long poseNanos = 0;
        long start = System.nanoTime();
        Set<String> usedNames = new HashSet<>();
        try (PoseEstimator estimator = new PoseEstimator(
                new PoseEstimator.Options().setModelPath(a.model).setThreads(a.threads))) {
            PoseTracker tracker = null;
            if (a.track) {
                PoseTracker.Options options = new PoseTracker.Options().setKptThr(a.kptThr);
                if (a.smooth) {
                    options.setSmoothing(new OneEuroFilter());
                }
                tracker = new PoseTracker(estimator, options);
            }
            int[][] skeleton = estimator.skeleton();
            for (Path path : images) {
                ImageFiles.Loaded loaded;
                try {
                    loaded = ImageFiles.read(path);
                } catch (IllegalArgumentException e) {
                    if (singleInput) {
                        throw e;
                    }
                    skipped++;
                    stderr.println("litehrnet-predict: skipped " + e.getMessage());
                    continue;
                }
                Object fileId = imageIdFor(path);
                List<Box> frameBoxes = boxes != null ? boxes.forImage(path, fileId) : null;
                long t0 = System.nanoTime();
                List<Pose> poses;
                try {
                    poses = tracker != null ? tracker.update(loaded.image, frameBoxes)
                            : estimator.predict(loaded.image, frameBoxes);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(path + ": " + e.getMessage());
                }
                poseNanos += System.nanoTime() - t0;
                frames++;
                persons += poses.size();
                Object imageId = boxes != null ? boxes.imageIds.getOrDefault(path.getFileName().toString(), fileId)
                        : fileId;
                for (Map<String, Object> entry : cocoResults(poses, imageId, a.track)) {
                    entry.put("file_name", path.getFileName().toString());
                    results.add(entry);
                }
                if (outDir != null) {
                    Path target = uniqueName(outDir, path.getFileName().toString(), usedNames);
                    ImageFiles.writeAnnotated(loaded.picture, poses, skeleton, a.kptThr, a.track, target);
                }
            }
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        if (outDir != null) {
            Path json = outDir.resolve("results.json");
            Path partial = outDir.resolve(".results.json.partial");
            try { // written whole or not at all, as Python's write_text_atomic
                Files.write(partial, Json.write(results).getBytes(StandardCharsets.UTF_8));
                Files.move(partial, json, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot write " + json + " (" + e.getMessage() + ")");
            }
        }
        double fps = poseNanos > 0 ? frames / (poseNanos / 1e9) : Double.NaN;
        double totalFps = elapsed > 0 ? frames / elapsed : Double.NaN;
        stdout.println(String.format(Locale.ROOT, "%d frames, %d persons: %.1f FPS pose estimation (%.1f FPS end to "
                + "end) with liblitehrnet %s (LiteRT) on cpu, threads %s", frames, persons, fps, totalFps,
                PoseEstimator.nativeVersion(), a.threads > 0 ? String.valueOf(a.threads) : "default"));
        if (outDir != null) {
            stdout.println("results: " + outDir.resolve("results.json"));
        }
        if (skipped > 0) {
            stderr.println("litehrnet-predict: " + skipped + " input(s) skipped (named above); the results of the "
                    + frames + " processed were written");
            return 3;
        }
        return 0;
    }

    private static Path uniqueName(Path outDir, String name, Set<String> used) {
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        String suffix = dot > 0 ? name.substring(dot) : "";
        String candidate = name;
        for (int i = 1; used.contains(candidate); i++) {
            candidate = stem + "_" + i + suffix;
        }
        used.add(candidate);
        return outDir.resolve(candidate);
    }
}

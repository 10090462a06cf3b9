/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.io.File;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Top-down pose estimation with a lite-hrnet {@code .tflite} file (plain or end-to-end) through the native library
 * (crop, LiteRT, decoding and mapping back in C; the same geometry as Python's {@code lite_hrnet.pipeline}).
 *
 * <pre>{@code
 * try (PoseEstimator pose = new PoseEstimator(new PoseEstimator.Options().setModelPath("model.tflite").setThreads(2))) {
 *     List<Pose> poses = pose.predict(argb, width, height, List.of(new Box(x1, y1, x2, y2)));
 *     float x = poses.get(0).x(0), y = poses.get(0).y(0);   // the nose, in image pixels
 * }
 * }</pre>
 *
 * <p>Boxes: null means the whole image is one person; boxes entirely outside the image are skipped
 * ({@link Pose#boxIndex()} says which box each pose came from); NaN, infinite or empty boxes are
 * {@link IllegalArgumentException}s. All persons of a call run in one batch where the file allows it.
 *
 * <p>Thread safety: calls are serialized on the estimator (the native model is not reentrant); use one estimator per
 * thread to run in parallel. {@link #close()} waits for a running call.
 */
public final class PoseEstimator implements PoseModel, AutoCloseable {
    /** How to open the model. */
    public static final class Options {
        private String modelPath;
        private int threads;

        /** The {@code .tflite} file exported by {@code lite-hrnet export} (required). */
        public Options setModelPath(String path) {
            modelPath = path;
            return this;
        }

        /** CPU threads for LiteRT; 0 (the default) lets LiteRT choose. */
        public Options setThreads(int count) {
            if (count < 0) {
                throw new IllegalArgumentException("threads must be >= 0 (0: the runtime's choice), got " + count);
            }
            threads = count;
            return this;
        }

        public String modelPath() {
            return modelPath;
        }

        public int threads() {
            return threads;
        }
    }

    private long handle;
    private final ModelMetadata metadata;
    private final String modelPath;
    private byte[] rgbScratch; // ARGB / BGRA frames converted to RGB, reused between calls

    /** Opens {@code modelPath} with the runtime's default threads. */
    public PoseEstimator(String modelPath) {
        this(new Options().setModelPath(modelPath));
    }

    /**
     * Opens the model.
     *
     * @throws NullPointerException without a model path
     * @throws LiteHrnetException when the file is missing ({@link LiteHrnetException.Status#IO}), not a lite-hrnet
     *     model ({@link LiteHrnetException.Status#BAD_MODEL}), LiteRT fails, or the native library cannot be loaded
     */
    public PoseEstimator(Options options) {
        if (options == null) {
            throw new NullPointerException("options must not be null");
        }
        if (options.modelPath == null) {
            throw new NullPointerException("the model path is not set (Options.setModelPath)");
        }
        File file = new File(options.modelPath);
        if (!file.isFile()) {
            throw new LiteHrnetException(LiteHrnetException.Status.IO, "model file not found: " + options.modelPath);
        }
        NativeApi.ensureLoaded();
        this.modelPath = options.modelPath;
        this.handle = NativeApi.open(options.modelPath, options.threads);
        try {
            this.metadata = readMetadata(handle);
        } catch (RuntimeException e) {
            NativeApi.close(handle);
            handle = 0;
            throw e;
        }
    }

    private static ModelMetadata readMetadata(long handle) {
        int[] info = NativeApi.info(handle);
        String[] names = NativeApi.jointNames(handle);
        List<String> keypointNames = new ArrayList<>(names.length);
        for (int k = 0; k < names.length; k++) {
            keypointNames.add(names[k] != null ? names[k] : "joint_" + k);
        }
        return new ModelMetadata(NativeApi.text(handle, 0), info[0], info[1], info[2], info[3], info[4] != 0, info[5],
                NativeApi.text(handle, 1), keypointNames, toPairs(NativeApi.pairs(handle, false)),
                toPairs(NativeApi.pairs(handle, true)), NativeApi.text(handle, 2));
    }

    private static int[][] toPairs(int[] flat) {
        int[][] pairs = new int[flat.length / 2][];
        for (int i = 0; i < pairs.length; i++) {
            pairs[i] = new int[] {flat[2 * i], flat[2 * i + 1]};
        }
        return pairs;
    }

    /** The version of the native library, e.g. "0.1.0". */
    public static String nativeVersion() {
        NativeApi.ensureLoaded();
        return NativeApi.version();
    }

    public ModelMetadata metadata() {
        return metadata;
    }

    public String modelPath() {
        return modelPath;
    }

    @Override
    public int numJoints() {
        return metadata.numJoints();
    }

    public List<String> keypointNames() {
        return metadata.keypointNames();
    }

    public int[][] skeleton() {
        return metadata.skeleton();
    }

    public int[][] flipPairs() {
        return metadata.flipPairs();
    }

    /** Poses in an ARGB image ({@code 0xAARRGGBB}, rows of {@code width}: Android's {@code Bitmap.getPixels}). */
    public List<Pose> predict(int[] argb, int width, int height, List<Box> boxes) {
        return predict(Image.ofArgb(argb, width, height), boxes);
    }

    /** Poses in a packed byte image (RGB, BGR, RGBA or BGRA). */
    public List<Pose> predict(byte[] pixels, int width, int height, PixelFormat format, List<Box> boxes) {
        return predict(Image.ofBytes(pixels, width, height, format), boxes);
    }

    /** Poses in a packed byte image held in a buffer, from its position on (a direct buffer is read in place). */
    public List<Pose> predict(ByteBuffer pixels, int width, int height, PixelFormat format, List<Box> boxes) {
        return predict(Image.ofBuffer(pixels, width, height, format), boxes);
    }

    /**
     * Poses of the persons in {@code boxes}.
     *
     * @param boxes person boxes (image pixels), null for the whole image
     * @return one pose per box that overlaps the image, in the order of the boxes
     * @throws IllegalStateException after {@link #close()}
     * @throws IllegalArgumentException for bad boxes
     */
    @Override
    public synchronized List<Pose> predict(Image image, List<Box> boxes) {
        if (image == null) {
            throw new NullPointerException("image must not be null");
        }
        ensureOpen();
        Geometry.KeptBoxes kept = Geometry.checkBoxes(boxes, image.width(), image.height());
        int n = kept.boxes.size();
        if (n == 0) {
            return Collections.emptyList();
        }
        int k = metadata.numJoints();
        float[] boxValues = new float[4 * n];
        for (int i = 0; i < n; i++) {
            Box b = kept.boxes.get(i);
            boxValues[4 * i] = b.x1;
            boxValues[4 * i + 1] = b.y1;
            boxValues[4 * i + 2] = b.x2;
            boxValues[4 * i + 3] = b.y2;
        }
        float[] keypoints = new float[n * k * 2];
        float[] scores = new float[n * k];
        run(image, boxValues, n, keypoints, scores);
        Pose[] poses = new Pose[n];
        for (int i = 0; i < n; i++) {
            poses[i] = new Pose(Arrays.copyOfRange(keypoints, i * k * 2, (i + 1) * k * 2),
                    Arrays.copyOfRange(scores, i * k, (i + 1) * k), kept.boxes.get(i), kept.indices[i], -1);
        }
        return List.of(poses);
    }

    private void run(Image image, float[] boxes, int n, float[] keypoints, float[] scores) {
        int width = image.width();
        int height = image.height();
        PixelFormat format = image.format();
        if (!PixelConversion.isNative(format)) {
            rgbScratch = PixelConversion.toRgb(image, rgbScratch);
            NativeApi.predictBytes(handle, rgbScratch, 0, width, height, width * 3, PixelConversion.nativeCode(
                    PixelFormat.RGB), boxes, n, keypoints, scores);
            return;
        }
        int code = PixelConversion.nativeCode(format);
        if (image.bytes() != null) {
            NativeApi.predictBytes(handle, image.bytes(), 0, width, height, image.rowStride(), code, boxes, n,
                    keypoints, scores);
            return;
        }
        ByteBuffer buffer = image.buffer();
        if (buffer.isDirect()) {
            NativeApi.predictBuffer(handle, buffer, 0, width, height, image.rowStride(), code, boxes, n, keypoints,
                    scores);
        } else if (buffer.hasArray()) {
            NativeApi.predictBytes(handle, buffer.array(), buffer.arrayOffset(), width, height, image.rowStride(),
                    code, boxes, n, keypoints, scores);
        } else { // a read-only heap buffer: copy it
            byte[] copy = new byte[buffer.remaining()];
            buffer.duplicate().get(copy);
            NativeApi.predictBytes(handle, copy, 0, width, height, image.rowStride(), code, boxes, n, keypoints,
                    scores);
        }
    }

    /**
     * Milliseconds of the last {@code predict}: {crop, inference, decode}, as the native library measured them.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public synchronized double[] lastTimingsMs() {
        ensureOpen();
        double[] t = NativeApi.lastTimings(handle);
        return new double[] {t[0], t[1], t[2]};
    }

    private void ensureOpen() {
        if (handle == 0) {
            throw new IllegalStateException("PoseEstimator is closed (" + modelPath + ")");
        }
    }

    /** True after {@link #close()}. */
    public synchronized boolean isClosed() {
        return handle == 0;
    }

    /** Frees the native model; later calls throw {@link IllegalStateException}. Closing twice is allowed. */
    @Override
    public synchronized void close() {
        if (handle != 0) {
            NativeApi.close(handle);
            handle = 0;
        }
    }

    @Override
    public String toString() {
        return "PoseEstimator(" + modelPath + ", " + metadata + ")";
    }
}

/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import java.nio.ByteBuffer;

/**
 * The JNI boundary: one Java method per C call of {@code litehrnet.h}, nothing more (java/src/main/c/litehrnet_jni.c).
 * Every check that can be made in Java is made before these are called; the glue still checks what it touches, so
 * that a wrong call throws instead of crashing the JVM.
 *
 * <p>The JNI library is {@code liblitehrnet_jni} (it links {@code liblitehrnet}): loaded from the file named by the
 * system property {@code litehrnet.jni.library} when set, else from {@code java.library.path} (on Android: the
 * app's {@code jniLibs}).
 */
final class NativeApi {
    /** The system property naming the JNI library file (an absolute path). */
    static final String LIBRARY_PROPERTY = "litehrnet.jni.library";

    private NativeApi() {
    }

    private static final class Loader {
        static final Throwable FAILURE = load();

        private static Throwable load() {
            String file = System.getProperty(LIBRARY_PROPERTY);
            try {
                if (file != null && !file.isEmpty()) {
                    System.load(file);
                } else {
                    System.loadLibrary("litehrnet_jni");
                }
                return null;
            } catch (UnsatisfiedLinkError | SecurityException e) {
                return e;
            }
        }
    }

    /** Loads the JNI library once; throws a {@link LiteHrnetException} saying how to point at it when it cannot. */
    static void ensureLoaded() {
        Throwable failure = Loader.FAILURE;
        if (failure != null) {
            String file = System.getProperty(LIBRARY_PROPERTY);
            String where = file != null && !file.isEmpty() ? file
                    : "liblitehrnet_jni on java.library.path (" + System.getProperty("java.library.path") + ")";
            throw new LiteHrnetException(LiteHrnetException.Status.LIBRARY_NOT_LOADED, "cannot load the lite-hrnet "
                    + "JNI library " + where + ": " + failure.getMessage() + " (build it with 'make java', then set "
                    + "-D" + LIBRARY_PROPERTY + "=/path/to/liblitehrnet_jni.so or -Djava.library.path)", failure);
        }
    }

    /** {@code lhr_version()}. */
    static native String version();

    /** {@code lhr_model_open}; returns the handle, throws {@link LiteHrnetException} with the C message on failure. */
    static native long open(String path, int threads);

    /** {@code lhr_model_close}. */
    static native void close(long handle);

    /** {input height, input width, joints, heatmap stride, end-to-end (0/1), max batch}. */
    static native int[] info(long handle);

    /** {@code lhr_model_joint_name} for every joint (null entries where the file has none). */
    static native String[] jointNames(long handle);

    /** Flattened {a0, b0, a1, b1, ...}: flip pairs, or skeleton edges when {@code skeleton}. */
    static native int[] pairs(long handle, boolean skeleton);

    /** {@code lhr_model_name}, {@code lhr_model_color_order} or {@code lhr_model_metadata_json} (0, 1, 2). */
    static native String text(long handle, int which);

    /**
     * {@code lhr_predict} on {@code height} rows of {@code rowStride} bytes starting at {@code offset} of
     * {@code pixels}; {@code boxes} holds {@code numBoxes x 4} floats; writes {@code numBoxes x K x 2} keypoints and
     * {@code numBoxes x K} scores.
     */
    static native void predictBytes(long handle, byte[] pixels, int offset, int width, int height, int rowStride,
            int format, float[] boxes, int numBoxes, float[] keypoints, float[] scores);

    /** As {@link #predictBytes}, reading a direct buffer from {@code offset} without copying it. */
    static native void predictBuffer(long handle, ByteBuffer pixels, int offset, int width, int height, int rowStride,
            int format, float[] boxes, int numBoxes, float[] keypoints, float[] scores);

    /** {crop ms, inference ms, decode ms, persons, batches} of the last predict. */
    static native double[] lastTimings(long handle);
}

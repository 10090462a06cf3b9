/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

/**
 * A failure of the native library (model file missing or unreadable, not a lite-hrnet model, LiteRT errors) or of
 * loading it. Bad arguments are {@link IllegalArgumentException}s and {@link NullPointerException}s instead; calls on a
 * closed estimator are {@link IllegalStateException}s.
 */
public class LiteHrnetException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What went wrong, mirroring the C library's {@code lhr_status}. */
    public enum Status {
        /** The JNI library or liblitehrnet could not be loaded. */
        LIBRARY_NOT_LOADED,
        /** {@code LHR_ERR_IO}: the model file is missing or cannot be read. */
        IO,
        /** {@code LHR_ERR_BAD_MODEL}: not a TFLite file, no or invalid lite_hrnet metadata, unsupported tensors. */
        BAD_MODEL,
        /** {@code LHR_ERR_RUNTIME}: LiteRT failed to load, compile or run the model. */
        RUNTIME,
        /** {@code LHR_ERR_NO_MEMORY}: an allocation failed. */
        NO_MEMORY,
        /** A status code this version does not know. */
        UNKNOWN
    }

    private final Status status;

    public LiteHrnetException(Status status, String message) {
        super(message);
        this.status = status;
    }

    public LiteHrnetException(Status status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** Called from the JNI glue with the C library's {@code lhr_status}. */
    static LiteHrnetException fromNative(int code, String message) {
        Status status;
        switch (code) {
            case 2: status = Status.IO; break;
            case 3: status = Status.BAD_MODEL; break;
            case 4: status = Status.RUNTIME; break;
            case 5: status = Status.NO_MEMORY; break;
            default: status = Status.UNKNOWN;
        }
        return new LiteHrnetException(status, message);
    }

    public Status status() {
        return status;
    }
}

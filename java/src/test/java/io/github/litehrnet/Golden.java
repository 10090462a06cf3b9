/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import io.github.litehrnet.internal.Json;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** Golden values written by java/tools/make_golden.py from the Python implementation (test resources). */
final class Golden {
    private Golden() {
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> load(String name) {
        try (InputStream in = Golden.class.getResourceAsStream("/golden/" + name)) {
            if (in == null) {
                throw new IllegalStateException("test resource golden/" + name + " is missing "
                        + "(make it with java/tools/make_golden.py)");
            }
            return (Map<String, Object>) Json.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object value) {
        return (List<Object>) value;
    }

    /** A flat float array of a (nested) list of numbers, row-major. */
    static float[] floats(Object value) {
        double[] d = doubles(value);
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (float) d[i];
        }
        return out;
    }

    static double[] doubles(Object value) {
        java.util.ArrayList<Double> out = new java.util.ArrayList<>();
        flatten(value, out);
        double[] array = new double[out.size()];
        for (int i = 0; i < array.length; i++) {
            array[i] = out.get(i);
        }
        return array;
    }

    private static void flatten(Object value, List<Double> out) {
        if (value instanceof List) {
            for (Object item : (List<?>) value) {
                flatten(item, out);
            }
        } else {
            out.add(((Number) value).doubleValue());
        }
    }

    static Box box(Object value) {
        float[] v = floats(value);
        return v.length == 5 ? new Box(v[0], v[1], v[2], v[3], v[4]) : new Box(v[0], v[1], v[2], v[3]);
    }
}

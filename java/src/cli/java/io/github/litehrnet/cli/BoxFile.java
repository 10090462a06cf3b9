/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.cli;

import io.github.litehrnet.Box;
import io.github.litehrnet.internal.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Person boxes per image from {@code --boxes}, read as Python's {@code lite_hrnet.predict_cli.BoxFile} reads them: COCO
 * detection results ({@code image_id}, {@code bbox} xywh, {@code score}, {@code category_id}), a COCO dataset file
 * (annotations matched by {@code file_name}, crowd skipped), or {@code {"name.jpg": [[x1, y1, x2, y2, score], ...]}}.
 * Entries scored below {@code --box-thr} are dropped.
 */
final class BoxFile {
    private final Path path;
    private final double boxThr;
    private final Map<String, List<Box>> byKey = new LinkedHashMap<>();
    /** Dataset files: file name to image id. */
    final Map<String, Object> imageIds = new HashMap<>();

    BoxFile(Path path, double boxThr) {
        this.path = path;
        this.boxThr = boxThr;
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("--boxes file not found: " + path);
        }
        Object data;
        try {
            data = Json.parse(new String(Files.readAllBytes(path), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalArgumentException("--boxes " + path + ": cannot read (" + e.getMessage() + ")");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--boxes " + path + ": not valid JSON (" + e.getMessage() + ")");
        }
        if (data instanceof List) {
            readResults((List<?>) data);
        } else if (data instanceof Map && ((Map<?, ?>) data).containsKey("annotations")
                && ((Map<?, ?>) data).containsKey("images")) {
            readDataset((Map<?, ?>) data);
        } else if (data instanceof Map) {
            readSimple((Map<?, ?>) data);
        } else {
            throw bad("expected a list of COCO detections or a JSON object");
        }
    }

    private IllegalArgumentException bad(String what) {
        return new IllegalArgumentException("--boxes " + path + ": " + what);
    }

    /** Python's {@code str()} of a JSON value used as a key. */
    static String key(Object value) {
        return value instanceof Double ? Json.number((Double) value) : String.valueOf(value);
    }

    private static double number(Object value, String what) {
        if (!(value instanceof Number)) {
            throw new IllegalArgumentException(what + " is not a number: " + value);
        }
        return ((Number) value).doubleValue();
    }

    private void add(String key, double[] box) {
        double score = box.length == 5 ? box[4] : 1.0;
        if (score >= boxThr) {
            byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(
                    new Box((float) box[0], (float) box[1], (float) box[2], (float) box[3], (float) score));
        }
    }

    private double[] xywh(Object bbox, double score, String what) {
        if (!(bbox instanceof List) || ((List<?>) bbox).size() != 4) {
            throw bad(what + " bbox must be a list of 4 numbers, got " + shown(bbox));
        }
        List<?> b = (List<?>) bbox;
        double x;
        double y;
        double w;
        double h;
        try {
            x = number(b.get(0), "bbox x");
            y = number(b.get(1), "bbox y");
            w = number(b.get(2), "bbox w");
            h = number(b.get(3), "bbox h");
        } catch (IllegalArgumentException e) {
            throw bad(what + " bbox must be a list of 4 numbers, got " + shown(bbox));
        }
        return new double[] {x, y, x + w, y + h, score};
    }

    /** Whether a COCO entry is a person ({@code category_id} 1, the default); an error for a non-integer id. */
    private boolean isPerson(Map<?, ?> entry, String what) {
        Object category = entry.containsKey("category_id") ? entry.get("category_id") : (Object) 1L;
        String text = category instanceof Long ? String.valueOf(category)
                : category instanceof String ? (String) category : null;
        if (text == null || text.isEmpty() || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw bad(what + ": category_id must be an integer, got " + Json.write(category));
        }
        return text.replaceFirst("^0+(?=.)", "").equals("1");
    }

    private double score(Object score, String what) {
        if (!(score instanceof Number) || !Double.isFinite(((Number) score).doubleValue())) {
            throw bad(what + ": score must be a finite number, got " + Json.write(score));
        }
        return ((Number) score).doubleValue();
    }

    private static Object valueOr(Map<?, ?> entry, String key, Object missing) {
        return entry.containsKey(key) ? entry.get(key) : missing;
    }

    private static String shown(Object value) {
        String text = Json.write(value);
        return text.length() <= 60 ? text : text.substring(0, 57) + "...";
    }

    private void readResults(List<?> data) {
        for (int i = 0; i < data.size(); i++) {
            Object item = data.get(i);
            String where = "entry " + i;
            if (!(item instanceof Map) || !((Map<?, ?>) item).containsKey("image_id")
                    || !((Map<?, ?>) item).containsKey("bbox")) {
                throw bad(where + " is not a COCO detection (needs image_id and bbox [x, y, w, h])");
            }
            Map<?, ?> det = (Map<?, ?>) item;
            double[] box = xywh(det.get("bbox"), score(valueOr(det, "score", 1.0), where), where);
            if (isPerson(det, where)) {
                add(key(det.get("image_id")), box);
            }
        }
    }

    private void readDataset(Map<?, ?> data) {
        if (!(data.get("images") instanceof List) || !(data.get("annotations") instanceof List)) {
            throw bad("a COCO dataset file needs lists of 'images' and 'annotations'");
        }
        Map<String, String> names = new HashMap<>();
        List<?> images = (List<?>) data.get("images");
        for (int i = 0; i < images.size(); i++) {
            Object item = images.get(i);
            if (!(item instanceof Map) || !((Map<?, ?>) item).containsKey("id")
                    || !(((Map<?, ?>) item).get("file_name") instanceof String)) {
                throw bad("images[" + i + "] needs an id and a file_name");
            }
            Map<?, ?> image = (Map<?, ?>) item;
            if (image.get("id") instanceof Map || image.get("id") instanceof List) {
                throw bad("images[" + i + "]: id must be a number or a string");
            }
            names.put(key(image.get("id")), (String) image.get("file_name"));
            imageIds.put((String) image.get("file_name"), image.get("id"));
        }
        List<?> annotations = (List<?>) data.get("annotations");
        for (int i = 0; i < annotations.size(); i++) {
            Object item = annotations.get(i);
            String where = "annotation " + i;
            if (!(item instanceof Map) || !((Map<?, ?>) item).containsKey("bbox")
                    || !((Map<?, ?>) item).containsKey("image_id")) {
                throw bad(where + " lacks image_id or bbox");
            }
            Map<?, ?> ann = (Map<?, ?>) item;
            if (ann.get("image_id") instanceof Map || ann.get("image_id") instanceof List) {
                throw bad(where + ": image_id must be a number or a string");
            }
            double[] box = xywh(ann.get("bbox"), score(valueOr(ann, "score", 1.0), where), where);
            Object crowd = ann.get("iscrowd");
            if ((crowd instanceof Number && ((Number) crowd).doubleValue() != 0) || Boolean.TRUE.equals(crowd)
                    || !isPerson(ann, where)) {
                continue;
            }
            String imageKey = key(ann.get("image_id"));
            add(names.getOrDefault(imageKey, imageKey), box);
        }
    }

    private void readSimple(Map<?, ?> data) {
        for (Map.Entry<?, ?> entry : data.entrySet()) {
            String k = String.valueOf(entry.getKey());
            Object value = entry.getValue();
            String message = "entry '" + k + "' must be a list of [x1, y1, x2, y2] or [x1, y1, x2, y2, score]";
            if (!(value instanceof List)) {
                throw bad(message);
            }
            byKey.computeIfAbsent(k, x -> new ArrayList<>());
            List<?> boxes = (List<?>) value;
            for (int j = 0; j < boxes.size(); j++) {
                Object b = boxes.get(j);
                boolean numbers = b instanceof List && (((List<?>) b).size() == 4 || ((List<?>) b).size() == 5)
                        && ((List<?>) b).stream().allMatch(v -> v instanceof Number);
                if (!numbers) {
                    String text = Json.write(b);
                    throw bad(message + "; box " + j + " is " + (text.length() > 60 ? text.substring(0, 60) : text));
                }
                List<?> values = (List<?>) b;
                double[] box = new double[5];
                for (int i = 0; i < 4; i++) {
                    box[i] = ((Number) values.get(i)).doubleValue();
                }
                box[4] = values.size() == 5 ? score(values.get(4), "entry '" + k + "' box " + j) : 1.0;
                add(k, box);
            }
        }
    }

    /** The boxes of an image file (empty when the file lists none): by the path as given, file name, stem or id. */
    List<Box> forImage(Path image, Object imageId) {
        String name = image.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        for (String candidate : new String[] {image.toString(), name, stem, String.valueOf(imageId)}) {
            List<Box> found = byKey.get(candidate);
            if (found != null) {
                return Collections.unmodifiableList(found);
            }
        }
        return Collections.emptyList();
    }
}

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
            throw bad(what + " has no bbox [x, y, w, h]");
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
            throw bad(what + ": " + e.getMessage());
        }
        return new double[] {x, y, x + w, y + h, score};
    }

    private static boolean isPerson(Map<?, ?> entry) {
        Object category = entry.get("category_id");
        return category == null || (category instanceof Number && ((Number) category).doubleValue() == 1.0);
    }

    private double score(Map<?, ?> entry, String what) {
        Object score = entry.get("score");
        if (score == null) {
            return 1.0;
        }
        try {
            return number(score, "score");
        } catch (IllegalArgumentException e) {
            throw bad(what + ": " + e.getMessage());
        }
    }

    private void readResults(List<?> data) {
        for (int i = 0; i < data.size(); i++) {
            Object item = data.get(i);
            if (!(item instanceof Map) || !((Map<?, ?>) item).containsKey("image_id")
                    || !(((Map<?, ?>) item).get("bbox") instanceof List)
                    || ((List<?>) ((Map<?, ?>) item).get("bbox")).size() != 4) {
                throw bad("entry " + i + " is not a COCO detection (needs image_id and bbox [x, y, w, h])");
            }
            Map<?, ?> det = (Map<?, ?>) item;
            if (!isPerson(det)) {
                continue;
            }
            add(key(det.get("image_id")), xywh(det.get("bbox"), score(det, "entry " + i), "entry " + i));
        }
    }

    private void readDataset(Map<?, ?> data) {
        if (!(data.get("images") instanceof List) || !(data.get("annotations") instanceof List)) {
            throw bad("images and annotations must be lists");
        }
        Map<String, String> names = new HashMap<>();
        for (Object item : (List<?>) data.get("images")) {
            if (!(item instanceof Map) || !(((Map<?, ?>) item).get("file_name") instanceof String)) {
                throw bad("an image entry lacks id or file_name");
            }
            Map<?, ?> image = (Map<?, ?>) item;
            names.put(key(image.get("id")), (String) image.get("file_name"));
            imageIds.put((String) image.get("file_name"), image.get("id"));
        }
        List<?> annotations = (List<?>) data.get("annotations");
        for (int i = 0; i < annotations.size(); i++) {
            Object item = annotations.get(i);
            if (!(item instanceof Map) || !((Map<?, ?>) item).containsKey("bbox")
                    || !((Map<?, ?>) item).containsKey("image_id")) {
                throw bad("annotation " + i + " lacks image_id or bbox");
            }
            Map<?, ?> ann = (Map<?, ?>) item;
            Object crowd = ann.get("iscrowd");
            if ((crowd instanceof Number && ((Number) crowd).doubleValue() != 0) || Boolean.TRUE.equals(crowd)
                    || !isPerson(ann)) {
                continue;
            }
            String imageKey = key(ann.get("image_id"));
            add(names.getOrDefault(imageKey, imageKey), xywh(ann.get("bbox"), score(ann, "annotation " + i),
                    "annotation " + i));
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
            for (Object b : (List<?>) value) {
                if (!(b instanceof List) || (((List<?>) b).size() != 4 && ((List<?>) b).size() != 5)) {
                    throw bad(message);
                }
                List<?> values = (List<?>) b;
                double[] box = new double[values.size()];
                for (int i = 0; i < box.length; i++) {
                    if (!(values.get(i) instanceof Number)) {
                        throw bad(message);
                    }
                    box[i] = ((Number) values.get(i)).doubleValue();
                }
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

/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.litehrnet.internal.Json;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The small JSON reader/writer used for metadata, box files and results.json. */
class JsonTest {
    @Test
    void parsesWhatPythonWrites() {
        Object value = Json.parse("{\"a\": [1, -2.5, 3e2, true, null], \"b\": \"\\u00e9\\n\\\"x\\\"\", \"c\": {}}");
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("a", Arrays.asList(1L, -2.5, 300.0, true, null));
        expected.put("b", "\u00e9\n\"x\"");
        expected.put("c", Map.of());
        assertEquals(expected, value);
        assertEquals(List.of(), Json.parse(" [ ] "));
    }

    @Test
    void malformedTextSaysWhere() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("[1, 2"));
        assertTrue(e.getMessage().contains("at character 5"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\" 1}"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1] x"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1.2.3]"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse(null));
    }

    @Test
    void roundsAsPythonsRound() {
        // round(2.675, 4) = 2.675; round(0.12345, 4) = 0.1235 (0.12345 is 0.123450000000000004174 in binary)
        assertEquals("2.675", Json.rounded(2.675, 4).toString());
        assertEquals("0.1235", Json.rounded(0.12345, 4).toString());
        // 2.00045 is a little below 2.00045 in binary: down; 1.00035 a little above: up
        assertEquals("2.0004", Json.rounded(2.00045, 4).toString());
        assertEquals("1.0004", Json.rounded(1.00035, 4).toString());
        assertEquals("0.3", Json.rounded(0.30005, 4).toString());
        assertEquals("-3.0", Json.rounded(-3.0, 4).toString());
        assertEquals("[1, \"x\", 2.5, -7.25, NaN]", Json.write(Arrays.asList(1L, "x", 2.5, Json.rounded(-7.25, 4),
                Double.NaN)));
    }
}

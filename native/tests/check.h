/*
 * check.h - the C tests' one assertion: CHECK(condition, printf-style message) counts the check and,
 * when the condition is false, the failure, printing "FAIL file:line: message" (the test goes on).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef LHR_TESTS_CHECK_H
#define LHR_TESTS_CHECK_H

#include <stdio.h>

static int failures = 0, checks = 0;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        checks++;                                                \
        if (!(cond)) {                                           \
            failures++;                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, "\n");                               \
        }                                                        \
    } while (0)

#endif /* LHR_TESTS_CHECK_H */

/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the fuzz targets (style rule 12; systemd src/fuzz/fuzz.h). Every tests/fuzz/fuzz-<name>.c
 * exports LLVMFuzzerTestOneInput() and is linked either with fuzz-main.c (a plain program that replays a
 * corpus; the `fuzz` meson test suite) or with libFuzzer (-fsanitize=fuzzer, tests/fuzz/run-fuzzers.sh).
 *
 * A target starts with fuzz_setup(size): logging goes nowhere (unless $AZL_FUZZ_LOG is set, to debug a
 * reproducer), and inputs above FUZZ_INPUT_MAX are skipped (returns false): every parser bounds its input
 * at 1 MiB or more and rejects larger documents before looking at them, so big inputs only slow the fuzzer.
 *
 * fuzz_check() is an assert() that NDEBUG cannot remove: a violated invariant aborts, which both drivers
 * report as a crash together with the input.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define FUZZ_INPUT_MAX (1024U * 1024U)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline bool fuzz_setup(size_t size) {
        static bool initialized = false;

        if (!initialized) {
                initialized = true;
                if (!getenv("AZL_FUZZ_LOG")) {
                        log_setup(NULL, LOG_TARGET_NULL);
                        log_set_max_level(LOG_EMERG - 1);
                } else {
                        log_setup(NULL, LOG_TARGET_STDERR);
                        log_set_max_level(LOG_DEBUG);
                }
        }
        return size <= FUZZ_INPUT_MAX;
}

#define fuzz_check(expr)                                                                                    \
        do {                                                                                                \
                if (!(expr)) {                                                                              \
                        fprintf(stderr, "%s:%d: %s: invariant violated: %s\n", __FILE__, __LINE__,          \
                                __func__, #expr);                                                           \
                        abort();                                                                            \
                }                                                                                           \
        } while (0)

/* A parsed string (NULL allowed) is NUL-terminated within max bytes. Under ASan, strnlen() reading past the
 * allocation is reported as well. */
static inline bool fuzz_string_ok(const char *s, size_t max) {
        return !s || strnlen(s, max + 1) <= max;
}

/* Every element of a strv is a bounded string. */
static inline bool fuzz_strv_ok(char *const *l, size_t max_items, size_t max_len) {
        size_t n = 0;

        for (char *const *p = l; p && *p; p++, n++)
                if (n >= max_items || !fuzz_string_ok(*p, max_len))
                        return false;
        return true;
}

/* A fixed-size char array (JsonError.field, .message) holds a NUL-terminated string. */
#define fuzz_array_terminated(a) (memchr((a), 0, sizeof(a)) != NULL)

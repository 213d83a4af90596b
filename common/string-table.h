/* SPDX-License-Identifier: MIT */
/*
 * Enum ↔ string tables, as systemd's DEFINE_STRING_TABLE_LOOKUP. An enum ends with _X_MAX and
 * _X_INVALID = -EINVAL (docs/style.md); its names are a designated-initializer array called <name>_table:
 *
 *   static const char *const step_result_table[_STEP_RESULT_MAX] = {
 *           [STEP_CHANGED] = "changed",
 *           …
 *   };
 *   DEFINE_STRING_TABLE_LOOKUP(step_result, StepResult);
 *
 * defines step_result_to_string() (NULL for a value outside the table or a hole in it) and
 * step_result_from_string() (the value whose name matches exactly; -EINVAL, i.e. _X_INVALID, for NULL or a
 * string that matches none). The _CASE variants match ignoring ASCII case (configuration values, names
 * waagent compares case-insensitively); _TO_STRING defines only the first function, DEFINE_PRIVATE_… makes
 * it static.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "macro.h"

static inline const char *string_table_lookup_to_string(const char *const *table, size_t n, int i) {
        return i >= 0 && (size_t) i < n ? table[i] : NULL;
}

static inline int string_table_lookup_from_string(const char *const *table, size_t n, const char *s,
                                                  bool ignore_case) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && (ignore_case ? strcasecmp(table[i], s) : strcmp(table[i], s)) == 0)
                        return (int) i;
        return -EINVAL;
}

#define _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, scope)                                            \
        scope const char *name##_to_string(type i) {                                                        \
                return string_table_lookup_to_string(name##_table, ELEMENTSOF(name##_table), (int) i);      \
        }

#define _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, scope, ignore_case)                             \
        scope type name##_from_string(const char *s) {                                                      \
                return (type) string_table_lookup_from_string(name##_table, ELEMENTSOF(name##_table), s,    \
                                                              ignore_case);                                 \
        }

#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type) _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, )
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_TO_STRING(name, type)                                            \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, static)

#define DEFINE_STRING_TABLE_LOOKUP(name, type)                                                              \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, )                                                 \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, , false)
#define DEFINE_STRING_TABLE_LOOKUP_CASE(name, type)                                                         \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, )                                                 \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, , true)

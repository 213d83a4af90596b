/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers of the extensions module (not installed, not used outside extensions/): error strings for
 * ret_error out-parameters, compact JSON re-serialization and bounded growth of arrays.
 */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

#include "macro.h"

/* Formats a reason into *ret_error (if ret_error is not NULL and no reason was set yet) and returns r. */
int ext_error(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);

/* Compact JSON text of o ("null" never returned: NULL for a JSON null). */
int ext_json_compact(struct json_object *o, char **ret);

/* Grows *array (of n elements of size sz) by one zeroed element, failing with -E2BIG at max. */
int ext_array_grow(void **array, size_t *n, size_t sz, size_t max, void **ret_new);
#define EXT_ARRAY_GROW(array, n, max, ret_new)                                                              \
        ext_array_grow((void **) &(array), &(n), sizeof(*(array)), (max), (void **) (ret_new))

/* Case-insensitive member lookup (vmSettings keys, §3.2 _CaseFoldedDict). */
struct json_object *ext_json_get(struct json_object *o, const char *key);

/* Splits a HandlerManifest command (wire protocol §4.2: shell text by contract) into the words a POSIX shell
 * would read from it, when that is all a shell would do with it: blanks (space, tab) separate words, and every
 * word is made only of characters no shell gives a meaning to — letters, digits and _ - . / , : + @ % — with
 * '=' allowed after the first word (there it would be an assignment). Anything else (quotes, $, `, \,
 * redirections, control operators, globs, ~, braces, #, newlines, bytes ≥ 0x80) needs the shell. Returns 1 and a
 * NULL-terminated vector in *ret, 0 when the shell is needed (or the command is empty), -ENOMEM. */
int ext_command_split(const char *cmd, char ***ret);

/* free() that returns NULL, for "p = mfree(p);". */
static inline void *mfree_ptr(void *p) {
        free(p);
        return NULL;
}
static inline char *mfree_str(char *p) {
        free(p);
        return NULL;
}

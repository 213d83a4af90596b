/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers of the extensions module; see ext-util.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ext-util.h"
#include "json-util.h"
#include "strutil.h"

int ext_error(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        if (!ret_error || *ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        *ret_error = s;
        return r;
}

int ext_json_compact(struct json_object *o, char **ret) {
        const char *t;
        char *s;

        if (!o) {
                *ret = NULL;
                return 0;
        }
        t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!t)
                return -ENOMEM;
        s = strdup(t);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int ext_array_grow(void **array, size_t *n, size_t sz, size_t max, void **ret_new) {
        void *a;

        if (*n >= max)
                return -E2BIG;
        a = realloc(*array, (*n + 1) * sz);
        if (!a)
                return -ENOMEM;
        memset((char *) a + *n * sz, 0, sz);
        *array = a;
        *ret_new = (char *) a + *n * sz;
        (*n)++;
        return 0;
}

struct json_object *ext_json_get(struct json_object *o, const char *key) {
        return json_get(o, key, true);
}

static bool plain_char(char c, bool first_word) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               strchr("_-./,:+@%", c) || (c == '=' && !first_word);
}

int ext_command_split(const char *cmd, char ***ret) {
        _cleanup_strv_free_ char **words = NULL;
        size_t n = 0;

        for (const char *p = cmd;;) {
                const char *start;
                char *w;

                p += strspn(p, " \t");
                if (!*p)
                        break;
                for (start = p; *p && *p != ' ' && *p != '\t'; p++)
                        if (!plain_char(*p, n == 0))
                                return 0;
                w = strndup(start, p - start);
                if (!w || strv_push(&words, w) < 0) {
                        free(w);
                        return -ENOMEM;
                }
                n++;
        }
        if (n == 0)
                return 0;
        *ret = TAKE_PTR(words);
        return 1;
}

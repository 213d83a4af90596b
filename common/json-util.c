/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json-util.h"
#include "strutil.h"

int json_error(JsonError *err, const char *field, const char *fmt, ...) {
        va_list ap;

        if (err) {
                snprintf(err->field, sizeof err->field, "%s", strempty(field));
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof err->message, fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

int json_parse_buffer(const char *buf, size_t len, struct json_object **ret, JsonError *err) {
        struct json_tokener *tok;
        struct json_object *o;
        enum json_tokener_error e;
        size_t consumed;

        if (len > INT32_MAX)
                return -E2BIG;
        if (memchr(buf, 0, len))
                return json_error(err, NULL, "document contains a NUL byte");
        tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, buf, (int) len);
        e = json_tokener_get_error(tok);
        consumed = json_tokener_get_parse_end(tok);
        if (e == json_tokener_continue && !o) {
                /* A top-level scalar ("1") only ends at the terminating NUL; feed it. Truncated objects and
                 * arrays stay incomplete and are reported below. */
                o = json_tokener_parse_ex(tok, "", 1);
                e = json_tokener_get_error(tok);
                if (e != json_tokener_success)
                        e = json_tokener_continue;
        }
        json_tokener_free(tok);
        if (e == json_tokener_continue) {
                json_object_put(o);
                return json_error(err, NULL, "document is truncated");
        }
        if (e != json_tokener_success || !o) {
                json_object_put(o);
                return json_error(err, NULL, "invalid JSON at offset %zu: %s", consumed,
                                  json_tokener_error_desc(e));
        }
        for (size_t i = consumed; i < len; i++)
                if (!strchr(" \t\r\n", buf[i])) {
                        json_object_put(o);
                        return json_error(err, NULL, "trailing data after the JSON value at offset %zu", i);
                }
        *ret = o;
        return 0;
}

struct json_object *json_get(struct json_object *o, const char *key, bool case_insensitive) {
        struct json_object *v = NULL;

        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (json_object_object_get_ex(o, key, &v))
                return v;
        if (!case_insensitive)
                return NULL;
        json_object_object_foreach (o, k, val)
                if (strcasecmp(k, key) == 0)
                        return val;
        return NULL;
}

int json_dispatch(struct json_object *o, const JsonDispatch *table, JsonDispatchFlags flags, void *base,
                  JsonError *err) {
        if (!o || !json_object_is_type(o, json_type_object))
                return json_error(err, NULL, "expected a JSON object");
        for (const JsonDispatch *d = table; d->name; d++) {
                struct json_object *v = json_get(o, d->name, flags & JSON_CASE_INSENSITIVE);
                int r;

                if (!v) {
                        /* json-c maps JSON null to a NULL object: distinguish null from absent. */
                        bool present = json_object_object_get_ex(o, d->name, NULL);

                        if (present && (d->flags & JSON_NULLABLE))
                                continue;
                        if (d->flags & JSON_MANDATORY)
                                return json_error(err, d->name,
                                                  present ? "field '%s' is null"
                                                          : "mandatory field '%s' is missing",
                                                  d->name);
                        continue;
                }
                r = d->func(d->name, v, (uint8_t *) base + d->offset, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int json_dispatch_string(const char *name, struct json_object *v, void *dest, JsonError *err) {
        if (!json_object_is_type(v, json_type_string))
                return json_error(err, name, "field '%s' is not a string", name);
        if (free_and_strdup(dest, json_object_get_string(v)) < 0)
                return -ENOMEM;
        return 0;
}

int json_dispatch_bool(const char *name, struct json_object *v, void *dest, JsonError *err) {
        if (!json_object_is_type(v, json_type_boolean))
                return json_error(err, name, "field '%s' is not a boolean", name);
        *(bool *) dest = json_object_get_boolean(v);
        return 0;
}

int json_dispatch_boolish(const char *name, struct json_object *v, void *dest, JsonError *err) {
        if (json_object_is_type(v, json_type_string)) {
                const char *s = json_object_get_string(v);

                if (strcasecmp(s, "true") == 0)
                        *(bool *) dest = true;
                else if (strcasecmp(s, "false") == 0)
                        *(bool *) dest = false;
                else
                        return json_error(err, name, "field '%s' is not \"true\" or \"false\"", name);
                return 0;
        }
        return json_dispatch_bool(name, v, dest, err);
}

int json_dispatch_int(const char *name, struct json_object *v, void *dest, JsonError *err) {
        int64_t i;

        if (!json_object_is_type(v, json_type_int))
                return json_error(err, name, "field '%s' is not an integer", name);
        i = json_object_get_int64(v);
        if (i < INT32_MIN || i > INT32_MAX)
                return json_error(err, name, "field '%s' is out of range", name);
        *(int *) dest = (int) i;
        return 0;
}

int json_dispatch_uintish(const char *name, struct json_object *v, void *dest, JsonError *err) {
        unsigned u;

        if (json_object_is_type(v, json_type_string)) {
                if (safe_atou(json_object_get_string(v), &u) < 0)
                        return json_error(err, name, "field '%s' is not an unsigned number", name);
                *(unsigned *) dest = u;
                return 0;
        }
        if (json_object_is_type(v, json_type_int)) {
                int64_t i = json_object_get_int64(v);

                if (i < 0 || i > UINT32_MAX)
                        return json_error(err, name, "field '%s' is out of range", name);
                *(unsigned *) dest = (unsigned) i;
                return 0;
        }
        return json_error(err, name, "field '%s' is not a number", name);
}

int json_dispatch_strv(const char *name, struct json_object *v, void *dest, JsonError *err) {
        char ***l = dest, **n = NULL;
        size_t len;

        if (!json_object_is_type(v, json_type_array))
                return json_error(err, name, "field '%s' is not an array", name);
        len = json_object_array_length(v);
        for (size_t i = 0; i < len; i++) {
                struct json_object *e = json_object_array_get_idx(v, i);

                if (!json_object_is_type(e, json_type_string)) {
                        strv_free(n);
                        return json_error(err, name, "element %zu of '%s' is not a string", i, name);
                }
                if (strv_extend(&n, json_object_get_string(e)) < 0) {
                        strv_free(n);
                        return -ENOMEM;
                }
        }
        if (!n && !(n = calloc(1, sizeof(char *))))
                return -ENOMEM;
        strv_free(*l);
        *l = n;
        return 0;
}

static int dispatch_ref(const char *name, struct json_object *v, void *dest, JsonError *err, json_type t,
                        const char *what) {
        if (!json_object_is_type(v, t))
                return json_error(err, name, "field '%s' is not %s", name, what);
        json_object_put(*(struct json_object **) dest);
        *(struct json_object **) dest = json_object_get(v);
        return 0;
}

int json_dispatch_object(const char *name, struct json_object *v, void *dest, JsonError *err) {
        return dispatch_ref(name, v, dest, err, json_type_object, "an object");
}

int json_dispatch_array(const char *name, struct json_object *v, void *dest, JsonError *err) {
        return dispatch_ref(name, v, dest, err, json_type_array, "an array");
}

/* SPDX-License-Identifier: MIT */
/*
 * json-c helpers: bounded parsing and typed dispatch tables (systemd's json_dispatch pattern over json-c).
 * A table lists each field with its expected type, a parser and where to store it; unknown fields are
 * ignored (forward compatibility), a wrong type or a missing mandatory field fails with -EBADMSG and names
 * the field in a JsonError.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

#define JSON_DEPTH_MAX 64

typedef struct JsonError {
        char field[128];
        char message[256];
} JsonError;

typedef enum JsonDispatchFlags {
        JSON_MANDATORY = 1 << 0, /* field must be present */
        JSON_NULLABLE = 1 << 1,  /* JSON null accepted (leaves the destination untouched) */
        JSON_CASE_INSENSITIVE =
                1 << 2, /* table-wide: match keys ignoring ASCII case (HostGAPlugin vmSettings) */
} JsonDispatchFlags;

typedef int (*JsonDispatchFunc)(const char *name, struct json_object *v, void *dest, JsonError *err);

typedef struct JsonDispatch {
        const char *name;
        JsonDispatchFunc func;
        size_t offset;
        JsonDispatchFlags flags;
} JsonDispatch;

/* Parses exactly one JSON value from buf (len bytes, no trailing garbage, depth ≤ JSON_DEPTH_MAX). */
int json_parse_buffer(const char *buf, size_t len, struct json_object **ret, JsonError *err);

/* Dispatches the members of object o through table (terminated by an entry with name == NULL) into base. */
int json_dispatch(struct json_object *o, const JsonDispatch *table, JsonDispatchFlags flags, void *base,
                  JsonError *err);

/* Member lookup honouring JSON_CASE_INSENSITIVE. */
struct json_object *json_get(struct json_object *o, const char *key, bool case_insensitive);

/* Sets err (if not NULL) and returns -EBADMSG. */
int json_error(JsonError *err, const char *field, const char *fmt, ...) _printf_(3, 4);

/* Stock dispatchers. dest points at the field. */
int json_dispatch_string(const char *name, struct json_object *v, void *dest, JsonError *err); /* char* */
int json_dispatch_bool(const char *name, struct json_object *v, void *dest, JsonError *err);   /* bool */
/* bool given as JSON boolean or as the strings "true"/"false" (IMDS sends strings) */
int json_dispatch_boolish(const char *name, struct json_object *v, void *dest, JsonError *err);
int json_dispatch_int(const char *name, struct json_object *v, void *dest, JsonError *err); /* int */
/* unsigned from a JSON integer or a decimal string (IMDS prefixes are strings) */
int json_dispatch_uintish(const char *name, struct json_object *v, void *dest,
                          JsonError *err);                                                   /* unsigned */
int json_dispatch_strv(const char *name, struct json_object *v, void *dest, JsonError *err); /* char** */
/* keeps a reference to the value (object/array) for later dispatch */
int json_dispatch_object(const char *name, struct json_object *v, void *dest,
                         JsonError *err); /* json_object* */
int json_dispatch_array(const char *name, struct json_object *v, void *dest,
                        JsonError *err); /* json_object* */

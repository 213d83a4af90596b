/* SPDX-License-Identifier: MIT */
/*
 * Extension status file and heartbeat parsers, and the VM status blob builder (wire protocol §4.7–4.9; waagent
 * exthandlers.py parse_ext_status/collect_heartbeat, wire.py StatusBlob). Parsers are pure over (buf, len).
 * The blob is built as a json-c tree in waagent's key order and serialized by json_dumps_python().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ext-util.h"
#include "json-util.h"
#include "status-blob.h"

static const char *const ext_status_values[] = {"transitioning", "warning", "error", "success"};
static const char *const handler_status_values[] = {"Ready", "NotReady", "Installing", "Unresponsive"};

static bool in_list(const char *s, const char *const *l, size_t n) {
        for (size_t i = 0; s && i < n; i++)
                if (streq(s, l[i]))
                        return true;
        return false;
}

void ext_status_done(ExtensionStatus *s) {
        if (!s)
                return;
        free(s->name);
        free(s->configuration_applied_time);
        free(s->operation);
        free(s->status);
        free(s->message);
        for (size_t i = 0; i < s->n_substatus; i++) {
                free(s->substatus[i].name);
                free(s->substatus[i].status);
                free(s->substatus[i].message);
        }
        free(s->substatus);
        *s = (ExtensionStatus){};
}

/* Copies a string member (other scalars as their JSON text, as Python would keep them); NULL when absent. */
static int dup_member(struct json_object *o, const char *key, char **dest) {
        struct json_object *v = json_get(o, key, false);

        if (!v)
                return 0;
        return free_and_strdup(dest, json_object_get_string(v));
}

/* "code" is an integer, or a numeric string (e.g. substatus "code": "0"); default 0. */
static int get_code(struct json_object *o, const char *path, int *ret, char **reason) {
        struct json_object *v = json_get(o, "code", false);

        *ret = 0;
        if (!v)
                return 0;
        if (json_object_is_type(v, json_type_int)) {
                *ret = json_object_get_int(v);
                return 0;
        }
        if (json_object_is_type(v, json_type_string) && safe_atoi(json_object_get_string(v), ret) >= 0)
                return 0;
        return ext_error(reason, -EBADMSG, "Invalid value for %s/code", path);
}

/* formattedMessage: null/absent → NULL; otherwise must have 'lang' and 'message' (message may be null). */
static int get_formatted_message(struct json_object *o, const char *path, char **dest, char **reason) {
        struct json_object *fm = json_get(o, "formattedMessage", false);

        if (!fm)
                return 0;
        if (!json_object_is_type(fm, json_type_object))
                return ext_error(reason, -EBADMSG, "%s/formattedMessage is not an object", path);
        if (!json_object_object_get_ex(fm, "lang", NULL))
                return ext_error(reason, -EBADMSG, "Missing %s/formattedMessage/lang key", path);
        if (!json_object_object_get_ex(fm, "message", NULL))
                return ext_error(reason, -EBADMSG, "Missing %s/formattedMessage/message key", path);
        return dup_member(fm, "message", dest);
}

static int truncate_field(char **s, size_t max) {
        _cleanup_free_ char *t = NULL;
        char *n = NULL;

        if (!*s || strlen(*s) <= max)
                return 0;
        if (utf8_truncate(*s, max, &t) < 0 || asprintf(&n, "%s" EXT_STATUS_TRUNCATED_SUFFIX, t) < 0)
                return -ENOMEM;
        free(*s);
        *s = n;
        return 1;
}

static int parse_substatus(struct json_object *o, SubStatus *s, char **reason) {
        struct json_object *st = json_get(o, "status", false);
        int r;

        if (!st)
                return ext_error(reason, -EBADMSG, "Missing substatus/status key");
        if (!in_list(json_object_get_string(st), ext_status_values, ELEMENTSOF(ext_status_values)))
                return ext_error(reason, -EBADMSG, "Invalid value %s at the node substatus/status",
                                 json_object_get_string(st));
        if ((r = free_and_strdup(&s->status, json_object_get_string(st))) < 0 ||
            (r = dup_member(o, "name", &s->name)) < 0 ||
            (r = get_code(o, "substatus", &s->code, reason)) < 0)
                return r;
        return get_formatted_message(o, "substatus", &s->message, reason);
}

static int parse_status_object(struct json_object *data, ExtensionStatus *s, char **reason) {
        struct json_object *sd = json_get(data, "status", false), *st, *subs;
        int r;

        if (!sd || !json_object_is_type(sd, json_type_object))
                return ext_error(reason, -EBADMSG, "Missing status key");
        st = json_get(sd, "status", false);
        if (!st)
                return ext_error(reason, -EBADMSG, "Missing status/status key");
        /* An unknown status value is reported as error. */
        r = free_and_strdup(&s->status, in_list(json_object_get_string(st), ext_status_values,
                                                ELEMENTSOF(ext_status_values))
                                                ? json_object_get_string(st)
                                                : "error");
        if (r < 0)
                return r;
        if ((r = dup_member(sd, "name", &s->name)) < 0 ||
            (r = dup_member(sd, "configurationAppliedTime", &s->configuration_applied_time)) < 0 ||
            (r = dup_member(sd, "operation", &s->operation)) < 0 ||
            (r = get_code(sd, "status", &s->code, reason)) < 0 ||
            (r = get_formatted_message(sd, "status", &s->message, reason)) < 0)
                return r;

        /* Some extensions report a null substatus: tolerated, as are null entries. */
        subs = json_get(sd, "substatus", false);
        if (!subs)
                return 0;
        if (!json_object_is_type(subs, json_type_array))
                return ext_error(reason, -EBADMSG, "status/substatus is not an array");
        for (size_t i = 0; i < json_object_array_length(subs); i++) {
                struct json_object *e = json_object_array_get_idx(subs, i);
                SubStatus *ss;

                if (!e)
                        continue;
                r = EXT_ARRAY_GROW(s->substatus, s->n_substatus, EXT_STATUS_SUBSTATUS_MAX, &ss);
                if (r < 0)
                        return ext_error(reason, r, "Too many substatus entries");
                r = parse_substatus(e, ss, reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

int ext_status_parse(const char *buf, size_t len, ExtensionStatus *ret, char **ret_error) {
        _cleanup_(ext_status_done) ExtensionStatus s = {};
        _cleanup_json_ struct json_object *o = NULL;
        JsonError err = {};
        int r;

        if (len > EXT_STATUS_PARSE_MAX)
                return ext_error(ret_error, -E2BIG, "The status file exceeds %u bytes",
                                 EXT_STATUS_PARSE_MAX);
        r = json_parse_buffer(buf, len, &o, &err);
        if (r < 0)
                return ext_error(ret_error, r, "The status file is not valid JSON: %s", err.message);
        if (!json_object_is_type(o, json_type_array))
                return ext_error(ret_error, -EBADMSG, "The extension status must be an array");
        if (json_object_array_length(o) == 0)
                return -ENODATA;
        /* Only the first status is reported. */
        r = parse_status_object(json_object_array_get_idx(o, 0), &s, ret_error);
        if (r < 0)
                return r;

        /* Over 128 KB the message is cut to 1024 characters and each substatus name/message to 10 KB. */
        if (len > EXT_STATUS_FILE_MAX_SIZE) {
                r = truncate_field(&s.message, EXT_STATUS_MESSAGE_TRUNCATED_LEN);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < s.n_substatus; i++)
                        if ((r = truncate_field(&s.substatus[i].name, EXT_SUBSTATUS_FIELD_TRUNCATED_LEN)) <
                                    0 ||
                            (r = truncate_field(&s.substatus[i].message,
                                                EXT_SUBSTATUS_FIELD_TRUNCATED_LEN)) < 0)
                                return r;
                s.truncated = true;
        }
        *ret = s;
        s = (ExtensionStatus){};
        return 0;
}

void heartbeat_done(Heartbeat *h) {
        if (!h)
                return;
        free(h->status);
        free(h->message);
        *h = (Heartbeat){};
}

int heartbeat_parse(const char *buf, size_t len, Heartbeat *ret, char **ret_error) {
        _cleanup_(heartbeat_done) Heartbeat h = {};
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *hb, *st;
        JsonError err = {};
        int r;

        if (len > EXT_STATUS_FILE_MAX_SIZE)
                return ext_error(ret_error, -E2BIG, "heartbeat.log exceeds %u bytes",
                                 EXT_STATUS_FILE_MAX_SIZE);
        r = json_parse_buffer(buf, len, &o, &err);
        if (r < 0)
                return ext_error(ret_error, r, "Failed to get heartbeat file: %s", err.message);
        hb = json_get(json_object_is_type(o, json_type_array) ? json_object_array_get_idx(o, 0) : NULL,
                      "heartbeat", false);
        if (!hb)
                return ext_error(ret_error, -EBADMSG, "Malformed heartbeat file");
        st = json_get(hb, "status", false);
        if (!st ||
            !in_list(json_object_get_string(st), handler_status_values, ELEMENTSOF(handler_status_values)))
                return ext_error(ret_error, -EBADMSG, "Invalid heartbeat status");
        if ((r = free_and_strdup(&h.status, json_object_get_string(st))) < 0 ||
            (r = get_code(hb, "heartbeat", &h.code, ret_error)) < 0 ||
            (r = get_formatted_message(hb, "heartbeat", &h.message, ret_error)) < 0)
                return r;
        *ret = h;
        h = (Heartbeat){};
        return 0;
}

/* ---- json.dumps() ---- */

static void dump_string(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        fputc('"', f);
        while (*p) {
                uint32_t c = *p;
                size_t n = 1;

                if (c >= 0x80) {
                        /* Decode UTF-8 (json-c validated it); Python escapes every non-ASCII code point. */
                        if ((c & 0xE0) == 0xC0 && p[1])
                                c = ((c & 0x1F) << 6) | (p[1] & 0x3F), n = 2;
                        else if ((c & 0xF0) == 0xE0 && p[1] && p[2])
                                c = ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F), n = 3;
                        else if ((c & 0xF8) == 0xF0 && p[1] && p[2] && p[3])
                                c = ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) |
                                    (p[3] & 0x3F),
                                n = 4;
                        else
                                c = 0xFFFD;
                        if (c >= 0x10000) {
                                c -= 0x10000;
                                fprintf(f, "\\u%04x\\u%04x", 0xD800 | (c >> 10), 0xDC00 | (c & 0x3FF));
                        } else
                                fprintf(f, "\\u%04x", c);
                } else if (c == '"')
                        fputs("\\\"", f);
                else if (c == '\\')
                        fputs("\\\\", f);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\r')
                        fputs("\\r", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c == '\b')
                        fputs("\\b", f);
                else if (c == '\f')
                        fputs("\\f", f);
                else if (c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc((int) c, f);
                p += n;
        }
        fputc('"', f);
}

static void dump_value(FILE *f, struct json_object *o) {
        bool first = true;

        switch (json_object_get_type(o)) {
        case json_type_null:
                fputs("null", f);
                break;
        case json_type_boolean:
                fputs(json_object_get_boolean(o) ? "true" : "false", f);
                break;
        case json_type_int:
                fprintf(f, "%" PRId64, json_object_get_int64(o));
                break;
        case json_type_double:
                /* json_object_new_double_s() keeps Python's repr ("1.0"). */
                fputs(json_object_to_json_string(o), f);
                break;
        case json_type_string:
                dump_string(f, json_object_get_string(o));
                break;
        case json_type_array:
                fputc('[', f);
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        if (i > 0)
                                fputs(", ", f);
                        dump_value(f, json_object_array_get_idx(o, i));
                }
                fputc(']', f);
                break;
        case json_type_object:
                fputc('{', f);
                json_object_object_foreach (o, k, v) {
                        if (!first)
                                fputs(", ", f);
                        first = false;
                        dump_string(f, k);
                        fputs(": ", f);
                        dump_value(f, v);
                }
                fputc('}', f);
                break;
        }
}

int json_dumps_python(struct json_object *o, char **ret) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        if (!f)
                return -ENOMEM;
        dump_value(f, o);
        if (fclose(f) != 0) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

/* ---- status blob ---- */

static struct json_object *jstr(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static void add(struct json_object *o, const char *k, struct json_object *v) {
        json_object_object_add(o, k, v);
}

static struct json_object *formatted_message(const char *message) {
        struct json_object *o = json_object_new_object();

        add(o, "lang", jstr("en-US"));
        add(o, "message", jstr(message));
        return o;
}

static struct json_object *version_1_0(void) {
        return json_object_new_double_s(1.0, "1.0");
}

static struct json_object *settings_status(const ExtensionStatus *e, const char *timestamp) {
        struct json_object *st = json_object_new_object(), *ss = json_object_new_object();

        /* Key order of waagent's ExtensionStatus serialization (sample-status-blob.json). */
        add(st, "name", jstr(e->name));
        add(st, "configurationAppliedTime", jstr(e->configuration_applied_time));
        add(st, "operation", jstr(e->operation));
        add(st, "status", jstr(e->status));
        add(st, "code", json_object_new_int(e->code));
        add(st, "formattedMessage", formatted_message(e->message));
        if (e->n_substatus > 0) {
                struct json_object *a = json_object_new_array();

                for (size_t i = 0; i < e->n_substatus; i++) {
                        struct json_object *s = json_object_new_object();

                        add(s, "name", jstr(e->substatus[i].name));
                        add(s, "status", jstr(e->substatus[i].status));
                        add(s, "code", json_object_new_int(e->substatus[i].code));
                        add(s, "formattedMessage", formatted_message(e->substatus[i].message));
                        json_object_array_add(a, s);
                }
                add(st, "substatus", a);
        }
        add(ss, "status", st);
        add(ss, "version", version_1_0());
        add(ss, "timestampUTC", jstr(timestamp));
        return ss;
}

static struct json_object *handler_status(const HandlerStatusReport *h, const char *timestamp) {
        struct json_object *o = json_object_new_object();

        add(o, "handlerVersion", jstr(h->version));
        add(o, "handlerName", jstr(h->name));
        add(o, "status", jstr(h->status));
        add(o, "code", json_object_new_int(h->code));
        add(o, "useExactVersion", json_object_new_boolean(true));
        add(o, "formattedMessage", formatted_message(h->message));
        if (h->extension_status) {
                struct json_object *rs = json_object_new_object();

                add(rs, "settingsStatus", settings_status(h->extension_status, timestamp));
                add(rs, "sequenceNumber", json_object_new_int64(h->sequence_number));
                if (h->extension_name)
                        add(rs, "extensionName", jstr(h->extension_name));
                add(o, "runtimeSettingsStatus", rs);
        }
        return o;
}

int status_blob_build(const VmStatusReport *r, char **ret) {
        _cleanup_json_ struct json_object *root = json_object_new_object();
        struct json_object *agg, *ga, *handlers, *os, *features;
        char ts[64];
        int k;

        k = format_timestamp_iso(r->timestamp, ts, sizeof ts);
        if (k < 0)
                return k;
        if (!root)
                return -ENOMEM;

        add(root, "version", jstr("1.1"));
        add(root, "timestampUTC", jstr(ts));

        agg = json_object_new_object();
        ga = json_object_new_object();
        add(ga, "version", jstr(r->agent_version));
        add(ga, "status", jstr(r->agent_status));
        add(ga, "formattedMessage", formatted_message(r->agent_message));
        add(agg, "guestAgentStatus", ga);

        handlers = json_object_new_array();
        for (size_t i = 0; i < r->n_handlers; i++)
                json_object_array_add(handlers, handler_status(&r->handlers[i], ts));
        add(agg, "handlerAggregateStatus", handlers);

        if (r->has_goal_state_status) {
                struct json_object *va = json_object_new_object(), *gs = json_object_new_object();

                add(gs, "formattedMessage", formatted_message(r->goal_state_message));
                add(gs, "timestampUTC", jstr(ts));
                add(gs, "inSvdSeqNo", jstr(r->in_svd_seq_no));
                add(gs, "status", jstr(r->goal_state_status));
                add(gs, "code", json_object_new_int(r->goal_state_code));
                add(va, "goalStateAggregateStatus", gs);
                add(agg, "vmArtifactsAggregateStatus", va);
        }
        add(root, "aggregateStatus", agg);

        os = json_object_new_object();
        add(os, "computerName", jstr(r->computer_name));
        add(os, "osName", jstr(r->os_name));
        add(os, "osVersion", jstr(r->os_version));
        add(os, "version", jstr(r->agent_version));
        add(root, "guestOSInfo", os);

        features = json_object_new_array();
        for (char *const *f = r->supported_features; f && *f; f++) {
                struct json_object *e = json_object_new_object();

                add(e, "Key", jstr(*f));
                add(e, "Value", jstr("1.0"));
                json_object_array_add(features, e);
        }
        add(root, "supportedFeatures", features);

        return json_dumps_python(root, ret);
}

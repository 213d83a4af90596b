/* SPDX-License-Identifier: MIT */
/* daemon.json (see daemon-state.h): json-c in, json-c out, one atomic write. */
#include <stdio.h>
#include <string.h>

#include "daemon-state.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"

void daemon_state_clear_handlers(DaemonState *s) {
        for (size_t i = 0; i < s->n_handlers; i++)
                ext_handler_result_done(&s->handlers[i]);
        free(s->handlers);
        s->handlers = NULL;
        s->n_handlers = 0;
}

void daemon_state_done(DaemonState *s) {
        free(s->incarnation);
        free(s->etag);
        free(s->executed_id);
        free(s->status_hash);
        daemon_state_clear_handlers(s);
        json_object_put(s->timings);
        *s = (DaemonState){};
}

static int copy_extension_status(const ExtensionStatus *from, ExtensionStatus *to) {
        *to = (ExtensionStatus){.code = from->code, .truncated = from->truncated};
        if (free_and_strdup(&to->name, from->name) < 0 ||
            free_and_strdup(&to->configuration_applied_time, from->configuration_applied_time) < 0 ||
            free_and_strdup(&to->operation, from->operation) < 0 ||
            free_and_strdup(&to->status, from->status) < 0 ||
            free_and_strdup(&to->message, from->message) < 0)
                goto oom;
        if (from->n_substatus > 0) {
                to->substatus = calloc(from->n_substatus, sizeof *to->substatus);
                if (!to->substatus)
                        goto oom;
                for (size_t i = 0; i < from->n_substatus; i++) {
                        const SubStatus *f = &from->substatus[i];
                        SubStatus *t = &to->substatus[i];

                        to->n_substatus++;
                        t->code = f->code;
                        if (free_and_strdup(&t->name, f->name) < 0 ||
                            free_and_strdup(&t->status, f->status) < 0 ||
                            free_and_strdup(&t->message, f->message) < 0)
                                goto oom;
                }
        }
        return 0;
oom:
        ext_status_done(to);
        return -ENOMEM;
}

int daemon_state_add_handler(DaemonState *s, const ExtHandlerResult *r) {
        ExtHandlerResult *a, *h;

        if (s->n_handlers >= DAEMON_STATE_HANDLERS_MAX)
                return -E2BIG;
        a = realloc(s->handlers, (s->n_handlers + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        s->handlers = a;
        h = &a[s->n_handlers];
        *h = (ExtHandlerResult){.seq_no = r->seq_no, .has_settings = r->has_settings, .code = r->code};
        if (free_and_strdup(&h->name, r->name) < 0 || free_and_strdup(&h->version, r->version) < 0 ||
            free_and_strdup(&h->extension, r->extension) < 0 || free_and_strdup(&h->status, r->status) < 0 ||
            free_and_strdup(&h->message, r->message) < 0)
                goto oom;
        if (r->has_extension_status) {
                if (copy_extension_status(&r->extension_status, &h->extension_status) < 0)
                        goto oom;
                h->has_extension_status = true;
        }
        s->n_handlers++;
        return 0;
oom:
        ext_handler_result_done(h);
        return -ENOMEM;
}

static int add_str(struct json_object *o, const char *key, const char *v) {
        if (!v)
                return 0;
        return json_object_object_add(o, key, json_object_new_string(v)) < 0 ? -ENOMEM : 0;
}

static int add_int(struct json_object *o, const char *key, int64_t v) {
        return json_object_object_add(o, key, json_object_new_int64(v)) < 0 ? -ENOMEM : 0;
}

static int add_bool(struct json_object *o, const char *key, bool v) {
        return json_object_object_add(o, key, json_object_new_boolean(v)) < 0 ? -ENOMEM : 0;
}

static int handler_to_json(const ExtHandlerResult *h, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        if (add_str(o, "name", h->name) < 0 || add_str(o, "version", h->version) < 0 ||
            add_str(o, "extensionName", h->extension) < 0 || add_int(o, "sequenceNumber", h->seq_no) < 0 ||
            add_bool(o, "hasSettings", h->has_settings) < 0 || add_str(o, "status", h->status) < 0 ||
            add_int(o, "code", h->code) < 0 || add_str(o, "message", h->message) < 0)
                return -ENOMEM;
        if (h->has_extension_status) {
                const ExtensionStatus *es = &h->extension_status;
                _cleanup_json_ struct json_object *e = json_object_new_object();

                if (!e || add_str(e, "name", es->name) < 0 || add_str(e, "operation", es->operation) < 0 ||
                    add_str(e, "status", es->status) < 0 || add_int(e, "code", es->code) < 0 ||
                    add_str(e, "message", es->message) < 0 ||
                    add_str(e, "configurationAppliedTime", es->configuration_applied_time) < 0)
                        return -ENOMEM;
                if (json_object_object_add(o, "settingsStatus", TAKE_PTR(e)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int daemon_state_to_json(const DaemonState *s, char **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        const char *text;
        int r;

        if (!o || !a)
                return -ENOMEM;
        if (add_int(o, "version", 1) < 0 || add_str(o, "incarnation", s->incarnation) < 0 ||
            add_str(o, "etag", s->etag) < 0 || add_str(o, "executedGoalStateId", s->executed_id) < 0 ||
            add_str(o, "statusHash", s->status_hash) < 0 || add_bool(o, "fastTrack", s->fast_track) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_handlers; i++) {
                struct json_object *h;

                r = handler_to_json(&s->handlers[i], &h);
                if (r < 0)
                        return r;
                if (json_object_array_add(a, h) < 0) {
                        json_object_put(h);
                        return -ENOMEM;
                }
        }
        if (json_object_object_add(o, "handlers", TAKE_PTR(a)) < 0)
                return -ENOMEM;
        if (s->timings && json_object_object_add(o, "timings", json_object_get(s->timings)) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        *ret = strdup(text);
        return *ret ? 0 : -ENOMEM;
}

static int handler_from_json(struct json_object *o, ExtHandlerResult *ret) {
        static const JsonDispatch table[] = {
                {"name", json_dispatch_string, offsetof(ExtHandlerResult, name), JSON_MANDATORY},
                {"version", json_dispatch_string, offsetof(ExtHandlerResult, version), JSON_MANDATORY},
                {"extensionName", json_dispatch_string, offsetof(ExtHandlerResult, extension), 0},
                {"sequenceNumber", json_dispatch_uintish, offsetof(ExtHandlerResult, seq_no), 0},
                {"hasSettings", json_dispatch_bool, offsetof(ExtHandlerResult, has_settings), 0},
                {"status", json_dispatch_string, offsetof(ExtHandlerResult, status), JSON_MANDATORY},
                {"code", json_dispatch_int, offsetof(ExtHandlerResult, code), 0},
                {"message", json_dispatch_string, offsetof(ExtHandlerResult, message), 0},
                {}};
        static const JsonDispatch etable[] = {
                {"name", json_dispatch_string, offsetof(ExtensionStatus, name), 0},
                {"operation", json_dispatch_string, offsetof(ExtensionStatus, operation), 0},
                {"status", json_dispatch_string, offsetof(ExtensionStatus, status), 0},
                {"code", json_dispatch_int, offsetof(ExtensionStatus, code), 0},
                {"message", json_dispatch_string, offsetof(ExtensionStatus, message), 0},
                {"configurationAppliedTime", json_dispatch_string,
                 offsetof(ExtensionStatus, configuration_applied_time), 0},
                {}};
        _cleanup_(ext_handler_result_done) ExtHandlerResult h = {};
        struct json_object *e;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        r = json_dispatch(o, table, 0, &h, NULL);
        if (r < 0)
                return r;
        e = json_get(o, "settingsStatus", false);
        if (e) {
                if (!json_object_is_type(e, json_type_object))
                        return -EBADMSG;
                r = json_dispatch(e, etable, 0, &h.extension_status, NULL);
                if (r < 0)
                        return r;
                h.has_extension_status = true;
        }
        *ret = h;
        h = (ExtHandlerResult){};
        return 0;
}

int daemon_state_from_json(const char *buf, size_t len, DaemonState *ret) {
        static const JsonDispatch table[] = {
                {"incarnation", json_dispatch_string, offsetof(DaemonState, incarnation), JSON_NULLABLE},
                {"etag", json_dispatch_string, offsetof(DaemonState, etag), JSON_NULLABLE},
                {"executedGoalStateId", json_dispatch_string, offsetof(DaemonState, executed_id),
                 JSON_NULLABLE},
                {"statusHash", json_dispatch_string, offsetof(DaemonState, status_hash), JSON_NULLABLE},
                {"fastTrack", json_dispatch_bool, offsetof(DaemonState, fast_track), 0},
                {"timings", json_dispatch_object, offsetof(DaemonState, timings), JSON_NULLABLE},
                {}};
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_(daemon_state_done) DaemonState s = {};
        struct json_object *a;
        int r;

        if (len > DAEMON_STATE_MAX)
                return -E2BIG;
        r = json_parse_buffer(buf, len, &o, NULL);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        r = json_dispatch(o, table, 0, &s, NULL);
        if (r < 0)
                return r;
        a = json_get(o, "handlers", false);
        if (a) {
                size_t n;

                if (!json_object_is_type(a, json_type_array))
                        return -EBADMSG;
                n = json_object_array_length(a);
                if (n > DAEMON_STATE_HANDLERS_MAX)
                        return -E2BIG;
                s.handlers = calloc(MAX(n, (size_t) 1), sizeof *s.handlers);
                if (!s.handlers)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        r = handler_from_json(json_object_array_get_idx(a, i), &s.handlers[i]);
                        if (r < 0)
                                return r;
                        s.n_handlers++;
                }
        }
        *ret = s;
        s = (DaemonState){};
        return 0;
}

static int state_path(const char *state_dir, char **ret) {
        return asprintf(ret, "%s/%s", state_dir, DAEMON_STATE_FILE) < 0 ? -ENOMEM : 0;
}

int daemon_state_load(int root_fd, const char *state_dir, DaemonState *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size;
        int r;

        r = state_path(state_dir, &path);
        if (r < 0)
                return r;
        r = read_file_in_root(root_fd, path, DAEMON_STATE_MAX, &buf, &size);
        if (r < 0)
                return r;
        return daemon_state_from_json(buf, size, ret);
}

int daemon_state_save(int root_fd, const char *state_dir, const DaemonState *s) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        r = state_path(state_dir, &path);
        if (r < 0)
                return r;
        r = daemon_state_to_json(s, &text);
        if (r < 0)
                return r;
        return write_string_file_atomic_in_root(root_fd, path, text, 0600, WRITE_MKDIR | WRITE_SYNC);
}

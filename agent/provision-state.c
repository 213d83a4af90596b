/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "provision-state.h"
#include "string-table.h"

#define STATE_FILE_MAX (1024U * 1024U)
#define MARKER_MAX     256U

static const char *const step_result_table[_STEP_RESULT_MAX] = {
        [STEP_CHANGED] = "changed",
        [STEP_UNCHANGED] = "unchanged",
        [STEP_SKIPPED] = "skipped",
        [STEP_FAILED] = "failed",
};

DEFINE_STRING_TABLE_LOOKUP(step_result, StepResult);

void provision_state_done(ProvisionState *s) {
        free(s->state);
        free(s->vm_id);
        free(s->platform);
        free(s->reason);
        free(s->health_reported);
        free(s->health_substatus);
        free(s->admin_user);
        for (size_t i = 0; i < s->n_steps; i++) {
                free(s->steps[i].name);
                free(s->steps[i].summary);
        }
        for (size_t i = 0; i < s->n_skipped; i++) {
                free(s->skipped[i].step);
                free(s->skipped[i].item);
                free(s->skipped[i].reason);
        }
        *s = (ProvisionState){};
}

int provision_state_add_skipped(ProvisionState *s, const char *step, const char *item, const char *reason) {
        ProvisionSkipped *k;

        if (!step || !item || !reason)
                return -EINVAL;
        if (s->n_skipped >= PROVISION_SKIPPED_MAX)
                return -E2BIG;
        k = &s->skipped[s->n_skipped];
        *k = (ProvisionSkipped){.step = strdup(step), .item = strdup(item), .reason = strdup(reason)};
        if (!k->step || !k->item || !k->reason) {
                free(k->step);
                free(k->item);
                free(k->reason);
                *k = (ProvisionSkipped){};
                return -ENOMEM;
        }
        s->n_skipped++;
        return 0;
}

int provision_state_add_step(ProvisionState *s, const char *name, StepResult result, usec_t duration,
                             const char *summary) {
        ProvisionStep *st;

        if (s->n_steps >= PROVISION_STEPS_MAX)
                return -E2BIG;
        st = &s->steps[s->n_steps];
        *st = (ProvisionStep){.result = result, .duration = duration};
        if (free_and_strdup(&st->name, name) < 0 || free_and_strdup(&st->summary, summary) < 0) {
                free(st->name);
                free(st->summary);
                *st = (ProvisionStep){};
                return -ENOMEM;
        }
        s->n_steps++;
        return 0;
}

static int add_string(struct json_object *o, const char *key, const char *v) {
        if (!v)
                return 0;
        return json_object_object_add(o, key, json_object_new_string(v)) < 0 ? -ENOMEM : 0;
}

static int add_time(struct json_object *o, const char *key, usec_t t) {
        char buf[64];

        if (t == 0)
                return 0;
        if (format_timestamp_iso_usec(t, buf, sizeof buf) < 0)
                return -EINVAL;
        return add_string(o, key, buf);
}

int provision_state_to_json(const ProvisionState *s, char **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *steps = json_object_new_array(),
                                          *health = NULL;
        char *text;
        int r = 0;

        if (!o || !steps)
                return -ENOMEM;
        json_object_object_add(o, "version", json_object_new_int(1));
        r = r ?: add_string(o, "state", s->state);
        r = r ?: add_string(o, "vm_id", s->vm_id);
        r = r ?: add_string(o, "platform", s->platform);
        r = r ?: add_time(o, "started_at", s->started_at);
        r = r ?: add_time(o, "finished_at", s->finished_at);
        r = r ?: add_string(o, "reason", s->reason);
        r = r ?: add_string(o, "admin_user", s->admin_user);
        if (r < 0)
                return r;
        if (s->health_reported) {
                health = json_object_new_object();
                if (!health)
                        return -ENOMEM;
                r = r ?: add_string(health, "reported", s->health_reported);
                r = r ?: add_string(health, "substatus", s->health_substatus);
                r = r ?: add_time(health, "at", s->health_at);
                json_object_object_add(o, "health", TAKE_PTR(health));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < s->n_steps; i++) {
                struct json_object *st = json_object_new_object();

                if (!st)
                        return -ENOMEM;
                json_object_array_add(steps, st);
                r = r ?: add_string(st, "name", s->steps[i].name);
                r = r ?: add_string(st, "result", step_result_to_string(s->steps[i].result));
                json_object_object_add(st, "duration_usec",
                                       json_object_new_int64((int64_t) s->steps[i].duration));
                if (s->steps[i].start > 0)
                        json_object_object_add(st, "start_usec",
                                               json_object_new_int64((int64_t) s->steps[i].start));
                r = r ?: add_string(st, "summary", s->steps[i].summary);
                if (r < 0)
                        return r;
        }
        json_object_object_add(o, "steps", TAKE_PTR(steps));
        if (s->n_skipped > 0) {
                _cleanup_json_ struct json_object *skipped = json_object_new_array();

                if (!skipped)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_skipped; i++) {
                        struct json_object *k = json_object_new_object();

                        if (!k || json_object_array_add(skipped, k) < 0) {
                                json_object_put(k);
                                return -ENOMEM;
                        }
                        r = r ?: add_string(k, "step", s->skipped[i].step);
                        r = r ?: add_string(k, "item", s->skipped[i].item);
                        r = r ?: add_string(k, "reason", s->skipped[i].reason);
                        if (r < 0)
                                return r;
                }
                json_object_object_add(o, "skipped", TAKE_PTR(skipped));
        }
        text = strdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

/* Parses "2026-11-21T20:36:48.123456Z" (or the older form without a fraction) back to usec; 0 when absent. */
static int parse_iso(struct json_object *o, const char *key, usec_t *ret) {
        struct json_object *v = json_get(o, key, false);
        usec_t t;

        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        /* 0 means "absent" here, and a negative time would wrap in usec_t and be saved in a form strptime
         * cannot read back (found by fuzz-provision-state). Nothing the agent writes predates 1970. */
        if (parse_timestamp_iso(json_object_get_string(v), &t) < 0 || t == 0)
                return -EBADMSG;
        *ret = t;
        return 0;
}

static int parse_step(struct json_object *st, ProvisionState *s) {
        struct json_object *name = json_get(st, "name", false), *result = json_get(st, "result", false),
                           *summary = json_get(st, "summary", false),
                           *dur = json_get(st, "duration_usec", false),
                           *start = json_get(st, "start_usec", false);
        StepResult res;
        int r;

        if (!json_object_is_type(name, json_type_string) || !json_object_is_type(result, json_type_string) ||
            (dur && !json_object_is_type(dur, json_type_int)) ||
            (start && (!json_object_is_type(start, json_type_int) || json_object_get_int64(start) < 0)) ||
            (summary && !json_object_is_type(summary, json_type_string)))
                return -EBADMSG;
        res = step_result_from_string(json_object_get_string(result));
        if (res < 0)
                return -EBADMSG;
        r = provision_state_add_step(s, json_object_get_string(name), res,
                                     dur ? (usec_t) json_object_get_int64(dur) : 0,
                                     summary ? json_object_get_string(summary) : NULL);
        if (r >= 0 && start)
                s->steps[s->n_steps - 1].start = (usec_t) json_object_get_int64(start);
        return r;
}

static int parse_skipped(struct json_object *k, ProvisionState *s) {
        struct json_object *step = json_get(k, "step", false), *item = json_get(k, "item", false),
                           *reason = json_get(k, "reason", false);

        if (!json_object_is_type(step, json_type_string) || !json_object_is_type(item, json_type_string) ||
            !json_object_is_type(reason, json_type_string))
                return -EBADMSG;
        return provision_state_add_skipped(s, json_object_get_string(step), json_object_get_string(item),
                                           json_object_get_string(reason));
}

int provision_state_from_json(const char *buf, size_t len, ProvisionState *ret) {
        static const JsonDispatch table[] = {
                {"state", json_dispatch_string, offsetof(ProvisionState, state), JSON_MANDATORY},
                {"vm_id", json_dispatch_string, offsetof(ProvisionState, vm_id), 0},
                {"platform", json_dispatch_string, offsetof(ProvisionState, platform), 0},
                {"reason", json_dispatch_string, offsetof(ProvisionState, reason), 0},
                {"admin_user", json_dispatch_string, offsetof(ProvisionState, admin_user), 0},
                {}};
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_(provision_state_done) ProvisionState s = {};
        struct json_object *steps, *health, *skipped;
        int r;

        r = json_parse_buffer(buf, len, &o, NULL);
        if (r < 0)
                return r;
        r = json_dispatch(o, table, 0, &s, NULL);
        if (r < 0)
                return r;
        if (parse_iso(o, "started_at", &s.started_at) < 0 || parse_iso(o, "finished_at", &s.finished_at) < 0)
                return -EBADMSG;
        health = json_get(o, "health", false);
        if (health) {
                static const JsonDispatch htable[] = {
                        {"reported", json_dispatch_string, offsetof(ProvisionState, health_reported), 0},
                        {"substatus", json_dispatch_string, offsetof(ProvisionState, health_substatus), 0},
                        {}};
                r = json_dispatch(health, htable, 0, &s, NULL);
                if (r < 0 || parse_iso(health, "at", &s.health_at) < 0)
                        return -EBADMSG;
        }
        steps = json_get(o, "steps", false);
        if (steps) {
                if (!json_object_is_type(steps, json_type_array))
                        return -EBADMSG;
                for (size_t i = 0; i < json_object_array_length(steps); i++) {
                        r = parse_step(json_object_array_get_idx(steps, i), &s);
                        if (r < 0)
                                return r;
                }
        }
        skipped = json_get(o, "skipped", false);
        if (skipped) {
                if (!json_object_is_type(skipped, json_type_array))
                        return -EBADMSG;
                for (size_t i = 0; i < json_object_array_length(skipped); i++) {
                        r = parse_skipped(json_object_array_get_idx(skipped, i), &s);
                        if (r < 0)
                                return r;
                }
        }
        *ret = s;
        s = (ProvisionState){};
        return 0;
}

static int state_path(const Context *c, const char *name, char **ret) {
        return asprintf(ret, "%s/%s", c->config.state_dir, name) < 0 ? -ENOMEM : 0;
}

int provision_state_save(const Context *c, const ProvisionState *s) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        r = state_path(c, "state.json", &path);
        if (r < 0)
                return r;
        r = provision_state_to_json(s, &text);
        if (r < 0)
                return r;
        r = mkdir_p_in_root(c->root_fd, c->config.state_dir, 0700);
        if (r < 0)
                return r;
        return write_string_file_atomic_in_root(c->root_fd, path, text, 0644, 0);
}

int provision_state_load(const Context *c, ProvisionState *ret) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size;
        int r;

        r = state_path(c, "state.json", &path);
        if (r < 0)
                return r;
        r = read_file_in_root(c->root_fd, path, STATE_FILE_MAX, &data, &size);
        if (r < 0)
                return r;
        return provision_state_from_json(data, size, ret);
}

int provisioned_marker_read(const Context *c, char **ret_vm_id) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        int r;

        r = state_path(c, "provisioned", &path);
        if (r < 0)
                return r;
        r = read_one_line_in_root(c->root_fd, path, MARKER_MAX, &data);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (ret_vm_id)
                *ret_vm_id = TAKE_PTR(data);
        return 1;
}

int provisioned_marker_write(const Context *c, const char *vm_id) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        r = state_path(c, "provisioned", &path);
        if (r < 0)
                return r;
        if (asprintf(&text, "%s\n", vm_id) < 0)
                return -ENOMEM;
        r = mkdir_p_in_root(c->root_fd, c->config.state_dir, 0700);
        if (r < 0)
                return r;
        return write_string_file_atomic_in_root(c->root_fd, path, text, 0644, 0);
}

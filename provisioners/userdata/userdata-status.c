/* SPDX-License-Identifier: MIT */
/* userdata.json: the status record of the user data (userdata-status.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "userdata-status.h"

#define USERDATA_STATUS_MAX (1024U * 1024U)

void userdata_status_done(UserDataStatus *s) {
        free(s->state);
        free(s->source);
        free(s->vm_id);
        for (size_t i = 0; i < s->n_parts; i++) {
                free(s->parts[i].name);
                free(s->parts[i].type);
        }
        free(s->parts);
        strv_free(s->unsupported);
        for (size_t i = 0; i < s->n_problems; i++) {
                free(s->problems[i].path);
                free(s->problems[i].part);
        }
        free(s->problems);
        for (size_t i = 0; i < s->n_modules; i++) {
                free(s->modules[i].name);
                free(s->modules[i].result);
                free(s->modules[i].summary);
        }
        free(s->modules);
        for (size_t i = 0; i < s->n_scripts; i++) {
                free(s->scripts[i].name);
                free(s->scripts[i].frequency);
                free(s->scripts[i].state);
                free(s->scripts[i].output);
        }
        free(s->scripts);
        *s = (UserDataStatus){};
}

bool userdata_state_is_final(const char *state) {
        return streq_ptr(state, "none") || streq_ptr(state, "ignition") || streq_ptr(state, "done") ||
               streq_ptr(state, "degraded");
}

int userdata_status_set_module(UserDataStatus *s, const char *name, const char *result,
                               const char *summary) {
        UdModuleStatus *m = NULL, *a;

        for (size_t i = 0; i < s->n_modules; i++)
                if (streq(s->modules[i].name, name))
                        m = &s->modules[i];
        if (!m) {
                if (s->n_modules >= USERDATA_STATUS_ITEMS_MAX)
                        return -E2BIG;
                a = reallocarray(s->modules, s->n_modules + 1, sizeof *a);
                if (!a)
                        return -ENOMEM;
                s->modules = a;
                m = &a[s->n_modules];
                *m = (UdModuleStatus){.name = strdup(name)};
                if (!m->name)
                        return -ENOMEM;
                s->n_modules++;
        }
        if (free_and_strdup(&m->result, result) < 0 || free_and_strdup(&m->summary, summary) < 0)
                return -ENOMEM;
        return 0;
}

UdScriptStatus *userdata_status_script(UserDataStatus *s, const char *name, const char *frequency) {
        UdScriptStatus *a;

        for (size_t i = 0; i < s->n_scripts; i++)
                if (streq(s->scripts[i].name, name) && streq_ptr(s->scripts[i].frequency, frequency))
                        return &s->scripts[i];
        if (s->n_scripts >= USERDATA_STATUS_ITEMS_MAX)
                return NULL;
        a = reallocarray(s->scripts, s->n_scripts + 1, sizeof *a);
        if (!a)
                return NULL;
        s->scripts = a;
        a = &a[s->n_scripts];
        *a = (UdScriptStatus){.name = strdup(name),
                              .frequency = strdup(frequency),
                              .state = strdup("pending"),
                              .exit_status = -1};
        if (!a->name || !a->frequency || !a->state) {
                free(a->name);
                free(a->frequency);
                free(a->state);
                return NULL;
        }
        s->n_scripts++;
        return a;
}

static int add_str(struct json_object *o, const char *key, const char *v) {
        struct json_object *j = v ? json_object_new_string(v) : NULL;

        if (v && !j)
                return -ENOMEM;
        return json_object_object_add(o, key, j) < 0 ? -ENOMEM : 0;
}

static int add_time(struct json_object *o, const char *key, usec_t t) {
        char buf[64];

        if (t == 0)
                return 0;
        if (format_timestamp_iso_usec(t, buf, sizeof buf) < 0)
                return -EINVAL;
        return add_str(o, key, buf);
}

static int add_obj(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int array_add(struct json_object *a, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int userdata_status_to_json(const UserDataStatus *s, bool with_output, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *parts = json_object_new_array(),
                                          *uns = json_object_new_array(), *probs = json_object_new_array(),
                                          *mods = json_object_new_array(),
                                          *scripts = json_object_new_array();
        int r = 0;

        if (!o || !parts || !uns || !probs || !mods || !scripts)
                return -ENOMEM;
        r = r ?: add_obj(o, "version", json_object_new_int(1));
        r = r ?: add_str(o, "state", s->state ?: "none");
        r = r ?: add_str(o, "source", s->source);
        r = r ?: add_str(o, "vm_id", s->vm_id);
        r = r ?: add_obj(o, "size", json_object_new_int64((int64_t) s->size));
        r = r ?: add_obj(o, "gzip", json_object_new_boolean(s->gzip));
        r = r ?: add_obj(o, "mime", json_object_new_boolean(s->mime));
        for (size_t i = 0; r >= 0 && i < s->n_parts; i++) {
                struct json_object *p = json_object_new_object();

                r = array_add(parts, p);
                r = r ?: add_str(p, "name", s->parts[i].name);
                r = r ?: add_str(p, "type", s->parts[i].type);
                r = r ?: add_obj(p, "supported", json_object_new_boolean(s->parts[i].supported));
                r = r ?: add_obj(p, "size", json_object_new_int64((int64_t) s->parts[i].size));
        }
        for (char **u = s->unsupported; r >= 0 && u && *u; u++)
                r = array_add(uns, json_object_new_string(*u));
        for (size_t i = 0; r >= 0 && i < s->n_problems; i++) {
                struct json_object *p = json_object_new_object();

                r = array_add(probs, p);
                r = r ?: add_str(p, "path", s->problems[i].path);
                r = r ?: add_str(p, "part", s->problems[i].part);
                r = r ?: add_obj(p, "line", json_object_new_int((int) s->problems[i].line));
        }
        for (size_t i = 0; r >= 0 && i < s->n_modules; i++) {
                struct json_object *m = json_object_new_object();

                r = array_add(mods, m);
                r = r ?: add_str(m, "name", s->modules[i].name);
                r = r ?: add_str(m, "result", s->modules[i].result);
                r = r ?: add_str(m, "summary", s->modules[i].summary);
        }
        for (size_t i = 0; r >= 0 && i < s->n_scripts; i++) {
                const UdScriptStatus *sc = &s->scripts[i];
                struct json_object *m = json_object_new_object();

                r = array_add(scripts, m);
                r = r ?: add_str(m, "name", sc->name);
                r = r ?: add_str(m, "frequency", sc->frequency);
                r = r ?: add_str(m, "state", sc->state);
                if (sc->exit_status >= 0)
                        r = r ?: add_obj(m, "exit_status", json_object_new_int(sc->exit_status));
                else if (r >= 0 && json_object_object_add(m, "exit_status", NULL) < 0)
                        r = -ENOMEM;
                r = r ?: add_time(m, "started_at", sc->started_at);
                r = r ?: add_time(m, "finished_at", sc->finished_at);
                if (with_output)
                        r = r ?: add_str(m, "output", sc->output);
        }
        r = r ?: add_obj(o, "parts", TAKE_PTR(parts));
        r = r ?: add_obj(o, "unsupported", TAKE_PTR(uns));
        r = r ?: add_obj(o, "problems", TAKE_PTR(probs));
        r = r ?: add_obj(o, "modules", TAKE_PTR(mods));
        r = r ?: add_obj(o, "scripts", TAKE_PTR(scripts));
        r = r ?: add_time(o, "provisioned_at", s->provisioned_at);
        r = r ?: add_time(o, "final_started_at", s->final_started_at);
        r = r ?: add_time(o, "final_finished_at", s->final_finished_at);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int get_str(struct json_object *o, const char *key, char **dest) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        return free_and_strdup(dest, json_object_get_string(v));
}

static int get_time(struct json_object *o, const char *key, usec_t *dest) {
        _cleanup_free_ char *s = NULL;
        int r = get_str(o, key, &s);

        if (r < 0 || !s)
                return r;
        return parse_timestamp_iso(s, dest) < 0 ? -EBADMSG : 0;
}

static struct json_object *get_array(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

int userdata_status_from_json(const char *buf, size_t size, UserDataStatus *ret) {
        _cleanup_(userdata_status_done) UserDataStatus s = {};
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *a, *v;
        int r;

        r = json_parse_buffer(buf, size, &o, NULL);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        r = get_str(o, "state", &s.state);
        r = r ?: get_str(o, "source", &s.source);
        r = r ?: get_str(o, "vm_id", &s.vm_id);
        r = r ?: get_time(o, "provisioned_at", &s.provisioned_at);
        r = r ?: get_time(o, "final_started_at", &s.final_started_at);
        r = r ?: get_time(o, "final_finished_at", &s.final_finished_at);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(o, "size", &v))
                s.size = (uint64_t) json_object_get_int64(v);
        if (json_object_object_get_ex(o, "gzip", &v))
                s.gzip = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "mime", &v))
                s.mime = json_object_get_boolean(v);
        a = get_array(o, "parts");
        for (size_t i = 0; a && i < MIN(json_object_array_length(a), (size_t) USERDATA_STATUS_ITEMS_MAX);
             i++) {
                struct json_object *p = json_object_array_get_idx(a, i);
                UdPartStatus *n;

                if (!json_object_is_type(p, json_type_object))
                        return -EBADMSG;
                n = reallocarray(s.parts, s.n_parts + 1, sizeof *n);
                if (!n)
                        return -ENOMEM;
                s.parts = n;
                n = &n[s.n_parts++];
                *n = (UdPartStatus){};
                r = get_str(p, "name", &n->name);
                r = r ?: get_str(p, "type", &n->type);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(p, "supported", &v))
                        n->supported = json_object_get_boolean(v);
                if (json_object_object_get_ex(p, "size", &v))
                        n->size = (uint64_t) json_object_get_int64(v);
        }
        a = get_array(o, "unsupported");
        for (size_t i = 0; a && i < MIN(json_object_array_length(a), (size_t) USERDATA_STATUS_ITEMS_MAX);
             i++) {
                v = json_object_array_get_idx(a, i);
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                if (strv_extend(&s.unsupported, json_object_get_string(v)) < 0)
                        return -ENOMEM;
        }
        a = get_array(o, "problems");
        for (size_t i = 0; a && i < MIN(json_object_array_length(a), (size_t) USERDATA_STATUS_ITEMS_MAX);
             i++) {
                struct json_object *p = json_object_array_get_idx(a, i);
                UdProblemStatus *n;

                if (!json_object_is_type(p, json_type_object))
                        return -EBADMSG;
                n = reallocarray(s.problems, s.n_problems + 1, sizeof *n);
                if (!n)
                        return -ENOMEM;
                s.problems = n;
                n = &n[s.n_problems++];
                *n = (UdProblemStatus){};
                r = get_str(p, "path", &n->path);
                r = r ?: get_str(p, "part", &n->part);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(p, "line", &v))
                        n->line = (unsigned) json_object_get_int(v);
        }
        a = get_array(o, "modules");
        for (size_t i = 0; a && i < MIN(json_object_array_length(a), (size_t) USERDATA_STATUS_ITEMS_MAX);
             i++) {
                struct json_object *p = json_object_array_get_idx(a, i);
                _cleanup_free_ char *name = NULL, *result = NULL, *summary = NULL;

                if (!json_object_is_type(p, json_type_object))
                        return -EBADMSG;
                r = get_str(p, "name", &name);
                r = r ?: get_str(p, "result", &result);
                r = r ?: get_str(p, "summary", &summary);
                if (r < 0)
                        return r;
                if (!name)
                        return -EBADMSG;
                r = userdata_status_set_module(&s, name, result, summary);
                if (r < 0)
                        return r;
        }
        a = get_array(o, "scripts");
        for (size_t i = 0; a && i < MIN(json_object_array_length(a), (size_t) USERDATA_STATUS_ITEMS_MAX);
             i++) {
                struct json_object *p = json_object_array_get_idx(a, i);
                _cleanup_free_ char *name = NULL, *freq = NULL;
                UdScriptStatus *sc;

                if (!json_object_is_type(p, json_type_object))
                        return -EBADMSG;
                r = get_str(p, "name", &name);
                r = r ?: get_str(p, "frequency", &freq);
                if (r < 0)
                        return r;
                if (!name || !freq)
                        return -EBADMSG;
                sc = userdata_status_script(&s, name, freq);
                if (!sc)
                        return -ENOMEM;
                r = get_str(p, "state", &sc->state);
                r = r ?: get_str(p, "output", &sc->output);
                r = r ?: get_time(p, "started_at", &sc->started_at);
                r = r ?: get_time(p, "finished_at", &sc->finished_at);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(p, "exit_status", &v) && json_object_is_type(v, json_type_int))
                        sc->exit_status = json_object_get_int(v);
        }
        *ret = s;
        s = (UserDataStatus){};
        return 0;
}

static int status_path(const Context *c, char **ret) {
        return asprintf(ret, "%s/%s", c->config.state_dir, "userdata.json") < 0 ? -ENOMEM : 0;
}

int userdata_status_save(const Context *c, const UserDataStatus *s) {
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_free_ char *path = NULL;
        const char *text;
        int r;

        r = userdata_status_to_json(s, true, &o);
        if (r < 0)
                return r;
        r = status_path(c, &path);
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        return write_file_atomic_in_root(c->root_fd, path, text, strlen(text), 0600, 0, 0,
                                         WRITE_MKDIR | WRITE_SYNC);
}

int userdata_status_load(const Context *c, UserDataStatus *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size;
        int r;

        r = status_path(c, &path);
        if (r < 0)
                return r;
        r = read_file_in_root(c->root_fd, path, USERDATA_STATUS_MAX, &buf, &size);
        if (r < 0)
                return r;
        return userdata_status_from_json(buf, size, ret);
}

/* SPDX-License-Identifier: MIT */
/*
 * Schema check and conversion of the merged cloud-config (userdata-config.h). One function per top-level key,
 * dispatched from a table; each reports problems with the key path and leaves bad values out. The words of the
 * messages are jsonschema's, so that they read like `cloud-init schema` output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "strutil.h"
#include "userdata-config.h"
#include "userdata-merge.h"
#include "userdata-parts.h"

/* ---- types as jsonschema names them ---- */

enum {
        T_NULL = 1 << 0,
        T_BOOL = 1 << 1,
        T_INT = 1 << 2,
        T_NUMBER = 1 << 3,
        T_STR = 1 << 4,
        T_ARRAY = 1 << 5,
        T_OBJECT = 1 << 6,
};

static unsigned type_bit(const YNode *n) {
        switch (n->type) {
        case YNODE_NULL:
                return T_NULL;
        case YNODE_BOOL:
                return T_BOOL;
        case YNODE_INT:
                return T_INT | T_NUMBER;
        case YNODE_FLOAT:
                return T_NUMBER;
        case YNODE_STR:
                return T_STR;
        case YNODE_SEQ:
                return T_ARRAY;
        case YNODE_MAP:
                return T_OBJECT;
        case YNODE_TIMESTAMP:
        case YNODE_BINARY:
        case _YNODE_TYPE_MAX:
        case _YNODE_TYPE_INVALID:
                break;
        }
        return 0;
}

static int strcmp_ptr_cb(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* ---- problems ---- */

typedef struct Ctx {
        UserDataConfig *c;
        int error; /* -ENOMEM once an allocation failed */
} Ctx;

int user_data_config_add_problem(UserDataConfig *c, const char *path, unsigned part, unsigned line,
                                 const char *fmt, ...) {
        _cleanup_free_ char *m = NULL, *p = NULL;
        UdProblem *a;
        va_list ap;

        if (c->n_problems >= USERDATA_PROBLEMS_MAX)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        p = strdup(strempty(path));
        if (!m || !p)
                return -ENOMEM;
        a = reallocarray(c->problems, c->n_problems + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        c->problems = a;
        a[c->n_problems++] = (UdProblem){TAKE_PTR(p), part, line, TAKE_PTR(m)};
        return 0;
}

static void problem(Ctx *x, const YNode *at, const char *path, const char *fmt, ...) _printf_(4, 5);
static void problem(Ctx *x, const YNode *at, const char *path, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (!m ||
            user_data_config_add_problem(x->c, path, at ? at->part : 0, at ? at->line : 0, "%s", m) < 0)
                x->error = -ENOMEM;
}

/* "'abc' is not of type 'array'" / "1 is not of type 'string', 'array'" */
static bool want(Ctx *x, const YNode *n, const char *path, unsigned types) {
        static const char *const names[] = {"null",   "boolean", "integer", "number",
                                            "string", "array",   "object"};
        _cleanup_free_ char *repr = NULL;
        char list[128] = "";

        if (type_bit(n) & types)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (types & (1U << i) && !(i == 3 && (types & T_INT)))
                        snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'",
                                 list[0] ? ", " : "", names[i]);
        if (ynode_repr(n, &repr) < 0) {
                x->error = -ENOMEM;
                return false;
        }
        problem(x, n, path, "%s is not of type %s", repr, list);
        return false;
}

static char *path_key(const char *base, const char *key) {
        char *p;

        if (asprintf(&p, "%s%s%s", strempty(base), isempty(base) ? "" : ".", key) < 0)
                return NULL;
        return p;
}

static char *path_index(const char *base, size_t i) {
        char *p;

        if (asprintf(&p, "%s.%zu", base, i) < 0)
                return NULL;
        return p;
}

/* ---- value helpers ---- */

bool user_data_is_true(const YNode *v) {
        static const char *const yes[] = {"true", "1", "on", "yes"};
        _cleanup_free_ char *s = NULL;

        if (!v)
                return false;
        if (v->type == YNODE_BOOL)
                return v->b;
        if (v->type != YNODE_STR && v->type != YNODE_INT)
                return false;
        if (ynode_to_python_str(v, &s) < 0)
                return false;
        user_data_strip(s);
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return true;
        return false;
}

static bool is_false_str(const YNode *v) {
        static const char *const no[] = {"off", "0", "no", "false"};
        _cleanup_free_ char *s = NULL;

        if (v->type == YNODE_BOOL)
                return !v->b;
        if ((v->type != YNODE_STR && v->type != YNODE_INT) || ynode_to_python_str(v, &s) < 0)
                return false;
        user_data_strip(s);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return true;
        return false;
}

int user_data_decode_perms(const YNode *v, mode_t *ret) {
        unsigned long long m = 0;

        if (v->type == YNODE_INT || v->type == YNODE_FLOAT) {
                if (v->big)
                        return -EINVAL;
                m = v->type == YNODE_INT ? (unsigned long long) v->i : (unsigned long long) (int64_t) v->f;
                if ((v->type == YNODE_INT && v->i < 0) || (v->type == YNODE_FLOAT && v->f < 0))
                        return -EINVAL;
        } else {
                _cleanup_free_ char *s = NULL;
                const char *p;

                /* int(str(perm), 8): optional sign, optional 0o prefix, underscores between digits */
                if (ynode_to_python_str(v, &s) < 0)
                        return -EINVAL;
                p = user_data_strip(s);
                if (*p == '+')
                        p++;
                if (startswith(p, "0o") || startswith(p, "0O"))
                        p += 2;
                if (!*p || *p == '_')
                        return -EINVAL;
                for (; *p; p++) {
                        if (*p == '_' && p[1] && p[1] != '_')
                                continue;
                        if (*p < '0' || *p > '7')
                                return -EINVAL;
                        m = m * 8 + (unsigned long long) (*p - '0');
                        if (m > 07777777)
                                return -EINVAL;
                }
        }
        if (m > 07777)
                return -EINVAL;
        *ret = (mode_t) m;
        return 0;
}

int user_data_shellify(const YNode *list, char **ret, char **ret_error) {
        _cleanup_free_ char *out = strdup("#!/bin/sh\n");
        char *n;

        if (!out)
                return -ENOMEM;
        if (list->type != YNODE_SEQ) {
                if (ret_error)
                        *ret_error = strdup("Input to shellify was not a list");
                return -EINVAL;
        }
        for (size_t i = 0; i < list->n_items; i++) {
                const YNode *e = list->items[i];
                _cleanup_free_ char *line = NULL;

                if (e->type == YNODE_NULL) /* a YAML comment-only entry */
                        continue;
                if (e->type == YNODE_STR)
                        line = strdup(e->text);
                else if (e->type == YNODE_SEQ) {
                        /* each word in single quotes, ' as '\'' */
                        for (size_t k = 0; k < e->n_items; k++) {
                                _cleanup_free_ char *w = NULL;
                                size_t len;
                                char *q, *o;

                                if (ynode_to_python_str(e->items[k], &w) < 0) {
                                        if (ret_error)
                                                *ret_error = strdup("a command word is a list or a map");
                                        return -EINVAL;
                                }
                                len = strlen(line ? line : "") + strlen(w) * 4 + 4;
                                q = malloc(len);
                                if (!q)
                                        return -ENOMEM;
                                o = q + sprintf(q, "%s%s'", line ? line : "", line ? " " : "");
                                for (const char *c = w; *c; c++)
                                        if (*c == '\'')
                                                o += sprintf(o, "'\\''");
                                        else
                                                *o++ = *c;
                                *o++ = '\'';
                                *o = 0;
                                free(line);
                                line = q;
                        }
                        if (!line && !(line = strdup("")))
                                return -ENOMEM;
                } else {
                        if (ret_error &&
                            asprintf(ret_error, "Unable to shellify type '%s'. Expected list, string",
                                     ynode_type_to_string(e->type)) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                if (!line || asprintf(&n, "%s%s\n", out, line) < 0)
                        return -ENOMEM;
                free(out);
                out = n;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* A string or a list of strings (users.groups, ssh keys, …) → strv; problems for the bad items. */
static char **strv_from(Ctx *x, const YNode *v, const char *path, bool split_commas) {
        _cleanup_strv_free_ char **l = NULL;

        if (v->type == YNODE_STR) {
                if (split_commas) {
                        _cleanup_strv_free_ char **parts = NULL;

                        if (strv_split(v->text, ",", &parts) < 0) {
                                x->error = -ENOMEM;
                                return NULL;
                        }
                        return TAKE_PTR(parts);
                }
                if (strv_extend(&l, v->text) < 0)
                        x->error = -ENOMEM;
                return TAKE_PTR(l);
        }
        if (!want(x, v, path, T_STR | T_ARRAY))
                return NULL;
        for (size_t i = 0; i < v->n_items; i++) {
                _cleanup_free_ char *p = path_index(path, i), *s = NULL;

                if (!p) {
                        x->error = -ENOMEM;
                        return NULL;
                }
                if (!want(x, v->items[i], p, T_STR))
                        continue;
                s = strdup(v->items[i]->text);
                if (!s || strv_push(&l, s) < 0) {
                        x->error = -ENOMEM;
                        return NULL;
                }
                s = NULL;
                if (split_commas) { /* "a, b" inside a list stays one name, as cloud-init strips only */
                        char *last = l[strv_length(l) - 1];

                        user_data_strip(last);
                }
        }
        return TAKE_PTR(l);
}

static int dup_str(Ctx *x, const YNode *v, const char *path, char **dest) {
        if (!want(x, v, path, T_STR))
                return 0;
        if (free_and_strdup(dest, v->text) < 0)
                x->error = -ENOMEM;
        return 1;
}

static bool get_bool(Ctx *x, const YNode *v, const char *path, bool *dest) {
        if (!want(x, v, path, T_BOOL))
                return false;
        *dest = v->b;
        return true;
}

/* ---- users and groups (ug_util.normalize_users_groups) ---- */

static const char *const user_keys[] = {
        "name",
        "gecos",
        "homedir",
        "primary_group",
        "groups",
        "shell",
        "lock_passwd",
        "passwd",
        "hashed_passwd",
        "plain_text_passwd",
        "sudo",
        "ssh_authorized_keys",
        "system",
        "uid",
        "no_create_home",
        "no_user_group",
        "no_log_init",
        "create_groups",
        "expiredate",
        "inactive",
        "selinux_user",
        /* known to cloud-init, not supported here: reported as problems */
        "doas",
        "snapuser",
        "ssh_import_id",
        "ssh_redirect_user",
};

static bool user_key_known(const char *k) {
        for (size_t i = 0; i < ELEMENTSOF(user_keys); i++)
                if (streq(k, user_keys[i]))
                        return true;
        return false;
}

/* Checks one user map (the schema's "users" item object) and fills u with its valid values. */
static void user_from_map(Ctx *x, const YNode *m, const char *path, UdUser *u) {
        for (size_t i = 0; i < m->n_pairs && x->error >= 0; i++) {
                const YNode *kn = m->pairs[i].key, *v = m->pairs[i].value;
                _cleanup_free_ char *key = NULL, *p = NULL;

                if (kn->type != YNODE_STR) {
                        _cleanup_free_ char *r = NULL;

                        if (ynode_repr(kn, &r) >= 0)
                                problem(x, kn, path,
                                        "Additional properties are not allowed (%s was unexpected)", r);
                        continue;
                }
                /* "lock-passwd" and friends: '-' reads as '_' (deprecated spellings) */
                key = strdup(kn->text);
                if (!key) {
                        x->error = -ENOMEM;
                        return;
                }
                for (char *c = key; *c; c++)
                        if (*c == '-')
                                *c = '_';
                user_data_strip(key);
                p = path_key(path, key);
                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (!user_key_known(key)) {
                        problem(x, kn, path, "Additional properties are not allowed ('%s' was unexpected)",
                                kn->text);
                        continue;
                }
                if (streq(key, "name"))
                        (void) dup_str(x, v, p, &u->name);
                else if (streq(key, "gecos"))
                        (void) dup_str(x, v, p, &u->gecos);
                else if (streq(key, "homedir"))
                        (void) dup_str(x, v, p, &u->homedir);
                else if (streq(key, "primary_group"))
                        (void) dup_str(x, v, p, &u->primary_group);
                else if (streq(key, "shell"))
                        (void) dup_str(x, v, p, &u->shell);
                else if (streq(key, "expiredate"))
                        (void) dup_str(x, v, p, &u->expiredate);
                else if (streq(key, "inactive"))
                        (void) dup_str(x, v, p, &u->inactive);
                else if (streq(key, "selinux_user"))
                        (void) dup_str(x, v, p, &u->selinux_user);
                else if (streq(key, "passwd"))
                        u->passwd_set = dup_str(x, v, p, &u->passwd) > 0;
                else if (streq(key, "hashed_passwd"))
                        u->hashed_passwd_set = dup_str(x, v, p, &u->hashed_passwd) > 0;
                else if (streq(key, "plain_text_passwd"))
                        u->plain_text_passwd_set = dup_str(x, v, p, &u->plain_text_passwd) > 0;
                else if (streq(key, "groups")) {
                        strv_free(u->groups);
                        if (v->type == YNODE_MAP) {
                                /* deprecated map form: its keys are the groups */
                                u->groups = NULL;
                                for (size_t k = 0; k < v->n_pairs; k++)
                                        if (v->pairs[k].key->type == YNODE_STR &&
                                            strv_extend(&u->groups, v->pairs[k].key->text) < 0)
                                                x->error = -ENOMEM;
                        } else
                                u->groups = strv_from(x, v, p, true);
                } else if (streq(key, "sudo")) {
                        strv_free(u->sudo);
                        u->sudo = NULL;
                        if (v->type == YNODE_NULL || (v->type == YNODE_BOOL && !v->b))
                                ; /* no rules (false is deprecated for null) */
                        else if (v->type == YNODE_BOOL)
                                problem(x, v, p, "True is not valid under any of the given schemas");
                        else
                                u->sudo = strv_from(x, v, p, false);
                } else if (streq(key, "ssh_authorized_keys")) {
                        strv_free(u->ssh_authorized_keys);
                        u->ssh_authorized_keys = strv_from(x, v, p, false);
                } else if (streq(key, "lock_passwd"))
                        (void) get_bool(x, v, p, &u->lock_passwd);
                else if (streq(key, "system"))
                        (void) get_bool(x, v, p, &u->system);
                else if (streq(key, "no_create_home"))
                        (void) get_bool(x, v, p, &u->no_create_home);
                else if (streq(key, "no_user_group"))
                        (void) get_bool(x, v, p, &u->no_user_group);
                else if (streq(key, "no_log_init"))
                        (void) get_bool(x, v, p, &u->no_log_init);
                else if (streq(key, "create_groups"))
                        (void) get_bool(x, v, p, &u->create_groups);
                else if (streq(key, "uid")) {
                        unsigned uid;

                        /* integer; a string of digits is deprecated but still read */
                        if (v->type == YNODE_INT && !v->big && v->i >= 0 && v->i < UINT32_MAX - 1) {
                                u->uid = (uint32_t) v->i;
                                u->uid_set = true;
                        } else if (v->type == YNODE_STR && safe_atou(v->text, &uid) >= 0 &&
                                   uid < UINT32_MAX - 1) {
                                u->uid = uid;
                                u->uid_set = true;
                        } else if (want(x, v, p, T_INT | T_STR))
                                problem(x, v, p, "uid must be an integer between 0 and 4294967293");
                } else
                        problem(x, v, p, "'%s' is not supported by azl-agent", key);
        }
}

static void user_done(UdUser *u) {
        free(u->name);
        free(u->gecos);
        free(u->homedir);
        free(u->primary_group);
        free(u->shell);
        free(u->expiredate);
        free(u->selinux_user);
        free(u->inactive);
        erase_and_free(u->passwd);
        erase_and_free(u->hashed_passwd);
        erase_and_free(u->plain_text_passwd);
        strv_free(u->groups);
        strv_free(u->sudo);
        strv_free(u->ssh_authorized_keys);
}

/* The entry for name (NULL: "default"), created at the end when new. */
static UdUser *user_find_or_add(Ctx *x, const char *name, bool is_default, const YNode *at) {
        UserDataConfig *c = x->c;
        UdUser *a;

        for (size_t i = 0; i < c->n_users; i++)
                if (is_default ? c->users[i].is_default
                               : (!c->users[i].is_default && streq(c->users[i].name, name)))
                        return &c->users[i];
        if (c->n_users >= USERDATA_USERS_MAX) {
                problem(x, at, "users", "more than %u users: the rest is ignored", USERDATA_USERS_MAX);
                return NULL;
        }
        a = reallocarray(c->users, c->n_users + 1, sizeof *a);
        if (!a) {
                x->error = -ENOMEM;
                return NULL;
        }
        c->users = a;
        a = &c->users[c->n_users];
        *a = (UdUser){.is_default = is_default,
                      .lock_passwd = true,
                      .create_groups = true,
                      .part = at ? at->part : 0,
                      .line = at ? at->line : 0};
        if (!is_default && !(a->name = strdup(name))) {
                x->error = -ENOMEM;
                return NULL;
        }
        c->n_users++;
        return a;
}

/* Merges b into a where a has no value (mergemanydict: the earlier entry wins). */
static void user_fill(UdUser *a, UdUser *b) {
#define FILL_STR(f)                                                                                         \
        if (!a->f)                                                                                          \
        a->f = TAKE_PTR(b->f)
        FILL_STR(gecos);
        FILL_STR(homedir);
        FILL_STR(primary_group);
        FILL_STR(shell);
        FILL_STR(expiredate);
        FILL_STR(selinux_user);
        FILL_STR(inactive);
        FILL_STR(groups);
        FILL_STR(sudo);
        FILL_STR(ssh_authorized_keys);
#undef FILL_STR
        if (!a->passwd_set && b->passwd_set) {
                a->passwd = TAKE_PTR(b->passwd);
                a->passwd_set = true;
        }
        if (!a->hashed_passwd_set && b->hashed_passwd_set) {
                a->hashed_passwd = TAKE_PTR(b->hashed_passwd);
                a->hashed_passwd_set = true;
        }
        if (!a->plain_text_passwd_set && b->plain_text_passwd_set) {
                a->plain_text_passwd = TAKE_PTR(b->plain_text_passwd);
                a->plain_text_passwd_set = true;
        }
        if (!a->uid_set && b->uid_set) {
                a->uid = b->uid;
                a->uid_set = true;
        }
}

/* Adds the names of a string ("a, b") or a list of strings, keeping the first occurrence (uniq_merge). */
static void users_add_names(Ctx *x, const YNode *v, const char *path, bool sorted) {
        _cleanup_strv_free_ char **names = strv_from(x, v, path, true);
        size_t n = strv_length(names);

        if (sorted && n > 1)
                qsort(names, n, sizeof *names, strcmp_ptr_cb);
        for (size_t i = 0; i < n; i++) {
                user_data_strip(names[i]);
                if (isempty(names[i]))
                        continue;
                (void) user_find_or_add(x, streq(names[i], "default") ? NULL : names[i],
                                        streq(names[i], "default"), v);
        }
}

static void user_entry(Ctx *x, const YNode *m, const char *path) {
        UdUser tmp = {.lock_passwd = true, .create_groups = true, .part = m->part, .line = m->line};
        UdUser *u;

        user_from_map(x, m, path, &tmp);
        if (x->error < 0) {
                user_done(&tmp);
                return;
        }
        u = user_find_or_add(x, isempty(tmp.name) ? NULL : tmp.name,
                             isempty(tmp.name) || streq(tmp.name, "default"), m);
        if (u) {
                user_fill(u, &tmp);
                /* booleans: those of the first map given for the name win (mergemanydict) */
                if (!u->configured) {
                        u->lock_passwd = tmp.lock_passwd;
                        u->create_groups = tmp.create_groups;
                        u->system = tmp.system;
                        u->no_create_home = tmp.no_create_home;
                        u->no_user_group = tmp.no_user_group;
                        u->no_log_init = tmp.no_log_init;
                        u->configured = true;
                        u->part = m->part;
                        u->line = m->line;
                }
        }
        user_done(&tmp);
}

static void parse_users(Ctx *x, const YNode *v) {
        x->c->users_set = true;
        if (v->type == YNODE_STR) {
                users_add_names(x, v, "users", true);
                return;
        }
        if (v->type == YNODE_MAP) {
                /* deprecated: {name: true} or {name: {config}} */
                for (size_t i = 0; i < v->n_pairs; i++) {
                        const YNode *k = v->pairs[i].key, *e = v->pairs[i].value;
                        _cleanup_free_ char *name = NULL, *p = NULL;

                        if (ynode_to_python_str(k, &name) < 0)
                                continue;
                        p = path_key("users", name);
                        if (!p) {
                                x->error = -ENOMEM;
                                return;
                        }
                        if (e->type == YNODE_MAP) {
                                _cleanup_ynode_ YNode *copy = ynode_copy(e);
                                _cleanup_ynode_ YNode *kk = ynode_new_str("name"), *vv = ynode_new_str(name);

                                if (!copy || !kk || !vv ||
                                    ynode_map_set(copy, TAKE_PTR(kk), TAKE_PTR(vv)) < 0) {
                                        x->error = -ENOMEM;
                                        return;
                                }
                                user_entry(x, copy, p);
                        } else if (e->type == YNODE_SEQ || e->type == YNODE_NULL)
                                problem(x, e, p, "Unmappable user value type %s",
                                        ynode_type_to_string(e->type));
                        else if (user_data_is_true(e))
                                (void) user_find_or_add(x, streq(name, "default") ? NULL : name,
                                                        streq(name, "default"), k);
                }
                return;
        }
        if (!want(x, v, "users", T_STR | T_ARRAY | T_OBJECT))
                return;
        for (size_t i = 0; i < v->n_items && x->error >= 0; i++) {
                const YNode *e = v->items[i];
                _cleanup_free_ char *p = path_index("users", i);

                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (e->type == YNODE_STR || e->type == YNODE_SEQ)
                        users_add_names(x, e, p, false);
                else if (e->type == YNODE_MAP)
                        user_entry(x, e, p);
                else
                        (void) want(x, e, p, T_STR | T_ARRAY | T_OBJECT);
        }
}

static UdGroup *group_find_or_add(Ctx *x, const char *name) {
        UserDataConfig *c = x->c;
        UdGroup *a;

        for (size_t i = 0; i < c->n_groups; i++)
                if (streq(c->groups[i].name, name))
                        return &c->groups[i];
        a = reallocarray(c->groups, c->n_groups + 1, sizeof *a);
        if (!a) {
                x->error = -ENOMEM;
                return NULL;
        }
        c->groups = a;
        a[c->n_groups] = (UdGroup){.name = strdup(name)};
        if (!a[c->n_groups].name) {
                x->error = -ENOMEM;
                return NULL;
        }
        return &c->groups[c->n_groups++];
}

static void group_add_members(Ctx *x, UdGroup *g, const YNode *members, const char *path) {
        _cleanup_strv_free_ char **l = NULL;

        if (!g || members->type == YNODE_NULL)
                return;
        l = strv_from(x, members, path, false);
        for (char **m = l; m && *m; m++)
                if (!strv_contains(g->members, user_data_strip(*m)) && strv_extend(&g->members, *m) < 0)
                        x->error = -ENOMEM;
}

static void parse_groups(Ctx *x, const YNode *v) {
        if (v->type == YNODE_STR) {
                _cleanup_strv_free_ char **names = NULL;

                if (strv_split(v->text, ",", &names) < 0) {
                        x->error = -ENOMEM;
                        return;
                }
                for (char **n = names; n && *n; n++)
                        (void) group_find_or_add(x, *n);
                return;
        }
        if (v->type == YNODE_MAP) {
                for (size_t i = 0; i < v->n_pairs; i++) {
                        _cleanup_free_ char *name = NULL, *p = NULL;

                        if (ynode_to_python_str(v->pairs[i].key, &name) < 0)
                                continue;
                        p = path_key("groups", name);
                        if (!p) {
                                x->error = -ENOMEM;
                                return;
                        }
                        group_add_members(x, group_find_or_add(x, name), v->pairs[i].value, p);
                }
                return;
        }
        if (!want(x, v, "groups", T_STR | T_ARRAY | T_OBJECT))
                return;
        for (size_t i = 0; i < v->n_items; i++) {
                const YNode *e = v->items[i];
                _cleanup_free_ char *p = path_index("groups", i);

                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (e->type == YNODE_STR) {
                        _cleanup_free_ char *name = strdup(e->text);

                        if (!name) {
                                x->error = -ENOMEM;
                                return;
                        }
                        (void) group_find_or_add(x, user_data_strip(name));
                } else if (e->type == YNODE_MAP)
                        for (size_t k = 0; k < e->n_pairs; k++) {
                                _cleanup_free_ char *name = NULL, *pk = NULL;

                                if (!want(x, e->pairs[k].key, p, T_STR))
                                        continue;
                                name = strdup(e->pairs[k].key->text);
                                pk = path_key(p, e->pairs[k].key->text);
                                if (!name || !pk) {
                                        x->error = -ENOMEM;
                                        return;
                                }
                                if (e->pairs[k].value->type != YNODE_STR &&
                                    e->pairs[k].value->type != YNODE_SEQ) {
                                        (void) want(x, e->pairs[k].value, pk, T_STR | T_ARRAY);
                                        continue;
                                }
                                group_add_members(x, group_find_or_add(x, name), e->pairs[k].value, pk);
                        }
                else
                        (void) want(x, e, p, T_STR | T_OBJECT);
        }
}

/* ---- write_files (cc_write_files) ---- */

static int normalize_abs_path(const char *p, char **ret) {
        _cleanup_strv_free_ char **comps = NULL, **out = NULL;
        _cleanup_free_ char *joined = NULL;
        size_t len = 0;
        int r;

        /* os.path.abspath() relative to "/": ".." pops, "." and empty components go */
        r = strv_split(p, "/", &comps);
        if (r < 0)
                return r;
        for (char **c = comps; c && *c; c++) {
                if (streq(*c, "."))
                        continue;
                if (streq(*c, "..")) {
                        size_t n = strv_length(out);

                        if (n > 0) {
                                free(out[n - 1]);
                                out[n - 1] = NULL;
                        }
                        continue;
                }
                if (strv_extend(&out, *c) < 0)
                        return -ENOMEM;
        }
        for (char **c = out; c && *c; c++)
                len += strlen(*c) + 1;
        joined = malloc(len + 2);
        if (!joined)
                return -ENOMEM;
        joined[0] = 0;
        for (char **c = out; c && *c; c++) {
                strcat(joined, "/");
                strcat(joined, *c);
        }
        if (!joined[0])
                strcpy(joined, "/");
        *ret = TAKE_PTR(joined);
        return 0;
}

static int decode_content(const YNode *content, const char *encoding, char **ret, size_t *ret_size,
                          char **why) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        bool b64 = false, gz = false;
        int r;

        if (!content) {
                *ret = strdup("");
                *ret_size = 0;
                return *ret ? 0 : -ENOMEM;
        }
        if (encoding) {
                _cleanup_free_ char *e = strdup(encoding);

                if (!e)
                        return -ENOMEM;
                user_data_strip(e);
                for (char *c = e; *c; c++)
                        if (*c >= 'A' && *c <= 'Z')
                                *c = (char) (*c - 'A' + 'a');
                if (streq(e, "gz") || streq(e, "gzip"))
                        gz = true;
                else if (streq(e, "gz+base64") || streq(e, "gzip+base64") || streq(e, "gz+b64") ||
                         streq(e, "gzip+b64"))
                        gz = b64 = true;
                else if (streq(e, "b64") || streq(e, "base64"))
                        b64 = true;
                /* text/plain, and anything unknown ("assuming text/plain") */
        }
        if (content->type != YNODE_STR && content->type != YNODE_BINARY)
                return -EINVAL;
        data = malloc(content->size + 1);
        if (!data)
                return -ENOMEM;
        memcpy(data, content->text, content->size + 1);
        size = content->size;
        if (b64) {
                void *d = NULL;
                size_t ds;

                r = base64_decode(data, size, &d, &ds);
                if (r < 0) {
                        *why = strdup("content is not valid base64");
                        return r == -ENOMEM ? r : -EINVAL;
                }
                explicit_bzero(data, size);
                free(data);
                data = realloc(d, ds + 1);
                if (!data) {
                        free(d);
                        return -ENOMEM;
                }
                data[ds] = 0;
                size = ds;
        }
        if (gz) {
                char *u = NULL;
                size_t us;

                r = user_data_gunzip(data, size, USERDATA_DECOMPRESSED_MAX, &u, &us);
                if (r < 0) {
                        *why = strdup(r == -E2BIG ? "decompressed content is too large"
                                                  : "content is not valid gzip");
                        return r == -ENOMEM ? r : -EINVAL;
                }
                free(data);
                data = u;
                size = us;
        }
        *ret = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

static void parse_one_file(Ctx *x, const YNode *e, const char *path) {
        static const char *const known[] = {"path",        "content",  "source", "owner",
                                            "permissions", "encoding", "append", "defer"};
        const YNode *pn = ynode_get(e, "path"), *content = ynode_get(e, "content"),
                    *enc = ynode_get(e, "encoding"), *perm = ynode_get(e, "permissions"),
                    *owner = ynode_get(e, "owner"), *src = ynode_get(e, "source");
        _cleanup_free_ char *why = NULL, *p = NULL;
        UdWriteFile f = {.mode = 0644, .part = e->part, .line = e->line};
        UserDataConfig *c = x->c;
        UdWriteFile *a;
        int r;

        for (size_t i = 0; i < e->n_pairs; i++) {
                const YNode *k = e->pairs[i].key;
                bool ok = false;

                for (size_t j = 0; k->type == YNODE_STR && j < ELEMENTSOF(known); j++)
                        ok = ok || streq(k->text, known[j]);
                if (!ok) {
                        _cleanup_free_ char *rp = NULL;

                        if (ynode_repr(k, &rp) >= 0)
                                problem(x, k, path,
                                        "Additional properties are not allowed (%s was unexpected)", rp);
                }
        }
        if (!pn) {
                problem(x, e, path, "'path' is a required property");
                return;
        }
        p = path_key(path, "path");
        if (!p) {
                x->error = -ENOMEM;
                return;
        }
        if (!want(x, pn, p, T_STR))
                return;
        if (isempty(pn->text) || strlen(pn->text) != pn->size) {
                problem(x, pn, p, "No path provided to write");
                return;
        }
        r = normalize_abs_path(pn->text, &f.path);
        if (r < 0) {
                x->error = r;
                return;
        }
        if (enc) {
                free(p);
                p = path_key(path, "encoding");
                if (!p || !want(x, enc, p, T_STR))
                        goto fail;
        }
        if (content && content->type != YNODE_STR && content->type != YNODE_BINARY) {
                free(p);
                p = path_key(path, "content");
                if (p)
                        (void) want(x, content, p, T_STR);
                goto fail;
        }
        r = decode_content(content, enc ? enc->text : NULL, &f.content, &f.size, &why);
        if (r == -ENOMEM) {
                x->error = r;
                goto fail;
        }
        if (r < 0) {
                free(p);
                p = path_key(path, "content");
                if (p)
                        problem(x, content, p, "%s", strna(why));
                goto fail;
        }
        if (perm && perm->type != YNODE_NULL) {
                free(p);
                p = path_key(path, "permissions");
                if (!p)
                        goto fail;
                if (user_data_decode_perms(perm, &f.mode) < 0) {
                        _cleanup_free_ char *rp = NULL;

                        /* cloud-init warns and uses the default */
                        if (ynode_repr(perm, &rp) >= 0)
                                problem(x, perm, p, "Undecodable permissions %s, using the default 0644",
                                        rp);
                        f.mode = 0644;
                }
        }
        if (owner) {
                free(p);
                p = path_key(path, "owner");
                if (!p || !dup_str(x, owner, p, &f.owner))
                        goto fail;
        }
        f.append = user_data_is_true(ynode_get(e, "append"));
        f.defer = user_data_is_true(ynode_get(e, "defer"));
        if (src && src->type == YNODE_MAP) {
                const YNode *uri = ynode_get(src, "uri"), *headers = ynode_get(src, "headers");

                if (uri && uri->type == YNODE_STR && free_and_strdup(&f.source_uri, uri->text) < 0)
                        x->error = -ENOMEM;
                for (size_t i = 0; headers && headers->type == YNODE_MAP && i < headers->n_pairs; i++) {
                        _cleanup_free_ char *hk = NULL, *hv = NULL, *line = NULL;

                        if (ynode_to_python_str(headers->pairs[i].key, &hk) < 0 ||
                            ynode_to_python_str(headers->pairs[i].value, &hv) < 0)
                                continue;
                        if (strpbrk(hk, "\r\n:") || strpbrk(hv, "\r\n"))
                                continue;
                        if (asprintf(&line, "%s: %s", hk, hv) < 0 ||
                            strv_push(&f.source_headers, line) < 0) {
                                x->error = -ENOMEM;
                                break;
                        }
                        line = NULL;
                }
        } else if (src) {
                free(p);
                p = path_key(path, "source");
                if (p)
                        (void) want(x, src, p, T_OBJECT);
        }
        if (c->n_write_files >= USERDATA_FILES_MAX) {
                problem(x, e, path, "more than %u files: the rest is ignored", USERDATA_FILES_MAX);
                goto fail;
        }
        a = reallocarray(c->write_files, c->n_write_files + 1, sizeof *a);
        if (!a) {
                x->error = -ENOMEM;
                goto fail;
        }
        c->write_files = a;
        a[c->n_write_files++] = f;
        return;
fail:
        free(f.path);
        if (f.content)
                explicit_bzero(f.content, f.size);
        free(f.content);
        free(f.owner);
        free(f.source_uri);
        strv_free(f.source_headers);
}

static void parse_write_files(Ctx *x, const YNode *v) {
        if (!want(x, v, "write_files", T_ARRAY))
                return;
        for (size_t i = 0; i < v->n_items && x->error >= 0; i++) {
                _cleanup_free_ char *p = path_index("write_files", i);

                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (want(x, v->items[i], p, T_OBJECT))
                        parse_one_file(x, v->items[i], p);
        }
}

/* ---- the other modules ---- */

static void parse_cmd(Ctx *x, const YNode *v, const char *key, char **dest) {
        _cleanup_free_ char *why = NULL;
        int r;

        if (!want(x, v, key, T_ARRAY))
                return;
        for (size_t i = 0; i < v->n_items; i++) {
                _cleanup_free_ char *p = path_index(key, i);

                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (!want(x, v->items[i], p, T_ARRAY | T_STR | T_NULL))
                        return;
        }
        free(*dest);
        *dest = NULL;
        r = user_data_shellify(v, dest, &why);
        if (r == -ENOMEM)
                x->error = r;
        else if (r < 0)
                problem(x, v, key, "%s", strna(why));
}

static void parse_ssh_pwauth(Ctx *x, const YNode *v) {
        if (v->type == YNODE_NULL || (v->type == YNODE_STR && strcasecmp(v->text, "unchanged") == 0))
                x->c->ssh_pwauth = UD_PWAUTH_UNCHANGED;
        else if (user_data_is_true(v))
                x->c->ssh_pwauth = UD_PWAUTH_YES;
        else if (is_false_str(v))
                x->c->ssh_pwauth = UD_PWAUTH_NO;
        else if (want(x, v, "ssh_pwauth", T_BOOL | T_STR))
                problem(x, v, "ssh_pwauth",
                        "Leaving SSH config unchanged: '%s' is not a boolean or 'unchanged'", v->text);
}

static void parse_ssh_keys(Ctx *x, const YNode *v) {
        static const char *const known[] = {
                "rsa_private",     "rsa_public",     "rsa_certificate",
                "ecdsa_private",   "ecdsa_public",   "ecdsa_certificate",
                "ed25519_private", "ed25519_public", "ed25519_certificate",
        };

        if (!want(x, v, "ssh_keys", T_OBJECT))
                return;
        for (size_t i = 0; i < v->n_pairs; i++) {
                const YNode *k = v->pairs[i].key, *val = v->pairs[i].value;
                _cleanup_free_ char *p = NULL;
                bool ok = false;
                UdKeyValue *a;

                for (size_t j = 0; k->type == YNODE_STR && j < ELEMENTSOF(known); j++)
                        ok = ok || streq(k->text, known[j]);
                if (!ok) {
                        _cleanup_free_ char *rp = NULL;

                        if (ynode_repr(k, &rp) >= 0)
                                problem(x, k, "ssh_keys", "Skipping unrecognized ssh_keys entry %s", rp);
                        continue;
                }
                p = path_key("ssh_keys", k->text);
                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (!want(x, val, p, T_STR))
                        continue;
                a = reallocarray(x->c->ssh_keys, x->c->n_ssh_keys + 1, sizeof *a);
                if (!a) {
                        x->error = -ENOMEM;
                        return;
                }
                x->c->ssh_keys = a;
                a[x->c->n_ssh_keys] = (UdKeyValue){strdup(k->text), strdup(val->text)};
                if (!a[x->c->n_ssh_keys].key || !a[x->c->n_ssh_keys].value)
                        x->error = -ENOMEM;
                x->c->n_ssh_keys++;
        }
}

static void parse_manage_etc_hosts(Ctx *x, const YNode *v) {
        if (v->type == YNODE_STR && streq(v->text, "localhost"))
                x->c->manage_etc_hosts = UD_HOSTS_LOCALHOST;
        else if (v->type == YNODE_STR && streq(v->text, "template"))
                x->c->manage_etc_hosts = UD_HOSTS_TEMPLATE;
        else if (user_data_is_true(v))
                x->c->manage_etc_hosts = UD_HOSTS_TEMPLATE;
        else if (v->type == YNODE_BOOL || is_false_str(v) || v->type == YNODE_NULL)
                x->c->manage_etc_hosts = UD_HOSTS_FALSE;
        else if (want(x, v, "manage_etc_hosts", T_BOOL | T_STR))
                problem(x, v, "manage_etc_hosts",
                        "'%s' is not one of [True, False, 'template', 'localhost']", v->text);
}

static void parse_packages(Ctx *x, const YNode *v) {
        if (!want(x, v, "packages", T_ARRAY))
                return;
        for (size_t i = 0; i < v->n_items; i++) {
                const YNode *e = v->items[i];
                _cleanup_free_ char *p = path_index("packages", i), *pkg = NULL;

                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (e->type == YNODE_STR)
                        pkg = strdup(e->text);
                else if (e->type == YNODE_SEQ && e->n_items == 2 && e->items[0]->type == YNODE_STR &&
                         e->items[1]->type != YNODE_SEQ && e->items[1]->type != YNODE_MAP) {
                        _cleanup_free_ char *ver = NULL;

                        /* [name, version] → "name-version" (cloud-init's rhel distro) */
                        if (ynode_to_python_str(e->items[1], &ver) < 0 ||
                            asprintf(&pkg, "%s-%s", e->items[0]->text, ver) < 0)
                                pkg = NULL;
                } else if (e->type == YNODE_MAP) {
                        problem(x, e, p,
                                "package manager sections (apt, snap) are not supported by azl-agent");
                        continue;
                } else {
                        (void) want(x, e, p, T_STR);
                        if (e->type == YNODE_SEQ)
                                problem(x, e, p, "a package must be a name or [name, version]");
                        continue;
                }
                if (!pkg) {
                        x->error = -ENOMEM;
                        return;
                }
                /* a package name that looks like an option would become one */
                if (pkg[0] == '-' || strpbrk(pkg, " \t\n")) {
                        problem(x, e, p, "'%s' is not a package name", pkg);
                        continue;
                }
                if (strv_push(&x->c->packages, pkg) < 0) {
                        x->error = -ENOMEM;
                        return;
                }
                pkg = NULL;
        }
}

static char *repo_value(const YNode *v) {
        char *s = NULL;

        if (v->type == YNODE_BOOL)
                return strdup(v->b ? "1" : "0");
        if (v->type == YNODE_SEQ) {
                for (size_t i = 0; i < v->n_items; i++) {
                        _cleanup_free_ char *e = repo_value(v->items[i]);
                        char *n;

                        if (!e || asprintf(&n, "%s%s%s", strempty(s), s ? "\n" : "", e) < 0) {
                                free(s);
                                return NULL;
                        }
                        free(s);
                        s = n;
                }
                return s ?: strdup("");
        }
        return ynode_to_python_str(v, &s) < 0 ? NULL : s;
}

static void parse_yum_repos(Ctx *x, const YNode *v) {
        if (!want(x, v, "yum_repos", T_OBJECT))
                return;
        for (size_t i = 0; i < v->n_pairs; i++) {
                const YNode *k = v->pairs[i].key, *cfg = v->pairs[i].value;
                _cleanup_free_ char *p = NULL, *id = NULL;
                bool has_url = false;
                UdRepo repo = {}, *a;

                if (ynode_to_python_str(k, &id) < 0)
                        continue;
                for (char *c = id; *c; c++)
                        if (*c == ' ')
                                *c = '-';
                p = path_key("yum_repos", id);
                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (strchr(id, '/') || streq(id, ".") || streq(id, "..") || isempty(id) ||
                    strpbrk(id, "[]\n")) {
                        problem(x, k, p, "'%s' is not a valid repository id", id);
                        continue;
                }
                if (cfg->type != YNODE_NULL && !want(x, cfg, p, T_OBJECT))
                        continue;
                for (size_t j = 0; cfg->type == YNODE_MAP && j < cfg->n_pairs; j++) {
                        _cleanup_free_ char *key = NULL, *val = NULL;
                        UdKeyValue *o;

                        if (ynode_to_python_str(cfg->pairs[j].key, &key) < 0)
                                continue;
                        user_data_strip(key);
                        for (char *c = key; *c; c++)
                                *c = *c == '-'                  ? '_'
                                     : (*c >= 'A' && *c <= 'Z') ? (char) (*c - 'A' + 'a')
                                                                : *c;
                        if (isempty(key) || strpbrk(key, "=:[]\n"))
                                continue;
                        val = repo_value(cfg->pairs[j].value);
                        if (!val) {
                                x->error = -ENOMEM;
                                break;
                        }
                        has_url = has_url || streq(key, "baseurl") || streq(key, "metalink") ||
                                  streq(key, "mirrorlist");
                        o = reallocarray(repo.options, repo.n_options + 1, sizeof *o);
                        if (!o) {
                                x->error = -ENOMEM;
                                break;
                        }
                        repo.options = o;
                        o[repo.n_options++] = (UdKeyValue){TAKE_PTR(key), TAKE_PTR(val)};
                }
                if (!has_url) {
                        problem(x, cfg, p,
                                "Repository %s should contain at least one of the following "
                                "configuration entries: baseurl, metalink, mirrorlist, skipping!",
                                id);
                        for (size_t j = 0; j < repo.n_options; j++) {
                                free(repo.options[j].key);
                                free(repo.options[j].value);
                        }
                        free(repo.options);
                        continue;
                }
                repo.id = TAKE_PTR(id);
                a = reallocarray(x->c->yum_repos, x->c->n_yum_repos + 1, sizeof *a);
                if (!a) {
                        x->error = -ENOMEM;
                        free(repo.id);
                        return;
                }
                x->c->yum_repos = a;
                a[x->c->n_yum_repos++] = repo;
        }
}

static void parse_ca_certs(Ctx *x, const YNode *v, const char *key) {
        const YNode *trusted, *rm;

        if (!want(x, v, key, T_OBJECT))
                return;
        trusted = ynode_get(v, "trusted");
        rm = ynode_get(v, "remove_defaults") ?: ynode_get(v, "remove-defaults");
        if (trusted) {
                _cleanup_free_ char *p = path_key(key, "trusted");

                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                strv_free(x->c->ca_certs_trusted);
                x->c->ca_certs_trusted = strv_from(x, trusted, p, false);
        }
        if (rm) {
                _cleanup_free_ char *p = path_key(key, "remove_defaults");

                if (p)
                        (void) get_bool(x, rm, p, &x->c->ca_certs_remove_defaults);
        }
        for (size_t i = 0; i < v->n_pairs; i++) {
                const YNode *k = v->pairs[i].key;

                if (k->type != YNODE_STR ||
                    (!streq(k->text, "trusted") && !streq(k->text, "remove_defaults") &&
                     !streq(k->text, "remove-defaults")))
                        problem(x, k, key, "Additional properties are not allowed ('%s' was unexpected)",
                                strna(k->text));
        }
}

static void parse_mount_fields(Ctx *x, const YNode *e, const char *p, char *fields[6], size_t *ret_n) {
        size_t n = MIN(e->n_items, (size_t) 6);

        for (size_t k = 0; k < n; k++) {
                if (e->items[k]->type == YNODE_NULL)
                        continue;
                if (ynode_to_python_str(e->items[k], &fields[k]) < 0 || strpbrk(fields[k], " \t\n")) {
                        problem(x, e->items[k], p, "mount fields must be words without white space");
                        free(fields[k]);
                        fields[k] = NULL;
                }
        }
        if (e->n_items > 6)
                problem(x, e, p, "a mount entry has at most 6 fields");
        *ret_n = n;
}

static void parse_mounts(Ctx *x, const YNode *v) {
        x->c->mounts_set = true;
        if (!want(x, v, "mounts", T_ARRAY))
                return;
        for (size_t i = 0; i < v->n_items; i++) {
                const YNode *e = v->items[i];
                _cleanup_free_ char *p = path_index("mounts", i);
                UdMount m = {}, *a;

                if (!p) {
                        x->error = -ENOMEM;
                        return;
                }
                if (!want(x, e, p, T_ARRAY))
                        continue;
                if (e->n_items == 0) {
                        problem(x, e, p, "[] should be non-empty");
                        continue;
                }
                parse_mount_fields(x, e, p, m.fields, &m.n_fields);
                a = reallocarray(x->c->mounts, x->c->n_mounts + 1, sizeof *a);
                if (!a) {
                        for (size_t k = 0; k < 6; k++)
                                free(m.fields[k]);
                        x->error = -ENOMEM;
                        return;
                }
                x->c->mounts = a;
                a[x->c->n_mounts++] = m;
        }
}

/* "1G", "512M", 1073741824, "auto" (cloud-init's human2bytes: B, K, M, G, T, binary). */
static int human2bytes(const YNode *v, uint64_t *ret) {
        static const char units[] = "BKMGT";
        _cleanup_free_ char *s = NULL;
        char *end;
        double d;
        uint64_t mul = 1;
        size_t n;

        if (v->type == YNODE_INT && !v->big && v->i >= 0) {
                *ret = (uint64_t) v->i;
                return 0;
        }
        if (v->type != YNODE_STR || !(s = strdup(v->text)))
                return -EINVAL;
        user_data_strip(s);
        n = strlen(s);
        if (n > 0 && (s[n - 1] == 'B' || s[n - 1] == 'b') && n > 1 && strchr("KMGTkmgt", s[n - 2]))
                s[--n] = 0;
        if (n > 0 && strchr("BKMGTbkmgt", s[n - 1])) {
                const char *u = strchr(units, s[n - 1] >= 'a' ? s[n - 1] - 'a' + 'A' : s[n - 1]);

                for (long k = 0; k < u - units; k++)
                        mul *= 1024;
                s[--n] = 0;
        }
        d = strtod(s, &end);
        if (n == 0 || *end || d < 0 || d * (double) mul > 1e15)
                return -EINVAL;
        *ret = (uint64_t) (d * (double) mul);
        return 0;
}

static void parse_swap(Ctx *x, const YNode *v) {
        const YNode *fn, *size;

        if (!want(x, v, "swap", T_OBJECT))
                return;
        fn = ynode_get(v, "filename");
        size = ynode_get(v, "size");
        if (fn && !dup_str(x, fn, "swap.filename", &x->c->swap_filename))
                return;
        if (fn && x->c->swap_filename[0] != '/') {
                problem(x, fn, "swap.filename", "'%s' is not an absolute path", x->c->swap_filename);
                free(x->c->swap_filename);
                x->c->swap_filename = NULL;
                return;
        }
        if (size && size->type == YNODE_STR && streq(size->text, "auto"))
                x->c->swap_size_auto = true;
        else if (size && human2bytes(size, &x->c->swap_size) < 0)
                problem(x, size, "swap.size", "'%s' is not a size (bytes, or a number with K, M, G, T)",
                        strna(size->text));
        if (ynode_get(v, "maxsize"))
                problem(x, ynode_get(v, "maxsize"), "swap.maxsize",
                        "only used with size: auto, which is not supported");
}

static void parse_power_state(Ctx *x, const YNode *v) {
        UdPowerState *ps = &x->c->power_state;
        const YNode *mode, *delay, *msg, *cond, *timeout;

        if (!want(x, v, "power_state", T_OBJECT))
                return;
        mode = ynode_get(v, "mode");
        delay = ynode_get(v, "delay");
        msg = ynode_get(v, "message");
        cond = ynode_get(v, "condition");
        timeout = ynode_get(v, "timeout");
        if (!mode) {
                problem(x, v, "power_state", "'mode' is a required property");
                return;
        }
        if (!want(x, mode, "power_state.mode", T_STR))
                return;
        if (!streq(mode->text, "poweroff") && !streq(mode->text, "reboot") && !streq(mode->text, "halt")) {
                problem(x, mode, "power_state.mode", "'%s' is not one of ['poweroff', 'reboot', 'halt']",
                        mode->text);
                return;
        }
        if (delay) {
                _cleanup_free_ char *d = NULL;
                unsigned n;

                if (ynode_to_python_str(delay, &d) < 0) {
                        (void) want(x, delay, "power_state.delay", T_INT | T_STR);
                        return;
                }
                if (!streq(d, "now") && safe_atou(d[0] == '+' ? d + 1 : d, &n) < 0) {
                        problem(x, delay, "power_state.delay",
                                "'%s' is not 'now', a number of minutes or '+N'", d);
                        return;
                }
                if (!streq(d, "now") && asprintf(&ps->delay, "+%u", n) < 0)
                        x->error = -ENOMEM;
        }
        if (msg && !dup_str(x, msg, "power_state.message", &ps->message))
                return;
        if (ps->message && strpbrk(ps->message, "\n\r")) {
                problem(x, msg, "power_state.message", "the message must be one line");
                return;
        }
        if (cond) {
                ps->condition = true;
                if (cond->type == YNODE_BOOL)
                        ps->condition_value = cond->b;
                else {
                        problem(x, cond, "power_state.condition",
                                "only true/false conditions are supported by azl-agent (a command is not "
                                "run)");
                        return;
                }
        }
        if (timeout && (timeout->type != YNODE_INT || timeout->i < 0)) {
                (void) want(x, timeout, "power_state.timeout", T_INT);
                if (timeout->type == YNODE_INT)
                        problem(x, timeout, "power_state.timeout", "must be positive");
                return;
        }
        if (timeout)
                ps->timeout = (uint64_t) timeout->i;
        if (free_and_strdup(&ps->mode, mode->text) < 0 || (!ps->delay && !(ps->delay = strdup("now"))))
                x->error = -ENOMEM;
        ps->set = true;
}

/* ---- top-level dispatch ---- */

typedef void (*KeyParser)(Ctx *x, const YNode *v, const char *key);

static void k_users(Ctx *x, const YNode *v, const char *key) {
        parse_users(x, v);
}
static void k_groups(Ctx *x, const YNode *v, const char *key) {
        parse_groups(x, v);
}
static void k_ssh_authorized_keys(Ctx *x, const YNode *v, const char *key) {
        strv_free(x->c->ssh_authorized_keys);
        x->c->ssh_authorized_keys = strv_from(x, v, key, false);
}
static void k_ssh_pwauth(Ctx *x, const YNode *v, const char *key) {
        parse_ssh_pwauth(x, v);
}
static void k_disable_root(Ctx *x, const YNode *v, const char *key) {
        (void) get_bool(x, v, key, &x->c->disable_root);
}
static void k_disable_root_opts(Ctx *x, const YNode *v, const char *key) {
        (void) dup_str(x, v, key, &x->c->disable_root_opts);
}
static void k_ssh_deletekeys(Ctx *x, const YNode *v, const char *key) {
        x->c->ssh_deletekeys_set = get_bool(x, v, key, &x->c->ssh_deletekeys);
}
static void k_ssh_genkeytypes(Ctx *x, const YNode *v, const char *key) {
        strv_free(x->c->ssh_genkeytypes);
        x->c->ssh_genkeytypes = strv_from(x, v, key, false);
        x->c->ssh_genkeytypes_set = true;
        for (char **t = x->c->ssh_genkeytypes; t && *t; t++)
                if (!streq(*t, "rsa") && !streq(*t, "ecdsa") && !streq(*t, "ed25519"))
                        problem(x, v, key, "'%s' is not one of ['ecdsa', 'ed25519', 'rsa']", *t);
}
static void k_ssh_keys(Ctx *x, const YNode *v, const char *key) {
        parse_ssh_keys(x, v);
}
static void k_hostname(Ctx *x, const YNode *v, const char *key) {
        (void) dup_str(x, v, key, &x->c->hostname);
}
static void k_fqdn(Ctx *x, const YNode *v, const char *key) {
        (void) dup_str(x, v, key, &x->c->fqdn);
}
static void k_prefer_fqdn(Ctx *x, const YNode *v, const char *key) {
        bool b;

        if (get_bool(x, v, key, &b))
                x->c->prefer_fqdn_over_hostname = b;
}
static void k_preserve_hostname(Ctx *x, const YNode *v, const char *key) {
        (void) get_bool(x, v, key, &x->c->preserve_hostname);
}
static void k_manage_etc_hosts(Ctx *x, const YNode *v, const char *key) {
        parse_manage_etc_hosts(x, v);
}
static void k_timezone(Ctx *x, const YNode *v, const char *key) {
        (void) dup_str(x, v, key, &x->c->timezone);
}
static void k_write_files(Ctx *x, const YNode *v, const char *key) {
        parse_write_files(x, v);
}
static void k_bootcmd(Ctx *x, const YNode *v, const char *key) {
        parse_cmd(x, v, key, &x->c->bootcmd);
}
static void k_runcmd(Ctx *x, const YNode *v, const char *key) {
        parse_cmd(x, v, key, &x->c->runcmd);
}
static void k_packages(Ctx *x, const YNode *v, const char *key) {
        parse_packages(x, v);
}
static void k_package_update(Ctx *x, const YNode *v, const char *key) {
        x->c->package_update = x->c->package_update || user_data_is_true(v);
}
static void k_package_upgrade(Ctx *x, const YNode *v, const char *key) {
        x->c->package_upgrade = x->c->package_upgrade || user_data_is_true(v);
}
static void k_package_reboot(Ctx *x, const YNode *v, const char *key) {
        x->c->package_reboot_if_required = user_data_is_true(v);
}
static void k_yum_repos(Ctx *x, const YNode *v, const char *key) {
        parse_yum_repos(x, v);
}
static void k_yum_repo_dir(Ctx *x, const YNode *v, const char *key) {
        if (dup_str(x, v, key, &x->c->yum_repo_dir) && x->c->yum_repo_dir[0] != '/') {
                problem(x, v, key, "'%s' is not an absolute path", x->c->yum_repo_dir);
                free(x->c->yum_repo_dir);
                x->c->yum_repo_dir = NULL;
        }
}
static void k_ca_certs(Ctx *x, const YNode *v, const char *key) {
        parse_ca_certs(x, v, key);
}
static void k_mounts(Ctx *x, const YNode *v, const char *key) {
        parse_mounts(x, v);
}
static void k_mount_default_fields(Ctx *x, const YNode *v, const char *key) {
        size_t n;

        if (!want(x, v, key, T_ARRAY))
                return;
        for (size_t k = 0; k < 6; k++) {
                free(x->c->mount_default_fields[k]);
                x->c->mount_default_fields[k] = NULL;
        }
        parse_mount_fields(x, v, key, x->c->mount_default_fields, &n);
}
static void k_swap(Ctx *x, const YNode *v, const char *key) {
        parse_swap(x, v);
}
static void k_final_message(Ctx *x, const YNode *v, const char *key) {
        (void) dup_str(x, v, key, &x->c->final_message);
}
static void k_power_state(Ctx *x, const YNode *v, const char *key) {
        parse_power_state(x, v);
}

static const struct {
        const char *key;
        KeyParser parse;
} key_table[] = {
        {"users", k_users},
        {"groups", k_groups},
        {"ssh_authorized_keys", k_ssh_authorized_keys},
        {"ssh_pwauth", k_ssh_pwauth},
        {"disable_root", k_disable_root},
        {"disable_root_opts", k_disable_root_opts},
        {"ssh_deletekeys", k_ssh_deletekeys},
        {"ssh_genkeytypes", k_ssh_genkeytypes},
        {"ssh_keys", k_ssh_keys},
        {"hostname", k_hostname},
        {"fqdn", k_fqdn},
        {"prefer_fqdn_over_hostname", k_prefer_fqdn},
        {"preserve_hostname", k_preserve_hostname},
        {"manage_etc_hosts", k_manage_etc_hosts},
        {"timezone", k_timezone},
        {"write_files", k_write_files},
        {"bootcmd", k_bootcmd},
        {"runcmd", k_runcmd},
        {"packages", k_packages},
        {"package_update", k_package_update},
        {"package_upgrade", k_package_upgrade},
        {"apt_update", k_package_update}, /* deprecated spellings cloud-init still reads */
        {"apt_upgrade", k_package_upgrade},
        {"package_reboot_if_required", k_package_reboot},
        {"apt_reboot_if_required", k_package_reboot},
        {"yum_repos", k_yum_repos},
        {"yum_repo_dir", k_yum_repo_dir},
        {"ca_certs", k_ca_certs},
        {"ca-certs", k_ca_certs},
        {"mounts", k_mounts},
        {"mount_default_fields", k_mount_default_fields},
        {"swap", k_swap},
        {"final_message", k_final_message},
        {"power_state", k_power_state},
};

void user_data_config_done(UserDataConfig *c) {
        for (size_t i = 0; i < c->n_users; i++)
                user_done(&c->users[i]);
        free(c->users);
        for (size_t i = 0; i < c->n_groups; i++) {
                free(c->groups[i].name);
                strv_free(c->groups[i].members);
        }
        free(c->groups);
        strv_free(c->ssh_authorized_keys);
        free(c->disable_root_opts);
        strv_free(c->ssh_genkeytypes);
        for (size_t i = 0; i < c->n_ssh_keys; i++) {
                free(c->ssh_keys[i].key);
                erase_and_free(c->ssh_keys[i].value);
        }
        free(c->ssh_keys);
        free(c->hostname);
        free(c->fqdn);
        free(c->timezone);
        for (size_t i = 0; i < c->n_write_files; i++) {
                free(c->write_files[i].path);
                if (c->write_files[i].content)
                        explicit_bzero(c->write_files[i].content, c->write_files[i].size);
                free(c->write_files[i].content);
                free(c->write_files[i].owner);
                free(c->write_files[i].source_uri);
                strv_free(c->write_files[i].source_headers);
        }
        free(c->write_files);
        erase_and_free(c->bootcmd);
        erase_and_free(c->runcmd);
        strv_free(c->packages);
        for (size_t i = 0; i < c->n_yum_repos; i++) {
                free(c->yum_repos[i].id);
                for (size_t j = 0; j < c->yum_repos[i].n_options; j++) {
                        free(c->yum_repos[i].options[j].key);
                        free(c->yum_repos[i].options[j].value);
                }
                free(c->yum_repos[i].options);
        }
        free(c->yum_repos);
        free(c->yum_repo_dir);
        strv_free(c->ca_certs_trusted);
        for (size_t i = 0; i < c->n_mounts; i++)
                for (size_t k = 0; k < 6; k++)
                        free(c->mounts[i].fields[k]);
        free(c->mounts);
        for (size_t k = 0; k < 6; k++)
                free(c->mount_default_fields[k]);
        free(c->swap_filename);
        free(c->final_message);
        free(c->power_state.mode);
        free(c->power_state.delay);
        free(c->power_state.message);
        strv_free(c->keys);
        strv_free(c->unsupported);
        for (size_t i = 0; i < c->n_problems; i++) {
                free(c->problems[i].path);
                free(c->problems[i].message);
        }
        free(c->problems);
        *c = (UserDataConfig){};
}

int user_data_config_parse(const YNode *root, UserDataConfig *ret) {
        Ctx x = {.c = ret};

        *ret = (UserDataConfig){
                .disable_root = true,
                .ssh_deletekeys = true,
                .prefer_fqdn_over_hostname = -1,
        };
        if (!root || root->type == YNODE_NULL)
                return 0;
        if (root->type != YNODE_MAP) {
                problem(&x, root, "", "cloud-config is not a YAML dict");
                return x.error;
        }
        for (size_t i = 0; i < root->n_pairs && x.error >= 0; i++) {
                const YNode *k = root->pairs[i].key, *v = root->pairs[i].value;
                _cleanup_free_ char *name = NULL;
                bool known = false;

                if (k->type == YNODE_STR)
                        name = strdup(k->text);
                else if (ynode_repr(k, &name) < 0)
                        name = NULL;
                if (!name)
                        return -ENOMEM;
                if (strv_extend(&ret->keys, name) < 0)
                        return -ENOMEM;
                for (size_t t = 0; k->type == YNODE_STR && t < ELEMENTSOF(key_table); t++)
                        if (streq(k->text, key_table[t].key)) {
                                key_table[t].parse(&x, v, k->text);
                                known = true;
                                break;
                        }
                if (!known && strv_extend(&ret->unsupported, name) < 0)
                        return -ENOMEM;
        }
        if (ret->keys)
                qsort(ret->keys, strv_length(ret->keys), sizeof(char *), strcmp_ptr_cb);
        if (ret->unsupported)
                qsort(ret->unsupported, strv_length(ret->unsupported), sizeof(char *), strcmp_ptr_cb);
        return x.error;
}

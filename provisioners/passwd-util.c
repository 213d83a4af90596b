/* SPDX-License-Identifier: MIT */
/*
 * Account database readers, see passwd-util.h. Lines are split on ':' exactly as the shadow suite does; a
 * line that names the account but does not have the expected number of fields is -EBADMSG (we would rather
 * stop than act on a half-understood entry). Comments ('#') and NIS lines ('+'/'-') are skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "passwd-util.h"
#include "strutil.h"

void passwd_entry_done(PasswdEntry *e) {
        free(e->name);
        free(e->home);
        free(e->shell);
        *e = (PasswdEntry){};
}

void group_entry_done(GroupEntry *e) {
        free(e->name);
        strv_free(e->members);
        *e = (GroupEntry){};
}

/* Splits one line (without its newline) into exactly n ':'-separated fields; the strings are copies. */
static int split_fields(const char *line, size_t len, size_t n, char ***ret) {
        _cleanup_strv_free_ char **f = NULL;
        const char *p = line, *end = line + len;

        for (;;) {
                const char *c = memchr(p, ':', (size_t) (end - p));
                _cleanup_free_ char *s = strndup(p, (size_t) ((c ?: end) - p));
                int r;

                if (!s)
                        return -ENOMEM;
                r = strv_push(&f, s);
                if (r < 0)
                        return r;
                s = NULL;
                if (!c)
                        break;
                p = c + 1;
        }
        if (strv_length(f) != n)
                return -EBADMSG;
        *ret = TAKE_PTR(f);
        return 0;
}

/* Finds the line whose first field is name; returns its fields. */
static int find_line(const char *buf, size_t len, const char *name, size_t n_fields, char ***ret) {
        size_t nlen = strlen(name);
        const char *p = buf, *end = buf + len;

        if (nlen == 0 || strchr(name, ':') || strchr(name, '\n'))
                return -EINVAL;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t l = (size_t) ((nl ?: end) - p);

                if (l > nlen && p[nlen] == ':' && memcmp(p, name, nlen) == 0)
                        return split_fields(p, l, n_fields, ret);
                p += l + 1;
        }
        return -ENOENT;
}

static int parse_id(const char *s, unsigned *ret) {
        unsigned v;
        int r = safe_atou(s, &v);

        if (r < 0)
                return -EBADMSG;
        if (v == (unsigned) -1)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int passwd_find(const char *buf, size_t len, const char *name, PasswdEntry *ret) {
        _cleanup_strv_free_ char **f = NULL;
        PasswdEntry e;
        unsigned uid, gid;
        int r;

        r = find_line(buf, len, name, 7, &f);
        if (r < 0)
                return r;
        if (parse_id(f[2], &uid) < 0 || parse_id(f[3], &gid) < 0)
                return -EBADMSG;
        /* Copies: TAKE_PTR() on a strv element would cut the vector short and leak the rest. */
        e = (PasswdEntry){
                .name = strdup(f[0]), .uid = uid, .gid = gid, .home = strdup(f[5]), .shell = strdup(f[6])};
        if (!e.name || !e.home || !e.shell) {
                passwd_entry_done(&e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

int group_find(const char *buf, size_t len, const char *name, GroupEntry *ret) {
        _cleanup_strv_free_ char **f = NULL, **members = NULL;
        unsigned gid;
        char *n;
        int r;

        r = find_line(buf, len, name, 4, &f);
        if (r < 0)
                return r;
        if (parse_id(f[2], &gid) < 0)
                return -EBADMSG;
        r = strv_split(f[3], ",", &members);
        if (r < 0)
                return r;
        n = strdup(f[0]);
        if (!n)
                return -ENOMEM;
        *ret = (GroupEntry){.name = n, .gid = gid, .members = TAKE_PTR(members)};
        return 0;
}

int shadow_find_hash(const char *buf, size_t len, const char *name, char **ret) {
        _cleanup_strv_free_ char **f = NULL;
        char *h;
        int r;

        r = find_line(buf, len, name, 9, &f);
        if (r < 0)
                return r;
        h = strdup(f[1]);
        explicit_bzero(f[1], strlen(f[1]));
        if (!h)
                return -ENOMEM;
        *ret = h;
        return 0;
}

uid_t login_defs_uid_min(const char *buf, size_t len) {
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t l = (size_t) ((nl ?: end) - p);
                _cleanup_free_ char *copy = strndup(p, l);
                char *line;
                unsigned v;

                p += l + 1;
                if (!copy)
                        break;
                line = strstrip(copy);
                if (!startswith(line, "UID_MIN") || !strchr(" \t", line[7]))
                        continue;
                if (safe_atou(strstrip(line + 7), &v) >= 0 && v > 0)
                        return (uid_t) v;
        }
        return 1000;
}

static int read_db(int root_fd, const char *path, char **ret, size_t *ret_size) {
        return read_file_in_root(root_fd, path, ACCOUNT_DB_MAX, ret, ret_size);
}

int passwd_find_in_root(int root_fd, const char *name, PasswdEntry *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r = read_db(root_fd, "/etc/passwd", &buf, &size);

        return r < 0 ? r : passwd_find(buf, size, name, ret);
}

int group_find_in_root(int root_fd, const char *name, GroupEntry *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r = read_db(root_fd, "/etc/group", &buf, &size);

        return r < 0 ? r : group_find(buf, size, name, ret);
}

int shadow_find_hash_in_root(int root_fd, const char *name, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r = read_db(root_fd, "/etc/shadow", &buf, &size);

        if (r >= 0)
                r = shadow_find_hash(buf, size, name, ret);
        if (buf)
                explicit_bzero(buf, size); /* hashes of every account */
        return r;
}

uid_t uid_min_in_root(int root_fd) {
        _cleanup_free_ char *buf = NULL;
        size_t size;

        if (read_file_in_root(root_fd, "/etc/login.defs", 1024U * 1024U, &buf, &size) < 0)
                return 1000;
        return login_defs_uid_min(buf, size);
}

bool group_has_user(const GroupEntry *g, const PasswdEntry *user) {
        return g->gid == user->gid || strv_contains(g->members, user->name);
}

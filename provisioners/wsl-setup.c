/* SPDX-License-Identifier: MIT */
/*
 * WSL first run: the first user and /etc/wsl.conf "[user] default=" (see wsl-setup.h).
 *
 * The account itself is made by the same code as on Azure (provisioners/user.c: admin groups, password hash,
 * sudoers drop-in); the only WSL-specific parts are the fixed UID 1000 (useradd -u, before the user
 * provisioner runs and finds the account), the wsl.conf editor and the rollback. wsl.conf uses WSL's INI
 * dialect (src/shared/configfile.cpp): "[section]", "key = value", '#' comments; we rewrite only the one
 * key.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "passwd-util.h"
#include "provisioner.h"
#include "spawn-util.h"
#include "strutil.h"
#include "user.h"
#include "wsl-setup.h"

#define PASSWD_LINE_FIELDS 7

/* [p, end) without leading and trailing blanks. */
static void trim_span(const char **p, const char **end) {
        while (*p < *end && (**p == ' ' || **p == '\t'))
                (*p)++;
        while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
                (*end)--;
}

static bool span_eq_nocase(const char *p, const char *end, const char *s) {
        size_t n = strlen(s);

        return (size_t) (end - p) == n && strncasecmp(p, s, n) == 0;
}

int wsl_passwd_find_regular_user(const char *buf, size_t len, char **ret_name, uid_t *ret_uid) {
        const char *end = buf + len;

        for (const char *line = buf; line < end;) {
                const char *eol = memchr(line, '\n', (size_t) (end - line)) ?: end;
                const char *f[PASSWD_LINE_FIELDS + 1], *p = line;
                _cleanup_free_ char *uid_s = NULL;
                size_t n = 0;
                unsigned uid;

                /* Split "name:pw:uid:gid:gecos:home:shell" by hand: fields may be empty. */
                f[n++] = p;
                for (; p < eol && n <= PASSWD_LINE_FIELDS; p++)
                        if (*p == ':')
                                f[n++] = p + 1;
                if (n == PASSWD_LINE_FIELDS && f[1] - 1 > line && line[0] != '+' && line[0] != '-') {
                        uid_s = strndup(f[2], (size_t) (f[3] - 1 - f[2]));
                        if (!uid_s)
                                return -ENOMEM;
                        if (safe_atou(uid_s, &uid) >= 0 && uid >= WSL_DEFAULT_UID &&
                            uid < WSL_REGULAR_UID_END && !span_eq_nocase(line, f[1] - 1, "nobody")) {
                                if (ret_name) {
                                        char *name = strndup(line, (size_t) (f[1] - 1 - line));

                                        if (!name)
                                                return -ENOMEM;
                                        *ret_name = name;
                                }
                                if (ret_uid)
                                        *ret_uid = (uid_t) uid;
                                return 1;
                        }
                }
                line = eol < end ? eol + 1 : end;
        }
        return 0;
}

int wsl_find_regular_user(int root_fd, char **ret_name, uid_t *ret_uid) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_file_in_root(root_fd, "/etc/passwd", ACCOUNT_DB_MAX, &buf, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return wsl_passwd_find_regular_user(buf, size, ret_name, ret_uid);
}

typedef enum ConfLine {
        CONF_LINE_OTHER,
        CONF_LINE_SECTION,      /* "[name]" */
        CONF_LINE_USER_DEFAULT, /* "default=…" inside a [user] section */
} ConfLine;

/* Classifies [line, eol); *in_user tracks whether we are inside a [user] section. */
static ConfLine conf_classify(const char *line, const char *eol, bool *in_user) {
        const char *p = line, *end = eol, *eq;

        trim_span(&p, &end);
        if (p < end && *p == '[') {
                const char *close = memchr(p, ']', (size_t) (end - p));
                const char *s = p + 1, *e = close ?: end;

                trim_span(&s, &e);
                *in_user = close && span_eq_nocase(s, e, "user");
                return CONF_LINE_SECTION;
        }
        if (!*in_user || p == end || *p == '#' || *p == ';')
                return CONF_LINE_OTHER;
        eq = memchr(p, '=', (size_t) (end - p));
        if (!eq)
                return CONF_LINE_OTHER;
        end = eq;
        trim_span(&p, &end);
        return span_eq_nocase(p, end, "default") ? CONF_LINE_USER_DEFAULT : CONF_LINE_OTHER;
}

static void fclose_memstream(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

int wsl_conf_set_default_user(const char *buf, size_t len, const char *name, char **ret) {
        _cleanup_free_ char *out = NULL;
        const char *end = buf + len;
        bool in_user = false, have_key = false, done = false;
        size_t out_size = 0;
        int r = 0;

        if (!user_name_is_valid(name))
                return -EINVAL;
        if (len > WSL_CONF_MAX)
                return -E2BIG;
        if (len > 0 && memchr(buf, 0, len))
                return -EBADMSG;

        /* First pass: is there a "default" key in a [user] section already? */
        for (const char *line = buf; line < end;) {
                const char *eol = memchr(line, '\n', (size_t) (end - line)) ?: end;

                if (conf_classify(line, eol, &in_user) == CONF_LINE_USER_DEFAULT)
                        have_key = true;
                line = eol < end ? eol + 1 : end;
        }

        {
                _cleanup_(fclose_memstream) FILE *f = open_memstream(&out, &out_size);

                if (!f)
                        return -ENOMEM;
                in_user = false;
                for (const char *line = buf; line < end;) {
                        const char *eol = memchr(line, '\n', (size_t) (end - line)) ?: end;
                        bool has_nl = eol < end;

                        switch (conf_classify(line, eol, &in_user)) {
                        case CONF_LINE_USER_DEFAULT:
                                if (!done)
                                        fprintf(f, "default=%s\n", name);
                                done = true;
                                break;
                        case CONF_LINE_SECTION:
                                fwrite(line, 1, (size_t) (eol - line), f);
                                fputc('\n', f);
                                if (in_user && !have_key && !done) {
                                        fprintf(f, "default=%s\n", name);
                                        done = true;
                                }
                                break;
                        case CONF_LINE_OTHER:
                                fwrite(line, 1, (size_t) (eol - line) + has_nl, f);
                                if (!has_nl && !done)
                                        fputc('\n', f); /* the [user] section is appended below */
                                break;
                        }
                        line = has_nl ? eol + 1 : end;
                }
                /* Separated by one blank line from what precedes it, unless that ends with one already. */
                if (!done) {
                        bool blank = len == 0 || (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n');

                        fprintf(f, "%s[user]\ndefault=%s\n", blank ? "" : "\n", name);
                }
                if (fflush(f) != 0 || ferror(f))
                        r = -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

int wsl_conf_write_default_user(int root_fd, const char *name) {
        _cleanup_free_ char *buf = NULL, *new = NULL;
        size_t size = 0;
        int r;

        r = read_file_in_root(root_fd, WSL_CONF, WSL_CONF_MAX, &buf, &size);
        if (r < 0 && r != -ENOENT)
                return r;
        r = wsl_conf_set_default_user(buf ?: "", size, name, &new);
        if (r < 0)
                return r;
        if (buf && streq(buf, new))
                return 0;
        r = write_string_file_atomic_in_root(root_fd, WSL_CONF, new, 0644, WRITE_MKDIR);
        return r < 0 ? r : 1;
}

int wsl_check_new_user_name(int root_fd, const char *name) {
        _cleanup_(passwd_entry_done) PasswdEntry p = {};
        _cleanup_(group_entry_done) GroupEntry g = {};
        int r;

        if (!user_name_is_valid(name))
                return -EINVAL;
        if (user_name_is_reserved(name))
                return -EPERM;
        r = passwd_find_in_root(root_fd, name, &p);
        if (r >= 0)
                return -EEXIST;
        if (r != -ENOENT)
                return r;
        r = group_find_in_root(root_fd, name, &g);
        if (r >= 0)
                return -EEXIST;
        if (r != -ENOENT)
                return r;
        return 0;
}

static const char *env_get(char *const *env, const char *key) {
        size_t n = strlen(key);

        for (char *const *e = env; e && *e; e++)
                if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

/* Does $WSLENV ("VAR/flags:VAR2:…") list var? */
static bool wslenv_lists(const char *wslenv, const char *var) {
        size_t n = strlen(var);

        for (const char *p = wslenv; p && *p;) {
                size_t k = strcspn(p, ":/");

                if (k == n && strncmp(p, var, n) == 0)
                        return true;
                p += strcspn(p, ":");
                if (*p == ':')
                        p++;
        }
        return false;
}

int wsl_suggest_user_name(int root_fd, char *const *env, char **ret) {
        const char *win = env_get(env, "USERNAME");
        _cleanup_free_ char *s = NULL;

        *ret = NULL;
        if (isempty(win) || !wslenv_lists(env_get(env, "WSLENV"), "USERNAME"))
                return 0;
        s = strndup(win, USER_NAME_MAX + 1);
        if (!s)
                return -ENOMEM;
        for (char *p = s; *p; p++)
                *p = *p == ' ' ? '_' : (char) tolower((unsigned char) *p);
        if (wsl_check_new_user_name(root_fd, s) < 0)
                return 0;
        *ret = TAKE_PTR(s);
        return 1;
}

int wsl_read_line(int fd, size_t max, char **ret) {
        _cleanup_erase_ char *buf = NULL;
        size_t n = 0;
        bool too_long = false;

        buf = calloc(1, max + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                char ch;
                ssize_t k = read(fd, &ch, 1);

                if (k < 0)
                        return negative_errno(); /* -EINTR: a signal (Ctrl-C) arrived */
                if (k == 0) {
                        if (n == 0 && !too_long)
                                return -ECANCELED;
                        break; /* a last line without newline (a pipe) */
                }
                if (ch == '\n')
                        break;
                if (n < max)
                        buf[n++] = ch;
                else
                        too_long = true;
                explicit_bzero(&ch, sizeof(ch));
        }
        if (too_long)
                return -E2BIG;
        if (n > 0 && buf[n - 1] == '\r')
                buf[--n] = 0;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* useradd with the fixed UID; groups, password and sudoers are the user provisioner's. The target's useradd
 * (chrooted into an alternate root, see run_shadow_tool()) copies the target's own /etc/skel. */
static int wsl_useradd(Context *c, const char *name) {
        const char *args[16] = {"-u", "1000", "-m", "-U", "-s", "/bin/bash"};
        size_t n = 6;

        _Static_assert(WSL_DEFAULT_UID == 1000U, "the -u argument below");
        args[n++] = name;
        args[n] = NULL;
        return run_shadow_tool(c, "useradd", (char *const *) args);
}

/* Undoes a partial creation: the account with its home and private group, and our sudoers drop-in. */
static void wsl_rollback(Context *c, const char *name, bool remove_sudoers) {
        _cleanup_(passwd_entry_done) PasswdEntry p = {};
        int r;

        if (passwd_find_in_root(c->root_fd, name, &p) >= 0) {
                r = run_shadow_tool(c, "userdel", (char *const[]){(char *) "-r", (char *) name, NULL});
                if (r < 0)
                        (void) log_debug_errno(r, "Failed to remove the half-created user '%s': %m", name);
        }
        if (remove_sudoers)
                (void) unlink_in_root(c->root_fd, SUDOERS_DROPIN);
}

int wsl_setup_user(Context *c, const char *name, const char *password, char **ret_summary) {
        _cleanup_free_ char *summary = NULL;
        ProvisionData d = {
                .username = (char *) name,
                .password = (char *) password,
        };
        bool had_sudoers;
        int r;

        if (password) {
                r = log_add_secret(password);
                if (r < 0)
                        return r;
        }
        r = wsl_check_new_user_name(c->root_fd, name);
        if (r < 0)
                return r;
        had_sudoers = access_in_root(c->root_fd, SUDOERS_DROPIN) >= 0;

        r = wsl_useradd(c, name);
        if (r >= 0)
                r = provisioner_user.apply(c, &d, &summary);
        if (r >= 0)
                r = wsl_conf_write_default_user(c->root_fd, name);
        if (r < 0) {
                wsl_rollback(c, name, !had_sudoers);
                return r;
        }
        log_debug("WSL user: %s", strna(summary));
        if (ret_summary) {
                _cleanup_free_ char *groups = NULL;

                for (char **g = c->config.admin_groups; g && *g; g++) {
                        char *n;

                        if (asprintf(&n, "%s%s%s", strempty(groups), groups ? "," : "", *g) < 0)
                                return -ENOMEM;
                        free(groups);
                        groups = n;
                }
                if (asprintf(ret_summary,
                             "user '%s' (UID %u, groups %s, password %s) as the default user in %s", name,
                             WSL_DEFAULT_UID, groups ?: "none",
                             password ? "set" : "locked, sudo without one", WSL_CONF) < 0)
                        return -ENOMEM;
        }
        return 0;
}

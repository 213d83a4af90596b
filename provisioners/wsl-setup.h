/* SPDX-License-Identifier: MIT */
/*
 * WSL first run ("OOBE"): the first user of a WSL distribution, created by `azl-agent wsl-setup`, which
 * /etc/wsl-distribution.conf names as its [oobe] command (data/wsl-distribution.conf.in). WSL's init runs
 * the command as root on the first interactive launch and starts the shell only when it exits 0; otherwise
 * it runs it again on the next launch (microsoft/WSL src/linux/init/init.cpp, LxssInstance.cpp). So:
 *
 *  - a regular user (WSL_DEFAULT_UID ≤ UID < WSL_REGULAR_UID_END, not "nobody") already in /etc/passwd means
 *    there is nothing to do (an earlier run, or an image that ships its user);
 *  - otherwise the user is created with UID 1000 (the [oobe] defaultUid), the configured admin groups
 *    (Config.admin_groups, default wheel), a yescrypt password hash or a locked password with sudo NOPASSWD,
 *    and "[user] default=<name>" is written into /etc/wsl.conf, keeping every other section and key;
 *  - creation is all or nothing: if any step fails after useradd, the user is removed again (userdel -r).
 *
 * Everything here works under c->root_fd (c->root for the shadow tools' --prefix) and logs at debug level
 * only; the prompts and messages are the verb's (agent/verb-wsl-setup.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "context.h"

#define WSL_DEFAULT_UID     1000U  /* [oobe] defaultUid in /etc/wsl-distribution.conf */
#define WSL_REGULAR_UID_END 60000U /* exclusive; login.defs UID_MAX, below nobody (65534) */
#define WSL_CONF            "/etc/wsl.conf"
#define WSL_CONF_MAX        (1024U * 1024U)
#define WSL_LINE_MAX        1024U /* a typed user name or password, without the newline */

/*
 * Pure: the first regular user in /etc/passwd contents (WSL_DEFAULT_UID ≤ uid < WSL_REGULAR_UID_END, name
 * not "nobody"). Returns 1 and its name and UID (both optional), or 0 when there is none. Malformed lines
 * are skipped, as the C library's getpwent does.
 */
int wsl_passwd_find_regular_user(const char *buf, size_t len, char **ret_name, uid_t *ret_uid);

/* Same over <root>/etc/passwd (a missing file has no users). */
int wsl_find_regular_user(int root_fd, char **ret_name, uid_t *ret_uid);

/*
 * Pure: wsl.conf contents with "[user] default=name". The first "default" key of a [user] section is
 * replaced in place and further ones are dropped; without one, the key goes right after the first [user]
 * header, and without a [user] section, one is appended. Every other line is kept byte for byte. Section and
 * key names compare case-insensitively. -EINVAL for an invalid name, -EBADMSG for NUL bytes, -E2BIG above
 * WSL_CONF_MAX.
 */
int wsl_conf_set_default_user(const char *buf, size_t len, const char *name, char **ret);

/* Rewrites <root>/etc/wsl.conf atomically (mode 0644) with the default user; 1 changed, 0 already so. */
int wsl_conf_write_default_user(int root_fd, const char *name);

/*
 * May name be the new user? -EINVAL (syntax, user_name_is_valid), -EPERM (reserved system name), -EEXIST (a
 * user or a group of that name exists already: useradd -U would fail).
 */
int wsl_check_new_user_name(int root_fd, const char *name);

/*
 * A suggested name for the prompt, or 0 and NULL. WSL does not pass the Windows user name to Linux: only
 * variables listed in $WSLENV cross the boundary, and during the OOBE $USER/$LOGNAME are root's. So
 * $USERNAME is used only when $WSLENV names it (Windows: `setx WSLENV USERNAME/u`), lower-cased with spaces
 * turned into '_', and only if it is acceptable to wsl_check_new_user_name().
 */
int wsl_suggest_user_name(int root_fd, char *const *env, char **ret);

/*
 * Reads one line from fd (a terminal in canonical mode or a pipe) one byte at a time, so nothing after the
 * newline is consumed. The newline and a trailing '\r' are removed; end of file ends a non-empty last line.
 * -ECANCELED on end of file before any byte (Ctrl-D on an empty line), -EINTR when a signal interrupted
 * read(), -E2BIG when the line exceeded max (the rest of it is consumed). The result may hold a password: it
 * is always a buffer that the caller erases.
 */
int wsl_read_line(int fd, size_t max, char **ret);

/*
 * Creates the first user and makes it WSL's default: useradd -u WSL_DEFAULT_UID -m -U -s /bin/bash, then the
 * user provisioner (admin groups, password or lock, sudoers drop-in), then /etc/wsl.conf. password NULL
 * locks the password (sudo without one). On failure after useradd the user (and a sudoers drop-in this call
 * wrote) is removed again. *ret_summary (optional) is a one-line description on success.
 */
int wsl_setup_user(Context *c, const char *name, const char *password, char **ret_summary);

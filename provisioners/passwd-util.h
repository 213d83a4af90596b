/* SPDX-License-Identifier: MIT */
/*
 * Pure readers for /etc/passwd, /etc/group, /etc/shadow and /etc/login.defs contents (passwd(5), group(5),
 * shadow(5), login.defs(5)). We read the files under the root fd ourselves instead of using getpwnam(3):
 * NSS would answer for the host, not for the root we provision (--root), and may consult the network.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ACCOUNT_DB_MAX (16U * 1024U * 1024U)

typedef struct PasswdEntry {
        char *name;
        uid_t uid;
        gid_t gid;
        char *home;
        char *shell;
} PasswdEntry;

typedef struct GroupEntry {
        char *name;
        gid_t gid;
        char **members;
} GroupEntry;

void passwd_entry_done(PasswdEntry *e);
void group_entry_done(GroupEntry *e);

/* Look name up in the file contents; -ENOENT when absent, -EBADMSG when its line is malformed. */
int passwd_find(const char *buf, size_t len, const char *name, PasswdEntry *ret);
int group_find(const char *buf, size_t len, const char *name, GroupEntry *ret);
/* The second (password hash) field of name's shadow line. */
int shadow_find_hash(const char *buf, size_t len, const char *name, char **ret);

/* UID_MIN from login.defs contents (1000 when absent or invalid). */
uid_t login_defs_uid_min(const char *buf, size_t len);

/* Same, reading <root>/etc/{passwd,group,shadow,login.defs}. */
int passwd_find_in_root(int root_fd, const char *name, PasswdEntry *ret);
int group_find_in_root(int root_fd, const char *name, GroupEntry *ret);
int shadow_find_hash_in_root(int root_fd, const char *name, char **ret);
uid_t uid_min_in_root(int root_fd);

/* Is user a member of group (listed, or the group is its primary group)? */
bool group_has_user(const GroupEntry *g, const PasswdEntry *user);

/* SPDX-License-Identifier: MIT */
/*
 * The administrator account: name validation and password hashing (used by the "user" step and its tests).
 */
#pragma once

#include <stdbool.h>

#include "context.h"

#define USER_NAME_MAX  32U
#define SUDOERS_DROPIN "/etc/sudoers.d/azl-agent"

/* ^[a-z_][a-z0-9_-]*[$]?$, at most 32 bytes (useradd(8) "Caveats", the Debian/shadow default rule). */
bool user_name_is_valid(const char *name);

/* root, daemon, bin, … and systemd-*: names of system accounts we refuse to provision as the admin. */
bool user_name_is_reserved(const char *name);

/* yescrypt ("$y$", libxcrypt's default cost, random salt from crypt_gensalt_ra). The result is a secret too. */
#define USER_HASH_PREFIX "$y$"
#define USER_HASH_MAX    512U
int user_hash_password(const char *password, char **ret);

/* A complete "$y$" (yescrypt) or "$6$" (SHA-512 crypt) hash, in crypt(5)'s alphabet (no ':' or newline),
 * that libxcrypt accepts: what a pre-hashed password (cloud-config passwd:) must be to be set as given. */
bool user_password_is_hash(const char *s);

/* Does hash match password (crypt_ra(password, hash) == hash)? */
bool user_password_matches(const char *password, const char *hash);

/* The bytes of the sudoers drop-in for user (NOPASSWD without a password, as protocol §5.2 step 6). */
int user_sudoers_content(const char *user, bool has_password, char **ret);

/*
 * The account functions, for every source of users (the "user" step, WSL setup, cloud-config users). Each
 * checks the current state first and returns 1 when it changed something, 0 when nothing needed doing, or a
 * negative errno with *ret_error (may be NULL; set on failure only, caller frees) saying what failed and why
 * when it is more than the errno (a tool's message, a path that does not resolve inside the root). The tools
 * are the target's (chrooted into an alternate root, see provisioner_run_tool()).
 */
/* groupadd -r for every group of groups (NULL-terminated) that does not exist yet. */
int user_ensure_groups(Context *c, char *const *groups, char **ret_error);
/* A missing account: useradd -m -U -s /bin/bash -G <groups> (its home's base directory checked first); an
 * existing one: usermod -a -G <the groups it is not in yet>. Never recreates an account. */
int user_ensure_account(Context *c, const char *name, char *const *groups, char **ret_error);
/* Sets the cleartext password (hashed with yescrypt) unless the current hash already matches it. */
int user_ensure_password(Context *c, const char *name, const char *password, char **ret_error);
/* Sets a pre-hashed password as given (-EINVAL unless user_password_is_hash()), unless it is already set. */
int user_set_password_hash(Context *c, const char *name, const char *hash, char **ret_error);
/* usermod -L unless the password is already locked ('!' or '*'). */
int user_lock_password(Context *c, const char *name, char **ret_error);
/* SUDOERS_DROPIN for name, validated with the target's visudo when it has one. */
int user_ensure_sudoers(Context *c, const char *name, bool has_password, char **ret_error);

/* Runs a shadow-utils tool (useradd, usermod, userdel, groupadd…) with args (NULL-terminated): the target's
 * own, chrooted into an alternate root. 0 on exit status 0, -ENOENT when the target has no such tool, -EIO
 * otherwise (the reason at debug level). */
/* The directories creating user name would write (/etc/sudoers.d; the home's base directory when the account
 * does not exist yet) resolve inside the root: 0, or the error with a reason naming the path (and the symlink on
 * the way) in *ret_error. Called before the first change, so that such a root is left as it was. */
int user_preflight(Context *c, const char *name, char **ret_error);

int run_shadow_tool(Context *c, const char *tool, char *const *args);

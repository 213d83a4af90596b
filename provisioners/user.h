/* SPDX-License-Identifier: MIT */
/*
 * The administrator account: name validation and password hashing (used by the "user" step and its tests).
 */
#pragma once

#include <stdbool.h>

#include "context.h"

#define USER_NAME_MAX 32U
#define SUDOERS_DROPIN "/etc/sudoers.d/azl-agent"

/* ^[a-z_][a-z0-9_-]*[$]?$, at most 32 bytes (useradd(8) "Caveats", the Debian/shadow default rule). */
bool user_name_is_valid(const char *name);

/* root, daemon, bin, … and systemd-*: names of system accounts we refuse to provision as the admin. */
bool user_name_is_reserved(const char *name);

/* SHA-512 crypt ("$6$", random salt from libxcrypt's crypt_gensalt_ra). The result is a secret too. */
int user_hash_password(const char *password, char **ret);

/* Does hash match password (crypt_ra(password, hash) == hash)? */
bool user_password_matches(const char *password, const char *hash);

/* The bytes of the sudoers drop-in for user (NOPASSWD without a password, as waagent §5.2 step 6). */
int user_sudoers_content(const char *user, bool has_password, char **ret);

/* Runs a shadow-utils tool (useradd, usermod, userdel, groupadd…) with args (NULL-terminated), adding
 * --prefix <root> on a scratch root. 0 on exit status 0, -EIO otherwise (the tool's output at debug level). */
int run_shadow_tool(Context *c, const char *tool, char *const *args);

/* SPDX-License-Identifier: MIT */
/*
 * Scratch roots for the provisioners' tests: a temporary directory with a minimal /etc (passwd, group,
 * shadow, gshadow and login.defs copied from the host with their modes and owners), /etc/skel,
 * /etc/sudoers.d, /etc/ssh/sshd_config.d, /home, empty /dev and /proc, and copies of the real shadow tools,
 * visudo, ssh-keygen and sh with their libraries (tests/integration/install-root-tools.sh): the agent runs a
 * root's own tools chrooted into it.
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "context.h"
#include "tests.h"

char *scratch_root_new(void);
/* Copies the tools into root (install-root-tools.sh); fails the test on error. */
void scratch_install_tools(const char *root);

/* context_init() on root, platform "none", KVP on. Fails the test on error. */
void scratch_context(Context *c, const char *root);

/* Reads <root>/<rel> (NULL when missing). */
char *scratch_read(const char *root, const char *rel);
/* lstat(<root>/<rel>); fails the test when missing. */
void scratch_stat(const char *root, const char *rel, struct stat *st);
bool scratch_exists(const char *root, const char *rel);

/* The line of <root>/<file> whose first ':'-field is name (NULL when absent). */
char *scratch_db_line(const char *root, const char *file, const char *name);

/* Exits 77 unless program is installed. */
void require_program_or_skip(const char *program);

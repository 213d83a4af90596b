/* SPDX-License-Identifier: MIT */
/*
 * Provisioning steps. The provision verb (agent/) fills a ProvisionData from IMDS and the provisioning media
 * (ovf-env.xml), then runs each Provisioner as a row of its step table (agent/provision.c, which also fixes
 * their order). Each step first checks
 * whether anything needs doing (idempotent: a second run returns 0 and touches nothing), then applies its
 * change through c->root_fd (and c->root as text for external tools such as useradd). Steps never log above
 * debug level: they return -errno and a one-line human summary; the verb logs once.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "context.h"

typedef struct ProvisionSshKey {
        char *key;
        char *path; /* NULL → ~/.ssh/authorized_keys; "$HOME/…" is expanded to "/home/…" */
} ProvisionSshKey;

typedef struct ProvisionData {
        char *vm_id;
        char *hostname;
        char *username;
        char *password;         /* secret: erase_and_free; NULL = lock the password */
        bool password_scrubbed; /* the media's password was applied before and scrubbed: keep the account's */
        bool disable_password_auth;
        ProvisionSshKey *ssh_keys;
        size_t n_ssh_keys;
        char *custom_data;       /* base64-decoded bytes from the media, may be NULL */
        bool hostname_fqdn;      /* user data's prefer_fqdn_over_hostname: hostname is the FQDN, set whole */
        bool keep_ssh_host_keys; /* user data manages the SSH host keys (ssh_keys, ssh_genkeytypes, …) */
} ProvisionData;

typedef struct Provisioner {
        const char *name;
        /* <0 error, 0 unchanged, 1 changed. *ret_summary (may be NULL) is set on success, and may be set on
         * failure to the reason (which path, which tool said what); callers free it either way. */
        int (*apply)(Context *c, const ProvisionData *d, char **ret_summary);
} Provisioner;

extern const Provisioner provisioner_hostname;
extern const Provisioner provisioner_user;
extern const Provisioner provisioner_ssh_keys;
extern const Provisioner provisioner_sshd_config;
extern const Provisioner provisioner_ssh_host_keys;

/*
 * Partial input is not total failure (cloud-init drops a malformed key and installs the others): removes from
 * d every SSH key that is malformed, of an unsupported type, or whose path does not resolve inside the admin
 * user's home (its home in <root>/etc/passwd, or /home/<user> before the account exists), calling on_skip
 * with a label naming the key (ssh_key_label()) and the reason for each. Returns the number removed. Whether
 * the user can still log in (a key left, or a password) is the caller's question.
 */
typedef int (*SshKeySkipFunc)(const char *label, const char *reason, void *userdata);
int provision_data_drop_bad_ssh_keys(Context *c, ProvisionData *d, SshKeySkipFunc on_skip, void *userdata);

/* Waits for the ssh-keygen -A that provisioner_ssh_host_keys started for the RSA and ECDSA host keys, if it did,
 * and reloads sshd: 1 and *ret_summary when it made them, 0 when nothing was started, <0 when it failed. */
int ssh_host_keys_finish(Context *c, char **ret_summary);

/* Were this VM's host keys all made (RegenerateSSHHostKeys=)? False when a run ended after the marker but before
 * the ssh-keygen child finished: the next boot must run the steps again. */
bool ssh_host_keys_complete(Context *c, const char *vm_id);

/* Releases every member (the password is wiped) and zeroes *d. */
void provision_data_done(ProvisionData *d);

/* Appends a copy of key/path to d->ssh_keys. */
int provision_data_add_ssh_key(ProvisionData *d, const char *key, const char *path);

/* Provisioning a root other than the running system's (--root DIR, DIR ≠ "/")? */
bool provisioner_alt_root(const Context *c);

/*
 * Runs a tool of the target system with argv: on an alternate root, the root's own tool chrooted into it
 * (absolute symlinks inside the root then resolve inside the root, never to the host); a root without the
 * tool is an error, the host's tool is never run on the root's files. On the running system, as is. input
 * (may be NULL) becomes its stdin (secrets go there, never into argv). 0 on exit status 0; otherwise -ENOENT
 * (no such tool) or -EIO, with *ret_error (may be NULL; set on failure only) saying which tool failed how,
 * with the start of its output.
 */
int provisioner_run_tool(Context *c, char *const *argv, const void *input, size_t input_size,
                         char **ret_error);

/*
 * A one-line reason for error (negative errno) on path inside the root: "<path>: <strerror>", and, when a
 * component of path is a symlink, which one and where it points ("resolved inside <root>"): a symlink to a
 * host path is followed inside the root, so it is usually why the path is missing.
 */
int provisioner_path_error(Context *c, const char *path, int error, char **ret);

/* open_in_root(path, O_PATH|O_DIRECTORY) as a check: 0, or the error with provisioner_path_error()'s reason.
 * missing_ok: a path that does not exist (and has no symlink on the way) is fine too (we will create it). */
int provisioner_check_dir(Context *c, const char *path, bool missing_ok, char **ret_error);

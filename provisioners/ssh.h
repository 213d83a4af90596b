/* SPDX-License-Identifier: MIT */
/*
 * SSH helpers behind the "ssh-keys", "sshd-config" and "ssh-host-keys" steps: public key validation
 * (PROTOCOL.key / RFC 4253 §6.6 public key blob), authorized_keys merging and key path confinement.
 * All pure (no I/O), so that they can be tested and fuzzed directly.
 */
#pragma once

#include <stdbool.h>

#define SSH_KEY_MAX         (16U * 1024U) /* an RSA-16384 key is ~2.8 KiB of base64 */
#define AUTHORIZED_KEYS_MAX (1024U * 1024U)

/*
 * Validates one public key ("type base64-blob [comment]"): CR/LF removed anywhere (cloud-init LP #1910835),
 * the type must be a supported one (ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256/384/521,
 * sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com; ssh-dss is refused: OpenSSH ≥ 9.8 no
 * longer supports DSA), the blob must decode and start with the same type string. Options before the type
 * are not accepted (neither IMDS nor ovf-env carries any). Returns the normalized line in *ret (single
 * spaces, no trailing whitespace); -EINVAL when malformed, -EPROTONOSUPPORT for an unsupported type.
 */
int ssh_key_normalize(const char *key, char **ret);

/* A short reason for an ssh_key_normalize() error, for reports: "malformed key", "unsupported key type"… */
const char *ssh_key_error_reason(int error);

/* A one-line label for key #n (1-based) that names it without quoting it whole, e.g.
 * "SSH public key #2 (ssh-dss, for /home/u/.ssh/authorized_keys)"; control characters become '?'. */
int ssh_key_label(size_t n, const char *key, const char *path, char **ret);

/* "type blob" of an authorized_keys line (options skipped, CR/LF ignored), -ENOENT for comments/blank/unknown
 * lines. */
int ssh_key_identity(const char *line, char **ret);

/*
 * Merges keys (normalized) into an authorized_keys file's contents (existing may be NULL): existing lines
 * are kept byte for byte, keys whose identity is already present are dropped. Returns 1 and the new contents
 * when keys were added, 0 (and *ret untouched) when every key was already there.
 */
int ssh_authorized_keys_merge(const char *existing, char *const *keys, char **ret);

/*
 * Resolves a key file path for a user whose home directory is home: NULL → ".ssh/authorized_keys";
 * "$HOME/…" means "/home/…" (waagent replaces $HOME with OS.HomeDir); "~/…" and relative paths are
 * relative to home. "." and empty components are dropped, ".." is refused. The result, relative to home,
 * goes to *ret_rel; -EPERM when the path is not inside home.
 */
int ssh_key_path_resolve(const char *path, const char *home, char **ret_rel);

/* The sshd_config drop-in's bytes for DisableSshPasswordAuthentication. */
int sshd_dropin_content(bool disable_password_auth, char **ret);

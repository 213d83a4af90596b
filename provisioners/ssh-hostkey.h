/* SPDX-License-Identifier: MIT */
/*
 * An SSH host key made in-process: ed25519 with OpenSSL, written in the formats ssh-keygen writes, so that
 * sshd (and `ssh-keygen -y -f`) read it as their own. Made this way it takes microseconds instead of a fork of
 * ssh-keygen, and none of the seconds RSA 3072 takes: the first key sshd needs is off the path to Ready.
 */
#pragma once

#include <stdint.h>

#define SSH_ED25519_KEY_SIZE      32U
#define SSH_HOST_ED25519_KEY_PATH "/etc/ssh/ssh_host_ed25519_key"

/*
 * The two files of an ed25519 key pair from its 32-byte seed (the private key) and 32-byte public key: the
 * unencrypted "openssh-key-v1" private key, PEM-armoured with its base64 in 70-column lines, and the public
 * line "ssh-ed25519 <base64> <comment>\n". check is the private section's check integer (random in a real
 * key, fixed in a test). Both strings are the caller's; the private one is a secret (erase it, see
 * ssh_host_key_ed25519_write()).
 */
int ssh_ed25519_format(const uint8_t seed[SSH_ED25519_KEY_SIZE], const uint8_t pub[SSH_ED25519_KEY_SIZE],
                       uint32_t check, const char *comment, char **ret_private, char **ret_public);

/*
 * Generates an ed25519 key pair (OpenSSL) and writes <root>/etc/ssh/ssh_host_ed25519_key (0600, root:root)
 * and ssh_host_ed25519_key.pub (0644), each atomically, /etc/ssh created 0755 when missing. The key material
 * is erased from memory before returning. comment: the public key's comment (ssh-keygen -A writes
 * "root@<hostname>"); NULL for none.
 */
int ssh_host_key_ed25519_write(int root_fd, const char *comment);

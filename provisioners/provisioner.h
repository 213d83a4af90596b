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
        char *path;                 /* NULL → ~/.ssh/authorized_keys; "$HOME/…" is expanded to "/home/…" */
} ProvisionSshKey;

typedef struct ProvisionData {
        char *vm_id;
        char *hostname;
        char *username;
        char *password;             /* secret: erase_and_free; NULL = lock the password */
        bool disable_password_auth;
        ProvisionSshKey *ssh_keys;
        size_t n_ssh_keys;
        char *custom_data;          /* base64-decoded bytes from the media, may be NULL */
        bool hostname_fqdn;         /* user data's prefer_fqdn_over_hostname: hostname is the FQDN, set whole */
        bool keep_ssh_host_keys;    /* user data manages the SSH host keys (ssh_keys, ssh_genkeytypes, …) */
} ProvisionData;

typedef struct Provisioner {
        const char *name;
        /* <0 error, 0 unchanged, 1 changed. *ret_summary (may be NULL) is set on success only. */
        int (*apply)(Context *c, const ProvisionData *d, char **ret_summary);
} Provisioner;

extern const Provisioner provisioner_hostname;
extern const Provisioner provisioner_user;
extern const Provisioner provisioner_ssh_keys;
extern const Provisioner provisioner_sshd_config;
extern const Provisioner provisioner_ssh_host_keys;

/* Releases every member (the password is wiped) and zeroes *d. */
void provision_data_done(ProvisionData *d);

/* Appends a copy of key/path to d->ssh_keys. */
int provision_data_add_ssh_key(ProvisionData *d, const char *key, const char *path);

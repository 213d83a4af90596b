/* SPDX-License-Identifier: MIT */
/*
 * The default provisioning order and ProvisionData's lifetime. The order matters: the user must exist before
 * its keys are installed; sshd's configuration and host keys come last so that sshd, reloaded once, sees
 * everything.
 */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "provisioner.h"

const Provisioner *const provisioners_default[] = {
        &provisioner_hostname,
        &provisioner_user,
        &provisioner_ssh_keys,
        &provisioner_sshd_config,
        &provisioner_ssh_host_keys,
        NULL,
};

void provision_data_done(ProvisionData *d) {
        free(d->vm_id);
        free(d->hostname);
        free(d->username);
        erase_and_free(d->password);
        for (size_t i = 0; i < d->n_ssh_keys; i++) {
                free(d->ssh_keys[i].key);
                free(d->ssh_keys[i].path);
        }
        free(d->ssh_keys);
        free(d->custom_data);
        *d = (ProvisionData) {};
}

int provision_data_add_ssh_key(ProvisionData *d, const char *key, const char *path) {
        ProvisionSshKey *a;
        char *k = NULL, *p = NULL;

        if (!key)
                return -EINVAL;
        k = strdup(key);
        if (!k || (path && !(p = strdup(path)))) {
                free(k);
                return -ENOMEM;
        }
        a = reallocarray(d->ssh_keys, d->n_ssh_keys + 1, sizeof *a);
        if (!a) {
                free(k);
                free(p);
                return -ENOMEM;
        }
        d->ssh_keys = a;
        a[d->n_ssh_keys++] = (ProvisionSshKey) { .key = k, .path = p };
        return 0;
}

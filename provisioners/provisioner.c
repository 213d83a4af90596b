/* SPDX-License-Identifier: MIT */
/* ProvisionData's lifetime. (The order the Provisioners run in is agent/provision.c's step table.) */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "provisioner.h"

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

/* SPDX-License-Identifier: MIT */
/*
 * SSH public keys as IMDS publicKeys[].keyData / ovf-env PublicKey/Value give them (provisioners/ssh-keys.c):
 * the input's first line is the key, the rest its path. Invariants: a key that normalizes normalizes again to
 * the same line and keeps its identity; one that does not has a reason; the report label of any key is
 * bounded and free of control characters; a resolved path is relative and has no ".." component; merging the
 * key into an empty authorized_keys gives exactly that line.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ssh.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *buf = NULL, *norm = NULL, *again = NULL, *label = NULL, *id = NULL, *id2 = NULL,
                            *rel = NULL, *merged = NULL;
        char *path, *nl;
        int r;

        if (!fuzz_setup(size))
                return 0;
        buf = strndup((const char *) data, size);
        if (!buf)
                return 0;
        nl = strchr(buf, '\n');
        path = nl ? nl + 1 : NULL;
        if (nl)
                *nl = '\0';

        fuzz_check(ssh_key_label(1, buf, path, &label) >= 0);
        fuzz_check(strlen(label) < 48 * 4 + 256 * 4 + 64);
        for (const char *p = label; *p; p++)
                fuzz_check((unsigned char) *p >= 0x20 && *p != 0x7f);

        r = ssh_key_normalize(buf, &norm);
        if (r < 0)
                fuzz_check(ssh_key_error_reason(r) != NULL);
        else {
                fuzz_check(ssh_key_normalize(norm, &again) >= 0);
                fuzz_check(streq(norm, again));
                fuzz_check(ssh_key_identity(norm, &id) >= 0);
                fuzz_check(ssh_key_identity(buf, &id2) >= 0 ? streq(id, id2) : true);
                fuzz_check(ssh_authorized_keys_merge(NULL, (char *[]){norm, NULL}, &merged) == 1);
                fuzz_check(strlen(merged) == strlen(norm) + 1 && strncmp(merged, norm, strlen(norm)) == 0);
        }

        if (path && ssh_key_path_resolve(path, "/home/azureuser", &rel) >= 0) {
                fuzz_check(rel[0] != '/');
                fuzz_check(!streq(rel, "..") && !startswith(rel, "../") && !strstr(rel, "/../"));
        }
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The account database readers (provisioners/passwd-util.c) over the image's /etc/passwd, /etc/group,
 * /etc/shadow and /etc/login.defs: the same input is searched for "root" and for a typical admin user.
 */
#include "fuzz.h"
#include "passwd-util.h"

static void lookup(const char *buf, size_t len, const char *name) {
        _cleanup_(passwd_entry_done) PasswdEntry p = {};
        _cleanup_(group_entry_done) GroupEntry g = {};
        _cleanup_free_ char *hash = NULL;

        if (passwd_find(buf, len, name, &p) >= 0) {
                fuzz_check(p.name && streq(p.name, name));
                fuzz_check(fuzz_string_ok(p.home, len) && fuzz_string_ok(p.shell, len));
        }
        if (group_find(buf, len, name, &g) >= 0) {
                fuzz_check(g.name && streq(g.name, name));
                fuzz_check(fuzz_strv_ok(g.members, len + 1, len));
        }
        if (shadow_find_hash(buf, len, name, &hash) >= 0)
                fuzz_check(hash && strlen(hash) <= len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!fuzz_setup(size))
                return 0;

        lookup((const char *) data, size, "root");
        lookup((const char *) data, size, "azureuser");
        (void) login_defs_uid_min((const char *) data, size);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * User data → parts (provisioners/userdata/userdata-parts.c): gzip, MIME multipart, prefix sniffing, includes,
 * #cloud-config-archive. The fetcher answers every #include with a fixed MIME document that includes itself,
 * so include handling and its bounds are exercised without I/O. Invariants: the bounds hold (parts, total size,
 * includes, errors); every part has a type in range, a content type, a cleaned non-empty filename without '/'
 * and bytes with a NUL after them; an Ignition config has no parts.
 */
#include "fuzz.h"
#include "strutil.h"
#include "userdata-parts.h"

static const char included[] =
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/x-include-url\n\n#include https://example.invalid/again\n"
        "--b\nContent-Type: text/x-shellscript\n\n#!/bin/sh\n--b--\n";

static int fetch(const char *url, bool once, void *userdata, char **ret, size_t *ret_size) {
        if (strlen(url) % 3 == 0)
                return -ENOENT;
        *ret = strdup(included);
        if (!*ret)
                return -ENOMEM;
        *ret_size = strlen(included);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(user_data_done) UserData u = {};
        size_t total = 0;
        int r;

        if (!fuzz_setup(size))
                return 0;
        r = user_data_split(data, size, fetch, NULL, &u);
        if (r < 0) {
                fuzz_check(r == -E2BIG || r == -ENOMEM);
                return 0;
        }
        fuzz_check(u.n_parts <= USERDATA_PARTS_MAX);
        fuzz_check(u.n_includes <= USERDATA_INCLUDES_MAX);
        fuzz_check(strv_length(u.errors) <= USERDATA_ERRORS_MAX);
        fuzz_check(!u.ignition || u.n_parts == 0);
        for (size_t i = 0; i < u.n_parts; i++) {
                const UserDataPart *p = &u.parts[i];

                fuzz_check(p->type >= 0 && p->type < _UD_PART_TYPE_MAX);
                fuzz_check(user_data_part_type_to_string(p->type));
                fuzz_check(p->content_type && strchr(p->content_type, '/'));
                fuzz_check(!isempty(p->filename) && !strchr(p->filename, '/'));
                fuzz_check(!streq(p->filename, ".") && !streq(p->filename, ".."));
                fuzz_check(p->data && p->data[p->size] == 0);
                total += p->size;
        }
        fuzz_check(total == u.total_size && total <= USERDATA_DECOMPRESSED_MAX);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * PluginVersionManifest XML (extensions/manifest.c manifest_parse, wire protocol §3.3). Each package's own
 * version must select a package (FlexibleVersion matching is reflexive), and the selected one is listed.
 */
#include "fuzz.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Manifest m = {};
        char *error = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (manifest_parse((const char *) data, size, &m, &error) >= 0) {
                fuzz_check(m.n_packages <= MANIFEST_PACKAGES_MAX);
                fuzz_check(m.n_packages == 0 || m.packages);
                for (size_t i = 0; i < m.n_packages; i++) {
                        const ManifestPackage *p = &m.packages[i], *sel = NULL;
                        char *e = NULL;

                        fuzz_check(fuzz_string_ok(p->version, FUZZ_INPUT_MAX));
                        fuzz_check(fuzz_strv_ok(p->uris, MANIFEST_URIS_MAX, FUZZ_INPUT_MAX));
                        if (p->version && manifest_select_version(&m, p->version, &sel, &e) >= 0)
                                fuzz_check(sel >= m.packages && sel < m.packages + m.n_packages);
                        free(e);
                }
                manifest_done(&m);
        }
        free(error);
        return 0;
}

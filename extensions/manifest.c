/* SPDX-License-Identifier: MIT */
/*
 * PluginVersionManifest parser and version selection (wire protocol §3.3; waagent goal_state.py
 * ExtensionManifest and ExtHandlerInstance.decide_version). Pure over (buf, len).
 */
#include <string.h>
#include <strings.h>

#include "ext-util.h"
#include "extensions-goal-state.h"
#include "manifest.h"
#include "strutil.h"
#include "xml-util.h"

void manifest_done(Manifest *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n_packages; i++) {
                free(m->packages[i].version);
                strv_free(m->packages[i].uris);
        }
        free(m->packages);
        *m = (Manifest){};
}

static int parse_packages(xmlNodePtr list, bool internal, Manifest *m) {
        int r;

        XML_FOREACH_CHILD (p, list, "Plugin") {
                _cleanup_free_ char *disallow = NULL;
                ManifestPackage *pkg;

                r = EXT_ARRAY_GROW(m->packages, m->n_packages, MANIFEST_PACKAGES_MAX, &pkg);
                if (r < 0)
                        return r;
                pkg->is_internal = internal;
                r = xml_find_text(p, "Version", &pkg->version);
                if (r < 0)
                        return r == -ENOENT ? -EBADMSG : r;
                XML_FOREACH_CHILD (u, xml_child(p, "Uris"), "Uri") {
                        _cleanup_free_ char *t = NULL;

                        if (strv_length(pkg->uris) >= MANIFEST_URIS_MAX)
                                return -E2BIG;
                        r = xml_node_text(u, &t);
                        if (r < 0)
                                return r;
                        r = strv_push(&pkg->uris, t);
                        if (r < 0)
                                return r;
                        TAKE_PTR(t);
                }
                if (xml_find_text(p, "DisallowMajorVersionUpgrade", &disallow) >= 0)
                        pkg->disallow_major_version_upgrade = strcasecmp(disallow, "true") == 0;
        }
        return 0;
}

int manifest_parse(const char *buf, size_t len, Manifest *ret, char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_(manifest_done) Manifest m = {};
        xmlNodePtr root;
        int r;

        r = xml_parse_buffer(buf, len, &doc);
        if (r < 0)
                return ext_error(ret_error, r, "Manifest is not a valid XML document");
        root = xml_doc_root(doc);
        r = parse_packages(xml_child(root, "Plugins"), false, &m);
        if (r >= 0)
                r = parse_packages(xml_child(root, "InternalPlugins"), true, &m);
        if (r < 0)
                return ext_error(ret_error, r, "Invalid manifest: %s",
                                 r == -EBADMSG ? "a Plugin has no Version" : strerror(-r));
        *ret = m;
        m = (Manifest){};
        return 0;
}

int manifest_select_version(const Manifest *m, const char *requested, const ManifestPackage **ret,
                            char **ret_error) {
        const ManifestPackage *best = NULL;

        for (size_t i = 0; m && requested && i < m->n_packages; i++) {
                const ManifestPackage *p = &m->packages[i];

                if (!flexible_version_has_prefix(p->version, requested))
                        continue;
                if (!best || flexible_version_compare(p->version, best->version) > 0)
                        best = p;
        }
        if (!best)
                return ext_error(ret_error, -ENOENT, "Unable to find version %s in manifest",
                                 strna(requested));
        *ret = best;
        return 0;
}

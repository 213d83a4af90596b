/* SPDX-License-Identifier: MIT */
/*
 * Extension (and guest agent) manifests: PluginVersionManifest XML (wire protocol §3.3) listing the package
 * versions of a handler with their download URIs, and waagent's version selection: among the packages
 * (Plugins and InternalPlugins) whose version has the requested version as a component-wise prefix
 * (FlexibleVersion.matches: "1.0" matches "1.0.x"), the highest is chosen. CRP sends useExactVersion=true with
 * a full version, so in practice the exact version is selected; autoUpgrade is ignored (as by waagent).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define MANIFEST_PACKAGES_MAX 1024U
#define MANIFEST_URIS_MAX     32U

typedef struct ManifestPackage {
        char *version;
        char **uris;      /* strv, may be NULL */
        bool is_internal; /* from <InternalPlugins> */
        bool disallow_major_version_upgrade;
} ManifestPackage;

typedef struct Manifest {
        ManifestPackage *packages; /* document order */
        size_t n_packages;
} Manifest;

void manifest_done(Manifest *m);
int manifest_parse(const char *buf, size_t len, Manifest *ret, char **ret_error);

/* Picks the package for requested (see above). -ENOENT ("Unable to find version X in manifest") if none. */
int manifest_select_version(const Manifest *m, const char *requested, const ManifestPackage **ret,
                            char **ret_error);

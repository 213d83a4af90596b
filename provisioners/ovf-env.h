/* SPDX-License-Identifier: MIT */
/*
 * ovf-env.xml, the provisioning document Azure puts on the provisioning CD-ROM (protocol §5.3;
 * WALinuxAgent common/protocol/ovfenv.py). Elements live in two namespaces, the OVF environment one
 * (http://schemas.dmtf.org/ovf/environment/1) and the Windows Azure one
 * (http://schemas.microsoft.com/windowsazure); every element is matched by local name in either of them.
 *
 * The parser is a pure function over a buffer (fuzzed): no I/O, no logging.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error-util.h"

#define OVF_NAMESPACE "http://schemas.dmtf.org/ovf/environment/1"
#define WA_NAMESPACE  "http://schemas.microsoft.com/windowsazure"

#define OVF_ENV_MAX      (2U * 1024U * 1024U) /* CustomData is at most 64 KiB decoded; leave room */
#define OVF_KEYS_MAX     64U                  /* PublicKey / KeyPair elements accepted */
#define OVF_PASSWORD_MAX 72U                  /* cloud-init MAX_PASSWORD_LENGTH (bcrypt/crypt limit) */

typedef struct OvfPublicKey {
        char *fingerprint; /* may be NULL */
        char *path;        /* may be NULL */
        char *value;       /* may be NULL: the key then comes from the goal-state certificates */
} OvfPublicKey;

typedef struct OvfKeyPair {
        char *fingerprint;
        char *path;
} OvfKeyPair;

typedef struct OvfEnv {
        char *version; /* ProvisioningSection/Version, "1.0" today */
        char *hostname;
        char *username;
        char *password;         /* secret (erased on free); NULL when absent or empty */
        bool password_scrubbed; /* no password: we applied it before and scrubbed it from this copy */
        bool disable_ssh_password_auth; /* only a literal "true" (any case) disables, as waagent */
        OvfPublicKey *public_keys;
        size_t n_public_keys;
        OvfKeyPair *key_pairs;
        size_t n_key_pairs;
        char *custom_data_raw; /* CustomData text as in the document; NULL when absent */
        char *custom_data;     /* base64-decoded (NUL-terminated); NULL when absent or not base64 */
        size_t custom_data_size;
        bool provision_guest_agent;      /* false only for a literal "false" (any case), as waagent */
        char *provision_guest_agent_raw; /* NULL when the element is absent (then the agent is provisioned) */
        bool preprovisioned_vm;          /* PreprovisionedVm == "true" (any case) */
        char *preprovisioned_vm_type; /* PreprovisionedVMType (or PreprovisionedVmType); NULL when absent */
        bool provision_guest_proxy_agent; /* ProvisionGuestProxyAgent == "true" (any case), as cloud-init */
} OvfEnv;

void ovf_env_done(OvfEnv *e);

/*
 * Parses buf. Required: Environment, ProvisioningSection, Version, LinuxProvisioningConfigurationSet, HostName,
 * UserName, PlatformSettingsSection, PlatformSettings; ProvisionGuestAgent is optional (cloud-init does not
 * require it; absent means true). Every element we read may appear at most once in its parent: a second
 * HostName, UserName, ProvisioningSection, PublicKey/Value… is an ambiguous document and rejected, as
 * cloud-init does ("HostName appears 2 times in LinuxProvisioningConfigurationSet"). PublicKey and KeyPair are
 * lists. Returns -EBADMSG, explained in *error (may be NULL; set on failure only), when the document is
 * malformed, ambiguous or incomplete (too many keys or a password above 72 bytes too); -E2BIG above
 * OVF_ENV_MAX.
 * A CustomData that is not valid base64 is kept in custom_data_raw only (waagent saves it undecoded).
 */
int ovf_env_parse(const char *buf, size_t len, OvfEnv *ret, Error *error);

/* The attribute ovf_env_redact() puts on a UserPassword element it emptied (ours; Azure sends none). */
#define OVF_SCRUBBED_ATTR  "scrubbed-by"
#define OVF_SCRUBBED_VALUE "azl-agent"

/*
 * Returns the document with the text of every UserPassword element removed and the element marked with
 * OVF_SCRUBBED_ATTR (what we keep on disk, 0600; parsed again, it reads as password_scrubbed). Returns 1 when
 * a password was removed, 0 when there was none.
 */
int ovf_env_redact(const char *buf, size_t len, char **ret, size_t *ret_size);

/* SPDX-License-Identifier: MIT */
/*
 * Is this a confidential VM, and what follows from it (docs/security.md "Confidential VMs").
 *
 * Two views are compared and both are shown (`azl-agent detect`, `status`, D-Bus Confidential*):
 *   IMDS     compute.securityProfile.securityType ("ConfidentialVM", "TrustedLaunch", "" for standard), with
 *            secureBootEnabled, virtualTpmEnabled, encryptionAtHost. The provisioning run records them, and what
 *            it found in the vTPM (the HCL report's type, confidential/hcl-report.h), in
 *            <StateDirectory>/confidential.json (0644, no secret):
 *              {"version": 1, "recorded_at": "…Z",
 *               "imds": {"security_type": "ConfidentialVM", "secure_boot": true, "virtual_tpm": true,
 *                        "encryption_at_host": null},
 *               "hcl_report": {"type": "sev-snp", "detail": "…"}}
 *   guest    PlatformInfo.confidential: the TEE guest interfaces and CPU flags (common/platform.h), and the HCL
 *            report above (on Azure the paravisor hides the others).
 *
 * [Confidential] Mode=auto makes the confidential-VM defaults apply when either view says so (a host that lies
 * in IMDS cannot switch them off while the guest sees its TEE), yes always, no never. The defaults replace only
 * what no configuration file set (config_key_is_set()):
 *   extension signatures   [Extensions] SignatureValidation=enforce (extensions/ext-package.c enforces)
 *   WireServer guard       required: provisioning fails when the nftables table cannot be installed
 *                          (agent/provision-firewall.c); [Firewall] Enable=no set explicitly still turns it off
 *   decrypted secrets      the tenant certificates' private keys and the transport key are written to
 *                          [Confidential] SecretsDirectory= (must be tmpfs), the waagent contract paths in
 *                          /var/lib/waagent become symlinks to them (common/secret-file.h)
 */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "platform.h"
#include "strutil.h"

struct json_object;

#define CONFIDENTIAL_STATE_FILE       "confidential.json"
#define CONFIDENTIAL_STATE_MAX        (16U * 1024U)
#define SECURITY_TYPE_CONFIDENTIAL_VM "ConfidentialVM"

typedef struct ConfidentialState {
        /* recorded by the provisioning run */
        bool imds_known;
        char *security_type;                              /* "" for a standard VM */
        int secure_boot, virtual_tpm, encryption_at_host; /* -1 unknown */
        char *hcl_report; /* "sev-snp", "tdx", or NULL: none found (or no vTPM) */
        char *hcl_detail; /* what was found, or why nothing */
        usec_t recorded_at;

        /* the verdict, by confidential_evaluate() */
        bool active; /* the confidential-VM defaults apply */
        char *reason;
        char *agreement; /* "agree", "disagree: …", "unknown: …" */
        bool signatures_enforced_by_default;
        bool firewall_required;
        bool secrets_on_tmpfs;
} ConfidentialState;

void confidential_state_done(ConfidentialState *s);

/* The recorded part as confidential.json, and back (pure). */
int confidential_state_to_json(const ConfidentialState *s, char **ret);
int confidential_state_from_json(const char *buf, size_t len, ConfidentialState *ret);

/* <state_dir>/confidential.json beneath root_fd: -ENOENT when no provisioning run recorded one. */
int confidential_state_load(int root_fd, const char *state_dir, ConfidentialState *ret);
int confidential_state_save(int root_fd, const char *state_dir, const ConfidentialState *s);

/*
 * Sets s->active, reason and agreement from the mode, the guest view and what s recorded, and applies the
 * confidential-VM defaults to config (only keys no file set). Idempotent; called again after the provisioning run
 * recorded the IMDS view. Returns 0 or -ENOMEM.
 */
int confidential_evaluate(ConfidentialState *s, const PlatformInfo *platform, Config *config);

/* The "confidential" object of `status --json` (docs/status.schema.json). */
int confidential_status_json(const ConfidentialState *s, const PlatformInfo *platform, const Config *config,
                             struct json_object **ret);
/* One line for D-Bus ConfidentialDetail and the log: "<reason> (IMDS and guest: <agreement>)". */
int confidential_detail(const ConfidentialState *s, char **ret);

/* One line per policy for `status` and D-Bus: "enforce (confidential-VM default)". */
int confidential_describe_signatures(const ConfidentialState *s, const Config *config, char **ret);
int confidential_describe_firewall(const ConfidentialState *s, const Config *config, char **ret);
int confidential_describe_secrets(const ConfidentialState *s, const Config *config, char **ret);

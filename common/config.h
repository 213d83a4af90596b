/* SPDX-License-Identifier: MIT */
/*
 * agent.conf: INI-style configuration, read in this order (later wins), each path under --root:
 *   /usr/lib/azl-agent/agent.conf          vendor defaults (immutable images ship config here)
 *   /etc/azl-agent/agent.conf              administrator
 *   /etc/azl-agent/agent.conf.d/ *.conf    drop-ins, lexical order
 * and finally the file given with --config (a host path). Every key is documented in docs/agent.conf.md.
 * Unknown sections/keys are warnings naming file:line; values that do not parse are errors naming file:line.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "strutil.h"

typedef enum NetworkBackend {
        NETWORK_BACKEND_AUTO,
        NETWORK_BACKEND_NETWORKD,
        NETWORK_BACKEND_NETLINK,
        NETWORK_BACKEND_NONE,
        _NETWORK_BACKEND_MAX,
        _NETWORK_BACKEND_INVALID = -EINVAL,
} NetworkBackend;

typedef enum SignatureMode {
        SIGNATURE_MODE_OFF,
        SIGNATURE_MODE_REPORT,
        SIGNATURE_MODE_ENFORCE,
        _SIGNATURE_MODE_MAX,
        _SIGNATURE_MODE_INVALID = -EINVAL,
} SignatureMode;

typedef enum ConfidentialMode {
        CONFIDENTIAL_MODE_AUTO, /* the confidential-VM defaults apply when IMDS or the guest says so */
        CONFIDENTIAL_MODE_YES,  /* always */
        CONFIDENTIAL_MODE_NO,   /* never */
        _CONFIDENTIAL_MODE_MAX,
        _CONFIDENTIAL_MODE_INVALID = -EINVAL,
} ConfidentialMode;

typedef struct Config {
        /* [Agent] */
        int log_level;
        bool provisioning;
        bool extensions;
        bool kvp;
        char *state_dir;

        /* [Endpoints] */
        char *imds_url;
        char *imds_api_version;
        char *wireserver; /* host[:port]; NULL = DHCP option 245 lease, then 168.63.129.16 */
        unsigned hostgaplugin_port;
        bool endpoints_configured; /* set when any [Endpoints] key came from a file */
        bool allow_non_azure;      /* talk to the endpoints even when not on Azure */

        /* [Timeouts] */
        usec_t imds_deadline;
        usec_t health_deadline;
        usec_t http_timeout;
        usec_t goal_state_period;
        usec_t status_keepalive;
        usec_t pps_wait_deadline; /* pre-provisioned VM pools: wait for the handover; 0 = no limit */

        /* [Provisioning] */
        char **admin_groups;
        bool report_not_ready_at_start;
        bool regenerate_ssh_host_keys;
        bool delete_root_password;
        char *sshd_dropin;

        /* [Network] */
        NetworkBackend network_backend;

        /* [Disks] */
        bool grow_root;
        bool resource_disk_format;
        char *resource_disk_filesystem;
        char *resource_disk_mount_point;
        uint64_t swap_size_mib;

        /* [UserData] */
        char **userdata_sources;  /* "ovf", "imds" in order of preference; NULL = none */
        bool userdata_allow_http; /* #include and write_files source over plain http */

        /* [Extensions] */
        char *extensions_dir;
        SignatureMode signature_mode;
        unsigned cpu_quota_percent;
        uint64_t memory_max_mib;

        /* [Firewall] (provisioners/firewall.h) */
        bool firewall;
        char **firewall_allow_units; /* unit names or cgroup paths, validated by parse_unit_list */

        /* [Confidential] (common/confidential.h, docs/security.md "Confidential VMs") */
        ConfidentialMode confidential_mode;
        char *secrets_dir; /* where decrypted secrets live on a confidential VM: tmpfs only */

        /* [Attestation] (`azl-agent attest`, provisioners/confidential/attested.h) */
        char *attestation_trust_anchors;      /* PEM bundle; NULL = the system trust store */
        char *attestation_intermediates;      /* PEM bundle of untrusted intermediates; NULL = none */
        bool attestation_fetch_intermediates; /* AIA caIssuers over http:// when the chain is incomplete */
        char **attestation_signer_domains;
        usec_t attestation_clock_skew;
        char *tpm_device; /* /dev/tpmrm0, or a unix socket speaking raw TPM 2.0 (swtpm) */

        /* "Section.Key" of every key a configuration file set (config_key_is_set()): the confidential-VM defaults
         * replace only what nobody configured. */
        char **keys_set;
} Config;

int config_init(Config *c); /* defaults */
void config_done(Config *c);

/* Loads the chain described above. Returns -EINVAL if any value was bad (after reporting all of them). */
int config_load(Config *c, int root_fd, const char *extra_file);

/* Parses one file's contents (pure, for tests and fuzzing); filename is used in diagnostics only. */
int config_parse_buffer(Config *c, const char *filename, const char *data, size_t size);

const char *network_backend_to_string(NetworkBackend b);
NetworkBackend network_backend_from_string(const char *s);
const char *signature_mode_to_string(SignatureMode m);
SignatureMode signature_mode_from_string(const char *s);
const char *confidential_mode_to_string(ConfidentialMode m);
ConfidentialMode confidential_mode_from_string(const char *s);

/* Whether a configuration file set [section] key (case-insensitive, as the parser matches). */
bool config_key_is_set(const Config *c, const char *section, const char *key);

/* Writes every key with its current value as an agent.conf (for `azl-agent config` and docs). */
int config_dump(const Config *c, char **ret);

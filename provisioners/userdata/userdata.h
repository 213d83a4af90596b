/* SPDX-License-Identifier: MIT */
/*
 * User data: what the user hands the VM (ARM customData → ovf-env.xml CustomData; IMDS compute/userData),
 * consumed with cloud-init's semantics (issue #18, docs/userdata.md).
 *
 * Two entry points, one per phase:
 *
 *  - userdata_provision(), called by the provisioning run before its provisioners (hostname, admin user, SSH
 *    keys, sshd, host keys): picks the source ([UserData] Sources=), keeps the bytes (<StateDirectory>/userdata/,
 *    /var/lib/waagent/CustomData for waagent compatibility, both 0600), splits and parses them, then runs what
 *    cloud-init runs before sshd: boothooks and bootcmd (every boot), and once per instance write_files
 *    (non-deferred), groups, users, ssh host keys, root's authorized_keys, timezone, /etc/hosts, CA
 *    certificates, yum repositories, mounts and swap. What belongs to the provisioners is handed to them through
 *    the ProvisionData: the hostname (hostname, fqdn, preserve_hostname, prefer_fqdn_over_hostname), ssh_pwauth,
 *    the administrator's extra keys and groups ("default" user). It writes the plan of the after-Ready phase
 *    and the status (<StateDirectory>/userdata.json). Problems never fail provisioning.
 *
 *  - userdata_final(), run by azl-userdata.service (`azl-agent userdata run`) after Ready and
 *    network-online.target, like cloud-final: packages, deferred write_files, scripts (per-once, per-boot,
 *    per-instance, then the user's parts and runcmd, in name order), final_message, power_state — each script
 *    in a transient unit, its output to the journal and to /var/log/azl-agent-userdata.log (capped), its exit
 *    status and last lines to the status. A failing script makes the state "degraded".
 *
 * "Once per instance" is a marker under <StateDirectory>/userdata/instances/<VM id>/sem/: a captured image that
 * boots as a new VM runs it all again. The user data is never logged and never in status (part names, types
 * and key names are).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "provisioner.h"
#include "userdata-config.h"
#include "userdata-parts.h"

#define USERDATA_STATUS_FILE  "userdata.json"
#define USERDATA_DIR          "userdata"
#define USERDATA_LOG_FILE     "/var/log/azl-agent-userdata.log"
#define USERDATA_LOG_MAX      (4U * 1024U * 1024U)
#define USERDATA_WAAGENT_COPY "/var/lib/waagent/CustomData"
#define USERDATA_TAIL_LINES   10U

/* What the provisioning run knows; any member may be NULL/0. */
typedef struct UserDataInput {
        const char *vm_id;
        const void *custom_data; /* ovf-env.xml CustomData, base64-decoded */
        size_t custom_data_size;
        const char *custom_data_raw; /* CustomData as in the document when it did not decode */
        const char *imds_user_data;  /* IMDS compute.userData, base64 */
        bool boot_only;              /* a later boot of a provisioned VM: only the every-boot parts */
} UserDataInput;

/* userdata_provision() results */
enum {
        USERDATA_NONE = 0, /* no user data */
        USERDATA_UNCHANGED = 1,
        USERDATA_CHANGED = 2,
};

/* The user data parsed: parts, merged cloud-config and its typed form. */
typedef struct UserDataDoc {
        UserData parts;
        YNode *merged; /* NULL when there is no cloud-config part */
        UserDataConfig config;
        unsigned n_cloud_config;
        char *source; /* "ovf", "imds", "file", … */
} UserDataDoc;

void user_data_doc_done(UserDataDoc *d);

/*
 * Splits and parses bytes (fetch may be NULL: includes are then reported, not fetched). Problems (YAML errors
 * per part with line, merge errors, schema problems) end up in doc->config.problems. -E2BIG above
 * USERDATA_MAX, -ENOMEM.
 */
int user_data_doc_parse(const void *buf, size_t size, UserDataFetchFunc fetch, void *userdata,
                        UserDataDoc *ret);

/* The include fetcher for the live system: https (http only with [UserData] AllowHTTPInclude=yes), bounded. */
int userdata_fetch_url(const char *url, bool once, void *userdata, char **ret, size_t *ret_size);

/* The provisioning phase (see above). d is amended; *ret_summary (may be NULL) is a one-line, data-free
 * summary for the step record; *ret_warning (may be NULL) the unsupported keys and problem locations, for the
 * journal and the console (NULL when there is nothing to warn about). Returns USERDATA_NONE,
 * USERDATA_UNCHANGED or USERDATA_CHANGED; -errno only when the state directory cannot be written or on OOM. */
int userdata_provision(Context *c, const UserDataInput *in, ProvisionData *d, char **ret_summary,
                       char **ret_warning);

/* The after-Ready phase for vm_id. Returns 0 when everything ran, 1 when something failed (degraded), -errno
 * on errors of its own. */
int userdata_final(Context *c, const char *vm_id);

/* The saved user data of this instance (for `azl-agent userdata show`); -ENOENT when there is none. */
int userdata_load_saved(Context *c, char **ret, size_t *ret_size, char **ret_source);

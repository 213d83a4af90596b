/* SPDX-License-Identifier: MIT */
/*
 * The provisioning run (provision.h): its step tables and the steps. provision-engine.c runs the tables,
 * records every step and makes the health and KVP reports; provision-pps.c has the pool's table. The run
 * (docs/architecture.md has the picture):
 *
 *   provision_boot_steps          every boot; a failure ends the run, but the goal state is still fetched
 *   a first boot, not a pool VM   NotReady/Provisioning
 *   provision_network_steps       every boot (a networkd reload: the next fabric request waits for the links)
 *   marker holds this VM id?      provision_again_steps (without --force)
 *   else a pool VM?               provision_pps(), then provision_handover_steps, NotReady/Provisioning
 *   then                          provision_first_boot_steps, ending in Ready
 *
 * The user data (provisioners/userdata/) is a row of both the again and the first-boot tables.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "disk.h"
#include "hostname.h"
#include "imds.h"
#include "log.h"
#include "macro.h"
#include "media.h"
#include "network.h"
#include "ovf-env.h"
#include "provision-confidential.h"
#include "provision-engine.h"
#include "provision-firewall.h"
#include "provision-keys.h"
#include "provision-pps.h"
#include "provision-report.h"
#include "provision-state.h"
#include "provision.h"
#include "provisioner.h"
#include "ssh.h"
#include "user.h"
#include "userdata.h"
#include "wireserver.h"

static int step_media(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = media_read_ovf_env(p->c, &buf, &size);
        if (r == -ENOMEDIUM || r == -ENOENT)
                return provision_engine_summaryf(ret_summary, STEP_SKIPPED,
                                                 "no provisioning media (ovf-env.xml)");
        if (r < 0)
                return r;
        r = ovf_env_parse(buf, size, &p->ovf, error);
        if (r < 0) {
                explicit_bzero(buf, size);
                return error_prefixf(error, r, "ovf-env.xml is invalid");
        }
        p->have_ovf = true;
        if (p->ovf.password)
                (void) log_add_secret(p->ovf.password);
        r = media_save_ovf_env(p->c, buf, size); /* saves a copy with the password removed */
        explicit_bzero(buf, size);
        if (r < 0)
                log_warning_errno(r, "Failed to keep a redacted copy of ovf-env.xml, ignoring: %m");
        return provision_engine_summaryf(ret_summary, STEP_CHANGED, "ovf-env.xml read");
}

/* Also after a pool handover: the instance then describes the owner's VM, no longer the pool's. */
static int step_imds(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        char what[HTTP_FAILURE_STRING_MAX + 32];
        HttpFailure failure = {};
        struct in_addr address;
        usec_t waited = 0;
        ImdsOptions o;
        JsonError err = {};
        int r;

        if (p->have_imds)
                imds_instance_done(&p->imds);
        p->imds = (ImdsInstance){};
        p->have_imds = false;
        imds_options_from_config(&p->c->config, &o);
        o.policy.failure = &failure;
        /* The unit does not wait for network-online.target: the network may still be coming up (network.h). */
        if (url_ipv4_host(o.url, &address) >= 0) {
                r = network_wait_route(address, p->c->config.imds_deadline, &waited);
                if (r < 0)
                        log_warning_errno(r, "No route to IMDS %s after %.1fs, asking anyway: %m", o.url,
                                          (double) waited / USEC_PER_SEC);
                else if (waited >= 100 * USEC_PER_MSEC)
                        log_info("Network up: a route to IMDS after %.1fs.", (double) waited / USEC_PER_SEC);
        }
        r = imds_fetch_instance(&o, &p->imds, &err);
        if (r == -EBADMSG)
                return error_setf(error, r, "IMDS instance metadata is invalid: %s",
                                  err.message[0] ? err.message : "malformed document");
        if (r == -E2BIG)
                return error_setf(error, r, "IMDS instance metadata is larger than allowed (%u KiB)",
                                  IMDS_RESPONSE_MAX / 1024U);
        if (r < 0)
                return error_setf(error, r, "IMDS did not answer within %llus: %s",
                                  (unsigned long long) (p->c->config.imds_deadline / USEC_PER_SEC),
                                  http_failure_describe(&failure, what, sizeof what) ?: strerror(-r));
        p->have_imds = true;
        if (p->handed_over && p->imds.pps_type != IMDS_PPS_NONE)
                return error_setf(error, -EBADMSG,
                                  "IMDS still reports extended.compute.ppsType %s after reprovisioning",
                                  imds_pps_type_to_string(p->imds.pps_type));
        if (free_and_strdup(&p->state.vm_id, p->imds.vm_id) < 0)
                return -ENOMEM;
        return provision_engine_summaryf(ret_summary, STEP_CHANGED, "vmId %s, %zu SSH key(s)", p->imds.vm_id,
                                         p->imds.n_public_keys);
}

/* The goal state gives the ids every health report carries (protocol §1.5). After a pool handover: a new one. */
static int step_wireserver(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        char what[HTTP_FAILURE_STRING_MAX + 32];
        WireEndpointSource source;
        int r;

        if (p->have_goal_state)
                goal_state_done(&p->goal_state);
        p->have_goal_state = false;
        free(p->wire_endpoint);
        p->wire_endpoint = NULL;
        r = wire_endpoint_discover(&p->c->config, p->c->root_fd, &p->wire_endpoint, &source);
        if (r < 0)
                return error_setf(error, r, "Failed to find the WireServer endpoint: %s", strerror(-r));
        wire_options_init(&p->c->config, p->wire_endpoint, &p->wire);
        /* Every health report needs the goal state: it is retried as long as a report is
         * (HealthDeadlineSec). */
        p->wire.policy.deadline = p->c->config.health_deadline;
        p->wire.policy.max_attempts = 0;
        p->wire.policy.failure = &p->wire_failure;
        r = wire_check_version(&p->wire, NULL);
        if (r >= 0)
                r = wire_fetch_goal_state(&p->wire, &p->goal_state);
        if (r < 0)
                return error_setf(error, r, "WireServer %s did not give a goal state: %s", p->wire_endpoint,
                                  http_failure_describe(&p->wire_failure, what, sizeof what)
                                          ?: r == -EBADMSG || r == -EINVAL || r == -ENODATA
                                             ? "the goal state document is invalid"
                                             : strerror(-r));
        p->have_goal_state = true;
        return provision_engine_summaryf(ret_summary, STEP_CHANGED, "%s, incarnation %s", p->wire_endpoint,
                                         p->goal_state.incarnation);
}

/*
 * Every boot: networking from IMDS (the networkd files live in /run and are regenerated each boot, as
 * cloud-init does; the netlink backend applies only the delta). Bad entries (a NIC repeating another's
 * MAC, an address outside its subnet) are skipped and reported, the rest configured. Only IMDS data
 * without a usable primary NIC fails provisioning (the row's PROVISION_STEP_REQUIRED_INPUT): the VM would
 * have no network. Any other problem is recorded but not fatal: the primary NIC already works (IMDS
 * answered through it) and Ready must still be reported.
 */
static int step_network(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        _cleanup_(network_config_done) NetworkConfig cfg = {};
        NetworkApplyResult res = {};
        _cleanup_free_ char *summary = NULL;
        int r, k;

        if (p->c->config.network_backend == NETWORK_BACKEND_NONE)
                return provision_engine_summaryf(ret_summary, STEP_SKIPPED, "[Network] Backend=none");
        if (!p->have_imds || !p->imds.network)
                return provision_engine_summaryf(ret_summary, STEP_SKIPPED, "IMDS has no network data");
        /* The daemon re-applies with the same function when NICs are hot-plugged (agent/daemon-network.c).
         */
        r = network_apply_imds(p->c, p->imds.network, p->c->config.network_backend, &cfg, &res, &summary);
        if (r == -ENOMEM)
                return r;
        /* networkd now reconfigures the NICs (a new lease, 0.1–2.5 s of a first boot in the VM rig): the next
         * fabric request waits for them (provision_network_settle()), the local steps before it do not */
        if (r > 0 && res.backend == NETWORK_BACKEND_NETWORKD && res.reload == NETWORK_RELOAD_DONE)
                p->network_reloaded_at = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < cfg.n_skipped; i++) {
                k = provision_report_skipped(p, step->name, cfg.skipped[i].item, cfg.skipped[i].reason);
                if (k < 0)
                        return k;
        }
        if (r < 0) {
                log_warning("%s", summary);
                return error_set(error, r, summary);
        }
        *ret_summary = TAKE_PTR(summary);
        return r > 0 ? STEP_CHANGED : STEP_UNCHANGED;
}

/* A NIC that stays down is the requests' problem, reported by them: the wait is bounded and never fails. */
#define NETWORK_RECONFIGURE_TIMEOUT (10U * USEC_PER_SEC)

void provision_network_settle(ProvisionRun *p) {
        usec_t start = now_usec(CLOCK_MONOTONIC), elapsed, waited = 0;
        char took[32] = "", summary[96];
        int r;

        if (p->network_reloaded_at == 0)
                return;
        elapsed = start - p->network_reloaded_at;
        p->network_reloaded_at = 0;
        r = network_wait_networkd_configured(
                elapsed < NETWORK_RECONFIGURE_TIMEOUT ? NETWORK_RECONFIGURE_TIMEOUT - elapsed : 0, &waited);
        if (r < 0 && r != -ETIMEDOUT) {
                log_debug_errno(r, "Cannot watch networkd's links: %m");
                return;
        }
        (void) format_timespan(elapsed + waited, took, sizeof took);
        (void) snprintf(summary, sizeof summary, "links %s %s after the networkd reload",
                        r == 0 ? "up again" : "not up again", took);
        (void) provision_engine_record(p, "network-wait", r == 0 ? STEP_CHANGED : STEP_FAILED, start,
                                       summary);
}

/*
 * Every boot: grow the root partition and filesystem, set up the resource disk. Only on the live system:
 * with --root the disks are not the sandbox's. Optional, as cloud-init's growpart.
 */
static int step_disks(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        _cleanup_(disk_grow_result_done) DiskGrowResult grow = {};
        _cleanup_(resource_disk_result_done) ResourceDiskResult res = {};
        _cleanup_free_ char *summary = NULL;
        int r, k;

        if (p->c->root)
                return provision_engine_summaryf(ret_summary, STEP_SKIPPED,
                                                 "alternate root: disks belong to the live system");
        r = disk_grow_root(p->c, &grow);
        if (r >= 0 && grow.refused)
                log_warning("Root partition not grown: %s", strna(grow.summary));
        k = resource_disk_setup(p->c, NULL, &res);
        if (asprintf(&summary, "root: %s; resource disk: %s", r < 0 ? strerror(-r) : strna(grow.summary),
                     k < 0 ? strerror(-k) : strna(res.summary)) < 0)
                return -ENOMEM;
        if (r < 0 || k < 0) {
                log_warning("Disk setup incomplete: %s", summary);
                return error_set(error, r < 0 ? r : k, summary);
        }
        *ret_summary = TAKE_PTR(summary);
        return r > 0 || k > 0 ? STEP_CHANGED : STEP_UNCHANGED;
}

/* Adds a key unless one with the same type and blob is already there (IMDS and ovf-env usually both carry
 * it). */
static int add_key_once(ProvisionData *d, const char *key, const char *path) {
        _cleanup_free_ char *id = NULL;

        /* Keys that do not parse are added as they are (once): validation skips them with a precise
         * reason. */
        bool parsed = ssh_key_identity(key, &id) >= 0;

        for (size_t i = 0; i < d->n_ssh_keys; i++) {
                _cleanup_free_ char *other = NULL;

                if (!streq_ptr(path, d->ssh_keys[i].path))
                        continue;
                if (parsed ? ssh_key_identity(d->ssh_keys[i].key, &other) >= 0 && streq(id, other)
                           : streq(key, d->ssh_keys[i].key))
                        return 0;
        }
        return provision_data_add_ssh_key(d, key, path);
}

/* IMDS wins where both sources have a value; the media is the only source of the password (protocol §5.2). */
static int build_data(ProvisionRun *p) {
        ProvisionData *d = &p->data;
        const char *hostname = NULL, *username = NULL;
        int r;

        if (p->have_imds) {
                hostname = p->imds.computer_name;
                username = p->imds.admin_username;
                d->disable_password_auth = p->imds.disable_password_authentication;
        } else if (p->have_ovf)
                d->disable_password_auth = p->ovf.disable_ssh_password_auth;
        if (p->have_ovf) {
                hostname = hostname ?: p->ovf.hostname;
                username = username ?: p->ovf.username;
        }
        if (free_and_strdup(&d->vm_id, p->imds.vm_id) < 0 || free_and_strdup(&d->hostname, hostname) < 0 ||
            free_and_strdup(&d->username, username) < 0)
                return -ENOMEM;
        if (p->have_ovf && p->ovf.password && !(d->password = strdup(p->ovf.password)))
                return -ENOMEM;
        d->password_scrubbed = p->have_ovf && p->ovf.password_scrubbed;
        for (size_t i = 0; p->have_imds && i < p->imds.n_public_keys; i++) {
                r = add_key_once(d, p->imds.public_keys[i].key_data, p->imds.public_keys[i].path);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; p->have_ovf && i < p->ovf.n_public_keys; i++) {
                /* A key given only by fingerprint got its value from its certificate (step_validate), unless
                 * that was reported as impossible. */
                if (isempty(p->ovf.public_keys[i].value))
                        continue;
                r = add_key_once(d, p->ovf.public_keys[i].value, p->ovf.public_keys[i].path);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int on_skipped_key(const char *label, const char *reason, void *userdata) {
        return provision_report_skipped(userdata, "validate", label, reason);
}

/* Everything is checked before anything is written: a bad input must leave the system untouched. A bad SSH
 * key among good ones is dropped and reported; only a user who could not log in at all fails. */
static int step_validate(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        ProvisionData *d = &p->data;
        _cleanup_free_ char *keys = NULL;
        int r, dropped;

        /* SSH keys given only by fingerprint: from the goal state's certificates (provision-keys.c). */
        r = provision_resolve_key_fingerprints(&p->wire, p->have_goal_state ? &p->goal_state : NULL,
                                               p->have_ovf ? &p->ovf : NULL, on_skipped_key, p, &keys);
        if (r < 0)
                return r;
        r = build_data(p);
        if (r < 0)
                return r;
        if (isempty(d->username))
                return error_set(error, -EINVAL, "No admin user name in IMDS or ovf-env.xml");
        if (!user_name_is_valid(d->username) || user_name_is_reserved(d->username))
                return error_setf(error, -EINVAL, "Invalid admin user name '%s'", d->username);
        if (!isempty(d->hostname) && !hostname_is_valid_rfc1123(d->hostname))
                return error_setf(error, -EINVAL, "Invalid hostname '%s'", d->hostname);
        dropped = provision_data_drop_bad_ssh_keys(p->c, d, on_skipped_key, p);
        if (dropped == -ENOMEM)
                return dropped;
        if (dropped < 0)
                return error_setf(error, dropped, "Failed to check the SSH keys: %s", strerror(-dropped));
        if (!d->password && !d->password_scrubbed && d->n_ssh_keys == 0 && d->disable_password_auth) {
                if (dropped > 0)
                        return error_setf(error, -EINVAL,
                                          "No valid SSH key (%d skipped as invalid) and no password: "
                                          "the admin user could not log in",
                                          dropped);
                return error_set(error, -EINVAL,
                                 "No SSH key and no password: the admin user could not log in");
        }
        /* deprovision --user removes this user (verb-deprovision.c) */
        if (free_and_strdup(&p->state.admin_user, d->username) < 0)
                return -ENOMEM;
        if (dropped > 0)
                return provision_engine_summaryf(ret_summary, STEP_UNCHANGED,
                                                 "%d invalid SSH key(s) skipped, %zu kept%s%s", dropped,
                                                 d->n_ssh_keys, keys ? "; " : "", strempty(keys));
        *ret_summary = TAKE_PTR(keys);
        return STEP_UNCHANGED;
}

/*
 * User data (issue #18, provisioners/userdata/): every boot its boothooks and bootcmd; on the instance's
 * first run also the cloud-config modules that belong before sshd, and the hostname, ssh_pwauth and
 * administrator keys it hands to the provisioners through p->data. Its problems are reported (an optional
 * row), never fatal.
 */
static int userdata_run(ProvisionRun *p, bool boot_only, char **ret_summary) {
        _cleanup_free_ char *summary = NULL, *warning = NULL;
        UserDataInput in = {
                .vm_id = p->imds.vm_id[0] ? p->imds.vm_id : NULL,
                .custom_data = p->have_ovf ? p->ovf.custom_data : NULL,
                .custom_data_size = p->have_ovf ? p->ovf.custom_data_size : 0,
                .custom_data_raw = p->have_ovf && !p->ovf.custom_data ? p->ovf.custom_data_raw : NULL,
                .imds_user_data = p->have_imds ? p->imds.user_data : NULL,
                .boot_only = boot_only,
        };
        int r;

        r = userdata_provision(p->c, &in, &p->data, &summary, &warning);
        if (warning)
                log_warning("%s", warning); /* journal and console: unsupported keys, problem locations */
        if (r < 0)
                return r;
        *ret_summary = TAKE_PTR(summary);
        return r == USERDATA_NONE ? STEP_SKIPPED : r == USERDATA_CHANGED ? STEP_CHANGED : STEP_UNCHANGED;
}

static int step_userdata(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        return userdata_run(p, /* boot_only= */ false, ret_summary);
}

/* A later boot of the same VM: the boothooks and bootcmd only. */
static int step_userdata_boot(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                              Error *error) {
        return userdata_run(p, /* boot_only= */ true, ret_summary);
}

/* A row per Provisioner (provisioners/): the row's userdata. */
static int step_provisioner(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                            Error *error) {
        const Provisioner *provisioner = step->userdata;
        int r;

        r = provisioner->apply(p->c, &p->data, ret_summary);
        if (r < 0) {
                /* A Provisioner may explain its failure in the summary (which path, which tool said what) */
                if (*ret_summary)
                        return error_setf(error, r, "Step %s failed: %s", step->name, *ret_summary);
                return r;
        }
        return r > 0 ? STEP_CHANGED : STEP_UNCHANGED;
}

static int step_marker(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        int r;

        r = provisioned_marker_write(p->c, p->imds.vm_id);
        if (r < 0)
                return r;
        r = pps_marker_remove(p->c);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the " PPS_MARKER " marker, ignoring: %m");
        return STEP_CHANGED;
}

static int step_marker_found(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                             Error *error) {
        return provision_engine_summaryf(ret_summary, STEP_UNCHANGED, "already provisioned for this VM id");
}

/* After Ready: the RSA and ECDSA host keys the "ssh-host-keys" step left to a child (provisioners/ssh.c); the
 * unit, and with it sshd, waits for them. Not recorded when nothing was started. */
static int step_host_keys_rest(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                               Error *error) {
        int r;

        r = ssh_host_keys_finish(p->c, ret_summary);
        if (r < 0)
                return r;
        return r > 0 ? STEP_CHANGED : PROVISION_STEP_UNRECORDED;
}

/* clang-format off */
#define REQUIRED PROVISION_STEP_REQUIRED
#define PROVISIONER_STEP(name, provisioner) \
        { name, step_provisioner, REQUIRED | PROVISION_STEP_CRASH_START | PROVISION_STEP_FAILURE_SUMMARY, \
          .userdata = &(provisioner) }

/* Every boot, before anything else (protocol §5.2). */
const ProvisionStepDef provision_boot_steps[] = {
        { "media",        step_media,        REQUIRED, "Failed to read the provisioning media" },
        /* ProvisionGuestProxyAgent=true: the Proxy Agent must be healthy before IMDS, as cloud-init */
        { "proxy-agent",  step_proxy_agent,  REQUIRED },
        { "imds",         step_imds,         REQUIRED },
        /* Confidential VM? Sets the defaults of what follows, with or without IMDS (provision-confidential.c) */
        { "confidential", step_confidential, PROVISION_STEP_ALWAYS },
        /* The WireServer guard goes up before the first WireServer request, failures included; a
         * confidential VM requires it */
        { "firewall",     step_firewall,     PROVISION_STEP_ALWAYS | PROVISION_STEP_REQUIRED_CONFIDENTIAL },
        { "wireserver",   step_wireserver,   REQUIRED | PROVISION_STEP_ALWAYS },
        {}
};

/* Every boot, after the boot steps and a first boot's NotReady/Provisioning: the networkd reload it may make
 * would hold that report back until the links are up again (provision_network_settle()). Only IMDS data
 * without a usable primary NIC fails the run (the VM would have no network). */
const ProvisionStepDef provision_network_steps[] = {
        { "network",      step_network,      PROVISION_STEP_REQUIRED_INPUT },
        {}
};

/* The marker holds this VM id: provisioned before (a reboot); only the user data's boothooks and bootcmd,
 * and tell the fabric. */
const ProvisionStepDef provision_again_steps[] = {
        { "userdata",     step_userdata_boot },
        { "marker",       step_marker_found },
        { "report-ready", provision_engine_report_ready, REQUIRED },
        /* after Ready, as waagent's resource disk and cloud-init's growpart (its network stage): neither fails
         * provisioning, and logins wait for the unit anyway */
        { "disks",        step_disks },
        {}
};

/* A pool VM was handed out (provision-pps.c): IMDS, the goal state (a new incarnation) and the network
 * describe the owner's VM now. */
const ProvisionStepDef provision_handover_steps[] = {
        { "imds",       step_imds,       REQUIRED },
        { "wireserver", step_wireserver, REQUIRED },
        { "network",    step_network,    PROVISION_STEP_REQUIRED_INPUT },
        {}
};

/*
 * First boot of this VM id: validation first, nothing is written before it passes. The user must exist
 * before its keys are installed; sshd's configuration and host keys come last so that sshd, reloaded once,
 * sees everything.
 */
const ProvisionStepDef provision_first_boot_steps[] = {
        { "validate", step_validate, REQUIRED | PROVISION_STEP_FAILURE_SUMMARY },
        /* before the provisioners: it may set the hostname, ssh_pwauth and the administrator's keys */
        { "userdata", step_userdata, PROVISION_STEP_CRASH_START },
        PROVISIONER_STEP("hostname",      provisioner_hostname),
        PROVISIONER_STEP("user",          provisioner_user),
        PROVISIONER_STEP("ssh-keys",      provisioner_ssh_keys),
        PROVISIONER_STEP("sshd-config",   provisioner_sshd_config),
        PROVISIONER_STEP("ssh-host-keys", provisioner_ssh_host_keys),
        { "marker",       step_marker,                   REQUIRED, "Failed to write the provisioned marker" },
        { "report-ready", provision_engine_report_ready, REQUIRED },
        { "disks",        step_disks }, /* after Ready: see provision_again_steps */
        { "ssh-host-keys-rest", step_host_keys_rest, PROVISION_STEP_ALWAYS,
          "Failed to make the RSA and ECDSA host keys" },
        {}
};
/* clang-format on */

int provision_run(Context *c, bool force) {
        _cleanup_(provision_run_done) ProvisionRun p = {.c = c};
        _cleanup_error_ Error allowed = ERROR_NULL;
        _cleanup_free_ char *marker = NULL;
        PpsType pool;
        bool again;
        int r;

        r = context_endpoints_allowed(c, &allowed);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_full_errno_id(LOG_NOTICE, 0, MESSAGE_ID_REFUSED_ENDPOINT, "Not provisioning: %s",
                                  error_reason(&allowed));
                return EXIT_NOT_APPLICABLE;
        }
        log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_PROVISIONING_STARTED, "Provisioning (%s).",
                          error_reason(&allowed));
        if (provision_engine_begin(&p) < 0)
                return log_oom();
        provision_firewall_warm_up(&p);

        r = provision_engine_run(&p, provision_boot_steps);
        if (r < 0)
                return provision_engine_finish(&p, r, NULL);

        r = provisioned_marker_read(c, &marker);
        again = r > 0 && streq(marker, p.imds.vm_id);
        if (again && !force && !ssh_host_keys_complete(c, p.imds.vm_id)) {
                log_info("Provisioned for VM id %s, but not all of its SSH host keys were made (a run ended "
                         "before ssh-keygen did): running the steps again.",
                         marker);
                force = true;
        }
        if (again && force) /* --force on a VM in service: the steps again, no NotReady in between */
                log_info("Already provisioned for VM id %s; running the steps again (--force).", marker);
        else if (!again && r > 0)
                log_info("VM id changed from %s to %s (captured image): provisioning again.", marker,
                         p.imds.vm_id);
        /* a pool VM reports for the owner's goal state, after the handover */
        pool = again ? PPS_NONE : provision_pps_type(&p);
        if (!again && pool == PPS_NONE && c->config.report_not_ready_at_start)
                provision_engine_report_provisioning(&p);

        r = provision_engine_run(&p, provision_network_steps);
        if (r < 0)
                return provision_engine_finish(&p, r, NULL);
        if (again && !force)
                return provision_engine_finish(&p, provision_engine_run(&p, provision_again_steps),
                                               "Already provisioned:");
        if (pool != PPS_NONE) {
                /* Pre-provisioned VM pools: Ready for the pool, wait for the handover, the owner's data. */
                r = provision_pps(&p, pool);
                if (r > 0)
                        r = provision_engine_run(&p, provision_handover_steps);
                if (r < 0)
                        return provision_engine_finish(&p, r, NULL);
                if (c->config.report_not_ready_at_start)
                        provision_engine_report_provisioning(&p);
        }
        return provision_engine_finish(&p, provision_engine_run(&p, provision_first_boot_steps),
                                       "Provisioned:");
}

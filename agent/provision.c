/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "crash-point.h"
#include "disk.h"
#include "hostname.h"
#include "imds.h"
#include "kvp.h"
#include "log.h"
#include "macro.h"
#include "media.h"
#include "network.h"
#include "ovf-env.h"
#include "provision-internal.h"
#include "provision-pps.h"
#include "provision-state.h"
#include "provision.h"
#include "provisioner.h"
#include "ssh.h"
#include "user.h"
#include "userdata.h"
#include "version.h"
#include "wireserver.h"

/* struct ProvisionRun is in provision-internal.h (shared with provision-pps.c). */

static void provision_run_done(ProvisionRun *p) {
        provision_state_done(&p->state);
        if (p->have_ovf)
                ovf_env_done(&p->ovf);
        if (p->have_imds)
                imds_instance_done(&p->imds);
        if (p->have_goal_state)
                goal_state_done(&p->goal_state);
        free(p->wire_endpoint);
        provision_data_done(&p->data);
        free(p->failed_step);
}

/* Records a step and saves state.json so that `status` (and a crash) sees it at once. */
int record_step(ProvisionRun *p, const char *name, StepResult result, usec_t start, const char *summary) {
        usec_t duration = now_usec(CLOCK_MONOTONIC) - start;
        char dur[32] = "";
        int r;

        r = provision_state_add_step(&p->state, name, result, duration, summary);
        if (r < 0)
                return r;
        (void) format_timespan(duration, dur, sizeof dur);
        log_full_errno_id(result == STEP_FAILED ? LOG_ERR : LOG_INFO, 0, MESSAGE_ID_PROVISIONING_STEP,
                          "Step %s: %s in %s%s%s", name, step_result_to_string(result), dur, summary ? ": " : "",
                          strempty(summary));
        r = provision_state_save(p->c, &p->state);
        if (r < 0)
                log_warning_errno(r, "Failed to save the provisioning state, ignoring: %m");
        crash_pointf("provision:%s:recorded", name); /* every step's end (tests/crash) */
        return 0;
}

/* Fails the run with a reason (formatted). The reason is what the fabric and the user will see. */
int fail(ProvisionRun *p, const char *step, int error, const char *fmt, ...) {
        _cleanup_free_ char *reason = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&reason, fmt, ap) < 0)
                reason = NULL;
        va_end(ap);
        if (!reason)
                return -ENOMEM;
        free(p->state.reason);
        p->state.reason = TAKE_PTR(reason);
        (void) free_and_strdup(&p->failed_step, step);
        return error < 0 ? error : -EINVAL;
}

static int step_media(ProvisionRun *p) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        usec_t start = now_usec(CLOCK_MONOTONIC);
        size_t size;
        int r;

        r = media_read_ovf_env(p->c, &buf, &size);
        if (r == -ENOMEDIUM || r == -ENOENT)
                return record_step(p, "media", STEP_SKIPPED, start, "no provisioning media (ovf-env.xml)");
        if (r < 0) {
                (void) record_step(p, "media", STEP_FAILED, start, NULL);
                return fail(p, "media", r, "Failed to read the provisioning media: %s", strerror(-r));
        }
        r = ovf_env_parse(buf, size, &p->ovf, &error);
        if (r < 0) {
                explicit_bzero(buf, size);
                (void) record_step(p, "media", STEP_FAILED, start, NULL);
                return fail(p, "media", r, "ovf-env.xml is invalid: %s", error ?: strerror(-r));
        }
        p->have_ovf = true;
        if (p->ovf.password)
                (void) log_add_secret(p->ovf.password);
        r = media_save_ovf_env(p->c, buf, size); /* saves a copy with the password removed */
        explicit_bzero(buf, size);
        if (r < 0)
                log_warning_errno(r, "Failed to keep a redacted copy of ovf-env.xml, ignoring: %m");
        return record_step(p, "media", STEP_CHANGED, start, "ovf-env.xml read");
}

int step_imds(ProvisionRun *p) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        _cleanup_free_ char *summary = NULL;
        char what[HTTP_FAILURE_STRING_MAX + 32];
        HttpFailure failure = {};
        ImdsOptions o;
        JsonError err = {};
        int r;

        imds_options_from_config(&p->c->config, &o);
        o.policy.failure = &failure;
        r = imds_fetch_instance(&o, &p->imds, &err);
        if (r < 0) {
                (void) record_step(p, "imds", STEP_FAILED, start, NULL);
                if (r == -EBADMSG)
                        return fail(p, "imds", r, "IMDS instance metadata is invalid: %s",
                                    err.message[0] ? err.message : "malformed document");
                if (r == -E2BIG)
                        return fail(p, "imds", r, "IMDS instance metadata is larger than allowed (%u KiB)",
                                    IMDS_RESPONSE_MAX / 1024U);
                return fail(p, "imds", r, "IMDS did not answer within %llus: %s",
                            (unsigned long long) (p->c->config.imds_deadline / USEC_PER_SEC),
                            http_failure_describe(&failure, what, sizeof what) ?: strerror(-r));
        }
        p->have_imds = true;
        if (asprintf(&summary, "vmId %s, %zu SSH key(s)", p->imds.vm_id, p->imds.n_public_keys) < 0)
                return -ENOMEM;
        return record_step(p, "imds", STEP_CHANGED, start, summary);
}

/* The goal state gives the ids every health report carries (ref §1.5). */
int step_wireserver(ProvisionRun *p) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        _cleanup_free_ char *summary = NULL;
        WireEndpointSource source;
        int r;

        r = wire_endpoint_discover(&p->c->config, p->c->root_fd, &p->wire_endpoint, &source);
        if (r < 0) {
                (void) record_step(p, "wireserver", STEP_FAILED, start, NULL);
                return fail(p, "wireserver", r, "Failed to find the WireServer endpoint: %s", strerror(-r));
        }
        wire_options_init(&p->c->config, p->wire_endpoint, &p->wire);
        /* Every health report needs the goal state: it is retried as long as a report is (HealthDeadlineSec). */
        p->wire.policy.deadline = p->c->config.health_deadline;
        p->wire.policy.max_attempts = 0;
        p->wire.policy.failure = &p->wire_failure;
        r = wire_check_version(&p->wire, NULL);
        if (r >= 0)
                r = wire_fetch_goal_state(&p->wire, &p->goal_state);
        if (r < 0) {
                char what[HTTP_FAILURE_STRING_MAX + 32];

                (void) record_step(p, "wireserver", STEP_FAILED, start, NULL);
                return fail(p, "wireserver", r, "WireServer %s did not give a goal state: %s", p->wire_endpoint,
                            http_failure_describe(&p->wire_failure, what, sizeof what) ?:
                            r == -EBADMSG || r == -EINVAL || r == -ENODATA ? "the goal state document is invalid" :
                            strerror(-r));
        }
        p->have_goal_state = true;
        if (asprintf(&summary, "%s, incarnation %s", p->wire_endpoint, p->goal_state.incarnation) < 0)
                return -ENOMEM;
        return record_step(p, "wireserver", STEP_CHANGED, start, summary);
}

int report_health(ProvisionRun *p, HealthState state, const char *substatus, const char *description) {
        int r;

        if (!p->have_goal_state)
                return -ENOTCONN;
        r = health_report_send(&p->wire, &p->goal_state, state, substatus, description, p->c->config.health_deadline);
        if (r == -ESTALE) {
                /* 410: the container moved; refresh the goal state and report once more (ref §1.2). */
                goal_state_done(&p->goal_state);
                p->have_goal_state = false;
                r = wire_fetch_goal_state(&p->wire, &p->goal_state);
                if (r < 0)
                        return r;
                p->have_goal_state = true;
                r = health_report_send(&p->wire, &p->goal_state, state, substatus, description,
                                       p->c->config.health_deadline);
        }
        if (r < 0)
                return r;
        (void) free_and_strdup(&p->state.health_reported, health_state_to_string(state));
        (void) free_and_strdup(&p->state.health_substatus, substatus);
        p->state.health_at = now_usec(CLOCK_REALTIME);
        log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_HEALTH_REPORTED, "Reported %s%s%s to the WireServer.",
                          health_state_to_string(state), substatus ? "/" : "", strempty(substatus));
        return 0;
}

/*
 * Every boot: networking from IMDS (the networkd files live in /run and are regenerated each boot, as
 * cloud-init does; the netlink backend applies only the delta). A problem here is recorded but does not fail
 * provisioning: the primary NIC already works (IMDS answered through it) and Ready must still be reported.
 */
int step_network(ProvisionRun *p) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        _cleanup_free_ char *summary = NULL;
        int r;

        if (p->c->config.network_backend == NETWORK_BACKEND_NONE)
                return record_step(p, "network", STEP_SKIPPED, start, "[Network] Backend=none");
        if (!p->have_imds || !p->imds.network)
                return record_step(p, "network", STEP_SKIPPED, start, "IMDS has no network data");
        /* The daemon re-applies with the same function when NICs are hot-plugged (agent/daemon-network.c). */
        r = network_apply_imds(p->c, p->imds.network, p->c->config.network_backend, NULL, NULL, &summary);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_warning("%s", summary);
                return record_step(p, "network", STEP_FAILED, start, summary);
        }
        return record_step(p, "network", r > 0 ? STEP_CHANGED : STEP_UNCHANGED, start, summary);
}

/*
 * Every boot: grow the root partition and filesystem, set up the resource disk. Only on the live system:
 * with --root the disks are not the sandbox's. Problems are recorded, not fatal (cloud-init's growpart too).
 */
static int step_disks(ProvisionRun *p) {
        _cleanup_(disk_grow_result_done) DiskGrowResult grow = {};
        _cleanup_(resource_disk_result_done) ResourceDiskResult res = {};
        usec_t start = now_usec(CLOCK_MONOTONIC);
        _cleanup_free_ char *summary = NULL;
        int r, k;

        if (p->c->root)
                return record_step(p, "disks", STEP_SKIPPED, start, "alternate root: disks belong to the live system");
        r = disk_grow_root(p->c, &grow);
        if (r >= 0 && grow.refused)
                log_warning("Root partition not grown: %s", strna(grow.summary));
        k = resource_disk_setup(p->c, NULL, &res);
        if (asprintf(&summary, "root: %s; resource disk: %s",
                     r < 0 ? strerror(-r) : strna(grow.summary), k < 0 ? strerror(-k) : strna(res.summary)) < 0)
                return -ENOMEM;
        if (r < 0 || k < 0) {
                log_warning("Disk setup incomplete: %s", summary);
                return record_step(p, "disks", STEP_FAILED, start, summary);
        }
        return record_step(p, "disks", r > 0 || k > 0 ? STEP_CHANGED : STEP_UNCHANGED, start, summary);
}

/* Adds a key unless one with the same type and blob is already there (IMDS and ovf-env usually both carry it). */
static int add_key_once(ProvisionData *d, const char *key, const char *path) {
        _cleanup_free_ char *id = NULL;

        /* Keys that do not parse are added as they are: validation rejects them with a precise reason. */
        if (ssh_key_identity(key, &id) >= 0)
                for (size_t i = 0; i < d->n_ssh_keys; i++) {
                        _cleanup_free_ char *other = NULL;

                        if (ssh_key_identity(d->ssh_keys[i].key, &other) >= 0 && streq(id, other) &&
                            streq_ptr(path, d->ssh_keys[i].path))
                                return 0;
                }
        return provision_data_add_ssh_key(d, key, path);
}

/* IMDS wins where both sources have a value; the media is the only source of the password (ref §5.2). */
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
        for (size_t i = 0; p->have_imds && i < p->imds.n_public_keys; i++) {
                r = add_key_once(d, p->imds.public_keys[i].key_data, p->imds.public_keys[i].path);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; p->have_ovf && i < p->ovf.n_public_keys; i++) {
                /* Keys given only by fingerprint refer to a certificate; their value comes from IMDS. */
                if (isempty(p->ovf.public_keys[i].value))
                        continue;
                r = add_key_once(d, p->ovf.public_keys[i].value, p->ovf.public_keys[i].path);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Everything is checked before anything is written: a bad input must leave the system untouched. */
static int step_validate(ProvisionRun *p) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        const ProvisionData *d = &p->data;
        int r;

        r = build_data(p);
        if (r < 0)
                return r;
        if (isempty(d->username))
                r = fail(p, "validate", -EINVAL, "No admin user name in IMDS or ovf-env.xml");
        else if (!user_name_is_valid(d->username) || user_name_is_reserved(d->username))
                r = fail(p, "validate", -EINVAL, "Invalid admin user name '%s'", d->username);
        else if (!isempty(d->hostname) && !hostname_is_valid_rfc1123(d->hostname))
                r = fail(p, "validate", -EINVAL, "Invalid hostname '%s'", d->hostname);
        else if (!d->password && d->n_ssh_keys == 0 && d->disable_password_auth)
                r = fail(p, "validate", -EINVAL, "No SSH key and no password: the admin user could not log in");
        for (size_t i = 0; r >= 0 && i < d->n_ssh_keys; i++) {
                _cleanup_free_ char *norm = NULL;
                int k = ssh_key_normalize(d->ssh_keys[i].key, &norm);

                if (k < 0)
                        r = fail(p, "validate", k, "Invalid SSH public key #%zu: %s", i + 1,
                                 k == -EPROTONOSUPPORT ? "unsupported key type" : "malformed key");
        }
        if (r < 0) {
                (void) record_step(p, "validate", STEP_FAILED, start, p->state.reason);
                return r;
        }
        return record_step(p, "validate", STEP_UNCHANGED, start, NULL);
}

/*
 * User data (issue #18, provisioners/userdata/): every boot its boothooks and bootcmd; on the instance's first
 * run also the cloud-config modules that belong before sshd, and the hostname, ssh_pwauth and administrator keys
 * it hands to the provisioners through p->data. Its problems are reported, never fatal.
 */
static int step_userdata(ProvisionRun *p, bool boot_only) {
        _cleanup_free_ char *summary = NULL, *warning = NULL;
        usec_t start = now_usec(CLOCK_MONOTONIC);
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
        if (r == -ENOMEM)
                return log_oom();
        if (warning)
                log_warning("%s", warning);     /* journal and console: unsupported keys, problem locations */
        return record_step(p, "userdata", r < 0 ? STEP_FAILED : r == USERDATA_NONE ? STEP_SKIPPED :
                                          r == USERDATA_CHANGED ? STEP_CHANGED : STEP_UNCHANGED, start,
                           r < 0 ? strerror(-r) : summary);
}

static int step_provisioners(ProvisionRun *p) {
        for (const Provisioner *const *pr = provisioners_default; *pr; pr++) {
                _cleanup_free_ char *summary = NULL;
                usec_t start = now_usec(CLOCK_MONOTONIC);
                int r;

                crash_pointf("provision:%s:start", (*pr)->name);
                r = (*pr)->apply(p->c, &p->data, &summary);
                if (r < 0) {
                        (void) record_step(p, (*pr)->name, STEP_FAILED, start, NULL);
                        return fail(p, (*pr)->name, r, "Step %s failed: %s", (*pr)->name, strerror(-r));
                }
                r = record_step(p, (*pr)->name, r > 0 ? STEP_CHANGED : STEP_UNCHANGED, start, summary);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void kvp_final_report(ProvisionRun *p, bool success) {
        _cleanup_free_ char *value = NULL;
        char ts[64] = "";
        int r;

        (void) format_timestamp_iso(now_usec(CLOCK_REALTIME), ts, sizeof ts);
        if (success)
                r = asprintf(&value, "result=success|agent=azl-agent/%s|pps_type=%s|vm_id=%s|timestamp=%s",
                             PACKAGE_VERSION, p->have_imds ? imds_pps_type_to_string(p->imds.pps_type) : "None",
                             strna(p->state.vm_id), ts) < 0 ? -ENOMEM : 0;
        else
                r = provisioning_failure_description(p->state.reason, NULL, p->state.vm_id,
                                                     now_usec(CLOCK_REALTIME), &value);
        if (r >= 0)
                r = kvp_report(p->c, KVP_KEY_PROVISIONING_REPORT, value);
        if (r < 0)
                log_warning_errno(r, "Failed to write the KVP provisioning report, ignoring: %m");
}

static int finish_failed(ProvisionRun *p, int error) {
        _cleanup_free_ char *description = NULL;
        int r;

        if (!p->state.reason)
                (void) fail(p, "provision", error, "%s", strerror(-error));
        (void) free_and_strdup(&p->state.state, "failed");
        p->state.finished_at = now_usec(CLOCK_REALTIME);
        log_full_errno_id(LOG_ERR, error, MESSAGE_ID_PROVISIONING_FAILED, "Provisioning failed: %s",
                          p->state.reason);

        r = provisioning_failure_description(p->state.reason, NULL, p->state.vm_id, now_usec(CLOCK_REALTIME),
                                             &description);
        if (r >= 0)
                r = report_health(p, HEALTH_STATE_NOT_READY, "ProvisioningFailed", description);
        if (r < 0)
                log_warning_errno(r, "Could not report ProvisioningFailed to the WireServer: %m");
        kvp_final_report(p, false);
        r = provision_state_save(p->c, &p->state);
        if (r < 0)
                log_warning_errno(r, "Failed to save the provisioning state: %m");
        return error;
}

static int finish_ready(ProvisionRun *p, const char *what) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        r = report_health(p, HEALTH_STATE_READY, NULL, NULL);
        if (r < 0) {
                char failure[HTTP_FAILURE_STRING_MAX + 32];

                (void) record_step(p, "report-ready", STEP_FAILED, start, NULL);
                return finish_failed(p, fail(p, "report-ready", r, "Failed to report Ready to the WireServer: %s",
                                             http_failure_describe(&p->wire_failure, failure, sizeof failure) ?:
                                             strerror(-r)));
        }
        (void) record_step(p, "report-ready", STEP_CHANGED, start, NULL);
        (void) free_and_strdup(&p->state.state, "ready");
        free(p->state.reason);
        p->state.reason = NULL;
        p->state.finished_at = now_usec(CLOCK_REALTIME);
        kvp_final_report(p, true);
        r = provision_state_save(p->c, &p->state);
        if (r < 0)
                return log_error_errno(r, "Failed to save the provisioning state: %m");
        log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_PROVISIONING_FINISHED, "%s VM %s is Ready.", what,
                          p->state.vm_id);
        return 0;
}

int provision_run(Context *c, bool force) {
        _cleanup_(provision_run_done) ProvisionRun p = { .c = c };
        _cleanup_free_ char *reason = NULL, *marker = NULL;
        usec_t start;
        bool again;
        int r;

        r = context_endpoints_allowed(c, &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_full_errno_id(LOG_NOTICE, 0, MESSAGE_ID_REFUSED_ENDPOINT,
                                  "Not provisioning: %s", reason);
                return EXIT_NOT_APPLICABLE;
        }
        log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_PROVISIONING_STARTED, "Provisioning (%s).", reason);

        if (free_and_strdup(&p.state.state, "running") < 0 ||
            free_and_strdup(&p.state.platform, platform_to_string(c->platform.platform)) < 0)
                return log_oom();
        p.state.started_at = now_usec(CLOCK_REALTIME);

        r = step_media(&p);
        if (r >= 0)
                r = step_imds(&p);
        if (r >= 0 && free_and_strdup(&p.state.vm_id, p.imds.vm_id) < 0)
                return log_oom();
        /* The goal state is needed to report anything, failures included. */
        if (step_wireserver(&p) < 0 && r >= 0)
                r = -ENOTCONN;
        if (r < 0)
                return finish_failed(&p, r);

        r = step_network(&p);
        if (r >= 0)
                r = step_disks(&p);
        if (r < 0)
                return finish_failed(&p, r);

        /* Same VM id as the marker: provisioned before (reboot); only tell the fabric we are Ready. */
        r = provisioned_marker_read(c, &marker);
        again = r > 0 && streq(marker, p.imds.vm_id);
        if (again && !force) {
                (void) step_userdata(&p, /* boot_only= */ true);
                start = now_usec(CLOCK_MONOTONIC);
                (void) record_step(&p, "marker", STEP_UNCHANGED, start, "already provisioned for this VM id");
                return finish_ready(&p, "Already provisioned:");
        }
        if (again)      /* --force on a VM in service: the steps again, no NotReady in between */
                log_info("Already provisioned for VM id %s; running the steps again (--force).", marker);
        else if (r > 0)
                log_info("VM id changed from %s to %s (captured image): provisioning again.", marker, p.imds.vm_id);

        /* Pre-provisioned VM pools: Ready for the pool, wait for the handover, the real VM's data. */
        if (!again) {
                r = provision_pps(&p);
                if (r < 0)
                        return finish_failed(&p, r);
        }

        if (c->config.report_not_ready_at_start && !again) {
                r = report_health(&p, HEALTH_STATE_NOT_READY, "Provisioning", "Starting");
                if (r < 0)
                        log_warning_errno(r, "Failed to report NotReady/Provisioning, continuing: %m");
        }

        r = step_validate(&p);
        if (r >= 0)
                r = step_userdata(&p, /* boot_only= */ false);
        if (r >= 0)
                r = step_provisioners(&p);
        if (r < 0)
                return finish_failed(&p, r);

        start = now_usec(CLOCK_MONOTONIC);
        r = provisioned_marker_write(c, p.imds.vm_id);
        if (r < 0) {
                (void) record_step(&p, "marker", STEP_FAILED, start, NULL);
                return finish_failed(&p, fail(&p, "marker", r, "Failed to write the provisioned marker: %s",
                                              strerror(-r)));
        }
        (void) record_step(&p, "marker", STEP_CHANGED, start, NULL);
        r = pps_marker_remove(c);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the " PPS_MARKER " marker, ignoring: %m");
        return finish_ready(&p, "Provisioned:");
}

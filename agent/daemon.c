/* SPDX-License-Identifier: MIT */
/*
 * The daemon's lifecycle and its wiring (see daemon-internal.h for the picture). Everything runs on one sd-event
 * loop: the Azure client's poller, requests and timers, the executor's child processes and timers,
 * SIGTERM/SIGINT (sd_event_set_signal_exit) and the watchdog (sd_event_set_watchdog). The client does the
 * protocol; this file decides what its results mean for the daemon (state, logs, the executor, status) and says
 * it once in the journal.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "daemon-internal.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "memory-util.h"
#include "timeline.h"
#include "xml-util.h"

static void daemon_notify_status(Daemon *d, const char *fmt, ...) _printf_(2, 3);
static void daemon_notify_status(Daemon *d, const char *fmt, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&text, fmt, ap) < 0)
                text = NULL;
        va_end(ap);
        if (text)
                (void) sd_notifyf(false, "STATUS=%s", text);
}

static void daemon_free(Daemon *d) {
        if (!d)
                return;
        d->network = daemon_network_free(d->network);
        d->bus = daemon_bus_free(d->bus);
        d->client = azure_client_free(d->client); /* cancels uploads and downloads, no callbacks */
        d->executor = ext_executor_free(d->executor);
        d->firewall = firewall_free(d->firewall);
        firewall_status_done(&d->firewall_status);
        sd_event_unref(d->event);
        free(d->computer_name);
        free(d->os_name);
        free(d->os_version);
        extensions_goal_state_free(d->current);
        extensions_goal_state_free(d->pending);
        daemon_state_done(&d->state);
        free(d);
}

static inline void daemon_freep(Daemon **d) {
        daemon_free(*d);
}

void daemon_save_state(Daemon *d) {
        int r;

        if (!d->state_dirty)
                return;
        r = daemon_state_save(d->context->root_fd, d->context->config.state_dir, &d->state);
        if (r < 0) {
                log_warning_errno(r, "Failed to write %s/" DAEMON_STATE_FILE ", ignoring: %m",
                                  d->context->config.state_dir);
                return;
        }
        d->state_dirty = false;
}

static void state_set(Daemon *d, char **field, const char *value) {
        if (streq_ptr(*field, value))
                return;
        if (free_and_strdup(field, value) < 0)
                return (void) log_oom();
        d->state_dirty = true;
}

void daemon_refresh_goal_state_soon(Daemon *d) {
        azure_client_poll_now(d->client);
}

/* ---- timings (issue #21) ---- */

static int timings_add(struct json_object *o, const char *key, uint64_t v) {
        return json_object_object_add(o, key,
                                      json_object_new_int64((int64_t) MIN(v, (uint64_t) INT64_MAX))) < 0
                       ? -ENOMEM
                       : 0;
}

/* daemon.json "timings": the phases of the last run, in µs (the benchmarks print them). */
static int timings_to_json(Daemon *d, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        const ExtExecutorTimings *x =
                d->executor ? ext_executor_timings(d->executor) : &(ExtExecutorTimings){};
        const DaemonTimings *t = &d->timings;
        usec_t commands = 0;
        unsigned n_commands = 0;
        int r = 0;

        if (!o)
                return -ENOMEM;
        for (ExtOpType k = 0; k < _EXT_OP_MAX; k++)
                if (k == EXT_OP_INSTALL || k == EXT_OP_UPDATE || k == EXT_OP_ENABLE || k == EXT_OP_DISABLE ||
                    k == EXT_OP_UNINSTALL) {
                        commands += x->op[k];
                        n_commands += x->n_ops[k];
                }
        if (d->state.executed_id &&
            json_object_object_add(o, "goalStateId", json_object_new_string(d->state.executed_id)) < 0)
                return -ENOMEM;
        r = r ?: timings_add(o, "fetchUsec", t->fetch);
        r = r ?: timings_add(o, "certificatesUsec", t->certificates);
        r = r ?: timings_add(o, "planUsec", x->plan);
        r = r ?: timings_add(o, "manifestsUsec", t->manifests);
        r = r ?: timings_add(o, "packagesUsec", t->packages);
        r = r ?: timings_add(o, "downloads", t->downloads);
        r = r ?: timings_add(o, "extractionUsec", t->extraction);
        r = r ?: timings_add(o, "settingsUsec", x->op[EXT_OP_SETTINGS]);
        r = r ?: timings_add(o, "commitUsec", x->commit);
        r = r ?: timings_add(o, "commandsUsec", commands);
        r = r ?: timings_add(o, "commands", n_commands);
        r = r ?: timings_add(o, "statusReadUsec", x->status_read);
        r = r ?: timings_add(o, "runUsec", t->run);
        if (!t->upload_pending) /* present once the run's status upload is done */
                r = r ?: timings_add(o, "uploadUsec", t->upload);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static void timings_record(Daemon *d) {
        struct json_object *o;

        if (timings_to_json(d, &o) < 0)
                return (void) log_oom();
        json_object_put(d->state.timings);
        d->state.timings = o;
        d->state_dirty = true;
}

void daemon_timings_uploaded(Daemon *d, usec_t upload) {
        const DaemonTimings *t = &d->timings;
        char f[32], c[32], m[32], p[32], x[32], r[32], u[32];

        if (!t->upload_pending)
                return;
        d->timings.upload_pending = false;
        d->timings.upload = upload;
        timings_record(d);
        daemon_save_state(d);
        (void) format_timespan(t->fetch, f, sizeof f);
        (void) format_timespan(t->certificates, c, sizeof c);
        (void) format_timespan(t->manifests, m, sizeof m);
        (void) format_timespan(t->packages, p, sizeof p);
        (void) format_timespan(t->extraction, x, sizeof x);
        (void) format_timespan(t->run, r, sizeof r);
        (void) format_timespan(t->upload, u, sizeof u);
        log_debug(
                "Extensions goal state %s: goal state %s, certificates %s, manifests %s, %u package(s) %s, "
                "extraction %s, run %s, status upload %s.",
                strna(d->state.executed_id), f, c, m, t->downloads, p, x, r, u);
}

/* ---- extensions ---- */

static void executor_maybe_start(Daemon *d);

/* §4.11, once per package (or refusal): SignatureValidation=report warns, enforce refused it. */
static void log_signature_outcome(const ExtHandlerResult *h) {
        if (!h->signature_new || !h->signature_problem)
                return;
        if (h->signature_refused)
                (void) log_full_errno_id(LOG_ERR, 0, MESSAGE_ID_EXTENSION,
                                         "Extension %s %s: package %s, refused "
                                         "(SignatureValidation=enforce).",
                                         h->name, h->version, h->signature_problem);
        else
                (void) log_full_errno_id(LOG_WARNING, 0, MESSAGE_ID_EXTENSION,
                                         "Extension %s %s: package %s, installed anyway "
                                         "(SignatureValidation=report).",
                                         h->name, h->version, h->signature_problem);
}

static void on_executor_done(ExtExecutor *e, int r, void *userdata) {
        Daemon *d = userdata;
        const ExtHandlerResult *results;
        size_t n;

        d->executor_running = false;
        d->executor_has_results = true;
        d->timings.run = now_usec(CLOCK_MONOTONIC) - d->timings.run_started;
        d->timings.upload_pending = true;
        if (r < 0)
                log_warning_errno(r, "Extensions goal state %s: the run failed: %m", d->current->id);
        else
                (void) log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_EXTENSION,
                                         "Extensions goal state %s processed.", d->current->id);
        state_set(d, &d->state.executed_id, d->current->id);
        daemon_state_clear_handlers(&d->state);
        results = ext_executor_results(e, &n);
        for (size_t i = 0; i < n; i++) {
                log_signature_outcome(&results[i]);
                if (!results[i].removed)
                        (void) daemon_state_add_handler(&d->state, &results[i]);
        }
        timings_record(d);
        d->state_dirty = true;
        daemon_save_state(d);
        daemon_notify_status(d, "Goal state %s, extensions goal state %s processed.",
                             strna(azure_client_incarnation(d->client)), d->current->id);

        if (d->pending) {
                extensions_goal_state_free(d->current);
                d->current = TAKE_PTR(d->pending);
                executor_maybe_start(d);
        }
        daemon_status_request(d);
        daemon_bus_emit_changed(d);
}

/* Every extension operation goes to the timeline (`azl-agent analyze`). Only the first line of a failure
 * message: the rest is the handler's captured output, which stays in root-only files; secrets are masked. */
static void daemon_op_done(const ExtOpRecord *rec, void *userdata) {
        Daemon *d = userdata;
        _cleanup_free_ char *name = NULL, *first = NULL, *summary = NULL, *result = NULL;
        int r;

        if (asprintf(&name, "%s-%s%s%s %s", rec->handler, strna(rec->version), rec->extension ? "." : "",
                     strempty(rec->extension), ext_op_type_to_string(rec->type)) < 0 ||
            asprintf(&result, rec->error < 0 ? "failed (%d)" : "success", rec->code) < 0)
                return (void) log_oom();
        if (rec->message) {
                first = strndup(rec->message, strcspn(rec->message, "\n"));
                summary = first ? log_redact(first) : NULL;
        }
        r = timeline_append(d->context, &(TimelineRecord){
                                                .source = (char *) "extension",
                                                .run = d->current ? d->current->id : NULL,
                                                .name = name,
                                                .start = rec->start,
                                                .duration = rec->duration,
                                                .result = result,
                                                .summary = summary,
                                        });
        if (r < 0)
                log_debug_errno(r, "Failed to append %s to the timeline, ignoring: %m", name);
}

static void executor_maybe_start(Daemon *d) {
        int r;

        if (!d->current || d->executor_running)
                return;
        /* After a restart the goal state may be the one already processed: run it again all the same. The plan
         * is computed from what is installed on disk, so that is enable only — no download, no install — which
         * is what waagent does after every agent start (§1.4; its maintainers declined to change it, #944) and
         * what extensions expect (issue #8: "enable re-run … after agent restart"). */
        if (!d->context->config.extensions) {
                state_set(d, &d->state.executed_id, d->current->id);
                return;
        }
        if (!d->executor) {
                ExtExecutorOptions o = {
                        .wire_protocol_address = azure_client_wire_host(d->client),
                        .package_request = daemon_package_request,
                        .package_ready = daemon_package_ready,
                        .package_request_userdata = d,
                        .op_done = daemon_op_done,
                        .op_done_userdata = d,
                        /* With a scratch root (tests, images) handlers must not become host units. */
                        .spawner =
                                {
                                        .use_systemd =
                                                isempty(d->context->root) || streq(d->context->root, "/"),
                                        .cgroup_root =
                                                isempty(d->context->root) || streq(d->context->root, "/")
                                                        ? NULL
                                                        : "",
                                },
                };
                r = ext_executor_new(d->context, d->event, &o, &d->executor);
                if (r < 0) {
                        log_error_errno(r, "Failed to set up the extension executor: %m");
                        return;
                }
        }
        (void) log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_EXTENSION,
                                 "Processing extensions goal state %s (%zu handler(s)).", d->current->id,
                                 d->current->n_handlers);
        d->timings = (DaemonTimings){.run_started = now_usec(CLOCK_MONOTONIC)};
        r = ext_executor_run(d->executor, d->current, on_executor_done, d);
        if (r < 0) {
                log_error_errno(r, "Failed to run extensions goal state %s: %m", d->current->id);
                return;
        }
        d->executor_running = true;
        daemon_prefetch_packages(d);
}

/* The client chose a newer extensions goal state (or re-fetched the newest one: same). */
static void on_extensions_goal_state(ExtensionsGoalState *gs, bool same, void *userdata) {
        Daemon *d = userdata;

        if (!same)
                (void) log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_GOAL_STATE,
                                         "New extensions goal state %s (%s, source %s).", gs->id,
                                         goal_state_channel_to_string(gs->channel),
                                         goal_state_source_to_string(gs->source));
        if (d->executor_running && same)
                extensions_goal_state_free(gs); /* a re-fetch of what is running */
        else if (d->executor_running) {
                extensions_goal_state_free(d->pending);
                d->pending = gs;
        } else {
                extensions_goal_state_free(d->current);
                d->current = gs;
                if (!same || !d->executor_has_results) {
                        executor_maybe_start(d);
                        /* It came with this pass: the pass is the run's fetch time (on_pass_done). */
                        d->timings.fetch_pending = d->executor_running;
                }
        }
}

/* ---- the goal-state pass ---- */

/*
 * The start of every goal-state pass, before its first request. The WireServer firewall (nftables rules that
 * keep non-root processes away from 168.63.129.16) is reconciled here, so that each pass runs with the rules in
 * place even when something flushed them.
 */
static void on_pass_start(void *userdata) {
        daemon_firewall_reconcile(userdata);
}

static void log_pass(Daemon *d, const WirePollResult *res) {
        const char *dir = d->context->config.extensions_dir ?: "/var/lib/waagent";

        for (char *const *w = res->warnings; w && *w; w++)
                log_warning("%s", *w);
        if (res->previous_container_id)
                log_info("Container id changed: %s → %s.", res->previous_container_id,
                         strna(res->container_id));
        if (res->new_incarnation)
                log_full(res->previous_incarnation ? LOG_INFO : LOG_DEBUG,
                         "Goal state incarnation %s (was %s).", strna(res->incarnation),
                         strna(res->previous_incarnation));
        if (res->fast_track_change && res->fast_track)
                log_info("HostGAPlugin supports Fast Track (vmSettings, HostGAPlugin %s).",
                         strna(res->hgap_version));
        else if (res->fast_track_change)
                log_info("No Fast Track: %s; using ExtensionsConfig.", res->fast_track_change);
        if (res->new_vm_settings)
                log_info("New vmSettings, ETag %s, source %s.", strna(res->etag),
                         goal_state_source_to_string(res->vm_settings_source));
        if (res->certificates_skipped)
                log_debug(
                        "Certificates not fetched: HostingEnvironmentConfig lists the thumbprints we hold.");
        if (res->certificates > 0)
                log_info("Wrote %zd certificate(s) to %s (%s).", res->certificates, dir,
                         strna(res->certificates_why));
        else if (res->certificates == 0)
                log_info("Goal state %s has no certificates (%s).", strna(res->incarnation),
                         strna(res->certificates_why));
        if (res->ext_conf_handlers >= 0)
                log_info("Fetched ExtensionsConfig of incarnation %s: %zd handler(s).",
                         strna(res->incarnation), res->ext_conf_handlers);
        if (res->error < 0 && res->failure)
                log_full(res->n_failures == 1 ? LOG_WARNING : LOG_DEBUG,
                         "Goal state poll failed (%u in a row), next attempt in %.1fs: %s", res->n_failures,
                         (double) res->next / USEC_PER_SEC, res->failure);
        else if (res->error < 0)
                log_full_errno(res->n_failures == 1 ? LOG_WARNING : LOG_DEBUG, res->error,
                               "Goal state poll failed (%u in a row), next attempt in %.1fs: %m",
                               res->n_failures, (double) res->next / USEC_PER_SEC);
        else if (res->recovered_after > 0)
                log_info("Goal state poll succeeded again after %u failure(s).", res->recovered_after);
}

static void on_pass_done(const WirePollResult *res, void *userdata) {
        Daemon *d = userdata;

        log_pass(d, res);
        d->n_failures = res->n_failures;
        if (d->timings.fetch_pending) {
                /* The run that started in this pass: what fetching its goal state took. */
                d->timings.fetch_pending = false;
                d->timings.fetch = res->duration;
                d->timings.certificates = res->certificates_usec;
        }
        if (res->error >= 0) {
                if (res->new_incarnation)
                        state_set(d, &d->state.incarnation, res->incarnation);
                if (res->new_vm_settings)
                        state_set(d, &d->state.etag, res->etag);
                if (d->state.fast_track != res->fast_track) {
                        d->state.fast_track = res->fast_track;
                        d->state_dirty = true;
                }
                daemon_save_state(d);
                if (!d->notified_ready) {
                        d->notified_ready = true;
                        (void) sd_notify(false, "READY=1");
                        daemon_notify_status(d, "Goal state incarnation %s; extensions goal state %s.",
                                             strna(res->incarnation), d->current ? d->current->id : "none");
                }
                daemon_status_request(d);
        }
        daemon_bus_emit_changed(d);
        /* What the pass freed goes back to the kernel now, not when the heap top happens to be free, and so do
         * the stack pages its deepest calls dirtied: the idle daemon's private memory stays what it holds
         * (common/memory-util.h). Microseconds. libxml2 and ICU are unloaded unless a document is alive; the
         * next pass that parses one loads them again (common/xml-util.h). */
        xml_unload_if_unused();
        memory_release_unused();
}

/* ---- setup ---- */

/* The Azure client on the daemon's loop, with the WireServer of the configuration, the DHCP leases or the
 * well-known address, and /var/lib/waagent for certificates and packages. */
static int client_setup(Daemon *d) {
        const char *dir = d->context->config.extensions_dir ?: "/var/lib/waagent";
        _cleanup_free_ char *endpoint = NULL;
        WireEndpointSource source;
        WireOptions o;
        int r;

        r = wire_endpoint_discover(&d->context->config, d->context->root_fd, &endpoint, &source);
        if (r < 0)
                return log_oom();
        wire_options_init(&d->context->config, endpoint, &o);
        r = azure_client_new(d->event, &o, &d->client);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Bad WireServer endpoint '%s': %m", endpoint);
        azure_client_set_storage(d->client, d->context->root_fd, dir);
        /* A confidential VM keeps decrypted private keys on tmpfs (common/confidential.h). */
        if (d->context->confidential.secrets_on_tmpfs)
                azure_client_set_secrets_dir(d->client, d->context->config.secrets_dir);
        log_info("WireServer %s (%s), HostGAPlugin %s.", endpoint, wire_endpoint_source_to_string(source),
                 azure_client_hgap_base(d->client));

        /* protocol §1.6: the transport certificate is loaded or made by the certificate worker, in a child, when
         * the goal state's certificates are fetched (imds-client/wire-certificates-worker.c). */
        return 0;
}

static int daemon_new(Context *c, Daemon **ret) {
        _cleanup_(daemon_freep) Daemon *d = NULL;
        _cleanup_error_ Error reason = ERROR_NULL;
        int r;

        r = context_endpoints_allowed(c, &reason);
        if (r < 0) {
                (void) log_full_errno_id(LOG_NOTICE, r, MESSAGE_ID_REFUSED_ENDPOINT,
                                         "Not talking to the Azure fabric: %s", error_reason(&reason));
                return r;
        }

        d = calloc(1, sizeof *d);
        if (!d)
                return log_oom();
        d->context = c;

        /* sd-event child sources (extension handlers) need SIGCHLD blocked. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block SIGCHLD: %m");

        r = sd_event_default(&d->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        r = sd_event_set_signal_exit(d->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to install the SIGTERM/SIGINT handlers: %m");
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                log_debug_errno(r, "Failed to enable the watchdog, ignoring: %m");

        r = daemon_state_load(c->root_fd, c->config.state_dir, &d->state);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Ignoring unusable %s/" DAEMON_STATE_FILE ": %m", c->config.state_dir);
        else if (r >= 0)
                log_debug("Loaded daemon state: incarnation %s, executed %s.", strna(d->state.incarnation),
                          strna(d->state.executed_id));

        r = client_setup(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

int daemon_run(Context *c) {
        _cleanup_(daemon_freep) Daemon *d = NULL;
        int r;

        r = daemon_new(c, &d);
        if (r == -EHOSTUNREACH)
                return 4; /* EXIT_NOT_APPLICABLE */
        if (r < 0)
                return r;

        log_info("Guest agent started; goal state every %.1fs, status keep-alive %.0fs, extensions %s.",
                 (double) c->config.goal_state_period / USEC_PER_SEC,
                 (double) c->config.status_keepalive / USEC_PER_SEC, c->config.extensions ? "on" : "off");
        (void) daemon_bus_setup(d);
        daemon_notify_status(d, "Fetching the goal state.");
        r = azure_client_poll_start(
                d->client, &(WirePollerOptions){
                                   .period = c->config.goal_state_period,
                                   .callbacks =
                                           {
                                                   .pass_start = on_pass_start,
                                                   .extensions_goal_state = on_extensions_goal_state,
                                                   .pass_done = on_pass_done,
                                                   .userdata = d,
                                           },
                           });
        if (r < 0)
                return log_error_errno(r, "Failed to arm the goal state timer: %m");
        r = daemon_network_start(d);
        if (r < 0)
                return r;

        r = sd_event_loop(d->event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        daemon_save_state(d);
        log_info("Guest agent stopped after %" PRIu64 " goal state poll(s), %" PRIu64 " status upload(s).",
                 azure_client_passes(d->client), d->n_uploads);
        /* sd_event_loop returns the exit code: SIGTERM/SIGINT exit with 0. */
        return r == 0 ? 0 : r;
}

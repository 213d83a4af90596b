/* SPDX-License-Identifier: MIT */
/*
 * The daemon's lifecycle and its poll cycle (see daemon.h for the picture). Everything runs on one sd-event
 * loop: the poll timer, curl's sockets and timers (HttpClient), the executor's child processes and timers,
 * SIGTERM/SIGINT (sd_event_set_signal_exit) and the watchdog (sd_event_set_watchdog).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509.h>
#include <systemd/sd-daemon.h>

#include "certificates.h"
#include "daemon-internal.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

static void cycle_finish(Daemon *d, int r);
static int cycle_start(Daemon *d);

static const char *const cycle_step_table[_CYCLE_STEP_MAX] = {
        [CYCLE_IDLE] = "idle",
        [CYCLE_GOAL_STATE] = "goal state",
        [CYCLE_VM_SETTINGS] = "vmSettings",
        [CYCLE_HOSTING_ENV] = "HostingEnvironmentConfig",
        [CYCLE_CERTIFICATES] = "Certificates",
        [CYCLE_EXTENSIONS_CONFIG] = "ExtensionsConfig",
};

static const char *cycle_step_to_string(CycleStep s) {
        return s >= 0 && s < _CYCLE_STEP_MAX ? cycle_step_table[s] : NULL;
}

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
        d->call = http_call_cancel(d->call);
        d->network = daemon_network_free(d->network);
        d->bus = daemon_bus_free(d->bus);
        d->upload = status_upload_free(d->upload);
        d->download = download_free(d->download);
        d->executor = ext_executor_free(d->executor);
        d->http = http_client_free(d->http);
        sd_event_source_disable_unref(d->poll_timer);
        sd_event_unref(d->event);
        free(d->wire_endpoint);
        free(d->hgap_base);
        free(d->wire_host);
        free(d->computer_name);
        free(d->os_name);
        free(d->os_version);
        goal_state_done(&d->goal_state);
        hosting_env_done(&d->hosting_env);
        free(d->incarnation);
        free(d->etag);
        extensions_goal_state_free(d->new_ext_conf);
        extensions_goal_state_free(d->new_vm_settings);
        extensions_goal_state_free(d->current);
        extensions_goal_state_free(d->pending);
        EVP_PKEY_free(d->transport_key);
        X509_free(d->transport_cert);
        free(d->transport_cert_header);
        strv_free(d->thumbprints);
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

int daemon_hgap_headers(Daemon *d, char *const *extra, char ***ret) {
        _cleanup_strv_free_ char **h = NULL;
        int r;

        if (!d->goal_state.container_id)
                return -ESTALE;
        r = hgap_request_headers(d->goal_state.container_id, d->goal_state.config_name, &h);
        if (r < 0)
                return r;
        for (char *const *e = extra; e && *e; e++)
                if (strv_extend(&h, *e) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(h);
        return 0;
}

/* ---- poll scheduling ---- */

static int on_poll_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        int r;

        if (d->step != CYCLE_IDLE)
                return 0;
        r = cycle_start(d);
        if (r < 0)
                cycle_finish(d, r);
        return 0;
}

static void schedule_poll(Daemon *d, usec_t delay) {
        int r;

        if (!d->poll_timer) {
                r = sd_event_add_time_relative(d->event, &d->poll_timer, CLOCK_MONOTONIC, delay,
                                               /* accuracy: coalesce wakeups */ 50 * USEC_PER_MSEC,
                                               on_poll_timer, d);
                if (r < 0) {
                        log_error_errno(r, "Failed to arm the goal state timer: %m");
                        (void) sd_event_exit(d->event, r);
                }
                return;
        }
        r = sd_event_source_set_time_relative(d->poll_timer, delay);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->poll_timer, SD_EVENT_ONESHOT);
        if (r < 0) {
                log_error_errno(r, "Failed to re-arm the goal state timer: %m");
                (void) sd_event_exit(d->event, r);
        }
}

void daemon_refresh_goal_state_soon(Daemon *d) {
        if (d->step == CYCLE_IDLE)
                schedule_poll(d, 0);
        else
                d->refresh_soon = true;     /* the running cycle ends and the next one starts at once */
}

/* Delay before the next cycle after a failure (ref §1.2): throttling → 1 s, else Fibonacci × 1 s, capped;
 * never shorter than the period. */
static usec_t failure_delay(Daemon *d, int r) {
        RetryPolicy p;
        usec_t delay;

        if (r == -EBUSY || r == -EACCES)
                return DAEMON_THROTTLE_DELAY;
        wire_retry_policy(0, &p);
        p.cap = DAEMON_BACKOFF_CAP;
        p.jitter_percent = 10;
        delay = retry_policy_delay(&p, MIN(d->n_failures, 30U) + 1, (uint64_t) random());
        return MAX(delay, d->context->config.goal_state_period);
}

/* ---- the cycle's requests ---- */

static int cycle_get(Daemon *d, CycleStep step, const char *url, char *const *headers, size_t max,
                     HttpCallback cb) {
        HttpRequest req = {
                .method = HTTP_METHOD_GET,
                .url = url,
                .headers = headers,
                .timeout = d->context->config.http_timeout,
                .max_response = max,
        };

        d->step = step;
        return http_client_start(d->http, &req, cb, d, &d->call);
}

/* A final answer of a fabric request → 0 or the errno of wire_status_to_errno(); logs transport errors. */
static int response_result(Daemon *d, int error, HttpResponse *resp) {
        char what[HTTP_FAILURE_STRING_MAX];

        if (error < 0 || !http_status_ok(resp->status))
                (void) snprintf(d->failure, sizeof d->failure, "%s request: %s", strna(cycle_step_to_string(d->step)),
                                http_failure_string(error, error < 0 ? 0 : resp->status, what, sizeof what));
        if (error < 0)
                return log_debug_errno(error, "%s request failed: %m", cycle_step_to_string(d->step));
        if (http_status_ok(resp->status))
                return 0;
        log_debug("%s request answered HTTP %ld.", cycle_step_to_string(d->step), resp->status);
        if (resp->status == 403 || resp->status == 503)
                return -EBUSY;  /* throttle codes (ref §1.2) */
        return wire_status_to_errno(resp);
}

static int fetch_extensions_config(Daemon *d);
static int fetch_certificates(Daemon *d);
static int fetch_hosting_env(Daemon *d);
static int fetch_vm_settings(Daemon *d);

static void on_extensions_config(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        _cleanup_(extensions_goal_state_freep) ExtensionsGoalState *gs = NULL;
        _cleanup_free_ char *reason = NULL;
        Daemon *d = userdata;
        int r;

        d->call = NULL;
        r = response_result(d, error, resp);
        if (r < 0)
                return cycle_finish(d, r);
        gs = calloc(1, sizeof *gs);
        if (!gs)
                return cycle_finish(d, log_oom());
        r = ext_conf_parse(resp->body, resp->body_size, d->goal_state.incarnation, gs, &reason);
        if (r < 0) {
                log_error_errno(r, "ExtensionsConfig of incarnation %s is invalid: %s", d->goal_state.incarnation,
                                strna(reason));
                return cycle_finish(d, r);
        }
        log_info("Fetched ExtensionsConfig of incarnation %s: %zu handler(s).", d->goal_state.incarnation,
                 gs->n_handlers);
        extensions_goal_state_free(d->new_ext_conf);
        d->new_ext_conf = TAKE_PTR(gs);
        cycle_finish(d, 0);
}

static int fetch_extensions_config(Daemon *d) {
        _cleanup_strv_free_ char **headers = NULL;
        int r;

        if (!d->goal_state.extensions_config_url) {
                /* No extensions in this goal state (e.g. provisioning only): an empty goal state. */
                _cleanup_(extensions_goal_state_freep) ExtensionsGoalState *gs = NULL;
                static const char empty[] = "<Extensions version=\"1.0.0.0\"><Plugins/><PluginSettings/></Extensions>";

                gs = calloc(1, sizeof *gs);
                if (!gs)
                        return -ENOMEM;
                r = ext_conf_parse(empty, strlen(empty), d->goal_state.incarnation, gs, NULL);
                if (r < 0)
                        return r;
                extensions_goal_state_free(d->new_ext_conf);
                d->new_ext_conf = TAKE_PTR(gs);
                cycle_finish(d, 0);
                return 0;
        }
        r = wire_request_headers(NULL, &headers);
        if (r < 0)
                return r;
        return cycle_get(d, CYCLE_EXTENSIONS_CONFIG, d->goal_state.extensions_config_url, headers,
                         EXT_GOAL_STATE_DOCUMENT_MAX, on_extensions_config);
}

/* ---- certificates (ref §1.6) ---- */

static int transport_cert_setup(Daemon *d) {
        const char *dir = d->context->config.extensions_dir;
        int r;

        r = mkdir_p_in_root(d->context->root_fd, dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", dir);
        r = transport_cert_load(d->context->root_fd, dir, &d->transport_key, &d->transport_cert);
        if (r < 0) {
                if (r != -ENOENT)
                        log_warning_errno(r, "Cannot use the transport certificate in %s, generating a new one: %m",
                                          dir);
                r = transport_cert_generate(&d->transport_key, &d->transport_cert);
                if (r < 0)
                        return log_error_errno(r, "Failed to generate the transport certificate: %m");
                r = transport_cert_save(d->context->root_fd, dir, d->transport_key, d->transport_cert);
                if (r < 0)
                        return log_error_errno(r, "Failed to save the transport certificate in %s: %m", dir);
                log_info("Generated the transport certificate in %s.", dir);
        }
        r = transport_cert_header_value(d->transport_cert, &d->transport_cert_header);
        if (r < 0)
                return log_error_errno(r, "Failed to encode the transport certificate: %m");
        return 0;
}

static int certificates_process(Daemon *d, const HttpResponse *resp) {
        _cleanup_(certificates_xml_done) CertificatesXml xml = {};
        _cleanup_(certificate_list_done) CertificateList list = {};
        _cleanup_strv_free_ char **thumbs = NULL;
        _cleanup_free_ char *reason = NULL;
        int r;

        r = certificates_xml_parse(resp->body, resp->body_size, &xml, &reason);
        if (r < 0) {
                (void) snprintf(d->failure, sizeof d->failure, "Certificates document is invalid: %s", strna(reason));
                return log_error_errno(r, "%s", d->failure);
        }
        if (!xml.data) {
                log_info("Goal state %s has no certificates%s.", d->goal_state.incarnation,
                         xml.format_supported ? "" : " in a supported format");
                strv_free(d->thumbprints);
                d->thumbprints = NULL;
                return 0;
        }
        r = certificates_decrypt(xml.data, xml.data_size, d->transport_key, d->transport_cert, &list, &reason);
        if (r < 0)
                return log_warning_errno(r, "Failed to decrypt the certificates (%s): %s",
                                         d->cert_cipher_3des ? CERTIFICATES_CIPHER_3DES : CERTIFICATES_CIPHER_AES128,
                                         strna(reason));
        r = certificates_write(d->context->root_fd, d->context->config.extensions_dir, &list);
        if (r < 0)
                return log_error_errno(r, "Failed to write the certificates to %s: %m",
                                       d->context->config.extensions_dir);
        for (size_t i = 0; i < list.n; i++)
                if (strv_extend(&thumbs, list.certs[i].thumbprint) < 0)
                        return log_oom();
        log_info("Wrote %zu certificate(s) to %s.", list.n, d->context->config.extensions_dir);
        strv_free(d->thumbprints);
        d->thumbprints = TAKE_PTR(thumbs);
        return 0;
}

static void on_certificates(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        Daemon *d = userdata;
        int r;

        d->call = NULL;
        r = response_result(d, error, resp);
        if (r >= 0)
                r = certificates_process(d, resp);
        if (r < 0 && r != -ESTALE && r != -EBUSY && !d->cert_cipher_3des) {
                /* waagent retries with DES_EDE3_CBC when the AES request or its decryption fails. */
                d->cert_cipher_3des = true;
                r = fetch_certificates(d);
                if (r < 0)
                        cycle_finish(d, r);
                return;
        }
        d->cert_cipher_3des = false;
        if (r >= 0)
                r = fetch_extensions_config(d);
        if (r < 0)
                cycle_finish(d, r);
}

static int fetch_certificates(Daemon *d) {
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *cert = NULL, *cipher = NULL;
        int r;

        if (!d->goal_state.certificates_url)
                return fetch_extensions_config(d);
        if (asprintf(&cert, "x-ms-guest-agent-public-x509-cert: %s", d->transport_cert_header) < 0 ||
            asprintf(&cipher, "x-ms-cipher-name: %s",
                     d->cert_cipher_3des ? CERTIFICATES_CIPHER_3DES : CERTIFICATES_CIPHER_AES128) < 0)
                return -ENOMEM;
        r = wire_request_headers(STRV_MAKE(cert, cipher), &headers);
        if (r < 0)
                return r;
        return cycle_get(d, CYCLE_CERTIFICATES, d->goal_state.certificates_url, headers, CERTIFICATES_DATA_MAX,
                         on_certificates);
}

/* ---- HostingEnvironmentConfig ---- */

static void on_hosting_env(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        _cleanup_(hosting_env_done) HostingEnvironment h = {};
        Daemon *d = userdata;
        int r;

        d->call = NULL;
        r = response_result(d, error, resp);
        if (r < 0)
                return cycle_finish(d, r);
        r = hosting_env_parse(resp->body, resp->body_size, &h);
        if (r < 0)
                log_warning_errno(r, "HostingEnvironmentConfig is invalid, ignoring: %m");
        else {
                hosting_env_done(&d->hosting_env);
                d->hosting_env = h;
                h = (HostingEnvironment) {};
        }
        r = fetch_certificates(d);
        if (r < 0)
                cycle_finish(d, r);
}

static int fetch_hosting_env(Daemon *d) {
        _cleanup_strv_free_ char **headers = NULL;
        int r;

        if (!d->goal_state.hosting_env_url)
                return fetch_certificates(d);
        r = wire_request_headers(NULL, &headers);
        if (r < 0)
                return r;
        return cycle_get(d, CYCLE_HOSTING_ENV, d->goal_state.hosting_env_url, headers, WIRE_RESPONSE_MAX,
                         on_hosting_env);
}

/* Fetches the documents of a new incarnation, or ends the cycle. */
static int cycle_continue_documents(Daemon *d) {
        if (d->fetch_documents)
                return fetch_hosting_env(d);
        cycle_finish(d, 0);
        return 0;
}

/* ---- vmSettings (ref §2.1) ---- */

static void on_vm_settings(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        _cleanup_(extensions_goal_state_freep) ExtensionsGoalState *gs = NULL;
        _cleanup_free_ char *reason = NULL;
        Daemon *d = userdata;
        const char *etag;
        int r;

        d->call = NULL;
        if (error < 0) {
                char what[HTTP_FAILURE_STRING_MAX];

                /* The HostGAPlugin being unreachable must not stop the WireServer goal state. */
                log_debug("vmSettings request failed, continuing with ExtensionsConfig: %s",
                          http_failure_string(error, 0, what, sizeof what));
                r = cycle_continue_documents(d);
                if (r < 0)
                        cycle_finish(d, r);
                return;
        }
        switch (resp->status) {
        case 304:
                break;
        case 404:
                if (d->vm_settings_supported || d->n_cycles <= 1)
                        log_info("HostGAPlugin does not support Fast Track (vmSettings 404); using ExtensionsConfig.");
                d->vm_settings_supported = false;
                d->vm_settings_recheck = now_usec(CLOCK_MONOTONIC) + DAEMON_FAST_TRACK_RECHECK;
                break;
        case 200:
                etag = http_response_header(resp, "etag");
                if (isempty(etag)) {
                        log_warning("vmSettings answer has no ETag, ignoring it.");
                        break;
                }
                if (streq_ptr(etag, d->etag) && d->current)
                        break;
                gs = calloc(1, sizeof *gs);
                if (!gs)
                        return cycle_finish(d, log_oom());
                r = vm_settings_parse(resp->body, resp->body_size, etag, gs, &reason);
                if (r == -EOPNOTSUPP) {
                        log_info("HostGAPlugin is too old for Fast Track: %s", strna(reason));
                        d->vm_settings_supported = false;
                        d->vm_settings_recheck = now_usec(CLOCK_MONOTONIC) + DAEMON_FAST_TRACK_RECHECK;
                        break;
                }
                if (r < 0) {
                        log_warning_errno(r, "%s", strna(reason));
                        break;
                }
                if (!d->vm_settings_supported)
                        log_info("HostGAPlugin supports Fast Track (vmSettings, HostGAPlugin %s).",
                                 strna(gs->host_ga_plugin_version));
                d->vm_settings_supported = true;
                d->vm_settings_recheck = 0;
                log_info("New vmSettings, ETag %s, source %s.", etag, goal_state_source_to_string(gs->source));
                if (free_and_strdup(&d->etag, etag) < 0)
                        return cycle_finish(d, log_oom());
                state_set(d, &d->state.etag, etag);
                extensions_goal_state_free(d->new_vm_settings);
                d->new_vm_settings = TAKE_PTR(gs);
                break;
        case 410:
                return cycle_finish(d, -ESTALE);
        default:
                /* 502 = internal error in the HostGAPlugin; anything else: counted, ExtensionsConfig goes on. */
                log_debug("vmSettings answered HTTP %ld%s.", resp->status,
                          resp->status == 502 ? " (internal error in HostGAPlugin)" : "");
                break;
        }
        r = cycle_continue_documents(d);
        if (r < 0)
                cycle_finish(d, r);
}

static int fetch_vm_settings(Daemon *d) {
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *url = NULL, *corr = NULL, *inm = NULL;
        char uuid[37];
        int r;

        if (d->vm_settings_recheck > 0 && now_usec(CLOCK_MONOTONIC) < d->vm_settings_recheck)
                return cycle_continue_documents(d);
        if (uuid_random(uuid) < 0 || asprintf(&corr, "x-ms-client-correlationid: %s", uuid) < 0)
                return -ENOMEM;
        /* Only conditional when we hold the document the ETag names (not right after a restart). */
        if (d->etag && asprintf(&inm, "if-none-match: %s", d->etag) < 0)
                return -ENOMEM;
        r = daemon_hgap_headers(d, STRV_MAKE(corr, inm), &headers);
        if (r < 0)
                return cycle_continue_documents(d);
        if (asprintf(&url, "%s/vmSettings", d->hgap_base) < 0)
                return -ENOMEM;
        return cycle_get(d, CYCLE_VM_SETTINGS, url, headers, EXT_GOAL_STATE_DOCUMENT_MAX, on_vm_settings);
}

/* ---- goal state (ref §1.4) ---- */

static void on_goal_state(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        _cleanup_(goal_state_done) GoalState gs = {};
        Daemon *d = userdata;
        int r;

        d->call = NULL;
        r = response_result(d, error, resp);
        if (r < 0)
                return cycle_finish(d, r);
        r = goal_state_parse(resp->body, resp->body_size, &gs);
        if (r == -ENODATA && ++d->n_no_role < WIRE_GOAL_STATE_ATTEMPTS) {
                /* Some answers omit RoleInstance: ask again 0.5 s later (ref §1.4). */
                d->step = CYCLE_IDLE;
                schedule_poll(d, WIRE_GOAL_STATE_DELAY);
                return;
        }
        d->n_no_role = 0;
        if (r < 0) {
                log_warning_errno(r, "Goal state is invalid: %m");
                return cycle_finish(d, r);
        }
        /* ContainerId and ConfigName are refreshed on every GET (ref §1.4). */
        if (!streq_ptr(gs.container_id, d->goal_state.container_id) && d->goal_state.container_id)
                log_info("Container id changed: %s → %s.", d->goal_state.container_id, gs.container_id);
        d->fetch_documents = !d->incarnation || !streq(d->incarnation, gs.incarnation);
        if (d->fetch_documents)
                log_full(d->incarnation ? LOG_INFO : LOG_DEBUG, "Goal state incarnation %s (was %s).",
                         gs.incarnation, strna(d->incarnation));
        goal_state_done(&d->goal_state);
        d->goal_state = gs;
        gs = (GoalState) {};

        r = fetch_vm_settings(d);
        if (r < 0)
                cycle_finish(d, r);
}

static int cycle_start(Daemon *d) {
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *url = NULL;
        int r;

        d->n_cycles++;
        d->failure[0] = 0;
        r = wire_url(d->wire_endpoint, "/machine/?comp=goalstate", &url);
        if (r < 0)
                return r;
        r = wire_request_headers(NULL, &headers);
        if (r < 0)
                return r;
        return cycle_get(d, CYCLE_GOAL_STATE, url, headers, WIRE_RESPONSE_MAX, on_goal_state);
}

/* ---- extensions ---- */

static void executor_maybe_start(Daemon *d);

static void on_executor_done(ExtExecutor *e, int r, void *userdata) {
        Daemon *d = userdata;
        const ExtHandlerResult *results;
        size_t n;

        d->executor_running = false;
        d->executor_has_results = true;
        if (r < 0)
                log_warning_errno(r, "Extensions goal state %s: the run failed: %m", d->current->id);
        else
                (void) log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_EXTENSION, "Extensions goal state %s processed.",
                                  d->current->id);
        state_set(d, &d->state.executed_id, d->current->id);
        daemon_state_clear_handlers(&d->state);
        results = ext_executor_results(e, &n);
        for (size_t i = 0; i < n; i++) {
                const ExtHandlerResult *h = &results[i];

                /* §4.11, once per package (or refusal): SignatureValidation=report warns, enforce refused it. */
                if (h->signature_new && h->signature_problem)
                        (void) log_full_errno_id(h->signature_refused ? LOG_ERR : LOG_WARNING, 0, MESSAGE_ID_EXTENSION,
                                                 h->signature_refused ?
                                                         "Extension %s %s: package %s, refused (SignatureValidation=enforce)." :
                                                         "Extension %s %s: package %s, installed anyway (SignatureValidation=report).",
                                                 h->name, h->version, h->signature_problem);
                if (!h->removed)
                        (void) daemon_state_add_handler(&d->state, h);
        }
        d->state_dirty = true;
        daemon_save_state(d);
        daemon_notify_status(d, "Goal state %s, extensions goal state %s processed.", strna(d->incarnation),
                             d->current->id);

        if (d->pending) {
                extensions_goal_state_free(d->current);
                d->current = TAKE_PTR(d->pending);
                executor_maybe_start(d);
        }
        daemon_status_request(d);
        daemon_bus_emit_changed(d);
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
                        .wire_protocol_address = d->wire_host,
                        .package_request = daemon_package_request,
                        .package_request_userdata = d,
                        /* With a scratch root (tests, images) handlers must not become host units. */
                        .spawner = {
                                .use_systemd = isempty(d->context->root) || streq(d->context->root, "/"),
                                .cgroup_root = isempty(d->context->root) || streq(d->context->root, "/") ? NULL : "",
                        },
                };
                r = ext_executor_new(d->context, d->event, &o, &d->executor);
                if (r < 0) {
                        log_error_errno(r, "Failed to set up the extension executor: %m");
                        return;
                }
        }
        (void) log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_EXTENSION, "Processing extensions goal state %s (%zu handler(s)).",
                          d->current->id, d->current->n_handlers);
        r = ext_executor_run(d->executor, d->current, on_executor_done, d);
        if (r < 0) {
                log_error_errno(r, "Failed to run extensions goal state %s: %m", d->current->id);
                return;
        }
        d->executor_running = true;
}

/* Picks the extensions goal state from what this cycle fetched (ref §1.4 / §2.1). */
static void choose_goal_state(Daemon *d) {
        const ExtensionsGoalState *newest = d->pending ?: d->current, *chosen;
        ExtensionsGoalState **owner = NULL;

        if (!d->new_ext_conf && !d->new_vm_settings)
                return;
        chosen = goal_state_choose(newest, d->new_ext_conf, d->new_vm_settings);
        if (chosen && chosen == d->new_ext_conf)
                owner = &d->new_ext_conf;
        else if (chosen && chosen == d->new_vm_settings)
                owner = &d->new_vm_settings;
        /* A new ExtensionsConfig of the same id as what we run (restart) still refreshes the SAS URL etc. */
        if (!owner && d->new_ext_conf && newest && streq_ptr(newest->id, d->new_ext_conf->id))
                owner = &d->new_ext_conf;
        if (owner) {
                ExtensionsGoalState *gs = TAKE_PTR(*owner);
                bool same = newest && streq_ptr(newest->id, gs->id);

                if (!same)
                        (void) log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_GOAL_STATE,
                                          "New extensions goal state %s (%s, source %s).", gs->id,
                                          goal_state_channel_to_string(gs->channel),
                                          goal_state_source_to_string(gs->source));
                if (d->executor_running && same)
                        extensions_goal_state_free(gs);         /* a re-fetch of what is running */
                else if (d->executor_running) {
                        extensions_goal_state_free(d->pending);
                        d->pending = gs;
                } else {
                        extensions_goal_state_free(d->current);
                        d->current = gs;
                        if (!same || !d->executor_has_results)
                                executor_maybe_start(d);
                }
        }
        d->new_ext_conf = extensions_goal_state_free(d->new_ext_conf);
        d->new_vm_settings = extensions_goal_state_free(d->new_vm_settings);
}

/* ---- end of a cycle ---- */

static void cycle_finish(Daemon *d, int r) {
        usec_t delay = d->context->config.goal_state_period;

        d->step = CYCLE_IDLE;
        if (r == -ESTALE && d->n_stale++ < DAEMON_STALE_REFRESH_MAX) {
                log_debug("Goal state is stale (410), refreshing it.");
                schedule_poll(d, 0);
                return;
        }
        d->n_stale = 0;
        if (r < 0) {
                d->n_failures++;
                delay = failure_delay(d, r);
                if (d->failure[0])
                        log_full(d->n_failures == 1 ? LOG_WARNING : LOG_DEBUG,
                                 "Goal state poll failed (%u in a row), next attempt in %.1fs: %s", d->n_failures,
                                 (double) delay / USEC_PER_SEC, d->failure);
                else
                        log_full_errno(d->n_failures == 1 ? LOG_WARNING : LOG_DEBUG, r,
                                       "Goal state poll failed (%u in a row), next attempt in %.1fs: %m",
                                       d->n_failures, (double) delay / USEC_PER_SEC);
                /* The documents of a new incarnation were not all fetched: fetch them again next time. */
                if (d->fetch_documents) {
                        free(d->incarnation);
                        d->incarnation = NULL;
                }
        } else {
                if (d->n_failures > 0)
                        log_info("Goal state poll succeeded again after %u failure(s).", d->n_failures);
                d->n_failures = 0;
                if (d->fetch_documents) {
                        if (free_and_strdup(&d->incarnation, d->goal_state.incarnation) < 0)
                                log_oom();
                        state_set(d, &d->state.incarnation, d->goal_state.incarnation);
                }
                d->fetch_documents = false;
                choose_goal_state(d);
                if (d->state.fast_track != d->vm_settings_supported) {
                        d->state.fast_track = d->vm_settings_supported;
                        d->state_dirty = true;
                }
                daemon_save_state(d);
                if (!d->notified_ready) {
                        d->notified_ready = true;
                        (void) sd_notify(false, "READY=1");
                        daemon_notify_status(d, "Goal state incarnation %s; extensions goal state %s.",
                                             strna(d->incarnation), d->current ? d->current->id : "none");
                }
                daemon_status_request(d);
        }
        if (d->refresh_soon) {
                d->refresh_soon = false;
                delay = 0;
        }
        schedule_poll(d, delay);
        daemon_bus_emit_changed(d);
}

/* ---- setup ---- */

static int endpoints_setup(Daemon *d) {
        _cleanup_free_ char *reason = NULL;
        WireEndpointSource source;
        const char *colon;
        int r;

        r = context_endpoints_allowed(d->context, &reason);
        if (r < 0) {
                (void) log_full_errno_id(LOG_NOTICE, r, MESSAGE_ID_REFUSED_ENDPOINT,
                                  "Not talking to the Azure fabric: %s", strna(reason));
                return r;
        }
        r = wire_endpoint_discover(&d->context->config, d->context->root_fd, &d->wire_endpoint, &source);
        if (r < 0)
                return log_oom();
        if (d->wire_endpoint[0] == '[') {
                const char *end = strchr(d->wire_endpoint, ']');

                if (!end)
                        return log_error_errno(EINVAL, "Bad WireServer endpoint '%s'.",
                                               d->wire_endpoint);
                d->wire_host = strndup(d->wire_endpoint, end - d->wire_endpoint + 1);
        } else {
                colon = strchr(d->wire_endpoint, ':');
                d->wire_host = colon ? strndup(d->wire_endpoint, colon - d->wire_endpoint) : strdup(d->wire_endpoint);
        }
        if (!d->wire_host ||
            asprintf(&d->hgap_base, "http://%s:%u", d->wire_host, d->context->config.hostgaplugin_port) < 0)
                return log_oom();
        log_info("WireServer %s (%s), HostGAPlugin %s.", d->wire_endpoint, wire_endpoint_source_to_string(source),
                 d->hgap_base);
        return 0;
}

static int daemon_new(Context *c, Daemon **ret) {
        _cleanup_(daemon_freep) Daemon *d = NULL;
        int r;

        d = calloc(1, sizeof *d);
        if (!d)
                return log_oom();
        d->context = c;

        r = endpoints_setup(d);
        if (r < 0)
                return r;

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
        r = http_client_new(d->event, &d->http);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the HTTP client: %m");

        r = daemon_state_load(c->root_fd, c->config.state_dir, &d->state);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Ignoring unusable %s/" DAEMON_STATE_FILE ": %m", c->config.state_dir);
        else if (r >= 0)
                log_debug("Loaded daemon state: incarnation %s, executed %s.", strna(d->state.incarnation),
                          strna(d->state.executed_id));

        r = transport_cert_setup(d);
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
                return 4;       /* EXIT_NOT_APPLICABLE */
        if (r < 0)
                return r;

        log_info("Guest agent started; goal state every %.1fs, status keep-alive %.0fs, extensions %s.",
                 (double) c->config.goal_state_period / USEC_PER_SEC,
                 (double) c->config.status_keepalive / USEC_PER_SEC, c->config.extensions ? "on" : "off");
        (void) daemon_bus_setup(d);
        daemon_notify_status(d, "Fetching the goal state.");
        schedule_poll(d, 0);
        r = daemon_network_start(d);
        if (r < 0)
                return r;

        r = sd_event_loop(d->event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        daemon_save_state(d);
        log_info("Guest agent stopped after %" PRIu64 " goal state poll(s), %" PRIu64 " status upload(s).",
                 d->n_cycles, d->n_uploads);
        /* sd_event_loop returns the exit code: SIGTERM/SIGINT exit with 0. */
        return r == 0 ? 0 : r;
}

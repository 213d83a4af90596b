/* SPDX-License-Identifier: MIT */
/*
 * The goal-state pass of the daemon (protocol §1.4, §2.1), every WirePollerOptions.period, as a chain of asynchronous
 * requests; one request of the pass is in flight at a time:
 *
 *   pass_start() hook ─► GET goalstate ─► GET vmSettings (if-none-match) ─┬─ nothing changed ───────────────► done
 *                                                                          └─ new incarnation or container ─►
 *      HostingEnvironmentConfig ─► Certificates (when needed) ─► ExtensionsConfig (new incarnation) ─►
 *      Certificates (when a handler references one we do not hold) ─► choice ─► done
 *
 * Certificates are fetched for a new incarnation, when the container id changed (a hibernate-resume or a live
 * migration keeps the incarnation but may bring new certificates), and whenever the settings of a handler in a
 * new ExtensionsConfig or vmSettings reference a thumbprint we do not hold — Fast Track goal states change
 * without an incarnation. At most once per pass. They are skipped when the HostingEnvironmentConfig lists exactly
 * the thumbprints we hold and listed the same ones when we last fetched them (so it is known to enumerate them):
 * an incarnation that changed only the extensions costs no Certificates round trip and no decryption.
 *
 * While the HostGAPlugin serves vmSettings and it answered 304 (unchanged), every second pass asks vmSettings
 * only: the WireServer goal state is then checked every two periods (≈ 12 s; certificates, a changed container or
 * a Fabric-only incarnation are picked up that much later), a changed vmSettings fetches it in the same pass, and
 * an idle VM sends 1.5 requests per period instead of 2 — the fleet's WireServer sees half the goal-state GETs
 * (issue #21; BENCHMARKS.md, "Fleet cost"). A pass after a failure, a 410, a refresh asked for or a container
 * change always starts with the goal state.
 *
 * Failures end the pass early and move the next one: 410 (or 400 InvalidContainerConfiguration) refreshes the
 * goal state at once (3 times per pass at most), throttling (403/429/503) retries after 1 s, anything else backs
 * off along the Fibonacci sequence of wire_retry_policy() (capped at 5 min, never shorter than the period). The
 * HostGAPlugin being unreachable never stops the WireServer goal state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "azure-client-internal.h"
#include "log.h"

#define POLL_STALE_REFRESH_MAX 3U /* 410 → goal state refreshes per pass */
#define POLL_BACKOFF_CAP       (5U * 60U * USEC_PER_SEC)
#define POLL_THROTTLE_DELAY    (1U * USEC_PER_SEC) /* THROTTLE_DELAY_IN_SECONDS, protocol §1.2 */
/* Each period is drawn from period ± this (mean unchanged), see poll_period() */
#define POLL_JITTER_PERCENT 10U
#define POLL_FAST_TRACK_RECHECK                                                                             \
        (6U * 3600U * USEC_PER_SEC) /* vmSettings 404: re-check in 6 h, protocol §2.1 */

typedef enum PollStep {
        POLL_IDLE,
        POLL_GOAL_STATE,
        POLL_VM_SETTINGS,
        POLL_HOSTING_ENV,
        POLL_CERTIFICATES,
        POLL_EXTENSIONS_CONFIG,
        _POLL_STEP_MAX,
        _POLL_STEP_INVALID = -EINVAL,
} PollStep;

static const char *const poll_step_table[_POLL_STEP_MAX] = {
        [POLL_IDLE] = "idle",
        [POLL_GOAL_STATE] = "goal state",
        [POLL_VM_SETTINGS] = "vmSettings",
        [POLL_HOSTING_ENV] = "HostingEnvironmentConfig",
        [POLL_CERTIFICATES] = "Certificates",
        [POLL_EXTENSIONS_CONFIG] = "ExtensionsConfig",
};

struct WirePoller {
        AzureClient *client;
        WirePollerOptions options;
        sd_event_source *timer;
        PollStep step;
        HttpRetry *call; /* the one request of the pass in flight */
        WireCertificatesWorker *certificates_call;
        uint64_t n_passes;
        unsigned n_failures; /* consecutive failed passes (backoff) */
        unsigned n_stale;    /* 410 refreshes in this pass */
        bool refresh_soon;   /* 410 seen or asked for: start the next pass at once */
        bool wire_due;       /* the next pass must ask the WireServer goal state (see the top of the file) */

        /* this pass */
        char failure[HTTP_FAILURE_STRING_MAX + 256];
        bool new_incarnation; /* (or first pass): fetch the documents */
        bool container_changed;
        bool container_retry; /* a pass that saw the container change failed: treat the next as one */
        bool hosting_env_done, certificates_done, ext_conf_done;
        bool goal_state_done, vm_settings_done; /* asked in this pass */
        bool vm_settings_unchanged;             /* this pass's vmSettings answered 304 */
        const char *certificates_why;
        bool certificates_skipped; /* the thumbprints did not change */
        usec_t pass_started, certificates_started, certificates_usec;
        char *previous_incarnation, *previous_container_id;
        ssize_t ext_conf_handlers, n_certificates;
        const char *fast_track_change;
        char **warnings;
        ExtensionsGoalState *new_ext_conf; /* fetched, not yet chosen (kept across failed passes) */
        ExtensionsGoalState *new_vm_settings;
        char *hgap_version; /* of the new vmSettings */

        char *incarnation;          /* whose documents we hold */
        char **stored_certificates; /* HostingEnvironmentConfig's list of this pass */
        char **stored_at_fetch;     /* … when the Certificates were last fetched */

        /* Fast Track (protocol §2.1) */
        bool vm_settings_supported;
        usec_t vm_settings_recheck; /* CLOCK_MONOTONIC; 0 = ask every pass */
        char *etag;

        /* the newest extensions goal state handed out (pending or current for the caller) */
        char *newest_id;
        uint64_t newest_ticks;
};

static void pass_finish(WirePoller *p, int r);
static int pass_next(WirePoller *p);
static int goal_state_start(WirePoller *p);

static void pass_reset(WirePoller *p) {
        p->failure[0] = 0;
        p->new_incarnation = p->container_changed = false;
        p->hosting_env_done = p->certificates_done = p->ext_conf_done = false;
        p->goal_state_done = p->vm_settings_done = p->vm_settings_unchanged = false;
        p->certificates_why = NULL;
        p->certificates_skipped = false;
        p->pass_started = p->certificates_started = p->certificates_usec = 0;
        free(p->previous_incarnation);
        free(p->previous_container_id);
        p->previous_incarnation = p->previous_container_id = NULL;
        free(p->hgap_version);
        p->hgap_version = NULL;
        p->ext_conf_handlers = p->n_certificates = -1;
        p->fast_track_change = NULL;
        p->warnings = strv_free(p->warnings);
        /* new_ext_conf and new_vm_settings stay until a pass succeeds and the choice takes them: the vmSettings
         * of a failed pass is not sent again (if-none-match), its goal state must not be lost. */
}

WirePoller *wire_poller_free(WirePoller *p) {
        if (!p)
                return NULL;
        http_retry_cancel(p->call);
        wire_certificates_worker_cancel(p->certificates_call);
        sd_event_source_disable_unref(p->timer);
        pass_reset(p);
        extensions_goal_state_free(p->new_ext_conf);
        extensions_goal_state_free(p->new_vm_settings);
        free(p->incarnation);
        strv_free(p->stored_certificates);
        strv_free(p->stored_at_fetch);
        free(p->etag);
        free(p->newest_id);
        free(p);
        return NULL;
}

static void warn(WirePoller *p, const char *fmt, ...) _printf_(2, 3);
static void warn(WirePoller *p, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s || strv_push(&p->warnings, s) < 0)
                return log_debug("Out of memory.");
        s = NULL;
}

static void set_failure(WirePoller *p, const char *fmt, ...) _printf_(2, 3);
static void set_failure(WirePoller *p, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(p->failure, sizeof p->failure, fmt, ap);
        va_end(ap);
}

/* ---- scheduling ---- */

static int pass_start(WirePoller *p);

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        WirePoller *p = userdata;
        int r;

        if (p->step != POLL_IDLE)
                return 0;
        r = pass_start(p);
        if (r < 0)
                pass_finish(p, r);
        return 0;
}

static int schedule(WirePoller *p, usec_t delay) {
        int r;

        if (!p->timer)
                /* accuracy: coalesce wakeups */
                return sd_event_add_time_relative(p->client->event, &p->timer, CLOCK_MONOTONIC, delay,
                                                  50 * USEC_PER_MSEC, on_timer, p);
        r = sd_event_source_set_time_relative(p->timer, delay);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

void azure_client_poll_now(AzureClient *c) {
        WirePoller *p = c->poller;

        if (!p)
                return;
        p->wire_due = true;
        if (p->step == POLL_IDLE) {
                if (schedule(p, 0) < 0)
                        log_debug("Cannot re-arm the goal state timer.");
        } else
                p->refresh_soon = true; /* the running pass ends and the next one starts at once */
}

void azure_client_goal_state_stale(AzureClient *c) {
        azure_client_poll_now(c);
}

/* Jitter only: any value will do when the kernel's pool cannot answer without blocking. Not random(): unseeded, it
 * gives every VM the same sequence, so a fleet that failed together would retry together. */
static uint64_t poll_random(void) {
        uint64_t v = 0;

        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t) sizeof v)
                v = now_usec(CLOCK_MONOTONIC) ^ ((uint64_t) getpid() << 32);
        return v;
}

/* The delay to the next pass: the period ± POLL_JITTER_PERCENT, drawn anew every pass. With a fixed period
 * (waagent 2.7 sleeps exactly Extensions.GoalStatePeriod after each pass) VMs that boot together — a fleet reboot,
 * a scale set — poll the WireServer in the same instant for as long as they run. Drawn per pass, the phases drift
 * apart as a random walk (σ ≈ 0.35 s per 6 s pass): spread over the whole period after a few minutes. The mean,
 * and with it the request rate, stays the period. */
static usec_t poll_period(WirePoller *p) {
        usec_t period = p->options.period;
        usec_t span = period / 100 * POLL_JITTER_PERCENT;

        return span > 0 ? period - span + poll_random() % (2 * span + 1) : period;
}

/* Delay before the next pass after a failure (protocol §1.2): throttling → 1 s, else Fibonacci × 1 s, capped; never
 * shorter than the period. */
static usec_t failure_delay(WirePoller *p, int r) {
        RetryPolicy policy;
        usec_t delay;

        if (r == -EBUSY || r == -EACCES)
                return POLL_THROTTLE_DELAY;
        wire_retry_policy(0, &policy);
        policy.cap = POLL_BACKOFF_CAP;
        policy.jitter_percent = 10;
        delay = retry_policy_delay(&policy, MIN(p->n_failures, 30U) + 1, poll_random());
        return MAX(delay, p->options.period);
}

/* ---- requests ---- */

/* A final answer of a pass request → 0 or an errno; throttling is -EBUSY. Notes the failure in words. */
static int response_result(WirePoller *p, int error, const HttpResponse *resp) {
        char what[HTTP_FAILURE_STRING_MAX];
        int r = wire_response_errno(error, resp);

        if (r < 0)
                set_failure(p, "%s request: %s", poll_step_table[p->step],
                            http_failure_string(error, error < 0 ? 0 : resp->status, what, sizeof what));
        if (error < 0)
                log_debug_errno(error, "%s request failed: %m", poll_step_table[p->step]);
        else if (r < 0)
                log_debug("%s request answered HTTP %ld.", poll_step_table[p->step], resp->status);
        if (r < 0 && !error && wire_status_is_throttle(resp->status))
                return -EBUSY; /* throttle codes (protocol §1.2) */
        return r;
}

/* ---- ExtensionsConfig ---- */

static void on_extensions_config(HttpRetry *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        _cleanup_(extensions_goal_state_freep) ExtensionsGoalState *gs = NULL;
        _cleanup_free_ char *reason = NULL;
        WirePoller *p = userdata;
        const GoalState *g = &p->client->goal_state;
        int r;

        p->call = NULL;
        r = response_result(p, error, resp);
        if (r < 0)
                return pass_finish(p, r);
        gs = calloc(1, sizeof *gs);
        if (!gs)
                return pass_finish(p, -ENOMEM);
        r = ext_conf_parse(resp->body, resp->body_size, g->incarnation, gs, &reason);
        if (r < 0) {
                set_failure(p, "ExtensionsConfig of incarnation %s is invalid: %s", g->incarnation,
                            strna(reason));
                return pass_finish(p, r);
        }
        p->ext_conf_handlers = (ssize_t) gs->n_handlers;
        extensions_goal_state_free(p->new_ext_conf);
        p->new_ext_conf = TAKE_PTR(gs);
        r = pass_next(p);
        if (r < 0)
                pass_finish(p, r);
}

static int fetch_extensions_config(WirePoller *p) {
        const GoalState *g = &p->client->goal_state;
        RetryPolicy once;
        int r;

        if (!g->extensions_config_url) {
                /* No extensions in this goal state (e.g. provisioning only): an empty goal state. */
                _cleanup_(extensions_goal_state_freep) ExtensionsGoalState *gs = NULL;
                static const char empty[] =
                        "<Extensions version=\"1.0.0.0\"><Plugins/><PluginSettings/></Extensions>";

                gs = calloc(1, sizeof *gs);
                if (!gs)
                        return -ENOMEM;
                r = ext_conf_parse(empty, strlen(empty), g->incarnation, gs, NULL);
                if (r < 0)
                        return r;
                p->ext_conf_handlers = 0;
                extensions_goal_state_free(p->new_ext_conf);
                p->new_ext_conf = TAKE_PTR(gs);
                return pass_next(p);
        }
        wire_single_attempt_policy(&once);
        p->step = POLL_EXTENSIONS_CONFIG;
        return wire_request_start(p->client, HTTP_METHOD_GET, g->extensions_config_url, NULL, NULL, 0,
                                  EXT_GOAL_STATE_DOCUMENT_MAX, &once, on_extensions_config, p, &p->call);
}

/* ---- Certificates (protocol §1.6) ---- */

static bool gs_references_unknown_certificate(WirePoller *p, const ExtensionsGoalState *gs,
                                              const char **ret) {
        for (size_t i = 0; gs && i < gs->n_handlers; i++)
                for (size_t k = 0; k < gs->handlers[i].n_settings; k++) {
                        const char *t = gs->handlers[i].settings[k].protected_settings_cert_thumbprint;

                        if (t && !azure_client_has_certificate(p->client, t)) {
                                *ret = t;
                                return true;
                        }
                }
        return false;
}

/* The HostingEnvironmentConfig of this pass lists exactly the thumbprints we hold, and listed exactly those when
 * we fetched them: it is known to enumerate the certificates, and they did not change. */
static bool stored_certificates_unchanged(WirePoller *p) {
        char *const *held = azure_client_thumbprints(p->client);
        size_t n = strv_length(p->stored_certificates);

        if (n == 0 || n != strv_length(held) || n != strv_length(p->stored_at_fetch))
                return false;
        for (char **t = p->stored_certificates; *t; t++)
                if (!strv_contains(held, *t) || !strv_contains(p->stored_at_fetch, *t) ||
                    !azure_client_has_certificate(p->client, *t))
                        return false;
        return true;
}

/* Why this pass must fetch the Certificates, or NULL (protocol §1.6; issue #19). */
static const char *certificates_needed(WirePoller *p) {
        const char *t;

        if (p->certificates_done || !p->client->goal_state.certificates_url)
                return NULL;
        if ((p->new_incarnation || p->container_changed) && stored_certificates_unchanged(p))
                /* Same thumbprints as the ones we hold: nothing new to decrypt (issue #21). A handler naming
                 * another one still makes us ask, below. */
                p->certificates_skipped = true;
        else if (p->new_incarnation)
                return "new incarnation";
        else if (p->container_changed)
                /* A hibernate-resume or another container change keeps the incarnation but may bring new
                 * certificates. */
                return "container id changed";
        /* Fast Track goal states come without a new incarnation: their settings may name a certificate that only a
         * new Certificates document holds. */
        if (gs_references_unknown_certificate(p, p->new_vm_settings, &t) ||
            gs_references_unknown_certificate(p, p->new_ext_conf, &t)) {
                log_debug("A handler's settings reference certificate %s, which we do not hold.", t);
                return "a handler references a certificate we do not hold";
        }
        return NULL;
}

static void on_certificates(WireCertificatesWorker *w, int error, char *const *thumbprints,
                            const char *reason, void *userdata) {
        WirePoller *p = userdata;
        int r = error;

        p->certificates_call = NULL;
        p->certificates_usec = now_usec(CLOCK_MONOTONIC) - p->certificates_started;
        if (r == -EMEDIUMTYPE)
                set_failure(
                        p,
                        "Confidential VM: %s is not on tmpfs, the tenant certificates' private keys are not "
                        "written ([Confidential] SecretsDirectory=)",
                        strna(p->client->secrets_dir));
        else if (r < 0 && reason)
                set_failure(p, "Certificates request: %s", reason);
        else if (r < 0)
                set_failure(p, "Failed to write the certificates to %s: %s", strna(p->client->lib_dir),
                            strerror(-r));
        if (r < 0)
                return pass_finish(p, r);
        p->n_certificates = (ssize_t) strv_length((char **) thumbprints);
        strv_free(p->stored_at_fetch);
        p->stored_at_fetch = NULL;
        for (char **t = p->stored_certificates; t && *t && r >= 0; t++)
                r = strv_extend(&p->stored_at_fetch, *t);
        if (r >= 0)
                r = pass_next(p);
        if (r < 0)
                pass_finish(p, r);
}

static int fetch_certificates(WirePoller *p, const char *why) {
        RetryPolicy once;
        int r;

        wire_single_attempt_policy(&once);
        p->step = POLL_CERTIFICATES;
        p->certificates_why = why;
        p->certificates_started = now_usec(CLOCK_MONOTONIC);
        /* In a child: no private key or OpenSSL key cache stays in the daemon (wire-certificates-worker.c). */
        r = wire_certificates_worker_start(p->client, &once, on_certificates, p, &p->certificates_call);
        if (r < 0)
                set_failure(p, "Certificates request: %s", strerror(-r));
        return r;
}

/* ---- HostingEnvironmentConfig ---- */

static void on_hosting_env(HttpRetry *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        _cleanup_(hosting_env_done) HostingEnvironment h = {};
        WirePoller *p = userdata;
        int r;

        p->call = NULL;
        r = response_result(p, error, resp);
        if (r < 0)
                return pass_finish(p, r);
        r = hosting_env_parse(resp->body, resp->body_size, &h);
        if (r < 0)
                warn(p, "HostingEnvironmentConfig is invalid, ignoring: %s", strerror(-r));
        strv_free(p->stored_certificates);
        p->stored_certificates = TAKE_PTR(h.stored_certificates);
        r = pass_next(p);
        if (r < 0)
                pass_finish(p, r);
}

static int fetch_hosting_env(WirePoller *p) {
        RetryPolicy once;

        wire_single_attempt_policy(&once);
        p->step = POLL_HOSTING_ENV;
        return wire_request_start(p->client, HTTP_METHOD_GET, p->client->goal_state.hosting_env_url, NULL,
                                  NULL, 0, WIRE_RESPONSE_MAX, &once, on_hosting_env, p, &p->call);
}

/* The next document of the pass, or its end. */
static int pass_next(WirePoller *p) {
        const char *why;

        if ((p->new_incarnation || p->container_changed) && !p->hosting_env_done) {
                p->hosting_env_done = true;
                strv_free(p->stored_certificates);
                p->stored_certificates = NULL;
                if (p->client->goal_state.hosting_env_url)
                        return fetch_hosting_env(p);
        }
        why = certificates_needed(p);
        if (why) {
                p->certificates_done = true;
                return fetch_certificates(p, why);
        }
        if (p->new_incarnation && !p->ext_conf_done) {
                p->ext_conf_done = true;
                return fetch_extensions_config(p);
        }
        pass_finish(p, 0);
        return 0;
}

/* ---- vmSettings (protocol §2.1) ---- */

static void fast_track_set(WirePoller *p, bool supported, const char *why) {
        if (supported != p->vm_settings_supported || p->n_passes <= 1)
                p->fast_track_change = why;
        p->vm_settings_supported = supported;
        p->vm_settings_recheck = supported ? 0 : now_usec(CLOCK_MONOTONIC) + POLL_FAST_TRACK_RECHECK;
}

static int vm_settings_received(WirePoller *p, const HttpResponse *resp) {
        _cleanup_(extensions_goal_state_freep) ExtensionsGoalState *gs = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *etag = http_response_header(resp, "etag");
        int r;

        if (isempty(etag)) {
                warn(p, "vmSettings answer has no ETag, ignoring it.");
                return 0;
        }
        if (streq_ptr(etag, p->etag) && p->newest_id)
                return 0;
        gs = calloc(1, sizeof *gs);
        if (!gs)
                return -ENOMEM;
        r = vm_settings_parse(resp->body, resp->body_size, etag, gs, &reason);
        if (r == -EOPNOTSUPP) {
                log_debug("HostGAPlugin is too old for Fast Track: %s", strna(reason));
                fast_track_set(p, false, "the HostGAPlugin is too old for Fast Track");
                return 0;
        }
        if (r < 0) {
                warn(p, "%s", strna(reason));
                return 0;
        }
        fast_track_set(p, true, "the HostGAPlugin serves vmSettings");
        if (free_and_strdup(&p->etag, etag) < 0 ||
            free_and_strdup(&p->hgap_version, gs->host_ga_plugin_version) < 0)
                return -ENOMEM;
        extensions_goal_state_free(p->new_vm_settings);
        p->new_vm_settings = TAKE_PTR(gs);
        return 0;
}

static void on_vm_settings(HttpRetry *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        WirePoller *p = userdata;
        int r = 0;

        p->call = NULL;
        if (error < 0) {
                char what[HTTP_FAILURE_STRING_MAX];

                /* The HostGAPlugin being unreachable must not stop the WireServer goal state. */
                log_debug("vmSettings request failed, continuing with ExtensionsConfig: %s",
                          http_failure_string(error, 0, what, sizeof what));
        } else
                switch (resp->status) {
                case 304:
                        p->vm_settings_unchanged = true;
                        break;
                case 404:
                        fast_track_set(p, false,
                                       "the HostGAPlugin does not support Fast Track (vmSettings 404)");
                        break;
                case 200:
                        r = vm_settings_received(p, resp);
                        break;
                case 410:
                        return pass_finish(p, -ESTALE);
                default:
                        /* 502 = internal error in the HostGAPlugin; anything else: ExtensionsConfig goes on. */
                        log_debug("vmSettings answered HTTP %ld%s.", resp->status,
                                  resp->status == 502 ? " (internal error in HostGAPlugin)" : "");
                        break;
                }
        if (r >= 0)
                /* a pass that skipped the goal state and found vmSettings changed (or unusable) asks it now */
                r = !p->goal_state_done && !p->vm_settings_unchanged ? goal_state_start(p) : pass_next(p);
        if (r < 0)
                pass_finish(p, r);
}

static int fetch_vm_settings(WirePoller *p) {
        _cleanup_free_ char *corr = NULL, *inm = NULL;
        char uuid[37];
        RetryPolicy once;
        int r;

        p->vm_settings_done = true;
        if (p->vm_settings_recheck > 0 && now_usec(CLOCK_MONOTONIC) < p->vm_settings_recheck)
                return p->goal_state_done ? pass_next(p) : goal_state_start(p);
        if (uuid_random(uuid) < 0 || asprintf(&corr, "x-ms-client-correlationid: %s", uuid) < 0)
                return -ENOMEM;
        /* Only conditional when we hold the document the ETag names (not right after a restart). */
        if (p->etag && asprintf(&inm, "if-none-match: %s", p->etag) < 0)
                return -ENOMEM;
        wire_single_attempt_policy(&once);
        p->step = POLL_VM_SETTINGS;
        r = hgap_request_start(p->client, HTTP_METHOD_GET, "/vmSettings", (char *const[]){corr, inm}, 2,
                               NULL, 0, EXT_GOAL_STATE_DOCUMENT_MAX, &once, on_vm_settings, p, &p->call);
        if (r == -ESTALE)
                return pass_next(p);
        return r;
}

/* ---- goal state (protocol §1.4) ---- */

static void on_goal_state(HttpRetry *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        _cleanup_(goal_state_done) GoalState gs = {};
        WirePoller *p = userdata;
        AzureClient *c = p->client;
        const char *old_cid = c->have_goal_state ? c->goal_state.container_id : NULL;
        int r;

        p->call = NULL;
        r = response_result(p, error, resp);
        if (r < 0)
                return pass_finish(p, r);
        /* A RoleInstance missing 6 times in a row (protocol §1.4) is -ENODATA here. */
        r = goal_state_parse(resp->body, resp->body_size, &gs);
        if (r < 0) {
                set_failure(p, "Goal state is invalid: %s", strerror(-r));
                return pass_finish(p, r);
        }
        /* ContainerId and ConfigName are refreshed on every GET (protocol §1.4). */
        if (old_cid && !streq_ptr(gs.container_id, old_cid)) {
                p->container_changed = true;
                if (free_and_strdup(&p->previous_container_id, old_cid) < 0)
                        return pass_finish(p, -ENOMEM);
        }
        p->container_changed = p->container_changed || p->container_retry;
        p->new_incarnation = !p->incarnation || !streq(p->incarnation, gs.incarnation);
        if (p->new_incarnation && p->incarnation &&
            free_and_strdup(&p->previous_incarnation, p->incarnation) < 0)
                return pass_finish(p, -ENOMEM);
        goal_state_done(&c->goal_state);
        c->goal_state = gs;
        c->have_goal_state = true;
        gs = (GoalState){};

        r = p->vm_settings_done ? pass_next(p) : fetch_vm_settings(p);
        if (r < 0)
                pass_finish(p, r);
}

static int goal_state_start(WirePoller *p) {
        RetryPolicy once;

        p->goal_state_done = true;
        wire_single_attempt_policy(&once);
        p->step = POLL_GOAL_STATE;
        return wire_goal_state_start(p->client, &once, /* retry_gone= */ false, on_goal_state, p, &p->call);
}

static int pass_start(WirePoller *p) {
        bool wire;

        p->n_passes++;
        pass_reset(p);
        p->pass_started = now_usec(CLOCK_MONOTONIC);
        /* The hook point: whatever the pass relies on is reconciled before its first request. */
        if (p->options.callbacks.pass_start)
                p->options.callbacks.pass_start(p->options.callbacks.userdata);
        /* vmSettings only when the last pass asked the WireServer, found nothing changed and nothing is pending */
        wire = p->wire_due || !p->vm_settings_supported || p->vm_settings_recheck > 0 || !p->incarnation ||
               !p->etag || p->container_retry || p->n_failures > 0 || p->n_stale > 0;
        p->wire_due = !wire;
        return wire ? goal_state_start(p) : fetch_vm_settings(p);
}

/* ---- the choice (protocol §1.4 / §2.1) and the end of a pass ---- */

static void goal_state_pick(WirePoller *p);

/* Picks the extensions goal state from what this pass fetched and hands it out; drops the rest. */
static void choose_goal_state(WirePoller *p) {
        goal_state_pick(p);
        p->new_ext_conf = extensions_goal_state_free(p->new_ext_conf);
        p->new_vm_settings = extensions_goal_state_free(p->new_vm_settings);
}

static void goal_state_pick(WirePoller *p) {
        ExtensionsGoalState newest = {.id = p->newest_id, .created_on_ticks = p->newest_ticks};
        const ExtensionsGoalState *chosen;
        ExtensionsGoalState **owner = NULL;

        if (!p->new_ext_conf && !p->new_vm_settings)
                return;
        chosen = goal_state_choose(p->newest_id ? &newest : NULL, p->new_ext_conf, p->new_vm_settings);
        if (chosen && chosen == p->new_ext_conf)
                owner = &p->new_ext_conf;
        else if (chosen && chosen == p->new_vm_settings)
                owner = &p->new_vm_settings;
        /* A new ExtensionsConfig of the same id as the newest one (restart) still refreshes the SAS URL etc. */
        if (!owner && p->new_ext_conf && p->newest_id && streq(p->newest_id, p->new_ext_conf->id))
                owner = &p->new_ext_conf;
        if (!owner)
                return;

        ExtensionsGoalState *gs = TAKE_PTR(*owner);
        bool same = streq_ptr(p->newest_id, gs->id);

        if (free_and_strdup(&p->newest_id, gs->id) < 0) {
                extensions_goal_state_free(gs);
                return (void) log_debug("Out of memory.");
        }
        p->newest_ticks = gs->created_on_ticks;
        if (p->options.callbacks.extensions_goal_state)
                p->options.callbacks.extensions_goal_state(gs, same, p->options.callbacks.userdata);
        else
                extensions_goal_state_free(gs);
}

static void pass_finish(WirePoller *p, int r) {
        usec_t delay = poll_period(p);
        unsigned recovered = 0;

        p->call = http_retry_cancel(p->call);
        p->certificates_call = wire_certificates_worker_cancel(p->certificates_call);
        /* A container change whose documents were not all fetched: the next pass treats it as one again. */
        p->container_retry = r < 0 && (p->container_retry || p->container_changed);
        if (r == -ESTALE && p->n_stale++ < POLL_STALE_REFRESH_MAX) {
                p->step = POLL_IDLE;
                log_debug("Goal state is stale (410), refreshing it.");
                if (schedule(p, 0) < 0)
                        log_debug("Cannot re-arm the goal state timer.");
                return;
        }
        p->n_stale = 0;
        if (r < 0) {
                p->n_failures++;
                delay = failure_delay(p, r);
                /* The documents of a new incarnation were not all fetched: fetch them again next time. */
                if (p->new_incarnation) {
                        free(p->incarnation);
                        p->incarnation = NULL;
                }
        } else {
                recovered = p->n_failures;
                p->n_failures = 0;
                if (p->new_incarnation &&
                    free_and_strdup(&p->incarnation, p->client->goal_state.incarnation) < 0)
                        log_debug("Out of memory.");
        }
        if (p->refresh_soon)
                delay = 0;

        /* The choice hands out the new extensions goal state before the pass is reported done (the caller's
         * status then describes it); what was fetched is kept for the result. */
        bool new_vm_settings = p->new_vm_settings;
        GoalStateSource vm_settings_source =
                new_vm_settings ? p->new_vm_settings->source : GOAL_STATE_SOURCE_UNKNOWN;
        if (r >= 0)
                choose_goal_state(p);

        WirePollResult result = {
                .error = r,
                .failure = p->failure[0] ? p->failure : NULL,
                .n_failures = p->n_failures,
                .recovered_after = recovered,
                .next = delay,
                .incarnation = p->incarnation,
                .previous_incarnation = p->previous_incarnation,
                .new_incarnation = r >= 0 && p->new_incarnation,
                .container_id = p->client->have_goal_state ? p->client->goal_state.container_id : NULL,
                .previous_container_id = p->previous_container_id,
                .etag = p->etag,
                .fast_track = p->vm_settings_supported,
                .fast_track_change = p->fast_track_change,
                .ext_conf_handlers = p->ext_conf_handlers,
                .new_vm_settings = new_vm_settings,
                .vm_settings_source = vm_settings_source,
                .hgap_version = p->hgap_version,
                .certificates = p->n_certificates,
                .certificates_why = p->n_certificates >= 0 ? p->certificates_why : NULL,
                .certificates_skipped = p->certificates_skipped && (p->n_certificates < 0),
                .certificates_usec = p->certificates_usec,
                .duration = (p->pass_started > 0) ? now_usec(CLOCK_MONOTONIC) - p->pass_started : 0,
                .warnings = p->warnings,
        };
        /* Still not idle: a refresh asked for from the callbacks (or during the pass) sets refresh_soon. */
        if (p->options.callbacks.pass_done)
                p->options.callbacks.pass_done(&result, p->options.callbacks.userdata);
        pass_reset(p);
        p->step = POLL_IDLE;
        if (p->refresh_soon) {
                p->refresh_soon = false;
                delay = 0;
        }
        if (schedule(p, delay) < 0)
                log_debug("Cannot re-arm the goal state timer.");
}

/* ---- setup and state ---- */

int azure_client_poll_start(AzureClient *c, const WirePollerOptions *o) {
        WirePoller *p;
        int r;

        if (!c || !o)
                return -EINVAL;
        if (c->poller)
                return -EBUSY;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        *p = (WirePoller){
                .client = c,
                .options = *o,
                .ext_conf_handlers = -1,
                .n_certificates = -1,
        };
        r = schedule(p, 0);
        if (r < 0) {
                wire_poller_free(p);
                return r;
        }
        c->poller = p;
        return 0;
}

bool azure_client_fast_track(const AzureClient *c) {
        return c->poller && c->poller->vm_settings_supported;
}

const char *azure_client_incarnation(const AzureClient *c) {
        return c->poller ? c->poller->incarnation : NULL;
}

uint64_t azure_client_passes(const AzureClient *c) {
        return c->poller ? c->poller->n_passes : 0;
}

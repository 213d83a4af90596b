/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent daemon`: the guest agent (issue #7). One process, one sd-event loop that owns the HttpClient,
 * the extension executor and every timer. References are to /work/shared/reference/azure-wire-protocol.md.
 *
 * The poll cycle (every [Timeouts] GoalStatePeriodSec, ref §0) is a chain of asynchronous steps; only one
 * fabric request of the cycle is in flight at a time:
 *
 *   GET goalstate ─► GET vmSettings (if-none-match) ─┬─ nothing changed ─────────────────────────► status
 *                                                    └─ incarnation / etag changed ─► HostingEnvironmentConfig
 *                                                       ─► Certificates ─► ExtensionsConfig ─► choose ─► status
 *
 * Failures end the cycle early and move the next poll: 410 (or 400 InvalidContainerConfiguration) refreshes
 * the goal state at once, throttling (403/429/503) retries after 1 s, anything else backs off along the
 * Fibonacci sequence (capped). A new extensions goal state id starts the executor (daemon-download.c
 * answers its package requests); the status blob (daemon-status.c) is uploaded when its content changed or
 * the keep-alive expired. daemon-state.c keeps what must survive a restart.
 *
 * This is the internal header of the daemon*.c files; daemon.h is the verb's entry point.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "context.h"
#include "daemon.h"
#include "daemon-state.h"
#include "ext-executor.h"
#include "extensions-goal-state.h"
#include "firewall.h"
#include "http-retry.h"
#include "wireserver.h"

#define DAEMON_STALE_REFRESH_MAX 3U                     /* 410 → goal state refreshes per cycle */
#define DAEMON_BACKOFF_CAP (5U * 60U * USEC_PER_SEC)
#define DAEMON_THROTTLE_DELAY (1U * USEC_PER_SEC)       /* THROTTLE_DELAY_IN_SECONDS, ref §1.2 */
/* Each goal state period is drawn from period ± this (mean unchanged), see daemon_poll_period() */
#define DAEMON_POLL_JITTER_PERCENT 10U
#define DAEMON_FAST_TRACK_RECHECK (6U * 3600U * USEC_PER_SEC) /* vmSettings 404: re-check in 6 h, ref §2.1 */
#define DAEMON_ARTIFACT_MAX (256U * 1024U * 1024U)      /* zip download bound (HTTP_RESPONSE_MAX_LIMIT) */
#define DAEMON_MANIFEST_MAX (1024U * 1024U)
#define DAEMON_DOWNLOAD_TIMEOUT (5U * 60U * USEC_PER_SEC) /* _DOWNLOAD_TIMEOUT per artifact, ref §2.2 */
#define DAEMON_DOWNLOAD_ROUNDS 3U                       /* passes over an artifact's locations (transient errors) */
#define DAEMON_DOWNLOAD_RETRY_DELAY (2U * USEC_PER_SEC)  /* × pass number */
#define STATUS_BLOB_VERSION_HEADER "2014-02-14"         /* ref §4.9 */
#define STATUS_PAGE_SIZE 512U
#define STATUS_PAGE_CHUNK_MAX (4U * 1024U * 1024U)

/* A NULL-terminated string vector literal; a NULL element ends it early (optional trailing items). */
#define STRV_MAKE(...) ((char *const *) (const char *const[]) { __VA_ARGS__, NULL })

typedef enum CycleStep {
        CYCLE_IDLE,
        CYCLE_GOAL_STATE,
        CYCLE_VM_SETTINGS,
        CYCLE_HOSTING_ENV,
        CYCLE_CERTIFICATES,
        CYCLE_EXTENSIONS_CONFIG,
        _CYCLE_STEP_MAX,
        _CYCLE_STEP_INVALID = -EINVAL,
} CycleStep;

typedef struct Download Download;
typedef struct StatusUpload StatusUpload;
typedef struct DaemonBus DaemonBus;
typedef struct DaemonNetwork DaemonNetwork;

typedef struct Daemon {
        Context *context;
        sd_event *event;
        HttpClient *http;
        sd_event_source *poll_timer;
        bool notified_ready;

        char *wire_endpoint;            /* host[:port] */
        char *hgap_base;                /* http://host:port */
        char *wire_host;                /* host only (handler environment) */

        /* the poll cycle */
        CycleStep step;
        HttpCall *call;                 /* the one request of the cycle in flight */
        unsigned n_failures;            /* consecutive failed cycles (backoff) */
        char failure[HTTP_FAILURE_STRING_MAX + 64]; /* what failed in this cycle ("Certificates: HTTP 500") */
        unsigned n_stale;               /* 410 refreshes in this cycle */
        unsigned n_no_role;             /* goal states without RoleInstance in a row */
        bool fetch_documents;           /* incarnation changed (or first cycle): fetch the sub-documents */
        bool cert_cipher_3des;
        uint64_t n_cycles;

        GoalState goal_state;           /* latest */
        char *incarnation;              /* whose documents we hold */
        HostingEnvironment hosting_env;

        /* Fast Track (ref §2.1) */
        bool vm_settings_supported;
        usec_t vm_settings_recheck;     /* CLOCK_MONOTONIC; 0 = ask every cycle */
        char *etag;
        ExtensionsGoalState *new_ext_conf;      /* fetched this cycle, not yet chosen */
        ExtensionsGoalState *new_vm_settings;

        /* certificates (ref §1.6) */
        EVP_PKEY *transport_key;
        X509 *transport_cert;
        char *transport_cert_header;
        char **thumbprints;

        /* extensions */
        ExtensionsGoalState *current;   /* the goal state in effect (owned) */
        ExtensionsGoalState *pending;   /* newer than current, waiting for the executor (owned) */
        ExtExecutor *executor;
        bool executor_running;
        bool executor_has_results;      /* the executor ran since the start (state.handlers is its outcome) */
        Download *download;

        /* status (ref §4.9) */
        StatusUpload *upload;
        bool status_again;              /* another upload was asked for while one ran */
        usec_t status_uploaded_at;      /* CLOCK_MONOTONIC of the last accepted upload, 0 = never */
        uint64_t n_uploads;

        char *computer_name, *os_name, *os_version;     /* guestOSInfo, read once */
        bool refresh_soon;              /* 410 seen: start the next cycle at once */

        DaemonState state;              /* persisted */
        bool state_dirty;

        DaemonBus *bus;                 /* org.azurelinux.Agent1 (daemon-bus.c); NULL without a system bus */

        /* the WireServer guard (daemon-firewall.c) */
        Firewall *firewall;
        FirewallStatus firewall_status; /* FirewallState/FirewallDetail on D-Bus, firewall.json */
        unsigned n_firewall_restored;
        usec_t proxy_agent_checked_at;  /* CLOCK_MONOTONIC */
        bool proxy_agent_active;
        char proxy_agent_detail[256];
        DaemonNetwork *network;         /* hot-plug re-apply (daemon-network.c); NULL with Backend=none */
} Daemon;


/* daemon.c */
void daemon_save_state(Daemon *d);
int daemon_hgap_headers(Daemon *d, char *const *extra, char ***ret);
/* Called when a request of the cycle or an upload saw 410: the next cycle starts right away. */
void daemon_refresh_goal_state_soon(Daemon *d);

/* daemon-status.c */
void daemon_status_request(Daemon *d);   /* build; upload if changed or keep-alive due */
StatusUpload *status_upload_free(StatusUpload *u);

/* daemon-bus.c: the D-Bus API (docs/dbus.md). Setup never fails the daemon: without a bus d->bus stays NULL. */
int daemon_bus_setup(Daemon *d);
DaemonBus *daemon_bus_free(DaemonBus *b);
/* Sends PropertiesChanged for the properties whose value changed since the last call; a no-op without a bus. */
void daemon_bus_emit_changed(Daemon *d);
/* The caller's effective uid only if the bus vouched for it (not read from /proc); -ENODATA/-EPERM otherwise. */
int bus_creds_vouched_euid(sd_bus_creds *creds, uid_t *ret);
bool bus_creds_is_root(sd_bus_creds *creds);

/* daemon-network.c: re-applies the IMDS network configuration when NICs come and go (issue #5). Only -ENOMEM
 * fails the daemon; without netlink the daemon runs on without the watch. */
int daemon_network_start(Daemon *d);
DaemonNetwork *daemon_network_free(DaemonNetwork *n);

/* daemon-firewall.c: checks the WireServer guard and installs it again when it is missing or changed; called at
 * the start of every goal state pass. Never fails the daemon. */
void daemon_firewall_reconcile(Daemon *d);

/* daemon-download.c */
int daemon_package_request(ExtExecutor *e, const char *name, const char *version, const ExtensionHandler *handler,
                           void *userdata);
Download *download_free(Download *dl);
static inline void download_freep(Download **dl) {
        download_free(*dl);
}

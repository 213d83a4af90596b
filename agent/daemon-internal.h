/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent daemon`: the guest agent (issue #7). One process, one sd-event loop that owns the Azure client
 * (imds-client/azure-client.h), the extension executor and every timer. The daemon is wiring:
 *
 *   goal state ──► plan ──► handlers ──► status
 *   AzureClient's poller (WireServer goal state, vmSettings, certificates, ExtensionsConfig, Fast Track choice,
 *   410/throttle/back-off) hands a new extensions goal state to daemon.c, which runs it with the executor
 *   (extensions/ext-executor.h: plan, then handler processes); the executor asks daemon-download.c for packages,
 *   which the client fetches (several at a time, prefetched from the plan); daemon-status.c builds the status
 *   blob from the executor's results and has the client upload it when it changed or the keep-alive expired.
 *   daemon-state.c keeps what must survive a restart; daemon-bus.c is the D-Bus API; daemon-network.c re-applies
 *   the network on NIC hot-plug.
 *
 * This is the internal header of the daemon*.c files; daemon.h is the verb's entry point.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "azure-client.h"
#include "context.h"
#include "daemon.h"
#include "daemon-state.h"
#include "ext-executor.h"
#include "extensions-goal-state.h"
#include "firewall.h"

typedef struct DaemonBus DaemonBus;
typedef struct DaemonNetwork DaemonNetwork;

/* Where the time of one extensions goal state goes (CLOCK_MONOTONIC µs; issue #21), written to daemon.json as
 * "timings" once its status is uploaded. Downloads run concurrently: manifests and packages are sums. */
typedef struct DaemonTimings {
        usec_t run_started;
        bool fetch_pending;         /* the pass that brought the goal state has not reported yet */
        bool upload_pending;        /* the run is done, its status upload is not */
        usec_t fetch, certificates; /* the goal-state pass; its Certificates step (0: not fetched) */
        usec_t manifests, packages, extraction;
        unsigned downloads;
        usec_t run; /* the executor's whole run (plan, downloads, commands, status files) */
        usec_t upload;
} DaemonTimings;

typedef struct Daemon {
        Context *context;
        sd_event *event;
        AzureClient *client; /* IMDS, WireServer, HostGAPlugin, blob storage */
        bool notified_ready;
        unsigned n_failures; /* consecutive failed goal-state passes (D-Bus PollFailures) */

        /* extensions */
        ExtensionsGoalState *current; /* the goal state in effect (owned) */
        ExtensionsGoalState *pending; /* newer than current, waiting for the executor (owned) */
        ExtExecutor *executor;
        bool executor_running;
        bool executor_has_results; /* the executor ran since the start (state.handlers is its outcome) */
        DaemonTimings timings;     /* of the run in progress or the last one */

        /* status (protocol §4.9) */
        usec_t status_uploaded_at; /* CLOCK_MONOTONIC of the last accepted upload, 0 = never */
        uint64_t n_uploads;
        char *computer_name, *os_name, *os_version; /* guestOSInfo, read once */

        DaemonState state; /* persisted */
        bool state_dirty;

        DaemonBus *bus; /* org.azurelinux.Agent1 (daemon-bus.c); NULL without a system bus */

        /* the WireServer guard (daemon-firewall.c) */
        Firewall *firewall;
        FirewallStatus firewall_status; /* FirewallState/FirewallDetail on D-Bus, firewall.json */
        unsigned n_firewall_restored;
        usec_t proxy_agent_checked_at; /* CLOCK_MONOTONIC */
        bool proxy_agent_active;
        char proxy_agent_detail[256];
        DaemonNetwork *network; /* hot-plug re-apply (daemon-network.c); NULL with Backend=none */
} Daemon;

/* daemon.c */
void daemon_save_state(Daemon *d);
/* The status upload after a run ended: its timings are complete (daemon.json "timings", the journal). */
void daemon_timings_uploaded(Daemon *d, usec_t upload);
/* The next goal-state pass starts right away (D-Bus RefreshGoalState). */
void daemon_refresh_goal_state_soon(Daemon *d);

/* daemon-status.c */
void daemon_status_request(Daemon *d); /* build; upload if changed or keep-alive due */

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

/* daemon-download.c: the executor's package requests, answered by the client; every package the plan of the
 * run just started will need is fetched at once, a few at a time. */
int daemon_package_request(ExtExecutor *e, const char *name, const char *version,
                           const ExtensionHandler *handler, void *userdata);
bool daemon_package_ready(ExtExecutor *e, const char *name, const char *version,
                          const ExtensionHandler *handler, void *userdata);
void daemon_prefetch_packages(Daemon *d);

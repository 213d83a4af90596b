/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent status` as a client of the daemon's D-Bus API (docs/dbus.md): one GetAll of org.azurelinux.Agent1
 * on the system bus, turned into the same ProvisionState the state file gives, plus what only the daemon
 * knows (goal state, extensions, status uploads).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "provision-state.h"
#include "userdata-status.h"

#define STATUS_BUS_TIMEOUT        (5U * USEC_PER_SEC) /* a wedged daemon: fall back to the state file */
#define STATUS_BUS_EXTENSIONS_MAX 1024U

typedef struct StatusBusExtension {
        char *name, *version, *extension, *status, *message, *settings_status, *settings_message;
        int32_t code, settings_code;
        uint32_t seq_no;
} StatusBusExtension;

typedef struct StatusBus {
        ProvisionState prov; /* state "not-run" when the daemon has no provisioning record */
        char *incarnation, *etag, *extensions_goal_state;
        usec_t goal_state_at, last_upload_at;
        uint64_t n_uploads;
        StatusBusExtension *extensions;
        size_t n_extensions;
        UserDataStatus userdata; /* state, unsupported and scripts (the rest is in userdata.json) */
        char *firewall_state,
                *firewall_detail; /* the WireServer guard; NULL before the daemon's first pass */
} StatusBus;

void status_bus_done(StatusBus *s);

/* -ENXIO when there is no system bus or no daemon on it; other -errno on a malformed answer. */
int status_bus_read(StatusBus *ret);

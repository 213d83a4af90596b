/* SPDX-License-Identifier: MIT */
/*
 * Internals of the network provisioner shared between its files and its tests: the record of what the netlink
 * backend added (<state_dir>/network.json), so that a later run removes only the agent's own addresses and
 * routes. Entries are keyed by MAC, not ifindex: ifindexes change when a NIC is hot-removed and re-added.
 *
 *   {"version": 1,
 *    "addresses": [{"mac": "00:0d:3a:33:82:e8", "address": "10.0.1.5/24"}],
 *    "routes": [{"mac": "00:0d:3a:33:82:e8", "destination": "0.0.0.0/0", "gateway": "10.0.1.1",
 *                "metric": 100}]}
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "network.h"

#define NETWORK_STATE_FILE        "network.json"
#define NETWORK_STATE_ENTRIES_MAX 8192U

typedef struct NetworkOwned {
        uint8_t mac[6];
        bool is_route;
        NetworkAddress address; /* address with prefix, or the route destination */
        NetworkAddress gateway; /* routes; family 0 = none */
        uint32_t metric;        /* routes */
} NetworkOwned;

typedef struct NetworkState {
        NetworkOwned *entries;
        size_t n;
} NetworkState;

void network_state_done(NetworkState *s);
int network_state_add(NetworkState *s, const NetworkOwned *e);
bool network_state_contains(const NetworkState *s, const NetworkOwned *e);

/* Pure: JSON ⇄ NetworkState. Parsing fails with -EBADMSG on anything unexpected. */
int network_state_parse(const char *buf, size_t len, NetworkState *ret);
int network_state_format(const NetworkState *s, char **ret);

/* <state_dir>/network.json under root_fd; a missing file is an empty state. */
int network_state_load(int root_fd, const char *state_dir, NetworkState *ret);
/* Writes only when the contents change; returns 1 when written, 0 otherwise. */
int network_state_save(int root_fd, const char *state_dir, const NetworkState *s);

/* "10.0.1.5/24" or "fd00::5" (then prefix = full length) → NetworkAddress. */
int network_address_parse(const char *s, NetworkAddress *ret);

/* A file name of ours in NETWORKD_DIR (10-azl-*.network, 05-azl-vf-*.network). */
bool networkd_file_is_ours(const char *name);

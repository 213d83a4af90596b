/* SPDX-License-Identifier: MIT */
/*
 * Starts tests/imds-client/fake-server.py (a scripted stdlib HTTP server on 127.0.0.1) for the imds-client
 * integration tests, and reads its request log. Exits 77 when python3 or the script is unavailable.
 */
#pragma once

#include <json-c/json.h>
#include <sys/types.h>

typedef struct FakeServer {
        pid_t pid;
        unsigned port;
        char *dir;         /* scratch directory holding the scenario */
        char base[64];     /* "http://127.0.0.1:<port>" */
        char hostport[32]; /* "127.0.0.1:<port>" */
} FakeServer;

/* scenario is the JSON text described in fake-server.py; "@DATA@" is replaced by the path of tests/data. */
void fake_server_start(FakeServer *s, const char *scenario);
void fake_server_stop(FakeServer *s);

/* The request log (a JSON array, see fake-server.py); the caller puts it. */
struct json_object *fake_server_requests(FakeServer *s);
/* Number of logged requests whose path equals path. */
size_t fake_server_count(FakeServer *s, const char *path);

/* SPDX-License-Identifier: MIT */
/*
 * Context: the runtime state every module is handed (systemd's "Context/Manager" pattern): the configuration,
 * the root directory (--root) as an fd and as text (for external tools), the platform, and the environment.
 * The agent owns it; modules never keep their own globals.
 */
#pragma once

#include "config.h"
#include "error-util.h"
#include "platform.h"

typedef struct Context {
        Config config;
        int root_fd;
        char *root;              /* NULL or "/" for the real root */
        const char *config_file; /* --config FILE as given (points into argv), or NULL */
        PlatformInfo platform;
        char *const *env;
} Context;

int context_init(Context *c, const char *root, char *const *env);
void context_done(Context *c);

/*
 * May the agent talk to Azure endpoints (IMDS, WireServer, HostGAPlugin)? Only on Azure, or when endpoints
 * were configured explicitly, or with [Endpoints] AllowNonAzure=yes; never on WSL. Returns 0 or, on refusal,
 * -EHOSTUNREACH; either way *reason (may be NULL) says why (error 0 when allowed). -ENOMEM when the reason
 * cannot be allocated.
 */
int context_endpoints_allowed(const Context *c, Error *reason);

/* SPDX-License-Identifier: MIT */
/*
 * <StateDirectory>/userdata.json (0600): what was done with the user data, for `azl-agent status` (text, JSON),
 * the daemon's D-Bus properties and `azl-agent status --wait`. Written atomically after every module and every
 * script. It holds no user data: part names and types, top-level key names, problem paths and lines, module
 * summaries, script exit statuses — and the last lines of each script's output, which only root reads (the
 * file is 0600 in a 0700 directory; D-Bus hands them to root only).
 *
 *   { "version": 1, "state": "none"|"ignition"|"pending"|"running"|"done"|"degraded",
 *     "source": "ovf"|"imds"|"saved", "vm_id": "…", "size": 123, "gzip": false, "mime": true,
 *     "parts": [ { "name": "part-001", "type": "cloud-config", "supported": true, "size": 42 } ],
 *     "unsupported": [ "apt", "part part-002: jinja2" ],
 *     "problems": [ { "path": "users.0.sudo", "part": "part-001", "line": 4 } ],
 *     "modules": [ { "name": "write_files", "result": "changed", "summary": "2 file(s) written" } ],
 *     "scripts": [ { "name": "runcmd", "frequency": "instance", "state": "failed", "exit_status": 3,
 *                    "started_at": "…", "finished_at": "…", "output": "last lines" } ],
 *     "provisioned_at": "…", "final_started_at": "…", "final_finished_at": "…" }
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "context.h"
#include "strutil.h"

#define USERDATA_STATUS_ITEMS_MAX 256U
#define USERDATA_OUTPUT_TAIL_MAX  2048U

typedef struct UdPartStatus {
        char *name, *type;
        bool supported;
        uint64_t size;
} UdPartStatus;

typedef struct UdProblemStatus {
        char *path, *part;
        unsigned line;
} UdProblemStatus;

typedef struct UdModuleStatus {
        char *name, *result, *summary;
} UdModuleStatus;

typedef struct UdScriptStatus {
        char *name, *frequency, *state;
        int exit_status; /* -1: none (not run, killed, could not start) */
        usec_t started_at, finished_at;
        char *output; /* last lines; root only */
} UdScriptStatus;

typedef struct UserDataStatus {
        char *state, *source, *vm_id;
        uint64_t size;
        bool gzip, mime;
        UdPartStatus *parts;
        size_t n_parts;
        char **unsupported;
        UdProblemStatus *problems;
        size_t n_problems;
        UdModuleStatus *modules;
        size_t n_modules;
        UdScriptStatus *scripts;
        size_t n_scripts;
        usec_t provisioned_at, final_started_at, final_finished_at;
} UserDataStatus;

void userdata_status_done(UserDataStatus *s);

/* Adds or replaces (by name) a module / script record. */
int userdata_status_set_module(UserDataStatus *s, const char *name, const char *result, const char *summary);
UdScriptStatus *userdata_status_script(UserDataStatus *s, const char *name, const char *frequency);

/* with_output: include the scripts' last lines. */
int userdata_status_to_json(const UserDataStatus *s, bool with_output, struct json_object **ret);
int userdata_status_from_json(const char *buf, size_t size, UserDataStatus *ret);

int userdata_status_save(const Context *c, const UserDataStatus *s);
/* -ENOENT when there is no status file. */
int userdata_status_load(const Context *c, UserDataStatus *ret);

/* Is the state one that no longer changes until the next boot ("none", "ignition", "done", "degraded")? */
bool userdata_state_is_final(const char *state);

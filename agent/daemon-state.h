/* SPDX-License-Identifier: MIT */
/*
 * What the daemon remembers across restarts: <StateDirectory>/daemon.json (0600, replaced atomically, written
 * only when something changed, never on an idle poll):
 *
 *   { "version": 1, "incarnation": "3", "etag": "…", "executedGoalStateId": "incarnation_3",
 *     "statusHash": "<sha256 hex of the blob with timestamps zeroed>", "fastTrack": true,
 *     "handlers": [ { "name": "…", "version": "…", "extensionName": "…", "sequenceNumber": 0,
 *                     "hasSettings": true, "status": "Ready", "code": 0, "message": "…",
 *                     "settingsStatus": { "name": "…", "operation": "…", "status": "success", "code": 0,
 *                                         "message": "…", "configurationAppliedTime": "…" } } ],
 *     "timings": { "goalStateId": "…", "fetchUsec": …, … } }
 *
 * "timings" says where the time of the last extensions goal state went (µs; see daemon.c), for benchmarks.
 *
 * With it, a restarted daemon does not run the extensions of a goal state it already executed (it reports
 * the recorded handler statuses instead) and does not upload a status blob whose content is unchanged.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "ext-handler.h"

#define DAEMON_STATE_FILE         "daemon.json"
#define DAEMON_STATE_MAX          (4U * 1024U * 1024U)
#define DAEMON_STATE_HANDLERS_MAX 1024U

typedef struct DaemonState {
        char *incarnation;
        char *etag;
        char *executed_id; /* extensions goal state id whose run completed */
        char *status_hash;
        bool fast_track;
        ExtHandlerResult *handlers; /* substatus is kept in memory, not persisted */
        size_t n_handlers;
        struct json_object *timings; /* where the last run's time went (daemon.c), kept as it is */
} DaemonState;

void daemon_state_done(DaemonState *s);
void daemon_state_clear_handlers(DaemonState *s);
/* Copies the reportable part of r (removed results are skipped by the caller). */
int daemon_state_add_handler(DaemonState *s, const ExtHandlerResult *r);

/* Pure (de)serialization; from_json fails with -EBADMSG on anything malformed. */
int daemon_state_to_json(const DaemonState *s, char **ret);
int daemon_state_from_json(const char *buf, size_t len, DaemonState *ret);

/* <state_dir>/daemon.json under root_fd; load returns -ENOENT when there is none. */
int daemon_state_load(int root_fd, const char *state_dir, DaemonState *ret);
int daemon_state_save(int root_fd, const char *state_dir, const DaemonState *s);

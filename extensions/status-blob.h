/* SPDX-License-Identifier: MIT */
/*
 * Status documents (wire protocol §4.7–4.9): the extension status file status/<seq>.status written by an
 * extension, its heartbeat.log, and the aggregate VM status blob the agent uploads. The blob is serialized
 * exactly like waagent's json.dumps(): keys in waagent's order, ", " and ": " separators, ASCII-only output
 * (\uXXXX escapes), so that CRP sees the same bytes from either agent.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "strutil.h"

#define EXT_STATUS_FILE_MAX_SIZE          (128U * 1024U)        /* _MAX_STATUS_FILE_SIZE_IN_BYTES */
#define EXT_STATUS_PARSE_MAX              (16U * 1024U * 1024U) /* refuse to even parse more than this */
#define EXT_STATUS_MESSAGE_TRUNCATED_LEN  1024U
#define EXT_SUBSTATUS_FIELD_TRUNCATED_LEN (10U * 1024U)
#define EXT_STATUS_SUBSTATUS_MAX          1024U
#define EXT_STATUS_TRUNCATED_SUFFIX       " ... [TRUNCATED]"
#define HEARTBEAT_STALE_USEC              (600U * USEC_PER_SEC)

/* Handler status codes (waagent ExtensionErrorCodes) used when a status file cannot be used. */
#define EXT_ERROR_CODE_UNKNOWN                 (-1)
#define EXT_ERROR_CODE_SETTINGS_STATUS_INVALID 1012

typedef struct SubStatus {
        char *name;
        char *status;
        int code;
        char *message; /* NULL → JSON null */
} SubStatus;

typedef struct ExtensionStatus {
        char *name;
        char *configuration_applied_time;
        char *operation;
        char *status; /* transitioning|warning|error|success (unknown values → error) */
        int code;
        char *message;
        SubStatus *substatus;
        size_t n_substatus;
        bool truncated; /* the file exceeded 128 KB and messages were truncated */
} ExtensionStatus;

void ext_status_done(ExtensionStatus *s);

/*
 * Parses status/<seq>.status. Errors: -EBADMSG for invalid JSON or a malformed document (the caller reports
 * status "error" with code EXT_ERROR_CODE_SETTINGS_STATUS_INVALID and the reason), -ENODATA for an empty
 * array (nothing reported yet), -E2BIG beyond EXT_STATUS_PARSE_MAX.
 */
int ext_status_parse(const char *buf, size_t len, ExtensionStatus *ret, char **ret_error);

typedef struct Heartbeat {
        char *status; /* Ready|NotReady|Installing|Unresponsive */
        int code;
        char *message;
} Heartbeat;

void heartbeat_done(Heartbeat *h);
int heartbeat_parse(const char *buf, size_t len, Heartbeat *ret, char **ret_error);

typedef struct HandlerStatusReport {
        const char *name;
        const char *version;
        const char *status; /* Ready|NotReady|Installing|Unresponsive */
        int code;
        const char *message;
        const ExtensionStatus *extension_status; /* NULL: no runtimeSettingsStatus */
        unsigned sequence_number;
        const char *extension_name; /* multi-config instance, NULL otherwise */
} HandlerStatusReport;

typedef struct VmStatusReport {
        usec_t timestamp; /* realtime, for every timestampUTC */
        const char *agent_version;
        const char *agent_status; /* Ready|NotReady */
        const char *agent_message;
        const HandlerStatusReport *handlers;
        size_t n_handlers;
        bool has_goal_state_status;
        const char *goal_state_status; /* Success|Failed */
        int goal_state_code;
        const char *goal_state_message;
        const char *in_svd_seq_no; /* the incarnation for ExtensionsConfig goal states */
        const char *computer_name;
        const char *os_name;
        const char *os_version;
        char *const *supported_features; /* names, each reported with Value "1.0" */
} VmStatusReport;

/* Builds the aggregate status blob (§4.9) as waagent's json.dumps text. */
int status_blob_build(const VmStatusReport *r, char **ret);

/* Serializes a json-c value the way Python's json.dumps() does by default (used by status_blob_build). */
int json_dumps_python(struct json_object *o, char **ret);

/* SPDX-License-Identifier: MIT */
/*
 * HandlerManifest.json (wire protocol §4.2; waagent exthandlers.py HandlerManifest): only the first element of
 * the array is used; booleans are JSON booleans or the strings "true"/"false" (case-insensitive), anything
 * else counts as false; updateMode defaults to UpdateWithInstall. rebootAfterInstall is not read.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#define HANDLER_MANIFEST_MAX (256U * 1024U)

typedef enum HandlerUpdateMode {
        HANDLER_UPDATE_WITH_INSTALL,
        HANDLER_UPDATE_WITHOUT_INSTALL,
        _HANDLER_UPDATE_MODE_MAX,
        _HANDLER_UPDATE_MODE_INVALID = -EINVAL,
} HandlerUpdateMode;

typedef struct HandlerManifest {
        char *name;
        char *version; /* as written ("1.0") */
        char *install_command;
        char *uninstall_command;
        char *update_command;
        char *enable_command;
        char *disable_command;
        bool report_heartbeat;
        bool continue_on_update_failure;
        bool supports_multiple_extensions;
        HandlerUpdateMode update_mode;
        int cpu_quota_percentage; /* resourceLimits.cpuQuotaPercentage, -1 when absent */
        unsigned memory_quota_mb; /* resourceLimits.memoryQuotaInMB, 0 when absent (§4.10) */
        char *signing_type;       /* signingInfo.{type,publisher,version}, NULL when absent */
        char *signing_publisher;
        char *signing_version;
} HandlerManifest;

void handler_manifest_done(HandlerManifest *m);
/* A UTF-8 BOM is skipped. -EBADMSG ("Malformed manifest file.") when there is no handlerManifest object. */
int handler_manifest_parse(const char *buf, size_t len, HandlerManifest *ret, char **ret_error);

/* SPDX-License-Identifier: MIT */
/*
 * The on-disk contract between the agent and an extension handler (wire protocol §4.3, §4.4, §4.7, §4.8):
 * where a handler lives (<extensions_dir>/<Name>-<Version>/, /var/log/azure/<Name>/), the files the agent
 * writes for it (HandlerEnvironment.json, config/<seq>.settings, config/HandlerState, …), the environment of
 * every command, the scan of installed handlers that the plan starts from, and the status the agent reports
 * for a handler (its status file, heartbeat, and the result of the last operation).
 *
 * Every path is kept twice: "in-root" (relative to the root fd; all file access goes through it) and "host"
 * (the root's text prefix joined in front). Handlers run as ordinary host processes, so what they are told —
 * HandlerEnvironment.json, AZURE_GUEST_AGENT_EXTENSION_PATH, the command line — uses host paths; with the
 * real root both are identical, byte for byte what waagent writes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "extensions-goal-state.h"
#include "fileio.h"
#include "status-blob.h"
#include "strutil.h"

#define EXT_LOG_DIR_DEFAULT               "/var/log/azure"
#define EXT_COMMAND_LOG_MAX               (10U * 1024U * 1024U) /* CommandExecution.log, head-truncated (§4.3) */
#define EXT_OUTPUT_MESSAGE_MAX            3200U                 /* TELEMETRY_MESSAGE_MAX_LEN (§4.5) */
#define EXT_SUPPORTED_FEATURES_ENV        "[{\"Key\": \"ExtensionTelemetryPipeline\", \"Value\": \"1.0\"}]"
#define EXT_WIRE_PROTOCOL_ADDRESS_DEFAULT "168.63.129.16"

/* waagent ExtensionErrorCodes (§4.5). */
#define EXT_CODE_SUCCESS                          0
#define EXT_CODE_PLUGIN_PROCESSING_ERROR          1000
#define EXT_CODE_MANIFEST_DOWNLOAD_ERROR          1001
#define EXT_CODE_HANDLER_MANIFEST_NOT_FOUND       1002
#define EXT_CODE_HANDLER_MANIFEST_DESERIALIZATION 1003
#define EXT_CODE_PACKAGE_DOWNLOAD_FAILED          1004
#define EXT_CODE_PACKAGE_EXTRACTION_FAILED        1005
#define EXT_CODE_INSTALL_FAILED                   1007
#define EXT_CODE_UPDATE_FAILED                    1008
#define EXT_CODE_ENABLE_FAILED                    1009
#define EXT_CODE_DISABLE_FAILED                   1010
#define EXT_CODE_SCRIPT_TIMED_OUT                 1011
#define EXT_CODE_SETTINGS_STATUS_INVALID          1012
/* A package refused by signature or signingInfo validation (SignatureValidation=enforce): waagent's enforcing
 * path reports PluginInstallProcessingFailed, "Signature validation is only done during extension install"
 * (exthandlers.py handle_ext_handler, except PackageValidationError); earlier drafts of its
 * signature_validation_util.py used PluginPackageExtractionFailed (1005). */
#define EXT_CODE_SIGNATURE_VALIDATION_FAILED EXT_CODE_INSTALL_FAILED
/* An unsigned package under enforce: waagent's policy path ("must be signed, but extension package signature
 * could not be found", ExtensionSignaturePolicyError) reports PluginEnableProcessingFailed for an extension to
 * enable, which is when a package is downloaded. */
#define EXT_CODE_SIGNATURE_REQUIRED EXT_CODE_ENABLE_FAILED

typedef struct ExtLayout {
        int root_fd;
        const char *root;    /* textual root (NULL or "/" = real root) */
        const char *lib_dir; /* in-root, Config.extensions_dir (/var/lib/waagent) */
        const char *log_dir; /* in-root, /var/log/azure */
} ExtLayout;

/* Fills l from the context; log_dir NULL → EXT_LOG_DIR_DEFAULT. The strings are borrowed. */
void ext_layout_init(ExtLayout *l, const Context *c, const char *log_dir);

typedef struct HandlerPaths {
        char *dir, *config_dir, *status_dir, *heartbeat_file, *log_dir, *events_dir; /* in-root */
        char *host_dir, *host_config_dir, *host_status_dir, *host_heartbeat_file, *host_log_dir,
                *host_events_dir; /* host */
} HandlerPaths;

void handler_paths_done(HandlerPaths *p);
/* Opens <lib_dir>/<Name>-<Version> (O_DIRECTORY | flags); what is below it is reached with ext-beneath.h. */
int handler_dir_open(const ExtLayout *l, const char *name, const char *version, int flags);
int handler_paths_build(const ExtLayout *l, const char *name, const char *version, HandlerPaths *ret);

/* Names that become path components (extension instances, file names): refuse '/', "..", control characters,
 * empty. */
bool ext_name_is_valid(const char *s);

/* What Azure allows in a handler's Name (publisher.type, e.g. Microsoft.Azure.Extensions.CustomScript,
 * Microsoft.AKS.Compute.AKS-Engine.Linux.Billing): ASCII letters and digits, '.', '-', '_', starting and ending
 * with a letter or digit, at most EXT_HANDLER_NAME_MAX characters. Anything else — a space, a quote, ';', '$',
 * '/', non-ASCII — is refused before the handler is planned: a name reaches paths, unit names and the
 * environment of every command. */
#define EXT_HANDLER_NAME_MAX 128U
bool ext_handler_name_is_valid(const char *s);
/* A handler Version: dot-separated decimal numbers (1.0, 2.1.6, 1.0.0.0), at most EXT_HANDLER_VERSION_MAX
 * characters. */
#define EXT_HANDLER_VERSION_MAX 64U
bool ext_handler_version_is_valid(const char *s);
/* A reason for the handler status when name/version is not valid, NULL when both are. */
const char *ext_handler_name_check(const char *name, const char *version);

typedef enum HandlerState {
        HANDLER_STATE_NOT_INSTALLED,
        HANDLER_STATE_INSTALLED,
        HANDLER_STATE_ENABLED,
        HANDLER_STATE_FAILED_UPGRADE,
        _HANDLER_STATE_MAX,
        _HANDLER_STATE_INVALID = -EINVAL,
} HandlerState;

const char *handler_state_to_string(HandlerState s);
HandlerState handler_state_from_string(const char *s);

/* config/HandlerState; a missing file is NotInstalled. batch: added to that group commit, NULL: written now
 * (also for handler_environment_write()). */
int handler_state_read(const ExtLayout *l, const char *name, const char *version, HandlerState *ret);
int handler_state_write(const ExtLayout *l, const char *name, const char *version, HandlerState s,
                        WriteBatch *batch);
/* Multi-config: config/<ext>.HandlerState, "enabled"/"disabled"; missing → false. */
int handler_ext_state_read(const ExtLayout *l, const char *name, const char *version, const char *ext,
                           bool *ret_enabled);
int handler_ext_state_write(const ExtLayout *l, const char *name, const char *version, const char *ext,
                            bool enabled);

/* Creates config/ status/ (0700), the log and events dirs, and writes HandlerEnvironment.json (§4.3). */
int handler_environment_write(const ExtLayout *l, const char *name, const char *version, WriteBatch *batch);
/* The exact bytes of HandlerEnvironment.json (json.dumps of waagent's list). */
int handler_environment_format(const HandlerPaths *p, const char *name, char **ret);

/* Settings file name: "<seq>.settings", "<ext>.<seq>.settings" (multi-config). */
int ext_settings_file_name(const char *ext, unsigned seq, char **ret);
/* The settings document in waagent's shape; settings NULL → "" (the empty 0.settings). */
int ext_settings_format(const ExtensionSettings *s, char **ret);
/* Writes config/<name> (0600): now, or into batch (committed by the caller). */
int ext_settings_write(const ExtLayout *l, const char *name, const char *version, const char *ext,
                       const ExtensionSettings *s, WriteBatch *batch);

/* Which parts of §4.4 apply to a command. Strings NULL = variable not set. */
typedef struct ExtCommandEnv {
        const char *handler_host_dir;
        const char *version;
        const char *wire_protocol_address;
        unsigned seq_no;
        const char *extension_name;           /* multi-config only */
        const char *uninstall_exit_code;      /* install & enable: "NOT_RUN" or a number */
        const char *update_to_version;        /* update: VERSION */
        const char *updating_from_version;    /* update */
        const char *disable_exit_code;        /* update, single-config */
        const char *disable_exit_codes_multi; /* update, multi-config (JSON) */
} ExtCommandEnv;

/* Builds the environment: §4.4 variables first, then agent_env merged over them (agent wins, as waagent's
 * env.update(os.environ)). */
int ext_command_env_build(const ExtCommandEnv *e, char *const *agent_env, char ***ret);

/* Formats "[stdout]\n…\n\n[stderr]\n…" within 3200 characters exactly like waagent format_stdout_stderr(). */
int ext_format_output(const char *out, size_t out_len, const char *err, size_t err_len, char **ret);

/* An installed handler found on disk. */
typedef struct InstalledHandler {
        char *name;
        char *version;
        HandlerState state;
        char **enabled_extensions; /* multi-config instances whose <ext>.HandlerState is enabled */
} InstalledHandler;

void installed_handlers_free(InstalledHandler *h, size_t n);
/* Lists <lib_dir>/<Name>-<Version>/ directories holding a HandlerManifest.json (WALinuxAgent-* excluded). */
int installed_handlers_scan(const ExtLayout *l, InstalledHandler **ret, size_t *ret_n);

/* The status reported for one (handler, extension instance). Owns its strings. */
typedef struct ExtHandlerResult {
        char *name;
        char *version;
        char *extension; /* multi-config instance, NULL otherwise */
        unsigned seq_no;
        bool has_settings;
        char *status; /* Ready|NotReady|Installing|Unresponsive */
        int code;
        char *message;
        bool has_extension_status;
        ExtensionStatus extension_status;
        bool removed; /* uninstalled: not reported any more (§4.6) */
        /* §4.11: why the package is not validated (SignatureValidation=report: installed and run, with a warning
         * in message) or was refused (enforce), NULL otherwise; signature_new: found in this run (a download, or
         * a refusal), so the daemon logs it once. */
        char *signature_problem;
        bool signature_refused;
        bool signature_new;
} ExtHandlerResult;

void ext_handler_result_done(ExtHandlerResult *r);
int ext_handler_result_set(ExtHandlerResult *r, const char *status, int code, const char *message);
/* A runtimeSettingsStatus reported by the agent on the extension's behalf (waagent create_status_file()). */
int ext_handler_result_set_extension_status(ExtHandlerResult *r, const char *status, int code,
                                            const char *operation, const char *msg);

/*
 * Reads status/<seq>.status (§4.7) into r: missing → transitioning with the agent's message; invalid →
 * error/1012; returns -EAGAIN when the file was unreadable or invalid (the caller retries: 5 times, 2 s apart).
 * With report_heartbeat, heartbeat.log (§4.8) replaces the handler status; older than 600 s → Unresponsive/-1.
 */
int ext_handler_result_read_status(const ExtLayout *l, ExtHandlerResult *r, bool report_heartbeat,
                                   usec_t now_realtime);

/* Points a HandlerStatusReport (for status_blob_build) at r's strings. */
void ext_handler_result_to_report(const ExtHandlerResult *r, HandlerStatusReport *ret);

/* Recursive removal below a directory fd without following symlinks; ENOENT is success. */
int ext_rm_rf_at(int dir_fd, const char *name);
/* Copies a regular file (not through symlinks) between directory fds, mode kept; ENOENT → -ENOENT. */
int ext_copy_file_at(int src_dir_fd, const char *src, int dst_dir_fd, const char *dst);

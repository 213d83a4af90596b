/* SPDX-License-Identifier: MIT */
/*
 * Logging. One process-wide sink: the journal (with SYSLOG_IDENTIFIER, MESSAGE_ID, CODE_* and ERRNO fields)
 * when started by systemd with a journal stream, stderr otherwise. Library code (common/, imds-client/, parsers)
 * logs at debug level only; the agent/ layer logs once at the boundary ("log and return" in one statement).
 *
 * Secrets never reach a line: every formatted message passes through log_redact(), which masks registered
 * secrets (passwords, protected settings) and the signature of SAS URLs before it is written anywhere.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO, /* journal if $JOURNAL_STREAM/$INVOCATION_ID says systemd started us, else stderr */
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_NULL,
} LogTarget;

/* MESSAGE_ID values (journalctl MESSAGE_ID=…), one per event kind; documented in docs/logging.md. */
#define MESSAGE_ID_PROVISIONING_STARTED  "fef735e7edfc470a8ddb6f2c7433e93b"
#define MESSAGE_ID_PROVISIONING_FINISHED "0022af8338694a55b90b623fd522e7f6"
#define MESSAGE_ID_PROVISIONING_FAILED   "cea5f24616384583aedd3d67544e8843"
#define MESSAGE_ID_PROVISIONING_STEP     "0eb6df173022417389a8052da906a4e5"
#define MESSAGE_ID_HEALTH_REPORTED       "e304e749efe5422e8df006e0b80bd17e"
#define MESSAGE_ID_GOAL_STATE            "0b9dd970c514424082b3c6b927478162"
#define MESSAGE_ID_EXTENSION             "b3445f13cfba47b3b7b54aaf891e8f63"
#define MESSAGE_ID_PLATFORM              "62d7ce9a398a417cb968aa95dd9d5e08"
#define MESSAGE_ID_REFUSED_ENDPOINT      "d72582c228be466c91f6c59b74d8285f"
#define MESSAGE_ID_STATUS_UPLOADED       "ea30dabd0df248f295c51c47a1481fe7"
#define MESSAGE_ID_INPUT_SKIPPED         "7145d627bc0140d6ab997387ace82c03"

void log_setup(const char *ident, LogTarget target);
void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Test hook: every line that would be written is also passed here (already redacted). */
typedef void (*LogCaptureFunc)(int level, const char *message, void *userdata);
void log_set_capture(LogCaptureFunc func, void *userdata);

/* Registers a secret (copied; at least 4 bytes) that must never appear in a log line. */
int log_add_secret(const char *secret);
void log_forget_secrets(void);

/*
 * Returns a newly allocated copy of s with registered secrets replaced by "***" and the value of every
 * "sig=" query parameter (SAS signature) replaced by "***". NULL on OOM.
 */
char *log_redact(const char *s);

int log_internalv(int level, int error, const char *file, int line, const char *func, const char *message_id,
                  const char *format, va_list ap) _printf_(7, 0);
int log_internal(int level, int error, const char *file, int line, const char *func, const char *message_id,
                 const char *format, ...) _printf_(7, 8);

/* Returns -abs(error) (or 0 when error is 0) so that callers can "return log_error_errno(r, …);". %m is
 * formatted from error. */
#define log_full_errno_id(level, error, id, ...)                                                            \
        ({                                                                                                  \
                int _l_ = (level), _e_ = (error);                                                           \
                (log_get_max_level() >= _l_)                                                                \
                        ? log_internal(_l_, _e_, __FILE__, __LINE__, __func__, id, __VA_ARGS__)             \
                        : -abs(_e_);                                                                        \
        })
#define log_full_errno(level, error, ...) log_full_errno_id(level, error, NULL, __VA_ARGS__)
#define log_full(level, ...)              (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...)   log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...)    log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, error, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

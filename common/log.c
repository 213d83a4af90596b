/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "macro.h"
#include "string-table.h"

#define LOG_LINE_MAX    (8U * 1024U)
#define LOG_SECRETS_MAX 64U

/* Process-wide logging state; like systemd's log.c this is the one place where file-static state is fine. */
static struct {
        const char *ident;
        LogTarget target;
        int max_level;
        LogCaptureFunc capture;
        void *capture_userdata;
        char *secrets[LOG_SECRETS_MAX];
        size_t n_secrets;
} log_state = {
        .ident = "azl-agent",
        .target = LOG_TARGET_STDERR,
        .max_level = LOG_INFO,
};

static const char *const log_level_table[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_setup(const char *ident, LogTarget target) {
        if (ident)
                log_state.ident = ident;
        if (target == LOG_TARGET_AUTO)
                /* systemd sets $JOURNAL_STREAM when stdout/stderr are connected to the journal. */
                target = getenv("JOURNAL_STREAM") ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        log_state.target = target;
}

void log_set_max_level(int level) {
        log_state.max_level = level;
}

int log_get_max_level(void) {
        return log_state.max_level;
}

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(log_level, int);

int log_level_from_string(const char *s) {
        int level = string_table_lookup_from_string(log_level_table, ELEMENTSOF(log_level_table), s, false);

        if (level < 0 && streq_ptr(s, "error")) /* an alias, as systemd's */
                return LOG_ERR;
        return level;
}

void log_set_capture(LogCaptureFunc func, void *userdata) {
        log_state.capture = func;
        log_state.capture_userdata = userdata;
}

int log_add_secret(const char *secret) {
        char *copy;

        if (!secret || strlen(secret) < 4) /* Too short to mask without destroying every line. */
                return 0;
        for (size_t i = 0; i < log_state.n_secrets; i++)
                if (streq(log_state.secrets[i], secret))
                        return 0;
        if (log_state.n_secrets >= LOG_SECRETS_MAX)
                return -E2BIG;
        copy = strdup(secret);
        if (!copy)
                return -ENOMEM;
        log_state.secrets[log_state.n_secrets++] = copy;
        return 1;
}

void log_forget_secrets(void) {
        for (size_t i = 0; i < log_state.n_secrets; i++)
                erase_and_free(log_state.secrets[i]);
        log_state.n_secrets = 0;
}

/* Replaces every occurrence of needle in *s by "***"; returns -ENOMEM on failure. */
static int mask_all(char **s, const char *needle) {
        size_t nlen = strlen(needle);
        char *p;

        while ((p = strstr(*s, needle))) {
                size_t head = (size_t) (p - *s), tail = strlen(p + nlen);
                char *n = malloc(head + 3 + tail + 1);

                if (!n)
                        return -ENOMEM;
                memcpy(n, *s, head);
                memcpy(n + head, "***", 3);
                memcpy(n + head + 3, p + nlen, tail + 1);
                erase_and_free(*s);
                *s = n;
        }
        return 0;
}

/* SAS URLs (status upload blob, extension artifacts) carry their credential in "sig=". Mask its value. */
static void mask_sas_signatures(char *s) {
        for (char *p = s; (p = strstr(p, "sig="));) {
                char *v = p + 4, *e = v;

                if (p != s && !strchr("?&;\"' ", p[-1])) {
                        p = v;
                        continue;
                }
                while (*e && !strchr("&\"' \t\r\n<>", *e))
                        e++;
                if (e - v >= 3) {
                        memcpy(v, "***", 3);
                        memmove(v + 3, e, strlen(e) + 1);
                }
                p = v;
        }
}

char *log_redact(const char *s) {
        char *r = strdup(s);

        if (!r)
                return NULL;
        for (size_t i = 0; i < log_state.n_secrets; i++)
                if (mask_all(&r, log_state.secrets[i]) < 0) {
                        erase_and_free(r);
                        return NULL;
                }
        mask_sas_signatures(r);
        return r;
}

static void write_stderr(int level, const char *file, int line, const char *msg) {
        if (log_state.max_level >= LOG_DEBUG && file)
                fprintf(stderr, "%s: %s:%d: %s\n", log_state.ident, file, line, msg);
        else if (level <= LOG_WARNING)
                fprintf(stderr, "%s: %s\n", log_state.ident, msg);
        else
                fprintf(stderr, "%s\n", msg);
}

static void write_journal(int level, int error, const char *file, int line, const char *func,
                          const char *message_id, const char *msg) {
        char code_line[32];

        (void) snprintf(code_line, sizeof code_line, "%d", line);
        if (message_id)
                (void) sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s",
                                       log_state.ident, "MESSAGE_ID=%s", message_id, "CODE_FILE=%s", file,
                                       "CODE_LINE=%s", code_line, "CODE_FUNC=%s", func, "ERRNO=%d", error,
                                       NULL);
        else
                (void) sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s",
                                       log_state.ident, "CODE_FILE=%s", file, "CODE_LINE=%s", code_line,
                                       "CODE_FUNC=%s", func, "ERRNO=%d", error, NULL);
}

int log_internalv(int level, int error, const char *file, int line, const char *func, const char *message_id,
                  const char *format, va_list ap) {
        char buf[LOG_LINE_MAX];
        _cleanup_free_ char *msg = NULL;
        int saved = errno;

        error = abs(error);
        errno = error; /* makes %m print the error we were given */
        (void) vsnprintf(buf, sizeof buf, format, ap);
        errno = saved;

        msg = log_redact(buf);
        explicit_bzero(buf, sizeof buf);
        if (!msg)
                return -ENOMEM;

        if (log_state.capture)
                log_state.capture(level, msg, log_state.capture_userdata);

        switch (log_state.target) {
        case LOG_TARGET_AUTO:
        case LOG_TARGET_STDERR:
                write_stderr(level, file, line, msg);
                break;
        case LOG_TARGET_JOURNAL:
                write_journal(level, error, file, line, func, message_id, msg);
                break;
        case LOG_TARGET_NULL:
                break;
        }
        return -error;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *message_id,
                 const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_internalv(level, error, file, line, func, message_id, format, ap);
        va_end(ap);
        return r;
}

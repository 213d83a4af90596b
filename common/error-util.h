/* SPDX-License-Identifier: MIT */
/*
 * Error: a negative errno and, beside it, the reason in words — owned and formatted, what the fabric (a
 * health report's description, the KVP report) and the user (state.json, `status`, the journal) are shown.
 * One type for every "why" that travels with an errno, instead of a char ** out-parameter, a fixed-size
 * buffer or a struct field per module.
 *
 * Conventions (docs/style.md):
 *  - A function that can explain its failure takes `Error *error` as its last parameter. It may be NULL
 *    (the caller wants the errno only). It is set on failure only — the mirror of ret_ parameters, which are
 *    set on success only — and the function returns the errno it stored, so that explaining and returning
 *    is one statement: `return error_setf(error, -EBADMSG, "UserName not found");`.
 *  - Setting replaces what was there (the newest reason wins); error_prefixf() adds context in front of
 *    the reason instead ("ovf-env.xml is invalid: " + the parser's reason).
 *  - A reason may be set with error 0: the explanation of a decision that is not a failure (whether Azure
 *    endpoints may be contacted, and why).
 *  - When the reason cannot be allocated, the Error holds -ENOMEM and no reason, and -ENOMEM is returned.
 *  - error_reason() always gives text: the reason, else strerror() of the errno.
 *
 * Reasons kept in other shapes convert into an Error where they are handed on, with error_setf() over
 * their describing function (HttpFailure through http_failure_describe(), JsonError's message); a
 * dedicated error_from_…() belongs next to such a type once its module uses Error.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

#include "macro.h"

typedef struct Error {
        int error;    /* -errno; 0 when nothing failed (a reason may still explain a decision) */
        char *reason; /* owned; NULL when not set */
} Error;

#define ERROR_NULL ((Error){})

/* Frees the reason and zeroes *e (NULL is fine). */
void error_clear(Error *e);
#define _cleanup_error_ _cleanup_(error_clear)

static inline bool error_is_set(const Error *e) {
        return e && (e->error < 0 || e->reason);
}

/*
 * Stores error (a positive errno is negated) and a copy of reason (NULL: none) in e, replacing what it held.
 * e may be NULL. Returns the stored error, or -ENOMEM.
 */
int error_set(Error *e, int error, const char *reason);
int error_setf(Error *e, int error, const char *format, ...) _printf_(3, 4);
int error_setfv(Error *e, int error, const char *format, va_list ap) _printf_(3, 0);

/*
 * Puts "<formatted prefix>: " in front of e's reason (strerror() of its errno when it has no reason). error
 * is the errno that came with e: it is stored when e holds none (a callee that did not explain itself).
 * e may be NULL. Returns e's error, or -ENOMEM.
 */
int error_prefixf(Error *e, int error, const char *format, ...) _printf_(3, 4);

/* Moves src into dst (replacing it; dst may be NULL: src is only cleared). Returns the moved error. */
int error_move(Error *dst, Error *src);

/* The reason, else strerror(-error), else "" (never NULL). */
const char *error_reason(const Error *e);

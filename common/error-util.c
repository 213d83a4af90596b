/* SPDX-License-Identifier: MIT */
/* Error: an errno with its reason in words (see error-util.h). */
#include <stdio.h>

#include "error-util.h"

void error_clear(Error *e) {
        if (!e)
                return;
        free(e->reason);
        *e = ERROR_NULL;
}

static int error_take(Error *e, int error, char *reason) {
        free(e->reason);
        e->error = error > 0 ? -error : error;
        e->reason = reason;
        return e->error;
}

static int error_oom(Error *e) {
        return error_take(e, -ENOMEM, NULL);
}

int error_set(Error *e, int error, const char *reason) {
        char *copy = NULL;

        if (!e)
                return error > 0 ? -error : error;
        if (reason && !(copy = strdup(reason)))
                return error_oom(e);
        return error_take(e, error, copy);
}

int error_setfv(Error *e, int error, const char *format, va_list ap) {
        char *reason;

        if (!e)
                return error > 0 ? -error : error;
        if (vasprintf(&reason, format, ap) < 0)
                return error_oom(e);
        return error_take(e, error, reason);
}

int error_setf(Error *e, int error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = error_setfv(e, error, format, ap);
        va_end(ap);
        return r;
}

int error_prefixf(Error *e, int error, const char *format, ...) {
        _cleanup_free_ char *prefix = NULL;
        char *reason;
        va_list ap;
        int r;

        if (!e)
                return error > 0 ? -error : error;
        if (e->error >= 0)
                e->error = error > 0 ? -error : error;
        va_start(ap, format);
        r = vasprintf(&prefix, format, ap);
        va_end(ap);
        if (r < 0) {
                prefix = NULL;
                return error_oom(e);
        }
        if (asprintf(&reason, "%s: %s", prefix, error_reason(e)) < 0)
                return error_oom(e);
        return error_take(e, e->error, reason);
}

int error_move(Error *dst, Error *src) {
        int error = src->error;

        if (dst)
                (void) error_take(dst, error, TAKE_PTR(src->reason));
        error_clear(src);
        return error;
}

const char *error_reason(const Error *e) {
        if (!e)
                return "";
        if (e->reason)
                return e->reason;
        return e->error < 0 ? strerror(-e->error) : "";
}

/* SPDX-License-Identifier: MIT */
/*
 * See crash-point.h. The environment is read once; when neither variable is set (or the build does not
 * honour them) every call returns after one branch. Hit counts are kept per name in a small bounded table;
 * a name that does not fit any more is still traced, with count 0, and can never be the target.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash-point.h"

#ifndef AZL_CRASH_POINTS
#define AZL_CRASH_POINTS 0
#endif

#define CRASH_POINT_TABLE_MAX 512U

typedef struct CrashPointCount {
        char name[CRASH_POINT_NAME_MAX];
        unsigned hits;
} CrashPointCount;

static int active = -1; /* -1 not yet looked at, 0 inert, 1 armed or tracing */
static char target[CRASH_POINT_NAME_MAX];
static unsigned target_hit = 1;
static const char *trace_path;
static CrashPointCount *table;
static size_t table_n;
static pid_t worker_parent; /* > 0: we are a worker child of this process, which dies with us */

bool crash_points_supported(void) {
        return AZL_CRASH_POINTS;
}

static void setup(void) {
        const char *t, *at;

        active = 0;
        if (!AZL_CRASH_POINTS)
                return;
        t = secure_getenv("AZL_CRASH_POINT");
        trace_path = secure_getenv("AZL_CRASH_POINT_TRACE");
        if (trace_path && trace_path[0] != '/')
                trace_path = NULL;
        if (t && *t) {
                at = strrchr(t, '@');
                if (at) {
                        char *end;
                        unsigned long n = strtoul(at + 1, &end, 10);

                        if (*end || n == 0 || n > 1000000)
                                at = NULL, t = NULL; /* malformed: never matches rather than a surprise */
                        else
                                target_hit = (unsigned) n;
                }
                if (t && (size_t) ((at ?: t + strlen(t)) - t) < sizeof target)
                        memcpy(target, t, (size_t) ((at ?: t + strlen(t)) - t));
        }
        if (target[0] || trace_path)
                active = 1;
}

static unsigned count_hit(const char *name) {
        for (size_t i = 0; i < table_n; i++)
                if (streq(table[i].name, name))
                        return ++table[i].hits;
        if (!table && !(table = calloc(CRASH_POINT_TABLE_MAX, sizeof *table)))
                return 0;
        if (table_n >= CRASH_POINT_TABLE_MAX)
                return 0;
        memcpy(table[table_n].name, name, strlen(name) + 1);
        table[table_n].hits = 1;
        return table[table_n++].hits;
}

static void trace(const char *name, unsigned hit) {
        char line[CRASH_POINT_NAME_MAX + 16];
        int fd, n;

        if (!trace_path)
                return;
        n = snprintf(line, sizeof line, "%s@%u\n", name, hit);
        if (n <= 0 || (size_t) n >= sizeof line)
                return;
        fd = open(trace_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return;
        (void) !write(fd, line,
                      (size_t) n); /* one write(): lines of concurrent processes never interleave */
        (void) close(fd);
}

void crash_point(const char *name) {
        char clean[CRASH_POINT_NAME_MAX];
        unsigned hit;
        size_t i;

        if (_likely_(active == 0))
                return;
        if (active < 0) {
                setup();
                if (!active)
                        return;
        }
        if (!name)
                return;
        for (i = 0; name[i] && i < sizeof clean - 1; i++)
                clean[i] = (name[i] > ' ' && name[i] < 0x7f && name[i] != '@') ? name[i] : '_';
        clean[i] = 0;

        hit = count_hit(clean);
        trace(clean, hit);
        if (target[0] && hit == target_hit && streq(clean, target)) {
                if (worker_parent > 0)
                        (void) kill(worker_parent, SIGKILL);
                (void) raise(SIGKILL);
        }
}

void crash_points_in_worker(pid_t parent) {
        worker_parent = parent;
}

void crash_pointf(const char *format, ...) {
        char name[CRASH_POINT_NAME_MAX];
        va_list ap;

        if (_likely_(active == 0))
                return;
        va_start(ap, format);
        (void) vsnprintf(name, sizeof name, format, ap);
        va_end(ap);
        crash_point(name);
}

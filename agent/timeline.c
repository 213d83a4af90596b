/* SPDX-License-Identifier: MIT */
/*
 * The timing records of timeline.h: formatting and parsing (pure) and the append-only file. A writer holds
 * flock(LOCK_EX) on the file while it appends (or trims), so that the provisioning run and the daemon — which
 * may overlap on `provision --force` from Reprovision() — never interleave half lines; a reader that meets a
 * half line anyway (a crash mid-write) skips it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "timeline.h"

void timeline_record_done(TimelineRecord *r) {
        free(r->boot_id);
        free(r->source);
        free(r->run);
        free(r->name);
        free(r->result);
        free(r->summary);
        *r = (TimelineRecord){};
}

void timeline_records_free(TimelineRecord *r, size_t n) {
        for (size_t i = 0; r && i < n; i++)
                timeline_record_done(&r[i]);
        free(r);
}

int timeline_boot_id(char **ret) {
        _cleanup_free_ char *id = NULL;
        _cleanup_close_ int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        size_t n = 0;
        char buf[64];
        ssize_t k;

        if (fd < 0)
                return negative_errno();
        k = read(fd, buf, sizeof buf - 1);
        if (k < 0)
                return negative_errno();
        buf[k] = 0;
        id = malloc(33);
        if (!id)
                return -ENOMEM;
        /* "3f2a…-…": the UUID without dashes, as journalctl shows _BOOT_ID. */
        for (const char *p = buf; *p && *p != '\n' && n < 32; p++)
                if (*p != '-')
                        id[n++] = *p;
        id[n] = 0;
        if (n != 32)
                return -EBADMSG;
        *ret = TAKE_PTR(id);
        return 0;
}

static int add_field(struct json_object *o, const char *key, const char *v) {
        _cleanup_free_ char *cut = NULL;

        if (!v)
                return 0;
        if (utf8_truncate(v, TIMELINE_FIELD_MAX, &cut) < 0)
                return -ENOMEM;
        return json_object_object_add(o, key, json_object_new_string(cut)) < 0 ? -ENOMEM : 0;
}

int timeline_format(const TimelineRecord *r, char **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        char ts[64];
        int k = 0;

        if (!o)
                return -ENOMEM;
        if (!r->source || !r->name || !r->result || format_timestamp_iso_usec(r->start, ts, sizeof ts) < 0)
                return -EINVAL;
        k = k ?: add_field(o, "boot_id", r->boot_id);
        k = k ?: add_field(o, "source", r->source);
        k = k ?: add_field(o, "run", r->run);
        k = k ?: add_field(o, "name", r->name);
        k = k ?: add_field(o, "start", ts);
        if (k >= 0 &&
            json_object_object_add(o, "duration_usec", json_object_new_int64((int64_t) r->duration)) < 0)
                k = -ENOMEM;
        k = k ?: add_field(o, "result", r->result);
        k = k ?: add_field(o, "summary", r->summary);
        if (k < 0)
                return k;
        return asprintf(ret, "%s\n",
                        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE)) < 0
                       ? -ENOMEM
                       : 0;
}

static int parse_line(const char *line, size_t len, TimelineRecord *ret) {
        static const JsonDispatch table[] = {
                {"boot_id", json_dispatch_string, offsetof(TimelineRecord, boot_id), 0},
                {"source", json_dispatch_string, offsetof(TimelineRecord, source), JSON_MANDATORY},
                {"run", json_dispatch_string, offsetof(TimelineRecord, run), 0},
                {"name", json_dispatch_string, offsetof(TimelineRecord, name), JSON_MANDATORY},
                {"result", json_dispatch_string, offsetof(TimelineRecord, result), JSON_MANDATORY},
                {"summary", json_dispatch_string, offsetof(TimelineRecord, summary), 0},
                {}};
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_(timeline_record_done) TimelineRecord r = {};
        struct json_object *start, *dur;
        int k;

        k = json_parse_buffer(line, len, &o, NULL);
        if (k < 0)
                return k;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        k = json_dispatch(o, table, 0, &r, NULL);
        if (k < 0)
                return k;
        start = json_get(o, "start", false);
        dur = json_get(o, "duration_usec", false);
        if (!json_object_is_type(start, json_type_string) || !json_object_is_type(dur, json_type_int) ||
            json_object_get_int64(dur) < 0 ||
            parse_timestamp_iso(json_object_get_string(start), &r.start) < 0 || r.start == 0)
                return -EBADMSG;
        r.duration = (usec_t) json_object_get_int64(dur);
        *ret = r;
        r = (TimelineRecord){};
        return 0;
}

int timeline_parse(const char *buf, size_t len, TimelineRecord **ret, size_t *ret_n, size_t *ret_n_bad) {
        TimelineRecord *records = NULL;
        size_t n = 0, bad = 0, cap = 0;
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t l = (nl ? nl : end) - p;
                TimelineRecord r = {};

                if (l > 0 && parse_line(p, l, &r) >= 0) {
                        if (n == TIMELINE_RECORDS_MAX) {
                                /* Keep the newest: drop the oldest. */
                                timeline_record_done(&records[0]);
                                memmove(records, records + 1, (n - 1) * sizeof *records);
                                n--;
                        }
                        if (n == cap) {
                                TimelineRecord *a = reallocarray(records, cap ? cap * 2 : 64, sizeof *a);

                                if (!a) {
                                        timeline_record_done(&r);
                                        timeline_records_free(records, n);
                                        return -ENOMEM;
                                }
                                records = a;
                                cap = cap ? cap * 2 : 64;
                        }
                        records[n++] = r;
                } else if (l > 0)
                        bad++;
                p += l + 1;
        }
        *ret = records;
        *ret_n = n;
        if (ret_n_bad)
                *ret_n_bad = bad;
        return 0;
}

static int timeline_path(Context *c, char **ret) {
        return asprintf(ret, "%s/" TIMELINE_FILE, c->config.state_dir) < 0 ? -ENOMEM : 0;
}

static int write_all(int fd, const char *p, size_t size) {
        while (size > 0) {
                ssize_t k = write(fd, p, size);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

/* With the lock held: keeps the newer half of the file, from a line start (replaced atomically). */
static int trim(Context *c, const char *path, int fd) {
        _cleanup_free_ char *buf = NULL;
        const char *from;
        size_t size;
        int r;

        r = read_full_fd(fd, TIMELINE_MAX * 2, &buf, &size);
        if (r < 0)
                return r;
        from = buf + size / 2;
        from = memchr(from, '\n', size - (size_t) (from - buf));
        from = from ? from + 1 : buf + size;
        return write_file_atomic_in_root(c->root_fd, path, from, size - (size_t) (from - buf), 0644,
                                         (uid_t) -1, (gid_t) -1, 0);
}

int timeline_append(Context *c, const TimelineRecord *r) {
        _cleanup_free_ char *path = NULL, *line = NULL, *boot = NULL;
        _cleanup_close_ int fd = -EBADF;
        TimelineRecord copy = *r;
        struct stat st;
        int k;

        if (!copy.boot_id && timeline_boot_id(&boot) >= 0)
                copy.boot_id = boot;
        k = timeline_format(&copy, &line);
        if (k < 0)
                return k;
        k = timeline_path(c, &path);
        if (k < 0)
                return k;
        k = mkdir_p_in_root(c->root_fd, c->config.state_dir, 0700);
        if (k < 0)
                return k;
        fd = open_in_root(c->root_fd, path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY, 0644);
        if (fd < 0)
                return fd;
        if (flock(fd, LOCK_EX) < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((size_t) st.st_size + strlen(line) > TIMELINE_MAX) {
                /* The trimmed file is a new inode: append there, under its own lock. */
                k = trim(c, path, fd);
                if (k < 0)
                        return k;
                closep(&fd);
                fd = open_in_root(c->root_fd, path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NOCTTY, 0);
                if (fd < 0)
                        return fd;
                if (flock(fd, LOCK_EX) < 0)
                        return negative_errno();
        }
        return write_all(fd, line, strlen(line));
}

int timeline_load(Context *c, TimelineRecord **ret, size_t *ret_n, size_t *ret_n_bad) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size;
        int k;

        k = timeline_path(c, &path);
        if (k < 0)
                return k;
        k = read_file_in_root(c->root_fd, path, TIMELINE_MAX * 2, &buf, &size);
        if (k < 0)
                return k;
        return timeline_parse(buf, size, ret, ret_n, ret_n_bad);
}

/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V KVP pool writer, see kvp.h. Record layout from the Linux tools/hv/hv_kvp_daemon.c struct
 * kvp_record { __u8 key[HV_KVP_EXCHANGE_MAX_KEY_SIZE]; __u8 value[HV_KVP_EXCHANGE_MAX_VALUE_SIZE]; }.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "kvp.h"
#include "macro.h"

/* Length of the longest prefix of s (at most max bytes) that does not split a UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t len, size_t max) {
        size_t n;

        if (len <= max)
                return len;
        n = max;
        /* Step back over continuation bytes (10xxxxxx) so the cut lands on a character start. */
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
                n--;
        return n > 0 ? n : max;
}

int kvp_encode(const char *key, const char *value, char **ret, size_t *ret_size) {
        size_t klen, vlen, n = 0, off = 0;
        char *buf = NULL;

        if (isempty(key))
                return -EINVAL;
        klen = strlen(key);
        if (klen > KVP_KEY_MAX)
                return -E2BIG;
        value = strempty(value);
        vlen = strlen(value);
        do {
                size_t chunk = utf8_prefix(value + off, vlen - off, KVP_VALUE_CHUNK);
                char *nb;

                if (n >= KVP_RECORDS_MAX) {
                        free(buf);
                        return -E2BIG;
                }
                nb = realloc(buf, (n + 1) * KVP_RECORD_SIZE);
                if (!nb) {
                        free(buf);
                        return -ENOMEM;
                }
                buf = nb;
                memset(buf + n * KVP_RECORD_SIZE, 0, KVP_RECORD_SIZE);
                memcpy(buf + n * KVP_RECORD_SIZE, key, klen);
                memcpy(buf + n * KVP_RECORD_SIZE + KVP_KEY_SIZE, value + off, chunk);
                off += chunk;
                n++;
        } while (off < vlen);
        *ret = buf;
        *ret_size = n * KVP_RECORD_SIZE;
        return 0;
}

void kvp_records_free(KvpRecord *r, size_t n) {
        for (size_t i = 0; r && i < n; i++) {
                free(r[i].key);
                free(r[i].value);
        }
        free(r);
}

int kvp_parse_pool(const char *buf, size_t len, KvpRecord **ret, size_t *ret_n) {
        size_t n = len / KVP_RECORD_SIZE;
        KvpRecord *r;

        if (len % KVP_RECORD_SIZE != 0)
                return -EBADMSG;
        r = calloc(n ?: 1, sizeof *r);
        if (!r)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *rec = buf + i * KVP_RECORD_SIZE;

                r[i].key = strndup(rec, KVP_KEY_SIZE);
                r[i].value = strndup(rec + KVP_KEY_SIZE, KVP_VALUE_SIZE);
                if (!r[i].key || !r[i].value) {
                        kvp_records_free(r, n);
                        return -ENOMEM;
                }
        }
        *ret = r;
        *ret_n = n;
        return 0;
}

/* Boot time (seconds since the epoch) from the "btime" line of <root>/proc/stat (proc(5)). */
static int boot_time(int root_fd, time_t *ret) {
        _cleanup_free_ char *buf = NULL;
        const char *p;
        uint64_t v;
        int r;

        r = read_file_in_root(root_fd, "/proc/stat", 1024U * 1024U, &buf, NULL);
        if (r < 0)
                return r;
        if (startswith(buf, "btime "))
                p = buf + strlen("btime ");
        else if ((p = strstr(buf, "\nbtime ")))
                p += strlen("\nbtime ");
        else
                return -ENODATA;
        {
                _cleanup_free_ char *num = strndup(p, strcspn(p, "\n"));

                if (!num)
                        return -ENOMEM;
                r = safe_atou64(num, &v);
                if (r < 0)
                        return r;
        }
        *ret = (time_t) v;
        return 0;
}

static bool kvp_enabled(const Context *c) {
        if (!c->config.kvp || c->platform.platform == PLATFORM_WSL)
                return false;
        return access_in_root(c->root_fd, "/var/lib/hyperv") >= 0;
}

static int write_all(int fd, const char *p, size_t size) {
        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/* With the lock held: truncate a pool from before this boot, check the record limit, append. */
static int pool_append(int root_fd, int fd, const char *data, size_t size) {
        struct stat st;
        time_t btime;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (boot_time(root_fd, &btime) >= 0 && st.st_mtime < btime) {
                if (ftruncate(fd, 0) < 0)
                        return negative_errno();
                st.st_size = 0;
        }
        if ((size_t) st.st_size / KVP_RECORD_SIZE + size / KVP_RECORD_SIZE > KVP_RECORDS_MAX)
                return -E2BIG;
        if (lseek(fd, 0, SEEK_END) < 0)
                return negative_errno();
        return write_all(fd, data, size);
}

int kvp_report(Context *c, const char *key, const char *value) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size;
        int r;

        r = kvp_encode(key, value, &data, &size);
        if (r < 0)
                return r;
        if (!kvp_enabled(c))
                return 0;
        fd = open_in_root(c->root_fd, KVP_POOL_PATH, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY, 0644);
        if (fd < 0)
                return fd;
        /* hv_kvp_daemon re-reads the pool before each host request; flock serializes us with other
         * writers using flock (cloud-init, azure-init). */
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return negative_errno();
        r = pool_append(c->root_fd, fd, data, size);
        (void) flock(fd, LOCK_UN);
        return r < 0 ? r : 1;
}

int kvp_event_key(const char *event, usec_t ts, char **ret) {
        char stamp[64];
        time_t sec = (time_t) (ts / USEC_PER_SEC);
        struct tm tm;
        char *k;

        if (isempty(event) || strchr(event, '|'))
                return -EINVAL;
        if (!gmtime_r(&sec, &tm) || strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                return -EINVAL;
        if (asprintf(&k, "azl-agent|%s|%s.%06lluZ", event, stamp, (unsigned long long) (ts % USEC_PER_SEC)) <
            0)
                return -ENOMEM;
        if (strlen(k) > KVP_KEY_MAX) {
                free(k);
                return -E2BIG;
        }
        *ret = k;
        return 0;
}

int kvp_report_event(Context *c, const char *event, usec_t ts, const char *value) {
        _cleanup_free_ char *key = NULL;
        int r;

        r = kvp_event_key(event, ts, &key);
        if (r < 0)
                return r;
        return kvp_report(c, key, value);
}

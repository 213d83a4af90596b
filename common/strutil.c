/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <systemd/sd-id128.h>

#include "macro.h"
#include "strutil.h"

int base64_encode(const void *data, size_t size, char **ret) {
        char *out;

        if (size > INT_MAX / 2)
                return -E2BIG;
        out = malloc(4 * ((size + 2) / 3) + 1);
        if (!out)
                return -ENOMEM;
        (void) EVP_EncodeBlock((unsigned char *) out, data, (int) size);
        *ret = out;
        return 0;
}

int base64_decode(const char *s, size_t len, void **ret, size_t *ret_size) {
        _cleanup_free_ char *clean = NULL;
        _cleanup_free_ unsigned char *out = NULL;
        size_t n = 0, pad = 0;
        int k;

        if (len > INT_MAX / 2)
                return -E2BIG;
        clean = malloc(len + 1);
        if (!clean)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];

                if (isspace(c))
                        continue;
                if (c == '=') {
                        pad++;
                        clean[n++] = (char) c;
                        continue;
                }
                if (pad > 0 || !(isalnum(c) || c == '+' || c == '/'))
                        return -EINVAL; /* data after padding, or outside the alphabet */
                clean[n++] = (char) c;
        }
        if (n % 4 != 0 || pad > 2)
                return -EINVAL;
        out = malloc(n / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        /* EVP_DecodeBlock counts padding as zero bytes; subtract them again. */
        k = n ? EVP_DecodeBlock(out, (const unsigned char *) clean, (int) n) : 0;
        if (k < 0 || (size_t) k < pad)
                return -EINVAL;
        out[k - pad] = 0;
        if (ret_size)
                *ret_size = (size_t) k - pad;
        *ret = TAKE_PTR(out);
        return 0;
}

int hex_encode(const void *data, size_t size, bool upper, char **ret) {
        const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        const unsigned char *p = data;
        char *out = malloc(size * 2 + 1);

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < size; i++) {
                out[2 * i] = digits[p[i] >> 4];
                out[2 * i + 1] = digits[p[i] & 15];
        }
        out[size * 2] = 0;
        *ret = out;
        return 0;
}

static int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int hex_decode(const char *s, size_t len, void **ret, size_t *ret_size) {
        _cleanup_free_ unsigned char *out = NULL;

        if (len % 2 != 0)
                return -EINVAL;
        out = malloc(len / 2 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 2) {
                int a = unhexchar(s[i]), b = unhexchar(s[i + 1]);

                if (a < 0 || b < 0)
                        return -EINVAL;
                out[i / 2] = (unsigned char) (a << 4 | b);
        }
        out[len / 2] = 0;
        if (ret_size)
                *ret_size = len / 2;
        *ret = TAKE_PTR(out);
        return 0;
}

int uuid_normalize(const char *s, char ret[static 37]) {
        sd_id128_t id;
        int r;

        if (!s)
                return -EINVAL;
        r = sd_id128_from_string(s, &id);
        if (r < 0)
                return r;
        (void) snprintf(ret, 37, SD_ID128_UUID_FORMAT_STR, SD_ID128_FORMAT_VAL(id));
        return 0;
}

int uuid_random(char ret[static 37]) {
        sd_id128_t id;
        int r = sd_id128_randomize(&id);

        if (r < 0)
                return r;
        (void) snprintf(ret, 37, SD_ID128_UUID_FORMAT_STR, SD_ID128_FORMAT_VAL(id));
        return 0;
}

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

int format_timestamp_iso(usec_t realtime_usec, char *buf, size_t size) {
        time_t t = (time_t) (realtime_usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -ENOBUFS;
        return 0;
}

int format_timestamp_iso_usec(usec_t realtime_usec, char *buf, size_t size) {
        char seconds[64];
        int n, r;

        r = format_timestamp_iso(realtime_usec, seconds, sizeof seconds);
        if (r < 0)
                return r;
        /* "…:48Z" → "…:48.123456Z" */
        n = snprintf(buf, size, "%.*s.%06" PRIu64 "Z", (int) strlen(seconds) - 1, seconds,
                     realtime_usec % USEC_PER_SEC);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

int parse_timestamp_iso(const char *s, usec_t *ret) {
        struct tm tm = {};
        usec_t frac = 0, scale = USEC_PER_SEC;
        const char *p;
        time_t t;

        if (!s)
                return -EINVAL;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                size_t n = 0;

                for (p++; *p >= '0' && *p <= '9'; p++, n++) {
                        if (n >= 9)
                                return -EINVAL;
                        if (scale > 1) {
                                scale /= 10;
                                frac += (usec_t) (*p - '0') * scale;
                        }
                }
                if (n == 0)
                        return -EINVAL;
        }
        if (!streq(p, "Z"))
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0) /* before 1970, or -1: cannot be represented */
                return -ERANGE;
        *ret = (usec_t) t * USEC_PER_SEC + frac;
        return 0;
}

int format_timespan(usec_t span, char *buf, size_t size) {
        int n;

        if (span >= USEC_PER_SEC)
                n = snprintf(buf, size, "%" PRIu64 ".%03" PRIu64 "s", span / USEC_PER_SEC,
                             (span % USEC_PER_SEC) / USEC_PER_MSEC);
        else
                n = snprintf(buf, size, "%" PRIu64 "ms", span / USEC_PER_MSEC);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

int safe_atou64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atou(const char *s, unsigned *ret) {
        uint64_t v;
        int r = safe_atou64(s, &v);

        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int safe_atoi(const char *s, int *ret) {
        long v;
        char *end;

        if (isempty(s) || !(isdigit((unsigned char) s[0]) || s[0] == '-'))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        if (*end || end == s)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int parse_boolean(const char *s) {
        static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
        static const char *const no[] = {"0", "no", "n", "false", "f", "off"};

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        if (l)
                while (l[n])
                        n++;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        if (l)
                for (; *l; l++)
                        if (streq(*l, s))
                                return true;
        return false;
}

int strv_push(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **nl = reallocarray(*l, n + 2, sizeof(char *));

        if (!nl)
                return -ENOMEM;
        nl[n] = s;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        char *c = strdup(s);
        int r;

        if (!c)
                return -ENOMEM;
        r = strv_push(l, c);
        if (r < 0)
                free(c);
        return r;
}

int strv_split(const char *s, const char *separators, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *copy = strdup(s);
        int r;

        if (!copy)
                return -ENOMEM;
        for (char *save = NULL, *t = strtok_r(copy, separators, &save); t;
             t = strtok_r(NULL, separators, &save)) {
                t = strstrip(t);
                if (!*t)
                        continue;
                r = strv_extend(&l, t);
                if (r < 0)
                        return r;
        }
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int strprintfv(char **p, const char *fmt, va_list ap) {
        free(*p);
        if (vasprintf(p, fmt, ap) < 0) {
                *p = NULL;
                return -ENOMEM;
        }
        return 0;
}

char *strstrip(char *s) {
        size_t n;

        while (isspace((unsigned char) *s))
                s++;
        n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = 0;
        return s;
}

bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

int xml_escape(const char *s, char **ret) {
        size_t n = 1;
        char *out, *o;

        for (const char *p = s; *p; p++)
                n += strchr("&<>\"'", *p) ? 6 : 1;
        out = o = malloc(n);
        if (!out)
                return -ENOMEM;
        for (const char *p = s; *p; p++)
                switch (*p) {
                case '&':
                        o = stpcpy(o, "&amp;");
                        break;
                case '<':
                        o = stpcpy(o, "&lt;");
                        break;
                case '>':
                        o = stpcpy(o, "&gt;");
                        break;
                case '"':
                        o = stpcpy(o, "&quot;");
                        break;
                case '\'':
                        o = stpcpy(o, "&apos;");
                        break;
                default:
                        *o++ = *p;
                }
        *o = 0;
        *ret = out;
        return 0;
}

/* Length of the UTF-8 sequence at s (n bytes available) if sd-bus accepts it in an "s", else 0: no overlong
 * forms, surrogates, code points above U+10FFFF or non-characters (systemd's utf8_encoded_valid_unichar()). */
size_t utf8_sequence_len(const unsigned char *s, size_t n) {
        uint32_t c;
        size_t len;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xC2 && s[0] <= 0xDF)
                len = 2, c = s[0] & 0x1FU;
        else if ((s[0] & 0xF0) == 0xE0)
                len = 3, c = s[0] & 0x0FU;
        else if (s[0] >= 0xF0 && s[0] <= 0xF4)
                len = 4, c = s[0] & 0x07U;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3FU);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10FFFF ||
            (c >= 0xD800 && c <= 0xDFFF) || (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE)
                return 0;
        return len;
}

int utf8_make_valid(const char *s, size_t n, char **ret) {
        const unsigned char *u = (const unsigned char *) s;
        size_t len = strnlen(s, n), k;
        char *o, *out;

        o = out = malloc(len * 3 + 1); /* each bad byte becomes 3 */
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len;)
                if ((k = utf8_sequence_len(u + i, len - i)) > 0) {
                        o = mempcpy(o, u + i, k);
                        i += k;
                } else {
                        o = mempcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
                        i++;
                }
        *o = 0;
        *ret = out;
        return 0;
}

int utf8_truncate(const char *s, size_t n, char **ret) {
        size_t len = strlen(s);
        char *out;

        if (len > n) {
                len = n;
                /* Back off over continuation bytes so a multi-byte sequence is not cut in half. */
                while (len > 0 && ((unsigned char) s[len] & 0xC0) == 0x80)
                        len--;
        }
        out = strndup(s, len);
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

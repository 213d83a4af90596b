/* SPDX-License-Identifier: MIT */
/*
 * The user-data splitter (userdata-parts.h): gzip via libarchive's raw format, a small RFC 2045/2046 reader for
 * the MIME messages cloud-init users write (write-mime-multipart, Terraform's cloudinit_config, hand-written),
 * the prefix sniffing of cloudinit/handlers/__init__.py and the include/archive expansion of
 * cloudinit/user_data.py. Pure: the only way out is the caller's fetch function.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "archive-dl.h"
#include "macro.h"
#include "strutil.h"
#include "userdata-parts.h"
#include "yaml-node.h"

#define MIME_SNIFF_BYTES 4096U
#define MIME_HEADER_MAX  (64U * 1024U)

static const char *const part_type_table[_UD_PART_TYPE_MAX] = {
        [UD_PART_CLOUD_CONFIG] = "cloud-config",
        [UD_PART_SCRIPT] = "x-shellscript",
        [UD_PART_SCRIPT_PER_BOOT] = "x-shellscript-per-boot",
        [UD_PART_SCRIPT_PER_INSTANCE] = "x-shellscript-per-instance",
        [UD_PART_SCRIPT_PER_ONCE] = "x-shellscript-per-once",
        [UD_PART_BOOTHOOK] = "cloud-boothook",
        [UD_PART_JINJA] = "jinja2",
        [UD_PART_PART_HANDLER] = "part-handler",
        [UD_PART_CLOUD_CONFIG_JSONP] = "cloud-config-jsonp",
        [UD_PART_UNKNOWN] = "unknown",
};

const char *user_data_part_type_to_string(UserDataPartType t) {
        return t >= 0 && t < _UD_PART_TYPE_MAX ? part_type_table[t] : NULL;
}

bool user_data_part_type_supported(UserDataPartType t) {
        return t == UD_PART_CLOUD_CONFIG || t == UD_PART_SCRIPT || t == UD_PART_SCRIPT_PER_BOOT ||
               t == UD_PART_SCRIPT_PER_INSTANCE || t == UD_PART_SCRIPT_PER_ONCE || t == UD_PART_BOOTHOOK;
}

void user_data_done(UserData *u) {
        for (size_t i = 0; i < u->n_parts; i++) {
                free(u->parts[i].content_type);
                free(u->parts[i].filename);
                if (u->parts[i].data)
                        explicit_bzero(u->parts[i].data, u->parts[i].size);
                free(u->parts[i].data);
                free(u->parts[i].merge_type);
        }
        free(u->parts);
        strv_free(u->errors);
        *u = (UserData){};
}

/* ---- prefixes (cloudinit/handlers/__init__.py INCLUSION_TYPES_MAP) ---- */

static const struct {
        const char *prefix;
        const char *type;
} inclusion_types[] = {
        /* longest first, as INCLUSION_SRCH sorts them */
        {"text/x-shellscript-per-instance", "text/x-shellscript-per-instance"},
        {"text/x-shellscript-per-boot", "text/x-shellscript-per-boot"},
        {"text/x-shellscript-per-once", "text/x-shellscript-per-once"},
        {"#cloud-config-archive", "text/cloud-config-archive"},
        {"#cloud-config-jsonp", "text/cloud-config-jsonp"},
        {"## template: jinja", "text/jinja2"},
        {"#cloud-boothook", "text/cloud-boothook"},
        {"#include-once", "text/x-include-once-url"},
        {"#part-handler", "text/part-handler"},
        {"#cloud-config", "text/cloud-config"},
        {"#include", "text/x-include-url"},
        {"#!", "text/x-shellscript"},
};

const char *user_data_type_from_starts_with(const char *data, size_t size) {
        size_t i = 0;

        /* undecodable as UTF-8 → no type (decode_binary raises) */
        for (size_t k = 0; k < size;) {
                size_t l = utf8_sequence_len((const unsigned char *) data + k, size - k);

                if (l == 0)
                        return NULL;
                k += l;
        }
        while (i < size && strchr(" \t\r\n\f\v", data[i]) && data[i])
                i++;
        for (size_t t = 0; t < ELEMENTSOF(inclusion_types); t++) {
                size_t l = strlen(inclusion_types[t].prefix);

                if (size - i >= l && strncasecmp(data + i, inclusion_types[t].prefix, l) == 0)
                        return inclusion_types[t].type;
        }
        return NULL;
}

static UserDataPartType part_type_from_content_type(const char *ct) {
        static const struct {
                const char *ct;
                UserDataPartType t;
        } map[] = {
                {"text/cloud-config", UD_PART_CLOUD_CONFIG},
                {"text/x-shellscript", UD_PART_SCRIPT},
                {"text/x-shellscript-per-boot", UD_PART_SCRIPT_PER_BOOT},
                {"text/x-shellscript-per-instance", UD_PART_SCRIPT_PER_INSTANCE},
                {"text/x-shellscript-per-once", UD_PART_SCRIPT_PER_ONCE},
                {"text/cloud-boothook", UD_PART_BOOTHOOK},
                {"text/jinja2", UD_PART_JINJA},
                {"text/part-handler", UD_PART_PART_HANDLER},
                {"text/cloud-config-jsonp", UD_PART_CLOUD_CONFIG_JSONP},
        };

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (streq(ct, map[i].ct))
                        return map[i].t;
        return UD_PART_UNKNOWN;
}

char *user_data_clean_filename(const char *fn) {
        static const char allowed[] = "_-.()0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        char *r, *o;

        r = o = malloc(strlen(strempty(fn)) + 1);
        if (!r)
                return NULL;
        for (const char *s = strempty(fn); *s; s++)
                if (*s == '/')
                        *o++ = '_';
                else if (strchr(allowed, *s))
                        *o++ = *s;
        *o = 0;
        return r;
}

char *user_data_strip(char *s) {
        char *t = strstrip(s);

        if (t != s)
                memmove(s, t, strlen(t) + 1);
        return s;
}

/* ---- gzip ---- */

static bool is_gzip(const void *data, size_t size) {
        return size >= 2 && ((const unsigned char *) data)[0] == 0x1f &&
               ((const unsigned char *) data)[1] == 0x8b;
}

int user_data_gunzip(const void *data, size_t size, size_t max, char **ret, size_t *ret_size) {
        _cleanup_(archive_dl_closep) void *libarchive = NULL;
        struct archive *a;
        struct archive_entry *entry;
        _cleanup_free_ char *out = NULL;
        size_t n = 0;
        int r;

        r = archive_dl_open(&libarchive, NULL);
        if (r < 0)
                return r;
        a = sym_archive_read_new();
        if (!a)
                return -ENOMEM;
        if (sym_archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
            sym_archive_read_support_format_raw(a) != ARCHIVE_OK ||
            sym_archive_read_open_memory(a, data, size) != ARCHIVE_OK ||
            sym_archive_read_next_header(a, &entry) != ARCHIVE_OK ||
            sym_archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP) {
                sym_archive_read_free(a);
                return -EBADMSG;
        }
        out = malloc(MIN(max, (size_t) 64 * 1024) + 1);
        if (!out) {
                sym_archive_read_free(a);
                return -ENOMEM;
        }
        for (size_t cap = MIN(max, (size_t) 64 * 1024);;) {
                la_ssize_t k;

                if (n == cap) {
                        char *p;

                        if (cap >= max) {
                                char probe;

                                r = sym_archive_read_data(a, &probe, 1) == 0 ? 0 : -E2BIG;
                                break;
                        }
                        cap = MIN(max, cap * 2);
                        p = realloc(out, cap + 1);
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        out = p;
                }
                k = sym_archive_read_data(a, out + n, cap - n);
                if (k < 0) {
                        r = -EBADMSG;
                        break;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        sym_archive_read_free(a);
        if (r < 0) {
                explicit_bzero(out, n);
                return r;
        }
        out[n] = 0;
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

/* ---- collecting ---- */

typedef struct Splitter {
        UserData *u;
        UserDataFetchFunc fetch;
        void *userdata;
        unsigned include_depth;
} Splitter;

static void add_error(Splitter *s, const char *fmt, ...) _printf_(2, 3);
static void add_error(Splitter *s, const char *fmt, ...) {
        char *m = NULL;
        va_list ap;

        if (strv_length(s->u->errors) >= USERDATA_ERRORS_MAX)
                return;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (m && strv_push(&s->u->errors, m) < 0)
                free(m);
}

static int attach_part(Splitter *s, const char *content_type, const char *filename, const char *data,
                       size_t size, const char *merge_type) {
        _cleanup_free_ char *fn = NULL, *ct = NULL, *copy = NULL, *mt = NULL;
        UserDataPart *a;

        if (s->u->n_parts >= USERDATA_PARTS_MAX) {
                add_error(s, "more than %u parts: the rest is ignored", USERDATA_PARTS_MAX);
                return 0;
        }
        if (s->u->total_size + size > USERDATA_DECOMPRESSED_MAX) {
                add_error(s, "parts larger than %u bytes together: the rest is ignored",
                          USERDATA_DECOMPRESSED_MAX);
                return 0;
        }
        fn = user_data_clean_filename(filename);
        if (!fn)
                return -ENOMEM;
        if (isempty(fn) || streq(fn, ".") || streq(fn, "..")) {
                free(fn);
                if (asprintf(&fn, "part-%03zu", s->u->n_parts + 1) < 0) {
                        fn = NULL;
                        return -ENOMEM;
                }
        }
        ct = strdup(content_type);
        copy = malloc(size + 1);
        if (!ct || !copy || (merge_type && !(mt = strdup(merge_type))))
                return -ENOMEM;
        memcpy(copy, data, size);
        copy[size] = 0;
        a = reallocarray(s->u->parts, s->u->n_parts + 1, sizeof *a);
        if (!a) {
                explicit_bzero(copy, size);
                return -ENOMEM;
        }
        s->u->parts = a;
        a[s->u->n_parts++] = (UserDataPart){
                .type = part_type_from_content_type(ct),
                .content_type = TAKE_PTR(ct),
                .filename = TAKE_PTR(fn),
                .data = TAKE_PTR(copy),
                .size = size,
                .merge_type = TAKE_PTR(mt),
        };
        s->u->total_size += size;
        return 0;
}

/* ---- MIME (RFC 2045, 2046; what Python's email.message_from_string makes of it) ---- */

typedef struct MimeHeaders {
        char *content_type; /* whole value */
        char *transfer_encoding;
        char *disposition;
        char *merge_type;
        bool mime_version;
} MimeHeaders;

static void mime_headers_done(MimeHeaders *h) {
        free(h->content_type);
        free(h->transfer_encoding);
        free(h->disposition);
        free(h->merge_type);
}

/* End of the line starting at p (the '\n' or end), and the start of the next line. */
static const char *line_end(const char *p, const char *end, const char **next) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));

        *next = nl ? nl + 1 : end;
        if (!nl)
                nl = end;
        return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

static int header_set(char **field, const char *v, size_t len) {
        _cleanup_free_ char *n = strndup(v, len);
        char *t;

        if (!n)
                return -ENOMEM;
        t = strdup(strstrip(n));
        if (!t)
                return -ENOMEM;
        free(*field);
        *field = t;
        return 0;
}

/* Parses the header block at buf; returns the body offset in *ret_body. Unfolds continuation lines. */
static int mime_parse_headers(const char *buf, size_t size, MimeHeaders *h, size_t *ret_body) {
        const char *p = buf, *end = buf + size;

        while (p < end) {
                _cleanup_free_ char *value = NULL;
                const char *next, *le = line_end(p, end, &next), *colon;
                size_t name_len;

                if (le == p) { /* the blank line: the body follows */
                        p = next;
                        break;
                }
                colon = memchr(p, ':', (size_t) (le - p));
                if (!colon || colon == p || memchr(p, ' ', (size_t) (colon - p)) || *p == ' ' || *p == '\t')
                        break; /* not a header: the body starts here (a defect Python tolerates) */
                if ((size_t) (p - buf) > MIME_HEADER_MAX)
                        return -E2BIG;
                name_len = (size_t) (colon - p);
                value = strndup(colon + 1, (size_t) (le - colon - 1));
                if (!value)
                        return -ENOMEM;
                /* continuation lines */
                while (next < end && (*next == ' ' || *next == '\t')) {
                        const char *n2, *le2 = line_end(next, end, &n2);
                        char *v2;

                        if (asprintf(&v2, "%s %.*s", value, (int) (le2 - next), next) < 0)
                                return -ENOMEM;
                        free(value);
                        value = v2;
                        next = n2;
                        if (strlen(value) > MIME_HEADER_MAX)
                                return -E2BIG;
                }
#define IS(n) (name_len == strlen(n) && strncasecmp(p, n, name_len) == 0)
                {
                        char **field = IS("Content-Type")                ? &h->content_type
                                       : IS("Content-Transfer-Encoding") ? &h->transfer_encoding
                                       : IS("Content-Disposition")       ? &h->disposition
                                       : IS("Merge-Type") || (IS("X-Merge-Type") && !h->merge_type)
                                               ? &h->merge_type
                                               : NULL;

                        if (field && header_set(field, value, strlen(value)) < 0)
                                return -ENOMEM;
                        if (IS("MIME-Version"))
                                h->mime_version = true;
                }
#undef IS
                p = next;
        }
        *ret_body = (size_t) (p - buf);
        return 0;
}

/* The type/subtype of a Content-Type value, lower case; "text/plain" when absent or malformed (Python). */
static int mime_type(const char *value, char **ret) {
        size_t n = value ? strcspn(value, ";") : 0;
        _cleanup_free_ char *t = value ? strndup(value, n) : NULL;

        if (value && !t)
                return -ENOMEM;
        if (!t || !strchr(user_data_strip(t), '/') || strchr(t, ' ')) {
                *ret = strdup("text/plain");
                return *ret ? 0 : -ENOMEM;
        }
        for (char *c = t; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char) (*c - 'A' + 'a');
        *ret = TAKE_PTR(t);
        return 0;
}

/* A parameter (key=value or key="value") of a header value; NULL in *ret when absent. */
static int mime_param(const char *value, const char *key, char **ret) {
        const char *p = value ? strchr(value, ';') : NULL;

        *ret = NULL;
        while (p) {
                const char *k, *eq, *v, *e;

                p++;
                while (*p == ' ' || *p == '\t')
                        p++;
                k = p;
                eq = strchr(k, '=');
                e = strchr(k, ';');
                if (!eq || (e && e < eq)) {
                        p = e;
                        continue;
                }
                v = eq + 1;
                while (*v == ' ')
                        v++;
                if ((size_t) (eq - k) == strlen(key) && strncasecmp(k, key, strlen(key)) == 0) {
                        size_t len;

                        if (*v == '"') {
                                const char *q = strchr(v + 1, '"');

                                len = q ? (size_t) (q - v - 1) : strlen(v + 1);
                                v++;
                        } else
                                len = strcspn(v, "; \t");
                        *ret = strndup(v, len);
                        return *ret ? 0 : -ENOMEM;
                }
                p = strchr(v, ';');
        }
        return 0;
}

static int hexval(char c) {
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                      : -1;
}

/* Content-Transfer-Encoding: base64 (lenient: characters outside the alphabet skipped, as a2b_base64) and
 * quoted-printable; anything else as is. On a base64 error the payload stays raw (Python does the same). */
static int mime_decode(const char *cte, const char *body, size_t size, char **ret, size_t *ret_size) {
        _cleanup_free_ char *out = malloc(size + 1);
        size_t n = 0;

        if (!out)
                return -ENOMEM;
        if (cte && strcasecmp(cte, "base64") == 0) {
                void *data = NULL;
                size_t dsize;

                for (size_t i = 0; i < size; i++)
                        if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
                                   body[i]) &&
                            body[i])
                                out[n++] = body[i];
                /* a2b_base64 stops at the first complete pad */
                if (base64_decode(out, n, &data, &dsize) >= 0) {
                        char *d = realloc(data, dsize + 1);

                        if (!d) {
                                free(data);
                                return -ENOMEM;
                        }
                        d[dsize] = 0;
                        *ret = d;
                        *ret_size = dsize;
                        return 0;
                }
                n = 0;
        } else if (cte && strcasecmp(cte, "quoted-printable") == 0) {
                for (size_t i = 0; i < size; i++) {
                        if (body[i] == '=' && i + 1 < size && body[i + 1] == '\n') {
                                i++;
                                continue;
                        }
                        if (body[i] == '=' && i + 2 < size && body[i + 1] == '\r' && body[i + 2] == '\n') {
                                i += 2;
                                continue;
                        }
                        if (body[i] == '=' && i + 2 < size && hexval(body[i + 1]) >= 0 &&
                            hexval(body[i + 2]) >= 0) {
                                out[n++] = (char) (hexval(body[i + 1]) * 16 + hexval(body[i + 2]));
                                i += 2;
                                continue;
                        }
                        out[n++] = body[i];
                }
                out[n] = 0;
                *ret = TAKE_PTR(out);
                *ret_size = n;
                return 0;
        }
        memcpy(out, body, size);
        out[size] = 0;
        *ret = TAKE_PTR(out);
        *ret_size = size;
        return 0;
}

static int process_payload(Splitter *s, const char *ctype_orig, const char *filename, const char *data,
                           size_t size, const char *merge_type);

static int process_mime(Splitter *s, const char *buf, size_t size, unsigned depth);

/* The leaves of a multipart body delimited by "--boundary" lines. */
static int process_multipart(Splitter *s, const char *body, size_t size, const char *boundary,
                             unsigned depth) {
        _cleanup_free_ char *delim = NULL;
        const char *p = body, *end = body + size, *part = NULL;
        size_t dl;
        int r;

        if (asprintf(&delim, "--%s", boundary) < 0)
                return -ENOMEM;
        dl = strlen(delim);
        while (p < end) {
                const char *next, *le = line_end(p, end, &next);
                bool is_delim = (size_t) (le - p) >= dl && memcmp(p, delim, dl) == 0;
                bool closing = is_delim && (size_t) (le - p) >= dl + 2 && p[dl] == '-' && p[dl + 1] == '-';

                if (is_delim) {
                        /* only whitespace may follow the delimiter on its line */
                        for (const char *c = p + dl + (closing ? 2 : 0); c < le; c++)
                                if (*c != ' ' && *c != '\t')
                                        is_delim = closing = false;
                }
                if (is_delim) {
                        if (part) {
                                /* the line break before the delimiter belongs to it */
                                const char *pe = p;

                                if (pe > part && pe[-1] == '\n')
                                        pe--;
                                if (pe > part && pe[-1] == '\r')
                                        pe--;
                                r = process_mime(s, part, (size_t) (pe - part), depth + 1);
                                if (r < 0)
                                        return r;
                        }
                        if (closing)
                                return 0;
                        part = next;
                }
                p = next;
        }
        if (part) {
                /* no closing delimiter: Python takes what is there */
                r = process_mime(s, part, (size_t) (end - part), depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One MIME entity (headers + body): a multipart is walked, a leaf becomes a part. */
static int process_mime(Splitter *s, const char *buf, size_t size, unsigned depth) {
        _cleanup_(mime_headers_done) MimeHeaders h = {};
        _cleanup_free_ char *type = NULL, *filename = NULL, *decoded = NULL, *boundary = NULL;
        size_t body, dsize;
        int r;

        if (depth > USERDATA_MIME_DEPTH_MAX) {
                add_error(s, "MIME parts nested deeper than %u levels: ignored", USERDATA_MIME_DEPTH_MAX);
                return 0;
        }
        r = mime_parse_headers(buf, size, &h, &body);
        if (r == -E2BIG) {
                add_error(s, "a MIME part has headers larger than %u bytes: ignored", MIME_HEADER_MAX);
                return 0;
        }
        if (r < 0)
                return r;
        r = mime_type(h.content_type, &type);
        if (r < 0)
                return r;
        if (startswith(type, "multipart/")) {
                r = mime_param(h.content_type, "boundary", &boundary);
                if (r < 0)
                        return r;
                if (isempty(boundary)) {
                        add_error(s, "a %s part has no boundary: ignored", type);
                        return 0;
                }
                return process_multipart(s, buf + body, size - body, boundary, depth);
        }
        r = mime_param(h.disposition, "filename", &filename);
        if (r >= 0 && !filename)
                r = mime_param(h.content_type, "name", &filename);
        if (r < 0)
                return r;
        r = mime_decode(h.transfer_encoding, buf + body, size - body, &decoded, &dsize);
        if (r < 0)
                return r;
        r = process_payload(s, type, filename, decoded, dsize, h.merge_type);
        explicit_bzero(decoded, dsize);
        return r;
}

static bool is_decomp_type(const char *t) {
        static const char *const types[] = {
                "application/gzip",       "application/gzip-compressed",   "application/gzipped",
                "application/x-compress", "application/x-compressed",      "application/x-gunzip",
                "application/x-gzip",     "application/x-gzip-compressed",
        };

        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (streq(t, types[i]))
                        return true;
        return false;
}

static int split_message(Splitter *s, const char *data, size_t size);

/* #include / #include-once: one URL per line (cloudinit/user_data.py _do_include). */
static int do_include(Splitter *s, const char *data, size_t size) {
        _cleanup_free_ char *text = strndup(data, size);
        bool once = false;
        char *save = NULL;

        if (!text)
                return -ENOMEM;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                _cleanup_free_ char *body = NULL;
                size_t bsize = 0;
                char *url = line;
                int r;

                if (strncasecmp(url, "#include-once", 13) == 0) {
                        url += 13;
                        once = true;
                } else if (strncasecmp(url, "#include", 8) == 0) {
                        url += 8;
                        once = false;
                }
                url = strstrip(url);
                if (url[0] == '#' || isempty(url))
                        continue;
                if (s->u->n_includes >= USERDATA_INCLUDES_MAX) {
                        add_error(s, "more than %u includes: the rest is ignored", USERDATA_INCLUDES_MAX);
                        return 0;
                }
                if (s->include_depth >= USERDATA_INCLUDE_DEPTH_MAX) {
                        add_error(s, "includes nested deeper than %u levels: ignored",
                                  USERDATA_INCLUDE_DEPTH_MAX);
                        return 0;
                }
                if (!s->fetch) {
                        add_error(s, "#include%s of a URL: not fetched here", once ? "-once" : "");
                        continue;
                }
                s->u->n_includes++;
                r = s->fetch(url, once, s->userdata, &body, &bsize);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        add_error(s, "#include%s #%u could not be fetched: %s", once ? "-once" : "",
                                  s->u->n_includes, strerror(-r));
                        continue;
                }
                s->include_depth++;
                r = split_message(s, body, bsize);
                s->include_depth--;
                explicit_bzero(body, bsize);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* #cloud-config-archive: a YAML list of strings or {content, type, filename, launch-index, headers…}. */
static int explode_archive(Splitter *s, const char *data, size_t size) {
        _cleanup_ynode_ YNode *root = NULL;
        YamlError err;
        int r;

        r = yaml_parse(data, size, &root, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || root->type != YNODE_SEQ) {
                add_error(s, "#cloud-config-archive is not a YAML list%s%s", r < 0 ? ": " : "",
                          r < 0 ? err.message : "");
                return 0;
        }
        for (size_t i = 0; i < root->n_items; i++) {
                const YNode *e = root->items[i], *content = e, *type = NULL, *fn = NULL, *mt = NULL;
                const char *ct;

                if (e->type == YNODE_MAP) {
                        content = ynode_get(e, "content");
                        type = ynode_get(e, "type");
                        fn = ynode_get(e, "filename");
                        mt = ynode_get(e, "Merge-Type") ?: ynode_get(e, "X-Merge-Type");
                } else if (e->type != YNODE_STR)
                        continue;
                if (content && content->type != YNODE_STR && content->type != YNODE_BINARY) {
                        add_error(s, "#cloud-config-archive entry %zu: content is not a string", i + 1);
                        continue;
                }
                if (type && type->type == YNODE_STR && strchr(type->text, '/'))
                        ct = type->text;
                else
                        ct = content ? user_data_type_from_starts_with(content->text, content->size) : NULL;
                if (!ct)
                        ct = content && content->type == YNODE_BINARY ? "application/octet-stream"
                                                                      : "text/cloud-config";
                r = attach_part(s, ct, fn && fn->type == YNODE_STR ? fn->text : NULL,
                                content ? content->text : "", content ? content->size : 0,
                                mt && mt->type == YNODE_STR ? mt->text : NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One leaf: decompress, sniff, include/archive or attach (cloudinit/user_data.py _process_msg). */
static int process_payload(Splitter *s, const char *ctype_orig, const char *filename, const char *data,
                           size_t size, const char *merge_type) {
        _cleanup_free_ char *unzipped = NULL;
        const char *ctype = ctype_orig;

        if (is_decomp_type(ctype)) {
                size_t usize;
                int r = user_data_gunzip(data, size, USERDATA_DECOMPRESSED_MAX, &unzipped, &usize);

                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        add_error(s, "a %s part could not be decompressed: %s", ctype,
                                  r == -E2BIG ? "too large" : "not valid gzip");
                        return 0;
                }
                data = unzipped;
                size = usize;
                ctype = "text/plain";
        }
        if (streq(ctype, "text/plain") || streq(ctype, "text/x-not-multipart") ||
            streq(ctype, "text/x-shellscript"))
                ctype = user_data_type_from_starts_with(data, size) ?: ctype;
        if (streq(ctype, "text/x-include-url") || streq(ctype, "text/x-include-once-url"))
                return do_include(s, data, size);
        if (streq(ctype, "text/cloud-config-archive"))
                return explode_archive(s, data, size);
        return attach_part(s, ctype, filename, data, size, merge_type);
}

static bool is_mime(const char *data, size_t size) {
        size_t n = MIN(size, (size_t) MIME_SNIFF_BYTES);
        static const char needle[] = "mime-version:";

        for (size_t i = 0; i + strlen(needle) <= n; i++)
                if (strncasecmp(data + i, needle, strlen(needle)) == 0)
                        return true;
        return false;
}

/* convert_string(): gunzip if compressed, a MIME message if it says so, else one text/x-not-multipart part. */
static int split_message(Splitter *s, const char *data, size_t size) {
        _cleanup_free_ char *unzipped = NULL;
        int r;

        if (is_gzip(data, size)) {
                size_t usize;

                r = user_data_gunzip(data, size, USERDATA_DECOMPRESSED_MAX, &unzipped, &usize);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        add_error(s, "gzip-compressed user data could not be decompressed: %s",
                                  r == -E2BIG ? "too large" : "not valid gzip");
                else {
                        if (s->include_depth == 0)
                                s->u->gzip = true;
                        data = unzipped;
                        size = usize;
                }
        }
        if (is_mime(data, size)) {
                if (s->include_depth == 0)
                        s->u->mime = true;
                r = process_mime(s, data, size, 0);
        } else
                r = process_payload(s, "text/x-not-multipart", NULL, data, size, NULL);
        if (unzipped)
                explicit_bzero(unzipped, strlen(unzipped));
        return r;
}

/* Azure Container Linux: an Ignition config is JSON with an "ignition" object (config spec v2/v3). */
static bool is_ignition(const char *data, size_t size) {
        struct json_tokener *tok;
        struct json_object *o, *ign;
        bool yes = false;
        size_t i = 0;

        while (i < size && strchr(" \t\r\n", data[i]) && data[i])
                i++;
        if (i >= size || data[i] != '{')
                return false;
        tok = json_tokener_new_ex(32);
        if (!tok)
                return false;
        o = json_tokener_parse_ex(tok, data, (int) MIN(size, (size_t) INT32_MAX));
        if (o && json_tokener_get_error(tok) == json_tokener_success &&
            json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "ignition", &ign) &&
            json_object_is_type(ign, json_type_object))
                yes = true;
        json_object_put(o);
        json_tokener_free(tok);
        return yes;
}

int user_data_split(const void *buf, size_t size, UserDataFetchFunc fetch, void *userdata, UserData *ret) {
        _cleanup_(user_data_done) UserData u = {};
        Splitter s = {.u = &u, .fetch = fetch, .userdata = userdata};
        _cleanup_free_ char *unzipped = NULL;
        const char *data = buf;
        size_t dsize = size;
        int r;

        if (size > USERDATA_MAX)
                return -E2BIG;
        if (is_gzip(buf, size) &&
            user_data_gunzip(buf, size, USERDATA_DECOMPRESSED_MAX, &unzipped, &dsize) >= 0)
                data = unzipped;
        else
                dsize = size;
        if (is_ignition(data, dsize)) {
                u.ignition = true;
                u.gzip = unzipped;
        } else {
                r = split_message(&s, buf, size);
                if (r < 0)
                        return r;
        }
        if (unzipped)
                explicit_bzero(unzipped, dsize);
        *ret = u;
        u = (UserData){};
        return 0;
}

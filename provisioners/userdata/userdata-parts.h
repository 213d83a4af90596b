/* SPDX-License-Identifier: MIT */
/*
 * User data → parts, as cloud-init's UserDataProcessor (cloudinit/user_data.py) sees them:
 *
 *   gzip (magic 1f 8b) → decompressed first; "mime-version:" in the first 4096 bytes → a MIME message whose
 *   leaves are the parts (multipart types walked recursively; Content-Transfer-Encoding base64 and
 *   quoted-printable decoded; gzip part types decompressed); anything else → one part.
 *
 * A part whose type is text/plain, text/x-not-multipart or text/x-shellscript (and every non-MIME payload) gets
 * its type from how it starts, case-insensitively after leading whitespace, longest prefix first: `#include`,
 * `#include-once`, `#!`, `#cloud-config`, `#cloud-config-archive`, `#cloud-config-jsonp`, `#cloud-boothook`,
 * `#part-handler`, `## template: jinja`. Includes are fetched (through the caller's fetch function: the splitter
 * does no I/O) and their content is split the same way; a `#cloud-config-archive` is a YAML list of
 * {content, type, filename, …} entries. Parts without a filename are named part-001, part-002, … in the order
 * they are attached; filenames are cleaned as cloud-init cleans them ([A-Za-z0-9_.()-], '/' → '_').
 *
 * A JSON object with an "ignition" key is an Ignition config (Azure Container Linux): it is not split, only
 * recognized. Everything is bounded: input, decompressed size, part count, include count and depth, MIME
 * nesting and header sizes. Problems (an undecodable part, a failed include, a limit) are collected in
 * UserData.errors and the rest goes on, as cloud-init warns and goes on.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define USERDATA_MAX               (1024U * 1024U)      /* the decoded payload (Azure allows 64 KiB) */
#define USERDATA_DECOMPRESSED_MAX  (8U * 1024U * 1024U) /* all parts together, after gunzip */
#define USERDATA_PARTS_MAX         128U
#define USERDATA_INCLUDES_MAX      16U
#define USERDATA_INCLUDE_DEPTH_MAX 4U
#define USERDATA_MIME_DEPTH_MAX    8U
#define USERDATA_ERRORS_MAX        64U

typedef enum UserDataPartType {
        UD_PART_CLOUD_CONFIG,        /* text/cloud-config */
        UD_PART_SCRIPT,              /* text/x-shellscript: once per instance, after Ready */
        UD_PART_SCRIPT_PER_BOOT,     /* text/x-shellscript-per-boot */
        UD_PART_SCRIPT_PER_INSTANCE, /* text/x-shellscript-per-instance */
        UD_PART_SCRIPT_PER_ONCE,     /* text/x-shellscript-per-once */
        UD_PART_BOOTHOOK,            /* text/cloud-boothook: every boot, during provisioning */
        UD_PART_JINJA,               /* text/jinja2: not supported */
        UD_PART_PART_HANDLER,        /* text/part-handler (Python): not supported */
        UD_PART_CLOUD_CONFIG_JSONP,  /* text/cloud-config-jsonp (JSON patch): not supported */
        UD_PART_UNKNOWN,             /* any other type, e.g. text/plain that matches no prefix */
        _UD_PART_TYPE_MAX,
        _UD_PART_TYPE_INVALID = -1,
} UserDataPartType;

typedef struct UserDataPart {
        UserDataPartType type;
        char *content_type; /* the final MIME type, lower case */
        char *filename;     /* cleaned; "part-NNN" when the part had none */
        char *data;         /* NUL-terminated (may hold NULs: see size) */
        size_t size;
        char *merge_type; /* Merge-Type / X-Merge-Type header (cloud-config merging), or NULL */
} UserDataPart;

typedef struct UserData {
        UserDataPart *parts;
        size_t n_parts;
        bool gzip;           /* the payload was gzip-compressed */
        bool mime;           /* the payload was a MIME message */
        bool ignition;       /* an Ignition config: left alone */
        unsigned n_includes; /* URLs fetched */
        char **errors;       /* what could not be used, with why (no user data bytes in it) */
        size_t total_size;   /* bytes of all parts */
} UserData;

/* Fetches url (an #include line) into *ret (NUL-terminated). once: an #include-once URL. <0 on failure. */
typedef int (*UserDataFetchFunc)(const char *url, bool once, void *userdata, char **ret, size_t *ret_size);

void user_data_done(UserData *u);

const char *user_data_part_type_to_string(UserDataPartType t); /* "cloud-config", "x-shellscript", … */
bool user_data_part_type_supported(UserDataPartType t);

/* The content type a payload announces by how it starts (cloud-init's type_from_starts_with), or NULL. */
const char *user_data_type_from_starts_with(const char *data, size_t size);

/* Cleans a filename as cloud-init's clean_filename(); NULL-safe; returns a new string (maybe empty). */
char *user_data_clean_filename(const char *fn);

/*
 * Splits buf. fetch may be NULL: includes are then reported as errors. Returns 0 (problems in ret->errors),
 * -E2BIG when buf is larger than USERDATA_MAX, -ENOMEM.
 */
int user_data_split(const void *buf, size_t size, UserDataFetchFunc fetch, void *userdata, UserData *ret);

/* Trims ASCII whitespace on both ends in place (the string keeps its address: it can still be freed). */
char *user_data_strip(char *s);

/* gunzip of data, at most max bytes (-E2BIG beyond), -EBADMSG when it is not valid gzip. */
int user_data_gunzip(const void *data, size_t size, size_t max, char **ret, size_t *ret_size);

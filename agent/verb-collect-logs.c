/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent collect-logs [-o FILE] [--max-size MIB]`: one tarball of what support asks for (waagent's
 * -collect-logs, cloud-init's collect-logs), with secrets removed:
 *
 *   journal.txt          the agent's journal since boot (SYSLOG_IDENTIFIER=azl-agent and the agent's units;
 *                        with --root, the root's journal, every boot);
 *   status.json          `azl-agent status --json` from the state file;
 *   agent.conf           the effective configuration (`azl-agent config`);
 *   <path>               the agent's state directory, the extension logs (/var/log/azure) and the extension
 *                        directory's goal-state documents, handler status, settings, state and logs
 *                        (/var/lib/waagent by default), each under its path in the root;
 *   MANIFEST.txt         what is in the archive, what was left out and why, what was removed.
 *
 * Secrets: before anything is read for the archive, the secrets the machine holds are registered with the
 * logger's redaction (log_add_secret(): the admin password and custom data of a seed or cached ovf-env.xml,
 * every handler's protectedSettings — and their plaintext, decrypted with the tenant certificate the settings
 * name, so that a handler logging its own settings is caught too). Then every file goes through the structural
 * rules of redact.h (protectedSettings and *password* JSON members, UserPassword/CustomData elements) and
 * through log_redact() (registered secrets, SAS "sig=" values). Private keys, certificate bundles, custom data
 * files, binaries and handler package files are left out, and so is whatever exceeds the size cap; each
 * left-out file is named in the manifest with the reason.
 *
 * The archive is pax tar, zstd for "*.tar.zst", none for "*.tar", gzip otherwise (libarchive); written 0600 to
 * a temporary file next to FILE and renamed into place.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>

#include "agent.h"
#include "archive-dl.h"
#include "certificates.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "media.h"
#include "openssl-util.h"
#include "ovf-env.h"
#include "redact.h"
#include "version.h"

#define ARCHIVE_DIR         "azl-agent-logs"
#define COLLECT_MAX_DEFAULT (64U * 1024U * 1024U) /* bytes of (uncompressed) content */
#define COLLECT_FILE_MAX    (8U * 1024U * 1024U)  /* larger files: their tail */
#define COLLECT_FILES_MAX   4096U
#define COLLECT_DEPTH_MAX   16U
#define JOURNAL_MAX         (16U * 1024U * 1024U)

typedef struct Collector {
        Context *c;
        struct archive *a;
        uint64_t total, max_total;
        unsigned n_files;
        FILE *included, *excluded; /* manifest sections (memstreams) */
        char *included_buf, *excluded_buf;
        size_t included_size, excluded_size;
        unsigned n_secrets, n_secrets_dropped;
        time_t now;
} Collector;

static void archive_write_freep(struct archive **a) {
        if (*a)
                sym_archive_write_free(*a);
}

static void note_excluded(Collector *k, const char *path, const char *why) {
        fprintf(k->excluded, "  %-60s %s\n", path, why);
}

/* Registers a secret with the logger's redaction (≥ 4 bytes; log.c masks it in every text we add). */
static void add_secret(Collector *k, const char *s) {
        if (!s || strlen(s) < 4)
                return;
        if (log_add_secret(s) < 0)
                k->n_secrets_dropped++;
        else
                k->n_secrets++;
}

/* The string leaves of a JSON value (protected settings plaintext: every value is potentially secret). */
static void add_json_leaves(Collector *k, struct json_object *o, unsigned depth) {
        if (!o || depth > 16)
                return;
        if (json_object_is_type(o, json_type_string))
                add_secret(k, json_object_get_string(o));
        else if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach (o, key, v) {
                        (void) key;
                        add_json_leaves(k, v, depth + 1);
                }
        } else if (json_object_is_type(o, json_type_array))
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        add_json_leaves(k, json_object_array_get_idx(o, i), depth + 1);
}

/* Decrypts base64 CMS protected settings with <dir>/<thumbprint>.prv/.crt (the handler does the same). */
static void harvest_plaintext(Collector *k, const char *dir, const char *thumbprint, const char *b64) {
        _cleanup_free_ char *prv_path = NULL, *crt_path = NULL, *prv = NULL, *crt = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_(BIO_free_allp) BIO *in = NULL, *out = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_free_ void *der = NULL;
        size_t prv_size, crt_size, der_size;
        char *plain;
        long n;

        if (isempty(thumbprint) || strchr(thumbprint, '/') || strstr(thumbprint, ".."))
                return;
        if (asprintf(&prv_path, "%s/%s.prv", dir, thumbprint) < 0 ||
            asprintf(&crt_path, "%s/%s.crt", dir, thumbprint) < 0)
                return;
        if (read_file_in_root(k->c->root_fd, prv_path, 1024U * 1024U, &prv, &prv_size) < 0 ||
            read_file_in_root(k->c->root_fd, crt_path, 1024U * 1024U, &crt, &crt_size) < 0 ||
            pem_load_private_key(prv, prv_size, &key) < 0 ||
            pem_load_certificate(crt, crt_size, &cert) < 0 ||
            base64_decode(b64, strlen(b64), &der, &der_size) < 0) {
                if (prv)
                        explicit_bzero(prv, prv_size);
                return;
        }
        explicit_bzero(prv, prv_size);
        in = BIO_new_mem_buf(der, (int) der_size);
        out = BIO_new(BIO_s_secmem());
        if (!in || !out || !(cms = d2i_CMS_bio(in, NULL)) ||
            CMS_decrypt(cms, key, cert, NULL, out, CMS_BINARY) != 1)
                return;
        n = BIO_get_mem_data(out, &plain);
        if (n <= 0)
                return;
        plain = strndup(plain, (size_t) n);
        if (!plain)
                return;
        add_secret(k, plain);
        if (json_parse_buffer(plain, strlen(plain), &o, NULL) >= 0)
                add_json_leaves(k, o, 0);
        erase_and_free(plain);
}

/* A handler settings file: {"runtimeSettings": [{"handlerSettings": {"protectedSettings": …}}]}. */
static void harvest_settings(Collector *k, const char *path) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *rs;
        size_t size;

        if (read_file_in_root(k->c->root_fd, path, COLLECT_FILE_MAX, &buf, &size) < 0 ||
            json_parse_buffer(buf, size, &o, NULL) < 0)
                return;
        rs = json_get(o, "runtimeSettings", false);
        for (size_t i = 0;
             rs && json_object_is_type(rs, json_type_array) && i < json_object_array_length(rs); i++) {
                struct json_object *hs =
                        json_get(json_object_array_get_idx(rs, i), "handlerSettings", false);
                struct json_object *ps = json_get(hs, "protectedSettings", false),
                                   *tp = json_get(hs, "protectedSettingsCertThumbprint", false);

                if (!json_object_is_type(ps, json_type_string))
                        continue;
                add_secret(k, json_object_get_string(ps));
                if (json_object_is_type(tp, json_type_string))
                        harvest_plaintext(k, k->c->config.extensions_dir, json_object_get_string(tp),
                                          json_object_get_string(ps));
        }
}

/* An ovf-env.xml (seed or cached copy): the admin password and the custom data. */
static void harvest_ovf_env(Collector *k, const char *path) {
        _cleanup_(ovf_env_done) OvfEnv e = {};
        _cleanup_free_ char *buf = NULL;
        size_t size;

        if (read_file_in_root(k->c->root_fd, path, OVF_ENV_MAX, &buf, &size) < 0)
                return;
        if (ovf_env_parse(buf, size, &e, NULL) >= 0) {
                add_secret(k, e.password);
                add_secret(k, e.custom_data_raw);
                add_secret(k, e.custom_data);
        }
        explicit_bzero(buf, size);
}

/* Every <handler>/config/ *.settings below the extensions directory. */
static void harvest_extensions(Collector *k) {
        _cleanup_close_ int fd = open_in_root(k->c->root_fd, k->c->config.extensions_dir,
                                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
        DIR *d;

        if (fd < 0 || !(d = fdopendir(fd)))
                return;
        fd = -EBADF;
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *cfg = NULL;
                _cleanup_close_ int cfd = -EBADF;
                DIR *cd;

                if (de->d_name[0] == '.' ||
                    asprintf(&cfg, "%s/%s/config", k->c->config.extensions_dir, de->d_name) < 0)
                        continue;
                cfd = open_in_root(k->c->root_fd, cfg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
                if (cfd < 0 || !(cd = fdopendir(cfd)))
                        continue;
                cfd = -EBADF;
                for (struct dirent *ce; (ce = readdir(cd));) {
                        _cleanup_free_ char *p = NULL;

                        if (endswith(ce->d_name, ".settings") && asprintf(&p, "%s/%s", cfg, ce->d_name) >= 0)
                                harvest_settings(k, p);
                }
                closedir(cd);
        }
        closedir(d);
}

static void harvest_secrets(Collector *k) {
        _cleanup_free_ char *seed = NULL, *copy = NULL;

        if (asprintf(&seed, "%s/seed/" OVF_ENV_FILENAME, k->c->config.state_dir) >= 0)
                harvest_ovf_env(k, seed);
        if (asprintf(&copy, "%s/" OVF_ENV_FILENAME, k->c->config.state_dir) >= 0)
                harvest_ovf_env(k, copy);
        harvest_extensions(k);
}

/* Adds one member (already redacted text) under ARCHIVE_DIR/name. */
static int add_member(Collector *k, const char *name, const char *data, size_t size, time_t mtime) {
        _cleanup_free_ char *path = NULL;
        struct archive_entry *e;
        int r = 0;

        if (asprintf(&path, ARCHIVE_DIR "/%s", name) < 0)
                return -ENOMEM;
        e = sym_archive_entry_new();
        if (!e)
                return -ENOMEM;
        sym_archive_entry_set_pathname(e, path);
        sym_archive_entry_set_filetype(e, AE_IFREG);
        sym_archive_entry_set_perm(e, 0644);
        sym_archive_entry_set_size(e, (la_int64_t) size);
        sym_archive_entry_set_mtime(e, mtime, 0);
        if (sym_archive_write_header(k->a, e) != ARCHIVE_OK ||
            (size > 0 && sym_archive_write_data(k->a, data, size) != (la_ssize_t) size))
                r = -EIO;
        sym_archive_entry_free(e);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s to the archive: %s", path,
                                       sym_archive_error_string(k->a));
        k->total += size;
        return 0;
}

/* Redacts text (structural rules, then the logger's) and adds it; the manifest says what was removed. */
static int add_text(Collector *k, const char *name, const char *text, time_t mtime, const char *note) {
        _cleanup_free_ char *structural = NULL, *masked = NULL;
        unsigned n = 0;
        int r;

        r = redact_text(text, &structural, &n);
        if (r < 0)
                return log_oom();
        masked = log_redact(structural);
        if (!masked)
                return log_oom();
        if (k->total + strlen(masked) > k->max_total) {
                note_excluded(k, name, "size cap reached (--max-size)");
                return 0;
        }
        r = add_member(k, name, masked, strlen(masked), mtime);
        if (r < 0)
                return r;
        fprintf(k->included, "  %-60s %10zu%s%s%s%s\n", name, strlen(masked), n > 0 ? "  " : "",
                n > 0 ? "secret value(s) removed" : "", note ? "  " : "", strempty(note));
        return 0;
}

/* Which rules a walked tree gets: every text file (the agent's state, the extension logs) or the extension
 * directory's (goal-state documents at the top, status/settings/state/logs in handler directories). */
typedef enum WalkMode {
        WALK_TEXT,
        WALK_EXTENSIONS,
        WALK_HANDLER,
} WalkMode;

/* Whether a file may go into the archive as text: NULL, or why not. */
static const char *exclusion_reason(const char *name, WalkMode mode) {
        static const char *const key_suffixes[] = {".prv", ".key", ".pem", ".pfx",
                                                   ".p12", ".p7m", ".crt", ".cer"};
        static const char *const handler_suffixes[] = {".status", ".settings", ".log",
                                                       ".json",   ".xml",      ".txt"};
        static const char *const handler_names[] = {"HandlerState",         "HandlerEnvironment.json",
                                                    "HandlerManifest.json", "mrseq",
                                                    "heartbeat.log",        "ExtensionState"};

        for (size_t i = 0; i < ELEMENTSOF(key_suffixes); i++)
                if (endswith(name, key_suffixes[i]))
                        return "private key or certificate material";
        if (startswith(name, "Certificates") || startswith(name, "TransportPrivate") ||
            startswith(name, "TransportCert"))
                return "certificate bundle";
        if (startswith(name, "CustomData") || startswith(name, "UserData"))
                return "custom data";
        if (mode == WALK_TEXT)
                return NULL;
        if (mode == WALK_EXTENSIONS)
                return endswith(name, ".xml") || endswith(name, ".json") || endswith(name, ".txt") ||
                                       endswith(name, ".log") || endswith(name, ".jsonl") ||
                                       !strchr(name, '.')
                               ? NULL
                               : "not a log, status or goal-state file";
        for (size_t i = 0; i < ELEMENTSOF(handler_suffixes); i++)
                if (endswith(name, handler_suffixes[i]))
                        return NULL;
        for (size_t i = 0; i < ELEMENTSOF(handler_names); i++)
                if (streq(name, handler_names[i]))
                        return NULL;
        return "handler package file (not a log, status or settings file)";
}

/* Reads at most COLLECT_FILE_MAX bytes: the whole file, or its tail from a line start. */
static int read_bounded(int fd, char **ret, size_t *ret_size, bool *ret_truncated) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        char *nl;
        size_t size;
        int r;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        *ret_truncated = (uint64_t) st.st_size > COLLECT_FILE_MAX;
        if (*ret_truncated && lseek(fd, st.st_size - COLLECT_FILE_MAX, SEEK_SET) < 0)
                return negative_errno();
        r = read_full_fd(fd, COLLECT_FILE_MAX, &buf, &size);
        if (r < 0)
                return r;
        /* The first line of a tail is partial, and may be the end of a secret whose name was cut off. */
        if (*ret_truncated && (nl = memchr(buf, '\n', size))) {
                size -= (size_t) (nl + 1 - buf);
                memmove(buf, nl + 1, size + 1);
        }
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int add_file(Collector *k, int dir_fd, const char *path, const char *name, WalkMode mode) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *why;
        struct stat st;
        bool truncated;
        size_t size;
        int r;

        why = exclusion_reason(name, mode);
        if (why) {
                note_excluded(k, path + 1, why);
                return 0;
        }
        if (++k->n_files > COLLECT_FILES_MAX) {
                note_excluded(k, path + 1, "too many files");
                return 0;
        }
        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                note_excluded(k, path + 1, "cannot be read");
                return 0;
        }
        r = read_bounded(fd, &buf, &size, &truncated);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                note_excluded(k, path + 1, "cannot be read");
                return 0;
        }
        if (memchr(buf, 0, size)) {
                explicit_bzero(buf, size);
                note_excluded(k, path + 1, "binary");
                return 0;
        }
        if (strstr(buf, "PRIVATE KEY-----")) {
                explicit_bzero(buf, size);
                note_excluded(k, path + 1, "contains a private key");
                return 0;
        }
        r = add_text(k, path + 1, buf, st.st_mtime, truncated ? "(its last 8 MiB)" : NULL);
        explicit_bzero(buf, size);
        return r;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Walks dir (in-root path) depth-first in name order; symlinks and special files are noted, not followed. */
static int walk(Collector *k, const char *dir, unsigned depth, WalkMode mode) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        int r = 0;

        if (depth > COLLECT_DEPTH_MAX) {
                note_excluded(k, dir + 1, "too deep");
                return 0;
        }
        fd = open_in_root(k->c->root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0) {
                note_excluded(k, dir + 1, "cannot be read");
                return 0;
        }
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        fd = -EBADF;
        for (struct dirent *de; r >= 0 && (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        r = strv_extend(&names, de->d_name);
        if (r >= 0 && names)
                qsort(names, strv_length(names), sizeof *names, compare_names);
        for (char **n = names; r >= 0 && n && *n; n++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                if (asprintf(&path, "%s/%s", dir, *n) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (fstatat(dirfd(d), *n, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                /* <StateDirectory>/userdata holds the user data and the scripts made from it (userdata.json,
                 * the status, stays): custom data, left out like waagent's CustomData file */
                if (S_ISDIR(st.st_mode) && depth == 0 && streq(*n, "userdata") &&
                    streq(dir, k->c->config.state_dir))
                        note_excluded(k, path + 1,
                                      "custom data (the user data and the scripts made from it)");
                else if (S_ISDIR(st.st_mode))
                        r = walk(k, path, depth + 1, mode == WALK_EXTENSIONS ? WALK_HANDLER : mode);
                else if (S_ISREG(st.st_mode))
                        r = add_file(k, dirfd(d), path, *n, mode);
                else
                        note_excluded(k, path + 1,
                                      S_ISLNK(st.st_mode) ? "symbolic link (not followed)"
                                                          : "not a regular file");
        }
        closedir(d);
        return r;
}

/* The agent's journal: this boot's entries on the running system, every entry of an alternate root's journal. */
static int journal_text(Collector *k, char **ret) {
        _cleanup_free_ char *dir = NULL, *buf = NULL;
        sd_journal *j = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        if (k->c->root) {
                r = path_join_root(k->c->root, "/var/log/journal", &dir);
                if (r >= 0)
                        r = sd_journal_open_directory(&j, dir, 0);
        } else
                r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r >= 0)
                r = sd_journal_add_match(j, "SYSLOG_IDENTIFIER=azl-agent", 0);
        if (r >= 0)
                r = sd_journal_add_disjunction(j);
        if (r >= 0)
                r = sd_journal_add_match(j, "_SYSTEMD_UNIT=azl-agent.service", 0);
        if (r >= 0)
                r = sd_journal_add_disjunction(j);
        if (r >= 0)
                r = sd_journal_add_match(j, "_SYSTEMD_UNIT=azl-provision.service", 0);
        if (r >= 0 && !k->c->root) {
                sd_id128_t boot;
                char m[64];

                r = sd_id128_get_boot(&boot);
                if (r >= 0) {
                        (void) snprintf(m, sizeof m, "_BOOT_ID=" SD_ID128_FORMAT_STR,
                                        SD_ID128_FORMAT_VAL(boot));
                        r = sd_journal_add_conjunction(j);
                        if (r >= 0)
                                r = sd_journal_add_match(j, m, 0);
                }
        }
        if (r < 0)
                fprintf(f, "(journal not available: %s)\n", strerror(-r));
        else {
                size_t n = 0;

                while (sd_journal_next(j) > 0 && size < JOURNAL_MAX) {
                        const void *d;
                        size_t l;
                        uint64_t t;
                        char ts[64] = "";

                        if (sd_journal_get_data(j, "MESSAGE", &d, &l) < 0 || l < 8)
                                continue;
                        if (sd_journal_get_realtime_usec(j, &t) >= 0)
                                (void) format_timestamp_iso_usec(t, ts, sizeof ts);
                        fprintf(f, "%s %.*s\n", ts, (int) (l - 8), (const char *) d + 8);
                        fflush(f);
                        n++;
                }
                if (n == 0)
                        fprintf(f, "(no entries)\n");
        }
        if (j)
                sd_journal_close(j);
        if (fclose(f) != 0 || !buf)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int add_generated(Collector *k) {
        _cleanup_free_ char *journal = NULL, *status = NULL, *conf = NULL;
        int r;

        r = journal_text(k, &journal);
        if (r < 0)
                return log_oom();
        r = add_text(k, "journal.txt", journal, k->now, "generated");
        if (r < 0)
                return r;
        if (status_json(k->c, &status) >= 0)
                r = add_text(k, "status.json", status, k->now, "generated");
        else
                note_excluded(k, "status.json", "the state file could not be read");
        if (r < 0)
                return r;
        if (config_dump(&k->c->config, &conf) < 0)
                return log_oom();
        return add_text(k, "agent.conf", conf, k->now, "generated (effective configuration)");
}

static int add_manifest(Collector *k) {
        _cleanup_free_ char *text = NULL;
        char ts[64] = "";

        fflush(k->included);
        fflush(k->excluded);
        (void) format_timestamp_iso((usec_t) k->now * USEC_PER_SEC, ts, sizeof ts);
        if (asprintf(&text,
                     "azl-agent collect-logs, azl-agent %s, %s, root %s\n\n"
                     "Included (bytes after redaction):\n%s\n"
                     "Left out:\n%s\n"
                     "Removed from every included file: protectedSettings and *password* JSON values, "
                     "UserPassword\n"
                     "and CustomData XML content, SAS signatures (sig=), and %u secret value(s) found on "
                     "this\n"
                     "machine (admin password, custom data, protected settings and their decrypted "
                     "values)%s.\n",
                     PACKAGE_VERSION, ts, k->c->root ?: "/", strempty(k->included_buf),
                     isempty(k->excluded_buf) ? "  (nothing)\n" : k->excluded_buf, k->n_secrets,
                     k->n_secrets_dropped > 0 ? "; more were found than can be masked: check before sharing"
                                              : "") < 0)
                return log_oom();
        return add_member(k, "MANIFEST.txt", text, strlen(text), k->now);
}

static int open_archive(Collector *k, int fd, const char *output) {
        k->a = sym_archive_write_new();
        if (!k->a)
                return log_oom();
        if (sym_archive_write_set_format_pax_restricted(k->a) != ARCHIVE_OK)
                return -EIO;
        if (endswith(output, ".tar.zst") || endswith(output, ".tzst")) {
                if (sym_archive_write_add_filter_zstd(k->a) != ARCHIVE_OK)
                        return log_error_errno(EOPNOTSUPP, "zstd is not available: %s",
                                               sym_archive_error_string(k->a));
        } else if (!endswith(output, ".tar") && sym_archive_write_add_filter_gzip(k->a) != ARCHIVE_OK)
                return log_error_errno(EOPNOTSUPP, "gzip is not available: %s",
                                       sym_archive_error_string(k->a));
        if (sym_archive_write_open_fd(k->a, fd) != ARCHIVE_OK)
                return log_error_errno(EIO, "Failed to start the archive: %s",
                                       sym_archive_error_string(k->a));
        return 0;
}

static int parse_args(int argc, char **argv, const char **ret_output, uint64_t *ret_max) {
        static const struct option options[] = {{"output", required_argument, NULL, 'o'},
                                                {"max-size", required_argument, NULL, 'm'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        uint64_t mib;
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "o:h", options, NULL)) >= 0)
                switch (opt) {
                case 'o':
                        *ret_output = optarg;
                        break;
                case 'm':
                        if (safe_atou64(optarg, &mib) < 0 || mib == 0 || mib > 4096)
                                return log_error_errno(EINVAL, "--max-size takes MiB, 1…4096: '%s'.",
                                                       optarg);
                        *ret_max = mib * 1024U * 1024U;
                        break;
                case 'h':
                        printf("azl-agent collect-logs [-o FILE] [--max-size MIB]\n\n"
                               "One tarball of the agent's journal, status, configuration, state and "
                               "extension\n"
                               "logs for support, with secrets removed. FILE: *.tar.gz (default), "
                               "*.tar.zst, *.tar.\n");
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        return 1;
}

int verb_collect_logs(Context *c, int argc, char **argv) {
        _cleanup_(archive_dl_closep) void *libarchive = NULL;
        _cleanup_(archive_write_freep) struct archive *a = NULL;
        _cleanup_free_ char *default_output = NULL, *tmp = NULL, *dl_error = NULL;
        _cleanup_close_ int fd = -EBADF;
        Collector k = {.c = c, .max_total = COLLECT_MAX_DEFAULT, .now = time(NULL)};
        const char *output = NULL;
        int r;

        r = parse_args(argc, argv, &output, &k.max_total);
        if (r <= 0)
                return r;
        r = archive_dl_open(&libarchive, &dl_error);
        if (r < 0)
                return log_error_errno(r, "Cannot load " ARCHIVE_SONAME ": %s", strna(dl_error));
        if (!output) {
                char ts[32];
                struct tm tm;

                (void) strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", gmtime_r(&k.now, &tm));
                if (asprintf(&default_output, "azl-agent-logs-%s.tar.gz", ts) < 0)
                        return log_oom();
                output = default_output;
        }
        k.included = open_memstream(&k.included_buf, &k.included_size);
        k.excluded = open_memstream(&k.excluded_buf, &k.excluded_size);
        if (!k.included || !k.excluded)
                return log_oom();

        harvest_secrets(&k);

        /* The operator's file, not the root's: 0600 (logs), written beside FILE and renamed over it. */
        if (asprintf(&tmp, "%s.tmp-XXXXXX", output) < 0)
                return log_oom();
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", tmp);
        (void) fchmod(fd, 0600);
        r = open_archive(&k, fd, output);
        a = k.a;
        if (r >= 0)
                r = add_generated(&k);
        if (r >= 0)
                r = walk(&k, c->config.state_dir, 0, WALK_TEXT);
        if (r >= 0)
                r = walk(&k, "/var/log/azure", 0, WALK_TEXT);
        if (r >= 0)
                r = walk(&k, c->config.extensions_dir, 0, WALK_EXTENSIONS);
        if (r >= 0)
                r = add_manifest(&k);
        if (r >= 0 && sym_archive_write_close(a) != ARCHIVE_OK)
                r = log_error_errno(EIO, "Failed to finish the archive: %s", sym_archive_error_string(a));
        if (r >= 0 && fsync(fd) < 0)
                r = log_error_errno(errno, "Failed to write %s: %m", tmp);
        if (r >= 0 && rename(tmp, output) < 0)
                r = log_error_errno(errno, "Failed to rename %s to %s: %m", tmp, output);
        fclose(k.included);
        fclose(k.excluded);
        free(k.included_buf);
        free(k.excluded_buf);
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        printf("%s\n", output);
        log_info("Wrote %s (%llu bytes of logs and state before compression; see MANIFEST.txt inside).",
                 output, (unsigned long long) k.total);
        return 0;
}

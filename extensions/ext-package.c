/* SPDX-License-Identifier: MIT */
/*
 * Package verification and secure extraction; see ext-package.h for the design. Library code: debug logging
 * only, reasons go to the caller. The zip is a file: the end of central directory is pread() from its tail,
 * libarchive reads it through archive_read_open_fd() (seekable: the central directory first) and CMS_verify()
 * digests it through a file BIO, each in small chunks, so no step holds the package in memory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "archive-dl.h"
#include "ext-beneath.h"
#include "ext-handler.h"
#include "ext-package.h"
#include "ext-util.h"
#include "fileio.h"
#include "log.h"
#include "openssl-util.h"
#include "string-table.h"
#include "strutil.h"

static void archive_read_freep(struct archive **a) {
        if (*a)
                sym_archive_read_free(*a);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE *, X509_STORE_free);

/* APPNOTE 4.3.14–4.3.16 */
#define ZIP_EOCD_SIZE      22U
#define ZIP_COMMENT_MAX    65535U
#define ZIP64_LOCATOR_SIZE 20U
#define ZIP64_RECORD_SIZE  56U
#define ZIP_TAIL_MAX       (ZIP64_LOCATOR_SIZE + ZIP_EOCD_SIZE + ZIP_COMMENT_MAX)
#define ZIP_NO_ZIP64       UINT64_MAX
#define ZIP_READ_BLOCK     (64U * 1024U) /* libarchive's read size from the package file */

static const ExtPackageLimits default_limits = {
        .max_entries = EXT_PACKAGE_ENTRIES_MAX,
        .max_entry_size = EXT_PACKAGE_ENTRY_SIZE_MAX,
        .max_total_size = EXT_PACKAGE_TOTAL_SIZE_MAX,
};

void ext_package_report_done(ExtPackageReport *r) {
        if (!r)
                return;
        free(r->error);
        free(r->signature_error);
        *r = (ExtPackageReport){};
}

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}
static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static uint64_t le64(const uint8_t *p) {
        return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

/* APPNOTE 4.3.16: the end of central directory record, searched backwards over the comment in tail, the last n
 * bytes of a zip of len bytes. Gives its entry count, or (4.3.15 zip64 locator right before it) in *ret_zip64
 * the offset of the zip64 record that holds the count, else ZIP_NO_ZIP64. */
static int zip_scan_tail(const uint8_t *tail, size_t n, uint64_t len, uint64_t *ret_entries,
                         uint64_t *ret_zip64) {
        uint64_t base = len - n, lo = 0;

        if (n < ZIP_EOCD_SIZE || n > len)
                return -EBADMSG;
        if (len > ZIP_EOCD_SIZE + ZIP_COMMENT_MAX)
                lo = len - ZIP_EOCD_SIZE - ZIP_COMMENT_MAX;
        for (uint64_t i = len - ZIP_EOCD_SIZE + 1; i-- > MAX(lo, base);) {
                const uint8_t *p = tail + (i - base);
                uint64_t off;

                if (le32(p) != 0x06054b50)
                        continue;
                *ret_entries = le16(p + 10);
                *ret_zip64 = ZIP_NO_ZIP64;
                if (*ret_entries == 0xFFFF && i >= base + ZIP64_LOCATOR_SIZE &&
                    le32(p - ZIP64_LOCATOR_SIZE) == 0x07064b50) {
                        off = le64(p - ZIP64_LOCATOR_SIZE + 8);
                        if (off > len || len - off < ZIP64_RECORD_SIZE)
                                return -EBADMSG;
                        *ret_zip64 = off;
                }
                return 0;
        }
        return -EBADMSG;
}

/* APPNOTE 4.3.14: total entries at offset 32 of the zip64 end of central directory record. */
static int zip64_record_entries(const uint8_t *rec, uint64_t *ret) {
        if (le32(rec) != 0x06064b50)
                return -EBADMSG;
        *ret = le64(rec + 32);
        return 0;
}

int ext_zip_declared_entries(const void *zip, size_t len, uint64_t *ret) {
        uint64_t n, zip64;
        int r;

        r = zip_scan_tail(zip, len, len, &n, &zip64);
        if (r < 0)
                return r;
        if (zip64 != ZIP_NO_ZIP64)
                return zip64_record_entries((const uint8_t *) zip + zip64, ret);
        *ret = n;
        return 0;
}

static int pread_exact(int fd, void *buf, size_t size, uint64_t offset) {
        for (size_t done = 0; done < size;) {
                ssize_t k = pread(fd, (uint8_t *) buf + done, size - done, (off_t) (offset + done));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return -EIO; /* the file shrank under us */
                done += (size_t) k;
        }
        return 0;
}

static int pwrite_all(int fd, const void *buf, size_t size, uint64_t offset) {
        for (size_t done = 0; done < size;) {
                ssize_t k = pwrite(fd, (const uint8_t *) buf + done, size - done, (off_t) (offset + done));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                done += (size_t) k;
        }
        return 0;
}

/* ext_zip_declared_entries() over a file of len bytes: only its tail (and a zip64 record) are read. */
static int zip_fd_declared_entries(int fd, uint64_t len, uint64_t *ret) {
        size_t n = (size_t) MIN(len, (uint64_t) ZIP_TAIL_MAX);
        _cleanup_free_ uint8_t *tail = malloc(MAX(n, (size_t) 1));
        uint8_t rec[ZIP64_RECORD_SIZE];
        uint64_t entries, zip64;
        int r;

        if (!tail)
                return -ENOMEM;
        r = pread_exact(fd, tail, n, len - n);
        if (r < 0)
                return r;
        r = zip_scan_tail(tail, n, len, &entries, &zip64);
        if (r < 0)
                return r;
        if (zip64 == ZIP_NO_ZIP64) {
                *ret = entries;
                return 0;
        }
        r = pread_exact(fd, rec, sizeof rec, zip64);
        if (r < 0)
                return r;
        return zip64_record_entries(rec, ret);
}

/* ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS / SECURE_NODOTDOT, on the entry name. Returns the name without
 * leading "./" and trailing '/', or NULL. */
static char *entry_path_normalize(const char *p) {
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *out = NULL;
        size_t n = 0;

        if (isempty(p) || p[0] == '/' || strlen(p) > EXT_PACKAGE_PATH_MAX || strchr(p, '\\'))
                return NULL;
        if (strv_split(p, "/", &parts) < 0)
                return NULL;
        for (char **c = parts; c && *c; c++) {
                if (streq(*c, ".."))
                        return NULL;
                if (streq(*c, "."))
                        continue;
                for (const char *s = *c; *s; s++)
                        if ((unsigned char) *s < 0x20)
                                return NULL;
                n += strlen(*c) + 1;
        }
        if (n == 0 || !(out = calloc(1, n)))
                return NULL;
        for (char **c = parts; c && *c; c++)
                if (!streq(*c, ".")) {
                        if (out[0])
                                strcat(out, "/");
                        strcat(out, *c);
                }
        return TAKE_PTR(out);
}

/* ARCHIVE_EXTRACT_SECURE_SYMLINKS plus: the target, resolved lexically from the link's directory, must stay
 * inside the package directory. */
static bool symlink_target_is_contained(const char *link_path, const char *target) {
        _cleanup_strv_free_ char **parts = NULL;
        int depth = 0;

        if (isempty(target) || target[0] == '/' || strlen(target) > EXT_PACKAGE_PATH_MAX)
                return false;
        for (const char *s = link_path; *s; s++)
                if (*s == '/')
                        depth++;
        if (strv_split(target, "/", &parts) < 0)
                return false;
        for (char **c = parts; c && *c; c++) {
                if (streq(*c, ".."))
                        depth--;
                else if (!streq(*c, "."))
                        depth++;
                if (depth < 0)
                        return false;
        }
        return true;
}

/* mkdir -p of the directory part of path (or all of it with whole=true), never through symlinks. */
static int mkdir_parents_beneath(int dir_fd, const char *path, bool whole) {
        _cleanup_free_ char *copy = strdup(path);
        char *end;

        if (!copy)
                return -ENOMEM;
        if (!whole) {
                end = strrchr(copy, '/');
                if (!end)
                        return 0;
                *end = 0;
        }
        for (char *p = copy;; p++) {
                bool last = *p == 0;

                if (*p == '/' || last) {
                        _cleanup_close_ int fd = -EBADF;
                        char saved = *p;
                        const char *slash;

                        *p = 0;
                        slash = strrchr(copy, '/');
                        if (slash) {
                                _cleanup_free_ char *parent = strndup(copy, (size_t) (slash - copy));

                                if (!parent)
                                        return -ENOMEM;
                                fd = open_nofollow_beneath(dir_fd, parent, O_PATH | O_DIRECTORY, 0);
                                if (fd < 0)
                                        return fd;
                        }
                        if (mkdirat(fd >= 0 ? fd : dir_fd, slash ? slash + 1 : copy, 0755) < 0 &&
                            errno != EEXIST)
                                return -errno;
                        *p = saved;
                }
                if (last)
                        break;
        }
        return 0;
}

static int extract_data(struct archive *a, int fd, uint64_t max_entry, uint64_t *total, uint64_t max_total,
                        char **ret_error, const char *path) {
        uint64_t written = 0;

        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r = sym_archive_read_data_block(a, &buf, &size, &offset);

                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return ext_error(ret_error, -EBADMSG, "Corrupt entry '%s': %s", path,
                                         sym_archive_error_string(a));
                if (offset < 0 || (uint64_t) offset + size > max_entry || (uint64_t) offset + size < written)
                        return ext_error(ret_error, -EFBIG, "Entry '%s' inflates beyond %" PRIu64 " bytes",
                                         path, max_entry);
                *total += (uint64_t) offset + size - MIN(written, (uint64_t) offset + size);
                written = MAX(written, (uint64_t) offset + size);
                if (*total > max_total)
                        return ext_error(ret_error, -EFBIG, "Package inflates beyond %" PRIu64 " bytes",
                                         max_total);
                r = pwrite_all(fd, buf, size, (uint64_t) offset);
                if (r < 0)
                        return r;
        }
}

static int extract_entry(struct archive *a, struct archive_entry *e, int dir_fd, const ExtPackageLimits *lim,
                         uint64_t *total, char **ret_error) {
        const char *raw = sym_archive_entry_pathname(e);
        _cleanup_free_ char *path = entry_path_normalize(raw);
        mode_t type = sym_archive_entry_filetype(e);
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!path)
                return ext_error(ret_error, -EBADMSG, "Refusing entry with unsafe path '%s'", strna(raw));
        if (sym_archive_entry_hardlink(e))
                return ext_error(ret_error, -EBADMSG, "Refusing hard link entry '%s'", path);
        if (sym_archive_entry_size_is_set(e) && (uint64_t) sym_archive_entry_size(e) > lim->max_entry_size)
                return ext_error(ret_error, -EFBIG,
                                 "Entry '%s' declares %" PRId64 " bytes (limit %" PRIu64 ")", path,
                                 (int64_t) sym_archive_entry_size(e), lim->max_entry_size);
        r = mkdir_parents_beneath(dir_fd, path, type == AE_IFDIR);
        if (r < 0)
                return ext_error(ret_error, r, "Cannot create the directory of '%s': %s", path,
                                 strerror(-r));

        switch (type) {
        case AE_IFDIR:
                return 0;
        case AE_IFLNK: {
                const char *target = sym_archive_entry_symlink(e);
                _cleanup_free_ char *parent = NULL;
                _cleanup_close_ int pfd = -EBADF;
                const char *slash = strrchr(path, '/');

                if (!symlink_target_is_contained(path, target))
                        return ext_error(ret_error, -EBADMSG,
                                         "Refusing symlink '%s' -> '%s' escaping the package", path,
                                         strna(target));
                if (slash) {
                        parent = strndup(path, (size_t) (slash - path));
                        if (!parent)
                                return -ENOMEM;
                        pfd = open_nofollow_beneath(dir_fd, parent, O_PATH | O_DIRECTORY, 0);
                        if (pfd < 0)
                                return ext_error(ret_error, pfd, "Cannot open '%s'", parent);
                }
                if (symlinkat(target, pfd >= 0 ? pfd : dir_fd, slash ? slash + 1 : path) < 0)
                        return ext_error(ret_error, -errno, "Cannot create symlink '%s'", path);
                return 0;
        }
        case AE_IFREG:
                /* 0644 + u+x: what zipfile.extractall() + waagent's chmod produce (§4.1). */
                fd = open_nofollow_beneath(dir_fd, path, O_WRONLY | O_CREAT | O_TRUNC, 0744);
                if (fd < 0)
                        return ext_error(ret_error, fd, "Cannot create '%s': %s", path, strerror(-fd));
                if (fchmod(fd, 0744) < 0)
                        return -errno;
                return extract_data(a, fd, lim->max_entry_size, total, lim->max_total_size, ret_error, path);
        default:
                return ext_error(ret_error, -EBADMSG, "Refusing special file entry '%s' (type 0%o)", path,
                                 (unsigned) type);
        }
}

/* Every symlink of the extracted tree, resolved beneath it now that all entries exist: a chain such as
 * a -> b/.., b -> . passes the lexical check of each link alone but leads outside. */
static int check_symlinks(int dir_fd, const char *prefix, unsigned depth, char **ret_error) {
        _cleanup_strv_free_ char **subdirs = NULL;
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        int r = 0;

        if (depth > EXT_PACKAGE_PATH_MAX / 2)
                return ext_error(ret_error, -ELOOP, "Package nests directories too deeply");
        fd = prefix ? open_nofollow_beneath(dir_fd, prefix, O_RDONLY | O_DIRECTORY, 0)
                    : openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -EBADF;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                _cleanup_free_ char *p = NULL, *resolved = NULL;
                char target[EXT_PACKAGE_PATH_MAX + 1];
                struct stat st;
                ssize_t n;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&p, "%s%s%s", strempty(prefix), prefix ? "/" : "", de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                if (S_ISDIR(st.st_mode)) {
                        r = strv_push(&subdirs, p);
                        if (r >= 0)
                                p = NULL;
                        continue;
                }
                if (!S_ISLNK(st.st_mode))
                        continue;
                r = resolve_beneath(dir_fd, p, true, &resolved);
                if (r == -EXDEV) {
                        n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
                        target[MAX(n, (ssize_t) 0)] = 0;
                        r = ext_error(ret_error, -EXDEV,
                                      "Refusing symlink '%s' -> '%s': it resolves outside the package", p,
                                      target);
                } else if (r == -ELOOP || r == -ENOTDIR || r == -ENAMETOOLONG)
                        r = 0; /* resolves nowhere: harmless */
        }
        closedir(d);
        for (char **s = subdirs; r >= 0 && s && *s; s++)
                r = check_symlinks(dir_fd, *s, depth + 1, ret_error);
        return r;
}

int ext_package_extract(int dir_fd, int zip_fd, const ExtPackageLimits *limits, char **ret_error) {
        _cleanup_(archive_dl_closep) void *libarchive = NULL;
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        _cleanup_free_ char *dl_error = NULL;
        const ExtPackageLimits *lim = limits ?: &default_limits;
        uint64_t declared, entries = 0, total = 0;
        struct stat st;
        int r;

        if (fstat(zip_fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > EXT_PACKAGE_ZIP_MAX)
                return ext_error(ret_error, -EFBIG, "Package exceeds %llu bytes", EXT_PACKAGE_ZIP_MAX);
        r = zip_fd_declared_entries(zip_fd, (uint64_t) st.st_size, &declared);
        if (r == -EBADMSG)
                return ext_error(ret_error, r, "Package is not a zip archive");
        if (r < 0)
                return ext_error(ret_error, r, "Cannot read the package: %s", strerror(-r));
        if (declared > lim->max_entries)
                return ext_error(ret_error, -E2BIG,
                                 "Package declares %" PRIu64 " entries (limit %" PRIu64 ")", declared,
                                 lim->max_entries);

        r = archive_dl_open(&libarchive, &dl_error);
        if (r < 0)
                return ext_error(ret_error, r, "Cannot load " ARCHIVE_SONAME ": %s", strna(dl_error));
        a = sym_archive_read_new();
        if (!a)
                return -ENOMEM;
        if (lseek(zip_fd, 0, SEEK_SET) < 0)
                return -errno;
        if (sym_archive_read_support_format_zip(a) != ARCHIVE_OK ||
            sym_archive_read_open_fd(a, zip_fd, ZIP_READ_BLOCK) != ARCHIVE_OK)
                return ext_error(ret_error, -EBADMSG, "Cannot open package: %s",
                                 strna(sym_archive_error_string(a)));
        for (;;) {
                struct archive_entry *e;

                r = sym_archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return ext_error(ret_error, -EBADMSG, "Corrupt package: %s",
                                         strna(sym_archive_error_string(a)));
                if (++entries > lim->max_entries)
                        return ext_error(ret_error, -E2BIG, "Package holds more than %" PRIu64 " entries",
                                         lim->max_entries);
                r = extract_entry(a, e, dir_fd, lim, &total, ret_error);
                if (r < 0)
                        return r;
        }
        return check_symlinks(dir_fd, NULL, 0, ret_error);
}

/* Breadth-first search for HandlerManifest.json (waagent: anywhere in the tree; the shallowest wins). */
static int find_manifest(int dir_fd, const char *prefix, unsigned depth, char **ret) {
        _cleanup_strv_free_ char **subdirs = NULL;
        _cleanup_close_ int fd = -EBADF;
        DIR *d;

        if (depth > 16)
                return -ENOENT;
        fd = prefix ? open_nofollow_beneath(dir_fd, prefix, O_RDONLY | O_DIRECTORY, 0)
                    : openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -EBADF;
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *p = NULL;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&p, "%s%s%s", strempty(prefix), prefix ? "/" : "", de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
                if (de->d_type == DT_REG && streq(de->d_name, "HandlerManifest.json")) {
                        closedir(d);
                        *ret = TAKE_PTR(p);
                        return 0;
                }
                if (de->d_type == DT_DIR && strv_push(&subdirs, p) >= 0)
                        p = NULL;
        }
        closedir(d);
        for (char **s = subdirs; s && *s; s++)
                if (find_manifest(dir_fd, *s, depth + 1, ret) == 0)
                        return 0;
        return -ENOENT;
}

int ext_package_locate_manifest(int dir_fd, HandlerManifest *ret, int *ret_code, char **ret_error) {
        _cleanup_free_ char *path = NULL, *buf = NULL, *error = NULL;
        _cleanup_close_ int fd = -EBADF, out = -EBADF;
        const char *data;
        size_t size, n;
        int r;

        r = find_manifest(dir_fd, NULL, 0, &path);
        if (r < 0) {
                *ret_code = EXT_CODE_HANDLER_MANIFEST_NOT_FOUND;
                return ext_error(ret_error, -ENOENT, "HandlerManifest.json not found in the package");
        }
        fd = open_nofollow_beneath(dir_fd, path, O_RDONLY, 0);
        if (fd < 0)
                return fd;
        r = read_full_fd(fd, HANDLER_MANIFEST_MAX, &buf, &size);
        if (r < 0) {
                *ret_code = EXT_CODE_HANDLER_MANIFEST_DESERIALIZATION;
                return ext_error(ret_error, r, "Cannot read %s", path);
        }
        data = buf;
        n = size;
        if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
                data += 3;
                n -= 3;
        }
        if (!streq(path, "HandlerManifest.json")) {
                /* Copied to the root with the BOM stripped (§4.1). */
                out = open_nofollow_beneath(dir_fd, "HandlerManifest.json", O_WRONLY | O_CREAT | O_TRUNC,
                                            0744);
                if (out < 0)
                        return out;
                if (n > 0 && write(out, data, n) != (ssize_t) n)
                        return negative_errno();
        }
        r = handler_manifest_parse(data, n, ret, &error);
        if (r < 0) {
                *ret_code = EXT_CODE_HANDLER_MANIFEST_DESERIALIZATION;
                return ext_error(ret_error, r, "%s", strna(error));
        }
        return 0;
}

int ext_package_make_executable(int dir_fd) {
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        int r = 0;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -EBADF;
        for (struct dirent *de; (de = readdir(d));) {
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISREG(st.st_mode))
                        (void) fchmodat(dirfd(d), de->d_name, (st.st_mode & 07777) | S_IXUSR, 0);
                else if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dirfd(d), de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0 && (r = ext_package_make_executable(sub)) < 0)
                                break;
                }
        }
        closedir(d);
        return r;
}

/* content: the zip bytes, read (and digested) in chunks by CMS_verify(). */
static int signature_verify_bio(BIO *content, const char *encoded_signature, const char *root_pem,
                                char **ret_error) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        _cleanup_bio_ BIO *roots = NULL;
        _cleanup_free_ void *der = NULL;
        const unsigned char *p;
        char oid[64];
        size_t der_len;
        int r, n = 0;

        if (isempty(root_pem))
                return ext_error(ret_error, -ENOKEY, "No trusted root certificate available");
        r = base64_decode(encoded_signature, strlen(encoded_signature), &der, &der_len);
        if (r < 0)
                return ext_error(ret_error, -EBADMSG, "encodedSignature is not base64");
        p = der;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long) der_len);
        if (!cms || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
                return ext_error(ret_error, -EBADMSG, "encodedSignature is not a CMS SignedData");
        if (OBJ_obj2txt(oid, sizeof oid, CMS_get0_eContentType(cms), 1) > 0)
                log_debug("Package signature eContentType %s", oid);

        store = X509_STORE_new();
        roots = BIO_new_mem_buf(root_pem, -1);
        if (!store || !roots)
                return -ENOMEM;
        for (X509 *x; (x = PEM_read_bio_X509(roots, NULL, NULL, NULL)); n++) {
                int ok = X509_STORE_add_cert(store, x);
                X509_free(x);
                if (!ok)
                        return -ENOMEM;
        }
        ERR_clear_error();
        if (n == 0)
                return ext_error(ret_error, -ENOKEY, "No certificate in the trusted root PEM");
        /* openssl cms -verify -binary -purpose any -no_check_time (§4.11). */
        if (X509_STORE_set_purpose(store, X509_PURPOSE_ANY) != 1)
                return -EINVAL;
        X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME);
        if (CMS_verify(cms, NULL, store, content, NULL, CMS_BINARY) != 1) {
                unsigned long e = ERR_peek_last_error();
                char buf[256];

                /* The signer's chain is checked first (CMS_R_CERTIFICATE_VERIFY_ERROR), then the digest. */
                ERR_error_string_n(e, buf, sizeof buf);
                ERR_clear_error();
                if (ERR_GET_LIB(e) == ERR_LIB_CMS && ERR_GET_REASON(e) == CMS_R_CERTIFICATE_VERIFY_ERROR)
                        return ext_error(ret_error, -EKEYREJECTED, "Signature verification failed: %s", buf);
                return ext_error(ret_error, -EBADMSG, "Signature verification failed: %s", buf);
        }
        return 0;
}

int ext_signature_verify(const void *zip, size_t len, const char *encoded_signature, const char *root_pem,
                         char **ret_error) {
        _cleanup_bio_ BIO *content = BIO_new_mem_buf(zip, (int) MIN(len, (size_t) INT32_MAX));

        if (!content)
                return -ENOMEM;
        return signature_verify_bio(content, encoded_signature, root_pem, ret_error);
}

int ext_signature_verify_fd(int zip_fd, const char *encoded_signature, const char *root_pem,
                            char **ret_error) {
        _cleanup_bio_ BIO *content = NULL;

        if (lseek(zip_fd, 0, SEEK_SET) < 0)
                return -errno;
        content = BIO_new_fd(zip_fd, BIO_NOCLOSE);
        if (!content)
                return -ENOMEM;
        return signature_verify_bio(content, encoded_signature, root_pem, ret_error);
}

int ext_signing_root_read(int root_fd, char **ret) {
        return read_file_in_root(root_fd, EXT_SIGNING_ROOT_PATH_DEFAULT, 64U * 1024U, ret, NULL);
}

int ext_signing_info_check(const HandlerManifest *m, const char *name, const char *version,
                           char **ret_error) {
        const char *dot = strrchr(name, '.');
        size_t plen = dot ? (size_t) (dot - name) : 0;

        if (!m->signing_type || !m->signing_publisher || !m->signing_version)
                return ext_error(ret_error, -ENODATA, "HandlerManifest.json has no signingInfo");
        if (!dot || strcasecmp(m->signing_type, dot + 1) != 0 || strlen(m->signing_publisher) != plen ||
            strncasecmp(m->signing_publisher, name, plen) != 0 ||
            strcasecmp(m->signing_version, version) != 0)
                return ext_error(ret_error, -EBADMSG,
                                 "signingInfo (%s, %s, %s) does not match extension %s version %s",
                                 m->signing_publisher, m->signing_type, m->signing_version, name, version);
        return 0;
}

static int report_fail(ExtPackageReport *rep, int code, int r, const char *error) {
        rep->code = code;
        (void) free_and_strdup(&rep->error, error ?: strerror(-r));
        return r;
}

static const char *const ext_signature_state_table[_EXT_SIGNATURE_STATE_MAX] = {
        [EXT_SIGNATURE_NOT_CHECKED] = "not checked",
        [EXT_SIGNATURE_VALID] = "valid",
        [EXT_SIGNATURE_NOT_SIGNED] = "not signed",
        [EXT_SIGNATURE_BAD] = "signature does not verify",
        [EXT_SIGNATURE_UNTRUSTED] = "signer not trusted",
        [EXT_SIGNATURE_SIGNING_INFO] = "signingInfo does not match",
};

DEFINE_STRING_TABLE_LOOKUP(ext_signature_state, ExtSignatureState);

int ext_package_signature_read(int handler_dir_fd, ExtSignatureState *ret, char **ret_detail) {
        _cleanup_free_ char *text = NULL;
        ExtSignatureState s;
        size_t size;
        char *nl;
        int r;

        if (faccessat(handler_dir_fd, EXT_SIGNATURE_VALIDATED_FILE, F_OK, AT_SYMLINK_NOFOLLOW) >= 0) {
                *ret = EXT_SIGNATURE_VALID;
                if (ret_detail)
                        *ret_detail = NULL;
                return 0;
        }
        r = read_file_beneath(handler_dir_fd, EXT_SIGNATURE_NOT_VALIDATED_FILE, 4096, &text, &size);
        if (r == -ENOENT) {
                *ret = EXT_SIGNATURE_NOT_CHECKED;
                if (ret_detail)
                        *ret_detail = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        nl = strchr(text, '\n');
        if (nl)
                *nl++ = 0;
        s = ext_signature_state_from_string(text);
        if (s < 0 || s == EXT_SIGNATURE_VALID || s == EXT_SIGNATURE_NOT_CHECKED)
                return -EBADMSG;
        if (ret_detail) {
                *ret_detail = nl && !isempty(strstrip(nl)) ? strdup(nl) : NULL;
                if (nl && !isempty(nl) && !*ret_detail)
                        return -ENOMEM;
        }
        *ret = s;
        return 0;
}

/* §4.11 before anything is written: the CMS signature over the zip (the signingInfo check needs the manifest and
 * comes after extraction). Sets rep->signature/signature_error; returns whether the package may go on. */
static bool signature_precheck(ExtPackageReport *rep, SignatureMode mode, int zip_fd,
                               const ExtPackageOptions *o) {
        _cleanup_free_ char *detail = NULL;
        int r;

        if (mode == SIGNATURE_MODE_OFF) {
                rep->signature = EXT_SIGNATURE_NOT_CHECKED;
                return true;
        }
        if (isempty(o->encoded_signature)) {
                rep->signature = EXT_SIGNATURE_NOT_SIGNED;
                detail = strdup("the goal state carries no encodedSignature for it");
        } else {
                r = ext_signature_verify_fd(zip_fd, o->encoded_signature, o->signing_root_pem, &detail);
                rep->signature = r >= 0                               ? EXT_SIGNATURE_VALID
                                 : r == -EKEYREJECTED || r == -ENOKEY ? EXT_SIGNATURE_UNTRUSTED
                                                                      : EXT_SIGNATURE_BAD;
        }
        rep->signature_error = TAKE_PTR(detail);
        return rep->signature == EXT_SIGNATURE_VALID || mode != SIGNATURE_MODE_ENFORCE;
}

/* enforce: the package is refused, nothing of it stays (§4.11, waagent's PackageValidationError path). An
 * unsigned package is what waagent's policy refuses with PluginEnableProcessingFailed ("must be signed"), a bad
 * one with PluginInstallProcessingFailed. */
static int signature_refuse(ExtPackageReport *rep, const char *name, const char *version) {
        _cleanup_free_ char *msg = NULL;

        rep->signature_refused = true;
        if (asprintf(&msg, "Package %s %s refused (SignatureValidation=enforce): %s%s%s", name, version,
                     ext_signature_state_to_string(rep->signature), rep->signature_error ? ": " : "",
                     strempty(rep->signature_error)) < 0)
                msg = NULL;
        return report_fail(rep,
                           rep->signature == EXT_SIGNATURE_NOT_SIGNED ? EXT_CODE_SIGNATURE_REQUIRED
                                                                      : EXT_CODE_SIGNATURE_VALIDATION_FAILED,
                           -EKEYREJECTED, msg ?: "Package refused (SignatureValidation=enforce)");
}

/* Replaces whatever the package brought under the marker names with the recorded state (see ExtSignatureState). */
static int signature_record(int dir_fd, const ExtPackageReport *rep, WriteBatch *batch) {
        _cleanup_free_ char *text = NULL;
        int r;

        if ((r = ext_rm_rf_at(dir_fd, EXT_SIGNATURE_VALIDATED_FILE)) < 0 ||
            (r = ext_rm_rf_at(dir_fd, EXT_SIGNATURE_NOT_VALIDATED_FILE)) < 0)
                return r;
        switch (rep->signature) {
        case EXT_SIGNATURE_NOT_CHECKED:
                return 0;
        case EXT_SIGNATURE_VALID:
                return write_file_atomic_beneath(batch, dir_fd, EXT_SIGNATURE_VALIDATED_FILE, "", 0, 0644,
                                                 false);
        case EXT_SIGNATURE_NOT_SIGNED:
        case EXT_SIGNATURE_BAD:
        case EXT_SIGNATURE_UNTRUSTED:
        case EXT_SIGNATURE_SIGNING_INFO:
                if (asprintf(&text, "%s\n%s\n", ext_signature_state_to_string(rep->signature),
                             strempty(rep->signature_error)) < 0)
                        return -ENOMEM;
                return write_file_atomic_beneath(batch, dir_fd, EXT_SIGNATURE_NOT_VALIDATED_FILE, text,
                                                 strlen(text), 0644, false);
        case _EXT_SIGNATURE_STATE_MAX:
        case _EXT_SIGNATURE_STATE_INVALID:
                break;
        }
        return -EINVAL;
}

int ext_package_download_file(int root_fd, const char *lib_dir, int *ret_fd) {
        _cleanup_close_ int lib_fd = -EBADF, fd = -EBADF;
        int r;

        r = mkdir_p_in_root(root_fd, lib_dir, 0755);
        if (r < 0)
                return r;
        lib_fd = open_in_root(root_fd, lib_dir, O_RDONLY | O_DIRECTORY, 0);
        if (lib_fd < 0)
                return lib_fd;
        fd = openat(lib_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
                /* No O_TMPFILE (e.g. overlayfs before Linux 6.6): a named file, unlinked at once. */
                char name[64], uuid[37];

                r = uuid_random(uuid);
                if (r < 0)
                        return r;
                (void) snprintf(name, sizeof name, ".package-%s.tmp", uuid);
                fd = openat(lib_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0 && unlinkat(lib_fd, name, 0) < 0)
                        return -errno;
        }
        if (fd < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int extension_package_install_from_zip(Context *c, const char *name, const char *version, const void *zip,
                                       size_t len, const ExtPackageOptions *opts, ExtPackageReport *report) {
        _cleanup_close_ int fd = memfd_create("package", MFD_CLOEXEC);
        int r;

        *report = (ExtPackageReport){};
        r = fd < 0 ? -errno : pwrite_all(fd, zip, len, 0);
        if (r < 0)
                return report_fail(report, EXT_CODE_PACKAGE_EXTRACTION_FAILED, r,
                                   "Cannot buffer the package");
        return extension_package_install(c, name, version, fd, opts, report);
}

int extension_package_install(Context *c, const char *name, const char *version, int zip_fd,
                              const ExtPackageOptions *opts, ExtPackageReport *report) {
        static const ExtPackageOptions no_opts = {};
        _cleanup_(write_batch_done) WriteBatch own_batch = {};
        WriteBatch *batch;
        _cleanup_(handler_manifest_done) HandlerManifest m = {};
        _cleanup_free_ char *error = NULL, *dirname = NULL, *info_error = NULL;
        _cleanup_close_ int lib_fd = -EBADF, dir_fd = -EBADF;
        SignatureMode mode = c->config.signature_mode;
        ExtLayout l;
        int r, code = EXT_CODE_PACKAGE_EXTRACTION_FAILED;

        opts = opts ?: &no_opts;
        batch = opts->batch ?: &own_batch;
        *report = (ExtPackageReport){};
        if (!ext_handler_name_is_valid(name) || !ext_handler_version_is_valid(version))
                return report_fail(report, EXT_CODE_PACKAGE_EXTRACTION_FAILED, -EINVAL,
                                   "Invalid handler name");
        ext_layout_init(&l, c, opts->log_dir);

        /* §4.11: validation before anything touches the disk, so that enforce mode writes nothing. */
        if (!signature_precheck(report, mode, zip_fd, opts))
                return signature_refuse(report, name, version);

        if (asprintf(&dirname, "%s-%s", name, version) < 0)
                return -ENOMEM;
        r = mkdir_p_in_root(l.root_fd, l.lib_dir, 0755);
        if (r < 0)
                return report_fail(report, code, r, "Cannot create the extensions directory");
        lib_fd = open_in_root(l.root_fd, l.lib_dir, O_RDONLY | O_DIRECTORY, 0);
        if (lib_fd < 0)
                return report_fail(report, code, lib_fd, "Cannot open the extensions directory");
        r = ext_rm_rf_at(lib_fd, dirname);
        if (r < 0)
                return report_fail(report, code, r, "Cannot remove the previous handler directory");
        if (mkdirat(lib_fd, dirname, 0755) < 0)
                return report_fail(report, code, -errno, "Cannot create the handler directory");
        dir_fd = openat(lib_fd, dirname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir_fd < 0)
                return report_fail(report, code, -errno, "Cannot open the handler directory");

        r = ext_package_extract(dir_fd, zip_fd, opts->limits, &error);
        if (r >= 0)
                r = ext_package_locate_manifest(dir_fd, &m, &code, &error);
        if (r >= 0 && report->signature == EXT_SIGNATURE_VALID &&
            ext_signing_info_check(&m, name, version, &info_error) < 0) {
                report->signature = EXT_SIGNATURE_SIGNING_INFO;
                free(report->signature_error);
                report->signature_error = TAKE_PTR(info_error);
                if (mode == SIGNATURE_MODE_ENFORCE) {
                        closep(&dir_fd);
                        (void) ext_rm_rf_at(lib_fd, dirname);
                        return signature_refuse(report, name, version);
                }
        }
        if (r >= 0)
                r = ext_package_make_executable(dir_fd);
        /* One group commit for the package's own files (and, with opts->batch, the caller's HandlerState). */
        if (r >= 0)
                r = signature_record(dir_fd, report, batch);
        if (r >= 0)
                r = handler_environment_write(&l, name, version, batch);
        if (r >= 0 && batch == &own_batch)
                r = write_batch_commit(&own_batch);
        if (r < 0) {
                closep(&dir_fd);
                (void) ext_rm_rf_at(lib_fd, dirname);
                return report_fail(report, code, r, error);
        }
        return 0;
}

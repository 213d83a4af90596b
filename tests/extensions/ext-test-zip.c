/* SPDX-License-Identifier: MIT */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ext-test-zip.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

static int mem_write_open(struct archive *a, void *userdata) {
        return ARCHIVE_OK;
}

static la_ssize_t mem_write(struct archive *a, void *userdata, const void *buf, size_t n) {
        return fwrite(buf, 1, n, userdata) == n ? (la_ssize_t) n : -1;
}

static struct archive *zip_begin(FILE **f, char **buf, size_t *size, bool store) {
        struct archive *a = archive_write_new();

        *f = open_memstream(buf, size);
        assert_non_null(*f);
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
        if (store)
                assert_int_equal(archive_write_set_options(a, "zip:compression=store"), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
        assert_int_equal(archive_write_open2(a, *f, mem_write_open, mem_write, NULL, NULL), ARCHIVE_OK);
        return a;
}

static void zip_end(struct archive *a, FILE *f, char **buf, size_t *size, void **ret, size_t *ret_size) {
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        assert_int_equal(fclose(f), 0);
        *ret = *buf;
        *ret_size = *size;
}

static void add_entry(struct archive *a, const TestZipEntry *t) {
        struct archive_entry *e = archive_entry_new();
        size_t len = t->content ? strlen(t->content) : 0;

        archive_entry_set_pathname(e, t->name);
        if (t->symlink) {
                archive_entry_set_filetype(e, AE_IFLNK);
                archive_entry_set_symlink(e, t->symlink);
                archive_entry_set_perm(e, 0777);
                len = 0;
        } else {
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, t->mode ?: 0644);
        }
        archive_entry_set_size(e, (la_int64_t) len);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len > 0)
                assert_int_equal(archive_write_data(a, t->content, len), (la_ssize_t) len);
        archive_entry_free(e);
}

void test_zip_entries(const TestZipEntry *entries, size_t n, void **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        struct archive *a = zip_begin(&f, &buf, &size, false);

        for (size_t i = 0; i < n; i++)
                add_entry(a, &entries[i]);
        zip_end(a, f, &buf, &size, ret, ret_size);
}

void test_zip_dir(const char *dir, const char *prefix, void **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        struct archive *a = zip_begin(&f, &buf, &size, false);
        DIR *d = opendir(dir);

        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *path = NULL, *content = NULL, *name = NULL;
                _cleanup_close_ int fd = -EBADF;
                struct stat st;
                size_t n;

                if (de->d_name[0] == '.')
                        continue;
                assert_true(asprintf(&path, "%s/%s", dir, de->d_name) > 0);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(fstat(fd, &st), 0);
                if (!S_ISREG(st.st_mode))
                        continue;
                assert_int_equal(read_full_fd(fd, 1024 * 1024, &content, &n), 0);
                assert_true(asprintf(&name, "%s%s%s", prefix ?: "", prefix ? "/" : "", de->d_name) > 0);
                /* zips made on Windows carry no modes: store 0644 and let the agent add u+x (§4.1) */
                add_entry(a, &(TestZipEntry){.name = name, .content = content, .mode = 0644});
        }
        closedir(d);
        zip_end(a, f, &buf, &size, ret, ret_size);
}

void test_zip_many(size_t n, void **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        struct archive *a = zip_begin(&f, &buf, &size, true);
        struct archive_entry *e = archive_entry_new();

        for (size_t i = 0; i < n; i++) {
                char name[32];

                (void) snprintf(name, sizeof name, "f/%zu", i);
                archive_entry_clear(e);
                archive_entry_set_pathname(e, name);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, 0);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        }
        archive_entry_free(e);
        zip_end(a, f, &buf, &size, ret, ret_size);
}

static void put16(FILE *f, unsigned v) {
        fputc(v & 0xff, f);
        fputc((v >> 8) & 0xff, f);
}
static void put32(FILE *f, uint32_t v) {
        put16(f, v & 0xffff);
        put16(f, v >> 16);
}
static void put64(FILE *f, uint64_t v) {
        put32(f, (uint32_t) v);
        put32(f, (uint32_t) (v >> 32));
}

void test_zip_declared_size(const char *name, uint64_t declared, void **ret, size_t *ret_size) {
        /* APPNOTE.TXT 4.3.7 local header, 4.3.12 central header, 4.5.3 zip64 extra, 4.3.16 EOCD. */
        char *buf = NULL;
        size_t size = 0, nlen = strlen(name);
        const char data[] = "0000";
        FILE *f = open_memstream(&buf, &size);
        long cd_offset, cd_end;

        assert_non_null(f);
        put32(f, 0x04034b50);
        put16(f, 45);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0x21);
        put32(f, 0);
        put32(f, 0xFFFFFFFF);
        put32(f, 0xFFFFFFFF);
        put16(f, (unsigned) nlen);
        put16(f, 20);
        fwrite(name, 1, nlen, f);
        put16(f, 0x0001);
        put16(f, 16);
        put64(f, declared);
        put64(f, sizeof data - 1);
        fwrite(data, 1, sizeof data - 1, f);
        cd_offset = ftell(f);
        put32(f, 0x02014b50);
        put16(f, 0x031e);
        put16(f, 45);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0x21);
        put32(f, 0);
        put32(f, 0xFFFFFFFF);
        put32(f, 0xFFFFFFFF);
        put16(f, (unsigned) nlen);
        put16(f, 20);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0);
        put32(f, 0100644U << 16);
        put32(f, 0);
        fwrite(name, 1, nlen, f);
        put16(f, 0x0001);
        put16(f, 16);
        put64(f, declared);
        put64(f, sizeof data - 1);
        cd_end = ftell(f);
        put32(f, 0x06054b50);
        put16(f, 0);
        put16(f, 0);
        put16(f, 1);
        put16(f, 1);
        put32(f, (uint32_t) (cd_end - cd_offset));
        put32(f, (uint32_t) cd_offset);
        put16(f, 0);
        assert_int_equal(fclose(f), 0);
        *ret = buf;
        *ret_size = size;
}

char *test_handler_dir(const char *name) {
        const char *src = getenv("AZL_SOURCE_ROOT");
        char *p = NULL;

        assert_non_null(src);
        assert_true(asprintf(&p, "%s/tests/extensions/handlers/%s", src, name) > 0);
        return p;
}

char *test_sample_handler_dir(void) {
        return test_source_path("tests/fabric/ext/sample-handler");
}

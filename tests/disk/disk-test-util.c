/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/loop.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk-test-util.h"
#include "macro.h"
#include "tests.h"

static char *vformat(const char *fmt, va_list ap) {
        char *s = NULL;

        assert_true(vasprintf(&s, fmt, ap) >= 0);
        return s;
}

int run(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        cmd = vformat(fmt, ap);
        va_end(ap);
        fprintf(stderr, "+ %s\n", cmd);
        r = system(cmd);
        return r < 0 ? -1 : WEXITSTATUS(r);
}

char *run_capture(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f, *out;
        va_list ap;
        int c;

        va_start(ap, fmt);
        cmd = vformat(fmt, ap);
        va_end(ap);
        f = popen(cmd, "re");
        if (!f)
                return NULL;
        out = open_memstream(&buf, &size);
        assert_non_null(out);
        while ((c = fgetc(f)) != EOF)
                fputc(c, out);
        fclose(out);
        if (pclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

bool have_program(const char *name) {
        return run("command -v %s >/dev/null 2>&1", name) == 0;
}

void image_create(const char *path, uint64_t size, const char *script) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) size), 0);
        if (script)
                assert_int_equal(run("printf '%s' | sfdisk -q '%s' >&2", script, path), 0);
}

void sfdisk_table_done(SfdiskTable *t) {
        free(t->label);
        for (size_t i = 0; i < t->n; i++)
                free(t->parts[i].name);
        *t = (SfdiskTable){};
}

static uint64_t json_u64(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        return (uint64_t) json_object_get_int64(v);
}

bool sfdisk_read(const char *dev, SfdiskTable *ret) {
        _cleanup_free_ char *out = run_capture("sfdisk --json '%s'", dev);
        struct json_object *root, *pt, *v, *parts;
        SfdiskTable t = {};

        if (!out)
                return false;
        root = json_tokener_parse(out);
        assert_non_null(root);
        assert_true(json_object_object_get_ex(root, "partitiontable", &pt));
        assert_true(json_object_object_get_ex(pt, "label", &v));
        t.label = strdup(json_object_get_string(v));
        t.lastlba = json_u64(pt, "lastlba");
        if (json_object_object_get_ex(pt, "partitions", &parts))
                for (size_t i = 0; i < json_object_array_length(parts) && i < ELEMENTSOF(t.parts); i++) {
                        struct json_object *p = json_object_array_get_idx(parts, i);

                        t.parts[i].start = json_u64(p, "start");
                        t.parts[i].size = json_u64(p, "size");
                        if (json_object_object_get_ex(p, "name", &v))
                                t.parts[i].name = strdup(json_object_get_string(v));
                        t.n++;
                }
        json_object_put(root);
        *ret = t;
        return true;
}

void *file_slurp(const char *path, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        char *buf;

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        buf = malloc((size_t) st.st_size + 1);
        assert_non_null(buf);
        assert_int_equal(pread(fd, buf, (size_t) st.st_size, 0), st.st_size);
        *ret_size = (size_t) st.st_size;
        return buf;
}

char *loop_attach(const char *image) {
        char *out = run_capture("losetup -fP --show '%s'", image);

        if (!out)
                return NULL;
        out[strcspn(out, "\n")] = 0;
        loop_refresh_partitions(out);
        return out;
}

void loop_detach(const char *loop) {
        if (loop)
                (void) run("losetup -d '%s'", loop);
}

void loop_refresh_partitions(const char *loop) {
        /* Some kernels (this CI's) do not parse partition tables on loop devices; partx adds them via BLKPG.
         * --update also drops partitions that no longer exist. */
        (void) run("partx -u '%s' 2>/dev/null || partx -a '%s' 2>/dev/null; partx -a '%s' 2>/dev/null; true",
                   loop, loop, loop);
}

void loop_set_capacity(const char *loop) {
        _cleanup_close_ int fd = open(loop, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(ioctl(fd, LOOP_SET_CAPACITY, 0), 0);
}

char *loop_partition(const char *loop, unsigned partno) {
        char *p = NULL;

        assert_true(asprintf(&p, "%sp%u", loop, partno) > 0);
        return p;
}

void require_loop_or_skip(void) {
        _cleanup_free_ char *dir = NULL, *img = NULL;
        char *loop;

        require_root_or_skip("loop devices, mount, BLKPG");
        if (!have_program("losetup") || !have_program("sfdisk") || !have_program("partx")) {
                fprintf(stderr, "skipped: losetup/sfdisk/partx missing\n");
                exit(EXIT_TEST_SKIP);
        }
        dir = tmpdir_new();
        assert_true(asprintf(&img, "%s/probe.img", dir) > 0);
        image_create(img, 4 * 1024 * 1024, NULL);
        loop = loop_attach(img);
        if (!loop) {
                tmpdir_remove(dir);
                dir = NULL;
                fprintf(stderr, "skipped: cannot attach a loop device\n");
                exit(EXIT_TEST_SKIP);
        }
        loop_detach(loop);
        free(loop);
        tmpdir_remove(TAKE_PTR(dir));
}

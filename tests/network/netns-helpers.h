/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the root tests of the network provisioner. Every test enters a fresh network namespace of its
 * own (unshare(CLONE_NEWNET) in the cmocka setup; the previous one disappears with its veths), so nothing
 * ever reaches this machine's interfaces, and no packet can leave: the namespaces have no uplink. Links are
 * veth pairs created with ip(8); the kernel state is read back with `ip -j` and parsed with json-c.
 * Tests skip (exit 77) when not root or when namespaces cannot be created.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "strutil.h"
#include "tests.h"

static inline int strcmp_ptr(const char *const *a, const char *const *b) {
        return strcmp(*a, *b);
}

/* Enters a new network namespace, exiting 77 when that is impossible. */
static inline void netns_enter_fresh(void) {
        _cleanup_close_ int fd = -EBADF;

        require_root_or_skip("network namespaces");
        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "skipped: cannot create a network namespace: %m\n");
                exit(EXIT_TEST_SKIP);
        }
        /* No automatic IPv6 link-local addresses: before/after snapshots must not race with them. */
        fd = open("/proc/sys/net/ipv6/conf/default/addr_gen_mode", O_WRONLY | O_CLOEXEC);
        if (fd >= 0)
                (void) !write(fd, "1", 1);
}

_printf_(1, 2) static inline int sh(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        assert_true(r > 0);
        r = system(cmd);
        return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Runs a command and returns its stdout. */
_printf_(1, 2) static inline char *capture(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        size_t size = 0;
        FILE *p, *m;
        char buf[4096];
        size_t k;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        assert_true(r > 0);
        p = popen(cmd, "re");
        assert_non_null(p);
        m = open_memstream(&out, &size);
        assert_non_null(m);
        while ((k = fread(buf, 1, sizeof buf, p)) > 0)
                fwrite(buf, 1, k, m);
        fclose(m);
        assert_int_equal(pclose(p), 0);
        return TAKE_PTR(out);
}

_printf_(1, 2) static inline struct json_object *ip_json(const char *fmt, ...) {
        _cleanup_free_ char *args = NULL, *out = NULL;
        struct json_object *o = NULL;
        JsonError err = {};
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&args, fmt, ap);
        va_end(ap);
        assert_true(r > 0);
        out = capture("ip -j %s", args);
        if (json_parse_buffer(out, strlen(out), &o, &err) < 0)
                fail_msg("ip -j %s: %s", args, err.message);
        return o;
}

/* Creates a veth pair name/peer_name in the current namespace, sets MAC of name, peer up. */
static inline void veth_add(const char *name, const char *mac) {
        assert_int_equal(sh("ip link add %s type veth peer name %s-p && ip link set %s address %s && "
                            "ip link set %s-p up",
                            name, name, name, mac, name),
                         0);
}

/* Declares the driver of a link in the fake sysfs of root: root/sys/class/net/<if>/device/driver → …/<drv>. */
static inline void fake_driver(const char *root, const char *ifname, const char *driver) {
        _cleanup_free_ char *dir = NULL, *link = NULL, *target = NULL;
        _cleanup_close_ int root_fd = -EBADF;

        assert_int_equal(root_open(root, &root_fd), 0);
        assert_true(asprintf(&dir, "/sys/class/net/%s/device", ifname) > 0);
        assert_int_equal(mkdir_p_in_root(root_fd, dir, 0755), 0);
        assert_true(asprintf(&link, "%s%s/driver", root, dir) > 0);
        assert_true(asprintf(&target, "../../../../bus/pci/drivers/%s", driver) > 0);
        assert_int_equal(symlink(target, link), 0);
}

/* Global addresses of a link as sorted "addr/prefix" strings (link-local scope excluded). */
static inline char **link_addresses(const char *ifname) {
        _cleanup_(json_object_putp) struct json_object *j = ip_json("addr show dev %s", ifname);
        char **l = NULL;

        for (size_t i = 0; i < json_object_array_length(j); i++) {
                struct json_object *infos = json_get(json_object_array_get_idx(j, i), "addr_info", false);

                for (size_t k = 0; infos && k < json_object_array_length(infos); k++) {
                        struct json_object *a = json_object_array_get_idx(infos, k);
                        _cleanup_free_ char *s = NULL;

                        if (!streq(json_object_get_string(json_get(a, "scope", false)), "global"))
                                continue;
                        assert_true(asprintf(&s, "%s/%d",
                                             json_object_get_string(json_get(a, "local", false)),
                                             json_object_get_int(json_get(a, "prefixlen", false))) > 0);
                        assert_int_equal(strv_extend(&l, s), 0);
                }
        }
        if (l)
                qsort(l, strv_length(l), sizeof *l, (int (*)(const void *, const void *)) strcmp_ptr);
        return l;
}

static inline bool link_is_up(const char *ifname) {
        _cleanup_(json_object_putp) struct json_object *j = ip_json("link show dev %s", ifname);
        struct json_object *flags = json_get(json_object_array_get_idx(j, 0), "flags", false);

        for (size_t i = 0; flags && i < json_object_array_length(flags); i++)
                if (streq(json_object_get_string(json_object_array_get_idx(flags, i)), "UP"))
                        return true;
        return false;
}

/* IPv4 default routes as "dev via gateway metric N" strings, sorted. */
static inline char **default_routes(void) {
        _cleanup_(json_object_putp) struct json_object *j = ip_json("-4 route show default");
        char **l = NULL;

        for (size_t i = 0; i < json_object_array_length(j); i++) {
                struct json_object *r = json_object_array_get_idx(j, i);
                _cleanup_free_ char *s = NULL;

                assert_true(asprintf(&s, "%s via %s metric %d",
                                     json_object_get_string(json_get(r, "dev", false)),
                                     json_object_get_string(json_get(r, "gateway", false)),
                                     json_object_get_int(json_get(r, "metric", false))) > 0);
                assert_int_equal(strv_extend(&l, s), 0);
        }
        if (l)
                qsort(l, strv_length(l), sizeof *l, (int (*)(const void *, const void *)) strcmp_ptr);
        return l;
}

/* Whole kernel state that our code could touch, as text, for before/after comparisons. */
static inline char *snapshot(void) {
        return capture("ip -j link show; ip -j addr show; ip -j -4 route show table all; "
                       "ip -j -6 route show table all");
}

static inline void assert_strv_equal(char **got, const char *const *want) {
        size_t n = 0;

        for (; want[n]; n++) {
                if (!got || !got[n])
                        fail_msg("missing '%s'", want[n]);
                if (!streq(got[n], want[n]))
                        fail_msg("got '%s', want '%s'", got[n], want[n]);
        }
        if (got && got[n])
                fail_msg("unexpected '%s'", got[n]);
}

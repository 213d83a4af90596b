/* SPDX-License-Identifier: MIT */
/*
 * network-wait.c: the IPv4 host of an endpoint URL, and waiting for a route — in a network namespace of this test's
 * own (unshare; root, else skipped): nothing routes there until the test brings lo up with an address, and the
 * wait returns once the kernel has the route, not before; without a route it times out. A route without a source
 * address (an on-link route on a veth whose DHCP lease has not come yet) is not enough either.
 */
#include <sched.h>
#include <sys/wait.h>

#include "macro.h"
#include "network.h"
#include "tests.h"

static void test_url_host(void **state) {
        struct in_addr a;

        assert_int_equal(url_ipv4_host("http://169.254.169.254", &a), 0);
        assert_int_equal(a.s_addr, htonl(0xa9fea9fe));
        assert_int_equal(url_ipv4_host("http://127.0.0.1:8080/metadata", &a), 0);
        assert_int_equal(a.s_addr, htonl(0x7f000001));
        assert_int_equal(url_ipv4_host("https://10.0.0.1?x", &a), 0);
        assert_int_equal(url_ipv4_host("http://imds.example", &a), -EINVAL);
        assert_int_equal(url_ipv4_host("http://[::1]:80", &a), -EINVAL);
        assert_int_equal(url_ipv4_host("ftp://1.2.3.4", &a), -EINVAL);
        assert_int_equal(url_ipv4_host("http://", &a), -EINVAL);
        assert_int_equal(url_ipv4_host(NULL, &a), -EINVAL);
}

static int run(const char *cmd) {
        pid_t pid = fork();
        int st;

        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Not routable yet (a 300 ms wait times out); cmd, run 400 ms later, makes it so: the wait ends then, woken by
 * rtnetlink. */
static void assert_wait_ends_with(struct in_addr a, const char *cmd) {
        usec_t waited = 0;
        pid_t pid;
        int st;

        assert_int_equal(network_wait_route(a, 300 * USEC_PER_MSEC, &waited), -ETIMEDOUT);
        assert_true(waited >= 300 * USEC_PER_MSEC);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void) usleep(400 * 1000);
                _exit(run(cmd) == 0 ? 0 : 1);
        }
        assert_int_equal(network_wait_route(a, 10 * USEC_PER_SEC, &waited), 0);
        print_message("routable after %.3fs: %s\n", (double) waited / USEC_PER_SEC, cmd);
        assert_true(waited >= 350 * USEC_PER_MSEC);
        assert_true(waited < 5 * USEC_PER_SEC);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_wait(void **state) {
        struct in_addr a = {.s_addr = htonl(0x0a090901)}; /* 10.9.9.1 */
        usec_t waited = 0;

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0 || run("command -v ip >/dev/null") != 0) {
                print_message("skipped: needs root (a network namespace of its own) and ip(8)\n");
                skip();
        }
        /* nothing routes in a fresh namespace: lo is down */
        assert_wait_ends_with(a, "ip link set lo up && ip addr add 10.9.9.1/24 dev lo");
        /* and now at once */
        assert_int_equal(network_wait_route(a, 0, &waited), 0);
}

/* The VM rig's first boots (issue #21): the host route to IMDS is up with the link, the DHCP lease comes later. */
static void test_wait_source_address(void **state) {
        struct in_addr a = {.s_addr = htonl(0xa9fea9fe)}; /* 169.254.169.254 */

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0 || run("command -v ip >/dev/null") != 0 ||
            run("ip link add v0 type veth peer name v1 2>/dev/null") != 0) {
                print_message(
                        "skipped: needs root (a network namespace of its own), ip(8) and veth links\n");
                skip();
        }
        assert_int_equal(run("ip link set v0 up && ip link set v1 up && "
                             "ip route add 169.254.169.254 dev v0"),
                         0);
        /* the kernel routes it, from 0.0.0.0: not yet; the address is the lease */
        assert_wait_ends_with(a, "ip addr add 10.9.8.5/24 dev v0");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_url_host),
                cmocka_unit_test(test_wait),
                cmocka_unit_test(test_wait_source_address),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * Root test of the hot-plug watch: in a fresh network namespace, an sd-event loop with the watch attached
 * must report a veth pair appearing (two links) and disappearing, and nothing for a mere state change or for
 * links that existed before the watch was created.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "macro.h"
#include "netns-helpers.h"
#include "network.h"
#include "tests.h"

typedef struct Seen {
        unsigned added, removed;
        char names[8][IF_NAMESIZE];
        size_t n_names;
} Seen;

/* Called by the watch for each link added or removed. */
static void on_link(NetworkWatch *w, NetworkLinkEvent event, const NlLink *link, void *userdata) {
        Seen *s = userdata;

        if (event == NETWORK_LINK_ADDED) {
                s->added++;
                if (s->n_names < ELEMENTSOF(s->names))
                        snprintf(s->names[s->n_names++], IF_NAMESIZE, "%s", link->name);
        } else
                s->removed++;
}

/* Runs the loop until cond holds or about 5 s passed (each iteration waits at most 100 ms for an event). */
static void run_until(sd_event *e, const Seen *s, unsigned added, unsigned removed) {
        for (unsigned i = 0; i < 50 && (s->added < added || s->removed < removed); i++)
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
}

static bool seen_name(const Seen *s, const char *name) {
        for (size_t i = 0; i < s->n_names; i++)
                if (streq(s->names[i], name))
                        return true;
        return false;
}

static void test_hotplug(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(network_watch_freep) NetworkWatch *w = NULL;
        Seen s = {};

        netns_enter_fresh();
        assert_int_equal(sh("ip link add old0 type veth peer name old1"), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(network_watch_new(e, on_link, &s, &w), 0);

        assert_int_equal(sh("ip link add hot0 type veth peer name hot1"), 0);
        run_until(e, &s, 2, 0);
        assert_int_equal(s.added, 2);
        assert_true(seen_name(&s, "hot0"));
        assert_true(seen_name(&s, "hot1"));
        assert_false(seen_name(&s, "old0"));

        /* State changes of known links are not hot-plug events. */
        assert_int_equal(sh("ip link set hot0 up && ip link set hot0 mtu 1400"), 0);
        assert_int_equal(sh("ip link set old0 address 00:0d:3a:00:00:01"), 0);
        for (unsigned i = 0; i < 5; i++)
                assert_true(sd_event_run(e, 20 * USEC_PER_MSEC) >= 0);
        assert_int_equal(s.added, 2);
        assert_int_equal(s.removed, 0);

        /* Deleting one end of a veth removes both. */
        assert_int_equal(sh("ip link del hot0"), 0);
        run_until(e, &s, 2, 2);
        assert_int_equal(s.removed, 2);
        assert_int_equal(s.added, 2);
}

static void test_invalid_arguments(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        NetworkWatch *w = (NetworkWatch *) 0x1;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(network_watch_new(NULL, on_link, NULL, &w), -EINVAL);
        assert_int_equal(network_watch_new(e, NULL, NULL, &w), -EINVAL);
        assert_ptr_equal(w, (NetworkWatch *) 0x1);
        assert_null(network_watch_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_invalid_arguments),
                cmocka_unit_test(test_hotplug),
        };

        require_root_or_skip("network namespaces");
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent status`: is this VM provisioned, and what did each step do. Reads the state file the
 * provisioning run writes (<StateDirectory>/state.json, see provision-state.h) and says which source it used.
 * The D-Bus source, --json/--wait and the extensions table come with the status work (issue #9).
 */
#include <stdio.h>

#include "agent.h"
#include "log.h"
#include "macro.h"
#include "provision-state.h"

static void print_time(const char *label, usec_t t) {
        char buf[64];

        if (t > 0 && format_timestamp_iso(t, buf, sizeof buf) >= 0)
                printf("%-14s %s\n", label, buf);
}

int verb_status(Context *c, int argc, char **argv) {
        _cleanup_(provision_state_done) ProvisionState s = {};
        int r;

        printf("%-14s %s (%s)\n", "platform:", platform_to_string(c->platform.platform), c->platform.reason);
        r = provision_state_load(c, &s);
        if (r == -ENOENT) {
                printf("%-14s not run (no %s/state.json)\n", "provisioning:", c->config.state_dir);
                printf("%-14s state file\n", "source:");
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read %s/state.json: %m", c->config.state_dir);

        printf("%-14s %s%s%s\n", "provisioning:", s.state, s.reason ? " — " : "", strempty(s.reason));
        printf("%-14s %s\n", "vm-id:", strna(s.vm_id));
        print_time("started:", s.started_at);
        print_time("finished:", s.finished_at);
        if (s.health_reported)
                printf("%-14s %s%s%s\n", "health:", s.health_reported, s.health_substatus ? "/" : "",
                       strempty(s.health_substatus));
        if (s.n_steps > 0)
                printf("steps:\n");
        for (size_t i = 0; i < s.n_steps; i++) {
                char dur[32] = "";

                (void) format_timespan(s.steps[i].duration, dur, sizeof dur);
                printf("  %-16s %-9s %8s  %s\n", s.steps[i].name, step_result_to_string(s.steps[i].result), dur,
                       strempty(s.steps[i].summary));
        }
        printf("%-14s state file %s/state.json\n", "source:", c->config.state_dir);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent status [--json] [--wait] [--long]`: is this VM provisioned, and what did each step do.
 *
 * Source: the daemon over D-Bus when it is on the system bus (status-bus.c; only for the real root, not with
 * --root), else the state file the provisioning run writes after every step (<StateDirectory>/state.json, see
 * provision-state.h). --json prints the schema of docs/status.md; --wait blocks until provisioning has ended
 * (inotify on the state directory, no polling) and exits 0 when Ready, 1 when it failed — like
 * `cloud-init status --wait` (and, once Ready, until the user data's after-Ready phase has run; 2 when it is
 * degraded); on a machine the agent does not provision it returns 4 at once. --long adds when each step ran
 * (seconds since the kernel started) and the agent's recent journal lines (sd-journal). Colour only on a TTY.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-journal.h>

#include "agent.h"
#include "fileio.h"
#include "firewall.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "provision-state.h"
#include "status-bus.h"
#include "userdata-status.h"

#define JOURNAL_LINES 20

typedef struct StatusArgs {
        bool json;
        bool wait;
        bool lines;
} StatusArgs;

static int parse_args(int argc, char **argv, StatusArgs *ret) {
        static const struct option options[] = {{"json", no_argument, NULL, 'j'},
                                                {"wait", no_argument, NULL, 'w'},
                                                {"long", no_argument, NULL, 'l'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        StatusArgs a = {};
        int opt;

        optind = 0; /* GNU: full re-initialisation after main()'s getopt */
        while ((opt = getopt_long(argc, argv, "jwlh", options, NULL)) >= 0)
                switch (opt) {
                case 'j':
                        a.json = true;
                        break;
                case 'w':
                        a.wait = true;
                        break;
                case 'l':
                        a.lines = true;
                        break;
                case 'h':
                        printf("azl-agent status [--json] [--wait] [--long]\n");
                        exit(EXIT_SUCCESS);
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        *ret = a;
        return 0;
}

static bool state_is_final(const ProvisionState *s) {
        return streq_ptr(s->state, "ready") || streq_ptr(s->state, "failed");
}

/* Has the user data's after-Ready phase yet to end (azl-userdata.service)? */
static bool userdata_pending(const UserDataStatus *u) {
        return streq_ptr(u->state, "pending") || streq_ptr(u->state, "running");
}

/* Waits until state.json says ready/failed and, once ready, until userdata.json no longer says pending/running
 * (`cloud-init status --wait` waits for cloud-final too): inotify on the state directory (created if missing),
 * re-reading the files on every write or rename into the directory. */
static int wait_for_final_state(Context *c, ProvisionState *s, UserDataStatus *u) {
        _cleanup_close_ int fd = -EBADF, dir_fd = -EBADF;
        char dir[PROC_FD_PATH_MAX];
        int r;

        r = mkdir_p_in_root(c->root_fd, c->config.state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", c->config.state_dir);
        /* Watched through an fd opened beneath the root: a symlinked state dir cannot point the watch at the host. */
        dir_fd = open_in_root(c->root_fd, c->config.state_dir, O_PATH | O_DIRECTORY, 0);
        if (dir_fd < 0)
                return log_error_errno(dir_fd, "Failed to open %s: %m", c->config.state_dir);
        fd = inotify_init1(IN_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create an inotify instance: %m");
        if (inotify_add_watch(fd, proc_fd_path(dir, dir_fd), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0)
                return log_error_errno(errno, "Failed to watch %s: %m", c->config.state_dir);
        for (;;) {
                char buf[sizeof(struct inotify_event) + NAME_MAX + 1] __attribute__((aligned(8)));

                /* Check after the watch is armed, so that a write in between is not missed. */
                provision_state_done(s);
                r = provision_state_load(c, s);
                if (r < 0 && r != -ENOENT && r != -EBADMSG) /* -EBADMSG: never with atomic writes; retry */
                        return log_error_errno(r, "Failed to read %s/state.json: %m", c->config.state_dir);
                if (r >= 0 && state_is_final(s)) {
                        userdata_status_done(u);
                        if (!streq_ptr(s->state, "ready") || userdata_status_load(c, u) < 0 ||
                            !userdata_pending(u))
                                return 0;
                }
                if (read(fd, buf, sizeof buf) < 0 && errno != EINTR)
                        return log_error_errno(errno, "Failed to wait for %s: %m", c->config.state_dir);
        }
}

static int add_string(struct json_object *o, const char *key, const char *v) {
        return json_object_object_add(o, key, v ? json_object_new_string(v) : NULL) < 0 ? -ENOMEM : 0;
}

/* What only the daemon knows: "daemon": { goal state, extensions goal state, extensions, status uploads }. */
static int daemon_json(const StatusBus *b, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *exts = json_object_new_array();
        char ts[64];
        int r = 0;

        if (!o || !exts)
                return -ENOMEM;
        r = r ?: add_string(o, "goal_state_incarnation", b->incarnation);
        r = r ?: add_string(o, "goal_state_etag", b->etag);
        r = r
                    ?: add_string(o, "goal_state_at",
                                  b->goal_state_at > 0 &&
                                                  format_timestamp_iso(b->goal_state_at, ts, sizeof ts) >= 0
                                          ? ts
                                          : NULL);
        r = r ?: add_string(o, "extensions_goal_state", b->extensions_goal_state);
        r = r
                    ?: add_string(o, "last_status_upload_at",
                                  b->last_upload_at > 0 &&
                                                  format_timestamp_iso(b->last_upload_at, ts, sizeof ts) >= 0
                                          ? ts
                                          : NULL);
        json_object_object_add(o, "status_uploads", json_object_new_int64((int64_t) b->n_uploads));
        for (size_t i = 0; r >= 0 && i < b->n_extensions; i++) {
                const StatusBusExtension *e = &b->extensions[i];
                struct json_object *x = json_object_new_object();

                if (!x || json_object_array_add(exts, x) < 0) {
                        json_object_put(x);
                        return -ENOMEM;
                }
                r = r ?: add_string(x, "name", e->name);
                r = r ?: add_string(x, "version", e->version);
                r = r ?: add_string(x, "extension", e->extension);
                r = r ?: add_string(x, "status", e->status);
                json_object_object_add(x, "code", json_object_new_int(e->code));
                r = r ?: add_string(x, "message", e->message);
                r = r ?: add_string(x, "settings_status", e->settings_status);
                json_object_object_add(x, "settings_code", json_object_new_int(e->settings_code));
                r = r ?: add_string(x, "settings_message", e->settings_message);
                json_object_object_add(x, "sequence_number", json_object_new_int64(e->seq_no));
        }
        if (r < 0)
                return r;
        json_object_object_add(o, "extensions", TAKE_PTR(exts));
        *ret = TAKE_PTR(o);
        return 0;
}

/* "firewall": { "state", "detail" } (the WireServer guard, docs/security.md). */
static int firewall_json(const FirewallStatus *fw, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        int r = 0;

        if (!o)
                return -ENOMEM;
        r = r ?: add_string(o, "state", firewall_state_to_string(fw->state));
        r = r ?: add_string(o, "detail", strempty(fw->detail));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int build_json(const Context *c, const ProvisionState *s, bool have_state, const StatusBus *bus,
                      const UserDataStatus *u, const FirewallStatus *fw, const char *endpoints_reason,
                      bool endpoints_allowed, char **ret) {
        struct json_object *cj = NULL;
        _cleanup_json_ struct json_object *o = json_object_new_object(),
                                          *platform = json_object_new_object(), *prov = NULL;
        _cleanup_free_ char *state_text = NULL;
        int r = 0;

        if (!o || !platform)
                return log_oom();
        json_object_object_add(o, "version", json_object_new_int(1));
        r = r ?: add_string(o, "source", bus ? "daemon" : have_state ? "state-file" : "none");
        r = r ?: add_string(platform, "name", platform_to_string(c->platform.platform));
        r = r ?: add_string(platform, "reason", c->platform.reason);
        r = r ?: add_string(platform, "vm_id", c->platform.vm_id[0] ? c->platform.vm_id : NULL);
        json_object_object_add(platform, "container_host",
                               json_object_new_boolean(c->platform.container_host));
        json_object_object_add(platform, "endpoints_allowed", json_object_new_boolean(endpoints_allowed));
        r = r ?: add_string(platform, "endpoints_reason", endpoints_reason);
        json_object_object_add(o, "platform", TAKE_PTR(platform));
        if (r < 0)
                return log_oom();
        if (have_state) {
                r = provision_state_to_json(s, &state_text);
                if (r < 0)
                        return log_oom();
                r = json_parse_buffer(state_text, strlen(state_text), &prov, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to re-read the state: %m");
                json_object_object_del(prov, "version");
                json_object_object_add(o, "provisioning", TAKE_PTR(prov));
        } else {
                struct json_object *p = json_object_new_object();

                if (!p)
                        return log_oom();
                json_object_object_add(p, "state", json_object_new_string("not-run"));
                json_object_object_add(o, "provisioning", p);
        }
        {
                /* the scripts' output is root's (userdata.json is 0600; the daemon gives it to root only) */
                struct json_object *uj = NULL;

                r = userdata_status_to_json(u, geteuid() == 0, &uj);
                if (r < 0)
                        return log_oom();
                json_object_object_add(o, "userdata", uj);
        }
        if (fw) {
                struct json_object *fj = NULL;

                r = firewall_json(fw, &fj);
                if (r < 0)
                        return log_oom();
                json_object_object_add(o, "firewall", fj);
        }
        /* The confidential-VM verdict: this process evaluates it exactly as the daemon does (same inputs). */
        r = confidential_status_json(&c->confidential, &c->platform, &c->config, &cj);
        if (r < 0)
                return log_oom();
        json_object_object_add(o, "confidential", cj);
        if (bus) {
                struct json_object *dj = NULL;

                r = daemon_json(bus, &dj);
                if (r < 0)
                        return log_oom();
                json_object_object_add(o, "daemon", dj);
        }
        *ret = strdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        return *ret ? 0 : log_oom();
}

static int print_json(const Context *c, const ProvisionState *s, bool have_state, const StatusBus *bus,
                      const UserDataStatus *u, const FirewallStatus *fw, const char *endpoints_reason,
                      bool endpoints_allowed) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = build_json(c, s, have_state, bus, u, fw, endpoints_reason, endpoints_allowed, &text);
        if (r < 0)
                return r;
        puts(text);
        return 0;
}

int status_json(Context *c, char **ret) {
        _cleanup_(provision_state_done) ProvisionState s = {};
        _cleanup_(firewall_status_done) FirewallStatus fw = {};
        _cleanup_(userdata_status_done) UserDataStatus ud = {};
        _cleanup_error_ Error endpoints = ERROR_NULL;
        int r, allowed, have_fw;

        allowed = context_endpoints_allowed(c, &endpoints);
        if (allowed == -ENOMEM)
                return -ENOMEM;
        r = provision_state_load(c, &s);
        if (r < 0 && r != -ENOENT)
                return r;
        have_fw = firewall_status_load(c->root_fd, c->config.state_dir, &fw);
        (void) userdata_status_load(c, &ud);
        return build_json(c, &s, r >= 0, NULL, &ud, have_fw >= 0 ? &fw : NULL, error_reason(&endpoints),
                          allowed >= 0, ret);
}

static void print_time(const char *label, usec_t t) {
        char buf[64];

        if (t > 0 && format_timestamp_iso(t, buf, sizeof buf) >= 0)
                printf("%-14s %s\n", label, buf);
}

static const char *colour(const char *state, bool tty) {
        if (!tty)
                return "";
        if (streq_ptr(state, "ready"))
                return "\033[0;32m";
        if (streq_ptr(state, "failed"))
                return "\033[0;31m";
        return "\033[0;33m";
}

static void print_daemon(const StatusBus *b) {
        char ts[64] = "";

        if (b->goal_state_at > 0)
                (void) format_timestamp_iso(b->goal_state_at, ts, sizeof ts);
        printf("%-14s incarnation %s%s%s%s%s\n", "goal-state:", strna(b->incarnation),
               b->etag ? ", etag " : "", strempty(b->etag), ts[0] ? ", since " : "", ts);
        if (b->n_extensions > 0)
                printf("extensions:\n");
        for (size_t i = 0; i < b->n_extensions; i++) {
                const StatusBusExtension *e = &b->extensions[i];

                printf("  %-34s %-9s %-10s %s%s%s\n", strna(e->name), strna(e->version), strna(e->status),
                       strempty(e->settings_status), e->settings_message ? ": " : "",
                       strempty(e->settings_message));
                /* The handler's own message when it says something is wrong: not Ready, or a warning such as a
                 * package signature not validated (SignatureValidation=report). First line only. */
                if (e->message && (!streq_ptr(e->status, "Ready") || strstr(e->message, "Warning: ")))
                        printf("  %-34s %.*s\n", "", (int) strcspn(e->message, "\n"), e->message);
        }
}

/* "confidential: yes — <reason> (IMDS and guest: <agreement>)", and on a confidential VM the defaults it brings. */
static void print_confidential(const Context *c) {
        const ConfidentialState *cs = &c->confidential;
        _cleanup_free_ char *sig = NULL, *fw = NULL, *sec = NULL;

        printf("%-14s %s — %s (IMDS and guest: %s)\n", "confidential:", cs->active ? "yes" : "no",
               strna(cs->reason), strna(cs->agreement));
        if (!cs->active)
                return;
        if (confidential_describe_signatures(cs, &c->config, &sig) < 0 ||
            confidential_describe_firewall(cs, &c->config, &fw) < 0 ||
            confidential_describe_secrets(cs, &c->config, &sec) < 0)
                return;
        printf("  %-12s %s\n", "signatures:", sig);
        printf("  %-12s %s\n", "wire guard:", fw);
        printf("  %-12s %s\n", "secrets:", sec);
}

static void print_userdata(const UserDataStatus *u, bool tty) {
        if (!u->state || streq(u->state, "none"))
                return;
        printf("%-14s %s%s%s", "userdata:",
               colour(streq(u->state, "done")       ? "ready"
                      : streq(u->state, "degraded") ? "failed"
                                                    : u->state,
                      tty),
               u->state, tty ? "\033[0m" : "");
        if (u->source)
                printf(" (%s, %zu part(s))",
                       streq(u->source, "ovf")    ? "CustomData"
                       : streq(u->source, "imds") ? "IMDS userData"
                                                  : u->source,
                       u->n_parts);
        printf("\n");
        if (u->unsupported) {
                printf("  not supported:");
                for (char **x = u->unsupported; *x; x++)
                        printf("%s %s", x == u->unsupported ? "" : ",", *x);
                printf("\n");
        }
        for (size_t i = 0; i < u->n_problems; i++)
                printf("  problem:       %s%s%s line %u (see 'azl-agent userdata show')\n",
                       u->problems[i].path, isempty(u->problems[i].path) ? "" : " in ",
                       strna(u->problems[i].part), u->problems[i].line);
        for (size_t i = 0; i < u->n_modules; i++)
                if (streq_ptr(u->modules[i].result, "failed"))
                        printf("  module failed: %s: %s\n", u->modules[i].name,
                               strna(u->modules[i].summary));
        for (size_t i = 0; i < u->n_scripts; i++) {
                const UdScriptStatus *sc = &u->scripts[i];
                char code[16] = "";

                if (sc->exit_status >= 0)
                        snprintf(code, sizeof code, "exit %d", sc->exit_status);
                printf("  %-24s %-9s %-8s %s\n", sc->name, strna(sc->frequency), strna(sc->state), code);
                if (streq_ptr(sc->state, "failed") && !isempty(sc->output))
                        for (const char *l = sc->output; *l;) {
                                size_t n = strcspn(l, "\n");

                                printf("      | %.*s\n", (int) n, l);
                                l += n + (l[n] == '\n');
                        }
        }
}

static void print_text(const Context *c, const ProvisionState *s, bool have_state, const StatusBus *bus,
                       const UserDataStatus *u, const FirewallStatus *fw, const char *endpoints_reason) {
        bool tty = isatty(STDOUT_FILENO);

        printf("%-14s %s (%s)\n", "platform:", platform_to_string(c->platform.platform), c->platform.reason);
        printf("%-14s %s\n", "endpoints:", endpoints_reason);
        print_confidential(c);
        if (fw)
                printf("%-14s %s%s%s (%s)\n",
                       "firewall:", tty && fw->state == FIREWALL_FAILED ? "\033[0;31m" : "",
                       firewall_state_to_string(fw->state),
                       tty && fw->state == FIREWALL_FAILED ? "\033[0m" : "", strempty(fw->detail));
        if (!have_state && bus) {
                printf("%-14s not run\n", "provisioning:");
                print_daemon(bus);
                printf("%-14s daemon (D-Bus)\n", "source:");
                return;
        }
        if (!have_state) {
                printf("%-14s not run (no %s/state.json)\n", "provisioning:", c->config.state_dir);
                printf("%-14s none\n", "source:");
                return;
        }
        printf("%-14s %s%s%s%s%s\n", "provisioning:", colour(s->state, tty), s->state, tty ? "\033[0m" : "",
               s->reason ? " — " : "", strempty(s->reason));
        printf("%-14s %s\n", "vm-id:", strna(s->vm_id));
        print_time("started:", s->started_at);
        print_time("finished:", s->finished_at);
        if (s->health_reported)
                printf("%-14s %s%s%s\n", "health:", s->health_reported, s->health_substatus ? "/" : "",
                       strempty(s->health_substatus));
        if (s->n_steps > 0)
                printf("steps:\n");
        for (size_t i = 0; i < s->n_steps; i++) {
                char dur[32] = "";

                (void) format_timespan(s->steps[i].duration, dur, sizeof dur);
                printf("  %-18s %-9s %8s  %s\n", s->steps[i].name, step_result_to_string(s->steps[i].result),
                       dur, strempty(s->steps[i].summary));
        }
        /* Bad input items left out while the rest was provisioned. */
        if (s->n_skipped > 0)
                printf("skipped:\n");
        for (size_t i = 0; i < s->n_skipped; i++)
                printf("  %-16s %s: %s\n", s->skipped[i].step, s->skipped[i].item, s->skipped[i].reason);
        print_userdata(u, tty);
        if (bus) {
                print_daemon(bus);
                printf("%-14s daemon (D-Bus)\n", "source:");
                return;
        }
        printf("%-14s state file %s/state.json\n", "source:", c->config.state_dir);
}

/* --long: when each step ran, as seconds since the kernel started (the steps' start_usec, CLOCK_BOOTTIME) —
 * where the first boot's time went. Steps recorded without a start (an older state file, D-Bus) are left out. */
static void print_timeline(const ProvisionState *s) {
        bool any = false;

        for (size_t i = 0; i < s->n_steps; i++) {
                const ProvisionStep *st = &s->steps[i];

                if (st->start == 0)
                        continue;
                if (!any)
                        printf("\ntimeline (seconds since the kernel started):\n");
                any = true;
                printf("  %-18s %9.3f → %9.3f  (%.3f s)\n", st->name, (double) st->start / USEC_PER_SEC,
                       (double) (st->start + st->duration) / USEC_PER_SEC,
                       (double) st->duration / USEC_PER_SEC);
        }
}

/* The agent's last journal lines; the journal of --root when one is given. */
static void print_journal(const Context *c) {
        _cleanup_close_ int dir_fd = -EBADF;
        sd_journal *j = NULL;
        int r;

        if (c->root) {
                /* Opened beneath the root (sd-journal reads relative to the fd), not by a host path. */
                dir_fd = open_in_root(c->root_fd, "/var/log/journal", O_RDONLY | O_DIRECTORY, 0);
                r = dir_fd < 0 ? dir_fd : sd_journal_open_directory_fd(&j, dir_fd, 0);
        } else
                r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        printf("\nrecent log (journal, SYSLOG_IDENTIFIER=azl-agent):\n");
        if (r < 0) {
                printf("  (journal not available: %s)\n", strerror(-r));
                return;
        }
        r = sd_journal_add_match(j, "SYSLOG_IDENTIFIER=azl-agent", 0);
        if (r >= 0)
                r = sd_journal_seek_tail(j);
        if (r >= 0)
                r = sd_journal_previous_skip(j, JOURNAL_LINES);
        if (r <= 0)
                printf("  (no entries)\n");
        while (r > 0 && sd_journal_next(j) > 0) {
                const void *d;
                size_t n;
                uint64_t t;

                if (sd_journal_get_data(j, "MESSAGE", &d, &n) < 0 || n < 8)
                        continue;
                if (sd_journal_get_realtime_usec(j, &t) >= 0) {
                        char ts[64];

                        if (format_timestamp_iso(t, ts, sizeof ts) >= 0)
                                printf("  %s ", ts);
                }
                printf("%.*s\n", (int) (n - 8), (const char *) d + 8);
        }
        sd_journal_close(j);
}

int verb_status(Context *c, int argc, char **argv) {
        _cleanup_(provision_state_done) ProvisionState s = {};
        _cleanup_(status_bus_done) StatusBus bus = {};
        _cleanup_(userdata_status_done) UserDataStatus ud = {};
        _cleanup_(firewall_status_done) FirewallStatus fw = {};
        _cleanup_error_ Error endpoints = ERROR_NULL;
        bool have_state, allowed, from_bus = false, have_fw = false;
        StatusArgs a = {};
        int r;

        r = parse_args(argc, argv, &a);
        if (r < 0)
                return r;
        r = context_endpoints_allowed(c, &endpoints);
        if (r == -ENOMEM)
                return log_oom();
        allowed = r >= 0;

        /* The daemon on the system bus serves the real root only. */
        if (isempty(c->root) || streq(c->root, "/")) {
                r = status_bus_read(&bus);
                if (r < 0 && r != -ENXIO)
                        log_debug_errno(r,
                                        "Ignoring the daemon's answer on D-Bus, reading the state file: %m");
                from_bus = r >= 0;
        }
        if (from_bus) {
                s = bus.prov;
                bus.prov = (ProvisionState){};
                have_state = !streq(s.state, "not-run");
        } else {
                r = provision_state_load(c, &s);
                if (r < 0 && r != -ENOENT)
                        return log_error_errno(r, "Failed to read %s/state.json: %m", c->config.state_dir);
                have_state = r >= 0;
        }

        if (from_bus) {
                ud = bus.userdata;
                bus.userdata = (UserDataStatus){};
        } else {
                r = userdata_status_load(c, &ud);
                if (r < 0 && r != -ENOENT && r != -EACCES)
                        log_debug_errno(r, "Ignoring %s/userdata.json: %m", c->config.state_dir);
        }

        if (a.wait &&
            !(have_state && state_is_final(&s) && !(streq_ptr(s.state, "ready") && userdata_pending(&ud)))) {
                if (!allowed) {
                        log_error("Not waiting: this machine is not provisioned by azl-agent (%s).",
                                  error_reason(&endpoints));
                        return EXIT_NOT_APPLICABLE;
                }
                r = wait_for_final_state(c, &s, &ud);
                if (r < 0)
                        return r;
                have_state = true;
                from_bus = false; /* what is printed now comes from the state file */
        }

        /* The WireServer guard: the daemon's current view, else what the last provisioning run or daemon wrote. */
        if (from_bus && bus.firewall_state && firewall_state_from_string(bus.firewall_state) >= 0) {
                fw.state = firewall_state_from_string(bus.firewall_state);
                fw.detail = TAKE_PTR(bus.firewall_detail);
                have_fw = true;
        } else {
                r = firewall_status_load(c->root_fd, c->config.state_dir, &fw);
                if (r < 0 && r != -ENOENT)
                        log_debug_errno(r, "Ignoring %s/" FIREWALL_STATUS_FILE ": %m", c->config.state_dir);
                have_fw = r >= 0;
        }
        r = 0;

        if (a.json)
                r = print_json(c, &s, have_state, from_bus ? &bus : NULL, &ud, have_fw ? &fw : NULL,
                               error_reason(&endpoints), allowed);
        else
                print_text(c, &s, have_state, from_bus ? &bus : NULL, &ud, have_fw ? &fw : NULL,
                           error_reason(&endpoints));
        if (r < 0)
                return r;
        if (a.lines && !a.json) {
                if (have_state)
                        print_timeline(&s);
                print_journal(c);
        }
        if (a.wait)
                /* like cloud-init status --wait: 0 done, 1 failed, 2 done with errors (user data degraded) */
                return !streq_ptr(s.state, "ready")      ? 1
                       : streq_ptr(ud.state, "degraded") ? EXIT_DEGRADED
                                                         : 0;
        return 0;
}

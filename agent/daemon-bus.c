/* SPDX-License-Identifier: MIT */
/*
 * The daemon's D-Bus API (issue #9, docs/dbus.md): org.azurelinux.Agent1 at /org/azurelinux/Agent1 on the
 * system bus, served by sd-bus on the daemon's sd-event loop.
 *
 * Properties are read-only views of what the daemon already holds: the provisioning record (state.json, kept
 * fresh by an inotify watch on the state directory), the goal state and extension results (DaemonState), the
 * status uploads. PropertiesChanged is emitted by daemon_bus_emit_changed(), which the daemon calls after a
 * poll cycle, an executor run and a status upload: every property's value is serialized through its own
 * getter and compared with what was last emitted, so a signal names exactly the properties that changed and
 * there is one code path for Get and for change detection.
 *
 * Strings from data (extension output, state.json) go out through append_string(), which replaces what sd-bus
 * would refuse as "s" (invalid UTF-8) with U+FFFD: one bad byte must not fail Get, GetAll and change detection.
 * Extension messages may carry the handlers' captured output (secrets, e.g. of CustomScript): only root reads
 * them in full, others get their first line, and Extensions changes are signalled by invalidation only.
 *
 * Methods are root-only: no polkit, the caller's effective uid must be 0 as the bus itself vouches for it (the
 * UnixUserID dbus-daemon/dbus-broker took from SO_PEERCRED at connect time; never SD_BUS_CREDS_AUGMENT, which
 * would fill in what the bus did not say from a racy /proc/<pid> read); no uid from the bus means no access.
 * The bus policy (units/dbus/org.azurelinux.Agent1.conf) already keeps others out on a real system bus; the
 * check here holds whatever the policy says. RefreshGoalState() starts a poll now; Reprovision() starts
 * `azl-agent [the daemon's --root/--config/-v] provision --force` and replies once it started; the run's progress
 * shows in the Provisioning* properties and Reprovisioning. Under systemd the run is a transient service systemd
 * spawns (outside this daemon's sandbox, which cannot write /etc or /home), killed after 30 min; without systemd
 * or under --root it is a child of the loop: SIGTERM after 30 min, SIGKILL 10 s later.
 *
 * Without a system bus (none running, or the name is taken or refused) the daemon runs on without the API.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "cli.h"
#include "daemon-internal.h"
#include "ext-spawn.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "provision-state.h"
#include "userdata-status.h"
#include "version.h"

#define BUS_NAME               "org.azurelinux.Agent1"
#define BUS_PATH               "/org/azurelinux/Agent1"
#define BUS_INTERFACE          "org.azurelinux.Agent1"
#define BUS_ERROR_BUSY         "org.azurelinux.Agent1.Error.Busy"
#define REPROVISION_TIMEOUT    (30U * 60U * USEC_PER_SEC) /* then SIGTERM: provisioning has its own deadlines */
#define REPROVISION_KILL_GRACE (10U * USEC_PER_SEC)       /* then SIGKILL */
#define PROPERTIES_MAX         32U

struct DaemonBus {
        Daemon *daemon;
        sd_bus *bus;
        sd_bus_slot *vtable_slot;
        sd_event_source *state_watch;

        ProvisionState prov; /* state.json as last read */
        bool have_prov;
        UserDataStatus userdata; /* userdata.json as last read (state "none" when absent) */

        char *seen_incarnation, *seen_etag;
        usec_t goal_state_at; /* CLOCK_REALTIME when this process first saw them */
        uint64_t seen_uploads;
        usec_t upload_at; /* CLOCK_REALTIME of the last accepted status upload */

        pid_t reprovision_pid;       /* forked run (no systemd) */
        bool reprovision_terminated; /* SIGTERM sent at the timeout; SIGKILL next */
        sd_event_source *reprovision_child, *reprovision_timer;
        ExtSpawner *spawner; /* systemd: the run as a transient service */
        ExtProcess *reprovision_service;
        bool serializing; /* getters run for change detection, not for a caller */

        char *emitted[PROPERTIES_MAX]; /* serialized value per vtable slot, as last emitted */
};

/* ---- strings ---- */

/* Appends the first n bytes of s (up to its NUL) as an "s": as they are when they are valid UTF-8, else with
 * every byte that starts no valid sequence replaced by U+FFFD. Every "s" that comes from data goes through
 * here: sd-bus refuses invalid UTF-8 with -EINVAL, which would fail the whole Get/GetAll. */
static int append_string_n(sd_bus_message *m, const char *s, size_t n) {
        _cleanup_free_ char *valid = NULL;
        int r;

        r = utf8_make_valid(strempty(s), n, &valid);
        if (r < 0)
                return r;
        return sd_bus_message_append_basic(m, 's', valid);
}

static int append_string(sd_bus_message *m, const char *s) {
        return append_string_n(m, s, SIZE_MAX);
}

/* ---- callers ---- */

/* The effective uid in creds, if the bus vouched for it: dbus-daemon and dbus-broker give the uid the connection
 * had when it connected (SO_PEERCRED), and it cannot change after that. A value sd-bus "augmented" from
 * /proc/<pid> is refused: the process may have exited and its pid been reused, or exec'd a setuid program that
 * inherited the connection, between sending the message and the read. -ENODATA when the bus did not say. */
int bus_creds_vouched_euid(sd_bus_creds *creds, uid_t *ret) {
        uint64_t augmented;
        uid_t euid;
        int r;

        if (!creds)
                return -ENODATA;
        augmented = sd_bus_creds_get_augmented_mask(creds);
        if (augmented & SD_BUS_CREDS_EUID)
                return -EPERM;
        r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0)
                return r;
        *ret = euid;
        return 0;
}

/* Deny by default: anything but a vouched-for euid 0 is not root. */
bool bus_creds_is_root(sd_bus_creds *creds) {
        uid_t euid;

        return bus_creds_vouched_euid(creds, &euid) >= 0 && euid == 0;
}

/* The sender's credentials as the bus knows them: no SD_BUS_CREDS_AUGMENT, so nothing is read from /proc. */
static int sender_euid(sd_bus_message *m, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        return bus_creds_vouched_euid(creds, ret);
}

/* May whoever asked for the property being read see extension output? Root only; change detection sees all. */
static bool reader_is_root(const DaemonBus *b, sd_bus *bus) {
        sd_bus_message *m = sd_bus_get_current_message(bus);
        uid_t euid;
        int r;

        if (b->serializing)
                return true;
        if (!m)
                return false;
        r = sender_euid(m, &euid);
        if (r < 0) {
                log_debug_errno(r, "Cannot determine the uid of %s, treating it as unprivileged: %m",
                                strna(sd_bus_message_get_sender(m)));
                return false;
        }
        return euid == 0;
}

/* ---- properties ---- */

static const char *provisioning_string(const DaemonBus *b, const char *name) {
        const Daemon *d = b->daemon;

        if (streq(name, "Platform"))
                return platform_to_string(d->context->platform.platform);
        if (streq(name, "VmId"))
                return b->have_prov && !isempty(b->prov.vm_id) ? b->prov.vm_id : d->context->platform.vm_id;
        if (streq(name, "ProvisioningState"))
                return b->have_prov ? b->prov.state : "not-run";
        if (streq(name, "ProvisioningReason"))
                return b->have_prov ? b->prov.reason : NULL;
        if (streq(name, "GoalStateIncarnation"))
                return d->state.incarnation;
        if (streq(name, "GoalStateEtag"))
                return d->state.etag;
        if (streq(name, "ExtensionsGoalState"))
                return d->current ? d->current->id : d->state.executed_id;
        if (streq(name, "Version"))
                return PACKAGE_VERSION;
        if (streq(name, "FirewallState")) /* "" until the first goal state pass */
                return d->firewall_status.detail ? firewall_state_to_string(d->firewall_status.state) : NULL;
        if (streq(name, "FirewallDetail"))
                return d->firewall_status.detail;
        return NULL;
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return append_string(reply, provisioning_string(userdata, property));
}

/* ConfidentialDetail: the verdict's reason and agreement, then the defaults when they apply (one line each). */
static int property_get_confidential_detail(sd_bus *bus, const char *path, const char *interface,
                                            const char *property, sd_bus_message *reply, void *userdata,
                                            sd_bus_error *error) {
        const DaemonBus *b = userdata;
        const Context *c = b->daemon->context;
        _cleanup_free_ char *detail = NULL, *sig = NULL, *fw = NULL, *sec = NULL, *text = NULL;

        if (confidential_detail(&c->confidential, &detail) < 0)
                return -ENOMEM;
        if (!c->confidential.active)
                return append_string(reply, detail);
        if (confidential_describe_signatures(&c->confidential, &c->config, &sig) < 0 ||
            confidential_describe_firewall(&c->confidential, &c->config, &fw) < 0 ||
            confidential_describe_secrets(&c->confidential, &c->config, &sec) < 0 ||
            asprintf(&text, "%s\nsignatures: %s\nwire guard: %s\nsecrets: %s", detail, sig, fw, sec) < 0)
                return -ENOMEM;
        return append_string(reply, text);
}

static int property_get_usec(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const DaemonBus *b = userdata;
        uint64_t v = 0;

        if (streq(property, "ProvisioningStartTimestamp"))
                v = b->have_prov ? b->prov.started_at : 0;
        else if (streq(property, "ProvisioningFinishTimestamp"))
                v = b->have_prov ? b->prov.finished_at : 0;
        else if (streq(property, "GoalStateTimestamp"))
                v = b->goal_state_at;
        else if (streq(property, "LastStatusUploadTimestamp"))
                v = b->upload_at;
        else if (streq(property, "StatusUploads"))
                v = b->daemon->n_uploads;
        return sd_bus_message_append(reply, "t", v);
}

static int property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const DaemonBus *b = userdata;
        int v = false;

        if (streq(property, "FastTrack"))
                v = b->daemon->state.fast_track;
        else if (streq(property, "ExtensionsRunning"))
                v = b->daemon->executor_running;
        else if (streq(property, "Reprovisioning"))
                v = b->reprovision_pid > 0 || b->reprovision_service;
        else if (streq(property, "Confidential"))
                v = b->daemon->context->confidential.active;
        return sd_bus_message_append(reply, "b", v);
}

static int property_get_poll_failures(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        const DaemonBus *b = userdata;

        return sd_bus_message_append(reply, "u", (uint32_t) b->daemon->n_failures);
}

/* a(ssts): name, result, duration (µs), summary — in the order the run recorded them. */
static int property_get_steps(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const DaemonBus *b = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssts)");
        if (r < 0)
                return r;
        for (size_t i = 0; b->have_prov && i < b->prov.n_steps; i++) {
                const ProvisionStep *s = &b->prov.steps[i];
                uint64_t duration = s->duration;

                r = sd_bus_message_open_container(reply, 'r', "ssts");
                if (r >= 0)
                        r = append_string(reply, s->name);
                if (r >= 0)
                        r = append_string(reply, step_result_to_string(s->result));
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 't', &duration);
                if (r >= 0)
                        r = append_string(reply, s->summary);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* a(sss): step, item, reason — the input items provisioning left out while it provisioned the rest. */
static int property_get_skipped(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const DaemonBus *b = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && b->have_prov && i < b->prov.n_skipped; i++)
                r = sd_bus_message_append(reply, "(sss)", b->prov.skipped[i].step, b->prov.skipped[i].item,
                                          b->prov.skipped[i].reason);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* (sst): the last health report of the provisioning run: state, substatus, time (µs since the epoch). */
static int property_get_health(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const DaemonBus *b = userdata;
        uint64_t at = b->have_prov ? b->prov.health_at : 0;
        int r;

        r = sd_bus_message_open_container(reply, 'r', "sst");
        if (r >= 0)
                r = append_string(reply, b->have_prov ? b->prov.health_reported : NULL);
        if (r >= 0)
                r = append_string(reply, b->have_prov ? b->prov.health_substatus : NULL);
        if (r >= 0)
                r = sd_bus_message_append_basic(reply, 't', &at);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* User data (issue #18, userdata.json): the state ("none" without a record), the unsupported keys and parts. */
static int property_get_userdata_state(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error) {
        const DaemonBus *b = userdata;

        return append_string(reply, b->userdata.state ?: "none");
}

static int property_get_userdata_unsupported(sd_bus *bus, const char *path, const char *interface,
                                             const char *property, sd_bus_message *reply, void *userdata,
                                             sd_bus_error *error) {
        const DaemonBus *b = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        for (char **u = b->userdata.unsupported; r >= 0 && u && *u; u++)
                r = append_string(reply, *u);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* a(sssitts): name, frequency, state, exit status (-1: none), start, end (µs), last lines of output — the
 * output for root only (it is the user's scripts' output), "" for others. */
static int property_get_userdata_scripts(sd_bus *bus, const char *path, const char *interface,
                                         const char *property, sd_bus_message *reply, void *userdata,
                                         sd_bus_error *error) {
        const DaemonBus *b = userdata;
        bool full = reader_is_root(b, bus);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sssitts)");
        for (size_t i = 0; r >= 0 && i < b->userdata.n_scripts; i++) {
                const UdScriptStatus *sc = &b->userdata.scripts[i];
                int32_t exit_status = sc->exit_status;
                uint64_t started = sc->started_at, finished = sc->finished_at;

                r = sd_bus_message_open_container(reply, 'r', "sssitts");
                if (r >= 0)
                        r = append_string(reply, sc->name);
                if (r >= 0)
                        r = append_string(reply, sc->frequency);
                if (r >= 0)
                        r = append_string(reply, sc->state);
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 'i', &exit_status);
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 't', &started);
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 't', &finished);
                if (r >= 0)
                        r = append_string(reply, full ? sc->output : NULL);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* A message as the reader may see it: whole for root; for others only up to the first line break, which drops
 * the captured output the agent appends ("Non-zero exit code: 7, <cmd>\n[stdout]\n…", protocol §4.5) or an extension
 * puts in its status after a summary line. */
static int append_message(sd_bus_message *m, const char *s, bool full) {
        return append_string_n(m, s, full ? SIZE_MAX : strcspn(strempty(s), "\n"));
}

/* a(ssssissisu) per handler: name, version, extension (multi-config instance or ""), handler status, handler
 * code, handler message, settings status ("" when the extension wrote none), settings code, settings message,
 * sequence number. */
static int property_get_extensions(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        const DaemonBus *b = userdata;
        const DaemonState *s = &b->daemon->state;
        bool full = reader_is_root(b, bus);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssssissisu)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_handlers; i++) {
                const ExtHandlerResult *h = &s->handlers[i];
                const ExtensionStatus *e = h->has_extension_status ? &h->extension_status : NULL;
                int32_t code = h->code, scode = e ? e->code : 0;
                uint32_t seq = h->seq_no;

                r = sd_bus_message_open_container(reply, 'r', "ssssissisu");
                if (r >= 0)
                        r = append_string(reply, h->name);
                if (r >= 0)
                        r = append_string(reply, h->version);
                if (r >= 0)
                        r = append_string(reply, h->extension);
                if (r >= 0)
                        r = append_string(reply, h->status);
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 'i', &code);
                if (r >= 0)
                        r = append_message(reply, h->message, full);
                if (r >= 0)
                        r = append_string(reply, e ? e->status : NULL);
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 'i', &scode);
                if (r >= 0)
                        r = append_message(reply, e ? e->message : NULL, full);
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 'u', &seq);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* ---- methods ---- */

/* Polkit-free: the caller's effective uid must be 0. */
static int check_root(sd_bus_message *m, sd_bus_error *error) {
        uid_t euid;
        int r;

        r = sender_euid(m, &euid);
        if (r < 0) {
                log_debug_errno(r, "Cannot determine the uid of %s: %m",
                                strna(sd_bus_message_get_sender(m)));
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot determine the caller's uid.");
        }
        if (euid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Only root may call %s().",
                                         sd_bus_message_get_member(m));
        return 0;
}

static int method_refresh_goal_state(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DaemonBus *b = userdata;
        int r;

        r = check_root(m, error);
        if (r < 0)
                return r;
        log_info("Goal state refresh requested over D-Bus by %s.", strna(sd_bus_message_get_sender(m)));
        daemon_refresh_goal_state_soon(b->daemon);
        return sd_bus_reply_method_return(m, NULL);
}

static int on_reprovision_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        DaemonBus *b = userdata;

        if (si->si_code == CLD_EXITED)
                log_full(si->si_status == 0 ? LOG_INFO : LOG_WARNING,
                         "Provisioning run %d exited with status %d.", (int) si->si_pid, si->si_status);
        else
                log_warning("Provisioning run %d was killed by signal %d.", (int) si->si_pid, si->si_status);
        /* Reaped here, not by sd-event after this callback: the source is released right away. */
        (void) waitpid(b->reprovision_pid, NULL, WNOHANG);
        b->reprovision_pid = 0;
        b->reprovision_terminated = false;
        b->reprovision_child = sd_event_source_disable_unref(b->reprovision_child);
        b->reprovision_timer = sd_event_source_disable_unref(b->reprovision_timer);
        daemon_bus_emit_changed(b->daemon);
        return 0;
}

/* SIGTERM at the timeout; if the run is still there after the grace period, SIGKILL (the timer stays armed
 * until its exit is seen, so Reprovisioning cannot stay true for ever). */
static int on_reprovision_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        DaemonBus *b = userdata;
        int r;

        if (!b->reprovision_terminated) {
                log_warning("Provisioning run %d takes longer than %us, terminating it.",
                            (int) b->reprovision_pid, (unsigned) (REPROVISION_TIMEOUT / USEC_PER_SEC));
                (void) kill(b->reprovision_pid, SIGTERM);
                b->reprovision_terminated = true;
        } else {
                log_warning("Provisioning run %d did not exit %us after SIGTERM, killing it.",
                            (int) b->reprovision_pid, (unsigned) (REPROVISION_KILL_GRACE / USEC_PER_SEC));
                (void) kill(b->reprovision_pid, SIGKILL);
        }
        r = sd_event_source_set_time_relative(s, REPROVISION_KILL_GRACE);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Failed to re-arm the timer of provisioning run %d: %m",
                                  (int) b->reprovision_pid);
        return 0;
}

/* argv for `azl-agent [--root DIR] [--config FILE] [-v] provision --force`, from what the daemon runs with
 * (not re-parsed from /proc/self/cmdline, where getopt's abbreviations like --conf would be missed). */
static int reprovision_argv(const Context *c, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;

        if (strv_extend(&argv, "azl-agent") < 0)
                return -ENOMEM;
        if (c->root && !streq(c->root, "/") &&
            (strv_extend(&argv, "--root") < 0 || strv_extend(&argv, c->root) < 0))
                return -ENOMEM;
        if (c->config_file && (strv_extend(&argv, "--config") < 0 || strv_extend(&argv, c->config_file) < 0))
                return -ENOMEM;
        if (log_get_max_level() >= LOG_DEBUG && strv_extend(&argv, "--verbose") < 0)
                return -ENOMEM;
        if (strv_extend(&argv, "provision") < 0 || strv_extend(&argv, "--force") < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(argv);
        return 0;
}

/* Our environment without the service manager's per-unit variables: the run must not talk to systemd as if it
 * were the unit's main process (STATUS= and the like; NotifyAccess=main would only log them as refused). */
static int reprovision_env(char ***ret) {
        _cleanup_strv_free_ char **env = NULL;

        for (char **e = environ; e && *e; e++) {
                if (startswith(*e, "NOTIFY_SOCKET=") || startswith(*e, "WATCHDOG_PID=") ||
                    startswith(*e, "WATCHDOG_USEC=") || startswith(*e, "LISTEN_"))
                        continue;
                if (strv_extend(&env, *e) < 0)
                        return -ENOMEM;
        }
        if (!env && strv_extend(&env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin") < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

static int self_exe(char **ret);

static int reprovision_spawn(const Context *c, pid_t *ret) {
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_free_ char *exe = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        pid_t pid;
        int r;

        r = self_exe(&exe);
        if (r >= 0)
                r = reprovision_argv(c, &argv);
        if (r >= 0)
                r = reprovision_env(&env);
        if (r < 0)
                return r;
        sigemptyset(&none);
        sigfillset(&all);
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        /* The loop blocks SIGCHLD, SIGTERM and SIGINT (signalfd): the child gets a clean signal state. */
        r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawn(&pid, exe, &fa, &attr, argv, env);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return -r;
        *ret = pid;
        return 0;
}

static void on_reprovision_service_exit(ExtProcess *p, const ExtProcessResult *res, void *userdata) {
        DaemonBus *b = userdata;

        if (res->timed_out)
                log_warning("Provisioning run %s took longer than %us and was killed.",
                            strna(ext_process_unit(p)), (unsigned) (REPROVISION_TIMEOUT / USEC_PER_SEC));
        else
                log_full(res->exit_code == 0 ? LOG_INFO : LOG_WARNING,
                         "Provisioning run %s exited with status %d.", strna(ext_process_unit(p)),
                         res->exit_code);
        b->reprovision_service = ext_process_free(b->reprovision_service);
        daemon_bus_emit_changed(b->daemon);
}

/* azl-agent (this daemon runs as azl-agent-daemon, which has no `provision` verb): next to this program in the
 * build tree, else the installed one (agent/cli.h). */
static int self_exe(char **ret) {
        return cli_program_path("azl-agent", AZL_AGENT_PATH, ret);
}

/*
 * Under systemd the run is a transient service that systemd itself spawns, azure.slice/azl-reprovision_<uuid>
 * .service (extensions/ext-spawn.h, as extension commands): this daemon's sandbox (units/azl-agent.service.in:
 * ProtectSystem=strict, ProtectHome=, no_new_privs, …) would keep a forked run from writing /etc and /home. Its
 * output goes where the daemon's goes (the journal). Bounded by REPROVISION_TIMEOUT (KillUnit, then the unit's
 * RuntimeMaxSec=). -EOPNOTSUPP without systemd or under --root: the run is forked then (reprovision_spawn()).
 */
static int reprovision_start_service(DaemonBus *b) {
        const Context *c = b->daemon->context;
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_close_ int cwd_fd = -EBADF, null_fd = -EBADF;
        int r, out = STDOUT_FILENO, err = STDERR_FILENO;

        if (!isempty(c->root) && !streq(c->root, "/"))
                return -EOPNOTSUPP; /* a scratch root (tests, images) never becomes a host unit */
        if (!b->spawner) {
                ExtSpawnerOptions o = {.use_systemd = true, .cgroup_root = ""};

                r = ext_spawner_new(b->daemon->event, &o, &b->spawner);
                if (r < 0)
                        return r;
        }
        if (ext_spawner_isolation(b->spawner) != EXT_ISOLATION_SERVICE)
                return -EOPNOTSUPP;
        r = reprovision_argv(c, &argv);
        if (r >= 0)
                r = reprovision_env(&env);
        if (r >= 0) {
                free(argv[0]);
                argv[0] = NULL;
                r = self_exe(&argv[0]);
        }
        if (r < 0)
                return r;
        cwd_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd_fd < 0)
                return -errno;
        if (fcntl(out, F_GETFD) < 0 || fcntl(err, F_GETFD) < 0) {
                null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null_fd < 0)
                        return -errno;
                out = err = null_fd;
        }
        ExtSpawnParams params = {
                .argv = argv,
                .cwd_fd = cwd_fd,
                .cwd = "/",
                .env = env,
                .stdout_fd = out,
                .stderr_fd = err,
                .handler_name = "azl-agent",
                .operation = "azl-reprovision",
                .slice = "azure.slice",
                .timeout = REPROVISION_TIMEOUT,
        };
        return ext_process_spawn(b->spawner, &params, on_reprovision_service_exit, b,
                                 &b->reprovision_service);
}

/* Replies once the run started; its progress and result show in the properties (docs/dbus.md). */
static int method_reprovision(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DaemonBus *b = userdata;
        sd_event *e = b->daemon->event;
        pid_t pid;
        int r;

        r = check_root(m, error);
        if (r < 0)
                return r;
        if (b->reprovision_pid > 0)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "A provisioning run (PID %d) is in progress.",
                                         (int) b->reprovision_pid);
        if (b->reprovision_service)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "A provisioning run (%s) is in progress.",
                                         strna(ext_process_unit(b->reprovision_service)));
        r = reprovision_start_service(b);
        if (r >= 0) {
                log_info("Provisioning run %s started, requested over D-Bus by %s.",
                         strna(ext_process_unit(b->reprovision_service)),
                         strna(sd_bus_message_get_sender(m)));
                daemon_bus_emit_changed(b->daemon);
                return sd_bus_reply_method_return(m, NULL);
        }
        if (r != -EOPNOTSUPP)
                return sd_bus_error_set_errnof(error, r, "Failed to start azl-agent provision: %m");
        r = reprovision_spawn(b->daemon->context, &pid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to start azl-agent provision: %m");
        b->reprovision_pid = pid;
        b->reprovision_terminated = false;
        r = sd_event_add_child(e, &b->reprovision_child, pid, WEXITED, on_reprovision_exit, b);
        if (r < 0) {
                /* Unsupervised it could run for ever while Reprovisioning says false: stop it right away (it
                 * has only just started) and reap it here, nobody else will. */
                log_warning_errno(r, "Failed to watch provisioning run %d, killing it: %m", (int) pid);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                b->reprovision_pid = 0;
                return sd_bus_error_set_errnof(error, r, "Failed to supervise azl-agent provision: %m");
        }
        r = sd_event_add_time_relative(e, &b->reprovision_timer, CLOCK_MONOTONIC, REPROVISION_TIMEOUT,
                                       USEC_PER_SEC, on_reprovision_timeout, b);
        if (r < 0) {
                /* Unbounded otherwise: stop it; its exit, seen by the child source, clears Reprovisioning. */
                log_warning_errno(r, "Failed to arm the timeout of provisioning run %d, killing it: %m",
                                  (int) pid);
                (void) kill(pid, SIGKILL);
                return sd_bus_error_set_errnof(error, r, "Failed to supervise azl-agent provision: %m");
        }
        log_info("Provisioning run %d started, requested over D-Bus by %s.", (int) pid,
                 strna(sd_bus_message_get_sender(m)));
        daemon_bus_emit_changed(b->daemon);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable agent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Platform", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VmId", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProvisioningState", "s", property_get_string, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProvisioningReason", "s", property_get_string, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProvisioningStartTimestamp", "t", property_get_usec, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProvisioningFinishTimestamp", "t", property_get_usec, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProvisioningSteps", "a(ssts)", property_get_steps, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProvisioningSkipped", "a(sss)", property_get_skipped, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastHealth", "(sst)", property_get_health, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Reprovisioning", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GoalStateIncarnation", "s", property_get_string, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GoalStateEtag", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GoalStateTimestamp", "t", property_get_usec, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GoalStatePollFailures", "u", property_get_poll_failures, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FastTrack", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExtensionsGoalState", "s", property_get_string, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExtensionsRunning", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Invalidation only: signals go to every reader, and the messages are root's alone (docs/dbus.md). */
        SD_BUS_PROPERTY("Extensions", "a(ssssissisu)", property_get_extensions, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("LastStatusUploadTimestamp", "t", property_get_usec, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StatusUploads", "t", property_get_usec, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("UserDataState", "s", property_get_userdata_state, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("UserDataUnsupported", "as", property_get_userdata_unsupported, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Invalidation only: the scripts' output is root's alone, like the extensions' messages */
        SD_BUS_PROPERTY("UserDataScripts", "a(sssitts)", property_get_userdata_scripts, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("FirewallState", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FirewallDetail", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* The confidential-VM verdict is settled when the daemon starts (common/confidential.h). */
        SD_BUS_PROPERTY("Confidential", "b", property_get_bool, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ConfidentialDetail", "s", property_get_confidential_detail, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("RefreshGoalState", NULL, NULL, method_refresh_goal_state, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reprovision", NULL, NULL, method_reprovision, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END};

_Static_assert(ELEMENTSOF(agent_vtable) <= PROPERTIES_MAX, "DaemonBus.emitted[] is too small");

/* ---- change detection ---- */

/* The property's value as text: its getter fills a message, sd_bus_message_dump() prints it. */
static int property_serialize(DaemonBus *b, const sd_bus_vtable *v, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        r = sd_bus_message_new_signal(b->bus, &m, BUS_PATH, BUS_INTERFACE, "Serialize");
        if (r < 0)
                return r;
        b->serializing = true;
        r = v->x.property.get(b->bus, BUS_PATH, BUS_INTERFACE, v->x.property.member, m, b, &error);
        b->serializing = false;
        if (r < 0)
                return r;
        r = sd_bus_message_seal(m, 1, 0);
        if (r < 0)
                return r;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        r = sd_bus_message_dump(m, f, 0);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(text);
        return 0;
}

/* Updates what the daemon does not keep itself: when the goal state and the last upload were seen. */
static void track_daemon(DaemonBus *b) {
        const Daemon *d = b->daemon;

        if (!streq_ptr(b->seen_incarnation, d->state.incarnation) ||
            !streq_ptr(b->seen_etag, d->state.etag)) {
                if (free_and_strdup(&b->seen_incarnation, d->state.incarnation) < 0 ||
                    free_and_strdup(&b->seen_etag, d->state.etag) < 0)
                        return (void) log_oom();
                b->goal_state_at = now_usec(CLOCK_REALTIME);
        }
        if (b->seen_uploads != d->n_uploads) {
                b->seen_uploads = d->n_uploads;
                b->upload_at = now_usec(CLOCK_REALTIME);
        }
}

/* Serializes every changing property; with emit, sends PropertiesChanged for those that differ from last time
 * (sd-bus puts the value of an emits-change property in the signal, only the name of an emits-invalidation one). */
static void properties_compare(DaemonBus *b, bool emit) {
        _cleanup_strv_free_ char **changed = NULL;
        int r;

        track_daemon(b);
        for (size_t i = 0; i < ELEMENTSOF(agent_vtable); i++) {
                const sd_bus_vtable *v = &agent_vtable[i];
                _cleanup_free_ char *text = NULL;

                if (v->type != _SD_BUS_VTABLE_PROPERTY ||
                    !(v->flags &
                      (SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE | SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION)))
                        continue;
                r = property_serialize(b, v, &text);
                if (r < 0) {
                        log_debug_errno(r, "Failed to serialize property %s: %m", v->x.property.member);
                        continue;
                }
                if (streq_ptr(text, b->emitted[i]))
                        continue;
                if (emit && strv_extend(&changed, v->x.property.member) < 0)
                        return (void) log_oom();
                free(b->emitted[i]);
                b->emitted[i] = TAKE_PTR(text);
        }
        if (!changed)
                return;
        r = sd_bus_emit_properties_changed_strv(b->bus, BUS_PATH, BUS_INTERFACE, changed);
        if (r < 0)
                log_debug_errno(r, "Failed to emit PropertiesChanged: %m");
}

static void provisioning_reload(DaemonBus *b);

void daemon_bus_emit_changed(Daemon *d) {
        if (!d->bus)
                return;
        if (!d->bus->state_watch)
                provisioning_reload(d->bus); /* no inotify watch: read state.json at each check instead */
        properties_compare(d->bus, true);
}

/* ---- state.json ---- */

static void userdata_reload(DaemonBus *b) {
        UserDataStatus s = {};
        int r;

        r = userdata_status_load(b->daemon->context, &s);
        if (r == -EBADMSG)
                return;
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r,
                                "Failed to read %s/"
                                "userdata.json: %m",
                                b->daemon->context->config.state_dir);
        userdata_status_done(&b->userdata);
        b->userdata = s;
}

static void provisioning_reload(DaemonBus *b) {
        ProvisionState s = {};
        int r;

        userdata_reload(b);

        r = provision_state_load(b->daemon->context, &s);
        if (r == -EBADMSG)
                return; /* never with atomic writes; keep what we have */
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Failed to read %s/state.json: %m", b->daemon->context->config.state_dir);
        provision_state_done(&b->prov);
        b->prov = s;
        b->have_prov = r >= 0;
}

static int state_watch_setup(DaemonBus *b);

static int on_state_dir(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        DaemonBus *b = userdata;
        int r;

        if (ev->mask & (IN_IGNORED | IN_MOVE_SELF | IN_UNMOUNT)) {
                /* The directory was removed or moved away (the watch is gone, or follows the old directory):
                 * watch the one at the path again, created if need be; without a watch, emits re-read. */
                if (ev->mask & IN_MOVE_SELF || b->state_watch == s)
                        b->state_watch = sd_event_source_disable_unref(b->state_watch);
                else
                        return 0; /* IN_IGNORED of the moved directory's watch, already replaced */
                r = state_watch_setup(b);
                if (r < 0)
                        log_warning_errno(
                                r, "Cannot watch %s again, reading state.json at each change check: %m",
                                b->daemon->context->config.state_dir);
                else
                        log_debug("Watching %s again (it was removed or moved).",
                                  b->daemon->context->config.state_dir);
        } else if (ev->len > 0 && !streq(ev->name, "state.json") && !streq(ev->name, "userdata.json"))
                return 0;
        provisioning_reload(b);
        daemon_bus_emit_changed(b->daemon);
        return 0;
}

static int state_watch_setup(DaemonBus *b) {
        const Context *c = b->daemon->context;
        _cleanup_close_ int dir_fd = -EBADF;
        char dir[PROC_FD_PATH_MAX];
        int r;

        r = mkdir_p_in_root(c->root_fd, c->config.state_dir, 0700);
        if (r < 0)
                return r;
        /* Watched through an fd opened beneath the root, never a host path a symlink could redirect. */
        dir_fd = open_in_root(c->root_fd, c->config.state_dir, O_PATH | O_DIRECTORY, 0);
        if (dir_fd < 0)
                return dir_fd;
        return sd_event_add_inotify(b->daemon->event, &b->state_watch, proc_fd_path(dir, dir_fd),
                                    IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVE_SELF | IN_ONLYDIR,
                                    on_state_dir, b);
}

/* ---- setup ---- */

DaemonBus *daemon_bus_free(DaemonBus *b) {
        if (!b)
                return NULL;
        /* A provisioning run goes on by itself (systemd stops it with the unit); we only stop watching. */
        sd_event_source_disable_unref(b->reprovision_child);
        sd_event_source_disable_unref(b->reprovision_timer);
        ext_process_forget(b->reprovision_service);
        ext_spawner_free(b->spawner);
        sd_event_source_disable_unref(b->state_watch);
        sd_bus_slot_unref(b->vtable_slot);
        if (b->bus) {
                (void) sd_bus_detach_event(b->bus);
                sd_bus_flush_close_unref(b->bus);
        }
        provision_state_done(&b->prov);
        userdata_status_done(&b->userdata);
        free(b->seen_incarnation);
        free(b->seen_etag);
        for (size_t i = 0; i < ELEMENTSOF(b->emitted); i++)
                free(b->emitted[i]);
        free(b);
        return NULL;
}

/* dbus-daemon went away (restart, crash): sd-bus closes the connection and the loop goes on without it. */
static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        log_warning("Lost the system bus connection; the D-Bus API is off until the daemon restarts.");
        return 0;
}

static inline void daemon_bus_freep(DaemonBus **b) {
        daemon_bus_free(*b);
}

int daemon_bus_setup(Daemon *d) {
        _cleanup_(daemon_bus_freep) DaemonBus *b = NULL;
        int r;

        b = calloc(1, sizeof *b);
        if (!b)
                return log_oom();
        b->daemon = d;

        r = sd_bus_open_system_with_description(&b->bus, "azl-agent");
        if (r < 0) {
                log_info_errno(r, "No system bus (%m); running without the D-Bus API.");
                return 0;
        }
        r = sd_bus_add_object_vtable(b->bus, &b->vtable_slot, BUS_PATH, BUS_INTERFACE, agent_vtable, b);
        if (r < 0)
                return log_error_errno(r, "Failed to register the D-Bus object: %m");
        r = sd_bus_request_name(b->bus, BUS_NAME, 0);
        if (r < 0) {
                log_warning_errno(r, "Cannot own the D-Bus name " BUS_NAME
                                     " (%m); running without the D-Bus API.");
                return 0;
        }
        r = sd_bus_match_signal(b->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, b);
        if (r < 0)
                log_debug_errno(r, "Failed to watch for the bus disconnecting, ignoring: %m");
        r = sd_bus_attach_event(b->bus, d->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the system bus to the event loop: %m");

        r = state_watch_setup(b);
        if (r < 0)
                log_warning_errno(r,
                                  "Cannot watch %s for provisioning changes, reading state.json at each "
                                  "change check instead: %m",
                                  d->context->config.state_dir);
        provisioning_reload(b);
        properties_compare(b, false);
        log_info("D-Bus API " BUS_NAME " at " BUS_PATH " on the system bus.");
        d->bus = TAKE_PTR(b);
        return 0;
}

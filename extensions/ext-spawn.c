/* SPDX-License-Identifier: MIT */
/*
 * Isolated, bounded command execution on sd-event; see ext-spawn.h for the design. The cgroup filesystem is
 * a kernel interface, not part of the (possibly alternate) root: it is reached through its own directory fd.
 * systemd's D-Bus API: org.freedesktop.systemd1(5) — Manager.StartTransientUnit/KillUnit/StopUnit/UnrefUnit,
 * the JobRemoved signal, the Service interface's ExecMain* properties.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <systemd/sd-bus.h>

#include "ext-spawn.h"
#include "ext-util.h"
#include "log.h"
#include "spawn-util.h"
#include "string-table.h"

#define EXT_SLICE_ROOT          "azure-vmextensions.slice"
#define EXT_SLICE_PARENT_CGROUP "azure.slice/" EXT_SLICE_ROOT /* where systemd puts it (units/azure.slice) */
#define SYSTEMD_DEST            "org.freedesktop.systemd1"
#define SYSTEMD_PATH            "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER         "org.freedesktop.systemd1.Manager"
/* RuntimeMaxUSec= of a service: the operation's timeout plus this, should the agent not be there to kill it. */
#define EXT_SERVICE_RUNTIME_MARGIN (60U * USEC_PER_SEC)
/* After a timeout kill, the exit is reported at the latest this much later even if systemd never says so. */
#define EXT_KILL_GRACE (15U * USEC_PER_SEC)

struct ExtSpawner {
        sd_event *event;
        sd_bus *bus;
        bool scopes; /* ExtSpawnerOptions.systemd_scopes */
        bool subscribed;
        int cgroup_fd; /* cgroup2 mount, -EBADF when none */
        char *cgroup_root;
        unsigned counter;
};

struct ExtProcess {
        ExtSpawner *spawner;
        /* What to run, kept for a service start that falls back to forking. */
        char **argv, **env;
        char *cwd, *handler_name, *operation, *slice;
        int cwd_fd, stdout_fd, stderr_fd;
        unsigned cpu_quota_percent;
        uint64_t memory_max;

        pid_t pid; /* forked child, or the service's MainPID once known */
        int pidfd;
        int gate_fd; /* write end of the start gate, -EBADF when open */
        sd_event_source *child_source, *timer_source, *grace_source;
        sd_bus_slot *start_slot, *job_slot, *props_slot, *get_slot;
        ExtProcessHandler cb;
        void *userdata;
        char *unit;      /* transient service or scope */
        char *unit_path; /* its object path (service) */
        char *cgroup;    /* leaf path relative to the cgroup mount (cgroup isolation) */
        ExtProcessResult result;
        bool service; /* systemd spawned it: exit status from the unit's properties */
        bool job_done, job_failed, refresh_again, exited, unrefed;
};

static const char *const ext_isolation_table[_EXT_ISOLATION_MAX] = {
        [EXT_ISOLATION_SERVICE] = "systemd-service",
        [EXT_ISOLATION_SCOPE] = "systemd-scope",
        [EXT_ISOLATION_CGROUP] = "cgroup",
        [EXT_ISOLATION_PROCESS_GROUP] = "process-group",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(ext_isolation, ExtIsolation);

static int is_writable_cgroup2(const char *path) {
        struct statfs sfs;

        if (statfs(path, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
                return false;
        return access(path, W_OK) == 0;
}

static int bus_open(const ExtSpawnerOptions *o, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (!o->bus_address)
                return sd_bus_open_system(ret);
        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, o->bus_address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int ext_spawner_new(sd_event *e, const ExtSpawnerOptions *o, ExtSpawner **ret) {
        static const ExtSpawnerOptions defaults = {.use_systemd = true};
        _cleanup_(ext_spawner_freep) ExtSpawner *s = NULL;
        const char *root = NULL;

        o = o ?: &defaults;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->cgroup_fd = -EBADF;
        s->event = sd_event_ref(e);
        s->scopes = o->systemd_scopes;
        if ((o->bus_address || (o->use_systemd && access("/run/systemd/system", F_OK) == 0)) &&
            bus_open(o, &s->bus) >= 0 && sd_bus_attach_event(s->bus, e, SD_EVENT_PRIORITY_NORMAL) < 0)
                s->bus = sd_bus_flush_close_unref(s->bus);

        if (o->cgroup_root)
                root = isempty(o->cgroup_root) ? NULL : o->cgroup_root;
        else if (is_writable_cgroup2("/sys/fs/cgroup"))
                root = "/sys/fs/cgroup";
        else if (is_writable_cgroup2("/sys/fs/cgroup/unified"))
                root = "/sys/fs/cgroup/unified"; /* hybrid hierarchy: no controllers, cgroup.kill works */
        if (root && is_writable_cgroup2(root)) {
                s->cgroup_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (s->cgroup_fd >= 0 && !(s->cgroup_root = strdup(root)))
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

ExtSpawner *ext_spawner_free(ExtSpawner *s) {
        if (!s)
                return NULL;
        sd_bus_flush_close_unref(s->bus);
        sd_event_unref(s->event);
        closep(&s->cgroup_fd);
        free(s->cgroup_root);
        free(s);
        return NULL;
}

ExtIsolation ext_spawner_isolation(const ExtSpawner *s) {
        if (s->bus)
                return s->scopes ? EXT_ISOLATION_SCOPE : EXT_ISOLATION_SERVICE;
        return s->cgroup_fd >= 0 ? EXT_ISOLATION_CGROUP : EXT_ISOLATION_PROCESS_GROUP;
}

const char *ext_spawner_cgroup_root(const ExtSpawner *s) {
        return s->cgroup_root;
}

int ext_handler_slice_name(const char *handler_name, char **ret) {
        char *s;

        /* §4.10: azure-vmextensions-<Handler>.slice, '-' replaced by '_' (a '-' would nest the slice). */
        if (asprintf(&s, "azure-vmextensions-%s.slice", handler_name) < 0)
                return -ENOMEM;
        for (char *p = s + strlen("azure-vmextensions-"); *p; p++)
                if (*p == '-' || *p == '/')
                        *p = '_';
        *ret = s;
        return 0;
}

/* The slice of a process: the one its caller named, else its handler's. */
static int process_slice_name(const ExtProcess *p, char **ret) {
        if (!p->slice)
                return ext_handler_slice_name(p->handler_name, ret);
        *ret = strdup(p->slice);
        return *ret ? 0 : -ENOMEM;
}

/* ---- cgroup files ---- */

static int write_cg(int dir_fd, const char *file, const char *value) {
        _cleanup_close_ int fd = openat(dir_fd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t n = strlen(value);

        if (fd < 0)
                return -errno;
        return write(fd, value, n) == (ssize_t) n ? 0 : negative_errno();
}

static int read_cg(int dir_fd, const char *file, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dir_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return 0;
}

/* cpu.max as cgroup v2 writes it: "<quota> <period>", 1 % of a CPU = 1000 µs per 100 ms. */
static void cpu_max_value(unsigned percent, char *buf, size_t size) {
        (void) snprintf(buf, size, "%" PRIu64 " 100000", (uint64_t) percent * 1000U);
}

/* Whether the cgroup at dir_fd holds the limits asked for (read back, not assumed). */
static bool cgroup_has_limits(int dir_fd, unsigned cpu_quota_percent, uint64_t memory_max) {
        char want[64], have[64];

        if (cpu_quota_percent == 0 && memory_max == 0)
                return false;
        if (cpu_quota_percent > 0) {
                cpu_max_value(cpu_quota_percent, want, sizeof want);
                if (read_cg(dir_fd, "cpu.max", have, sizeof have) < 0 || !streq(have, want))
                        return false;
        }
        if (memory_max > 0) {
                (void) snprintf(want, sizeof want, "%" PRIu64, memory_max);
                if (read_cg(dir_fd, "memory.max", have, sizeof have) < 0 || !streq(have, want))
                        return false;
        }
        return true;
}

static int open_or_make_dir(int dir_fd, const char *name) {
        if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
                return -errno;
        return RET_NERRNO(openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

/* Creates slice/handler-slice/leaf; limits on the handler slice. Returns the leaf fd. */
static int cgroup_prepare(ExtSpawner *s, ExtProcess *proc) {
        _cleanup_close_ int top = -EBADF, handler = -EBADF;
        _cleanup_free_ char *slice = NULL, *leaf = NULL;
        int r;

        r = process_slice_name(proc, &slice);
        if (r < 0)
                return r;
        /* Controllers must be enabled top-down; on a hybrid hierarchy there are none (writes fail, ignored). */
        (void) write_cg(s->cgroup_fd, "cgroup.subtree_control", "+cpu +memory");
        top = open_or_make_dir(s->cgroup_fd, EXT_SLICE_ROOT);
        if (top < 0)
                return top;
        (void) write_cg(top, "cgroup.subtree_control", "+cpu +memory");
        handler = open_or_make_dir(top, slice);
        if (handler < 0)
                return handler;
        if (proc->cpu_quota_percent > 0) {
                char v[64];

                cpu_max_value(proc->cpu_quota_percent, v, sizeof v);
                (void) write_cg(handler, "cpu.max", v);
        }
        if (proc->memory_max > 0) {
                char v[32];

                (void) snprintf(v, sizeof v, "%" PRIu64, proc->memory_max);
                (void) write_cg(handler, "memory.max", v);
        }
        proc->result.limits_applied = cgroup_has_limits(handler, proc->cpu_quota_percent, proc->memory_max);
        if (asprintf(&leaf, "%s-%u-%d.scope", proc->operation, ++s->counter, (int) getpid()) < 0 ||
            asprintf(&proc->cgroup, EXT_SLICE_ROOT "/%s/%s", slice, leaf) < 0)
                return -ENOMEM;
        return open_or_make_dir(handler, leaf);
}

static void cgroup_read_throttling(ExtSpawner *s, ExtProcess *p) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char key[64];
        uint64_t v;
        int fd;

        if (!p->cgroup || asprintf(&path, "%s/cpu.stat", p->cgroup) < 0)
                return;
        fd = openat(s->cgroup_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || !(f = fdopen(fd, "r"))) {
                closep(&fd);
                return;
        }
        while (fscanf(f, "%63s %" SCNu64, key, &v) == 2) {
                if (streq(key, "nr_throttled"))
                        p->result.nr_throttled = v;
                else if (streq(key, "throttled_usec"))
                        p->result.throttled_usec = v;
        }
}

/* SIGKILL to every PID listed in cgroup.procs of path and of every cgroup below it (read access suffices). */
static void cgroup_kill_procs_tree(int cgroup_fd, const char *path, unsigned depth) {
        _cleanup_free_ char *procs = NULL;
        _cleanup_close_ int dir = -EBADF;
        _cleanup_fclose_ FILE *f = NULL;
        DIR *d;
        int fd, pid;

        if (depth > 16 || asprintf(&procs, "%s/cgroup.procs", path) < 0)
                return;
        fd = openat(cgroup_fd, procs, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && (f = fdopen(fd, "r")))
                while (fscanf(f, "%d", &pid) == 1)
                        if (pid > 0)
                                (void) kill(pid, SIGKILL);
        if (!f)
                closep(&fd);
        dir = openat(cgroup_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        d = dir >= 0 ? fdopendir(dir) : NULL;
        if (!d)
                return;
        dir = -EBADF;
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *sub = NULL;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, "..") ||
                    asprintf(&sub, "%s/%s", path, de->d_name) < 0)
                        continue;
                cgroup_kill_procs_tree(cgroup_fd, sub, depth + 1);
        }
        closedir(d);
}

/* cgroup.kill (Linux 5.14) or, failing that, SIGKILL to every PID listed below path. */
static void cgroup_kill_path(int cgroup_fd, const char *path) {
        _cleanup_free_ char *kill_file = NULL;

        if (asprintf(&kill_file, "%s/cgroup.kill", path) < 0)
                return;
        if (write_cg(cgroup_fd, kill_file, "1") >= 0)
                return;
        cgroup_kill_procs_tree(cgroup_fd, path, 0);
}

/* ---- process lifetime ---- */

static void unit_kill(ExtProcess *p) {
        if (!p->unit || !p->spawner->bus)
                return;
        (void) sd_bus_call_method_async(p->spawner->bus, NULL, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                        "KillUnit", NULL, NULL, "ssi", p->unit, "all", SIGKILL);
}

static void process_kill(ExtProcess *p) {
        if (p->exited)
                return;
        if (p->cgroup && p->spawner->cgroup_fd >= 0)
                cgroup_kill_path(p->spawner->cgroup_fd, p->cgroup);
        unit_kill(p);
        if (!p->service && p->pid > 0) {
                /* setsid() made the child a group leader: pgid == pid (waagent: killpg(pgid, SIGKILL)). */
                (void) kill(-p->pid, SIGKILL);
                (void) kill(p->pid, SIGKILL);
        }
}

/* The service's reference (AddRef=yes) is dropped: systemd may now collect the unit. */
static void service_unref(ExtProcess *p) {
        if (p->unrefed || !p->service || !p->unit || !p->spawner->bus)
                return;
        (void) sd_bus_call_method_async(p->spawner->bus, NULL, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                        "UnrefUnit", NULL, NULL, "s", p->unit);
        p->unrefed = true;
}

ExtProcess *ext_process_free(ExtProcess *p) {
        if (!p)
                return NULL;
        if (!p->exited) {
                process_kill(p);
                if (!p->service && p->pidfd >= 0)
                        (void) waitid(P_PIDFD, (id_t) p->pidfd, NULL, WEXITED);
        }
        service_unref(p);
        sd_event_source_disable_unref(p->child_source);
        sd_event_source_disable_unref(p->timer_source);
        sd_event_source_disable_unref(p->grace_source);
        sd_bus_slot_unref(p->start_slot);
        sd_bus_slot_unref(p->job_slot);
        sd_bus_slot_unref(p->props_slot);
        sd_bus_slot_unref(p->get_slot);
        closep(&p->pidfd);
        closep(&p->gate_fd);
        closep(&p->cwd_fd);
        closep(&p->stdout_fd);
        closep(&p->stderr_fd);
        strv_free(p->argv);
        strv_free(p->env);
        free(p->cwd);
        free(p->handler_name);
        free(p->slice);
        free(p->operation);
        free(p->unit);
        free(p->unit_path);
        free(p->cgroup);
        free(p);
        return NULL;
}

ExtProcess *ext_process_forget(ExtProcess *p) {
        if (p)
                p->exited = true; /* nothing is killed: the command goes on without us */
        return ext_process_free(p);
}

pid_t ext_process_pid(const ExtProcess *p) {
        return p->pid;
}

const char *ext_process_cgroup(const ExtProcess *p) {
        return p->cgroup;
}

const char *ext_process_unit(const ExtProcess *p) {
        return p->unit;
}

/* The command is over: the callback (which may free p) runs once. */
static void process_finish(ExtProcess *p, int exit_code) {
        ExtProcessResult r;

        if (p->exited)
                return;
        p->exited = true;
        p->result.exit_code = exit_code;
        p->timer_source = sd_event_source_disable_unref(p->timer_source);
        p->grace_source = sd_event_source_disable_unref(p->grace_source);
        p->props_slot = sd_bus_slot_unref(p->props_slot);
        p->job_slot = sd_bus_slot_unref(p->job_slot);
        service_unref(p); /* the exit status is read: systemd may collect the unit */
        r = p->result;
        p->cb(p, &r, p->userdata);
}

/* Called when a forked command's main process exits (pidfd became readable). */
static int on_child(sd_event_source *src, const siginfo_t *si, void *userdata) {
        ExtProcess *p = userdata;

        cgroup_read_throttling(p->spawner, p);
        /* An empty leaf is removed; one with background processes stays until the handler is removed. */
        if (p->cgroup && p->spawner->cgroup_fd >= 0)
                (void) unlinkat(p->spawner->cgroup_fd, p->cgroup, AT_REMOVEDIR);
        process_finish(p, si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status);
        return 0;
}

/* Called if systemd never reports the end of a command killed at its timeout. */
static int on_kill_grace(sd_event_source *src, uint64_t usec, void *userdata) {
        ExtProcess *p = userdata;

        log_debug("%s: no exit reported %us after SIGKILL", strna(p->unit),
                  (unsigned) (EXT_KILL_GRACE / USEC_PER_SEC));
        process_finish(p, 128 + SIGKILL);
        return 0;
}

/* Called when the operation's timeout elapses (§4.5: kill the whole group, code 1011). */
static int on_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        ExtProcess *p = userdata;

        p->result.timed_out = true;
        p->timer_source = sd_event_source_disable_unref(p->timer_source);
        process_kill(p);
        if (p->service)
                (void) sd_event_add_time_relative(p->spawner->event, &p->grace_source, CLOCK_MONOTONIC,
                                                  EXT_KILL_GRACE, 0, on_kill_grace, p);
        return 0;
}

/* ---- systemd: transient scope around a forked child ---- */

static void gate_open(ExtProcess *p) {
        if (p->gate_fd >= 0) {
                (void) write(p->gate_fd, "1", 1);
                closep(&p->gate_fd);
                p->gate_fd = -EBADF;
        }
}

/* Systemd could not place the process: it runs as a plain process group. */
static void scope_fallback(ExtProcess *p) {
        p->unit = mfree_str(p->unit);
        p->result.isolation = EXT_ISOLATION_PROCESS_GROUP;
        p->result.limits_applied = false;
        gate_open(p);
}

static int service_refresh(ExtProcess *p);
static int local_start(ExtProcess *p, ExtIsolation isolation);

/* Called for each JobRemoved signal: the start job of our unit finished. */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ExtProcess *p = userdata;
        const char *unit, *result, *path;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !p->unit ||
            !streq(unit, p->unit))
                return 0;
        p->job_slot = sd_bus_slot_unref(p->job_slot);
        p->job_done = true;
        if (p->service) {
                p->job_failed = !streq(result, "done");
                if (p->job_failed)
                        log_debug("%s: start job %s", p->unit, result);
                (void) service_refresh(p);
                return 0;
        }
        if (streq(result, "done")) {
                /* The scope has its limits (CPUQuotaPerSecUSec=/MemoryMax= were part of its creation). */
                p->result.limits_applied = p->cpu_quota_percent > 0 || p->memory_max > 0;
                gate_open(p);
        } else
                scope_fallback(p);
        return 0;
}

static int append_common_properties(sd_bus_message *m, ExtProcess *p, const char *slice) {
        int r;

        r = sd_bus_message_append(m, "(sv)(sv)", "Slice", "s", slice, "Description", "s",
                                  "Azure VM extension command");
        if (r >= 0 && p->cpu_quota_percent > 0)
                r = sd_bus_message_append(m, "(sv)", "CPUQuotaPerSecUSec", "t",
                                          (uint64_t) p->cpu_quota_percent * 10000U);
        if (r >= 0 && p->memory_max > 0)
                r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t", p->memory_max);
        return r;
}

static int transient_unit_name(ExtProcess *p, const char *suffix) {
        char id[37];
        int r = uuid_random(id);

        if (r < 0)
                return r;
        free(p->unit);
        return asprintf(&p->unit, "%s_%s.%s", p->operation, id, suffix) < 0 ? -ENOMEM : 0;
}

/* Called with the reply to StartTransientUnit of a scope. */
static int on_scope_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ExtProcess *p = userdata;

        p->start_slot = sd_bus_slot_unref(p->start_slot);
        if (sd_bus_message_is_method_error(m, NULL)) {
                log_debug("StartTransientUnit(%s) failed: %s", p->unit,
                          sd_bus_message_get_error(m)->message);
                scope_fallback(p);
        }
        return 0;
}

static int scope_start(ExtProcess *p) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *slice = NULL;
        sd_bus *bus = p->spawner->bus;
        int r;

        if ((r = process_slice_name(p, &slice)) < 0 || (r = transient_unit_name(p, "scope")) < 0)
                return r;
        r = sd_bus_match_signal_async(bus, &p->job_slot, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                      "JobRemoved", on_job_removed, NULL, p);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                                   "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", p->unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append_common_properties(m, p, slice);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t) p->pid);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call_async(bus, &p->start_slot, m, on_scope_start_reply, p, 0);
        return r;
}

/* ---- systemd: transient service ---- */

/* The agent's own unit variables, which systemd sets afresh for the handler's unit (or must not reach it). */
static bool env_is_unit_private(const char *kv) {
        static const char *const keys[] = {
                "NOTIFY_SOCKET",
                "WATCHDOG_PID",
                "WATCHDOG_USEC",
                "LISTEN_PID",
                "LISTEN_FDS",
                "LISTEN_FDNAMES",
                "INVOCATION_ID",
                "JOURNAL_STREAM",
                "SYSTEMD_EXEC_PID",
                "MAINPID",
                "MANAGERPID",
                "CREDENTIALS_DIRECTORY",
                "RUNTIME_DIRECTORY",
                "STATE_DIRECTORY",
                "LOGS_DIRECTORY",
                "CACHE_DIRECTORY",
                "CONFIGURATION_DIRECTORY",
                "MONITOR_SERVICE_RESULT",
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                size_t n = strlen(keys[i]);

                if (strncmp(kv, keys[i], n) == 0 && kv[n] == '=')
                        return true;
        }
        return false;
}

static int append_service_properties(sd_bus_message *m, ExtProcess *p, const char *slice, usec_t timeout) {
        int r;

        r = append_common_properties(m, p, slice);
        /* ExecStart=: (path, argv, ignore-failure). */
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "ExecStart");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", p->argv[0]);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, p->argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", false);
        for (int i = 0; r >= 0 && i < 4; i++)
                r = sd_bus_message_close_container(m);
        /* Environment=: the §4.4 contract. */
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "Environment");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "s");
        for (char **e = p->env; r >= 0 && e && *e; e++)
                if (!env_is_unit_private(*e))
                        r = sd_bus_message_append(m, "s", *e);
        for (int i = 0; r >= 0 && i < 3; i++)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)", "WorkingDirectory", "s",
                                          p->cwd, "StandardInput", "s", "null",
                                          "StandardOutputFileDescriptor", "h", p->stdout_fd,
                                          "StandardErrorFileDescriptor", "h", p->stderr_fd, "IgnoreSIGPIPE",
                                          "b", false, "KillMode", "s", "process", "CollectMode", "s",
                                          "inactive-or-failed", "AddRef", "b", true);
        if (r >= 0 && timeout > 0)
                r = sd_bus_message_append(m, "(sv)", "RuntimeMaxUSec", "t",
                                          timeout + EXT_SERVICE_RUNTIME_MARGIN);
        return r;
}

/* Called with the reply to StartTransientUnit of a service: an error falls back to forking in a scope. */
static int on_service_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ExtProcess *p = userdata;
        int r;

        p->start_slot = sd_bus_slot_unref(p->start_slot);
        if (!sd_bus_message_is_method_error(m, NULL))
                return 0;
        log_debug("StartTransientUnit(%s) failed: %s; forking in a scope instead", p->unit,
                  sd_bus_message_get_error(m)->message);
        p->service = false;
        p->job_slot = sd_bus_slot_unref(p->job_slot);
        p->props_slot = sd_bus_slot_unref(p->props_slot);
        p->unit = mfree_str(p->unit);
        p->unit_path = mfree_str(p->unit_path);
        r = local_start(p, EXT_ISOLATION_SCOPE);
        if (r < 0) {
                log_debug("Cannot start the command: %s", strerror(-r));
                process_finish(p, 127);
        }
        return 0;
}

/* Reads one a{sv} entry we need; everything else is skipped. */
static int read_service_property(sd_bus_message *m, const char *key, uint32_t *main_pid, uint64_t *exit_ts,
                                 int32_t *code, int32_t *status, uint64_t *cpu, uint64_t *mem) {
        if (streq(key, "MainPID"))
                return sd_bus_message_read(m, "v", "u", main_pid);
        if (streq(key, "ExecMainExitTimestampMonotonic"))
                return sd_bus_message_read(m, "v", "t", exit_ts);
        if (streq(key, "ExecMainCode"))
                return sd_bus_message_read(m, "v", "i", code);
        if (streq(key, "ExecMainStatus"))
                return sd_bus_message_read(m, "v", "i", status);
        if (streq(key, "CPUQuotaPerSecUSec"))
                return sd_bus_message_read(m, "v", "t", cpu);
        if (streq(key, "MemoryMax"))
                return sd_bus_message_read(m, "v", "t", mem);
        return sd_bus_message_skip(m, "v");
}

/* Called with the unit's Service properties: records the main PID and the limits the unit runs with, and ends
 * the command once its main process has exited (ExecMainCode: CLD_EXITED, CLD_KILLED, CLD_DUMPED). */
static int on_service_properties(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ExtProcess *p = userdata;
        uint64_t exit_ts = 0, cpu = UINT64_MAX, mem = UINT64_MAX;
        int32_t code = 0, status = 0;
        uint32_t main_pid = 0;
        const char *key;
        int r;

        p->get_slot = sd_bus_slot_unref(p->get_slot);
        if (sd_bus_message_is_method_error(m, NULL)) {
                log_debug("GetAll(%s) failed: %s", p->unit, sd_bus_message_get_error(m)->message);
                return 0;
        }
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = read_service_property(m, key, &main_pid, &exit_ts, &code, &status, &cpu, &mem);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0) {
                log_debug("Cannot parse the properties of %s: %s", p->unit, strerror(-r));
                return 0;
        }
        if (main_pid > 0)
                p->pid = (pid_t) main_pid;
        /* The unit has run: does it hold the limits we asked for? (systemd's view, which it applied.) */
        if (p->job_done && (main_pid > 0 || exit_ts > 0) && (p->cpu_quota_percent > 0 || p->memory_max > 0))
                p->result.limits_applied =
                        (p->cpu_quota_percent == 0 || cpu == (uint64_t) p->cpu_quota_percent * 10000U) &&
                        (p->memory_max == 0 || mem == p->memory_max);
        if (exit_ts > 0 && main_pid == 0) {
                process_finish(p, code == CLD_EXITED ? status : 128 + status);
                return 0;
        }
        if (p->job_failed && main_pid == 0) {
                process_finish(p, 127); /* the unit never ran its command */
                return 0;
        }
        if (p->refresh_again) {
                p->refresh_again = false;
                (void) service_refresh(p);
        }
        return 0;
}

/* Asks for the unit's Service properties (coalesced: one call in flight, one more if woken meanwhile). */
static int service_refresh(ExtProcess *p) {
        if (p->exited || !p->unit_path)
                return 0;
        if (p->get_slot) {
                p->refresh_again = true;
                return 0;
        }
        return sd_bus_call_method_async(p->spawner->bus, &p->get_slot, SYSTEMD_DEST, p->unit_path,
                                        "org.freedesktop.DBus.Properties", "GetAll", on_service_properties,
                                        p, "s", "org.freedesktop.systemd1.Service");
}

/* Called for PropertiesChanged of our unit (Unit or Service interface): something moved, look again. */
static int on_unit_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ExtProcess *p = userdata;

        if (p->job_done)
                (void) service_refresh(p);
        return 0;
}

static int service_start(ExtProcess *p, usec_t timeout) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *slice = NULL;
        sd_bus *bus = p->spawner->bus;
        int r;

        if ((r = process_slice_name(p, &slice)) < 0 || (r = transient_unit_name(p, "service")) < 0 ||
            (r = sd_bus_path_encode(SYSTEMD_PATH "/unit", p->unit, &p->unit_path)) < 0)
                return r;
        if (!p->spawner->subscribed) {
                /* systemd emits JobRemoved and unit PropertiesChanged only while someone is subscribed. */
                r = sd_bus_call_method_async(bus, NULL, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                             "Subscribe", NULL, NULL, NULL);
                p->spawner->subscribed = r >= 0;
        }
        r = sd_bus_match_signal_async(bus, &p->job_slot, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                      "JobRemoved", on_job_removed, NULL, p);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, &p->props_slot, SYSTEMD_DEST, p->unit_path,
                                              "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                              on_unit_changed, NULL, p);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                                   "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", p->unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append_service_properties(m, p, slice, timeout);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call_async(bus, &p->start_slot, m, on_service_start_reply, p, 0);
        if (r < 0)
                return r;
        p->service = true;
        p->result.isolation = EXT_ISOLATION_SERVICE;
        return 0;
}

/* ---- forked child ---- */

struct child_args {
        char *const *argv;
        char *const *envp;
        int cwd_fd, stdout_fd, stderr_fd, null_fd, gate_fd;
};

/* Runs in the child between clone3()/vfork() and execve(): async-signal-safe calls only, nothing that changes
 * memory the parent uses (after vfork() the child runs in the parent's memory until it execs). Dispositions are
 * reset before signals are unblocked, so that no handler of the daemon's can run in the child. */
_noreturn_ static void child_exec(const struct child_args *a) {
        sigset_t all;
        char c;

        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        if (setsid() < 0)
                _exit(127);
        if (a->gate_fd >= 0 && read(a->gate_fd, &c, 1) != 1)
                _exit(127);
        if (fchdir(a->cwd_fd) < 0 || dup2(a->null_fd, 0) < 0 || dup2(a->stdout_fd, 1) < 0 ||
            dup2(a->stderr_fd, 2) < 0)
                _exit(127);
        execve(a->argv[0], a->argv, a->envp);
        _exit(127);
}

static pid_t clone3_child(int *ret_pidfd) {
        struct clone_args args = {
                .flags = CLONE_PIDFD,
                .pidfd = (uint64_t) (uintptr_t) ret_pidfd,
                .exit_signal = SIGCHLD,
        };

        return (pid_t) syscall(SYS_clone3, &args, sizeof args);
}

/* vfork(): the daemon's memory is not copied. A fork copied its page tables, then paid copy-on-write faults and
 * the teardown at exec: ≈ 8 ms of wall time and 5 ms of CPU per handler command here (BENCHMARKS.md). With a
 * leaf cgroup the child first moves itself there, as clone3(CLONE_INTO_CGROUP) put it there: writing "0" to
 * cgroup.procs moves the writer (the kernel's cgroup-v2.rst, "Processes"). Returns the pid (the child has
 * exec'd or exited by then) or -errno of vfork() or of the move. */
static pid_t vfork_exec(const struct child_args *a, int procs_fd, volatile int *move_error) {
        pid_t pid = vfork();

        if (pid == 0) {
                if (procs_fd >= 0 && write(procs_fd, "0", 1) != 1) {
                        *move_error = errno ?: EIO;
                        _exit(127);
                }
                child_exec(a);
        }
        /* only the parent gets here; nothing of this frame is used after vfork */
        return pid < 0 ? -errno : pid;
}

static pid_t vfork_child(const struct child_args *a, int leaf_fd) {
        _cleanup_close_ int procs_fd = -EBADF;
        volatile int move_error = 0; /* written by the child: the memory is shared until it execs */
        pid_t pid;

        if (leaf_fd >= 0) {
                procs_fd = openat(leaf_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
                if (procs_fd < 0)
                        return -errno;
        }
        pid = vfork_exec(a, procs_fd, &move_error);
        if (pid > 0 && move_error != 0) {
                (void) waitpid(pid, NULL, 0);
                return -move_error;
        }
        return pid;
}

/* Forks the command with the given isolation (scope, cgroup or process group). */
static int local_start(ExtProcess *p, ExtIsolation isolation) {
        _cleanup_close_ int leaf_fd = -EBADF, null_fd = -EBADF, gate_read = -EBADF;
        ExtSpawner *s = p->spawner;
        struct child_args a;
        int pipefd[2], pidfd = -EBADF, r;
        pid_t pid;

        p->result.isolation = isolation;
        if (isolation == EXT_ISOLATION_CGROUP) {
                leaf_fd = cgroup_prepare(s, p);
                if (leaf_fd < 0) {
                        log_debug("Cannot prepare cgroup for %s: %s", p->handler_name, strerror(-leaf_fd));
                        p->cgroup = mfree_str(p->cgroup);
                        p->result.limits_applied = false;
                        p->result.isolation = EXT_ISOLATION_PROCESS_GROUP;
                }
        }
        if (p->result.isolation == EXT_ISOLATION_SCOPE) {
                if (pipe2(pipefd, O_CLOEXEC) < 0)
                        return -errno;
                gate_read = pipefd[0];
                p->gate_fd = pipefd[1];
        }
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
                return -errno;
        a = (struct child_args){.argv = p->argv,
                                .envp = p->env,
                                .cwd_fd = p->cwd_fd,
                                .stdout_fd = p->stdout_fd,
                                .stderr_fd = p->stderr_fd,
                                .null_fd = null_fd,
                                .gate_fd = gate_read};

        if (gate_read >= 0) {
                /* the child waits at the gate for its scope: it needs a process of its own (fork) */
                pid = clone3_child(&pidfd);
                if (pid < 0)
                        return -errno;
                if (pid == 0)
                        child_exec(&a);
        } else {
                pid = vfork_child(&a, leaf_fd);
                if (pid < 0)
                        return pid;
                pidfd = pidfd_open_child(pid);
                if (pidfd < 0)
                        return pidfd;
        }
        p->pid = pid;
        p->pidfd = pidfd;

        r = sd_event_add_child_pidfd(s->event, &p->child_source, p->pidfd, WEXITED, on_child, p);
        if (r < 0)
                return r;
        if (p->result.isolation == EXT_ISOLATION_SCOPE && scope_start(p) < 0)
                scope_fallback(p);
        return 0;
}

static int strv_copy(char *const *l, char ***ret) {
        _cleanup_strv_free_ char **c = calloc(strv_length(l) + 1, sizeof(char *));
        size_t n = 0;

        if (!c)
                return -ENOMEM;
        for (char *const *i = l; i && *i; i++)
                if (!(c[n++] = strdup(*i)))
                        return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

static int process_new(ExtSpawner *s, const ExtSpawnParams *params, ExtProcessHandler cb, void *userdata,
                       ExtProcess **ret) {
        _cleanup_(ext_process_freep) ExtProcess *p = calloc(1, sizeof(ExtProcess));

        if (!p)
                return -ENOMEM;
        p->spawner = s;
        p->pidfd = p->gate_fd = -EBADF;
        p->cwd_fd = p->stdout_fd = p->stderr_fd = -EBADF;
        p->exited = true; /* nothing to kill until started */
        p->cb = cb;
        p->userdata = userdata;
        p->cpu_quota_percent = params->cpu_quota_percent;
        p->memory_max = params->memory_max;
        if (!params->argv || !params->argv[0] || params->argv[0][0] != '/')
                return -EINVAL;
        if (strv_copy(params->argv, &p->argv) < 0 || strv_copy(params->env, &p->env) < 0 ||
            !(p->handler_name = strdup(params->handler_name)) ||
            !(p->operation = strdup(params->operation)) ||
            (params->cwd && !(p->cwd = strdup(params->cwd))) ||
            (params->slice && !(p->slice = strdup(params->slice))))
                return -ENOMEM;
        if ((p->cwd_fd = fcntl(params->cwd_fd, F_DUPFD_CLOEXEC, 3)) < 0 ||
            (p->stdout_fd = fcntl(params->stdout_fd, F_DUPFD_CLOEXEC, 3)) < 0 ||
            (p->stderr_fd = fcntl(params->stderr_fd, F_DUPFD_CLOEXEC, 3)) < 0)
                return -errno;
        *ret = TAKE_PTR(p);
        return 0;
}

int ext_process_spawn(ExtSpawner *s, const ExtSpawnParams *params, ExtProcessHandler cb, void *userdata,
                      ExtProcess **ret) {
        _cleanup_(ext_process_freep) ExtProcess *p = NULL;
        ExtIsolation isolation = ext_spawner_isolation(s);
        int r;

        r = process_new(s, params, cb, userdata, &p);
        if (r < 0)
                return r;
        p->exited = false;
        r = -EOPNOTSUPP;
        if (isolation == EXT_ISOLATION_SERVICE && p->cwd) {
                r = service_start(p, params->timeout);
                if (r < 0)
                        log_debug("Cannot ask for a transient service: %s; forking in a scope",
                                  strerror(-r));
        }
        if (r < 0) {
                p->service = false;
                r = local_start(p, isolation == EXT_ISOLATION_SERVICE ? EXT_ISOLATION_SCOPE : isolation);
                if (r < 0) {
                        p->exited = p->pid <= 0; /* a forked child is killed by the free */
                        return r;
                }
        }
        if (params->timeout > 0) {
                r = sd_event_add_time_relative(s->event, &p->timer_source, CLOCK_MONOTONIC, params->timeout,
                                               0, on_timeout, p);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

static void cgroup_remove_tree(int dir_fd, const char *name) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d)
                return;
        fd = -EBADF;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        cgroup_remove_tree(dirfd(d), de->d_name);
        closedir(d);
        (void) unlinkat(dir_fd, name, AT_REMOVEDIR);
}

int ext_spawner_kill_handler(ExtSpawner *s, const char *handler_name) {
        _cleanup_free_ char *slice = NULL, *path = NULL;
        _cleanup_close_ int top = -EBADF;
        int r;

        r = ext_handler_slice_name(handler_name, &slice);
        if (r < 0)
                return r;
        if (s->bus) {
                /* Background processes of finished services (KillMode=process) stay in their dead units' cgroups,
                 * which stopping the slice does not reach: kill them through cgroupfs, readable even where the
                 * agent's unit makes it read-only (ProtectControlGroups=). */
                _cleanup_close_ int cg = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                struct statfs sfs;

                if (cg >= 0 && fstatfs(cg, &sfs) >= 0 && sfs.f_type == CGROUP2_SUPER_MAGIC &&
                    asprintf(&path, EXT_SLICE_PARENT_CGROUP "/%s", slice) >= 0)
                        cgroup_kill_procs_tree(cg, path, 0);
                path = mfree_str(path);
                (void) sd_bus_call_method_async(s->bus, NULL, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                                "StopUnit", NULL, NULL, "ss", slice, "replace");
        }
        if (s->cgroup_fd < 0)
                return 0;
        if (asprintf(&path, EXT_SLICE_ROOT "/%s", slice) < 0)
                return -ENOMEM;
        cgroup_kill_path(s->cgroup_fd, path);
        top = openat(s->cgroup_fd, EXT_SLICE_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top >= 0)
                cgroup_remove_tree(top, slice); /* EBUSY until the killed processes are gone: best effort */
        return 0;
}

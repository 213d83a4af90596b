/* SPDX-License-Identifier: MIT */
/*
 * Isolated, bounded command execution on sd-event; see ext-spawn.h for the design. The cgroup filesystem is
 * a kernel interface, not part of the (possibly alternate) root: it is reached through its own directory fd.
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
#include "string-table.h"

#define EXT_SLICE_ROOT "azure-vmextensions.slice"

struct ExtSpawner {
        sd_event *event;
        sd_bus *bus;
        int cgroup_fd;                  /* cgroup2 mount, -EBADF when none */
        char *cgroup_root;
        unsigned counter;
};

struct ExtProcess {
        ExtSpawner *spawner;
        pid_t pid;
        int pidfd;
        int gate_fd;                    /* write end of the start gate, -EBADF when open */
        sd_event_source *child_source, *timer_source;
        sd_bus_slot *start_slot, *job_slot;
        ExtProcessHandler cb;
        void *userdata;
        char *unit;                     /* transient scope, systemd only */
        char *cgroup;                   /* leaf path relative to the cgroup mount */
        ExtProcessResult result;
        bool exited;
};

static const char *const ext_isolation_table[_EXT_ISOLATION_MAX] = {
        [EXT_ISOLATION_SYSTEMD] = "systemd",
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

int ext_spawner_new(sd_event *e, const ExtSpawnerOptions *o, ExtSpawner **ret) {
        static const ExtSpawnerOptions defaults = { .use_systemd = true };
        _cleanup_(ext_spawner_freep) ExtSpawner *s = NULL;
        const char *root = NULL;

        o = o ?: &defaults;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->cgroup_fd = -EBADF;
        s->event = sd_event_ref(e);
        if (o->use_systemd && access("/run/systemd/system", F_OK) == 0 && sd_bus_open_system(&s->bus) >= 0 &&
            sd_bus_attach_event(s->bus, e, SD_EVENT_PRIORITY_NORMAL) < 0)
                s->bus = sd_bus_flush_close_unref(s->bus);

        if (o->cgroup_root)
                root = isempty(o->cgroup_root) ? NULL : o->cgroup_root;
        else if (is_writable_cgroup2("/sys/fs/cgroup"))
                root = "/sys/fs/cgroup";
        else if (is_writable_cgroup2("/sys/fs/cgroup/unified"))
                root = "/sys/fs/cgroup/unified";        /* hybrid hierarchy: no controllers, cgroup.kill works */
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
        return s->bus ? EXT_ISOLATION_SYSTEMD : s->cgroup_fd >= 0 ? EXT_ISOLATION_CGROUP : EXT_ISOLATION_PROCESS_GROUP;
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

static int write_cg(int dir_fd, const char *file, const char *value) {
        _cleanup_close_ int fd = openat(dir_fd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t n = strlen(value);

        if (fd < 0)
                return -errno;
        return write(fd, value, n) == (ssize_t) n ? 0 : negative_errno();
}

static int open_or_make_dir(int dir_fd, const char *name) {
        if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
                return -errno;
        return RET_NERRNO(openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

/* Creates slice/handler-slice/leaf; limits on the handler slice. Returns the leaf fd. */
static int cgroup_prepare(ExtSpawner *s, const ExtSpawnParams *p, ExtProcess *proc) {
        _cleanup_close_ int top = -EBADF, handler = -EBADF;
        _cleanup_free_ char *slice = NULL, *leaf = NULL;
        bool applied = true;
        int r;

        r = ext_handler_slice_name(p->handler_name, &slice);
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
        if (p->cpu_quota_percent > 0) {
                char v[64];
                (void) snprintf(v, sizeof v, "%u 100000", p->cpu_quota_percent * 1000U);
                applied = write_cg(handler, "cpu.max", v) >= 0 && applied;
        }
        if (p->memory_max > 0) {
                char v[32];
                (void) snprintf(v, sizeof v, "%" PRIu64, p->memory_max);
                applied = write_cg(handler, "memory.max", v) >= 0 && applied;
        }
        proc->result.limits_applied = applied && (p->cpu_quota_percent > 0 || p->memory_max > 0);
        if (asprintf(&leaf, "%s-%u-%d.scope", p->operation, ++s->counter, (int) getpid()) < 0 ||
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

/* cgroup.kill (Linux 5.14) or, failing that, SIGKILL to every PID listed in cgroup.procs. */
static void cgroup_kill_path(int cgroup_fd, const char *path) {
        _cleanup_free_ char *kill_file = NULL, *procs = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        int fd, pid;

        if (asprintf(&kill_file, "%s/cgroup.kill", path) < 0 || asprintf(&procs, "%s/cgroup.procs", path) < 0)
                return;
        if (write_cg(cgroup_fd, kill_file, "1") >= 0)
                return;
        fd = openat(cgroup_fd, procs, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || !(f = fdopen(fd, "r"))) {
                closep(&fd);
                return;
        }
        while (fscanf(f, "%d", &pid) == 1)
                if (pid > 0)
                        (void) kill(pid, SIGKILL);
}

static void process_kill(ExtProcess *p) {
        if (p->exited)
                return;
        if (p->cgroup && p->spawner->cgroup_fd >= 0)
                cgroup_kill_path(p->spawner->cgroup_fd, p->cgroup);
        if (p->unit && p->spawner->bus)
                (void) sd_bus_call_method_async(p->spawner->bus, NULL, "org.freedesktop.systemd1",
                                                "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                                "KillUnit", NULL, NULL, "ssi", p->unit, "all", SIGKILL);
        /* setsid() made the child a group leader: pgid == pid (waagent: killpg(pgid, SIGKILL)). */
        (void) kill(-p->pid, SIGKILL);
        (void) kill(p->pid, SIGKILL);
}

ExtProcess *ext_process_free(ExtProcess *p) {
        if (!p)
                return NULL;
        if (p->pid > 0 && !p->exited) {
                process_kill(p);
                if (p->pidfd >= 0)
                        (void) waitid(P_PIDFD, (id_t) p->pidfd, NULL, WEXITED);
        }
        sd_event_source_disable_unref(p->child_source);
        sd_event_source_disable_unref(p->timer_source);
        sd_bus_slot_unref(p->start_slot);
        sd_bus_slot_unref(p->job_slot);
        closep(&p->pidfd);
        closep(&p->gate_fd);
        free(p->unit);
        free(p->cgroup);
        free(p);
        return NULL;
}

pid_t ext_process_pid(const ExtProcess *p) {
        return p->pid;
}

const char *ext_process_cgroup(const ExtProcess *p) {
        return p->cgroup;
}

/* Called when the command's main process exits (pidfd became readable). */
static int on_child(sd_event_source *src, const siginfo_t *si, void *userdata) {
        ExtProcess *p = userdata;
        ExtProcessResult r;

        p->exited = true;
        p->result.exit_code = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        p->timer_source = sd_event_source_disable_unref(p->timer_source);
        cgroup_read_throttling(p->spawner, p);
        /* An empty leaf is removed; one with background processes stays until the handler is removed. */
        if (p->cgroup && p->spawner->cgroup_fd >= 0)
                (void) unlinkat(p->spawner->cgroup_fd, p->cgroup, AT_REMOVEDIR);
        r = p->result;
        p->cb(p, &r, p->userdata);
        return 0;
}

/* Called when the operation's timeout elapses (§4.5: kill the whole group, code 1011). */
static int on_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        ExtProcess *p = userdata;

        p->result.timed_out = true;
        process_kill(p);
        return 0;
}

static void gate_open(ExtProcess *p) {
        if (p->gate_fd >= 0) {
                (void) write(p->gate_fd, "1", 1);
                closep(&p->gate_fd);
                p->gate_fd = -EBADF;
        }
}

/* Systemd could not place the process: fall back to the cgroup or the plain process group. */
static void systemd_fallback(ExtProcess *p) {
        p->unit = mfree_str(p->unit);
        p->result.isolation = EXT_ISOLATION_PROCESS_GROUP;
        gate_open(p);
}

/* Called for each JobRemoved signal: our scope's start job finished. */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ExtProcess *p = userdata;
        const char *unit, *result;
        uint32_t id;
        const char *path;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !p->unit || !streq(unit, p->unit))
                return 0;
        p->job_slot = sd_bus_slot_unref(p->job_slot);
        if (streq(result, "done"))
                gate_open(p);
        else
                systemd_fallback(p);
        return 0;
}

/* Called with the reply to StartTransientUnit. */
static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ExtProcess *p = userdata;

        p->start_slot = sd_bus_slot_unref(p->start_slot);
        if (sd_bus_message_is_method_error(m, NULL)) {
                log_debug("StartTransientUnit(%s) failed: %s", p->unit, sd_bus_message_get_error(m)->message);
                systemd_fallback(p);
        }
        return 0;
}

static int systemd_start_scope(ExtSpawner *s, const ExtSpawnParams *params, ExtProcess *p) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *slice = NULL;
        char id[37];
        int r;

        if ((r = ext_handler_slice_name(params->handler_name, &slice)) < 0 || (r = uuid_random(id)) < 0)
                return r;
        if (asprintf(&p->unit, "%s_%s.scope", params->operation, id) < 0)
                return -ENOMEM;
        r = sd_bus_match_signal_async(s->bus, &p->job_slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                      "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, NULL, p);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(s->bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", p->unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)", "Slice", "s", slice, "Description", "s",
                                          "Azure VM extension command", "PIDs", "au", 1, (uint32_t) p->pid);
        if (r >= 0 && params->cpu_quota_percent > 0)
                r = sd_bus_message_append(m, "(sv)", "CPUQuotaPerSecUSec", "t",
                                          (uint64_t) params->cpu_quota_percent * 10000U);
        if (r >= 0 && params->memory_max > 0)
                r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t", params->memory_max);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call_async(s->bus, &p->start_slot, m, on_start_reply, p, 0);
        if (r >= 0)
                p->result.limits_applied = params->cpu_quota_percent > 0 || params->memory_max > 0;
        return r;
}

struct child_args {
        char *const *argv;
        char *const *envp;
        int cwd_fd, stdout_fd, stderr_fd, null_fd, gate_fd;
};

/* Runs in the child between clone3() and execve(): async-signal-safe calls only. */
_noreturn_ static void child_exec(const struct child_args *a) {
        sigset_t all;
        char c;

        (void) sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        if (setsid() < 0)
                _exit(127);
        if (a->gate_fd >= 0 && read(a->gate_fd, &c, 1) != 1)
                _exit(127);
        if (fchdir(a->cwd_fd) < 0 || dup2(a->null_fd, 0) < 0 || dup2(a->stdout_fd, 1) < 0 ||
            dup2(a->stderr_fd, 2) < 0)
                _exit(127);
        execve("/bin/sh", a->argv, a->envp);
        _exit(127);
}

static pid_t clone3_child(int cgroup_fd, int *ret_pidfd) {
        struct clone_args args = {
                .flags = CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                .pidfd = (uint64_t) (uintptr_t) ret_pidfd,
                .exit_signal = SIGCHLD,
                .cgroup = cgroup_fd >= 0 ? (uint64_t) cgroup_fd : 0,
        };

        return (pid_t) syscall(SYS_clone3, &args, sizeof args);
}

int ext_process_spawn(ExtSpawner *s, const ExtSpawnParams *params, ExtProcessHandler cb, void *userdata,
                      ExtProcess **ret) {
        _cleanup_(ext_process_freep) ExtProcess *p = NULL;
        _cleanup_close_ int leaf_fd = -EBADF, null_fd = -EBADF, gate_read = -EBADF;
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) params->command, NULL };
        struct child_args a;
        int pipefd[2], pidfd = -EBADF, r;
        pid_t pid;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->spawner = s;
        p->pidfd = p->gate_fd = -EBADF;
        p->cb = cb;
        p->userdata = userdata;
        p->result.isolation = ext_spawner_isolation(s);

        if (p->result.isolation == EXT_ISOLATION_CGROUP) {
                leaf_fd = cgroup_prepare(s, params, p);
                if (leaf_fd < 0) {
                        log_debug("Cannot prepare cgroup for %s: %s", params->handler_name, strerror(-leaf_fd));
                        p->cgroup = mfree_str(p->cgroup);
                        p->result.isolation = EXT_ISOLATION_PROCESS_GROUP;
                }
        }
        if (p->result.isolation == EXT_ISOLATION_SYSTEMD) {
                if (pipe2(pipefd, O_CLOEXEC) < 0)
                        return -errno;
                gate_read = pipefd[0];
                p->gate_fd = pipefd[1];
        }
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
                return -errno;
        a = (struct child_args) { .argv = argv, .envp = params->env, .cwd_fd = params->cwd_fd,
                                  .stdout_fd = params->stdout_fd, .stderr_fd = params->stderr_fd,
                                  .null_fd = null_fd, .gate_fd = gate_read };

        pid = clone3_child(leaf_fd, &pidfd);
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child_exec(&a);
        p->pid = pid;
        p->pidfd = pidfd;

        r = sd_event_add_child_pidfd(s->event, &p->child_source, p->pidfd, WEXITED, on_child, p);
        if (r < 0)
                return r;
        if (params->timeout > 0) {
                r = sd_event_add_time_relative(s->event, &p->timer_source, CLOCK_MONOTONIC, params->timeout, 0,
                                               on_timeout, p);
                if (r < 0)
                        return r;
        }
        if (p->result.isolation == EXT_ISOLATION_SYSTEMD && systemd_start_scope(s, params, p) < 0)
                systemd_fallback(p);
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
        if (s->bus)
                (void) sd_bus_call_method_async(s->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                "org.freedesktop.systemd1.Manager", "StopUnit", NULL, NULL, "ss",
                                                slice, "replace");
        if (s->cgroup_fd < 0)
                return 0;
        if (asprintf(&path, EXT_SLICE_ROOT "/%s", slice) < 0)
                return -ENOMEM;
        cgroup_kill_path(s->cgroup_fd, path);
        top = openat(s->cgroup_fd, EXT_SLICE_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top >= 0)
                cgroup_remove_tree(top, slice);   /* EBUSY until the killed processes are gone: best effort */
        return 0;
}

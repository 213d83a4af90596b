/* SPDX-License-Identifier: MIT */
/*
 * Running external programs, see spawn-util.h. When the caller wants the output, the child gets a pipe for stdout
 * and stderr; the parent drains it completely (so the child never blocks on a full pipe) but keeps only the
 * first SPAWN_OUTPUT_MAX bytes. Input is written to a memfd first (no pipe to deadlock on, nothing on disk).
 *
 * Without a root the child is made by posix_spawn(). posix_spawn() can neither chroot nor set a parent-death
 * signal, so with a root, and for a background child, it is fork(): between fork and execve the child only makes
 * system calls (prctl, getppid, unshare, mount, mknod, fchdir, chroot, dup2, sigprocmask, execve, write, _exit),
 * and reports a failed exec through a CLOEXEC pipe, as posix_spawn() does.
 * It gets a private mount namespace with a small /dev and /proc inside the root (mount_api_filesystems(),
 * enter_root()).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "spawn-util.h"
#include "strutil.h"

/* Where the fds the child dup2()s onto 0..3 are moved first, so that no source is overwritten by a target. */
#define SPAWN_FD_FLOOR 10

static const char *const program_dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};

static char *const spawn_env[] = {
        (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        (char *) "LC_ALL=C",
        NULL,
};

int find_program(const char *name, char **ret) {
        if (isempty(name))
                return -EINVAL;
        if (name[0] == '/') {
                if (access(name, X_OK) < 0)
                        return negative_errno();
                return (*ret = strdup(name)) ? 0 : -ENOMEM;
        }
        if (strchr(name, '/'))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(program_dirs); i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", program_dirs[i], name) < 0)
                        return -ENOMEM;
                if (access(p, X_OK) == 0) {
                        *ret = TAKE_PTR(p);
                        return 0;
                }
        }
        return -ENOENT;
}

/* 0 when path (inside the root) is a regular file with an execute bit. */
static int is_program_in_root(int root_fd, const char *path) {
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_PATH, 0);
        struct stat st;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -ENOENT;
        return (st.st_mode & 0111) ? 0 : -EACCES;
}

int find_program_in_root(int root_fd, const char *name, char **ret) {
        int r = -ENOENT;

        if (isempty(name) || root_fd < 0)
                return -EINVAL;
        if (name[0] == '/') {
                r = is_program_in_root(root_fd, name);
                if (r < 0)
                        return r;
                return (*ret = strdup(name)) ? 0 : -ENOMEM;
        }
        if (strchr(name, '/'))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(program_dirs); i++) {
                _cleanup_free_ char *p = NULL;
                int k;

                if (asprintf(&p, "%s/%s", program_dirs[i], name) < 0)
                        return -ENOMEM;
                k = is_program_in_root(root_fd, p);
                if (k >= 0) {
                        *ret = TAKE_PTR(p);
                        return 0;
                }
                if (k != -ENOENT && k != -ENOTDIR)
                        r = k; /* present but not executable: say so, unless another directory has it */
        }
        return r;
}

static void posix_spawn_file_actions_destroyp(posix_spawn_file_actions_t **a) {
        if (*a)
                (void) posix_spawn_file_actions_destroy(*a);
}

static void posix_spawnattr_destroyp(posix_spawnattr_t **a) {
        if (*a)
                (void) posix_spawnattr_destroy(*a);
}

/* The fds the child gets as 0, 1 (and 2), 3; all ≥ SPAWN_FD_FLOOR and CLOEXEC, so that only 0-3 survive exec. */
typedef struct ChildFds {
        int in;
        int out;
        int pass; /* -EBADF: none */
} ChildFds;

static int spawn_child_posix(const char *path, char *const *argv, const ChildFds *f, pid_t *ret_pid) {
        _cleanup_(posix_spawn_file_actions_destroyp) posix_spawn_file_actions_t *fa = NULL;
        _cleanup_(posix_spawnattr_destroyp) posix_spawnattr_t *at = NULL;
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t none;
        int r;

        r = -posix_spawn_file_actions_init(&actions);
        if (r < 0)
                return r;
        fa = &actions;
        r = -posix_spawnattr_init(&attr);
        if (r < 0)
                return r;
        at = &attr;
        /* The daemon blocks the signals it handles through sd-event; a child must not inherit that. */
        sigemptyset(&none);
        r = -posix_spawnattr_setsigmask(at, &none);
        if (r == 0)
                r = -posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK);
        if (r == 0)
                r = -posix_spawn_file_actions_adddup2(fa, f->in, STDIN_FILENO);
        if (r == 0)
                r = -posix_spawn_file_actions_adddup2(fa, f->out, STDOUT_FILENO);
        if (r == 0)
                r = -posix_spawn_file_actions_adddup2(fa, STDOUT_FILENO, STDERR_FILENO);
        if (r == 0 && f->pass >= 0)
                r = -posix_spawn_file_actions_adddup2(fa, f->pass, 3);
        if (r < 0)
                return r;
        return -posix_spawn(ret_pid, path, fa, at, argv, spawn_env);
}

/* A real directory (not a symlink) at path, after the chroot. */
static bool is_dir_nofollow(const char *path) {
        struct stat st;

        return lstat(path, &st) >= 0 && S_ISDIR(st.st_mode);
}

/*
 * In the child, in its own mount namespace, after the chroot: what a tool expects of a running system (as
 * systemd-nspawn and arch-chroot provide), on the root's own /dev and /proc directories when it has them. An
 * image's /dev is an empty directory until devtmpfs is mounted at boot, and ssh-keygen exits when it cannot open
 * /dev/null. Best effort: a tool that needs what could not be provided fails with its own message.
 */
static void mount_api_filesystems(void) {
        static const struct {
                const char *name;
                unsigned major, minor;
        } nodes[] = {
                {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9},
        };

        if (is_dir_nofollow("/dev") &&
            mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") >= 0)
                for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
                        (void) mknod(nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor));
        if (is_dir_nofollow("/proc"))
                (void) mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* Where and what the root is, from its fd: its path (for chroot() in a new mount namespace, where the fd's own
 * mount is foreign) and its identity (to check that the path still names it). */
typedef struct RootInfo {
        int fd;
        char path[PATH_MAX]; /* "" when /proc cannot tell */
        dev_t dev;
        ino_t ino;
} RootInfo;

/*
 * Enters the root. With a private mount namespace (the mounts below vanish with the child, nothing propagates
 * back): chroot() to the fd's path, checked to still be the fd's directory, and the API file systems mounted.
 * Without one (no CAP_SYS_ADMIN): fchdir() to the fd and chroot("."), nothing mounted. fchdir() cannot be used
 * with a new namespace: the fd's mount belongs to the old one, and mounts below a foreign root fail (EINVAL).
 */
static int enter_root(const RootInfo *root) {
        struct stat st;

        if (root->path[0] && unshare(CLONE_NEWNS) >= 0 &&
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) >= 0) {
                if (chroot(root->path) < 0 || chdir("/") < 0 || stat("/", &st) < 0)
                        return -1;
                if (st.st_dev != root->dev || st.st_ino != root->ino) {
                        errno = ESTALE; /* the path was replaced since we looked */
                        return -1;
                }
                mount_api_filesystems();
                return 0;
        }
        if (fchdir(root->fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
                return -1;
        return 0;
}

/* The child's side: system calls only (no allocation, no locks: the parent may have other threads). root NULL:
 * no chroot. parent > 0: the child is killed when that parent dies (PR_SET_PDEATHSIG), and does not start if it
 * already has. */
_noreturn_ static void child_exec(const RootInfo *root, const char *path, char *const *argv,
                                  const ChildFds *f, pid_t parent, int err_fd) {
        sigset_t none;
        int e;

        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;
        if (parent > 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        goto fail;
                if (getppid() != parent)
                        _exit(127);
        }
        if (root && enter_root(root) < 0)
                goto fail;
        if (dup2(f->in, STDIN_FILENO) < 0 || dup2(f->out, STDOUT_FILENO) < 0 ||
            dup2(STDOUT_FILENO, STDERR_FILENO) < 0 || (f->pass >= 0 && dup2(f->pass, 3) < 0))
                goto fail;
        execve(path, argv, spawn_env);
fail:
        e = errno;
        (void) !write(err_fd, &e, sizeof e);
        _exit(127);
}

static int root_info(int root_fd, RootInfo *ret) {
        char proc[64];
        struct stat st;
        ssize_t n;

        if (fstat(root_fd, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        *ret = (RootInfo){.fd = root_fd, .dev = st.st_dev, .ino = st.st_ino};
        (void) snprintf(proc, sizeof proc, "/proc/self/fd/%d", root_fd);
        n = readlink(proc, ret->path, sizeof ret->path - 1);
        if (n <= 0 || ret->path[0] != '/')
                n = 0;
        ret->path[n] = 0;
        return 0;
}

/* fork() and execve(): chrooted into root_fd when it is ≥ 0; die_with_parent: see child_exec(). */
static int spawn_child_forked(int root_fd, const char *path, char *const *argv, const ChildFds *f,
                              bool die_with_parent, pid_t *ret_pid) {
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF, dir = -EBADF;
        RootInfo root;
        pid_t pid, parent = die_with_parent ? getpid() : 0;
        int fds[2], e = 0, r;
        ssize_t n;

        if (root_fd >= 0) {
                dir = fcntl(root_fd, F_DUPFD_CLOEXEC, SPAWN_FD_FLOOR);
                if (dir < 0)
                        return negative_errno();
                r = root_info(dir, &root);
                if (r < 0)
                        return r;
        }
        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        rfd = fds[0];
        wfd = fcntl(fds[1], F_DUPFD_CLOEXEC, SPAWN_FD_FLOOR);
        closep(&fds[1]);
        if (wfd < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                child_exec(root_fd >= 0 ? &root : NULL, path, argv, f, parent, wfd);
        closep(&wfd);
        wfd = -EBADF;
        do
                n = read(rfd, &e, sizeof e);
        while (n < 0 && errno == EINTR);
        if (n == sizeof e) { /* the exec failed: reap the child, report why */
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return e > 0 ? -e : -EIO;
        }
        *ret_pid = pid;
        return 0;
}

/* Reads the pipe to EOF, keeping at most SPAWN_OUTPUT_MAX bytes. */
static int drain_output(int fd, char **ret) {
        _cleanup_free_ char *buf = malloc(SPAWN_OUTPUT_MAX + 1);
        size_t size = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                char scratch[1024];
                size_t room = SPAWN_OUTPUT_MAX - size;
                ssize_t n = read(fd, room > 0 ? buf + size : scratch, room > 0 ? room : sizeof scratch);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (room > 0)
                        size += (size_t) n;
        }
        buf[size] = 0;
        {
                char *t = strstrip(buf);

                memmove(buf, t, strlen(t) + 1);
        }
        *ret = TAKE_PTR(buf);
        return 0;
}

static int wait_child(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return -EPROTO;
}

/* A memfd holding data, positioned at its start. Anonymous memory: the input never touches a filesystem. */
static int input_memfd(const void *data, size_t size) {
        _cleanup_close_ int fd = memfd_create("azl-spawn-input", MFD_CLOEXEC);
        const char *p = data;

        if (fd < 0)
                return negative_errno();
        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? negative_errno() : -EIO;
                p += n;
                size -= (size_t) n;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

static int dup_high(int fd) {
        int r = fcntl(fd, F_DUPFD_CLOEXEC, SPAWN_FD_FLOOR);

        return r < 0 ? negative_errno() : r;
}

int spawn_and_wait_opts(char *const *argv, const SpawnOptions *o, char **ret_output) {
        static const SpawnOptions defaults = SPAWN_OPTIONS_INIT;
        _cleanup_free_ char *path = NULL, *output = NULL;
        _cleanup_close_ int rfd = -EBADF, in = -EBADF, out = -EBADF, pass = -EBADF, tmp = -EBADF;
        ChildFds f;
        int fds[2], r;
        pid_t pid;

        if (!argv || !argv[0])
                return -EINVAL;
        o = o ?: &defaults;
        if (o->input && o->input_size > SPAWN_INPUT_MAX)
                return -E2BIG;
        r = o->root_fd >= 0 ? find_program_in_root(o->root_fd, argv[0], &path)
                            : find_program(argv[0], &path);
        if (r < 0)
                return r;

        /* All opened here, before any chroot: the root needs no /dev/null of its own. */
        if (o->input)
                tmp = input_memfd(o->input, o->input_size);
        else if ((tmp = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                tmp = negative_errno();
        if (tmp < 0)
                return tmp;
        in = dup_high(tmp);
        closep(&tmp);
        tmp = -EBADF;
        if (in < 0)
                return in;
        if (ret_output) {
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return negative_errno();
                rfd = fds[0];
                tmp = fds[1];
        } else {
                tmp = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (tmp < 0)
                        return negative_errno();
        }
        out = dup_high(tmp);
        closep(&tmp);
        tmp = -EBADF;
        if (out < 0)
                return out;
        if (o->pass_fd >= 0) {
                pass = dup_high(o->pass_fd);
                if (pass < 0)
                        return pass;
        }
        f = (ChildFds){.in = in, .out = out, .pass = pass};

        r = o->root_fd >= 0
                    ? spawn_child_forked(o->root_fd, path, argv, &f, /* die_with_parent= */ false, &pid)
                    : spawn_child_posix(path, argv, &f, &pid);
        if (r < 0)
                return r;
        closep(&out);
        out = -EBADF;
        closep(&in); /* the memfd's pages go with the child's copy */
        in = -EBADF;
        r = rfd >= 0 ? drain_output(rfd, &output) : 0;
        if (r < 0) {
                (void) wait_child(pid);
                return r;
        }
        r = wait_child(pid);
        if (r >= 0 && ret_output)
                *ret_output = TAKE_PTR(output);
        return r;
}

int spawn_and_wait_full(char *const *argv, int pass_fd, char **ret_output) {
        SpawnOptions o = SPAWN_OPTIONS_INIT;

        o.pass_fd = pass_fd;
        return spawn_and_wait_opts(argv, &o, ret_output);
}

int spawn_and_wait(char *const *argv, char **ret_output) {
        return spawn_and_wait_opts(argv, NULL, ret_output);
}

int spawn_background(char *const *argv, int root_fd, pid_t *ret_pid) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int in = -EBADF, out = -EBADF, tmp = -EBADF;
        ChildFds f;
        pid_t pid;
        int r;

        if (!argv || !argv[0])
                return -EINVAL;
        r = root_fd >= 0 ? find_program_in_root(root_fd, argv[0], &path) : find_program(argv[0], &path);
        if (r < 0)
                return r;
        /* stdin and output: the host's /dev/null, opened before any chroot */
        tmp = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (tmp < 0)
                return negative_errno();
        in = dup_high(tmp);
        if (in < 0)
                return in;
        out = dup_high(tmp);
        if (out < 0)
                return out;
        f = (ChildFds){.in = in, .out = out, .pass = -EBADF};
        /* it runs beside the caller, which reaps it: it must not outlive a caller that was killed (a rerun
         * would find it still writing the files it redoes) */
        r = spawn_child_forked(root_fd, path, argv, &f, /* die_with_parent= */ true, &pid);
        if (r < 0)
                return r;
        *ret_pid = pid;
        return 0;
}

int spawn_wait(pid_t pid) {
        if (pid <= 0)
                return -EINVAL;
        return wait_child(pid);
}

int pidfd_open_child(pid_t pid) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0), r;

        if (fd >= 0)
                return fd;
        r = -errno;
        if (r != -ESRCH) { /* ESRCH: reaped by someone else, the pid may be another process's now */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
        }
        return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * The SSH provisioning steps.
 *
 * "ssh-keys": every key of ProvisionData is validated and its path resolved inside the user's home before
 * anything is written (one bad key → error, nothing written; the provisioning run has already removed bad
 * keys with provision_data_drop_bad_ssh_keys() and reported them, so this is a second line of defence). Keys are merged into each file without
 * duplicates; the directories below the home are walked with O_NOFOLLOW from a home directory fd, so a
 * symlinked ~/.ssh planted by the user cannot make us chown or write outside the home; directories we create
 * and ~/.ssh itself are 0700, the file 0600, all owned by the user (uid/gid from <root>/etc/passwd).
 *
 * "sshd-config": Config.sshd_dropin (0644) with PasswordAuthentication from disable_password_auth; sshd is
 * reloaded (ReloadOrTryRestartUnit, as systemctl try-reload-or-restart) on the running system when systemd runs.
 *
 * "ssh-host-keys": when Config.regenerate_ssh_host_keys and the VM id differs from the one recorded in
 * <state_dir>/ssh-host-keys.vmid (a captured image booting as a new VM), /etc/ssh/ssh_host_*key* are removed
 * and regenerated (protocol §5.2 step 11 with SshHostKeyPairType=auto: every default type), then the id is
 * recorded — once every key exists, after the child below when there is one. The ed25519 key is made in-process
 * (ssh-hostkey.c); RSA and ECDSA are off Ready's path, made by sshd-keygen@.service where the image has it,
 * otherwise by ssh-keygen -A: on the running system in a finisher process the unit does not wait for (sshd starts
 * with ed25519 and is reloaded when the others exist), on an alternate root in a child that ssh_host_keys_finish()
 * waits for after Ready (see start_keygen()). ssh-keygen is the target's: on
 * an alternate root it runs chrooted into it (ssh-keygen -A -f <root> would follow an /etc/ssh symlink of
 * the root to the host's directory).
 *
 * A path that does not resolve inside the root fails the step with a reason naming it (and the symlink on the
 * way, if any: provisioner_path_error()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "passwd-util.h"
#include "provisioner.h"
#include "spawn-util.h"
#include "ssh-hostkey.h"
#include "ssh.h"
#include "strutil.h"

/* One destination file (relative to the home) and the normalized keys for it. */
typedef struct KeyFile {
        char *rel;
        char **keys;
} KeyFile;

static void key_files_free(KeyFile *f, size_t n) {
        for (size_t i = 0; f && i < n; i++) {
                free(f[i].rel);
                strv_free(f[i].keys);
        }
        free(f);
}

static int key_files_add(KeyFile **files, size_t *n, char *rel, const char *key) {
        KeyFile *a;
        size_t i;

        for (i = 0; i < *n; i++)
                if (streq((*files)[i].rel, rel))
                        break;
        if (i == *n) {
                a = reallocarray(*files, *n + 1, sizeof *a);
                if (!a) {
                        free(rel);
                        return -ENOMEM;
                }
                *files = a;
                a[(*n)++] = (KeyFile){.rel = rel};
        } else
                free(rel);
        return strv_extend(&(*files)[i].keys, key);
}

/* Validates every key and path first; fills *ret_files. */
static int plan_keys(const ProvisionData *d, const char *home, KeyFile **ret_files, size_t *ret_n) {
        KeyFile *files = NULL;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; i < d->n_ssh_keys && r >= 0; i++) {
                _cleanup_free_ char *key = NULL;
                char *rel = NULL;

                if (!d->ssh_keys[i].key) {
                        r = log_debug_errno(EINVAL, "SSH key %zu has no value.", i);
                        break;
                }
                r = ssh_key_normalize(d->ssh_keys[i].key, &key);
                if (r < 0) {
                        r = log_debug_errno(r, "SSH key %zu is not a valid/supported public key: %m", i);
                        break;
                }
                r = ssh_key_path_resolve(d->ssh_keys[i].path, home, &rel);
                if (r < 0) {
                        r = log_debug_errno(r, "SSH key path '%s' is not inside the home directory '%s'.",
                                            strna(d->ssh_keys[i].path), home);
                        break;
                }
                r = key_files_add(&files, &n, rel, key);
        }
        if (r < 0) {
                key_files_free(files, n);
                return r;
        }
        *ret_files = files;
        *ret_n = n;
        return 0;
}

/* The home the admin user has, or will get from useradd (HOME=/home, the shadow default). */
static int expected_home(Context *c, const char *user, char **ret) {
        _cleanup_(passwd_entry_done) PasswdEntry u = {};
        int r;

        r = passwd_find_in_root(c->root_fd, user, &u);
        if (r >= 0 && !isempty(u.home))
                return (*ret = strdup(u.home)) ? 0 : -ENOMEM;
        return asprintf(ret, "/home/%s", user) < 0 ? -ENOMEM : 0;
}

/* Why key k cannot be installed for a user whose home is home: NULL when it can; *ret_why owns the text. */
static int key_problem(const ProvisionSshKey *k, const char *home, const char **ret_reason, char **ret_why) {
        _cleanup_free_ char *norm = NULL, *rel = NULL;
        int r;

        *ret_reason = NULL;
        *ret_why = NULL;
        r = ssh_key_normalize(k->key, &norm);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret_reason = ssh_key_error_reason(r);
                return 0;
        }
        r = ssh_key_path_resolve(k->path, home, &rel);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (asprintf(ret_why, "path is not inside the home directory %s", home) < 0)
                        return -ENOMEM;
                *ret_reason = *ret_why;
        }
        return 0;
}

int provision_data_drop_bad_ssh_keys(Context *c, ProvisionData *d, SshKeySkipFunc on_skip, void *userdata) {
        _cleanup_free_ bool *bad = NULL;
        _cleanup_free_ char *home = NULL;
        size_t kept = 0, n = d->n_ssh_keys;
        int r;

        if (isempty(d->username))
                return -EINVAL;
        r = expected_home(c, d->username, &home);
        if (r < 0)
                return r;
        bad = calloc(n + 1, sizeof *bad);
        if (!bad)
                return -ENOMEM;
        /* First decide and report, then remove: an error on the way leaves d as it was. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *why = NULL, *label = NULL;
                const char *reason;

                r = key_problem(&d->ssh_keys[i], home, &reason, &why);
                if (r < 0)
                        return r;
                if (!reason)
                        continue;
                bad[i] = true;
                r = ssh_key_label(i + 1, d->ssh_keys[i].key, d->ssh_keys[i].path, &label);
                if (r >= 0 && on_skip)
                        r = on_skip(label, reason, userdata);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                if (!bad[i]) {
                        d->ssh_keys[kept++] = d->ssh_keys[i];
                        continue;
                }
                free(d->ssh_keys[i].key);
                free(d->ssh_keys[i].path);
        }
        d->n_ssh_keys = kept;
        return (int) (n - kept);
}

/* Opens (creating if needed, 0700) the directory comp below dir_fd, never following a symlink. Directories
 * we create, and any named ".ssh", are owned by the user with mode 0700. Returns the fd; *changed set. */
static int open_user_dir(int dir_fd, const char *comp, const PasswdEntry *u, bool *changed) {
        _cleanup_close_ int fd = -EBADF;
        bool created = false;
        struct stat st;

        if (mkdirat(dir_fd, comp, 0700) >= 0)
                created = *changed = true;
        else if (errno != EEXIST)
                return negative_errno();
        fd = openat(dir_fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (!created && !streq(comp, ".ssh"))
                return TAKE_FD(fd);
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_uid != u->uid || st.st_gid != u->gid) {
                if (fchown(fd, u->uid, u->gid) < 0)
                        return negative_errno();
                *changed = true;
        }
        if ((st.st_mode & 07777) != 0700) {
                if (fchmod(fd, 0700) < 0)
                        return negative_errno();
                *changed = true;
        }
        return TAKE_FD(fd);
}

/* Reads the current file (if any) below dir_fd without following a symlink; reports mode/owner mismatch. */
static int read_key_file(int dir_fd, const char *name, const PasswdEntry *u, char **ret,
                         bool *ret_attrs_ok) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
                *ret = NULL;
                *ret_attrs_ok = false;
                return errno == ENOENT ? 0 : negative_errno();
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        *ret_attrs_ok = (st.st_mode & 07777) == 0600 && st.st_uid == u->uid && st.st_gid == u->gid;
        return read_full_fd(fd, AUTHORIZED_KEYS_MAX, ret, NULL);
}

/* Writes one key file; returns 1 when it (or a directory on the way) changed. */
static int apply_key_file(int home_fd, const KeyFile *f, const PasswdEntry *u) {
        _cleanup_strv_free_ char **comps = NULL;
        _cleanup_free_ char *existing = NULL, *merged = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        bool changed = false, attrs_ok;
        size_t n;
        int r;

        r = strv_split(f->rel, "/", &comps);
        if (r < 0)
                return r;
        n = strv_length(comps);
        if (n == 0)
                return -EINVAL;
        dir_fd = openat(home_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return negative_errno();
        for (size_t i = 0; i + 1 < n; i++) {
                int next = open_user_dir(dir_fd, comps[i], u, &changed);

                if (next < 0)
                        return next;
                closep(&dir_fd);
                dir_fd = next;
        }
        r = read_key_file(dir_fd, comps[n - 1], u, &existing, &attrs_ok);
        if (r < 0)
                return r;
        r = ssh_authorized_keys_merge(existing, f->keys, &merged);
        if (r < 0)
                return r;
        if (r == 0 && attrs_ok)
                return changed;
        if (r == 0)
                merged = TAKE_PTR(existing);
        /* dir_fd as the "root": the final component is replaced by rename, never followed. */
        r = write_file_atomic_in_root(dir_fd, comps[n - 1], merged, strlen(merged), 0600, u->uid, u->gid, 0);
        return r < 0 ? r : 1;
}

static int ssh_keys_apply(Context *c, const ProvisionData *d, char **ret_summary) {
        _cleanup_(passwd_entry_done) PasswdEntry u = {};
        _cleanup_close_ int home_fd = -EBADF;
        KeyFile *files = NULL;
        size_t n = 0;
        int r, changed = 0;

        if (d->n_ssh_keys == 0) {
                if (ret_summary)
                        *ret_summary = strdup("no SSH keys given");
                return 0;
        }
        if (isempty(d->username))
                return -EINVAL;
        r = passwd_find_in_root(c->root_fd, d->username, &u);
        if (r < 0)
                return log_debug_errno(r, "User '%s' not found in /etc/passwd: %m", d->username);
        r = plan_keys(d, u.home, &files, &n);
        if (r < 0)
                return r;
        home_fd = open_in_root(c->root_fd, u.home, O_PATH | O_DIRECTORY, 0);
        if (home_fd < 0 && ret_summary && provisioner_path_error(c, u.home, home_fd, ret_summary) < 0)
                home_fd = -ENOMEM;
        for (size_t i = 0; i < n && home_fd >= 0; i++) {
                r = apply_key_file(home_fd, &files[i], &u);
                if (r < 0)
                        break;
                changed |= r;
        }
        if (home_fd < 0)
                r = home_fd;
        key_files_free(files, n);
        if (r < 0)
                return r;
        if (ret_summary && asprintf(ret_summary, "%zu SSH key(s) for '%s' %s", d->n_ssh_keys, d->username,
                                    changed ? "installed" : "already installed") < 0)
                return -ENOMEM;
        return changed;
}

const Provisioner provisioner_ssh_keys = {
        .name = "ssh-keys",
        .apply = ssh_keys_apply,
};

/* Only on the running system with systemd as init (sd_booted(3) checks the same directory). */
static bool may_reload_sshd(const Context *c) {
        return !c->root && access("/run/systemd/system", F_OK) >= 0;
}

/* Best effort: a stopped or absent sshd is not an error. systemd's ReloadOrTryRestartUnit (what `systemctl
 * try-reload-or-restart` calls, org.freedesktop.systemd1(5)) over the system bus, without running systemctl:
 * nothing happens when sshd is not running — on a first boot it is ordered after us — and the call does not wait
 * for the reload job. Returns true when systemd accepted it. */
static bool sshd_reload(const Context *c) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;

        if (!may_reload_sshd(c) || sd_bus_open_system(&bus) < 0)
                return false;
        return sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                  "org.freedesktop.systemd1.Manager", "ReloadOrTryRestartUnit", NULL, NULL,
                                  "ss", "sshd.service", "replace") >= 0;
}

static bool file_is(int root_fd, const char *path, const char *content, mode_t mode) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_RDONLY | O_NOFOLLOW, 0);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0 || (st.st_mode & 07777) != mode)
                return false;
        return read_full_fd(fd, 64U * 1024U, &buf, NULL) >= 0 && streq(buf, content);
}

static int sshd_config_apply(Context *c, const ProvisionData *d, char **ret_summary) {
        _cleanup_free_ char *content = NULL;
        const char *path = c->config.sshd_dropin;
        bool reloaded;
        int r;

        if (isempty(path))
                return -EINVAL;
        r = sshd_dropin_content(d->disable_password_auth, &content);
        if (r < 0)
                return r;
        if (file_is(c->root_fd, path, content, 0644)) {
                if (ret_summary && asprintf(ret_summary, "%s already up to date", path) < 0)
                        return -ENOMEM;
                return 0;
        }
        r = write_file_atomic_in_root(c->root_fd, path, content, strlen(content), 0644, 0, 0, WRITE_MKDIR);
        if (r < 0) {
                if (ret_summary && provisioner_path_error(c, path, r, ret_summary) < 0)
                        return -ENOMEM;
                return r;
        }
        reloaded = sshd_reload(c);
        if (ret_summary &&
            asprintf(ret_summary, "%s written (PasswordAuthentication %s)%s", path,
                     d->disable_password_auth ? "no" : "yes", reloaded ? ", sshd reloaded" : "") < 0)
                return -ENOMEM;
        return 1;
}

const Provisioner provisioner_sshd_config = {
        .name = "sshd-config",
        .apply = sshd_config_apply,
};

static bool is_host_key_name(const char *n) {
        return startswith(n, "ssh_host_") && strstr(n, "key");
}

/* Removes /etc/ssh/ssh_host_*key* (private and public keys, certificates). */
static int remove_host_keys(int root_fd) {
        _cleanup_close_ int fd = open_in_root(root_fd, "/etc/ssh", O_RDONLY | O_DIRECTORY, 0);
        DIR *dir;
        int r = 0;

        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        dir = fdopendir(fd);
        if (!dir)
                return negative_errno();
        fd = -EBADF; /* owned by dir now */
        for (struct dirent *de; (de = readdir(dir));)
                if (is_host_key_name(de->d_name) && unlinkat(dirfd(dir), de->d_name, 0) < 0 &&
                    errno != ENOENT)
                        r = negative_errno();
        closedir(dir);
        return r;
}

/* The ssh-keygen -A that "ssh-host-keys" started for the RSA and ECDSA keys, reaped after Ready by
 * ssh_host_keys_finish() (on an alternate root); keygen_detached: a finisher process took it over (the running
 * system). Module state: provisioning runs once per process. */
static pid_t keygen_pid;
static bool keygen_detached;

/* Where the image has sshd-keygen@.service (Fedora, Azure Linux, RHEL) it makes the missing RSA and ECDSA keys
 * after us (azl-provision.service is Before=sshd-keygen.target) and before sshd. */
static bool have_sshd_keygen_unit(int root_fd) {
        static const char *const units[] = {
                "/etc/systemd/system/sshd-keygen@.service",
                "/usr/lib/systemd/system/sshd-keygen@.service",
                "/lib/systemd/system/sshd-keygen@.service",
        };

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                _cleanup_close_ int fd = open_in_root(root_fd, units[i], O_RDONLY | O_CLOEXEC, 0);

                if (fd >= 0)
                        return true;
        }
        return false;
}

static int record_host_keys_vm(Context *c, const char *vm_id);

#define KEYGEN_ARGV ((char *const[]){(char *) "ssh-keygen", (char *) "-A", NULL})

/* The finisher (a child of the provisioning run, in its unit's cgroup): ssh-keygen -A, then the record and an sshd
 * reload, then it exits. The unit is active once the run's main process has exited (Type=oneshot,
 * RemainAfterExit=yes); systemd leaves the finisher running. */
_noreturn_ static void keygen_finisher(Context *c, const char *vm_id) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        pid_t pid;
        int r;

        (void) prctl(PR_SET_NAME, "azl-ssh-keygen");
        r = spawn_background(KEYGEN_ARGV, -EBADF, &pid);
        if (r >= 0)
                r = spawn_wait(pid);
        if (r > 0)
                r = -EIO;
        if (r >= 0 && !isempty(vm_id))
                r = record_host_keys_vm(c, vm_id);
        if (r < 0) {
                log_error_errno(r, "Failed to make the RSA and ECDSA host keys (ssh-keygen -A): %m");
                _exit(EXIT_FAILURE);
        }
        log_info("RSA and ECDSA host keys made in %.1fs (ssh-keygen -A)%s.",
                 (double) (now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_SEC,
                 sshd_reload(c) ? ", sshd reloaded" : "");
        _exit(EXIT_SUCCESS);
}

/* ssh-keygen -A makes every default key type that is missing: with ed25519 written, RSA 3072 and ECDSA. On the
 * running system (systemd, no --root) a finisher process takes it over and the run does not wait: sshd (ordered
 * after the unit) starts with the ed25519 key and is reloaded when the others exist — RSA 3072 takes seconds
 * (8–9 s under emulation) that logins must not wait for. On an alternate root the run waits for it
 * (ssh_host_keys_finish()): whoever asked for the root expects it complete. */
static int start_keygen(Context *c, const char *vm_id) {
        _cleanup_free_ char *path = NULL;
        pid_t pid;
        int r;

        if (!may_reload_sshd(c))
                return spawn_background(KEYGEN_ARGV, provisioner_alt_root(c) ? c->root_fd : -EBADF,
                                        &keygen_pid);
        r = find_program("ssh-keygen", &path);
        if (r < 0)
                return r;
        (void) fflush(NULL);
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                keygen_finisher(c, vm_id);
        keygen_detached = true;
        return 0;
}

/*
 * The image's host keys are removed and the ed25519 key is made in-process (microseconds: sshd can start with
 * it). RSA and ECDSA (RSA 3072 alone takes seconds, 3–15 s under emulation) are off Ready's path: left to
 * sshd-keygen@.service where the image has it, otherwise made by ssh-keygen -A beside the remaining steps and
 * the Ready report (start_keygen()).
 */
static int regenerate_host_keys(Context *c, const ProvisionData *d, const char **ret_rest,
                                char **ret_error) {
        _cleanup_free_ char *comment = NULL;
        int r;

        r = remove_host_keys(c->root_fd);
        if (r < 0) {
                if (ret_error && provisioner_path_error(c, "/etc/ssh", r, ret_error) < 0)
                        return -ENOMEM;
                return r;
        }
        if (!isempty(d->hostname) && asprintf(&comment, "root@%s", d->hostname) < 0)
                return -ENOMEM;
        r = ssh_host_key_ed25519_write(c->root_fd, comment);
        if (r < 0)
                return log_debug_errno(r, "Failed to make the ed25519 host key: %m");
        if (have_sshd_keygen_unit(c->root_fd)) {
                *ret_rest = "RSA and ECDSA left to sshd-keygen@.service";
                return 0;
        }
        r = start_keygen(c, d->vm_id);
        if (r == -ENOENT && provisioner_alt_root(c)) {
                if (ret_error &&
                    asprintf(ret_error, "ssh-keygen is not installed in the target root %s", c->root) < 0)
                        return -ENOMEM;
                return r;
        }
        if (r < 0)
                return log_debug_errno(r, "Failed to start ssh-keygen -A: %m");
        *ret_rest = keygen_detached
                            ? "RSA and ECDSA being made by ssh-keygen -A (sshd is reloaded when they exist)"
                            : "RSA and ECDSA being made by ssh-keygen -A";
        return 0;
}

/* <state_dir>/ssh-host-keys.vmid: the VM whose host keys are complete. */
static int host_keys_record_path(Context *c, char **ret) {
        return asprintf(ret, "%s/ssh-host-keys.vmid", c->config.state_dir) < 0 ? -ENOMEM : 0;
}

/* Records that this VM's host keys are complete: <state_dir>/ssh-host-keys.vmid holds the VM id. Only once every
 * key exists, so that a run killed before the RSA/ECDSA child finished makes them all again on the next boot. */
static int record_host_keys_vm(Context *c, const char *vm_id) {
        _cleanup_free_ char *state = NULL, *content = NULL;

        if (host_keys_record_path(c, &state) < 0 || asprintf(&content, "%s\n", vm_id) < 0)
                return -ENOMEM;
        return write_string_file_atomic_in_root(c->root_fd, state, content, 0644, WRITE_MKDIR);
}

bool ssh_host_keys_complete(Context *c, const char *vm_id) {
        _cleanup_free_ char *state = NULL, *recorded = NULL;

        if (!c->config.regenerate_ssh_host_keys || isempty(vm_id))
                return true;
        if (host_keys_record_path(c, &state) < 0)
                return true; /* out of memory: the run fails elsewhere */
        return read_one_line_in_root(c->root_fd, state, 4096, &recorded) >= 0 && streq(recorded, vm_id);
}

/* The VM id to record once the ssh-keygen child is done (ssh_host_keys_finish()). */
static char *keygen_vm_id;

int ssh_host_keys_finish(Context *c, char **ret_summary) {
        _cleanup_free_ char *vm_id = TAKE_PTR(keygen_vm_id);
        pid_t pid = keygen_pid;
        int r;

        if (keygen_detached) {
                keygen_detached = false;
                if (ret_summary &&
                    !(*ret_summary = strdup("RSA and ECDSA host keys being made in the background "
                                            "(the unit does not wait; sshd is reloaded then)")))
                        return -ENOMEM;
                return 1;
        }
        if (pid <= 0)
                return 0;
        keygen_pid = 0;
        r = spawn_wait(pid);
        if (r < 0)
                return log_debug_errno(r, "ssh-keygen -A: %m");
        if (r != 0)
                return log_debug_errno(EIO, "ssh-keygen -A failed with exit status %d.", r);
        if (vm_id) {
                r = record_host_keys_vm(c, vm_id);
                if (r < 0)
                        return r;
        }
        (void) sshd_reload(c);
        if (ret_summary && !(*ret_summary = strdup("RSA and ECDSA host keys made (ssh-keygen -A)")))
                return -ENOMEM;
        return 1;
}

static int ssh_host_keys_apply(Context *c, const ProvisionData *d, char **ret_summary) {
        _cleanup_free_ char *state = NULL, *recorded = NULL;
        const char *rest = NULL;
        int r;

        if (!c->config.regenerate_ssh_host_keys) {
                if (ret_summary)
                        *ret_summary = strdup("host key regeneration disabled");
                return 0;
        }
        if (d->keep_ssh_host_keys) {
                /* the user data's keys are this VM's: recorded, or ssh_host_keys_complete() would send every
                 * later boot through the steps again */
                if (!isempty(d->vm_id)) {
                        r = record_host_keys_vm(c, d->vm_id);
                        if (r < 0)
                                return r;
                }
                if (ret_summary)
                        *ret_summary =
                                strdup("host keys managed by the user data (ssh_keys / ssh_genkeytypes)");
                return 0;
        }
        if (isempty(d->vm_id))
                return log_debug_errno(EINVAL, "No VM id: cannot tell whether host keys are from this VM.");
        if (host_keys_record_path(c, &state) < 0)
                return -ENOMEM;
        r = read_one_line_in_root(c->root_fd, state, 4096, &recorded);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0 && streq(recorded, d->vm_id)) {
                if (ret_summary)
                        *ret_summary = strdup("host keys already generated for this VM");
                return 0;
        }
        r = regenerate_host_keys(c, d, &rest, ret_summary);
        if (r < 0)
                return r;
        if (keygen_detached) {
                /* recorded (and sshd reloaded) by the finisher */
        } else if (keygen_pid > 0) {
                /* recorded (and sshd reloaded) once ssh-keygen is done: ssh_host_keys_finish() */
                free(keygen_vm_id);
                keygen_vm_id = strdup(d->vm_id);
                if (!keygen_vm_id)
                        return -ENOMEM;
        } else {
                r = record_host_keys_vm(c, d->vm_id);
                if (r < 0)
                        return r;
                (void) sshd_reload(c);
        }
        if (ret_summary && asprintf(ret_summary, "SSH host keys regenerated for VM %s: ed25519 made, %s",
                                    d->vm_id, rest) < 0)
                return -ENOMEM;
        return 1;
}

const Provisioner provisioner_ssh_host_keys = {
        .name = "ssh-host-keys",
        .apply = ssh_host_keys_apply,
};

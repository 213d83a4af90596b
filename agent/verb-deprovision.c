/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent deprovision [--user] [--force] [--dry-run]`: make this system an image again, what pipelines run
 * before capture (Packer's Azure builder runs `waagent -force -deprovision+user`). Modelled on what waagent's
 * deprovision removes (azurelinuxagent/pa/deprovision/default.py), for our own files:
 *
 *   - stop the guest agent daemon (azl-agent.service), the provisioning unit (azl-provision.service, whose
 *     RSA/ECDSA host key finisher may still run) and the user data's after-Ready run (azl-userdata.service);
 *     running system only;
 *   - the SSH host keys (/etc/ssh/ssh_host_*key*): the next VM generates its own; the sshd drop-in holding this
 *     VM's DisableSshPasswordAuthentication (the next provisioning writes the new VM's);
 *   - the agent's state (<StateDirectory>: state.json, the provisioned marker, so the next boot is a first boot;
 *     the cached ovf-env.xml and seed, i.e. the custom data; daemon, network and host-key records; the timeline);
 *   - DHCP leases (dhclient, dhcpcd, NetworkManager, networkd's runtime leases);
 *   - root's password (locked: "*" in /etc/shadow and its backup /etc/shadow-, hash and all);
 *   - the guest agent's goal state and extension state (the extensions directory, /var/lib/waagent by default,
 *     and the extension logs in /var/log/azure);
 *   - the hostname (/etc/hostname; the running system's becomes "localhost");
 *   - with --root only: the networkd files and udev rule generated from IMDS (in /run, which an image below
 *     --root keeps; a running system loses them at the next boot);
 *   - root's shell history (/root/.bash_history);
 *   - with --user: the provisioned admin user (state.json "admin_user", else the cached ovf-env.xml's
 *     UserName) with its home — shell history included — mail spool (userdel -f -r) and sudoers drop-in, and the
 *     user data's sudoers rules (/etc/sudoers.d/90-cloud-init-users).
 *     Never root nor a system account (UID below UID_MIN).
 *
 * Everything is listed first, from what actually exists; then, unless --force, confirmed on stdin ("y"); with
 * --dry-run the list is all. Every path is under --root (openat beneath the root fd, symlinks never followed);
 * external tools only for the shadow database (userdel --prefix) and systemctl.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "media.h"
#include "network.h"
#include "ovf-env.h"
#include "passwd-util.h"
#include "provision-state.h"
#include "spawn-util.h"
#include "user.h"

#define REMOVE_DEPTH_MAX 64U

typedef enum ActionKind {
        ACTION_STOP_DAEMON,
        ACTION_DELETE_USER,
        ACTION_REMOVE,
        ACTION_LOCK_ROOT,
        ACTION_RESET_HOSTNAME,
} ActionKind;

typedef struct Action {
        ActionKind kind;
        char *what; /* category shown to the operator */
        char *path; /* in-root path (ACTION_REMOVE, ACTION_LOCK_ROOT), user name (ACTION_DELETE_USER) */
} Action;

typedef struct Plan {
        Action *actions;
        size_t n;
} Plan;

static void plan_done(Plan *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->actions[i].what);
                free(p->actions[i].path);
        }
        free(p->actions);
        *p = (Plan){};
}

static int plan_add(Plan *p, ActionKind kind, const char *what, const char *path) {
        Action *a = reallocarray(p->actions, p->n + 1, sizeof *a);

        if (!a)
                return -ENOMEM;
        p->actions = a;
        a[p->n] = (Action){.kind = kind, .what = strdup(what), .path = path ? strdup(path) : NULL};
        if (!a[p->n].what || (path && !a[p->n].path)) {
                free(a[p->n].what);
                free(a[p->n].path);
                return -ENOMEM;
        }
        p->n++;
        return 0;
}

/* Adds path when it exists (as anything: a dangling symlink is removed too). */
static int plan_remove_if_exists(Context *c, Plan *p, const char *what, const char *path) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF;
        struct stat st;

        dir = open_parent_in_root(c->root_fd, path, false, &name);
        if (dir == -ENOENT || dir == -ENOTDIR)
                return 0;
        if (dir < 0)
                return dir;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return plan_add(p, ACTION_REMOVE, what, path);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Adds the entries of directory dir that match (all when match is NULL). */
static int plan_remove_entries(Context *c, Plan *p, const char *what, const char *dir,
                               bool (*match)(const char *name)) {
        _cleanup_close_ int fd = open_in_root(c->root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        int r = 0;

        if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
                return 0;
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        fd = -EBADF;
        for (struct dirent *de; r >= 0 && (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && (!match || match(de->d_name)))
                        r = strv_extend(&names, de->d_name);
        closedir(d);
        if (r < 0)
                return r;
        if (names)
                qsort(names, strv_length(names), sizeof *names, compare_strings);
        for (char **n = names; n && *n && r >= 0; n++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", streq(dir, "/") ? "" : dir, *n) < 0)
                        return -ENOMEM;
                r = plan_add(p, ACTION_REMOVE, what, path);
        }
        return r;
}

static bool is_host_key(const char *n) {
        return startswith(n, "ssh_host_") && strstr(n, "key");
}

static bool is_our_network_file(const char *n) {
        return (startswith(n, "05-azl-") || startswith(n, "10-azl-")) && endswith(n, ".network");
}

static bool is_lease(const char *n) {
        return strstr(n, "lease") != NULL;
}

/* The admin user: state.json's admin_user, else the UserName of the cached (redacted) ovf-env.xml. */
static int provisioned_user(Context *c, char **ret) {
        _cleanup_(provision_state_done) ProvisionState s = {};
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_(ovf_env_done) OvfEnv e = {};
        size_t size;

        if (provision_state_load(c, &s) >= 0 && !isempty(s.admin_user))
                return (*ret = strdup(s.admin_user)) ? 0 : -ENOMEM;
        if (asprintf(&path, "%s/" OVF_ENV_FILENAME, c->config.state_dir) < 0)
                return -ENOMEM;
        if (read_file_in_root(c->root_fd, path, OVF_ENV_MAX, &buf, &size) >= 0 &&
            ovf_env_parse(buf, size, &e, NULL) >= 0 && !isempty(e.username))
                return (*ret = strdup(e.username)) ? 0 : -ENOMEM;
        return -ENOENT;
}

/* Refuses root, reserved names and system accounts: deprovision deletes the account the agent created. */
static int check_deletable_user(Context *c, const char *name) {
        _cleanup_(passwd_entry_done) PasswdEntry u = {};
        int r;

        if (!user_name_is_valid(name) || user_name_is_reserved(name))
                return log_error_errno(
                        EPERM, "Refusing to delete '%s': not a user name the agent provisions.", name);
        r = passwd_find_in_root(c->root_fd, name, &u);
        if (r == -ENOENT)
                return 0; /* already gone: nothing to do for the account */
        if (r < 0)
                return log_error_errno(r, "Failed to look up '%s' in /etc/passwd: %m", name);
        if (u.uid == 0 || u.uid < uid_min_in_root(c->root_fd))
                return log_error_errno(EPERM, "Refusing to delete '%s': UID %u is a system account.", name,
                                       (unsigned) u.uid);
        return 1;
}

/* A directory configured in agent.conf that deprovision removes wholesale: never "/" or a top-level one. */
static bool deep_enough(const char *path) {
        size_t n = 0;

        for (const char *p = path; *p; p++)
                if (*p == '/' && p[1] && p[1] != '/')
                        n++;
        return path[0] == '/' && n >= 2 && !strstr(path, "/../") && !endswith(path, "/..");
}

static int build_plan(Context *c, bool user, Plan *p) {
        int r;

        /* On the running system, the units that write what the plan removes: the daemon; the provisioning unit,
         * where a first boot's RSA/ECDSA host keys may still be in the making (its finisher, provisioners/ssh.c) —
         * they would come back after their removal below; the user data's after-Ready scripts, which write below
         * the state directory while they run. */
        static const char *const units[][2] = {
                {"azl-agent.service", "stop the guest agent daemon"},
                {"azl-provision.service", "stop the provisioning run's background work"},
                {"azl-userdata.service", "stop the user data's after-Ready run"},
        };

        if (!c->root && access("/run/systemd/system", F_OK) >= 0)
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        r = plan_add(p, ACTION_STOP_DAEMON, units[i][1], units[i][0]);
                        if (r < 0)
                                return r;
                }
        if (user) {
                _cleanup_free_ char *name = NULL, *what = NULL;

                r = provisioned_user(c, &name);
                if (r == -ENOENT)
                        log_warning("No record of a provisioned user (state.json, ovf-env.xml): no user is "
                                    "deleted.");
                else if (r < 0)
                        return r;
                else {
                        r = check_deletable_user(c, name);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                if (asprintf(&what,
                                             "delete the provisioned user, its home and shell history") < 0)
                                        return -ENOMEM;
                                r = plan_add(p, ACTION_DELETE_USER, what, name);
                                if (r < 0)
                                        return r;
                        }
                        r = plan_remove_if_exists(c, p, "the user's sudoers drop-in", SUDOERS_DROPIN);
                        if (r < 0)
                                return r;
                        /* the sudo rules the user data's users module wrote (docs/userdata.md); the next instance's
                         * user data writes its own */
                        r = plan_remove_if_exists(c, p, "the user data's sudoers rules",
                                                  "/etc/sudoers.d/90-cloud-init-users");
                        if (r < 0)
                                return r;
                }
        }
        r = plan_remove_entries(c, p, "SSH host key", "/etc/ssh", is_host_key);
        /* The instance's DisableSshPasswordAuthentication: the next provisioning writes the new VM's. */
        if (r >= 0 && !isempty(c->config.sshd_dropin))
                r = plan_remove_if_exists(c, p, "sshd drop-in of this VM's settings", c->config.sshd_dropin);
        if (r >= 0 && deep_enough(c->config.state_dir))
                /* state.json and the marker (next boot is a first boot), cached ovf-env.xml/seed (custom data),
                 * daemon.json, network.json, ssh-host-keys.vmid, the timeline. */
                r = plan_remove_entries(c, p, "provisioning state and cached provisioning data",
                                        c->config.state_dir, NULL);
        for (const char *const *d =
                     (const char *const[]){"/var/lib/dhclient", "/var/lib/dhcp", "/var/lib/dhcpcd", NULL};
             r >= 0 && *d; d++)
                r = plan_remove_entries(c, p, "DHCP lease", *d, NULL);
        if (r >= 0)
                r = plan_remove_entries(c, p, "DHCP lease", "/var/lib/NetworkManager", is_lease);
        if (r >= 0)
                r = plan_remove_entries(c, p, "DHCP lease", "/run/systemd/netif/leases", NULL);
        /* An image below --root does not boot in between: the runtime files we generate from IMDS would survive
         * into the next provisioning (on the running system /run is gone at the next boot anyway). */
        if (r >= 0 && c->root)
                r = plan_remove_entries(c, p, "generated network configuration", NETWORKD_DIR,
                                        is_our_network_file);
        if (r >= 0 && c->root)
                r = plan_remove_if_exists(c, p, "generated network configuration", NETWORK_UDEV_RULES);
        if (r >= 0 && access_in_root(c->root_fd, "/etc/shadow") >= 0)
                r = plan_add(p, ACTION_LOCK_ROOT, "lock root's password (no hash left)", "/etc/shadow");
        if (r >= 0 && access_in_root(c->root_fd, "/etc/shadow-") >= 0)
                r = plan_add(p, ACTION_LOCK_ROOT, "lock root's password (no hash left)", "/etc/shadow-");
        if (r >= 0 && deep_enough(c->config.extensions_dir))
                r = plan_remove_if_exists(c, p, "goal state and extension state", c->config.extensions_dir);
        if (r >= 0)
                r = plan_remove_if_exists(c, p, "extension logs", "/var/log/azure");
        if (r >= 0)
                r = plan_add(p, ACTION_RESET_HOSTNAME, "reset the hostname", "/etc/hostname");
        if (r >= 0)
                r = plan_remove_if_exists(c, p, "root's shell history", "/root/.bash_history");
        return r;
}

static void plan_print(const Plan *p, FILE *f) {
        for (size_t i = 0; i < p->n; i++) {
                const Action *a = &p->actions[i];

                switch (a->kind) {
                case ACTION_STOP_DAEMON:
                        fprintf(f, "  stop     %-44s (%s)\n", a->path, a->what);
                        break;
                case ACTION_DELETE_USER:
                        fprintf(f, "  userdel  %-44s (%s)\n", a->path, a->what);
                        break;
                case ACTION_REMOVE:
                        fprintf(f, "  remove   %-44s (%s)\n", a->path, a->what);
                        break;
                case ACTION_LOCK_ROOT:
                        fprintf(f, "  lock     %-44s (%s)\n", a->path, a->what);
                        break;
                case ACTION_RESET_HOSTNAME:
                        fprintf(f, "  reset    %-44s (%s)\n", a->path, a->what);
                        break;
                }
        }
}

/* rm -rf of name below dir_fd: never follows a symlink, stays on dir_fd's filesystem. */
static int remove_at(int dir_fd, const char *name, dev_t dev, unsigned depth) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        DIR *d;
        int r = 0;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? negative_errno() : 0;
        if (st.st_dev != dev)
                return -EXDEV; /* a mount point below: not ours to empty */
        if (depth >= REMOVE_DEPTH_MAX)
                return -ELOOP;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        fd = -EBADF;
        for (struct dirent *de; (de = readdir(d));) {
                int k;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = remove_at(dirfd(d), de->d_name, dev, depth + 1);
                if (k < 0 && r >= 0)
                        r = k;
        }
        closedir(d);
        if (r < 0)
                return r;
        return unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? negative_errno() : 0;
}

static int remove_path(Context *c, const char *path) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF;
        struct stat st;

        dir = open_parent_in_root(c->root_fd, path, false, &name);
        if (dir == -ENOENT)
                return 0;
        if (dir < 0)
                return dir;
        if (fstat(dir, &st) < 0)
                return negative_errno();
        return remove_at(dir, name, st.st_dev, 0);
}

/* Root's field 2 of a shadow file becomes "*" unless it already holds no password at all. */
static bool field_is_locked_without_hash(const char *f, size_t len) {
        return len > 0 && (f[0] == '*' || f[0] == '!') && !memchr(f, '$', len);
}

static int lock_root(Context *c, const char *path) {
        _cleanup_free_ char *buf = NULL, *out = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *line, *f, *end;
        struct stat st;
        size_t size;
        int r;

        fd = open_in_root(c->root_fd, path, O_RDONLY | O_NOFOLLOW, 0);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        r = read_full_fd(fd, 16U * 1024U * 1024U, &buf, &size);
        if (r < 0)
                return r;
        line = startswith(buf, "root:") ? buf : strstr(buf, "\nroot:");
        if (!line)
                return 0;
        if (line != buf)
                line++;
        f = line + strlen("root:");
        end = f + strcspn(f, ":\n");
        if (field_is_locked_without_hash(f, (size_t) (end - f)))
                return 0;
        if (asprintf(&out, "%.*s*%s", (int) (f - buf), buf, end) < 0)
                return -ENOMEM;
        r = write_file_atomic_in_root(c->root_fd, path, out, strlen(out), st.st_mode & 07777, st.st_uid,
                                      st.st_gid, 0);
        explicit_bzero(buf, size);
        return r < 0 ? r : 1;
}

static int reset_hostname(Context *c) {
        int r = remove_path(c, "/etc/hostname");

        /* The running system keeps its name until the next boot otherwise; "localhost" as systemd's fallback. */
        if (r >= 0 && !c->root && sethostname("localhost", strlen("localhost")) < 0)
                r = negative_errno();
        return r;
}

static int run_action(Context *c, const Action *a) {
        switch (a->kind) {
        case ACTION_STOP_DAEMON: {
                int r = spawn_and_wait((char *const[]){(char *) "systemctl", (char *) "stop", a->path, NULL},
                                       NULL);

                return r < 0 ? r : r > 0 ? -EIO : 0;
        }
        case ACTION_DELETE_USER:
                /* -f: Packer runs this from the user's own SSH session; -r: home and mail spool. */
                return run_shadow_tool(c, "userdel",
                                       (char *const[]){(char *) "-f", (char *) "-r", a->path, NULL});
        case ACTION_REMOVE:
                return remove_path(c, a->path);
        case ACTION_LOCK_ROOT:
                return lock_root(c, a->path);
        case ACTION_RESET_HOSTNAME:
                return reset_hostname(c);
        }
        return -EINVAL;
}

/* "y"/"yes" (any case) on stdin; anything else, or EOF, is no. */
static bool confirmed(void) {
        char line[64];

        printf("Do you want to proceed? [y/N] ");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
                return false;
        line[strcspn(line, "\r\n")] = 0;
        return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

int verb_deprovision(Context *c, int argc, char **argv) {
        static const struct option options[] = {{"user", no_argument, NULL, 'u'},
                                                {"force", no_argument, NULL, 'f'},
                                                {"dry-run", no_argument, NULL, 'n'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        _cleanup_(plan_done) Plan plan = {};
        bool user = false, force = false, dry_run = false;
        unsigned failed = 0;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "ufnh", options, NULL)) >= 0)
                switch (opt) {
                case 'u':
                        user = true;
                        break;
                case 'f':
                        force = true;
                        break;
                case 'n':
                        dry_run = true;
                        break;
                case 'h':
                        printf("azl-agent deprovision [--user] [--force] [--dry-run]\n\n"
                               "Removes what makes this system a particular VM, so that it can be captured "
                               "as an image\n"
                               "and the next boot provisions afresh. See azl-agent-deprovision(8).\n");
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        if (!dry_run && geteuid() != 0)
                return log_error_errno(EPERM, "deprovision must run as root.");

        r = build_plan(c, user, &plan);
        if (r < 0)
                return log_error_errno(r, "Failed to work out what to remove: %m");
        printf("azl-agent deprovision%s will:\n", c->root ? " (alternate root)" : "");
        plan_print(&plan, stdout);
        if (dry_run)
                return 0;
        if (!force && !confirmed()) {
                printf("Nothing changed.\n");
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < plan.n; i++) {
                r = run_action(c, &plan.actions[i]);
                if (r < 0) {
                        log_error_errno(r, "Failed to %s %s: %m", plan.actions[i].what,
                                        plan.actions[i].path);
                        failed++;
                }
        }
        if (failed > 0) {
                log_error("Deprovisioning incomplete: %u of %zu action(s) failed.", failed, plan.n);
                return EXIT_FAILURE;
        }
        log_info("Deprovisioned: %zu action(s) done; the next boot provisions this system as a new VM.",
                 plan.n);
        return 0;
}

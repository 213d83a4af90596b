/* SPDX-License-Identifier: MIT */
/*
 * The "user" provisioning step: the administrator account from IMDS osProfile / ovf-env.xml.
 *
 *  - The name is validated (syntax, reserved system names, existing system accounts with UID < UID_MIN are
 *    refused as waagent does without Provisioning.AllowResetSysUser).
 *  - Missing admin groups (Config.admin_groups, default "wheel"; Debian has none) are created as system
 *    groups with groupadd -r, as cloud-init creates missing groups: without them useradd -G would fail.
 *  - A new account: useradd -m -U -s /bin/bash -G <groups> (--prefix <root> for a scratch root, which makes
 *    shadow's tools use <root>/etc/{passwd,group,shadow,login.defs} without chroot()ing into it). An
 *    existing account is never recreated: only missing group memberships are added (usermod -a -G).
 *  - Password: SHA-512 crypt with a random salt (libxcrypt), set with usermod -p <hash>; the cleartext is
 *    never in an argv or environment and is registered with log_add_secret() before anything else. No
 *    password → the password is locked (usermod -L), login is by SSH key only.
 *  - /etc/sudoers.d/azl-agent, 0440 root:root: "<user> ALL=(ALL) NOPASSWD:ALL" without a password,
 *    "<user> ALL=(ALL) ALL" with one (waagent §5.2 step 6). Written to a hidden temporary file (sudo
 *    ignores names with a '.'), checked with visudo -c when visudo exists, then renamed into place.
 *
 * Each part checks the current state first; a second run changes nothing and returns 0.
 */
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash-point.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "passwd-util.h"
#include "provisioner.h"
#include "spawn-util.h"
#include "strutil.h"
#include "user.h"

#define SUDOERS_DIR "/etc/sudoers.d"
#define SUDOERS_TMP_NAME ".azl-agent.new"

bool user_name_is_valid(const char *name) {
        size_t n;

        if (isempty(name))
                return false;
        n = strlen(name);
        if (n > USER_NAME_MAX)
                return false;
        if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = name[i];

                if (c == '$' && i == n - 1)
                        continue;
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

bool user_name_is_reserved(const char *name) {
        /* Debian base-passwd, Fedora/Azure Linux setup and the usual daemon accounts. */
        static const char *const reserved[] = {
                "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
                "proxy", "www-data", "backup", "list", "irc", "gnats", "nobody", "nogroup", "adm",
                "operator", "halt", "shutdown", "ftp", "sshd", "messagebus", "dbus", "polkitd", "tss",
                "_apt", "tcpdump", "chrony", "unbound", "rpc", "rpcuser", "nfsnobody", "wheel", "sudo",
                "shadow", "utmp", "tty", "disk", "kmem", "audio", "video", "input", "render", "kvm",
                "staff", "users", "systemd",
        };

        if (startswith(name, "systemd-"))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
                if (streq(name, reserved[i]))
                        return true;
        return false;
}

static void crypt_free(void *data, int size) {
        if (data)
                explicit_bzero(data, (size_t) size);
        free(data);
}

int user_hash_password(const char *password, char **ret) {
        _cleanup_free_ char *salt = NULL;
        void *data = NULL;
        int size = 0;
        const char *h;
        char *copy;

        if (!password)
                return -EINVAL;
        /* NULL random bytes: libxcrypt reads them from the kernel (getrandom). */
        salt = crypt_gensalt_ra("$6$", 0, NULL, 0);
        if (!salt)
                return negative_errno();
        h = crypt_ra(password, salt, &data, &size);
        if (!h || h[0] == '*') {
                crypt_free(data, size);
                return -EINVAL;
        }
        copy = strdup(h);
        crypt_free(data, size);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

bool user_password_matches(const char *password, const char *hash) {
        void *data = NULL;
        int size = 0;
        const char *h;
        bool ok;

        if (!password || isempty(hash) || hash[0] == '!' || hash[0] == '*')
                return false;
        h = crypt_ra(password, hash, &data, &size);
        ok = h && h[0] != '*' && streq(h, hash);
        crypt_free(data, size);
        return ok;
}

int user_sudoers_content(const char *user, bool has_password, char **ret) {
        if (!user_name_is_valid(user))
                return -EINVAL;
        if (asprintf(ret, "# Written by azl-agent for the administrator account provisioned on this VM.\n"
                          "%s ALL=(ALL) %s\n",
                     user, has_password ? "ALL" : "NOPASSWD:ALL") < 0)
                return -ENOMEM;
        return 0;
}

int run_shadow_tool(Context *c, const char *tool, char *const *args) {
        _cleanup_free_ char *output = NULL;
        const char *argv[32];
        size_t n = 0;
        int r;

        argv[n++] = tool;
        if (c->root) {
                argv[n++] = "--prefix";
                argv[n++] = c->root;
        }
        for (size_t i = 0; args[i]; i++) {
                if (n >= ELEMENTSOF(argv) - 1)
                        return -E2BIG;
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        r = spawn_and_wait((char *const *) argv, &output);
        if (r < 0)
                return r;
        if (r != 0)
                return log_debug_errno(EIO, "%s failed with exit status %d: %s", tool, r, strempty(output));
        return 0;
}

/* Creates the missing admin groups; returns 1 if any was created. */
static int ensure_groups(Context *c) {
        int changed = 0;

        for (char **g = c->config.admin_groups; g && *g; g++) {
                GroupEntry e = {};
                int r = group_find_in_root(c->root_fd, *g, &e);

                group_entry_done(&e);
                if (r >= 0)
                        continue;
                if (r != -ENOENT)
                        return r;
                r = run_shadow_tool(c, "groupadd", (char *const[]) { (char *) "-r", *g, NULL });
                if (r < 0)
                        return r;
                changed = 1;
        }
        return changed;
}

/* Comma-separated admin groups the user is not yet a member of (all of them for a new user). */
static int missing_groups(Context *c, const PasswdEntry *user, char **ret) {
        _cleanup_free_ char *list = NULL;

        for (char **g = c->config.admin_groups; g && *g; g++) {
                GroupEntry e = {};
                bool member;
                char *n;
                int r = group_find_in_root(c->root_fd, *g, &e);

                if (r < 0)
                        return r;
                member = user && group_has_user(&e, user);
                group_entry_done(&e);
                if (member)
                        continue;
                if (asprintf(&n, "%s%s%s", strempty(list), list ? "," : "", *g) < 0)
                        return -ENOMEM;
                free(list);
                list = n;
        }
        *ret = TAKE_PTR(list);
        return 0;
}

static int create_user(Context *c, const char *name, const char *groups) {
        _cleanup_free_ char *skel = NULL;
        const char *args[16];
        size_t n = 0;

        args[n++] = "-m";
        args[n++] = "-U";
        args[n++] = "-s";
        args[n++] = "/bin/bash";
        if (groups) {
                args[n++] = "-G";
                args[n++] = groups;
        }
        /* useradd --prefix still copies the host's /etc/skel; point it at the root's own. */
        if (c->root && access_in_root(c->root_fd, "/etc/skel") >= 0) {
                if (path_join_root(c->root, "/etc/skel", &skel) < 0)
                        return -ENOMEM;
                args[n++] = "-k";
                args[n++] = skel;
        }
        args[n++] = name;
        args[n] = NULL;
        return run_shadow_tool(c, "useradd", (char *const *) args);
}

/* Creates the account or adds missing groups; 1 when something changed. */
static int ensure_account(Context *c, const char *name) {
        _cleanup_(passwd_entry_done) PasswdEntry user = {};
        _cleanup_free_ char *groups = NULL;
        int r;

        r = passwd_find_in_root(c->root_fd, name, &user);
        if (r < 0 && r != -ENOENT)
                return r;
        r = missing_groups(c, r >= 0 ? &user : NULL, &groups);
        if (r < 0)
                return r;
        if (!user.name)
                return create_user(c, name, groups) ?: 1;
        if (!groups)
                return 0;
        r = run_shadow_tool(c, "usermod", (char *const[]) { (char *) "-a", (char *) "-G", groups,
                                                             (char *) name, NULL });
        return r < 0 ? r : 1;
}

/* An existing account below UID_MIN is a system account: never turn it into the admin (waagent refuses
 * too, unless Provisioning.AllowResetSysUser). Checked before anything is changed. */
static int refuse_system_account(Context *c, const char *name) {
        _cleanup_(passwd_entry_done) PasswdEntry user = {};
        int r;

        r = passwd_find_in_root(c->root_fd, name, &user);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (user.uid < uid_min_in_root(c->root_fd))
                return log_debug_errno(EPERM, "'%s' is a system account (UID %u).", name, (unsigned) user.uid);
        return 0;
}

static int ensure_password(Context *c, const char *name, const char *password) {
        _cleanup_erase_ char *current = NULL, *hash = NULL;
        int r;

        r = shadow_find_hash_in_root(c->root_fd, name, &current);
        if (r < 0)
                return r;
        if (!password) {
                /* '!' or '*' prefixed: no password can match, already locked. */
                if (current[0] == '!' || current[0] == '*')
                        return 0;
                r = run_shadow_tool(c, "usermod", (char *const[]) { (char *) "-L", (char *) name, NULL });
                return r < 0 ? r : 1;
        }
        if (user_password_matches(password, current))
                return 0;
        r = user_hash_password(password, &hash);
        if (r < 0)
                return r;
        (void) log_add_secret(hash);
        r = run_shadow_tool(c, "usermod", (char *const[]) { (char *) "-p", hash, (char *) name, NULL });
        return r < 0 ? r : 1;
}

/* Is the drop-in already exactly content, 0440, root-owned? */
static bool sudoers_up_to_date(Context *c, const char *content) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open_in_root(c->root_fd, SUDOERS_DROPIN, O_RDONLY | O_NOFOLLOW, 0);
        if (fd < 0 || fstat(fd, &st) < 0)
                return false;
        if ((st.st_mode & 07777) != 0440 || st.st_uid != 0 || st.st_gid != 0)
                return false;
        if (read_full_fd(fd, 64U * 1024U, &buf, NULL) < 0)
                return false;
        return streq(buf, content);
}

/* visudo -c -f on the temporary file; -ENOENT from find_program means "no visudo": skip the check. */
static int sudoers_validate(Context *c) {
        _cleanup_free_ char *path = NULL, *visudo = NULL;
        int r;

        if (find_program("visudo", &visudo) < 0)
                return 0;
        r = path_join_root(c->root, SUDOERS_DIR "/" SUDOERS_TMP_NAME, &path);
        if (r < 0)
                return r;
        r = spawn_and_wait((char *const[]) { visudo, (char *) "-c", (char *) "-q", (char *) "-f", path, NULL },
                           NULL);
        if (r < 0)
                return r;
        return r == 0 ? 0 : -EINVAL;
}

/* A run killed while staging leaves write_file_atomic_in_root()'s ".#.azl-agent.new<random>" behind; sudo
 * ignores it, but nothing else would ever remove it. Those names are only ever ours (tests/crash). */
static void remove_stale_staging(int dir_fd) {
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

        if (!d) {
                closep(&fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));)
                if (startswith(de->d_name, ".#" SUDOERS_TMP_NAME))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

static int ensure_sudoers(Context *c, const char *name, bool has_password) {
        _cleanup_free_ char *content = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        r = user_sudoers_content(name, has_password, &content);
        if (r < 0)
                return r;
        if (sudoers_up_to_date(c, content))
                return 0;
        r = mkdir_p_in_root(c->root_fd, SUDOERS_DIR, 0750);
        if (r < 0)
                return r;
        dir_fd = open_in_root(c->root_fd, SUDOERS_DIR, O_RDONLY | O_DIRECTORY, 0);
        if (dir_fd < 0)
                return dir_fd;
        remove_stale_staging(dir_fd);
        r = write_file_atomic_in_root(c->root_fd, SUDOERS_DIR "/" SUDOERS_TMP_NAME, content, strlen(content),
                                      0440, 0, 0, 0);
        if (r < 0)
                return r;
        r = sudoers_validate(c);
        if (r >= 0)
                crash_point("user:sudoers-validated");
        if (r >= 0)
                r = RET_NERRNO(renameat(dir_fd, SUDOERS_TMP_NAME, dir_fd, "azl-agent"));
        if (r < 0) {
                (void) unlinkat(dir_fd, SUDOERS_TMP_NAME, 0);
                return r;
        }
        (void) fsync(dir_fd);
        return 1;
}

static int user_apply(Context *c, const ProvisionData *d, char **ret_summary) {
        int r, account, password, sudoers, groups;

        /* First of all, so that no later log line (ours or a tool's output) can carry it. */
        if (d->password) {
                r = log_add_secret(d->password);
                if (r < 0)
                        return r;
        }
        if (!user_name_is_valid(d->username))
                return log_debug_errno(EINVAL, "Invalid user name '%s'.", strna(d->username));
        if (user_name_is_reserved(d->username))
                return log_debug_errno(EPERM, "'%s' is a reserved system account name.", d->username);

        r = refuse_system_account(c, d->username);
        if (r < 0)
                return r;
        groups = ensure_groups(c);
        if (groups < 0)
                return groups;
        crash_point("user:groups-done"); /* between the shadow tool calls (tests/crash) */
        account = ensure_account(c, d->username);
        if (account < 0)
                return account;
        crash_point("user:account-done");
        password = ensure_password(c, d->username, d->password);
        if (password < 0)
                return password;
        crash_point("user:password-done");
        sudoers = ensure_sudoers(c, d->username, d->password);
        if (sudoers < 0)
                return sudoers;
        if (ret_summary && asprintf(ret_summary, "user '%s': account %s, password %s, sudoers %s",
                                    d->username, account ? "created/updated" : "unchanged",
                                    password ? (d->password ? "set" : "locked") : "unchanged",
                                    sudoers ? "written" : "unchanged") < 0)
                return -ENOMEM;
        return groups || account || password || sudoers;
}

const Provisioner provisioner_user = {
        .name = "user",
        .apply = user_apply,
};

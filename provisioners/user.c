/* SPDX-License-Identifier: MIT */
/*
 * The "user" provisioning step: the administrator account from IMDS osProfile / ovf-env.xml, and the account
 * functions the other user sources (WSL setup, cloud-config users) build on.
 *
 *  - The name is validated (syntax, reserved system names, existing system accounts with UID < UID_MIN are
 *    refused as waagent does without Provisioning.AllowResetSysUser).
 *  - Before anything changes, the directories the step will write are checked to resolve inside the root (the
 *    home base directory, /etc/sudoers.d): a symlink to a host path fails here with a reason that names it.
 *  - Missing admin groups (Config.admin_groups, default "wheel"; Debian has none) are created as system
 *    groups with groupadd -r, as cloud-init creates missing groups: without them useradd -G would fail.
 *  - A new account: useradd -m -U -s /bin/bash -G <groups>. An existing account is never recreated: only
 *    missing group memberships are added (usermod -a -G). Every shadow tool is the target's own: on an
 *    alternate root it runs chrooted into it (provisioner_run_tool()), so /etc/skel, /home and /etc/shadow are
 *    the root's, whatever absolute symlinks the root holds (useradd --prefix followed them to the host).
 *  - Password: yescrypt ("$y$", libxcrypt's default cost, random salt), or a pre-hashed "$y$"/"$6$" string as
 *    given (cloud-config), set with chpasswd -e reading "name:hash" on its stdin: neither the cleartext nor
 *    the hash is ever in an argv (/proc/<pid>/cmdline is world-readable) or environment; both are registered
 *    with log_add_secret() first. No password → the password is locked (usermod -L), login is by SSH key
 *    only. Once the media's password is applied, its seed copy is scrubbed (media_seed_scrub_password()); a
 *    later run that reads the scrubbed seed keeps the account's password instead of locking it.
 *  - /etc/sudoers.d/azl-agent, 0440 root:root: "<user> ALL=(ALL) NOPASSWD:ALL" without a password,
 *    "<user> ALL=(ALL) ALL" with one (protocol §5.2 step 6). Written to a hidden temporary file (sudo
 *    ignores names with a '.'), checked with the target's visudo -c when it has one, then renamed into place.
 *
 * Each part checks the current state first; a second run changes nothing and returns 0. Failures come with a
 * one-line reason (which path, which tool said what) for the provisioning status.
 */
#include <crypt.h>
#include <ctype.h>
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
#include "media.h"
#include "passwd-util.h"
#include "provisioner.h"
#include "spawn-util.h"
#include "strutil.h"
#include "user.h"

#define SUDOERS_DIR      "/etc/sudoers.d"
#define SUDOERS_TMP_NAME ".azl-agent.new"
#define USERADD_DEFAULTS "/etc/default/useradd"

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
                "root",    "daemon",     "bin",     "sys",       "sync",     "games",  "man",      "lp",
                "mail",    "news",       "uucp",    "proxy",     "www-data", "backup", "list",     "irc",
                "gnats",   "nobody",     "nogroup", "adm",       "operator", "halt",   "shutdown", "ftp",
                "sshd",    "messagebus", "dbus",    "polkitd",   "tss",      "_apt",   "tcpdump",  "chrony",
                "unbound", "rpc",        "rpcuser", "nfsnobody", "wheel",    "sudo",   "shadow",   "utmp",
                "tty",     "disk",       "kmem",    "audio",     "video",    "input",  "render",   "kvm",
                "staff",   "users",      "systemd",
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
        /* Count 0: libxcrypt's default cost for yescrypt; NULL random bytes: it reads them from getrandom(). */
        salt = crypt_gensalt_ra(USER_HASH_PREFIX, 0, NULL, 0);
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

bool user_password_is_hash(const char *s) {
        const char *last;
        void *data = NULL;
        int size = 0;
        const char *h;
        bool ok;

        if (isempty(s) || strlen(s) > USER_HASH_MAX)
                return false;
        if (!startswith(s, "$y$") && !startswith(s, "$6$"))
                return false;
        /* crypt(5)'s alphabet; never ':' or a newline, which would split a shadow or chpasswd line. */
        for (const char *p = s; *p; p++)
                if (!isascii(*p) || !(isalnum(*p) || strchr("./$=", *p)))
                        return false;
        if (crypt_checksalt(s) != CRYPT_SALT_OK)
                return false;
        /* Complete, not just a setting: hashing with it as the setting gives a string of the same shape. */
        last = strrchr(s, '$');
        if (!last || last[1] == 0)
                return false;
        h = crypt_ra("", s, &data, &size);
        ok = h && h[0] != '*' && strlen(h) == strlen(s) && strncmp(h, s, (size_t) (last - s + 1)) == 0;
        crypt_free(data, size);
        return ok;
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
        if (asprintf(ret,
                     "# Written by azl-agent for the administrator account provisioned on this VM.\n"
                     "%s ALL=(ALL) %s\n",
                     user, has_password ? "ALL" : "NOPASSWD:ALL") < 0)
                return -ENOMEM;
        return 0;
}

/* tool, then args (NULL-terminated), through provisioner_run_tool(); input on its stdin. */
static int shadow_tool(Context *c, const char *tool, char *const *args, const char *input,
                       char **ret_error) {
        const char *argv[32];
        size_t n = 0;

        argv[n++] = tool;
        for (size_t i = 0; args[i]; i++) {
                if (n >= ELEMENTSOF(argv) - 1)
                        return -E2BIG;
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        return provisioner_run_tool(c, (char *const *) argv, input, input ? strlen(input) : 0, ret_error);
}

int run_shadow_tool(Context *c, const char *tool, char *const *args) {
        _cleanup_free_ char *error = NULL;
        int r = shadow_tool(c, tool, args, NULL, &error);

        if (r < 0)
                return log_debug_errno(r, "%s", strna(error));
        return 0;
}

int user_ensure_groups(Context *c, char *const *groups, char **ret_error) {
        int changed = 0;

        for (char *const *g = groups; g && *g; g++) {
                GroupEntry e = {};
                int r = group_find_in_root(c->root_fd, *g, &e);

                group_entry_done(&e);
                if (r >= 0)
                        continue;
                if (r != -ENOENT)
                        return r;
                r = shadow_tool(c, "groupadd", (char *const[]){(char *) "-r", *g, NULL}, NULL, ret_error);
                if (r < 0)
                        return r;
                changed = 1;
        }
        return changed;
}

/* Comma-separated groups the user is not yet a member of (all of them for a new user). */
static int missing_groups(Context *c, char *const *groups, const PasswdEntry *user, char **ret) {
        _cleanup_free_ char *list = NULL;

        for (char *const *g = groups; g && *g; g++) {
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

/* useradd's base directory for homes: HOME= of the root's /etc/default/useradd, "/home" without one. */
static int home_base(Context *c, char **ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        r = read_file_in_root(c->root_fd, USERADD_DEFAULTS, 64U * 1024U, &buf, NULL);
        if (r >= 0)
                r = strv_split(buf, "\n", &lines);
        for (char **l = lines; r >= 0 && l && *l; l++) {
                const char *v = startswith(*l, "HOME=") ? *l + 5 : NULL;

                if (v && v[0] == '/')
                        return (*ret = strdup(v)) ? 0 : -ENOMEM;
        }
        if (r < 0 && r != -ENOENT)
                return r;
        return (*ret = strdup("/home")) ? 0 : -ENOMEM;
}

static int create_user(Context *c, const char *name, const char *groups, char **ret_error) {
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
        args[n++] = name;
        args[n] = NULL;
        return shadow_tool(c, "useradd", (char *const *) args, NULL, ret_error);
}

int user_ensure_account(Context *c, const char *name, char *const *groups, char **ret_error) {
        _cleanup_(passwd_entry_done) PasswdEntry user = {};
        _cleanup_free_ char *missing = NULL, *base = NULL;
        int r;

        if (!user_name_is_valid(name))
                return -EINVAL;
        r = passwd_find_in_root(c->root_fd, name, &user);
        if (r < 0 && r != -ENOENT)
                return r;
        r = missing_groups(c, groups, user.name ? &user : NULL, &missing);
        if (r < 0)
                return r;
        if (!user.name) {
                /* useradd -m would create the account, then fail on the home: check first, change nothing. */
                r = home_base(c, &base);
                if (r < 0)
                        return r;
                r = provisioner_check_dir(c, base, false, ret_error);
                if (r < 0)
                        return r;
                return create_user(c, name, missing, ret_error) ?: 1;
        }
        if (!missing)
                return 0;
        r = shadow_tool(c, "usermod",
                        (char *const[]){(char *) "-a", (char *) "-G", missing, (char *) name, NULL}, NULL,
                        ret_error);
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
                return log_debug_errno(EPERM, "'%s' is a system account (UID %u).", name,
                                       (unsigned) user.uid);
        return 0;
}

/* chpasswd -e with "name:hash" on its stdin (a memfd): the hash is in no argv, no environment, no file. */
static int set_hash(Context *c, const char *name, const char *hash, char **ret_error) {
        _cleanup_erase_ char *line = NULL;

        if (strchr(name, ':') || strchr(name, '\n') || strchr(hash, ':') || strchr(hash, '\n'))
                return -EINVAL;
        if (asprintf(&line, "%s:%s\n", name, hash) < 0)
                return -ENOMEM;
        return shadow_tool(c, "chpasswd", (char *const[]){(char *) "-e", NULL}, line, ret_error);
}

int user_set_password_hash(Context *c, const char *name, const char *hash, char **ret_error) {
        _cleanup_erase_ char *current = NULL;
        int r;

        if (!user_password_is_hash(hash))
                return -EINVAL;
        r = log_add_secret(hash);
        if (r < 0)
                return r;
        r = shadow_find_hash_in_root(c->root_fd, name, &current);
        if (r < 0)
                return r;
        if (streq(current, hash))
                return 0;
        r = set_hash(c, name, hash, ret_error);
        return r < 0 ? r : 1;
}

int user_ensure_password(Context *c, const char *name, const char *password, char **ret_error) {
        _cleanup_erase_ char *current = NULL, *hash = NULL;
        int r;

        if (!password)
                return -EINVAL;
        r = log_add_secret(password);
        if (r < 0)
                return r;
        r = shadow_find_hash_in_root(c->root_fd, name, &current);
        if (r < 0)
                return r;
        if (user_password_matches(password, current))
                return 0;
        r = user_hash_password(password, &hash);
        if (r < 0)
                return r;
        r = log_add_secret(hash);
        if (r < 0)
                return r;
        r = set_hash(c, name, hash, ret_error);
        return r < 0 ? r : 1;
}

int user_lock_password(Context *c, const char *name, char **ret_error) {
        _cleanup_erase_ char *current = NULL;
        int r;

        r = shadow_find_hash_in_root(c->root_fd, name, &current);
        if (r < 0)
                return r;
        /* '!' or '*' prefixed: no password can match, already locked. */
        if (current[0] == '!' || current[0] == '*')
                return 0;
        r = shadow_tool(c, "usermod", (char *const[]){(char *) "-L", (char *) name, NULL}, NULL, ret_error);
        return r < 0 ? r : 1;
}

/* Can the account log in with a password (a usable hash in shadow)? */
static bool has_usable_password(Context *c, const char *name) {
        _cleanup_erase_ char *current = NULL;

        if (shadow_find_hash_in_root(c->root_fd, name, &current) < 0)
                return false;
        return !isempty(current) && current[0] != '!' && current[0] != '*';
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

/* The target's visudo -c -f on the temporary file; no visudo in the target: no check (sudo is not there). */
static int sudoers_validate(Context *c, char **ret_error) {
        int r;

        r = provisioner_run_tool(c,
                                 (char *const[]){(char *) "visudo", (char *) "-c", (char *) "-q",
                                                 (char *) "-f", (char *) SUDOERS_DIR "/" SUDOERS_TMP_NAME,
                                                 NULL},
                                 NULL, 0, ret_error);
        if (r == -ENOENT) {
                if (ret_error) {
                        free(*ret_error);
                        *ret_error = NULL;
                }
                return 0;
        }
        return r < 0 ? -EINVAL : 0;
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

int user_ensure_sudoers(Context *c, const char *name, bool has_password, char **ret_error) {
        _cleanup_free_ char *content = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        r = user_sudoers_content(name, has_password, &content);
        if (r < 0)
                return r;
        if (sudoers_up_to_date(c, content))
                return 0;
        r = mkdir_p_in_root(c->root_fd, SUDOERS_DIR, 0750);
        if (r >= 0)
                r = dir_fd = open_in_root(c->root_fd, SUDOERS_DIR, O_RDONLY | O_DIRECTORY, 0);
        if (r < 0) {
                if (ret_error && provisioner_path_error(c, SUDOERS_DIR, r, ret_error) < 0)
                        return -ENOMEM;
                return r;
        }
        remove_stale_staging(dir_fd);
        r = write_file_atomic_in_root(c->root_fd, SUDOERS_DIR "/" SUDOERS_TMP_NAME, content, strlen(content),
                                      0440, 0, 0, 0);
        if (r < 0)
                return r;
        r = sudoers_validate(c, ret_error);
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

/* Everything checked before the first change: a path that cannot be written fails with nothing changed (the
 * home's base directory only matters for an account still to be created). */
int user_preflight(Context *c, const char *name, char **ret_error) {
        _cleanup_(passwd_entry_done) PasswdEntry user = {};
        _cleanup_free_ char *base = NULL;
        int r;

        r = provisioner_check_dir(c, SUDOERS_DIR, true, ret_error);
        if (r < 0)
                return r;
        r = passwd_find_in_root(c->root_fd, name, &user);
        if (r != -ENOENT)
                return r < 0 ? r : 0;
        r = home_base(c, &base);
        if (r < 0)
                return r;
        return provisioner_check_dir(c, base, false, ret_error);
}

static int user_apply_full(Context *c, const ProvisionData *d, char **ret_summary, char **ret_error) {
        _cleanup_free_ char *scrub_note = NULL;
        int r, account, password, sudoers, groups, scrubbed = 0;
        bool has_password;

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
        r = user_preflight(c, d->username, ret_error);
        if (r < 0)
                return r;
        groups = user_ensure_groups(c, c->config.admin_groups, ret_error);
        if (groups < 0)
                return groups;
        crash_point("user:groups-done"); /* between the shadow tool calls (tests/crash) */
        account = user_ensure_account(c, d->username, c->config.admin_groups, ret_error);
        if (account < 0)
                return account;
        crash_point("user:account-done");
        if (d->password)
                password = user_ensure_password(c, d->username, d->password, ret_error);
        else if (d->password_scrubbed)
                password = 0; /* applied by an earlier run from this seed; the account keeps it */
        else
                password = user_lock_password(c, d->username, ret_error);
        if (password < 0)
                return password;
        crash_point("user:password-done");
        if (d->password) {
                /* Used: the seed's copy of the cleartext goes. Not fatal (the account is right), but said. */
                scrubbed = media_seed_scrub_password(c);
                if (scrubbed < 0 &&
                    asprintf(&scrub_note, "; the seed copy of the password could not be scrubbed: %s",
                             strerror(-scrubbed)) < 0)
                        return -ENOMEM;
        }
        has_password = d->password || (d->password_scrubbed && has_usable_password(c, d->username));
        sudoers = user_ensure_sudoers(c, d->username, has_password, ret_error);
        if (sudoers < 0)
                return sudoers;
        if (ret_summary && asprintf(ret_summary, "user '%s': account %s, password %s, sudoers %s%s%s",
                                    d->username, account ? "created/updated" : "unchanged",
                                    password               ? (d->password ? "set (yescrypt)" : "locked")
                                    : d->password_scrubbed ? "kept (applied before; scrubbed from the seed)"
                                                           : "unchanged",
                                    sudoers ? "written" : "unchanged",
                                    scrubbed > 0 ? "; seed copy scrubbed" : "", strempty(scrub_note)) < 0)
                return -ENOMEM;
        return groups || account || password || sudoers || scrubbed > 0;
}

static int user_apply(Context *c, const ProvisionData *d, char **ret_summary) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = user_apply_full(c, d, ret_summary, &error);
        if (r < 0 && ret_summary)
                *ret_summary = TAKE_PTR(error);
        return r;
}

const Provisioner provisioner_user = {
        .name = "user",
        .apply = user_apply,
};

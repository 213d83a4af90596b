/* SPDX-License-Identifier: MIT */
/* The cloud-config modules of the provisioning phase (userdata-apply.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "hostname.h"
#include "log.h"
#include "macro.h"
#include "passwd-util.h"
#include "spawn-util.h"
#include "ssh.h"
#include "strutil.h"
#include "user.h"
#include "userdata-apply.h"
#include "userdata-parts.h"
#include "userdata.h"

#define FILE_APPEND_MAX (16U * 1024U * 1024U)
#define DISABLE_ROOT_OPTS_DEFAULT                                                                           \
        "no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please login as the "     \
        "user "                                                                                             \
        "\\\"$USER\\\" rather than the user \\\"$DISABLE_USER\\\".';echo;sleep 10;exit 142\""

/* ---- summaries ---- */

static void note(char **s, const char *fmt, ...) _printf_(2, 3);
static void note(char **s, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        char *n;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (!m || asprintf(&n, "%s%s%s", strempty(*s), *s ? "; " : "", m) < 0)
                return;
        free(*s);
        *s = n;
}

static int finish(char **ret_summary, char **s, int r) {
        if (ret_summary)
                *ret_summary = TAKE_PTR(*s);
        return r;
}

/* ---- OS family (cloud-init's distro.osfamily) ---- */

UdOsFamily userdata_os_family(int root_fd) {
        _cleanup_free_ char *buf = NULL;

        if (read_file_in_root(root_fd, "/etc/os-release", 64 * 1024, &buf, NULL) < 0 &&
            read_file_in_root(root_fd, "/usr/lib/os-release", 64 * 1024, &buf, NULL) < 0)
                return UD_OS_REDHAT;
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
                if ((startswith(line, "ID=") || startswith(line, "ID_LIKE=")) &&
                    (strstr(line, "debian") || strstr(line, "ubuntu")))
                        return UD_OS_DEBIAN;
        return UD_OS_REDHAT;
}

/* ---- running helpers ---- */

/* chpasswd -e with "name:hash\n" on stdin, chrooted into the root (user.h: never on a command line). */
static int set_password_hash(Context *c, const char *name, const char *hash) {
        int r = user_set_password_hash(c, name, hash, NULL);

        return r < 0 ? r : 0;
}

/* A tool working on the root's files: the root's own, chrooted into it on an alternate root, with the root's
 * paths (docs/security.md, "--root confinement"); the host's on the running system. */
static int run_tool_in_root(Context *c, char *const *argv, char **ret_output) {
        SpawnOptions o = SPAWN_OPTIONS_INIT;

        if (provisioner_alt_root(c))
                o.root_fd = c->root_fd;
        return spawn_and_wait_opts(argv, &o, ret_output);
}

static bool have_tool_in_root(Context *c, const char *name) {
        _cleanup_free_ char *path = NULL;

        return (provisioner_alt_root(c) ? find_program_in_root(c->root_fd, name, &path)
                                        : find_program(name, &path)) >= 0;
}

/* ---- hostname ---- */

int userdata_hostname_fqdn(const UserDataConfig *cfg, const char *fallback, char **ret_hostname,
                           char **ret_fqdn) {
        _cleanup_free_ char *h = NULL, *f = NULL;

        if (cfg->fqdn) {
                f = strdup(cfg->fqdn);
                h = cfg->hostname ? strdup(cfg->hostname) : strndup(cfg->fqdn, strcspn(cfg->fqdn, "."));
        } else if (cfg->hostname && strchr(cfg->hostname, '.') && cfg->hostname[0] != '.') {
                f = strdup(cfg->hostname);
                h = strndup(cfg->hostname, strcspn(cfg->hostname, "."));
        } else {
                const char *name = cfg->hostname ?: fallback;

                if (!name) {
                        *ret_hostname = *ret_fqdn = NULL;
                        return 0;
                }
                h = strdup(name);
                f = strdup(name);
        }
        if (!h || !f)
                return -ENOMEM;
        *ret_hostname = TAKE_PTR(h);
        *ret_fqdn = TAKE_PTR(f);
        return 0;
}

/* ---- the provisioners' share ---- */

static bool group_exists(Context *c, const char *name) {
        GroupEntry e = {};
        int r = group_find_in_root(c->root_fd, name, &e);

        group_entry_done(&e);
        return r >= 0;
}

/* A name fit for useradd/groupadd (never an option). */
static bool account_name_ok(const char *n) {
        return user_name_is_valid(n);
}

static int create_group(Context *c, const char *name) {
        if (group_exists(c, name))
                return 0;
        return run_shadow_tool(c, "groupadd", (char *const[]){(char *) name, NULL}) ?: 1;
}

static int add_key_checked(ProvisionData *d, const char *key, char **s, const char *what) {
        _cleanup_free_ char *norm = NULL, *id = NULL;
        int r = ssh_key_normalize(key, &norm);

        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                note(s, "%s: %s, skipped", what,
                     r == -EPROTONOSUPPORT ? "unsupported key type"
                                           : "not a public key (options are not supported)");
                return 0;
        }
        if (ssh_key_identity(norm, &id) >= 0)
                for (size_t i = 0; i < d->n_ssh_keys; i++) {
                        _cleanup_free_ char *other = NULL;

                        if (ssh_key_identity(d->ssh_keys[i].key, &other) >= 0 && streq(id, other) &&
                            !d->ssh_keys[i].path)
                                return 0;
                }
        return provision_data_add_ssh_key(d, norm, NULL);
}

static bool user_is_admin(const UdUser *u, const char *admin) {
        return u->is_default || (admin && streq_ptr(u->name, admin));
}

int userdata_adjust_provision_data(Context *c, const UserDataConfig *cfg, ProvisionData *d,
                                   char **ret_summary) {
        _cleanup_free_ char *s = NULL;
        int r;

        /* hostname: cc_set_hostname (preserve_hostname leaves it alone) */
        if (cfg->preserve_hostname) {
                free(d->hostname);
                d->hostname = NULL;
                note(&s, "hostname preserved");
        } else if (cfg->hostname || cfg->fqdn) {
                _cleanup_free_ char *h = NULL, *f = NULL;
                bool prefer = cfg->prefer_fqdn_over_hostname > 0;
                const char *name;

                r = userdata_hostname_fqdn(cfg, d->hostname, &h, &f);
                if (r < 0)
                        return r;
                name = prefer ? f : h;
                if (!name || !hostname_is_valid_rfc1123(name) || (prefer && strlen(name) > 64))
                        note(&s, "hostname: not a valid host name, the VM's name is kept");
                else {
                        r = free_and_strdup(&d->hostname, name);
                        if (r < 0)
                                return r;
                        d->hostname_fqdn = prefer;
                        note(&s, "hostname from cloud-config");
                }
        }
        /* ssh_pwauth: cc_set_passwords; user data overrides the platform's DisableSshPasswordAuthentication */
        if (cfg->ssh_pwauth == UD_PWAUTH_YES || cfg->ssh_pwauth == UD_PWAUTH_NO) {
                d->disable_password_auth = cfg->ssh_pwauth == UD_PWAUTH_NO;
                note(&s, "ssh_pwauth %s", cfg->ssh_pwauth == UD_PWAUTH_YES ? "yes" : "no");
        }
        /* top-level ssh_authorized_keys and the "default" entry's keys belong to the administrator */
        for (size_t i = 0; cfg->ssh_authorized_keys && cfg->ssh_authorized_keys[i]; i++) {
                char what[64];

                snprintf(what, sizeof what, "ssh_authorized_keys.%zu", i);
                r = add_key_checked(d, cfg->ssh_authorized_keys[i], &s, what);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < cfg->n_users; i++) {
                const UdUser *u = &cfg->users[i];

                if (!user_is_admin(u, d->username))
                        continue;
                for (size_t k = 0; u->ssh_authorized_keys && u->ssh_authorized_keys[k]; k++) {
                        char what[64];

                        snprintf(what, sizeof what, "users.%s.ssh_authorized_keys.%zu", u->name ?: "default",
                                 k);
                        r = add_key_checked(d, u->ssh_authorized_keys[k], &s, what);
                        if (r < 0)
                                return r;
                }
                /* extra groups of the administrator: the user step adds it to [Provisioning] AdminGroups= */
                for (char **g = u->groups; g && *g; g++) {
                        if (!account_name_ok(*g)) {
                                note(&s, "default user: a group name is invalid, skipped");
                                continue;
                        }
                        if (!strv_contains(c->config.admin_groups, *g) &&
                            strv_extend(&c->config.admin_groups, *g) < 0)
                                return -ENOMEM;
                }
        }
        /* SSH host keys: when cloud-config says anything about them, cc_ssh's procedure replaces ours */
        if (cfg->n_ssh_keys > 0 || cfg->ssh_genkeytypes_set || cfg->ssh_deletekeys_set)
                d->keep_ssh_host_keys = true;
        return finish(ret_summary, &s, 0);
}

/* ---- write_files ---- */

/* owner "user[:group]" → uid/gid ((uid_t) -1 / (gid_t) -1 for "keep"); cloud-init's extract_usergroup. */
static int resolve_owner(Context *c, const char *owner, uid_t *ret_uid, gid_t *ret_gid) {
        _cleanup_free_ char *u = strndup(owner, strcspn(owner, ":")), *g = NULL;
        const char *colon = strchr(owner, ':');
        uid_t uid = (uid_t) -1;
        gid_t gid = (gid_t) -1;
        int r;

        if (!u)
                return -ENOMEM;
        if (colon && !(g = strdup(colon + 1)))
                return -ENOMEM;
        user_data_strip(u);
        if (g)
                user_data_strip(g);
        if (!isempty(u) && !streq(u, "-1") && strcasecmp(u, "none") != 0) {
                _cleanup_(passwd_entry_done) PasswdEntry pw = {};

                r = passwd_find_in_root(c->root_fd, u, &pw);
                if (r < 0)
                        return r == -ENOENT ? -ESRCH : r;
                uid = pw.uid;
        }
        if (!isempty(g) && !streq(g, "-1") && strcasecmp(g, "none") != 0) {
                GroupEntry ge = {};

                r = group_find_in_root(c->root_fd, g, &ge);
                gid = ge.gid;
                group_entry_done(&ge);
                if (r < 0)
                        return r == -ENOENT ? -ESRCH : r;
        }
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}

/* mkdir -p of path's parent; directories created get uid/gid (ensure_dir with user/group). */
static int make_parents(Context *c, const char *path, uid_t uid, gid_t gid) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;
        int r;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = 0;
        if (access_in_root(c->root_fd, dir) >= 0)
                return 0;
        r = make_parents(c, dir, uid, gid);
        if (r < 0)
                return r;
        r = mkdir_p_in_root(c->root_fd, dir, 0755);
        if (r < 0)
                return r;
        if (uid != (uid_t) -1 || gid != (gid_t) -1) {
                _cleanup_close_ int fd =
                        open_in_root(c->root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);

                if (fd >= 0)
                        (void) fchown(fd, uid, gid);
        }
        return 0;
}

static int write_one_file(Context *c, const UdWriteFile *f, const char **ret_why) {
        _cleanup_free_ char *existing = NULL, *merged = NULL, *fetched = NULL;
        const char *data = f->content;
        size_t size = f->size, esize = 0, fsize = 0;
        uid_t uid;
        gid_t gid;
        int r;

        r = resolve_owner(c, f->owner ?: "root:root", &uid, &gid);
        if (r < 0) {
                *ret_why = r == -ESRCH ? "unknown owner" : "cannot read the account databases";
                return r;
        }
        if (f->source_uri) {
                r = userdata_fetch_url(f->source_uri, false, c, &fetched, &fsize);
                if (r >= 0) {
                        data = fetched;
                        size = fsize;
                } else if (!f->content) {
                        *ret_why = "source could not be fetched and there is no content";
                        return r;
                }
        }
        r = make_parents(c, f->path, uid, gid);
        if (r < 0) {
                *ret_why = "cannot create its directory";
                return r;
        }
        if (f->append) {
                r = read_file_in_root(c->root_fd, f->path, FILE_APPEND_MAX, &existing, &esize);
                if (r < 0 && r != -ENOENT) {
                        *ret_why = "cannot read the file to append to";
                        return r;
                }
                merged = malloc(esize + size + 1);
                if (!merged)
                        return -ENOMEM;
                if (existing)
                        memcpy(merged, existing, esize);
                memcpy(merged + esize, data, size);
                data = merged;
                size += esize;
        }
        /* uid/gid -1: the creator's (root), as a new file gets from cloud-init's open() */
        r = write_file_atomic_in_root(c->root_fd, f->path, data, size, f->mode, uid == (uid_t) -1 ? 0 : uid,
                                      gid == (gid_t) -1 ? 0 : gid, 0);
        if (fetched)
                explicit_bzero(fetched, fsize);
        if (merged)
                explicit_bzero(merged, size);
        if (r < 0)
                *ret_why = "cannot write it";
        return r;
}

int userdata_write_files(Context *c, const UserDataConfig *cfg, bool deferred, char **ret_summary) {
        _cleanup_free_ char *s = NULL;
        unsigned written = 0, failed = 0;

        for (size_t i = 0; i < cfg->n_write_files; i++) {
                const UdWriteFile *f = &cfg->write_files[i];
                const char *why = NULL;
                int r;

                if (f->defer != deferred)
                        continue;
                r = write_one_file(c, f, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        failed++;
                        note(&s, "write_files.%zu: %s (%s)", i, strna(why), strerror(-r));
                        continue;
                }
                written++;
        }
        note(&s, "%u file(s) written%s", written, failed ? ", some failed" : "");
        return finish(ret_summary, &s, failed ? -EIO : (int) written);
}

/* ---- groups and users (cc_users_groups) ---- */

int userdata_groups(Context *c, const UserDataConfig *cfg, char **ret_summary) {
        _cleanup_free_ char *s = NULL;
        int changed = 0, failed = 0, r;

        for (size_t i = 0; i < cfg->n_groups; i++) {
                const UdGroup *g = &cfg->groups[i];

                if (!account_name_ok(g->name)) {
                        note(&s, "groups.%zu: invalid group name, skipped", i);
                        failed++;
                        continue;
                }
                r = create_group(c, g->name);
                if (r < 0) {
                        note(&s, "groups.%zu: groupadd failed", i);
                        failed++;
                        continue;
                }
                changed += r;
                for (char **m = g->members; m && *m; m++) {
                        _cleanup_(passwd_entry_done) PasswdEntry pw = {};
                        GroupEntry ge = {};
                        bool member;

                        if (!account_name_ok(*m) || passwd_find_in_root(c->root_fd, *m, &pw) < 0) {
                                note(&s, "groups.%zu: a member does not exist, skipped", i);
                                continue;
                        }
                        member = group_find_in_root(c->root_fd, g->name, &ge) >= 0 &&
                                 group_has_user(&ge, &pw);
                        group_entry_done(&ge);
                        if (member)
                                continue;
                        r = run_shadow_tool(
                                c, "usermod",
                                (char *const[]){(char *) "-a", (char *) "-G", g->name, *m, NULL});
                        if (r < 0) {
                                note(&s, "groups.%zu: usermod failed", i);
                                failed++;
                                continue;
                        }
                        changed++;
                }
        }
        note(&s, "%zu group(s)", cfg->n_groups);
        return finish(ret_summary, &s, failed ? -EIO : changed);
}

static int useradd(Context *c, const UdUser *u) {
        _cleanup_free_ char *groups = NULL, *uid = NULL;
        const char *args[40];
        size_t n = 0;

        /* cloud-init's add_user(): the options in the order of their keys */
        if (u->gecos) {
                args[n++] = "--comment";
                args[n++] = u->gecos;
        }
        if (u->expiredate) {
                args[n++] = "--expiredate";
                args[n++] = u->expiredate;
        }
        if (u->groups && u->groups[0]) {
                for (char **g = u->groups; *g; g++) {
                        char *j;

                        if (asprintf(&j, "%s%s%s", strempty(groups), groups ? "," : "", *g) < 0)
                                return -ENOMEM;
                        free(groups);
                        groups = j;
                }
                args[n++] = "--groups";
                args[n++] = groups;
        }
        if (u->homedir) {
                args[n++] = "--home";
                args[n++] = u->homedir;
        }
        if (u->inactive) {
                args[n++] = "--inactive";
                args[n++] = u->inactive;
        }
        if (u->primary_group) {
                args[n++] = "--gid";
                args[n++] = u->primary_group;
        }
        if (u->selinux_user) {
                args[n++] = "--selinux-user";
                args[n++] = u->selinux_user;
        }
        if (u->shell) {
                args[n++] = "--shell";
                args[n++] = u->shell;
        }
        if (u->uid_set) {
                if (asprintf(&uid, "%u", (unsigned) u->uid) < 0)
                        return -ENOMEM;
                args[n++] = "--uid";
                args[n++] = uid;
        }
        if (u->no_log_init)
                args[n++] = "--no-log-init";
        if (u->no_user_group)
                args[n++] = "--no-user-group";
        if (u->system)
                args[n++] = "--system";
        args[n++] = u->no_create_home || u->system ? "-M" : "-m";
        /* run chrooted into the root (run_shadow_tool()): its own /etc/skel is copied */
        args[n++] = u->name;
        args[n] = NULL;
        return run_shadow_tool(c, "useradd", (char *const *) args);
}

/* Values that end up on useradd's command line must not read as options or break /etc/passwd. */
static const char *user_invalid_field(const UdUser *u) {
        const char *const fields[] = {u->gecos,    u->homedir,      u->shell,        u->expiredate,
                                      u->inactive, u->selinux_user, u->primary_group};

        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (fields[i] && (fields[i][0] == '-' || strpbrk(fields[i], ":\n")))
                        return "a value starts with '-' or holds ':' or a line break";
        if (u->homedir && u->homedir[0] != '/')
                return "homedir is not an absolute path";
        for (char **g = u->groups; g && *g; g++)
                if (!account_name_ok(*g))
                        return "a group name is invalid";
        if (u->primary_group && !account_name_ok(u->primary_group))
                return "primary_group is invalid";
        return NULL;
}

static int user_password(Context *c, const UdUser *u, bool created, char **s, size_t idx) {
        _cleanup_erase_ char *hash = NULL;
        const char *h = NULL;
        bool specified = false;
        int r;

        if (u->plain_text_passwd_set && !isempty(u->plain_text_passwd)) {
                (void) log_add_secret(u->plain_text_passwd);
                r = user_hash_password(u->plain_text_passwd, &hash);
                if (r < 0)
                        return r;
                h = hash;
                specified = true;
        } else if (u->hashed_passwd_set && !isempty(u->hashed_passwd)) {
                h = u->hashed_passwd;
                specified = true;
        } else if (created && u->passwd_set && !isempty(u->passwd)) {
                h = u->passwd; /* useradd --password: only for a new account */
                specified = true;
        } else if (!created && u->passwd_set)
                note(s, "users.%zu: passwd is ignored for an existing user", idx);
        if (h) {
                r = set_password_hash(c, u->name, h);
                if (r ==
                    -EINVAL) /* not a complete $y$ or $6$ hash libxcrypt accepts (user_password_is_hash()) */
                        note(s,
                             "users.%zu: the password hash is not a complete yescrypt or SHA-512 crypt "
                             "hash; "
                             "not set",
                             idx);
                else if (r < 0)
                        return r;
        }
        if (u->lock_passwd)
                return run_shadow_tool(c, "usermod", (char *const[]){(char *) "-L", u->name, NULL});
        if (specified)
                return run_shadow_tool(c, "usermod", (char *const[]){(char *) "-U", u->name, NULL});
        return 0;
}

static int user_keys(Context *c, const UdUser *u, char **s, size_t idx) {
        ProvisionData tmp = {.username = u->name};
        int r = 0;

        for (size_t k = 0; u->ssh_authorized_keys && u->ssh_authorized_keys[k]; k++) {
                char what[64];

                snprintf(what, sizeof what, "users.%zu.ssh_authorized_keys.%zu", idx, k);
                r = add_key_checked(&tmp, u->ssh_authorized_keys[k], s, what);
                if (r < 0)
                        break;
        }
        if (r >= 0 && tmp.n_ssh_keys > 0)
                r = provisioner_ssh_keys.apply(c, &tmp, NULL);
        tmp.username = NULL;
        provision_data_done(&tmp);
        return r;
}

/* A run killed while staging leaves ".90-cloud-init-users.new" or write_file_atomic_in_root()'s
 * ".#.90-cloud-init-users.new<random>" behind: sudo ignores both (they hold a '.'), but nothing else would ever
 * remove them. Those names are only ever ours. */
static void sudoers_remove_stale(Context *c) {
        _cleanup_close_ int fd = open_in_root(c->root_fd, "/etc/sudoers.d", O_RDONLY | O_DIRECTORY, 0);
        DIR *d;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d)
                return;
        fd = -EBADF;
        for (struct dirent *de; (de = readdir(d));)
                if (streq(de->d_name, ".90-cloud-init-users.new") ||
                    startswith(de->d_name, ".#.90-cloud-init-users.new"))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

/* /etc/sudoers.d/90-cloud-init-users: "# User rules for <name>" and "<name> <rule>" per rule, 0440, checked
 * with visudo when it is there (cloud-init's write_sudo_rules, as one atomic write). */
static int write_sudoers(Context *c, const UserDataConfig *cfg, const char *admin, char **s) {
        _cleanup_free_ char *content = strdup("# Created by azl-agent from the cloud-config 'users' key\n"),
                            *current = NULL;
        bool any = false;
        int r;

        if (!content)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_users; i++) {
                const UdUser *u = &cfg->users[i];
                const char *name = u->is_default ? admin : u->name;
                char *n;

                if (!u->sudo || !name || !account_name_ok(name))
                        continue;
                if (asprintf(&n, "%s\n# User rules for %s\n", content, name) < 0)
                        return -ENOMEM;
                free(content);
                content = n;
                for (char **rule = u->sudo; *rule; rule++) {
                        if (strpbrk(*rule, "\n\r")) {
                                note(s, "users.%zu.sudo: a rule holds a line break, skipped", i);
                                continue;
                        }
                        if (asprintf(&n, "%s%s %s\n", content, name, *rule) < 0)
                                return -ENOMEM;
                        free(content);
                        content = n;
                        any = true;
                }
        }
        if (!any)
                return 0;
        sudoers_remove_stale(c);
        if (read_file_in_root(c->root_fd, UD_SUDOERS_FILE, 1024 * 1024, &current, NULL) >= 0 &&
            streq(current, content))
                return 0;
        r = mkdir_p_in_root(c->root_fd, "/etc/sudoers.d", 0750);
        if (r < 0)
                return r;
        /* staged under a name sudo ignores (it has a '.'), validated, then renamed into place */
        r = write_file_atomic_in_root(c->root_fd, "/etc/sudoers.d/.90-cloud-init-users.new", content,
                                      strlen(content), 0440, 0, 0, 0);
        if (r < 0)
                return r;
        if (have_tool_in_root(c, "visudo")) {
                r = run_tool_in_root(
                        c,
                        (char *const[]){(char *) "visudo", (char *) "-c", (char *) "-q", (char *) "-f",
                                        (char *) "/etc/sudoers.d/.90-cloud-init-users.new", NULL},
                        NULL);
                if (r != 0) {
                        (void) unlink_in_root(c->root_fd, "/etc/sudoers.d/.90-cloud-init-users.new");
                        note(s, "sudo: the rules do not pass visudo -c, not written");
                        return r < 0 ? r : -EINVAL;
                }
        }
        {
                _cleanup_free_ char *name = NULL;
                _cleanup_close_ int dir = open_parent_in_root(c->root_fd, UD_SUDOERS_FILE, false, &name);

                if (dir < 0)
                        return dir;
                r = RET_NERRNO(renameat(dir, ".90-cloud-init-users.new", dir, name));
                if (r < 0)
                        return r;
                (void) fsync(dir);
        }
        return 1;
}

int userdata_users(Context *c, const UserDataConfig *cfg, const char *admin, char **ret_summary) {
        _cleanup_free_ char *s = NULL;
        int changed = 0, failed = 0, r;

        for (size_t i = 0; i < cfg->n_users; i++) {
                const UdUser *u = &cfg->users[i];
                _cleanup_(passwd_entry_done) PasswdEntry pw = {};
                const char *bad;
                bool created = false;

                if (user_is_admin(u, admin)) {
                        /* the administrator is the user step's; its keys and groups went there */
                        if (u->shell || u->gecos || u->homedir || u->uid_set || u->primary_group)
                                note(&s,
                                     "users.%zu: shell/gecos/homedir/uid/primary_group of the administrator "
                                     "are not applied (the account comes from the VM's osProfile)",
                                     i);
                        continue;
                }
                if (!account_name_ok(u->name)) {
                        note(&s, "users.%zu: invalid user name, skipped", i);
                        failed++;
                        continue;
                }
                bad = user_invalid_field(u);
                if (bad) {
                        note(&s, "users.%zu: %s, skipped", i, bad);
                        failed++;
                        continue;
                }
                {
                        /* as the user step: a home or sudoers directory that leads out of the root changes nothing */
                        _cleanup_free_ char *why = NULL;

                        r = user_preflight(c, u->name, &why);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                note(&s, "users.%zu: %s, skipped", i, why ?: strerror(-r));
                                failed++;
                                continue;
                        }
                }
                r = passwd_find_in_root(c->root_fd, u->name, &pw);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r == -ENOENT) {
                        if (u->create_groups) {
                                for (char **g = u->groups; g && *g; g++)
                                        if (create_group(c, *g) < 0)
                                                note(&s, "users.%zu: groupadd failed", i);
                                if (u->primary_group && create_group(c, u->primary_group) < 0)
                                        note(&s, "users.%zu: groupadd failed", i);
                        }
                        r = useradd(c, u);
                        if (r < 0) {
                                note(&s, "users.%zu: useradd failed", i);
                                failed++;
                                continue;
                        }
                        created = true;
                        changed++;
                }
                r = user_password(c, u, created, &s, i);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        note(&s, "users.%zu: setting the password failed", i);
                        failed++;
                }
                r = user_keys(c, u, &s, i);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        note(&s, "users.%zu: installing the SSH keys failed", i);
                        failed++;
                }
        }
        r = write_sudoers(c, cfg, admin, &s);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                failed++;
        else
                changed += r;
        note(&s, "%zu user entr%s", cfg->n_users, cfg->n_users == 1 ? "y" : "ies");
        return finish(ret_summary, &s, failed ? -EIO : changed);
}

/* ---- SSH host keys (cc_ssh) ---- */

static int remove_host_keys(Context *c) {
        _cleanup_close_ int fd = open_in_root(c->root_fd, "/etc/ssh", O_RDONLY | O_DIRECTORY, 0);
        DIR *dir;

        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        dir = fdopendir(fd);
        if (!dir)
                return negative_errno();
        fd = -EBADF;
        for (struct dirent *de; (de = readdir(dir));)
                if (startswith(de->d_name, "ssh_host_") && strstr(de->d_name, "key"))
                        (void) unlinkat(dirfd(dir), de->d_name, 0);
        closedir(dir);
        return 0;
}

int userdata_ssh_host_keys(Context *c, const UserDataConfig *cfg, char **ret_summary) {
        static const char *const types[] = {"rsa", "ecdsa", "ed25519"};
        _cleanup_free_ char *s = NULL, *certs = NULL;
        int changed = 0, failed = 0, r;

        if (!(cfg->n_ssh_keys > 0 || cfg->ssh_genkeytypes_set || cfg->ssh_deletekeys_set))
                return finish(ret_summary, &s, 0);
        r = mkdir_p_in_root(c->root_fd, "/etc/ssh", 0755);
        if (r < 0)
                return r;
        if (cfg->ssh_deletekeys) {
                r = remove_host_keys(c);
                if (r < 0)
                        return r;
                changed++;
        }
        if (cfg->n_ssh_keys > 0) {
                for (size_t i = 0; i < cfg->n_ssh_keys; i++) {
                        const char *k = cfg->ssh_keys[i].key, *us = strchr(k, '_');
                        _cleanup_free_ char *type = strndup(k, (size_t) (us - k)), *path = NULL;
                        bool priv = endswith(k, "_private"), cert = endswith(k, "_certificate");

                        if (!type || asprintf(&path, "/etc/ssh/ssh_host_%s_key%s", type,
                                              priv   ? ""
                                              : cert ? "-cert.pub"
                                                     : ".pub") < 0)
                                return -ENOMEM;
                        r = write_file_atomic_in_root(c->root_fd, path, cfg->ssh_keys[i].value,
                                                      strlen(cfg->ssh_keys[i].value), priv ? 0600 : 0644, 0,
                                                      0, 0);
                        if (r < 0) {
                                note(&s, "ssh_keys.%s: cannot write", k);
                                failed++;
                                continue;
                        }
                        changed++;
                        if (cert) {
                                char *n;

                                if (asprintf(&n, "%sHostCertificate %s\n", strempty(certs), path) < 0)
                                        return -ENOMEM;
                                free(certs);
                                certs = n;
                        }
                }
                /* a private key without its public half: derive it (ssh-keygen -y) */
                for (size_t t = 0; t < ELEMENTSOF(types); t++) {
                        _cleanup_free_ char *priv = NULL, *pub = NULL, *out = NULL, *line = NULL;
                        bool have_priv = false, have_pub = false;

                        for (size_t i = 0; i < cfg->n_ssh_keys; i++) {
                                have_priv |= startswith(cfg->ssh_keys[i].key, types[t]) &&
                                             endswith(cfg->ssh_keys[i].key, "_private") &&
                                             strlen(cfg->ssh_keys[i].key) == strlen(types[t]) + 8;
                                have_pub |= startswith(cfg->ssh_keys[i].key, types[t]) &&
                                            endswith(cfg->ssh_keys[i].key, "_public") &&
                                            strlen(cfg->ssh_keys[i].key) == strlen(types[t]) + 7;
                        }
                        if (!have_priv || have_pub)
                                continue;
                        if (asprintf(&priv, "/etc/ssh/ssh_host_%s_key", types[t]) < 0 ||
                            asprintf(&pub, "/etc/ssh/ssh_host_%s_key.pub", types[t]) < 0)
                                return -ENOMEM;
                        r = run_tool_in_root(c,
                                             (char *const[]){(char *) "ssh-keygen", (char *) "-y",
                                                             (char *) "-f", priv, NULL},
                                             &out);
                        if (r != 0 || isempty(out)) {
                                note(&s, "ssh_keys: the %s public key could not be derived", types[t]);
                                failed++;
                                continue;
                        }
                        if (asprintf(&line, "%s root@localhost\n", out) < 0)
                                return -ENOMEM;
                        r = write_file_atomic_in_root(c->root_fd, pub, line, strlen(line), 0644, 0, 0, 0);
                        if (r < 0)
                                failed++;
                }
                if (certs) {
                        r = write_file_atomic_in_root(c->root_fd,
                                                      "/etc/ssh/sshd_config.d/49-azl-agent-hostcert.conf",
                                                      certs, strlen(certs), 0644, 0, 0, WRITE_MKDIR);
                        if (r < 0)
                                failed++;
                }
                note(&s, "%zu host key file(s) from ssh_keys", cfg->n_ssh_keys);
        } else {
                char *const *gen = cfg->ssh_genkeytypes_set ? cfg->ssh_genkeytypes : (char *const *) types;
                size_t n = cfg->ssh_genkeytypes_set ? strv_length(cfg->ssh_genkeytypes) : ELEMENTSOF(types);
                unsigned made = 0;

                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *path = NULL, *out = NULL;

                        if (!streq(gen[i], "rsa") && !streq(gen[i], "ecdsa") && !streq(gen[i], "ed25519"))
                                continue;
                        if (asprintf(&path, "/etc/ssh/ssh_host_%s_key", gen[i]) < 0)
                                return -ENOMEM;
                        if (access_in_root(c->root_fd, path) >= 0)
                                continue;
                        r = run_tool_in_root(c,
                                             (char *const[]){(char *) "ssh-keygen", (char *) "-q",
                                                             (char *) "-t", gen[i], (char *) "-N",
                                                             (char *) "", (char *) "-f", path, NULL},
                                             &out);
                        if (r != 0) {
                                note(&s, "ssh-keygen -t %s failed", gen[i]);
                                failed++;
                                continue;
                        }
                        made++;
                        changed++;
                }
                note(&s, "%u host key(s) generated", made);
        }
        return finish(ret_summary, &s, failed ? -EIO : changed);
}

/* ---- root's authorized_keys (cc_ssh apply_credentials with disable_root) ---- */

static char *replace_all(const char *s, const char *what, const char *with) {
        size_t n = 0, wl = strlen(what);
        char *out, *o;

        for (const char *p = strstr(s, what); p; p = strstr(p + wl, what))
                n++;
        out = malloc(strlen(s) + n * strlen(with) + 1);
        if (!out)
                return NULL;
        for (o = out; *s;) {
                if (startswith(s, what)) {
                        o = stpcpy(o, with);
                        s += wl;
                } else
                        *o++ = *s++;
        }
        *o = 0;
        return out;
}

int userdata_root_keys(Context *c, const UserDataConfig *cfg, const ProvisionData *d, char **ret_summary) {
        _cleanup_free_ char *s = NULL, *opts = NULL, *existing = NULL, *content = NULL;
        bool added = false;
        int r;

        if (d->n_ssh_keys == 0 || !d->username)
                return finish(ret_summary, &s, 0);
        if (cfg->disable_root) {
                _cleanup_free_ char *t = replace_all(cfg->disable_root_opts ?: DISABLE_ROOT_OPTS_DEFAULT,
                                                     "$USER", d->username);

                opts = t ? replace_all(t, "$DISABLE_USER", "root") : NULL;
                if (!opts)
                        return -ENOMEM;
                if (strpbrk(opts, "\n\r")) {
                        note(&s, "disable_root_opts holds a line break, not used");
                        return finish(ret_summary, &s, -EINVAL);
                }
        }
        r = read_file_in_root(c->root_fd, "/root/.ssh/authorized_keys", AUTHORIZED_KEYS_MAX, &existing,
                              NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        content = strdup(strempty(existing));
        if (!content)
                return -ENOMEM;
        if (!isempty(content) && !endswith(content, "\n")) {
                char *n;

                if (asprintf(&n, "%s\n", content) < 0)
                        return -ENOMEM;
                free(content);
                content = n;
        }
        for (size_t i = 0; i < d->n_ssh_keys; i++) {
                _cleanup_free_ char *line = NULL;
                char *n;

                if (asprintf(&line, "%s%s%s", strempty(opts), opts ? " " : "", d->ssh_keys[i].key) < 0)
                        return -ENOMEM;
                /* already there, the same line */
                {
                        _cleanup_free_ char *needle = NULL;

                        if (asprintf(&needle, "\n%s\n", line) < 0)
                                return -ENOMEM;
                        if (startswith(content, needle + 1) || strstr(content, needle))
                                continue;
                }
                if (asprintf(&n, "%s%s\n", content, line) < 0)
                        return -ENOMEM;
                free(content);
                content = n;
                added = true;
        }
        if (added) {
                r = mkdir_p_in_root(c->root_fd, "/root/.ssh", 0700);
                if (r < 0)
                        return r;
                r = write_file_atomic_in_root(c->root_fd, "/root/.ssh/authorized_keys", content,
                                              strlen(content), 0600, 0, 0, 0);
                if (r < 0)
                        return r;
        }
        note(&s, "root's authorized_keys %s (%s)", added ? "updated" : "unchanged",
             cfg->disable_root ? "disable_root: logins redirected to the administrator"
                               : "disable_root: false");
        return finish(ret_summary, &s, added);
}

/* ---- timezone (cc_timezone: /etc/localtime → zoneinfo, as timedatectl does) ---- */

int userdata_timezone(Context *c, const UserDataConfig *cfg, char **ret_summary) {
        _cleanup_free_ char *s = NULL, *zone = NULL, *target = NULL, *name = NULL, *current = NULL;
        _cleanup_close_ int dir = -EBADF;
        char link[PATH_MAX];
        ssize_t l;
        int r;

        if (!cfg->timezone)
                return finish(ret_summary, &s, 0);
        if (isempty(cfg->timezone) || cfg->timezone[0] == '/' || strstr(cfg->timezone, "..") ||
            strspn(cfg->timezone, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/") !=
                    strlen(cfg->timezone)) {
                note(&s, "timezone: not a time zone name");
                return finish(ret_summary, &s, -EINVAL);
        }
        if (asprintf(&zone, "/usr/share/zoneinfo/%s", cfg->timezone) < 0 ||
            asprintf(&target, "../usr/share/zoneinfo/%s", cfg->timezone) < 0)
                return -ENOMEM;
        if (access_in_root(c->root_fd, zone) < 0) {
                note(&s, "timezone: unknown time zone (no %s)", zone);
                return finish(ret_summary, &s, -ENOENT);
        }
        dir = open_parent_in_root(c->root_fd, "/etc/localtime", true, &name);
        if (dir < 0)
                return dir;
        l = readlinkat(dir, name, link, sizeof link - 1);
        if (l > 0) {
                link[l] = 0;
                if (streq(link, target) || (endswith(link, zone) && link[0] == '/' && streq(link, zone)))
                        return finish(ret_summary, &s, 0);
        }
        (void) unlinkat(dir, ".#localtime.new", 0);
        if (symlinkat(target, dir, ".#localtime.new") < 0)
                return negative_errno();
        if (renameat(dir, ".#localtime.new", dir, name) < 0) {
                r = negative_errno();
                (void) unlinkat(dir, ".#localtime.new", 0);
                return r;
        }
        /* Debian keeps the name in /etc/timezone too */
        if (read_file_in_root(c->root_fd, "/etc/timezone", 4096, &current, NULL) >= 0) {
                _cleanup_free_ char *line = NULL;

                if (asprintf(&line, "%s\n", cfg->timezone) < 0)
                        return -ENOMEM;
                (void) write_string_file_atomic_in_root(c->root_fd, "/etc/timezone", line, 0644, 0);
        }
        note(&s, "time zone set");
        return finish(ret_summary, &s, 1);
}

/* ---- /etc/hosts (cc_update_etc_hosts) ---- */

static int hosts_template(UdOsFamily os, const char *fqdn, const char *hostname, char **ret) {
        const char *header =
                "# Written by azl-agent because the cloud-config has 'manage_etc_hosts: true'.\n"
                "# Changes to this file are kept until the VM is provisioned as a new instance.\n";

        if (os == UD_OS_DEBIAN)
                return asprintf(ret,
                                "%s127.0.1.1 %s %s\n127.0.0.1 localhost\n\n"
                                "# The following lines are desirable for IPv6 capable hosts\n"
                                "::1 localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\n"
                                "ff02::2 ip6-allrouters\n",
                                header, fqdn, hostname) < 0
                               ? -ENOMEM
                               : 0;
        return asprintf(ret,
                        "%s# The following lines are desirable for IPv4 capable hosts\n"
                        "127.0.0.1 %s %s\n127.0.0.1 localhost.localdomain localhost\n"
                        "127.0.0.1 localhost4.localdomain4 localhost4\n\n"
                        "# The following lines are desirable for IPv6 capable hosts\n"
                        "::1 %s %s\n::1 localhost.localdomain localhost\n::1 localhost6.localdomain6 "
                        "localhost6\n",
                        header, fqdn, hostname, fqdn, hostname) < 0
                       ? -ENOMEM
                       : 0;
}

/* manage_etc_hosts: localhost — the local address line holds "fqdn hostname" (distro update_etc_hosts). */
static int hosts_localhost(const char *current, const char *ip, const char *fqdn, const char *hostname,
                           char **ret) {
        _cleanup_free_ char *out = strdup(""), *want = NULL;
        _cleanup_free_ char *copy = strdup(strempty(current));
        char *save = NULL;
        bool found_exact = false;

        if (!out || !copy || asprintf(&want, "%s %s %s", ip, fqdn, hostname) < 0)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                _cleanup_strv_free_ char **w = NULL;
                char *n;

                if (strv_split(line, " \t", &w) < 0)
                        return -ENOMEM;
                if (w && w[0] && w[0][0] != '#' && streq(w[0], ip)) {
                        if (w[1] && w[2] && streq(w[1], fqdn) && streq(w[2], hostname))
                                found_exact = true;
                        else
                                continue; /* replaced below */
                }
                if (asprintf(&n, "%s%s\n", out, line) < 0)
                        return -ENOMEM;
                free(out);
                out = n;
        }
        if (found_exact)
                return 0;
        {
                char *n;

                if (asprintf(&n, "%s%s\n", out, want) < 0)
                        return -ENOMEM;
                free(out);
                out = n;
        }
        *ret = TAKE_PTR(out);
        return 1;
}

int userdata_etc_hosts(Context *c, const UserDataConfig *cfg, const char *fallback_hostname,
                       char **ret_summary) {
        _cleanup_free_ char *s = NULL, *h = NULL, *f = NULL, *content = NULL, *current = NULL;
        UdOsFamily os;
        int r;

        if (cfg->manage_etc_hosts != UD_HOSTS_TEMPLATE && cfg->manage_etc_hosts != UD_HOSTS_LOCALHOST)
                return finish(ret_summary, &s, 0);
        r = userdata_hostname_fqdn(cfg, fallback_hostname, &h, &f);
        if (r < 0)
                return r;
        if (!h || !hostname_is_valid_rfc1123(h) || !hostname_is_valid_rfc1123(f)) {
                note(&s, "manage_etc_hosts: no valid hostname");
                return finish(ret_summary, &s, -EINVAL);
        }
        os = userdata_os_family(c->root_fd);
        r = read_file_in_root(c->root_fd, "/etc/hosts", 1024 * 1024, &current, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        if (cfg->manage_etc_hosts == UD_HOSTS_TEMPLATE)
                r = hosts_template(os, f, h, &content);
        else {
                r = hosts_localhost(current, os == UD_OS_DEBIAN ? "127.0.1.1" : "127.0.0.1", f, h, &content);
                if (r == 0)
                        return finish(ret_summary, &s, 0);
        }
        if (r < 0)
                return r;
        if (streq_ptr(current, content))
                return finish(ret_summary, &s, 0);
        r = write_string_file_atomic_in_root(c->root_fd, "/etc/hosts", content, 0644, WRITE_MKDIR);
        if (r < 0)
                return r;
        note(&s, "/etc/hosts %s",
             cfg->manage_etc_hosts == UD_HOSTS_TEMPLATE ? "written" : "localhost line updated");
        return finish(ret_summary, &s, 1);
}

/* ---- CA certificates (cc_ca_certs) ---- */

int userdata_ca_certs(Context *c, const UserDataConfig *cfg, char **ret_summary) {
        _cleanup_free_ char *s = NULL;
        UdOsFamily os = userdata_os_family(c->root_fd);
        const char *dir = os == UD_OS_DEBIAN ? "/usr/local/share/ca-certificates"
                                             : "/usr/share/pki/ca-trust-source/anchors";
        const char *tool = os == UD_OS_DEBIAN ? "update-ca-certificates" : "update-ca-trust";
        size_t i = 0;
        int r;

        if (cfg->ca_certs_remove_defaults)
                note(&s, "ca_certs.remove_defaults is not supported: the distribution's CAs stay trusted");
        for (char **cert = cfg->ca_certs_trusted; cert && *cert; cert++) {
                _cleanup_free_ char *path = NULL, *content = NULL;

                i++;
                if (!strstr(*cert, "-----BEGIN CERTIFICATE-----")) {
                        note(&s, "ca_certs.trusted.%zu: not a PEM certificate, skipped", i - 1);
                        continue;
                }
                if (asprintf(&path, "%s/cloud-init-ca-cert-%zu.crt", dir, i) < 0 ||
                    asprintf(&content, "%s%s", *cert, endswith(*cert, "\n") ? "" : "\n") < 0)
                        return -ENOMEM;
                r = write_file_atomic_in_root(c->root_fd, path, content, strlen(content), 0644, 0, 0,
                                              WRITE_MKDIR);
                if (r < 0)
                        return r;
        }
        if (i == 0)
                return finish(ret_summary, &s, 0);
        if (!c->root || streq(c->root, "/")) {
                r = spawn_and_wait((char *const[]){(char *) tool, NULL}, NULL);
                if (r != 0)
                        note(&s, "%s failed", tool);
        } else
                note(&s, "%s not run (alternate root)", tool);
        note(&s, "%zu CA certificate(s) added", i);
        return finish(ret_summary, &s, 1);
}

/* ---- yum repositories (cc_yum_add_repo) ---- */

int userdata_yum_repos(Context *c, const UserDataConfig *cfg, char **ret_summary) {
        _cleanup_free_ char *s = NULL;
        const char *base = cfg->yum_repo_dir ?: "/etc/yum.repos.d";
        int changed = 0, r;

        for (size_t i = 0; i < cfg->n_yum_repos; i++) {
                const UdRepo *repo = &cfg->yum_repos[i];
                _cleanup_free_ char *path = NULL, *content = NULL;

                if (asprintf(&path, "%s/%s.repo", base, repo->id) < 0 ||
                    asprintf(&content,
                             "# Created by azl-agent from the cloud-config 'yum_repos' key\n[%s]\n",
                             repo->id) < 0)
                        return -ENOMEM;
                if (access_in_root(c->root_fd, path) >= 0) {
                        note(&s, "yum_repos.%zu: the file already exists, skipped", i);
                        continue;
                }
                for (size_t j = 0; j < repo->n_options; j++) {
                        _cleanup_free_ char *v = replace_all(repo->options[j].value, "\n", "\n\t");
                        char *n;

                        if (!v || asprintf(&n, "%s%s = %s\n", content, repo->options[j].key, v) < 0)
                                return -ENOMEM;
                        free(content);
                        content = n;
                }
                {
                        char *n;

                        if (asprintf(&n, "%s\n", content) < 0)
                                return -ENOMEM;
                        free(content);
                        content = n;
                }
                r = write_file_atomic_in_root(c->root_fd, path, content, strlen(content), 0644, 0, 0,
                                              WRITE_MKDIR);
                if (r < 0)
                        return r;
                changed++;
        }
        note(&s, "%d repositor%s written", changed, changed == 1 ? "y" : "ies");
        return finish(ret_summary, &s, changed);
}

/* ---- mounts and swap (cc_mounts) ---- */

#define MNT_COMMENT "comment=cloudconfig"

static bool spec_is_resource_disk(const char *spec) {
        return streq(spec, "ephemeral0") || streq(spec, "ephemeral") || streq(spec, "swap");
}

static int make_swapfile(Context *c, const char *file, uint64_t size, char **s) {
        _cleanup_free_ char *out = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (access_in_root(c->root_fd, file) >= 0)
                return 0;
        fd = open_in_root(c->root_fd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        if (fd < 0)
                return fd;
        if (fallocate(fd, 0, 0, (off_t) size) < 0) {
                r = negative_errno();
                (void) unlink_in_root(c->root_fd, file);
                return r;
        }
        closep(&fd);
        fd = -EBADF;
        r = run_tool_in_root(c, (char *const[]){(char *) "mkswap", (char *) file, NULL}, &out);
        if (r != 0) {
                (void) unlink_in_root(c->root_fd, file);
                note(s, "swap: mkswap failed");
                return -EIO;
        }
        if (!c->root || streq(c->root, "/"))
                (void) spawn_and_wait((char *const[]){(char *) "swapon", (char *) file, NULL}, NULL);
        return 1;
}

int userdata_mounts(Context *c, const UserDataConfig *cfg, char **ret_summary) {
        _cleanup_free_ char *s = NULL, *fstab = NULL, *out = strdup(""), *copy = NULL;
        const char *defaults[6] = {NULL,   NULL,
                                   "auto", "defaults,nofail,x-systemd.after=azl-provision.service,_netdev",
                                   "0",    "2"};
        unsigned added = 0;
        char *save = NULL;
        bool swap = cfg->swap_filename || cfg->swap_size > 0;
        int r;

        if (!out)
                return -ENOMEM;
        if (!cfg->mounts_set && !swap)
                return finish(ret_summary, &s, 0);
        for (size_t k = 0; k < 6; k++)
                if (cfg->mount_default_fields[k])
                        defaults[k] = cfg->mount_default_fields[k];
        r = read_file_in_root(c->root_fd, "/etc/fstab", 1024 * 1024, &fstab, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        /* our earlier lines are regenerated; the others are kept as they are, except those a mount removes */
        copy = strdup(strempty(fstab));
        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                bool drop = strstr(line, MNT_COMMENT);
                char *n;

                for (size_t i = 0; !drop && i < cfg->n_mounts; i++) {
                        const UdMount *m = &cfg->mounts[i];
                        size_t sl = m->fields[0] ? strlen(m->fields[0]) : 0;

                        /* [dev] or [dev, null]: remove dev's existing entry */
                        if (m->fields[0] &&
                            (m->n_fields < 2 || !m->fields[1] || streq(m->fields[1], "none")) &&
                            strncmp(line, m->fields[0], sl) == 0 && (line[sl] == ' ' || line[sl] == '\t'))
                                drop = true;
                }
                if (drop)
                        continue;
                if (asprintf(&n, "%s%s\n", out, line) < 0)
                        return -ENOMEM;
                free(out);
                out = n;
        }
        for (size_t i = 0; i < cfg->n_mounts; i++) {
                const UdMount *m = &cfg->mounts[i];
                const char *f[6];
                char *n;

                if (!m->fields[0] || m->n_fields < 2 || !m->fields[1] || streq(m->fields[1], "none"))
                        continue;
                if (spec_is_resource_disk(m->fields[0])) {
                        note(&s, "mounts.%zu: the resource disk is set up by [Disks], skipped", i);
                        continue;
                }
                if (m->fields[0][0] == '/' && access_in_root(c->root_fd, m->fields[0]) < 0) {
                        note(&s, "mounts.%zu: the device does not exist, skipped", i);
                        continue;
                }
                if (m->fields[1][0] != '/') {
                        note(&s, "mounts.%zu: the mount point is not an absolute path, skipped", i);
                        continue;
                }
                for (size_t k = 0; k < 6; k++)
                        f[k] = k < m->n_fields && m->fields[k] ? m->fields[k] : defaults[k] ?: "0";
                if (asprintf(&n, "%s%s\t%s\t%s\t%s,%s\t%s\t%s\n", out, f[0], f[1], f[2], f[3], MNT_COMMENT,
                             f[4], f[5]) < 0)
                        return -ENOMEM;
                free(out);
                out = n;
                (void) mkdir_p_in_root(c->root_fd, f[1], 0755);
                added++;
        }
        if (swap && cfg->swap_size > 0) {
                const char *file = cfg->swap_filename ?: "/swap.img";
                char *n;

                r = make_swapfile(c, file, cfg->swap_size, &s);
                if (r < 0)
                        note(&s, "swap: the swap file could not be made");
                else {
                        if (asprintf(&n, "%s%s\tnone\tswap\tsw,%s\t0\t0\n", out, file, MNT_COMMENT) < 0)
                                return -ENOMEM;
                        free(out);
                        out = n;
                        added++;
                }
        } else if (cfg->swap_size_auto)
                note(&s, "swap: size 'auto' is not supported");
        if (!streq(out, strempty(fstab))) {
                r = write_string_file_atomic_in_root(c->root_fd, "/etc/fstab", out, 0644, WRITE_MKDIR);
                if (r < 0)
                        return r;
                if (!c->root || streq(c->root, "/")) {
                        (void) spawn_and_wait(
                                (char *const[]){(char *) "systemctl", (char *) "daemon-reload", NULL}, NULL);
                        (void) spawn_and_wait((char *const[]){(char *) "mount", (char *) "-a", NULL}, NULL);
                }
        }
        note(&s, "%u fstab entr%s", added, added == 1 ? "y" : "ies");
        return finish(ret_summary, &s, (int) added);
}

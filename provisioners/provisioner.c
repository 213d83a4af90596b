/* SPDX-License-Identifier: MIT */
/*
 * ProvisionData's lifetime, and what the steps share for acting on the target: running its tools and
 * explaining a path that does not resolve. (The order the Provisioners run in is agent/provision.c's step
 * table.)
 *
 * On an alternate root (--root) every external tool runs chrooted into it (docs/security.md, "--root
 * confinement"): useradd --prefix, ssh-keygen -f and visudo -f on host paths would follow the root's absolute
 * symlinks (home -> /srv/home) out to the host's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "provisioner.h"
#include "spawn-util.h"
#include "strutil.h"

#define TOOL_ERROR_OUTPUT_MAX 400U

void provision_data_done(ProvisionData *d) {
        free(d->vm_id);
        free(d->hostname);
        free(d->username);
        erase_and_free(d->password);
        for (size_t i = 0; i < d->n_ssh_keys; i++) {
                free(d->ssh_keys[i].key);
                free(d->ssh_keys[i].path);
        }
        free(d->ssh_keys);
        free(d->custom_data);
        *d = (ProvisionData){};
}

int provision_data_add_ssh_key(ProvisionData *d, const char *key, const char *path) {
        ProvisionSshKey *a;
        char *k = NULL, *p = NULL;

        if (!key)
                return -EINVAL;
        k = strdup(key);
        if (!k || (path && !(p = strdup(path)))) {
                free(k);
                return -ENOMEM;
        }
        a = reallocarray(d->ssh_keys, d->n_ssh_keys + 1, sizeof *a);
        if (!a) {
                free(k);
                free(p);
                return -ENOMEM;
        }
        d->ssh_keys = a;
        a[d->n_ssh_keys++] = (ProvisionSshKey){.key = k, .path = p};
        return 0;
}

bool provisioner_alt_root(const Context *c) {
        return c->root && !streq(c->root, "/");
}

/* The tool's output on one line ("a; b"), cut at TOOL_ERROR_OUTPUT_MAX bytes. */
static char *one_line(const char *output) {
        size_t n = 0, len = strlen(strempty(output));
        char *s = malloc(MIN(len, (size_t) TOOL_ERROR_OUTPUT_MAX) * 2 + 8);

        if (!s)
                return NULL;
        for (const char *p = strempty(output); *p && n < TOOL_ERROR_OUTPUT_MAX; p++) {
                if (*p == '\n') {
                        if (n > 0 && s[n - 1] != ' ')
                                n += (size_t) sprintf(s + n, "; ");
                        continue;
                }
                s[n++] = (*p == '\r' || *p == '\t') ? ' ' : *p;
        }
        if (len > TOOL_ERROR_OUTPUT_MAX)
                n += (size_t) sprintf(s + n, "…");
        s[n] = 0;
        return s;
}

int provisioner_run_tool(Context *c, char *const *argv, const void *input, size_t input_size,
                         char **ret_error) {
        _cleanup_free_ char *output = NULL, *line = NULL;
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        bool alt = provisioner_alt_root(c);
        int r;

        if (!argv || !argv[0])
                return -EINVAL;
        if (alt)
                o.root_fd = c->root_fd;
        o.input = input;
        o.input_size = input_size;
        r = spawn_and_wait_opts(argv, &o, &output);
        if (r == 0)
                return 0;
        if (r == -ENOENT || r == -EACCES) {
                if (ret_error && alt &&
                    asprintf(ret_error,
                             "%s is not installed in the target root %s (its tools run chrooted into "
                             "it; the host's are never used on its files)",
                             argv[0], c->root) < 0)
                        return -ENOMEM;
                if (ret_error && !alt && asprintf(ret_error, "%s is not installed", argv[0]) < 0)
                        return -ENOMEM;
                return -ENOENT;
        }
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "%s could not be run: %s", argv[0], strerror(-r)) < 0)
                        return -ENOMEM;
                return r;
        }
        line = one_line(output);
        if (!line)
                return -ENOMEM;
        if (ret_error &&
            asprintf(ret_error, "%s%s failed with exit status %d%s%s", argv[0],
                     alt ? " (chrooted into the target root)" : "", r, *line ? ": " : "", line) < 0)
                return -ENOMEM;
        return -EIO;
}

/* The first component of path (from the top) that is a symlink, and its target. 0 when there is none. */
static int first_symlink(int root_fd, const char *path, char **ret_prefix, char **ret_target) {
        _cleanup_free_ char *copy = strdup(path), *prefix = strdup("");
        char *save = NULL;

        if (!copy || !prefix)
                return -ENOMEM;
        for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
                _cleanup_free_ char *name = NULL, *next = NULL;
                _cleanup_close_ int dir_fd = -EBADF;
                char target[PATH_MAX];
                ssize_t n;

                if (asprintf(&next, "%s/%s", prefix, comp) < 0)
                        return -ENOMEM;
                free(prefix);
                prefix = TAKE_PTR(next);
                dir_fd = open_parent_in_root(root_fd, prefix, false, &name);
                if (dir_fd < 0)
                        return 0;
                n = readlinkat(dir_fd, name, target, sizeof target - 1);
                if (n < 0)
                        continue;
                target[n] = 0;
                *ret_target = strdup(target);
                if (!*ret_target)
                        return -ENOMEM;
                *ret_prefix = TAKE_PTR(prefix);
                return 1;
        }
        return 0;
}

int provisioner_path_error(Context *c, const char *path, int error, char **ret) {
        _cleanup_free_ char *link = NULL, *target = NULL;
        int r;

        r = first_symlink(c->root_fd, path, &link, &target);
        if (r < 0)
                return r;
        if (r == 0 || !provisioner_alt_root(c))
                r = asprintf(ret, "%s: %s%s%s%s", path, strerror(-error), r > 0 ? " (" : "",
                             r > 0 ? link : "", r > 0 ? " is a symlink)" : "");
        else
                r = asprintf(ret,
                             "%s: %s (%s is a symlink to '%s', which is resolved inside the target root %s)",
                             path, strerror(-error), link, target, c->root);
        return r < 0 ? -ENOMEM : 0;
}

int provisioner_check_dir(Context *c, const char *path, bool missing_ok, char **ret_error) {
        _cleanup_close_ int fd = open_in_root(c->root_fd, path, O_PATH | O_DIRECTORY, 0);

        if (fd >= 0)
                return 0;
        if (fd == -ENOENT && missing_ok) {
                _cleanup_free_ char *link = NULL, *target = NULL;
                int r = first_symlink(c->root_fd, path, &link, &target);

                if (r <= 0)
                        return r;
        }
        if (ret_error && provisioner_path_error(c, path, fd, ret_error) < 0)
                return -ENOMEM;
        return fd;
}

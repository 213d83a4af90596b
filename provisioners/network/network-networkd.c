/* SPDX-License-Identifier: MIT */
/*
 * The networkd backend: writes the rendered files under the root fd (only when their contents differ, each
 * atomically), removes files of ours that the new configuration no longer has, and asks a running
 * systemd-networkd to reload (org.freedesktop.network1.Manager.Reload) when something changed. Files live in
 * /run: IMDS is the source of truth and is consulted at every boot, so nothing stale survives a reboot.
 * The reload is skipped when --root is an alternate root (the files are for an image, not for this system)
 * and when there is no system bus (early boot, containers); the result says which.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "fileio.h"
#include "macro.h"
#include "network-internal.h"
#include "network.h"
#include "string-table.h"
#include "strutil.h"

#define NETWORK_FILE_MAX (64U * 1024U)

static const char *const network_reload_table[_NETWORK_RELOAD_MAX] = {
        [NETWORK_RELOAD_NOT_NEEDED] = "not-needed",
        [NETWORK_RELOAD_DONE] = "done",
        [NETWORK_RELOAD_SKIPPED_ROOT] = "skipped-alternate-root",
        [NETWORK_RELOAD_SKIPPED_NO_BUS] = "skipped-no-bus",
        [NETWORK_RELOAD_FAILED] = "failed",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(network_reload, NetworkReload);

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* Returns 1 when written, 0 when the file already had these contents. */
static int write_if_changed(int root_fd, const char *path, const char *contents) {
        _cleanup_free_ char *old = NULL;
        size_t size = 0;
        int r;

        r = read_file_in_root(root_fd, path, NETWORK_FILE_MAX, &old, &size);
        if (r >= 0 && size == strlen(contents) && memcmp(old, contents, size) == 0)
                return 0;
        r = write_string_file_atomic_in_root(root_fd, path, contents, 0644, WRITE_MKDIR | WRITE_SYNC);
        return r < 0 ? r : 1;
}

bool networkd_file_is_ours(const char *name) {
        return (startswith(name, "10-azl-") || startswith(name, "05-azl-vf-")) && endswith(name, ".network");
}

static bool in_set(const NetworkFile *files, size_t n, const char *dir, const char *name) {
        size_t dl = strlen(dir);

        for (size_t i = 0; i < n; i++)
                if (strncmp(files[i].path, dir, dl) == 0 && files[i].path[dl] == '/' &&
                    streq(files[i].path + dl + 1, name))
                        return true;
        return false;
}

/* Removes our .network files that are not in files; returns the number removed. */
static int remove_stale(int root_fd, const NetworkFile *files, size_t n) {
        _cleanup_(closedirp) DIR *d = NULL;
        unsigned removed = 0;
        int fd;

        fd = open_in_root(root_fd, NETWORKD_DIR, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;

                (void) close(fd);
                return r;
        }
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                if (!networkd_file_is_ours(de->d_name) || in_set(files, n, NETWORKD_DIR, de->d_name))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                removed++;
        }
        if (errno != 0)
                return -errno;
        return (int) removed;
}

static int remove_udev_rules_if_unused(int root_fd, const NetworkFile *files, size_t n) {
        int r;

        for (size_t i = 0; i < n; i++)
                if (streq(files[i].path, NETWORK_UDEV_RULES))
                        return 0;
        r = unlink_in_root(root_fd, NETWORK_UDEV_RULES);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : 1;
}

#define NETWORKD_RELOAD_TIMEOUT (5U * USEC_PER_SEC)

static int networkd_reload(int *ret_error) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                *ret_error = r;
                return NETWORK_RELOAD_SKIPPED_NO_BUS;
        }
        /* The daemon calls this from its event loop: a hung networkd must not stall it for sd-bus's 25 s. */
        (void) sd_bus_set_method_call_timeout(bus, NETWORKD_RELOAD_TIMEOUT);
        r = sd_bus_call_method(bus, "org.freedesktop.network1", "/org/freedesktop/network1",
                               "org.freedesktop.network1.Manager", "Reload", &error, NULL, NULL);
        if (r < 0) {
                *ret_error = r;
                return NETWORK_RELOAD_FAILED;
        }
        *ret_error = 0;
        return NETWORK_RELOAD_DONE;
}

int network_apply_networkd(Context *c, const NetworkConfig *config, NetworkApplyResult *ret) {
        NetworkApplyResult result = {.backend = NETWORK_BACKEND_NETWORKD};
        NetworkFile *files = NULL;
        size_t n = 0;
        int r;

        r = network_render_networkd(config, &files, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = write_if_changed(c->root_fd, files[i].path, files[i].contents);
                if (r < 0)
                        goto finish;
                result.n_changes += (unsigned) r;
        }
        r = remove_stale(c->root_fd, files, n);
        if (r < 0)
                goto finish;
        result.n_changes += (unsigned) r;
        r = remove_udev_rules_if_unused(c->root_fd, files, n);
        if (r < 0)
                goto finish;
        result.n_changes += (unsigned) r;
        result.n_configured = (unsigned) config->n_interfaces;

        if (result.n_changes == 0)
                result.reload = NETWORK_RELOAD_NOT_NEEDED;
        else if (!isempty(c->root) && !streq(c->root, "/"))
                result.reload = NETWORK_RELOAD_SKIPPED_ROOT;
        else
                result.reload = networkd_reload(&result.reload_error);
        r = result.n_changes > 0;
        if (ret)
                *ret = result;
finish:
        network_files_free(files, n);
        return r;
}

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
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "fileio.h"
#include "macro.h"
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

static bool is_ours(const char *name) {
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
                if (!is_ours(de->d_name) || in_set(files, n, NETWORKD_DIR, de->d_name))
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

/* networkd's state of a link (/run/systemd/netif/links/<ifindex>, KEY=value lines: what networkctl and
 * sd-network read): its .network file, ADMIN_STATE (pending, initialized, configuring, configured, unmanaged,
 * failed, linger) and IPV4_ADDRESS_STATE (off, degraded, routable). */
#define NETIF_LINKS_DIR "/run/systemd/netif/links"

typedef struct LinkState {
        char *network_file, *admin, *ipv4;
} LinkState;

static void link_state_done(LinkState *s) {
        free(s->network_file);
        free(s->admin);
        free(s->ipv4);
}

static int link_state_read(unsigned ifindex, LinkState *ret) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *line, *save = NULL;
        int r;

        if (asprintf(&path, NETIF_LINKS_DIR "/%u", ifindex) < 0)
                return -ENOMEM;
        /* the running system's runtime state, not a file of the (possibly alternate) root */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        r = read_full_fd(fd, NETWORK_FILE_MAX, &data, NULL);
        if (r < 0)
                return r;
        for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char **dst = startswith(line, "NETWORK_FILE=")         ? &ret->network_file
                             : startswith(line, "ADMIN_STATE=")        ? &ret->admin
                             : startswith(line, "IPV4_ADDRESS_STATE=") ? &ret->ipv4
                                                                       : NULL;

                if (dst && !*dst && !(*dst = strdup(strchr(line, '=') + 1)))
                        return -ENOMEM;
        }
        return 0;
}

/* 1 when at least one link is configured with one of our files and each of those either has a routable IPv4
 * address again (the WireServer and IMDS are IPv4; IPv6 link-local and router advertisements may take seconds
 * more) or is done configuring (configured, failed, unmanaged); 0 otherwise. */
static int our_links_configured(void) {
        struct if_nameindex *links = if_nameindex();
        unsigned ours = 0, pending = 0;

        if (!links)
                return negative_errno();
        for (struct if_nameindex *i = links; i->if_index != 0; i++) {
                _cleanup_(link_state_done) LinkState st = {};
                const char *name;

                if (link_state_read(i->if_index, &st) < 0 || !st.network_file ||
                    !startswith(st.network_file, NETWORKD_DIR "/"))
                        continue;
                name = strrchr(st.network_file, '/') + 1;
                if (!is_ours(name))
                        continue;
                ours++;
                if (!streq_ptr(st.ipv4, "routable") &&
                    !(streq_ptr(st.admin, "configured") || streq_ptr(st.admin, "failed") ||
                      streq_ptr(st.admin, "unmanaged") || streq_ptr(st.admin, "linger")))
                        pending++;
        }
        if_freenameindex(links);
        return ours > 0 && pending == 0;
}

int network_wait_networkd_configured(usec_t timeout, usec_t *ret_waited) {
        _cleanup_close_ int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        usec_t start = now_usec(CLOCK_MONOTONIC), end = start + timeout;
        int r;

        /* networkd replaces the files (rename): IN_MOVED_TO; without inotify, every 100 ms */
        if (fd >= 0 && inotify_add_watch(fd, NETIF_LINKS_DIR, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
                (void) close(fd);
                fd = -EBADF;
        }
        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                char buf[4096];

                r = our_links_configured();
                if (r != 0 || now >= end)
                        break;
                /* 100 ms at most: networkd may have written a file between the check and the poll */
                r = poll(&pfd, 1, (int) MIN((end - now + 999) / 1000, 100U));
                if (r < 0 && errno != EINTR)
                        return negative_errno();
                while (fd >= 0 && read(fd, buf, sizeof buf) > 0)
                        ;
        }
        if (ret_waited)
                *ret_waited = now_usec(CLOCK_MONOTONIC) - start;
        return r < 0 ? r : r > 0 ? 0 : -ETIMEDOUT;
}

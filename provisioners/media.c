/* SPDX-License-Identifier: MIT */
/*
 * Provisioning media access, see media.h. Mounting uses mount(2) directly (no mount(8), no fstab, no
 * helpers): MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC on a mkdtemp() directory (0700) under /run, unmounted and
 * removed before returning on every path. The medium is the host's device, so this is independent of
 * --root, except for the seed directory which lives under the root.
 *
 * The seed copy is the one copy of the password we would otherwise keep: once the password is applied it is
 * rewritten without it (ovf_env_redact(), marked as scrubbed so that a later run keeps the account's password
 * instead of locking it) and the old bytes are zeroed (common/scrub.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/cdrom.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <libudev.h>

#include "fileio.h"
#include "macro.h"
#include "media.h"
#include "ovf-env.h"
#include "scrub.h"
#include "strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);

static int add_unique(char ***l, const char *s) {
        return strv_contains(*l, s) ? 0 : strv_extend(l, s);
}

/* Block devices udev knows as CD-ROMs or as carrying udf/iso9660 (properties match as OR in libudev). */
static int udev_candidates(char ***l) {
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        struct udev_list_entry *entry;

        if (!udev)
                return -ENOMEM;
        e = udev_enumerate_new(udev);
        if (!e)
                return -ENOMEM;
        if (udev_enumerate_add_match_subsystem(e, "block") < 0 ||
            udev_enumerate_add_match_property(e, "ID_CDROM", "1") < 0 ||
            udev_enumerate_add_match_property(e, "ID_FS_TYPE", "udf") < 0 ||
            udev_enumerate_add_match_property(e, "ID_FS_TYPE", "iso9660") < 0)
                return -ENOMEM;
        if (udev_enumerate_scan_devices(e) < 0)
                return 0; /* no sysfs/udev: the /dev/sr* fallback still applies */
        udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
                _cleanup_(udev_device_unrefp) struct udev_device *d =
                        udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
                const char *node = d ? udev_device_get_devnode(d) : NULL;
                int r;

                if (!node)
                        continue;
                r = add_unique(l, node);
                if (r < 0)
                        return r;
        }
        return 0;
}

int media_find_devices(char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = udev_candidates(&l);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 10; i++) {
                char node[16];

                (void) snprintf(node, sizeof node, "/dev/sr%u", i);
                if (access(node, F_OK) < 0)
                        continue;
                r = add_unique(&l, node);
                if (r < 0)
                        return r;
        }
        if (strv_length(l) == 0)
                return -ENOENT;
        *ret = TAKE_PTR(l);
        return 0;
}

int media_read_dir(int root_fd, const char *dir, char **ret, size_t *ret_size) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/" OVF_ENV_FILENAME, dir) < 0)
                return -ENOMEM;
        return read_file_in_root(root_fd, path, OVF_ENV_MAX, ret, ret_size);
}

/* Best effort: CDROMEJECT (linux/cdrom.h); meaningless for non-CD devices, which reject it. */
static void eject(const char *devnode) {
        _cleanup_close_ int fd = open(devnode, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

        if (fd >= 0)
                (void) ioctl(fd, CDROMEJECT, 0);
}

static int mount_any(const char *devnode, const char *const *fstypes, const char *where) {
        int r = -ENOMEDIUM;

        for (const char *const *t = fstypes; t && *t; t++) {
                if (mount(devnode, where, *t, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) >= 0)
                        return 0;
                /* ENODEV: type not in this kernel; EINVAL: not this filesystem. Both: try the next. */
                if (errno != ENODEV && errno != EINVAL && errno != ENOTBLK)
                        r = negative_errno();
        }
        return r;
}

int media_read_device_fstypes(const char *devnode, const char *const *fstypes, char **ret,
                              size_t *ret_size) {
        char where[] = "/run/azl-agent-media.XXXXXX";
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (isempty(devnode) || !fstypes)
                return -EINVAL;
        if (!mkdtemp(where))
                return negative_errno();
        r = mount_any(devnode, fstypes, where);
        if (r < 0) {
                (void) rmdir(where);
                return r;
        }
        fd = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
        r = fd < 0 ? negative_errno() : media_read_dir(fd, "/", ret, ret_size);
        closep(&fd);
        fd = -EBADF;
        if (umount2(where, 0) < 0)
                (void) umount2(where, MNT_DETACH);
        (void) rmdir(where);
        if (r >= 0)
                eject(devnode);
        return r;
}

int media_read_device(const char *devnode, char **ret, size_t *ret_size) {
        static const char *const types[] = {"udf", "iso9660", NULL};

        return media_read_device_fstypes(devnode, types, ret, ret_size);
}

int media_read_ovf_env(Context *c, char **ret, size_t *ret_size) {
        _cleanup_strv_free_ char **devices = NULL;
        _cleanup_free_ char *seed = NULL;
        int r;

        if (asprintf(&seed, "%s/" MEDIA_SEED_DIR, c->config.state_dir) < 0)
                return -ENOMEM;
        r = media_read_dir(c->root_fd, seed, ret, ret_size);
        if (r != -ENOENT)
                return r;
        r = media_find_devices(&devices);
        if (r == -ENOENT)
                return -ENOMEDIUM;
        if (r < 0)
                return r;
        for (char **d = devices; *d; d++) {
                r = media_read_device(*d, ret, ret_size);
                if (r >= 0)
                        return 0;
        }
        return -ENOMEDIUM;
}

int media_save_ovf_env(Context *c, const char *buf, size_t len) {
        _cleanup_free_ char *redacted = NULL, *path = NULL;
        size_t size;
        int r;

        r = ovf_env_redact(buf, len, &redacted, &size);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/" OVF_ENV_FILENAME, c->config.state_dir) < 0)
                return -ENOMEM;
        return write_file_atomic_in_root(c->root_fd, path, redacted, size, 0600, 0, 0, WRITE_MKDIR);
}

int media_seed_scrub_password(Context *c) {
        _cleanup_free_ char *path = NULL, *buf = NULL, *redacted = NULL;
        size_t size = 0, rsize = 0;
        int r;

        if (asprintf(&path, "%s/" MEDIA_SEED_DIR "/" OVF_ENV_FILENAME, c->config.state_dir) < 0)
                return -ENOMEM;
        r = read_file_in_root(c->root_fd, path, OVF_ENV_MAX, &buf, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = ovf_env_redact(buf, size, &redacted, &rsize);
        explicit_bzero(buf, size);
        if (r <= 0)
                return r; /* no password in it (scrubbed before), or not a document we can rewrite */
        r = scrub_file_replace_in_root(c->root_fd, path, redacted, rsize, 0600);
        return r < 0 ? r : 1;
}

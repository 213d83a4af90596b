/* SPDX-License-Identifier: MIT */
/*
 * Growing a root filesystem that sits on dm-crypt (LUKS1/LUKS2), as cloud-init's cc_growpart does for encrypted
 * roots (its resize_encrypted()): the partition under the mapping first (growpart.c), then the active mapping
 * (libcryptsetup crypt_resize() on the running device: it reloads the dm table with the new size, keeping the
 * cipher, offset and key), then the filesystem (resizefs.c, by grow-root.c). Each step is safe on its own: a
 * mapping smaller than its partition and a filesystem smaller than its mapping are both consistent states, so a
 * failure at any point leaves everything mounted and usable, and the next boot tries again.
 *
 * Resizing an active mapping needs its volume key (cryptsetup-resize(8)):
 *   - when the key is in the dm table (LUKS1; LUKS2 activated with --disable-keyring), libcryptsetup reads it from
 *     the table: no secret is asked for at all;
 *   - LUKS2's default keeps the key in the kernel keyring as a "logon" key userspace cannot read, and cryptsetup
 *     unlinks it after activation: the key must be loaded again (crypt_activate_by_*(name = NULL,
 *     CRYPT_ACTIVATE_KEYRING_KEY), crypt_resize() returns -EPERM otherwise). We try, without any interaction:
 *       1. the volume's LUKS2 tokens (systemd-tpm2, fido2 without PIN, clevis: whatever token plugins exist);
 *       2. a passphrase cached in the kernel keyring under "cryptsetup" (systemd's ask-password cache; visible to
 *          the agent when its unit shares the user keyring);
 *       3. cloud-init's one-time key file /cc_growpart_keydata ({"key": "<base64>", "slot": N}, as images built for
 *          cloud-init's encrypted growpart carry it, e.g. Canonical's encrypt-cloud-image): like cloud-init we
 *          remove the file after the attempt and destroy that keyslot — but only when the key really opened that
 *          slot and another keyslot remains, so a wrong file can never lock the volume.
 *     With none of them the partition still grows, the mapping keeps its size, and the summary says how to finish
 *     (`cryptsetup resize <name>` with a passphrase).
 *
 * Library code: libcryptsetup's messages go to the debug log; nothing is logged above debug.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "disk-internal.h"
#include "disk.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "strutil.h"

#define CRYPT_KEYDATA_MAX     (64U * 1024U)
#define CRYPT_KEYDATA_KEY_MAX 1024U /* decoded bytes: a LUKS passphrase is at most 512 */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct crypt_device *, crypt_free);

static void crypt_log_debug(int level, const char *msg, void *userdata) {
        size_t n = strlen(msg);

        /* libcryptsetup's lines end in a newline; they never hold key material */
        log_debug("libcryptsetup: %.*s", (int) (n > 0 && msg[n - 1] == '\n' ? n - 1 : n), msg);
}

static int set_summary(char **summary, const char *fmt, ...) _printf_(2, 3);
static int set_summary(char **summary, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strprintfv(summary, fmt, ap);
        va_end(ap);
        return r;
}

/* A sysfs attribute of a block device by devnum (/sys/dev/block/M:m/<attr>), first line. */
static int sysfs_attr(dev_t devnum, const char *attr, char **ret) {
        _cleanup_close_ int root = -EBADF;
        _cleanup_free_ char *path = NULL, *v = NULL;
        int r;

        if (asprintf(&path, "/sys/dev/block/%u:%u/%s", major(devnum), minor(devnum), attr) < 0)
                return -ENOMEM;
        r = root_open("/", &root);
        if (r < 0)
                return r;
        r = read_one_line_in_root(root, path, 4096, &v);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

static int device_sectors(dev_t devnum, uint64_t *ret) {
        _cleanup_free_ char *v = NULL;
        int r;

        r = sysfs_attr(devnum, "size", &v);
        if (r < 0)
                return r;
        return safe_atou64(strstrip(v), ret);
}

/* The one device under a dm device (sysfs "slaves"); -ENOTUNIQ when there are more (striped, multi-device). */
static int dm_single_slave(dev_t devnum, dev_t *ret) {
        _cleanup_free_ char *path = NULL, *dev = NULL, *slave = NULL;
        struct dirent *de;
        DIR *d;
        unsigned maj, min;
        int r = 0;

        if (asprintf(&path, "/sys/dev/block/%u:%u/slaves", major(devnum), minor(devnum)) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (slave) {
                        r = -ENOTUNIQ;
                        break;
                }
                slave = strdup(de->d_name);
                if (!slave) {
                        r = -ENOMEM;
                        break;
                }
        }
        closedir(d);
        if (r < 0)
                return r;
        if (!slave)
                return -ENODEV;
        free(path);
        if (asprintf(&path, "/sys/class/block/%s/dev", slave) < 0)
                return -ENOMEM;
        {
                _cleanup_close_ int root = -EBADF;

                r = root_open("/", &root);
                if (r >= 0)
                        r = read_one_line_in_root(root, path, 64, &dev);
        }
        if (r < 0)
                return r;
        if (sscanf(dev, "%u:%u", &maj, &min) != 2)
                return -EINVAL;
        *ret = makedev(maj, min);
        return 0;
}

/* ---- the volume key, when the mapping keeps it in the kernel keyring ---- */

typedef struct KeyData {
        char *key; /* base64 as in the file */
        int slot;
} KeyData;

static int dispatch_key(const char *name, struct json_object *v, void *dest, JsonError *err) {
        if (json_object_is_type(v, json_type_string) &&
            (size_t) json_object_get_string_len(v) > CRYPT_KEYDATA_KEY_MAX / 3 * 4 + 4)
                return json_error(err, name, "field '%s' is too long", name);
        return json_dispatch_string(name, v, dest, err);
}

/* cloud-init's key file: -ENOENT when absent; -EBADMSG (reason in *summary) when unusable. */
static int keydata_read(int root_fd, void **ret_key, size_t *ret_size, int *ret_slot, char **summary) {
        static const JsonDispatch table[] = {
                {"key", dispatch_key, offsetof(KeyData, key), JSON_MANDATORY},
                {"slot", json_dispatch_int, offsetof(KeyData, slot), JSON_MANDATORY},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        _cleanup_erase_ char *text = NULL;
        KeyData k = {.slot = -1};
        void *key = NULL;
        size_t size = 0, len = 0;
        int r;

        r = read_file_in_root(root_fd, CRYPT_KEYDATA_FILE, CRYPT_KEYDATA_MAX, &text, &len);
        if (r < 0)
                return r;
        r = json_parse_buffer(text, len, &root, NULL);
        if (r >= 0)
                r = json_dispatch(root, table, 0, &k, NULL);
        if (r >= 0 && (k.slot < 0 || k.slot >= 32))
                r = -EBADMSG;
        if (r >= 0 && (base64_decode(k.key, strlen(k.key), &key, &size) < 0 || size == 0 ||
                       size > CRYPT_KEYDATA_KEY_MAX))
                r = -EBADMSG;
        erase_and_free(k.key);
        if (r < 0) {
                if (key) {
                        explicit_bzero(key, size);
                        free(key);
                }
                (void) set_summary(summary,
                                   CRYPT_KEYDATA_FILE " is not {\"key\": \"<base64>\", \"slot\": 0–31}");
                return -EBADMSG;
        }
        *ret_key = key;
        *ret_size = size;
        *ret_slot = k.slot;
        return 0;
}

/* Another keyslot than slot still opens the volume. */
static bool other_keyslot_active(struct crypt_device *cd, int slot) {
        int max = crypt_keyslot_max(crypt_get_type(cd));

        for (int i = 0; i < max; i++) {
                crypt_keyslot_info ki = crypt_keyslot_status(cd, i);

                if (i != slot && (ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST))
                        return true;
        }
        return false;
}

/*
 * Loads the volume key into the kernel keyring for crypt_resize(); *ret_source says from where. On failure -ENOKEY
 * with what was tried in *summary. *ret_keydata_slot: the keydata slot that opened (to destroy after the resize),
 * else -1.
 */
static int load_volume_key(int root_fd, struct crypt_device *cd, const char *name, const char **ret_source,
                           int *ret_keydata_slot, char **summary) {
        _cleanup_free_ char *keydata_why = NULL;
        void *key = NULL;
        size_t size = 0;
        int r, slot = -1;

        *ret_keydata_slot = -1;
        if (streq_ptr(crypt_get_type(cd), CRYPT_LUKS2)) {
                r = crypt_activate_by_token(cd, NULL, CRYPT_ANY_TOKEN, NULL, CRYPT_ACTIVATE_KEYRING_KEY);
                if (r >= 0) {
                        *ret_source = "a LUKS2 token";
                        return 0;
                }
                log_debug_errno(r, "No LUKS2 token loaded the volume key: %m");
        }
        r = crypt_activate_by_keyring(cd, NULL, "cryptsetup", CRYPT_ANY_SLOT, CRYPT_ACTIVATE_KEYRING_KEY);
        if (r >= 0) {
                *ret_source = "the passphrase cached in the kernel keyring (\"cryptsetup\")";
                return 0;
        }
        log_debug_errno(r, "No passphrase cached in the kernel keyring opened the volume: %m");

        r = keydata_read(root_fd, &key, &size, &slot, &keydata_why);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = crypt_activate_by_passphrase(cd, NULL, slot, key, size, CRYPT_ACTIVATE_KEYRING_KEY);
                explicit_bzero(key, size);
                free(key);
                /* one-time key: removed whatever happens, as cloud-init does */
                if (unlink_in_root(root_fd, CRYPT_KEYDATA_FILE) < 0)
                        log_debug("Could not remove " CRYPT_KEYDATA_FILE);
                if (r >= 0) {
                        *ret_source = "the one-time key in " CRYPT_KEYDATA_FILE;
                        *ret_keydata_slot = slot;
                        return 0;
                }
                /* libcryptsetup says -EPERM for a passphrase that does not open the keyslot */
                if (asprintf(&keydata_why,
                             "the key in " CRYPT_KEYDATA_FILE " does not open keyslot %d (%s; the file "
                             "was removed, the keyslot kept)",
                             slot, r == -EPERM ? "wrong key" : strerror(-r)) < 0)
                        return -ENOMEM;
        }
        (void) set_summary(summary,
                           "its volume key is in the kernel keyring, which does not give it back: no LUKS2 "
                           "token opened the volume, no passphrase is cached in the kernel keyring, %s; "
                           "`cryptsetup resize %s` with a passphrase grows it",
                           keydata_why ?: "no " CRYPT_KEYDATA_FILE, name);
        return -ENOKEY;
}

/* ---- the whole step ---- */

int disk_grow_crypt(int root_fd, const BlockDevice *dm, DiskGrowResult *res) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_(block_device_done) BlockDevice part = {};
        _cleanup_(grow_part_result_done) GrowPartResult gp = {};
        _cleanup_free_ char *name = NULL, *why = NULL;
        struct crypt_active_device cad = {};
        const char *source = "the dm table";
        uint64_t before = 0, after = 0;
        int r, keydata_slot = -1, changed = 0;
        dev_t slave = 0;

        r = sysfs_attr(dm->devnum, "dm/name", &name);
        if (r < 0)
                return set_summary(&res->summary, "cannot tell the dm-crypt mapping's name (%s)",
                                   strerror(-r));
        free(res->crypt_name);
        res->crypt_name = strdup(strstrip(name));
        if (!res->crypt_name)
                return -ENOMEM;
        r = dm_single_slave(dm->devnum, &slave);
        if (r < 0)
                return set_summary(&res->summary, "not growing root on %s: the dm-crypt mapping %s %s",
                                   dm->node, res->crypt_name,
                                   r == -ENOTUNIQ ? "spans several devices"
                                                  : "has no underlying device in sysfs");
        r = block_device_from_devnum(slave, &part);
        if (r < 0)
                return r;
        if (part.dm_uuid || part.is_md)
                return set_summary(&res->summary,
                                   "not growing root on %s: the dm-crypt mapping %s sits on %s, "
                                   "itself a stacked device",
                                   dm->node, res->crypt_name, part.node);
        if (free_and_strdup(&res->disk, part.disk_node) < 0)
                return -ENOMEM;
        res->partno = part.partno;

        /* 1. the partition */
        if (part.partno > 0) {
                r = disk_grow_partition(part.disk_node, part.partno, &gp);
                if (r < 0)
                        return r;
                res->part_old_size = gp.old_size;
                res->part_new_size = gp.new_size;
                res->partition_grown = r > 0;
                res->refused = gp.refused;
                changed |= r > 0;
                if (gp.refused)
                        return set_summary(&res->summary, "%s", gp.summary);
        }

        /* 2. the mapping */
        r = crypt_init_by_name(&cd, res->crypt_name);
        if (r < 0)
                return set_summary(&res->summary,
                                   "%s; the dm-crypt mapping %s cannot be opened by libcryptsetup (%s)",
                                   strempty(gp.summary), res->crypt_name, strerror(-r)) < 0
                               ? -ENOMEM
                               : changed;
        crypt_set_log_callback(cd, crypt_log_debug, NULL);
        if (!streq_ptr(crypt_get_type(cd), CRYPT_LUKS1) && !streq_ptr(crypt_get_type(cd), CRYPT_LUKS2))
                return set_summary(&res->summary,
                                   "%s; the dm-crypt mapping %s is %s, not LUKS: left as it is",
                                   strempty(gp.summary), res->crypt_name, strna(crypt_get_type(cd))) < 0
                               ? -ENOMEM
                               : changed;
        r = crypt_get_active_device(cd, res->crypt_name, &cad);
        if (r < 0)
                return set_summary(&res->summary, "%s; the dm-crypt mapping %s is not active (%s)",
                                   strempty(gp.summary), res->crypt_name, strerror(-r)) < 0
                               ? -ENOMEM
                               : changed;
        (void) device_sectors(dm->devnum, &before);
        if (cad.flags & CRYPT_ACTIVATE_KEYRING_KEY) {
                r = load_volume_key(root_fd, cd, res->crypt_name, &source, &keydata_slot, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        res->crypt_old_size = res->crypt_new_size = before * 512;
                        return set_summary(&res->summary, "%s%sthe dm-crypt mapping %s keeps its size: %s",
                                           strempty(gp.summary), gp.summary ? "; " : "", res->crypt_name,
                                           why) < 0
                                       ? -ENOMEM
                                       : changed;
                }
        }
        r = crypt_resize(cd, res->crypt_name, 0);
        if (keydata_slot >= 0) {
                /* the one-time keyslot goes whether the resize worked or not (cloud-init), if it is not the last */
                if (!other_keyslot_active(cd, keydata_slot))
                        log_debug("Keeping keyslot %d: it is the volume's last.", keydata_slot);
                else if (crypt_keyslot_destroy(cd, keydata_slot) < 0)
                        log_debug("Could not destroy keyslot %d.", keydata_slot);
        }
        if (r < 0) {
                res->crypt_old_size = res->crypt_new_size = before * 512;
                return set_summary(&res->summary,
                                   "%s%sresizing the dm-crypt mapping %s failed (%s): it keeps its size",
                                   strempty(gp.summary), gp.summary ? "; " : "", res->crypt_name,
                                   strerror(-r)) < 0
                               ? -ENOMEM
                               : changed;
        }
        (void) device_sectors(dm->devnum, &after);
        res->crypt_old_size = before * 512;
        res->crypt_new_size = after * 512;
        res->crypt_grown = after > before;
        changed |= res->crypt_grown;
        if (set_summary(&res->summary, "%s%sdm-crypt mapping %s %s (volume key from %s)",
                        strempty(gp.summary), gp.summary ? "; " : "", res->crypt_name,
                        res->crypt_grown ? "grown" : "already fills its partition", source) < 0)
                return -ENOMEM;
        return changed;
}

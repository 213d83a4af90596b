/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fileio.h"
#include "macro.h"
#include "platform.h"
#include "string-table.h"
#include "strutil.h"

#define SYSFS_ATTR_MAX 4096U
#define MOUNTINFO_MAX (1024U * 1024U)

static const char *const platform_table[_PLATFORM_MAX] = {
        [PLATFORM_NONE] = "none",
        [PLATFORM_AZURE] = "azure",
        [PLATFORM_WSL] = "wsl",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(platform, Platform);

static const char *env_get(char *const *env, const char *name) {
        size_t n = strlen(name);

        for (; env && *env; env++)
                if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
                        return *env + n + 1;
        return NULL;
}

int vm_id_swap_gen1(char uuid[static 37]) {
        /* "aabbccdd-eeff-gghh-…" → "ddccbbaa-ffee-hhgg-…" */
        static const int fields[][2] = { { 0, 8 }, { 9, 4 }, { 14, 4 } };

        if (strlen(uuid) != 36)
                return -EINVAL;
        for (size_t f = 0; f < ELEMENTSOF(fields); f++) {
                char *s = uuid + fields[f][0];
                int len = fields[f][1];

                for (int i = 0; i < len / 2; i += 2) {
                        char a = s[i], b = s[i + 1];

                        s[i] = s[len - 2 - i];
                        s[i + 1] = s[len - 1 - i];
                        s[len - 2 - i] = a;
                        s[len - 1 - i] = b;
                }
        }
        return 0;
}

static bool is_wsl(int root_fd, char *const *env, char *reason, size_t size) {
        _cleanup_free_ char *osrelease = NULL;

        if (read_one_line_in_root(root_fd, "/proc/sys/kernel/osrelease", SYSFS_ATTR_MAX, &osrelease) >= 0 &&
            (strcasestr(osrelease, "microsoft") || strstr(osrelease, "WSL"))) {
                snprintf(reason, size, "kernel release '%.64s' is a WSL kernel", osrelease);
                return true;
        }
        if (access_in_root(root_fd, "/run/WSL") >= 0) {
                snprintf(reason, size, "/run/WSL exists");
                return true;
        }
        if (env_get(env, "WSL_INTEROP")) {
                snprintf(reason, size, "$WSL_INTEROP is set");
                return true;
        }
        return false;
}

/* Field 5 of mountinfo is the mount point, field 6 the per-mount options (proc(5)). */
static bool mount_is_read_only(const char *mountinfo, const char *where) {
        _cleanup_free_ char *copy = strdup(mountinfo);
        bool ro = false;

        if (!copy)
                return false;
        for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[6] = {};
                char *s2 = NULL, *t = strtok_r(l, " ", &s2);

                for (size_t i = 0; i < ELEMENTSOF(f) && t; i++, t = strtok_r(NULL, " ", &s2))
                        f[i] = t;
                if (!f[5] || !streq(f[4], where))
                        continue;
                /* The last mount on a path wins (it hides the ones below). */
                ro = streq(f[5], "ro") || startswith(f[5], "ro,");
        }
        return ro;
}

static void detect_container_host(int root_fd, PlatformInfo *info) {
        _cleanup_free_ char *mountinfo = NULL, *osrel = NULL;

        if (read_file_in_root(root_fd, "/proc/self/mountinfo", MOUNTINFO_MAX, &mountinfo, NULL) >= 0) {
                if (mount_is_read_only(mountinfo, "/usr")) {
                        info->container_host = true;
                        snprintf(info->container_reason, sizeof info->container_reason, "/usr is mounted read-only");
                        return;
                }
                if (mount_is_read_only(mountinfo, "/")) {
                        info->container_host = true;
                        snprintf(info->container_reason, sizeof info->container_reason, "/ is mounted read-only");
                        return;
                }
        }
        if (read_file_in_root(root_fd, "/etc/os-release", 64 * 1024, &osrel, NULL) < 0 &&
            read_file_in_root(root_fd, "/usr/lib/os-release", 64 * 1024, &osrel, NULL) < 0)
                return;
        for (char *save = NULL, *l = strtok_r(osrel, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                static const char *const markers[] = { "ID=flatcar", "ID=fedora-coreos", "VARIANT_ID=coreos",
                                                       "VARIANT_ID=container", "VARIANT_ID=containerlinux",
                                                       "VARIANT_ID=\"container\"", "VARIANT_ID=acl" };

                for (size_t i = 0; i < ELEMENTSOF(markers); i++)
                        if (streq(strstrip(l), markers[i])) {
                                info->container_host = true;
                                snprintf(info->container_reason, sizeof info->container_reason,
                                         "os-release has %s", markers[i]);
                                return;
                        }
        }
}

static int read_vm_id(int root_fd, PlatformInfo *info) {
        _cleanup_free_ char *uuid = NULL;
        int r;

        info->generation2 = access_in_root(root_fd, "/sys/firmware/efi") >= 0 ||
                            access_in_root(root_fd, "/dev/efi") >= 0;
        r = read_one_line_in_root(root_fd, "/sys/class/dmi/id/product_uuid", SYSFS_ATTR_MAX, &uuid);
        if (r < 0)
                return r;
        r = uuid_normalize(strstrip(uuid), info->vm_id);
        if (r < 0) {
                info->vm_id[0] = 0;
                return r;
        }
        if (!info->generation2)
                (void) vm_id_swap_gen1(info->vm_id);
        return 0;
}

int platform_detect(int root_fd, char *const *env, PlatformInfo *ret) {
        _cleanup_free_ char *tag = NULL;
        PlatformInfo info = {};
        int r;

        detect_container_host(root_fd, &info);

        /* WSL first: a WSL kernel never runs on Azure's Hyper-V chassis from the guest's point of view. */
        if (is_wsl(root_fd, env, info.reason, sizeof info.reason)) {
                info.platform = PLATFORM_WSL;
                *ret = info;
                return 0;
        }

        r = read_one_line_in_root(root_fd, "/sys/class/dmi/id/chassis_asset_tag", SYSFS_ATTR_MAX, &tag);
        if (r < 0) {
                snprintf(info.reason, sizeof info.reason, "no DMI chassis asset tag (%s)", strerror(-r));
                info.platform = PLATFORM_NONE;
                *ret = info;
                return 0;
        }
        if (!streq(strstrip(tag), AZURE_CHASSIS_ASSET_TAG)) {
                snprintf(info.reason, sizeof info.reason, "DMI chassis asset tag is '%.64s', not Azure's %s",
                         tag, AZURE_CHASSIS_ASSET_TAG);
                info.platform = PLATFORM_NONE;
                *ret = info;
                return 0;
        }
        info.platform = PLATFORM_AZURE;
        r = read_vm_id(root_fd, &info);
        snprintf(info.reason, sizeof info.reason, "DMI chassis asset tag is %s (Azure)%s", AZURE_CHASSIS_ASSET_TAG,
                 r < 0 ? "; VM id unreadable" : "");
        *ret = info;
        return 0;
}

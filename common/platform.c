/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "platform.h"
#include "string-table.h"
#include "strutil.h"

#define SYSFS_ATTR_MAX     4096U
#define MOUNTINFO_MAX      (1024U * 1024U)
#define CPUINFO_PREFIX_MAX (64U * 1024U) /* the first processor's block holds the flags line */

static const char *const platform_table[_PLATFORM_MAX] = {
        [PLATFORM_NONE] = "none",
        [PLATFORM_AZURE] = "azure",
        [PLATFORM_WSL] = "wsl",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(platform, Platform);

static const char *const confidential_tech_table[_CONFIDENTIAL_TECH_MAX] = {
        [CONFIDENTIAL_TECH_NONE] = "none",       [CONFIDENTIAL_TECH_SEV] = "sev",
        [CONFIDENTIAL_TECH_SEV_SNP] = "sev-snp", [CONFIDENTIAL_TECH_TDX] = "tdx",
        [CONFIDENTIAL_TECH_TSM] = "tsm",
};

const char *confidential_tech_to_string(ConfidentialTech t) {
        return t >= 0 && t < _CONFIDENTIAL_TECH_MAX ? confidential_tech_table[t] : NULL;
}

static const char *env_get(char *const *env, const char *name) {
        size_t n = strlen(name);

        for (; env && *env; env++)
                if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
                        return *env + n + 1;
        return NULL;
}

int vm_id_swap_gen1(char uuid[static 37]) {
        /* "aabbccdd-eeff-gghh-…" → "ddccbbaa-ffee-hhgg-…" */
        static const int fields[][2] = {{0, 8}, {9, 4}, {14, 4}};

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
                        snprintf(info->container_reason, sizeof info->container_reason,
                                 "/usr is mounted read-only");
                        return;
                }
                if (mount_is_read_only(mountinfo, "/")) {
                        info->container_host = true;
                        snprintf(info->container_reason, sizeof info->container_reason,
                                 "/ is mounted read-only");
                        return;
                }
        }
        if (read_file_in_root(root_fd, "/etc/os-release", 64 * 1024, &osrel, NULL) < 0 &&
            read_file_in_root(root_fd, "/usr/lib/os-release", 64 * 1024, &osrel, NULL) < 0)
                return;
        for (char *save = NULL, *l = strtok_r(osrel, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                static const char *const markers[] = {
                        "ID=flatcar",           "ID=fedora-coreos",          "VARIANT_ID=coreos",
                        "VARIANT_ID=container", "VARIANT_ID=containerlinux", "VARIANT_ID=\"container\"",
                        "VARIANT_ID=acl"};

                for (size_t i = 0; i < ELEMENTSOF(markers); i++)
                        if (streq(strstrip(l), markers[i])) {
                                info->container_host = true;
                                snprintf(info->container_reason, sizeof info->container_reason,
                                         "os-release has %s", markers[i]);
                                return;
                        }
        }
}

/* The "flags" line of the first processor in /proc/cpuinfo (x86), read from a bounded prefix of the file. */
static int read_cpu_flags(int root_fd, char **ret) {
        _cleanup_free_ char *buf = malloc(CPUINFO_PREFIX_MAX + 1);
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;

        if (!buf)
                return -ENOMEM;
        fd = open_in_root(root_fd, "/proc/cpuinfo", O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
        if (fd < 0)
                return fd;
        while (n < CPUINFO_PREFIX_MAX) {
                ssize_t k = read(fd, buf + n, CPUINFO_PREFIX_MAX - n);

                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *colon = strchr(l, ':');

                if (!startswith(l, "flags") || !colon)
                        continue;
                *colon = 0;
                if (!streq(strstrip(l), "flags"))
                        continue;
                *ret = strdup(strstrip(colon + 1));
                return *ret ? 0 : -ENOMEM;
        }
        return -ENOENT;
}

static bool flag_listed(const char *flags, const char *flag) {
        size_t n = strlen(flag);

        for (const char *p = flags; p && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL)
                if (strncmp(p, flag, n) == 0 && (p[n] == ' ' || p[n] == 0))
                        return true;
        return false;
}

static void evidence_add(PlatformInfo *info, const char *what) {
        size_t n = strlen(info->confidential_evidence);

        (void) snprintf(info->confidential_evidence + n, sizeof info->confidential_evidence - n, "%s%s",
                        n > 0 ? ", " : "", what);
}

/* The strongest evidence wins: a TDX or SNP guest interface or CPU flag over a bare SEV flag over configfs-tsm. */
static void detect_confidential_guest(int root_fd, PlatformInfo *info) {
        _cleanup_free_ char *flags = NULL;
        bool guest_flags;

        info->confidential = CONFIDENTIAL_TECH_NONE;
        info->confidential_evidence[0] = 0;
        if (access_in_root(root_fd, "/sys/kernel/config/tsm/report") >= 0) {
                info->confidential = CONFIDENTIAL_TECH_TSM;
                evidence_add(info, "/sys/kernel/config/tsm/report");
        }
        guest_flags = read_cpu_flags(root_fd, &flags) >= 0 && flag_listed(flags, "hypervisor");
        if (guest_flags && (flag_listed(flags, "sev") || flag_listed(flags, "sev_es"))) {
                info->confidential = CONFIDENTIAL_TECH_SEV;
                evidence_add(info, flag_listed(flags, "sev_es") ? "CPU flag sev_es" : "CPU flag sev");
        }
        if (access_in_root(root_fd, "/dev/sev-guest") >= 0) {
                info->confidential = CONFIDENTIAL_TECH_SEV_SNP;
                evidence_add(info, "/dev/sev-guest");
        }
        if (guest_flags && flag_listed(flags, "sev_snp")) {
                info->confidential = CONFIDENTIAL_TECH_SEV_SNP;
                evidence_add(info, "CPU flag sev_snp");
        }
        if (access_in_root(root_fd, "/dev/tdx_guest") >= 0) {
                info->confidential = CONFIDENTIAL_TECH_TDX;
                evidence_add(info, "/dev/tdx_guest");
        }
        if (flags && flag_listed(flags, "tdx_guest")) { /* a guest-only flag */
                info->confidential = CONFIDENTIAL_TECH_TDX;
                evidence_add(info, "CPU flag tdx_guest");
        }
        if (info->confidential == CONFIDENTIAL_TECH_NONE)
                (void) snprintf(
                        info->confidential_evidence, sizeof info->confidential_evidence,
                        "no /dev/sev-guest, /dev/tdx_guest, /sys/kernel/config/tsm/report or guest CPU flag "
                        "sev/sev_es/sev_snp/tdx_guest");
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
        detect_confidential_guest(root_fd, &info);

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
        snprintf(info.reason, sizeof info.reason, "DMI chassis asset tag is %s (Azure)%s",
                 AZURE_CHASSIS_ASSET_TAG, r < 0 ? "; VM id unreadable" : "");
        *ret = info;
        return 0;
}

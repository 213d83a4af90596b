/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "string-table.h"
#include "strutil.h"

#define CONFIG_FILE_MAX    (256U * 1024U)
#define CONFIG_DROPINS_MAX 128U

static const char *const network_backend_table[_NETWORK_BACKEND_MAX] = {
        [NETWORK_BACKEND_AUTO] = "auto",
        [NETWORK_BACKEND_NETWORKD] = "networkd",
        [NETWORK_BACKEND_NETLINK] = "netlink",
        [NETWORK_BACKEND_NONE] = "none",
};

static const char *const signature_mode_table[_SIGNATURE_MODE_MAX] = {
        [SIGNATURE_MODE_OFF] = "off",
        [SIGNATURE_MODE_REPORT] = "report",
        [SIGNATURE_MODE_ENFORCE] = "enforce",
};

static const char *const confidential_mode_table[_CONFIDENTIAL_MODE_MAX] = {
        [CONFIDENTIAL_MODE_AUTO] = "auto",
        [CONFIDENTIAL_MODE_YES] = "yes",
        [CONFIDENTIAL_MODE_NO] = "no",
};

DEFINE_STRING_TABLE_LOOKUP_CASE(network_backend, NetworkBackend);
DEFINE_STRING_TABLE_LOOKUP_CASE(signature_mode, SignatureMode);
DEFINE_STRING_TABLE_LOOKUP_CASE(confidential_mode, ConfidentialMode);

/* ---- value parsers: (value, pointer into Config) → 0 or -EINVAL/-ERANGE ---- */

typedef int (*ConfigParser)(const char *value, void *data);

static int parse_bool(const char *v, void *data) {
        int r = parse_boolean(v);

        if (r < 0)
                return r;
        *(bool *) data = r;
        return 0;
}

static int parse_string(const char *v, void *data) {
        return free_and_strdup(data, isempty(v) ? NULL : v);
}

static int parse_path(const char *v, void *data) {
        if (v[0] != '/' || strstr(v, "/../") || endswith(v, "/.."))
                return -EINVAL;
        return parse_string(v, data);
}

static int parse_url(const char *v, void *data) {
        if (!startswith(v, "http://") && !startswith(v, "https://"))
                return -EINVAL;
        if (strpbrk(v, " \t\"'<>\\"))
                return -EINVAL;
        return parse_string(v, data);
}

/* host[:port] — an IPv4 address or DNS name, no scheme. Empty = unset (discover from DHCP). */
static int parse_host_port(const char *v, void *data) {
        const char *colon = strrchr(v, ':');

        if (isempty(v))
                return parse_string(v, data);
        if (strpbrk(v, "/ \t@?#"))
                return -EINVAL;
        if (colon) {
                unsigned port;

                if (safe_atou(colon + 1, &port) < 0 || port == 0 || port > 65535)
                        return -EINVAL;
        }
        return parse_string(v, data);
}

static int parse_port(const char *v, void *data) {
        unsigned port;
        int r = safe_atou(v, &port);

        if (r < 0)
                return r;
        if (port == 0 || port > 65535)
                return -ERANGE;
        *(unsigned *) data = port;
        return 0;
}

static int parse_percent(const char *v, void *data) {
        _cleanup_free_ char *copy = strdup(v);
        unsigned p;
        size_t n;
        int r;

        if (!copy)
                return -ENOMEM;
        n = strlen(copy);
        if (n > 0 && copy[n - 1] == '%')
                copy[n - 1] = 0;
        r = safe_atou(copy, &p);
        if (r < 0)
                return r;
        if (p > 100 * 1024) /* CPUQuota may exceed 100% on multi-core machines */
                return -ERANGE;
        *(unsigned *) data = p;
        return 0;
}

static int parse_u64(const char *v, void *data) {
        return safe_atou64(v, data);
}

/* Seconds, optionally with a unit suffix: 30, 30s, 5min, 2h, 500ms. */
static int parse_sec(const char *v, void *data) {
        static const struct {
                const char *suffix;
                usec_t mul;
        } units[] = {{"ms", USEC_PER_MSEC},
                     {"min", 60 * USEC_PER_SEC},
                     {"s", USEC_PER_SEC},
                     {"h", 3600 * USEC_PER_SEC},
                     {"", USEC_PER_SEC}};
        _cleanup_free_ char *copy = strdup(v);

        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                uint64_t n;

                if (!endswith(copy, units[i].suffix))
                        continue;
                copy[strlen(copy) - strlen(units[i].suffix)] = 0;
                if (safe_atou64(strstrip(copy), &n) < 0)
                        return -EINVAL;
                if (n > UINT64_MAX / units[i].mul / 2)
                        return -ERANGE;
                *(usec_t *) data = n * units[i].mul;
                return 0;
        }
        return -EINVAL;
}

static int parse_strv(const char *v, void *data) {
        char ***l = data, **n = NULL;
        int r = strv_split(v, ", \t", &n);

        if (r < 0)
                return r;
        strv_free(*l);
        *l = n;
        return 0;
}

/* A unit name ("foo.service", "foo.scope", "foo.slice") or a cgroup v2 path ("system.slice/foo.service", a
 * leading '/' allowed): the characters of systemd unit names, no "." or ".." component. These strings end up
 * quoted in an nftables rule (provisioners/firewall.c), so nothing else may pass. */
static bool unit_or_cgroup_is_valid(const char *s) {
        const char *p = s[0] == '/' ? s + 1 : s;

        if (isempty(p) || strlen(p) > 256 || p[strlen(p) - 1] == '/')
                return false;
        if (!strchr(p, '/') && !endswith(p, ".service") && !endswith(p, ".scope") && !endswith(p, ".slice"))
                return false;
        for (const char *c = p; *c; c++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.@-/", *c))
                        return false;
        for (const char *c = p; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL)
                if (c[0] == '/' || startswith(c, "./") || startswith(c, "../") || streq(c, ".") ||
                    streq(c, ".."))
                        return false;
        return true;
}

#define UNIT_LIST_MAX 32U

static int parse_unit_list(const char *v, void *data) {
        _cleanup_strv_free_ char **n = NULL;
        char ***l = data;
        int r = strv_split(v, ", \t", &n);

        if (r < 0)
                return r;
        if (strv_length(n) > UNIT_LIST_MAX)
                return -E2BIG;
        for (char **u = n; u && *u; u++)
                if (!unit_or_cgroup_is_valid(*u))
                        return -EINVAL;
        strv_free(*l);
        *l = TAKE_PTR(n);
        return 0;
}

static int parse_log_level(const char *v, void *data) {
        int l = log_level_from_string(v);

        if (l < 0)
                return l;
        *(int *) data = l;
        return 0;
}

static int parse_network_backend(const char *v, void *data) {
        NetworkBackend b = network_backend_from_string(v);

        if (b < 0)
                return b;
        *(NetworkBackend *) data = b;
        return 0;
}

static int parse_signature_mode(const char *v, void *data) {
        SignatureMode m = signature_mode_from_string(v);

        if (m < 0)
                return m;
        *(SignatureMode *) data = m;
        return 0;
}

static int parse_confidential_mode(const char *v, void *data) {
        ConfidentialMode m = confidential_mode_from_string(v);

        if (m < 0)
                return m;
        *(ConfidentialMode *) data = m;
        return 0;
}

/* An absolute path or empty (unset). */
static int parse_path_or_empty(const char *v, void *data) {
        if (isempty(v))
                return parse_string(v, data);
        return parse_path(v, data);
}

/* DNS domains: lower-case letters, digits, '-' and '.', no empty label; at most 16 of them. */
static int parse_domain_list(const char *v, void *data) {
        _cleanup_strv_free_ char **n = NULL;
        char ***l = data;
        int r = strv_split(v, ", \t", &n);

        if (r < 0)
                return r;
        if (strv_length(n) > 16)
                return -E2BIG;
        for (char **d = n; d && *d; d++) {
                if (strlen(*d) > 253 || (*d)[0] == '.' || endswith(*d, ".") || strstr(*d, ".."))
                        return -EINVAL;
                for (char *p = *d; *p; p++) {
                        *p = (char) tolower((unsigned char) *p);
                        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-.", *p))
                                return -EINVAL;
                }
        }
        strv_free(*l);
        *l = TAKE_PTR(n);
        return 0;
}

static int parse_filesystem(const char *v, void *data) {
        static const char *const allowed[] = {"ext4", "xfs", "btrfs"};

        for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
                if (streq(v, allowed[i]))
                        return parse_string(v, data);
        return -EINVAL;
}

/* [UserData] Sources=: ovf and/or imds, or none (nothing is consumed). */
static int parse_userdata_sources(const char *v, void *data) {
        _cleanup_strv_free_ char **l = NULL;
        int r = strv_split(v, ", \t", &l);

        if (r < 0)
                return r;
        if (strv_length(l) == 1 && streq(l[0], "none"))
                l = strv_free(l);
        for (char **s = l; s && *s; s++)
                if (!streq(*s, "ovf") && !streq(*s, "imds"))
                        return -EINVAL;
        strv_free(*(char ***) data);
        *(char ***) data = TAKE_PTR(l);
        return 0;
}

typedef struct ConfigItem {
        const char *section;
        const char *key;
        ConfigParser parse;
        size_t offset;
        bool is_endpoint;
} ConfigItem;

#define ITEM(s, k, p, field)                                                                                \
        { s, k, p, offsetof(Config, field), false }
#define ENDPOINT(s, k, p, field)                                                                            \
        { s, k, p, offsetof(Config, field), true }

static const ConfigItem config_items[] = {
        ITEM("Agent", "LogLevel", parse_log_level, log_level),
        ITEM("Agent", "Provisioning", parse_bool, provisioning),
        ITEM("Agent", "Extensions", parse_bool, extensions),
        ITEM("Agent", "KVP", parse_bool, kvp),
        ITEM("Agent", "StateDirectory", parse_path, state_dir),
        ENDPOINT("Endpoints", "IMDS", parse_url, imds_url),
        ITEM("Endpoints", "IMDSApiVersion", parse_string, imds_api_version),
        ENDPOINT("Endpoints", "WireServer", parse_host_port, wireserver),
        ENDPOINT("Endpoints", "HostGAPluginPort", parse_port, hostgaplugin_port),
        ITEM("Endpoints", "AllowNonAzure", parse_bool, allow_non_azure),
        ITEM("Timeouts", "IMDSDeadlineSec", parse_sec, imds_deadline),
        ITEM("Timeouts", "HealthDeadlineSec", parse_sec, health_deadline),
        ITEM("Timeouts", "HTTPTimeoutSec", parse_sec, http_timeout),
        ITEM("Timeouts", "GoalStatePeriodSec", parse_sec, goal_state_period),
        ITEM("Timeouts", "StatusKeepAliveSec", parse_sec, status_keepalive),
        ITEM("Timeouts", "PreprovisionedWaitSec", parse_sec, pps_wait_deadline),
        ITEM("Provisioning", "AdminGroups", parse_strv, admin_groups),
        ITEM("Provisioning", "ReportNotReadyAtStart", parse_bool, report_not_ready_at_start),
        ITEM("Provisioning", "RegenerateSSHHostKeys", parse_bool, regenerate_ssh_host_keys),
        ITEM("Provisioning", "DeleteRootPassword", parse_bool, delete_root_password),
        ITEM("Provisioning", "SSHDConfigDropIn", parse_path, sshd_dropin),
        ITEM("Network", "Backend", parse_network_backend, network_backend),
        ITEM("Disks", "GrowRootPartition", parse_bool, grow_root),
        ITEM("Disks", "ResourceDiskFormat", parse_bool, resource_disk_format),
        ITEM("Disks", "ResourceDiskFilesystem", parse_filesystem, resource_disk_filesystem),
        ITEM("Disks", "ResourceDiskMountPoint", parse_path, resource_disk_mount_point),
        ITEM("Disks", "SwapSizeMiB", parse_u64, swap_size_mib),
        ITEM("UserData", "Sources", parse_userdata_sources, userdata_sources),
        ITEM("UserData", "AllowHTTPInclude", parse_bool, userdata_allow_http),
        ITEM("Extensions", "Directory", parse_path, extensions_dir),
        ITEM("Extensions", "SignatureValidation", parse_signature_mode, signature_mode),
        ITEM("Extensions", "CPUQuotaPercent", parse_percent, cpu_quota_percent),
        ITEM("Extensions", "MemoryMaxMiB", parse_u64, memory_max_mib),
        ITEM("Firewall", "Enable", parse_bool, firewall),
        ITEM("Firewall", "AllowUnits", parse_unit_list, firewall_allow_units),
        ITEM("Confidential", "Mode", parse_confidential_mode, confidential_mode),
        ITEM("Confidential", "SecretsDirectory", parse_path, secrets_dir),
        ITEM("Attestation", "TrustAnchors", parse_path_or_empty, attestation_trust_anchors),
        ITEM("Attestation", "Intermediates", parse_path_or_empty, attestation_intermediates),
        ITEM("Attestation", "FetchIntermediates", parse_bool, attestation_fetch_intermediates),
        ITEM("Attestation", "SignerDomains", parse_domain_list, attestation_signer_domains),
        ITEM("Attestation", "ClockSkewSec", parse_sec, attestation_clock_skew),
        ITEM("Attestation", "TPMDevice", parse_path, tpm_device),
};

int config_init(Config *c) {
        *c = (Config){
                .log_level = LOG_INFO,
                .provisioning = true,
                .extensions = true,
                .kvp = true,
                .hostgaplugin_port = 32526,
                .imds_deadline = 300 * USEC_PER_SEC,
                .health_deadline = 1200 * USEC_PER_SEC,
                .http_timeout = 10 * USEC_PER_SEC,
                .goal_state_period = 6 * USEC_PER_SEC,
                .status_keepalive = 300 * USEC_PER_SEC,
                .pps_wait_deadline = 0,
                .report_not_ready_at_start = true,
                .regenerate_ssh_host_keys = true,
                .delete_root_password = false,
                .network_backend = NETWORK_BACKEND_AUTO,
                .grow_root = true,
                .resource_disk_format = true,
                .signature_mode = SIGNATURE_MODE_REPORT,
                .cpu_quota_percent = 0,
                .memory_max_mib = 0,
                .firewall = true,
                .confidential_mode = CONFIDENTIAL_MODE_AUTO,
                .attestation_clock_skew = 60 * USEC_PER_SEC,
        };
        if (free_and_strdup(&c->state_dir, "/var/lib/azl-agent") < 0 ||
            free_and_strdup(&c->imds_url, "http://169.254.169.254") < 0 ||
            free_and_strdup(&c->imds_api_version, "2023-07-01") < 0 ||
            free_and_strdup(&c->sshd_dropin, "/etc/ssh/sshd_config.d/50-azl-agent.conf") < 0 ||
            free_and_strdup(&c->resource_disk_filesystem, "ext4") < 0 ||
            free_and_strdup(&c->resource_disk_mount_point, "/mnt") < 0 ||
            free_and_strdup(&c->extensions_dir, "/var/lib/waagent") < 0 ||
            free_and_strdup(&c->secrets_dir, "/run/azl-agent/secrets") < 0 ||
            free_and_strdup(&c->tpm_device, "/dev/tpmrm0") < 0 ||
            parse_domain_list(
                    "metadata.azure.com,metadata.azure.us,metadata.azure.cn,metadata.microsoftazure.de",
                    &c->attestation_signer_domains) < 0 ||
            strv_extend(&c->admin_groups, "wheel") < 0 || strv_extend(&c->userdata_sources, "ovf") < 0 ||
            strv_extend(&c->userdata_sources, "imds") < 0) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(Config *c) {
        free(c->state_dir);
        free(c->imds_url);
        free(c->imds_api_version);
        free(c->wireserver);
        free(c->sshd_dropin);
        free(c->resource_disk_filesystem);
        free(c->resource_disk_mount_point);
        free(c->extensions_dir);
        strv_free(c->admin_groups);
        strv_free(c->userdata_sources);
        strv_free(c->firewall_allow_units);
        free(c->secrets_dir);
        free(c->attestation_trust_anchors);
        free(c->attestation_intermediates);
        strv_free(c->attestation_signer_domains);
        free(c->tpm_device);
        strv_free(c->keys_set);
        *c = (Config){};
}

bool config_key_is_set(const Config *c, const char *section, const char *key) {
        size_t n = strlen(section);

        for (char *const *k = c->keys_set; k && *k; k++)
                if (strncasecmp(*k, section, n) == 0 && (*k)[n] == '.' && strcasecmp(*k + n + 1, key) == 0)
                        return true;
        return false;
}

static int config_key_mark_set(Config *c, const ConfigItem *item) {
        _cleanup_free_ char *k = NULL;
        int r;

        if (config_key_is_set(c, item->section, item->key))
                return 0;
        if (asprintf(&k, "%s.%s", item->section, item->key) < 0)
                return -ENOMEM;
        r = strv_push(&c->keys_set, k);
        if (r < 0)
                return r;
        k = NULL;
        return 0;
}

static const ConfigItem *config_item_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (strcasecmp(config_items[i].section, section) == 0 &&
                    strcasecmp(config_items[i].key, key) == 0)
                        return &config_items[i];
        return NULL;
}

static bool section_known(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (strcasecmp(config_items[i].section, section) == 0)
                        return true;
        return false;
}

int config_parse_buffer(Config *c, const char *filename, const char *data, size_t size) {
        _cleanup_free_ char *copy = NULL, *section = NULL;
        unsigned line = 0;
        int ret = 0;

        if (memchr(data, 0, size))
                return log_error_errno(EINVAL, "%s: contains a NUL byte, refusing.", filename);
        copy = strndup(data, size);
        if (!copy)
                return -ENOMEM;

        for (char *l = copy, *next; l; l = next) {
                const ConfigItem *item;
                char *eq, *key, *value;
                int r;

                line++;
                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                l = strstrip(l);
                if (!*l || *l == '#' || *l == ';')
                        continue;
                if (*l == '[') {
                        size_t n = strlen(l);

                        if (l[n - 1] != ']' || n < 3) {
                                ret = log_error_errno(EINVAL, "%s:%u: invalid section header '%s'.",
                                                      filename, line, l);
                                continue;
                        }
                        l[n - 1] = 0;
                        if (free_and_strdup(&section, strstrip(l + 1)) < 0)
                                return -ENOMEM;
                        if (!section_known(section))
                                log_warning("%s:%u: unknown section '%s', ignoring.", filename, line,
                                            section);
                        continue;
                }
                eq = strchr(l, '=');
                if (!eq) {
                        ret = log_error_errno(EINVAL, "%s:%u: expected 'Key=Value', got '%s'.", filename,
                                              line, l);
                        continue;
                }
                *eq = 0;
                key = strstrip(l);
                value = strstrip(eq + 1);
                if (!section) {
                        ret = log_error_errno(EINVAL, "%s:%u: assignment '%s' outside of a section.",
                                              filename, line, key);
                        continue;
                }
                item = config_item_find(section, key);
                if (!item) {
                        if (section_known(section))
                                log_warning("%s:%u: unknown key '%s' in section [%s], ignoring.", filename,
                                            line, key, section);
                        continue;
                }
                r = item->parse(value, (uint8_t *) c + item->offset);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        (void) log_error_errno(r, "%s:%u: invalid value '%s' for %s.%s.", filename, line,
                                               value, item->section, item->key);
                        ret = -EINVAL;
                        continue;
                }
                if (item->is_endpoint)
                        c->endpoints_configured = true;
                if (config_key_mark_set(c, item) < 0)
                        return -ENOMEM;
        }
        return ret;
}

static int config_load_file(Config *c, int dir_fd, const char *path, const char *display) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = read_file_in_root(dir_fd, path, CONFIG_FILE_MAX, &data, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", display);
        log_debug("Reading configuration %s", display);
        return config_parse_buffer(c, display, data, size);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int config_load_dropins(Config *c, int root_fd, const char *dir) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        int r, ret = 0;

        fd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return 0;
        if (fd < 0)
                return log_error_errno(fd, "Failed to open %s: %m", dir);
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -EBADF; /* owned by d now */
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.' || !endswith(de->d_name, ".conf"))
                        continue;
                if (strv_length(names) >= CONFIG_DROPINS_MAX) {
                        log_warning("%s: more than %u drop-ins, ignoring the rest.", dir,
                                    CONFIG_DROPINS_MAX);
                        break;
                }
                r = strv_extend(&names, de->d_name);
                if (r < 0) {
                        closedir(d);
                        return r;
                }
        }
        closedir(d);
        if (!names)
                return 0;
        qsort(names, strv_length(names), sizeof(char *), compare_strings);
        for (char **n = names; *n; n++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, *n) < 0)
                        return -ENOMEM;
                r = config_load_file(c, root_fd, path, path);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = r;
        }
        return ret;
}

int config_load(Config *c, int root_fd, const char *extra_file) {
        static const char *const files[] = {"/usr/lib/azl-agent/agent.conf", "/etc/azl-agent/agent.conf"};
        int r, ret = 0;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                r = config_load_file(c, root_fd, files[i], files[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = r;
        }
        r = config_load_dropins(c, root_fd, "/etc/azl-agent/agent.conf.d");
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                ret = r;
        if (extra_file) {
                _cleanup_free_ char *data = NULL;
                size_t size;
                int fd = open(extra_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);

                if (fd < 0)
                        return log_error_errno(errno, "Failed to open %s: %m", extra_file);
                r = read_full_fd(fd, CONFIG_FILE_MAX, &data, &size);
                (void) close(fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to read %s: %m", extra_file);
                r = config_parse_buffer(c, extra_file, data, size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = r;
        }
        return ret < 0 ? -EINVAL : 0;
}

static int format_item(const Config *c, const ConfigItem *item, FILE *f) {
        const uint8_t *p = (const uint8_t *) c + item->offset;

        fprintf(f, "%s=", item->key);
        if (item->parse == parse_bool)
                fputs(*(const bool *) p ? "yes" : "no", f);
        else if (item->parse == parse_string || item->parse == parse_path || item->parse == parse_url ||
                 item->parse == parse_host_port || item->parse == parse_filesystem ||
                 item->parse == parse_path_or_empty)
                fputs(strempty(*(char *const *) p), f);
        else if (item->parse == parse_port || item->parse == parse_percent)
                fprintf(f, "%u", *(const unsigned *) p);
        else if (item->parse == parse_u64)
                fprintf(f, "%llu", (unsigned long long) *(const uint64_t *) p);
        else if (item->parse == parse_sec)
                fprintf(f, "%llu", (unsigned long long) (*(const usec_t *) p / USEC_PER_SEC));
        else if (item->parse == parse_strv || item->parse == parse_unit_list ||
                 item->parse == parse_domain_list) {
                char *const *l = *(char **const *) p;
                for (size_t i = 0; l && l[i]; i++)
                        fprintf(f, "%s%s", i ? "," : "", l[i]);
        } else if (item->parse == parse_userdata_sources) {
                char *const *l = *(char **const *) p;
                for (size_t i = 0; l && l[i]; i++)
                        fprintf(f, "%s%s", i ? " " : "", l[i]);
                if (!l)
                        fputs("none", f);
        } else if (item->parse == parse_log_level)
                fputs(strna(log_level_to_string(*(const int *) p)), f);
        else if (item->parse == parse_network_backend)
                fputs(strna(network_backend_to_string(*(const NetworkBackend *) p)), f);
        else if (item->parse == parse_signature_mode)
                fputs(strna(signature_mode_to_string(*(const SignatureMode *) p)), f);
        else if (item->parse == parse_confidential_mode)
                fputs(strna(confidential_mode_to_string(*(const ConfidentialMode *) p)), f);
        fputc('\n', f);
        return 0;
}

int config_dump(const Config *c, char **ret) {
        _cleanup_free_ char *buf = NULL;
        const char *section = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                if (!section || !streq(section, config_items[i].section)) {
                        section = config_items[i].section;
                        fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
                }
                (void) format_item(c, &config_items[i], f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The "hostname" provisioning step. On the running system (no --root) with systemd-hostnamed running, the static
 * and transient hostnames are set through it (org.freedesktop.hostname1 SetStaticHostname/SetHostname over the
 * system bus), so that its view and its change signals stay right. Otherwise — hostnamed not running (it is
 * bus-activated: not started just for this), no reachable bus (early boot, containers), a scratch root —
 * /etc/hostname is written atomically (0644, "name\n"), plus sethostname(2) on the running system, as cloud-init
 * does. Nothing is done when the name is already in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "fileio.h"
#include "hostname.h"
#include "macro.h"
#include "provisioner.h"

#define HOSTNAME_MAX 253U
#define LABEL_MAX    63U

static bool label_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool hostname_is_valid_rfc1123(const char *s) {
        size_t label = 0, total;

        if (isempty(s))
                return false;
        total = strlen(s);
        if (total > HOSTNAME_MAX)
                return false;
        for (size_t i = 0; i <= total; i++) {
                char c = s[i];

                if (c == '.' || c == 0) {
                        /* Empty labels (leading/trailing/double dots) and a '-' at either end are invalid. */
                        if (label == 0 || s[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!label_char(c) || (label == 0 && c == '-') || ++label > LABEL_MAX)
                        return false;
        }
        return true;
}

int hostname_static_name(const char *s, char **ret) {
        char *n;

        if (!hostname_is_valid_rfc1123(s))
                return -EINVAL;
        n = strndup(s, strcspn(s, "."));
        if (!n)
                return -ENOMEM;
        *ret = n;
        return 0;
}

#define HOSTNAME1_DEST "org.freedesktop.hostname1"
#define HOSTNAME1_PATH "/org/freedesktop/hostname1"

/* Returns 0 unchanged, 1 changed, -ENOTCONN when the system bus (or hostnamed) is unavailable. */
static int set_via_hostnamed(const char *name) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *current = NULL;
        int r;

        if (sd_bus_open_system(&bus) < 0)
                return -ENOTCONN;
        /* Only a running hostnamed: activating it (a bus-activated service) costs a process start — 0.9 s of a
         * first boot under emulation — to write one file; a hostnamed started later reads /etc/hostname. */
        if (sd_bus_get_name_creds(bus, HOSTNAME1_DEST, 0, NULL) < 0)
                return -ENOTCONN;
        r = sd_bus_get_property_string(bus, HOSTNAME1_DEST, HOSTNAME1_PATH, HOSTNAME1_DEST, "StaticHostname",
                                       NULL, &current);
        if (r < 0)
                return -ENOTCONN;
        if (streq(current, name))
                return 0;
        /* hostnamed D-Bus API (org.freedesktop.hostname1(5)): (s hostname, b interactive). */
        r = sd_bus_call_method(bus, HOSTNAME1_DEST, HOSTNAME1_PATH, HOSTNAME1_DEST, "SetStaticHostname",
                               NULL, NULL, "sb", name, 0);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, HOSTNAME1_DEST, HOSTNAME1_PATH, HOSTNAME1_DEST, "SetHostname", NULL,
                               NULL, "sb", name, 0);
        return r < 0 ? r : 1;
}

static int set_via_file(Context *c, const char *name) {
        _cleanup_free_ char *current = NULL, *content = NULL;
        int r;

        r = read_one_line_in_root(c->root_fd, "/etc/hostname", 4096, &current);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0 && streq(current, name))
                return 0;
        if (asprintf(&content, "%s\n", name) < 0)
                return -ENOMEM;
        r = write_string_file_atomic_in_root(c->root_fd, "/etc/hostname", content, 0644, WRITE_MKDIR);
        if (r < 0)
                return r;
        if (!c->root && sethostname(name, strlen(name)) < 0)
                return negative_errno();
        return 1;
}

static int hostname_apply(Context *c, const ProvisionData *d, char **ret_summary) {
        _cleanup_free_ char *name = NULL;
        const char *how = "/etc/hostname";
        int r;

        if (!d->hostname) {
                if (ret_summary)
                        *ret_summary = strdup("no hostname given");
                return 0;
        }
        if (d->hostname_fqdn) {
                /* cloud-config prefer_fqdn_over_hostname: the whole FQDN is the static hostname */
                if (!hostname_is_valid_rfc1123(d->hostname) || strlen(d->hostname) > 64)
                        return -EINVAL;
                name = strdup(d->hostname);
                r = name ? 0 : -ENOMEM;
        } else
                r = hostname_static_name(d->hostname, &name);
        if (r < 0)
                return r;
        r = -ENOTCONN;
        if (!c->root) {
                r = set_via_hostnamed(name);
                how = "systemd-hostnamed";
        }
        if (r == -ENOTCONN) {
                r = set_via_file(c, name);
                how = "/etc/hostname";
        }
        if (r < 0)
                return r;
        if (ret_summary &&
            asprintf(ret_summary, "hostname '%s' %s (%s)", name, r > 0 ? "set" : "already set", how) < 0)
                return -ENOMEM;
        return r;
}

const Provisioner provisioner_hostname = {
        .name = "hostname",
        .apply = hostname_apply,
};

/* SPDX-License-Identifier: MIT */
/*
 * Packages for the extension executor: its requests (ext-executor.h, one at a time, in plan order) are answered
 * by the Azure client (imds-client/artifact-download.c: manifest, version, zip streamed into an anonymous file,
 * each location directly and then through the HostGAPlugin).
 */
#include "daemon-internal.h"
#include "log.h"

static bool daemon_fast_track(Daemon *d) {
        return d->current && d->current->channel == GOAL_STATE_CHANNEL_HOSTGAPLUGIN;
}

static void on_package(const char *name, const char *version, const PackageResult *res, void *userdata) {
        Daemon *d = userdata;

        if (!d->executor)
                return;
        if (res->error < 0) {
                log_warning("Download of %s %s failed: %s", name, version, strna(res->failure));
                return ext_executor_package_failed(d->executor, res->code, res->failure ?: "Download failed");
        }
        log_info("Downloaded %s %s (%zu bytes%s).", name, version, res->size,
                 res->via_hgap ? " via HostGAPlugin" : "");
        ext_executor_package_ready(d->executor, res->fd);
}

int daemon_package_request(ExtExecutor *e, const char *name, const char *version, const ExtensionHandler *handler,
                           void *userdata) {
        Daemon *d = userdata;

        if (!handler)
                return -ENOENT;
        log_info("Downloading %s %s.", name, version);
        return azure_client_fetch_package(d->client, handler, version, daemon_fast_track(d), on_package, d);
}

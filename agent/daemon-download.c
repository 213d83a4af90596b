/* SPDX-License-Identifier: MIT */
/*
 * Packages for the extension executor: its requests (ext-executor.h, one at a time, in plan order) are answered
 * by the Azure client (imds-client/artifact-download.c: manifest, version, zip streamed into an anonymous file,
 * each location directly and then through the HostGAPlugin). The fetch of a package the plan needs later is
 * already under way by then: daemon_prefetch_packages() starts them all when a run begins, and the client runs
 * AZURE_DOWNLOADS_MAX of them at a time on the event loop. A package that is already downloaded is unpacked
 * while the command before it runs (daemon_package_ready(), ext-executor.c prepare_ahead()).
 */
#include "daemon-internal.h"
#include "ext-plan.h"
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
                return ext_executor_package_failed(d->executor, res->code,
                                                   res->failure ?: "Download failed");
        }
        log_info("Downloaded %s %s (%zu bytes%s).", name, version, res->size,
                 res->via_hgap ? " via HostGAPlugin" : "");
        d->timings.manifests += res->manifest_usec;
        d->timings.packages += res->package_usec;
        d->timings.downloads++;
        usec_t start = now_usec(CLOCK_MONOTONIC);
        ext_executor_package_ready(d->executor, res->fd); /* verifies and extracts it */
        d->timings.extraction += now_usec(CLOCK_MONOTONIC) - start;
}

int daemon_package_request(ExtExecutor *e, const char *name, const char *version,
                           const ExtensionHandler *handler, void *userdata) {
        Daemon *d = userdata;

        if (!handler)
                return -ENOENT;
        log_info("Downloading %s %s.", name, version);
        return azure_client_fetch_package(d->client, handler, version, daemon_fast_track(d), on_package, d);
}

bool daemon_package_ready(ExtExecutor *e, const char *name, const char *version,
                          const ExtensionHandler *handler, void *userdata) {
        Daemon *d = userdata;

        return azure_client_package_done(d->client, name, version);
}

void daemon_prefetch_packages(Daemon *d) {
        const ExtPlan *plan = ext_executor_plan(d->executor);
        int r;

        azure_client_drop_prefetched(d->client);
        for (size_t i = 0; plan && i < plan->n_ops; i++) {
                const ExtOp *op = &plan->ops[i];
                const ExtPlanGroup *g = &plan->groups[op->group];

                if (op->type != EXT_OP_DOWNLOAD || !g->handler_gs)
                        continue;
                r = azure_client_prefetch_package(d->client, g->handler_gs, op->version,
                                                  daemon_fast_track(d));
                if (r == -ENOMEM)
                        return (void) log_oom();
                if (r < 0 && r != -ENOENT)
                        log_debug_errno(r, "Cannot prefetch %s %s, it is fetched when needed: %m",
                                        g->handler, op->version);
        }
}

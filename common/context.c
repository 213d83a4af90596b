/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "context.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

int context_init(Context *c, const char *root, char *const *env) {
        int r;

        *c = (Context) { .root_fd = -EBADF, .env = env };
        r = config_init(&c->config);
        if (r < 0)
                return r;
        r = root_open(root, &c->root_fd);
        if (r < 0) {
                context_done(c);
                return r;
        }
        if (root && !streq(root, "/")) {
                c->root = realpath(root, NULL);
                if (!c->root) {
                        r = negative_errno();
                        context_done(c);
                        return r;
                }
        }
        return 0;
}

void context_done(Context *c) {
        config_done(&c->config);
        confidential_state_done(&c->confidential);
        closep(&c->root_fd);
        c->root_fd = -EBADF;
        free(c->root);
        c->root = NULL;
}

int context_endpoints_allowed(const Context *c, char **ret_reason) {
        char *reason = NULL;
        int r = 0;

        if (c->platform.platform == PLATFORM_WSL) {
                r = asprintf(&reason, "running under WSL (%s): Azure endpoints are never contacted there; "
                                      "'azl-agent wsl-setup' creates the user",
                             c->platform.reason);
                r = r < 0 ? -ENOMEM : -EHOSTUNREACH;
        } else if (c->platform.platform == PLATFORM_AZURE)
                r = asprintf(&reason, "Azure detected: %s", c->platform.reason) < 0 ? -ENOMEM : 0;
        else if (c->config.endpoints_configured)
                r = asprintf(&reason, "endpoints configured explicitly in [Endpoints]") < 0 ? -ENOMEM : 0;
        else if (c->config.allow_non_azure)
                r = asprintf(&reason, "[Endpoints] AllowNonAzure=yes") < 0 ? -ENOMEM : 0;
        else {
                r = asprintf(&reason,
                             "not running on Azure (%s) and no endpoint configured in [Endpoints]; refusing to "
                             "contact 169.254.169.254 or 168.63.129.16",
                             c->platform.reason);
                r = r < 0 ? -ENOMEM : -EHOSTUNREACH;
        }
        if (r == -ENOMEM)
                return r;
        if (ret_reason)
                *ret_reason = reason;
        else
                free(reason);
        return r;
}

int context_confidential_setup(Context *c) {
        int r;

        confidential_state_done(&c->confidential);
        r = confidential_state_load(c->root_fd, c->config.state_dir, &c->confidential);
        if (r == -ENOMEM)
                return r;
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Ignoring %s/" CONFIDENTIAL_STATE_FILE ": %m", c->config.state_dir);
        if (r < 0)
                c->confidential = (ConfidentialState) { .secure_boot = -1, .virtual_tpm = -1,
                                                        .encryption_at_host = -1 };
        return confidential_evaluate(&c->confidential, &c->platform, &c->config);
}

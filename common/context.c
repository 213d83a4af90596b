/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "context.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

int context_init(Context *c, const char *root, char *const *env) {
        int r;

        *c = (Context){.root_fd = -EBADF, .env = env};
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

int context_endpoints_allowed(const Context *c, Error *reason) {
        if (c->platform.platform == PLATFORM_WSL)
                return error_setf(reason, -EHOSTUNREACH,
                                  "running under WSL (%s): Azure endpoints are never contacted there; "
                                  "'azl-agent wsl-setup' creates the user",
                                  c->platform.reason);
        if (c->platform.platform == PLATFORM_AZURE)
                return error_setf(reason, 0, "Azure detected: %s", c->platform.reason);
        if (c->config.endpoints_configured)
                return error_set(reason, 0, "endpoints configured explicitly in [Endpoints]");
        if (c->config.allow_non_azure)
                return error_set(reason, 0, "[Endpoints] AllowNonAzure=yes");
        return error_setf(reason, -EHOSTUNREACH,
                          "not running on Azure (%s) and no endpoint configured in [Endpoints]; refusing to "
                          "contact 169.254.169.254 or 168.63.129.16",
                          c->platform.reason);
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
                c->confidential =
                        (ConfidentialState){.secure_boot = -1, .virtual_tpm = -1, .encryption_at_host = -1};
        return confidential_evaluate(&c->confidential, &c->platform, &c->config);
}

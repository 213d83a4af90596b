/* SPDX-License-Identifier: MIT */
/* `azl-agent config`: the effective configuration after the whole chain, as an agent.conf. */
#include <stdio.h>

#include "agent.h"
#include "macro.h"

int verb_config(Context *c, int argc, char **argv) {
        _cleanup_free_ char *s = NULL;
        int r = config_dump(&c->config, &s);

        if (r < 0)
                return r;
        fputs(s, stdout);
        return 0;
}

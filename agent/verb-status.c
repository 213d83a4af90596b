/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent status`: is this VM provisioned, and what does the agent know. Reads the state file the
 * provisioning run writes (<StateDirectory>/state.json). The D-Bus source and the full screen come with
 * the status work (issue #9); this prints what the state file and platform detection say, and which source
 * it used.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "agent.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

#define STATE_FILE_MAX (1024U * 1024U)

static const char *json_get_string(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int verb_status(Context *c, int argc, char **argv) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        struct json_object *state = NULL;
        size_t size;
        int r;

        printf("platform: %s (%s)\n", platform_to_string(c->platform.platform), c->platform.reason);
        if (asprintf(&path, "%s/state.json", c->config.state_dir) < 0)
                return log_oom();
        r = read_file_in_root(c->root_fd, path, STATE_FILE_MAX, &data, &size);
        if (r == -ENOENT) {
                printf("provisioning: not run (no %s)\n", path);
                printf("source: state file\n");
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        state = json_tokener_parse(data);
        if (!state || !json_object_is_type(state, json_type_object)) {
                json_object_put(state);
                return log_error_errno(EBADMSG, "%s is not a JSON object.", path);
        }
        printf("provisioning: %s\n", strna(json_get_string(state, "state")));
        printf("vm-id: %s\n", strna(json_get_string(state, "vm_id")));
        printf("source: state file %s\n", path);
        json_object_put(state);
        return 0;
}

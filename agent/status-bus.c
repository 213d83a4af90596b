/* SPDX-License-Identifier: MIT */
/* The client half of the D-Bus API for `azl-agent status` (status-bus.h; the server is daemon-bus.c). */
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "log.h"
#include "macro.h"
#include "status-bus.h"

#define BUS_NAME "org.azurelinux.Agent1"
#define BUS_PATH "/org/azurelinux/Agent1"

static void extension_done(StatusBusExtension *e) {
        free(e->name);
        free(e->version);
        free(e->extension);
        free(e->status);
        free(e->message);
        free(e->settings_status);
        free(e->settings_message);
}

void status_bus_done(StatusBus *s) {
        provision_state_done(&s->prov);
        free(s->incarnation);
        free(s->etag);
        free(s->extensions_goal_state);
        free(s->firewall_state);
        free(s->firewall_detail);
        for (size_t i = 0; i < s->n_extensions; i++)
                extension_done(&s->extensions[i]);
        free(s->extensions);
        userdata_status_done(&s->userdata);
        *s = (StatusBus){};
}

/* NULL for "" (the API's "none"), a copy otherwise. */
static int dup_nonempty(const char *v, char **ret) {
        return free_and_strdup(ret, isempty(v) ? NULL : v);
}

static int read_skipped(sd_bus_message *m, ProvisionState *p) {
        const char *step, *item, *reason;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(sss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(sss)", &step, &item, &reason)) > 0) {
                r = provision_state_add_skipped(p, step, item, reason);
                if (r < 0 && r != -E2BIG)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_steps(sd_bus_message *m, ProvisionState *p) {
        const char *name, *result, *summary;
        uint64_t duration;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(ssts)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(ssts)", &name, &result, &duration, &summary)) > 0) {
                StepResult sr = step_result_from_string(result);

                if (sr < 0)
                        return -EBADMSG;
                r = provision_state_add_step(p, name, sr, duration, isempty(summary) ? NULL : summary);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_extensions(sd_bus_message *m, StatusBus *s) {
        const char *name, *version, *ext, *status, *message, *sstatus, *smessage;
        int32_t code, scode;
        uint32_t seq;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(ssssissisu)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(ssssissisu)", &name, &version, &ext, &status, &code, &message,
                                        &sstatus, &scode, &smessage, &seq)) > 0) {
                StatusBusExtension *e, *n;

                if (s->n_extensions >= STATUS_BUS_EXTENSIONS_MAX)
                        return -E2BIG;
                n = reallocarray(s->extensions, s->n_extensions + 1, sizeof *n);
                if (!n)
                        return -ENOMEM;
                s->extensions = n;
                e = &s->extensions[s->n_extensions++];
                *e = (StatusBusExtension){.code = code, .settings_code = scode, .seq_no = seq};
                if (dup_nonempty(name, &e->name) < 0 || dup_nonempty(version, &e->version) < 0 ||
                    dup_nonempty(ext, &e->extension) < 0 || dup_nonempty(status, &e->status) < 0 ||
                    dup_nonempty(message, &e->message) < 0 ||
                    dup_nonempty(sstatus, &e->settings_status) < 0 ||
                    dup_nonempty(smessage, &e->settings_message) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_userdata_scripts(sd_bus_message *m, UserDataStatus *u) {
        const char *name, *freq, *state, *output;
        uint64_t started, finished;
        int32_t exit_status;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(sssitts)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(sssitts)", &name, &freq, &state, &exit_status, &started,
                                        &finished, &output)) > 0) {
                UdScriptStatus *sc = userdata_status_script(u, name, freq);

                if (!sc)
                        return -ENOMEM;
                sc->exit_status = exit_status;
                sc->started_at = started;
                sc->finished_at = finished;
                if (dup_nonempty(state, &sc->state) < 0 || dup_nonempty(output, &sc->output) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_strv(sd_bus_message *m, char ***ret) {
        const char *v;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "s", &v)) > 0)
                if (strv_extend(ret, v) < 0)
                        return -ENOMEM;
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_property(sd_bus_message *m, const char *name, const char *type, StatusBus *s) {
        static const struct {
                const char *name;
                size_t offset;
        } strings[] =
                {
                        {"ProvisioningState", offsetof(StatusBus, prov.state)},
                        {"VmId", offsetof(StatusBus, prov.vm_id)},
                        {"Platform", offsetof(StatusBus, prov.platform)},
                        {"ProvisioningReason", offsetof(StatusBus, prov.reason)},
                        {"GoalStateIncarnation", offsetof(StatusBus, incarnation)},
                        {"GoalStateEtag", offsetof(StatusBus, etag)},
                        {"ExtensionsGoalState", offsetof(StatusBus, extensions_goal_state)},
                        {"UserDataState", offsetof(StatusBus, userdata.state)},
                        {"FirewallState", offsetof(StatusBus, firewall_state)},
                        {"FirewallDetail", offsetof(StatusBus, firewall_detail)},
                },
          times[] = {
                  {"ProvisioningStartTimestamp", offsetof(StatusBus, prov.started_at)},
                  {"ProvisioningFinishTimestamp", offsetof(StatusBus, prov.finished_at)},
                  {"GoalStateTimestamp", offsetof(StatusBus, goal_state_at)},
                  {"LastStatusUploadTimestamp", offsetof(StatusBus, last_upload_at)},
                  {"StatusUploads", offsetof(StatusBus, n_uploads)},
          };
        const char *v, *sub;
        uint64_t t;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (streq(name, strings[i].name) && streq(type, "s")) {
                        r = sd_bus_message_read(m, "s", &v);
                        if (r < 0)
                                return r;
                        return dup_nonempty(v, (char **) ((uint8_t *) s + strings[i].offset));
                }
        for (size_t i = 0; i < ELEMENTSOF(times); i++)
                if (streq(name, times[i].name) && streq(type, "t")) {
                        r = sd_bus_message_read(m, "t", &t);
                        if (r < 0)
                                return r;
                        *(uint64_t *) ((uint8_t *) s + times[i].offset) = t;
                        return 0;
                }
        if (streq(name, "ProvisioningSteps") && streq(type, "a(ssts)"))
                return read_steps(m, &s->prov);
        if (streq(name, "ProvisioningSkipped") && streq(type, "a(sss)"))
                return read_skipped(m, &s->prov);
        if (streq(name, "Extensions") && streq(type, "a(ssssissisu)"))
                return read_extensions(m, s);
        if (streq(name, "UserDataScripts") && streq(type, "a(sssitts)"))
                return read_userdata_scripts(m, &s->userdata);
        if (streq(name, "UserDataUnsupported") && streq(type, "as"))
                return read_strv(m, &s->userdata.unsupported);
        if (streq(name, "LastHealth") && streq(type, "(sst)")) {
                r = sd_bus_message_read(m, "(sst)", &v, &sub, &t);
                if (r < 0)
                        return r;
                s->prov.health_at = t;
                if (dup_nonempty(v, &s->prov.health_reported) < 0 ||
                    dup_nonempty(sub, &s->prov.health_substatus) < 0)
                        return -ENOMEM;
                return 0;
        }
        return sd_bus_message_skip(m, type);
}

int status_bus_read(StatusBus *ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(status_bus_done) StatusBus s = {};
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_debug_errno(r, "No system bus: %m");
                return -ENXIO;
        }
        (void) sd_bus_set_method_call_timeout(bus, STATUS_BUS_TIMEOUT);
        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll", &error,
                               &reply, "s", BUS_NAME);
        if (r < 0) {
                log_debug("The daemon is not on the system bus: %s", error.message ?: strerror(-r));
                return -ENXIO;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name, *type;

                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(reply, NULL, &type);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(reply, 'v', type);
                if (r < 0)
                        return r;
                r = read_property(reply, name, type, &s);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!s.prov.state)
                return -EBADMSG;
        *ret = s;
        s = (StatusBus){};
        return 0;
}

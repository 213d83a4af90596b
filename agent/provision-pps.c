/* SPDX-License-Identifier: MIT */
/*
 * Pre-provisioned VM pools (PPS). Azure boots pool VMs ahead of demand with a placeholder identity; the
 * agent reports Ready for the pool, waits until the VM is handed to a customer, fetches the real
 * provisioning document (an ovf-env.xml) from IMDS /metadata/reprovisiondata and provisions with it. Only
 * cloud-init implements this among the peers; its DataSourceAzure is the model (protocol §6.3,
 * §6.5):
 *
 *  - Running: report Ready (+ marker), watch netlink until the primary NIC's carrier goes down and comes
 *    back (the VNet switch), then poll reprovisiondata;
 *  - Savable: report Ready (+ marker; a failed report is expected, the VM may be suspended mid-call), wait
 *    for the primary NIC's detach and a hot-attached NIC, bring that link up (10 s for carrier, then go on
 *    anyway, as cloud-init), then poll;
 *  - Legacy, PreprovisionedVm=true without a type: report Ready (+ marker) and poll at once (older
 *    cloud-init; polling survives a NIC bounce because transport errors are retried);
 *  - Resumed, the marker exists (a reboot or crash mid-wait; cloud-init's "Unknown"): no second Ready, poll.
 *
 * The netlink socket is opened and the links listed before Ready is reported, so a switch that follows the
 * report at once is not missed. The wait is an sd-event loop (netlink io, deadline, unit-timeout keepalive).
 * Polling uses the IMDS client: Metadata header, 404/410/429/500/503 and transport errors retried with a
 * 1 s … 5 s backoff (cloud-init polls about every second and retries 404/410/429).
 *
 * Deadlines: [Timeouts] PreprovisionedWaitSec= bounds the wait for the handover (the NIC events; for Legacy
 * and Resumed the polling itself); 0, the default, waits as long as the pool keeps the VM, as cloud-init
 * does. After a NIC event the data must arrive within IMDSDeadlineSec=. While waiting the agent extends the
 * oneshot unit's start timeout (EXTEND_TIMEOUT_USEC, NotifyAccess=main).
 *
 * The marker (<state_dir>/pps-reported-ready) is removed by the caller once the VM is provisioned, not when
 * the data arrives: a crash in between must resume by polling (the data is still served), not wait for a NIC
 * switch that already happened.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "media.h"
#include "netlink-util.h"
#include "network.h"
#include "provision-engine.h"
#include "provision-pps.h"
#include "string-table.h"

static const char *const pps_type_table[_PPS_TYPE_MAX] = {
        [PPS_NONE] = "None",     [PPS_RUNNING] = "Running", [PPS_SAVABLE] = "Savable",
        [PPS_LEGACY] = "Legacy", [PPS_RESUMED] = "Resumed", [PPS_OS_DISK] = "PreprovisionedOSDisk",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pps_type, PpsType);

PpsType pps_type_determine(bool marker, bool ovf_preprovisioned_vm, const char *ovf_type,
                           ImdsPpsType imds_type) {
        if (marker)
                return PPS_RESUMED;
        if (streq_ptr(ovf_type, "Savable") || imds_type == IMDS_PPS_SAVABLE)
                return PPS_SAVABLE;
        if (streq_ptr(ovf_type, "PreprovisionedOSDisk"))
                return PPS_OS_DISK;
        if (streq_ptr(ovf_type, "Running") || imds_type == IMDS_PPS_RUNNING)
                return PPS_RUNNING;
        if (ovf_preprovisioned_vm)
                return PPS_LEGACY;
        return PPS_NONE;
}

/* Running and Savable wait for a NIC event before polling; the others poll at once. */
static bool waits_for_nic(PpsType t) {
        return t == PPS_RUNNING || t == PPS_SAVABLE;
}

static int marker_path(const Context *c, char **ret) {
        return asprintf(ret, "%s/%s", c->config.state_dir, PPS_MARKER) < 0 ? -ENOMEM : 0;
}

int pps_marker_exists(const Context *c) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = marker_path(c, &path);
        if (r < 0)
                return r;
        r = access_in_root(c->root_fd, path);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : 1;
}

int pps_marker_write(const Context *c, PpsType type, const char *vm_id) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        char ts[64] = "";
        int r;

        r = marker_path(c, &path);
        if (r < 0)
                return r;
        (void) format_timestamp_iso(now_usec(CLOCK_REALTIME), ts, sizeof ts);
        if (asprintf(&text, "type=%s\nvm_id=%s\nreported_at=%s\n", pps_type_to_string(type), strna(vm_id),
                     ts) < 0)
                return -ENOMEM;
        r = mkdir_p_in_root(c->root_fd, c->config.state_dir, 0700);
        if (r < 0)
                return r;
        return write_string_file_atomic_in_root(c->root_fd, path, text, 0644, 0);
}

int pps_marker_remove(const Context *c) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = marker_path(c, &path);
        if (r < 0)
                return r;
        r = unlink_in_root(c->root_fd, path);
        return r == -ENOENT ? 0 : r;
}

/* azl-provision.service is a oneshot with TimeoutStartSec=30min; a pool VM may wait far longer. */
static void extend_unit_timeout(usec_t by) {
        (void) sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%" PRIu64, (uint64_t) by);
}

/* "3s" for whole seconds (configured deadlines), else format_timespan()'s "2.134s". */
static const char *span(usec_t u, char *buf, size_t size) {
        if (u % USEC_PER_SEC == 0)
                (void) snprintf(buf, size, "%" PRIu64 "s", (uint64_t) (u / USEC_PER_SEC));
        else if (format_timespan(u, buf, size) < 0)
                (void) snprintf(buf, size, "%" PRIu64 "us", (uint64_t) u);
        return buf;
}

/* ---- Waiting for the NIC events ---- */

typedef enum NicPhase {
        NIC_CARRIER_DOWN, /* Running: the primary's carrier has to drop … */
        NIC_CARRIER_UP,   /* … and come back */
        NIC_DETACH,       /* Savable: the primary NIC has to go away … */
        NIC_ATTACH,       /* … and a new one appear … */
        NIC_NEW_LINK_UP,  /* … and get carrier (PPS_LINK_UP_TIMEOUT, then we go on anyway) */
        NIC_DONE,
} NicPhase;

typedef struct NicWait {
        PpsType type;
        int root_fd;
        sd_event *event;
        NetlinkMonitor *monitor;
        sd_event_source *io, *deadline, *keepalive, *link_up;
        NicPhase phase;
        NlLink primary; /* ifindex 0: no link with the IMDS primary MAC (Savable only) */
        char primary_mac[18];
        NlLink pending;   /* Savable: a candidate that appeared before the detach was seen */
        NlLink attached;  /* Savable: the hot-attached NIC */
        bool no_carrier;  /* went on after PPS_LINK_UP_TIMEOUT without carrier */
        IfindexSet known; /* links present (to tell a new link from a state change) */
        usec_t start, event_at, done_at;
        int error;
} NicWait;

static void nic_wait_done(NicWait *w) {
        sd_event_source_disable_unref(w->io);
        sd_event_source_disable_unref(w->deadline);
        sd_event_source_disable_unref(w->keepalive);
        sd_event_source_disable_unref(w->link_up);
        netlink_monitor_free(w->monitor);
        sd_event_unref(w->event);
        ifindex_set_done(&w->known);
        *w = (NicWait){};
}

static void nic_wait_finish(NicWait *w, int error) {
        w->error = error;
        if (error >= 0) {
                w->phase = NIC_DONE;
                w->done_at = now_usec(CLOCK_MONOTONIC);
        }
        (void) sd_event_exit(w->event, 0);
}

/* A hot-attached NIC: an Ethernet link with a MAC, not enslaved, not an Accelerated Networking VF. */
static bool link_is_nic(const NicWait *w, const NlLink *l) {
        _cleanup_free_ char *driver = NULL;

        if ((l->flags & IFF_LOOPBACK) || !l->has_mac || l->arptype != ARPHRD_ETHER || l->master > 0)
                return false;
        return !(network_link_driver(w->root_fd, l->name, &driver) >= 0 && network_driver_is_vf(driver));
}

static int on_link_up_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        NicWait *w = userdata;
        char buf[32];

        /* cloud-init waits 100 × 0.1 s for the link and then tries DHCP anyway; polling retries meanwhile.
         */
        log_warning("Hot-attached NIC %s has no carrier after %s, continuing.", w->attached.name,
                    span(PPS_LINK_UP_TIMEOUT, buf, sizeof buf));
        w->no_carrier = true;
        nic_wait_finish(w, 0);
        return 0;
}

static void adopt_attached(NicWait *w, const NlLink *l) {
        _cleanup_(netlink_context_freep) NetlinkContext *nl = NULL;
        char mac[18];
        int r;

        w->attached = *l;
        w->pending = (NlLink){};
        w->phase = NIC_NEW_LINK_UP;
        network_mac_format(l->mac, true, mac, sizeof mac);
        log_info("NIC %s (%s) hot-attached, bringing it up.", l->name, mac);
        r = netlink_context_new(&nl);
        if (r >= 0)
                r = netlink_link_set_up(nl, l->ifindex);
        if (r < 0 && r != -EEXIST)
                log_warning_errno(r, "Failed to bring %s up, waiting for it anyway: %m", l->name);
        if (l->flags & IFF_RUNNING)
                return nic_wait_finish(w, 0);
        w->link_up = sd_event_source_disable_unref(w->link_up);
        r = sd_event_add_time_relative(w->event, &w->link_up, CLOCK_MONOTONIC, PPS_LINK_UP_TIMEOUT, 0,
                                       on_link_up_timeout, w);
        if (r < 0)
                nic_wait_finish(w, r);
}

/* Every RTM_NEWLINK (state changes included) and RTM_DELLINK, in order. */
static void on_link(bool removed, const NlLink *link, void *userdata) {
        NicWait *w = userdata;
        bool added = false;
        int r;

        if (w->phase == NIC_DONE || w->error < 0 || link->ifindex <= 0)
                return;
        if (removed)
                (void) ifindex_set_remove(&w->known, link->ifindex);
        else {
                r = ifindex_set_add(&w->known, link->ifindex);
                if (r < 0)
                        return nic_wait_finish(w, r);
                added = r > 0;
        }

        switch (w->phase) {
        case NIC_CARRIER_DOWN:
        case NIC_CARRIER_UP:
                if (link->ifindex != w->primary.ifindex) {
                        /* The NIC was re-created: follow its name, as cloud-init does. */
                        if (removed || !added || !streq(link->name, w->primary.name))
                                return;
                        w->primary.ifindex = link->ifindex;
                }
                if (removed || !(link->flags & IFF_RUNNING)) {
                        if (w->phase == NIC_CARRIER_DOWN) {
                                w->phase = NIC_CARRIER_UP;
                                w->event_at = now_usec(CLOCK_MONOTONIC);
                                log_info("Primary NIC %s lost its carrier (VNet switch), waiting for it to "
                                         "return.",
                                         w->primary.name);
                        }
                } else if (w->phase == NIC_CARRIER_UP) {
                        log_info("Primary NIC %s is up again.", w->primary.name);
                        nic_wait_finish(w, 0);
                }
                return;
        case NIC_DETACH:
                if (removed && link->ifindex == w->primary.ifindex) {
                        w->event_at = now_usec(CLOCK_MONOTONIC);
                        log_info("Primary NIC %s detached, waiting for a hot-attached NIC.",
                                 w->primary.name);
                        if (w->pending.ifindex > 0)
                                adopt_attached(w, &w->pending);
                        else
                                w->phase = NIC_ATTACH;
                } else if (removed && link->ifindex == w->pending.ifindex)
                        w->pending = (NlLink){};
                else if (added && w->pending.ifindex == 0 && link_is_nic(w, link))
                        w->pending = *link;
                return;
        case NIC_ATTACH:
                if (added && link_is_nic(w, link))
                        adopt_attached(w, link);
                return;
        case NIC_NEW_LINK_UP:
                if (link->ifindex != w->attached.ifindex)
                        return;
                if (removed) {
                        log_warning("Hot-attached NIC %s went away again, waiting for another one.",
                                    link->name);
                        w->link_up = sd_event_source_disable_unref(w->link_up);
                        w->attached = (NlLink){};
                        w->phase = NIC_ATTACH;
                } else if (link->flags & IFF_RUNNING) {
                        w->attached = *link;
                        nic_wait_finish(w, 0);
                }
                return;
        case NIC_DONE:
                return;
        }
}

/* The kernel dropped notifications (ENOBUFS): list the links and replay the difference. */
static void resync(NicWait *w) {
        _cleanup_(netlink_context_freep) NetlinkContext *nl = NULL;
        _cleanup_free_ NlLink *links = NULL;
        size_t n = 0;
        int r;

        if (w->phase == NIC_DONE || w->error < 0)
                return;
        r = netlink_context_new(&nl);
        if (r >= 0)
                r = netlink_link_list(nl, &links, &n);
        if (r < 0) {
                log_debug_errno(r, "Failed to list links after a netlink overrun: %m");
                return;
        }
        /* Removed from the set here, not by on_link(): it returns early once the wait is over. */
        for (int gone; ifindex_set_pop_missing(&w->known, links, n, &gone) > 0;)
                on_link(true, &(NlLink){.ifindex = gone}, w);
        for (size_t j = 0; j < n; j++)
                on_link(false, &links[j], w);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        NicWait *w = userdata;
        int r;

        r = netlink_monitor_receive(w->monitor);
        if (r == -ENOBUFS)
                resync(w);
        else if (r < 0)
                log_debug_errno(r, "Reading netlink notifications failed, continuing: %m");
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        nic_wait_finish(userdata, -ETIMEDOUT);
        return 0;
}

static int on_keepalive(sd_event_source *s, uint64_t usec, void *userdata) {
        extend_unit_timeout(2 * PPS_POLL_CHUNK);
        if (sd_event_source_set_time_relative(s, PPS_POLL_CHUNK) >= 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/*
 * Subscribes to link notifications and finds the primary NIC (IMDS network.interface[0], matched by MAC as
 * the network step does). Done before Ready is reported. -ENODEV for Running without that link.
 */
static int nic_wait_prepare(NicWait *w, ProvisionRun *p, PpsType type) {
        _cleanup_(network_config_done) NetworkConfig cfg = {};
        _cleanup_(netlink_context_freep) NetlinkContext *nl = NULL;
        NetworkLink *links = NULL;
        size_t n = 0, idx;
        JsonError err = {};
        int r;

        w->type = type;
        w->root_fd = p->c->root_fd;
        r = sd_event_new(&w->event);
        if (r < 0)
                return r;
        r = netlink_monitor_new(on_link, w, &w->monitor);
        if (r < 0)
                return r;
        r = netlink_context_new(&nl);
        if (r < 0)
                return r;
        r = network_links_load(nl, w->root_fd, &links, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = ifindex_set_add(&w->known, links[i].link.ifindex);
        if (r >= 0 && p->have_imds && p->imds.network &&
            network_parse_imds(p->imds.network, &cfg, &err) >= 0 && cfg.n_interfaces > 0) {
                network_mac_format(cfg.interfaces[0].mac, true, w->primary_mac, sizeof w->primary_mac);
                if (network_link_pick(&cfg.interfaces[0], links, n, &idx, NULL) >= 0)
                        w->primary = links[idx].link;
        }
        network_links_free(links, n);
        if (r < 0)
                return r;

        if (type == PPS_RUNNING) {
                if (w->primary.ifindex <= 0)
                        return -ENODEV;
                w->phase = w->primary.flags & IFF_RUNNING ? NIC_CARRIER_DOWN : NIC_CARRIER_UP;
                if (w->phase == NIC_CARRIER_UP)
                        log_info("Primary NIC %s has no carrier yet, waiting for it.", w->primary.name);
        } else if (w->primary.ifindex > 0)
                w->phase = NIC_DETACH;
        else {
                /* cloud-init: "Preprovisioned nic not detached as expected. Proceeding without waiting". */
                log_warning("No link has the primary NIC's MAC %s: not waiting for its detach.",
                            w->primary_mac[0] ? w->primary_mac : "(IMDS has no network data)");
                w->phase = NIC_ATTACH;
        }
        return sd_event_add_io(w->event, &w->io, netlink_monitor_fd(w->monitor), EPOLLIN, on_io, w);
}

static int nic_wait_run(NicWait *w, usec_t deadline) {
        int r;

        w->start = now_usec(CLOCK_MONOTONIC);
        if (deadline > 0) {
                r = sd_event_add_time_relative(w->event, &w->deadline, CLOCK_MONOTONIC, deadline, 0,
                                               on_deadline, w);
                if (r < 0)
                        return r;
        }
        r = sd_event_add_time_relative(w->event, &w->keepalive, CLOCK_MONOTONIC, 0, 0, on_keepalive, w);
        if (r < 0)
                return r;
        r = sd_event_loop(w->event);
        if (r < 0)
                return r;
        return w->error < 0 ? w->error : 0;
}

/* What the wait was waiting for when it failed: the reason the fabric will see. */
static int nic_wait_fail(const NicWait *w, int r, usec_t deadline, Error *error) {
        const char *t = pps_type_to_string(w->type);
        char d[32];

        if (r != -ETIMEDOUT)
                return error_setf(error, r, "Pre-provisioned VM (%s): watching the NICs failed: %s", t,
                                  strerror(-r));
        (void) span(deadline, d, sizeof d);
        switch (w->phase) {
        case NIC_CARRIER_DOWN:
                return error_setf(
                        error, r,
                        "Pre-provisioned VM (Running): the primary NIC %s (%s) did not go down within %s "
                        "of the pool Ready (no VNet switch)",
                        w->primary.name, w->primary_mac, d);
        case NIC_CARRIER_UP:
                return error_setf(
                        error, r,
                        "Pre-provisioned VM (Running): the primary NIC %s (%s) went down but did not "
                        "come back up within %s of the pool Ready",
                        w->primary.name, w->primary_mac, d);
        case NIC_DETACH:
                return error_setf(
                        error, r,
                        "Pre-provisioned VM (Savable): the primary NIC %s (%s) was not detached within "
                        "%s of the pool Ready",
                        w->primary.name, w->primary_mac, d);
        case NIC_ATTACH:
                return error_setf(
                        error, r,
                        "Pre-provisioned VM (Savable): no NIC was hot-attached within %s of the pool "
                        "Ready",
                        d);
        case NIC_NEW_LINK_UP:
        case NIC_DONE:
                break;
        }
        return error_setf(
                error, r,
                "Pre-provisioned VM (%s): the hot-attached NIC %s did not come up within %s of the pool "
                "Ready",
                t, w->attached.name, d);
}

static int nic_wait_summary(const NicWait *w, char **ret) {
        char a[32], b[32], mac[18];

        (void) span(w->event_at - w->start, a, sizeof a);
        (void) span(w->done_at - w->start, b, sizeof b);
        if (w->type == PPS_RUNNING)
                return asprintf(ret, "VNet switch on %s (%s): carrier down after %s, up after %s",
                                w->primary.name, w->primary_mac, a, b) < 0
                               ? -ENOMEM
                               : 0;
        network_mac_format(w->attached.mac, true, mac, sizeof mac);
        return asprintf(ret, "%s%s%s hot-attached (%s), %s after %s",
                        w->primary.ifindex > 0 ? w->primary.name : "",
                        w->primary.ifindex > 0 ? " detached, " : "", w->attached.name, mac,
                        w->no_carrier ? "still without carrier" : "up", b) < 0
                       ? -ENOMEM
                       : 0;
}

/* ---- The steps: watch, Ready for the pool, wait, reprovisiondata ---- */

struct PpsRun {
        PpsType type;
        NicWait wait;
        usec_t poll_deadline; /* for reprovisiondata, from the NIC event (or from Ready) */
};

static void pps_run_done(PpsRun *pps) {
        nic_wait_done(&pps->wait);
}

/* Before Ready: a NIC switch that follows the report at once must not be missed. Recorded if it fails. */
static int pps_step_watch(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        PpsRun *pps = p->pps;
        NicWait *w = &pps->wait;
        int r;

        if (pps->type == PPS_OS_DISK)
                return error_set(error, -EOPNOTSUPP,
                                 "Pre-provisioned VM type PreprovisionedOSDisk is not supported");
        if (!waits_for_nic(pps->type))
                return PROVISION_STEP_UNRECORDED;
        r = nic_wait_prepare(w, p, pps->type);
        if (r == -ENODEV)
                return error_setf(error, r,
                                  "Pre-provisioned VM (Running): no link has the primary NIC's MAC %s (IMDS "
                                  "network.interface[0]), cannot watch the VNet switch",
                                  w->primary_mac[0] ? w->primary_mac : "(IMDS has no network data)");
        if (r < 0)
                return error_setf(error, r, "Pre-provisioned VM (%s): cannot watch the NICs: %s",
                                  pps_type_to_string(pps->type), strerror(-r));
        return PROVISION_STEP_UNRECORDED;
}

static int pps_step_report_ready(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                                 Error *error) {
        PpsType type = p->pps->type;
        const char *t = pps_type_to_string(type);
        int r;

        if (type == PPS_RESUMED)
                return provision_engine_summaryf(
                        ret_summary, STEP_SKIPPED,
                        "Ready was reported for the pool before a restart (" PPS_MARKER ")");
        r = provision_engine_report_health(p, HEALTH_STATE_READY, NULL, NULL);
        if (r < 0 && type != PPS_SAVABLE)
                return error_setf(error, r,
                                  "Pre-provisioned VM (%s): failed to report Ready for the pool: %s", t,
                                  strerror(-r));
        if (r < 0)
                log_warning_errno(r,
                                  "Reporting Ready for the pool failed; expected for Savable (the VM may be "
                                  "suspended mid-call), continuing: %m");
        r = pps_marker_write(p->c, type, p->state.vm_id);
        if (r < 0)
                return error_setf(error, r, "Pre-provisioned VM (%s): failed to write %s/%s: %s", t,
                                  p->c->config.state_dir, PPS_MARKER, strerror(-r));
        return provision_engine_summaryf(
                ret_summary, STEP_CHANGED, "%s pool: Ready %s, marker %s written", t,
                streq_ptr(p->state.health_reported, "Ready") ? "reported" : "not confirmed", PPS_MARKER);
}

static int pps_step_wait(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        const Config *config = &p->c->config;
        PpsRun *pps = p->pps;
        int r;

        (void) sd_notifyf(false, "STATUS=Pre-provisioned VM (%s): waiting to be handed out",
                          pps_type_to_string(pps->type));
        if (!waits_for_nic(pps->type)) {
                pps->poll_deadline = config->pps_wait_deadline;
                return provision_engine_summaryf(
                        ret_summary, STEP_SKIPPED, "%s",
                        pps->type == PPS_LEGACY ? "Legacy: reprovisiondata polled right after Ready"
                                                : "Resumed: reprovisiondata polled, no NIC event expected");
        }
        r = nic_wait_run(&pps->wait, config->pps_wait_deadline);
        if (r < 0)
                return nic_wait_fail(&pps->wait, r, config->pps_wait_deadline, error);
        r = nic_wait_summary(&pps->wait, ret_summary);
        if (r < 0)
                return r;
        nic_wait_done(&pps->wait);
        pps->poll_deadline = config->imds_deadline;
        return STEP_CHANGED;
}

/* Polls until the data arrives; deadline 0 = none (in chunks, extending the unit's start timeout). */
static int poll_reprovision_data(ProvisionRun *p, usec_t deadline, char **ret, size_t *ret_size) {
        usec_t end = deadline > 0 ? now_usec(CLOCK_MONOTONIC) + deadline : USEC_INFINITY;

        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                ImdsOptions o;
                int r;

                if (end != USEC_INFINITY && now >= end)
                        return -ETIMEDOUT;
                imds_options_from_config(&p->c->config, &o);
                o.policy.base = PPS_POLL_BASE;
                o.policy.cap = PPS_POLL_CAP;
                o.policy.deadline = end == USEC_INFINITY ? PPS_POLL_CHUNK : MIN(end - now, PPS_POLL_CHUNK);
                extend_unit_timeout(o.policy.deadline + PPS_POLL_CHUNK);
                r = imds_fetch_reprovision_data(&o, ret, ret_size);
                if (r != -ETIMEDOUT)
                        return r;
        }
}

/* The reprovisioning data is an ovf-env.xml: it replaces the media's (pool) document. */
static int use_reprovision_data(ProvisionRun *p, char *buf, size_t size, Error *error) {
        OvfEnv ovf = {};
        int r;

        r = ovf_env_parse(buf, size, &ovf, error);
        if (r < 0)
                return r;
        if (p->have_ovf)
                ovf_env_done(&p->ovf);
        p->ovf = ovf;
        p->have_ovf = true;
        if (p->ovf.password)
                (void) log_add_secret(p->ovf.password);
        r = media_save_ovf_env(p->c, buf, size); /* the redacted copy now describes the real VM */
        if (r < 0)
                log_warning_errno(
                        r, "Failed to keep a redacted copy of the reprovisioning ovf-env.xml, ignoring: %m");
        return 0;
}

static int pps_step_reprovision(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                                Error *error) {
        usec_t start = now_usec(CLOCK_MONOTONIC), deadline = p->pps->poll_deadline;
        const char *t = pps_type_to_string(p->pps->type);
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        char d[32];
        int r;

        r = poll_reprovision_data(p, deadline, &buf, &size);
        if (r == -ETIMEDOUT)
                return error_setf(error, r,
                                  "Pre-provisioned VM (%s): IMDS reprovisiondata did not arrive within %s%s",
                                  t, span(deadline, d, sizeof d),
                                  waits_for_nic(p->pps->type) ? " of the NIC switch" : "");
        if (r < 0)
                return error_setf(error, r,
                                  "Pre-provisioned VM (%s): fetching IMDS reprovisiondata failed: %s", t,
                                  strerror(-r));
        r = use_reprovision_data(p, buf, size, error);
        explicit_bzero(buf, size);
        if (r < 0)
                return error_prefixf(
                        error, r, "Pre-provisioned VM (%s): reprovisiondata is not a valid ovf-env.xml", t);
        /* The VM belongs to someone now: provision.c refreshes IMDS, the goal state and the network. */
        p->handed_over = true;
        (void) sd_notify(false, "STATUS=Pre-provisioned VM handed out, provisioning");
        return provision_engine_summaryf(
                ret_summary, STEP_CHANGED, "ovf-env.xml for user '%s' (%zu bytes) after %s",
                strna(p->ovf.username), size, span(now_usec(CLOCK_MONOTONIC) - start, d, sizeof d));
}

/* clang-format off */
/* The pool's phases, in order (docs/pps.md). pps-wait's first row only prepares: recorded only if it fails. */
static const ProvisionStepDef pps_steps[] = {
        { "pps-wait",         pps_step_watch,        PROVISION_STEP_REQUIRED },
        { "pps-report-ready", pps_step_report_ready, PROVISION_STEP_REQUIRED },
        { "pps-wait",         pps_step_wait,         PROVISION_STEP_REQUIRED },
        { "pps-reprovision",  pps_step_reprovision,  PROVISION_STEP_REQUIRED },
        {}
};
/* clang-format on */

PpsType provision_pps_type(const ProvisionRun *p) {
        int r;

        r = pps_marker_exists(p->c);
        if (r < 0)
                log_warning_errno(r, "Cannot tell whether %s exists, assuming it does not: %m", PPS_MARKER);
        return pps_type_determine(r > 0, p->have_ovf && p->ovf.preprovisioned_vm,
                                  p->have_ovf ? p->ovf.preprovisioned_vm_type : NULL,
                                  p->have_imds ? p->imds.pps_type : IMDS_PPS_NONE);
}

int provision_pps(ProvisionRun *p, PpsType type) {
        _cleanup_(pps_run_done) PpsRun pps = {.type = type};
        int r;

        if (pps.type == PPS_NONE)
                return 0;
        provision_network_settle(p); /* the pool's requests (IMDS, WireServer) come next */
        log_info("Pre-provisioned VM (%s): waiting in the pool until the VM is handed out.",
                 pps_type_to_string(pps.type));

        p->pps = &pps;
        r = provision_engine_run(p, pps_steps);
        p->pps = NULL;
        return r < 0 ? r : 1;
}

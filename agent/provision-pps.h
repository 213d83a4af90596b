/* SPDX-License-Identifier: MIT */
/*
 * Pre-provisioned VM pools (PPS): report Ready for the pool, wait until the VM is handed out, fetch the real
 * provisioning data from IMDS /metadata/reprovisiondata and continue the normal provisioning with it.
 * See provision-pps.c and docs/pps.md.
 */
#pragma once

#include <stdbool.h>

#include "context.h"
#include "imds.h"

typedef struct ProvisionRun ProvisionRun; /* provision-engine.h */

#define PPS_MARKER          "pps-reported-ready" /* in the state directory; cloud-init's reported_ready */
#define PPS_MARKER_MAX      4096U
#define PPS_LINK_UP_TIMEOUT (10 * USEC_PER_SEC) /* hot-attached NIC carrier (cloud-init: 100 × 0.1 s) */
#define PPS_POLL_BASE       (1 * USEC_PER_SEC)  /* reprovisiondata polling backoff: 1 s … 5 s ± 20 % */
#define PPS_POLL_CAP        (5 * USEC_PER_SEC)
#define PPS_POLL_CHUNK                                                                                      \
        (5 * 60 * USEC_PER_SEC) /* unbounded waits poll in chunks (and extend the unit timeout) */

typedef enum PpsType {
        PPS_NONE,
        PPS_RUNNING, /* wait for the primary NIC's carrier to go down and up (VNet switch) */
        PPS_SAVABLE, /* wait for the primary NIC's detach and a hot-attached NIC */
        PPS_LEGACY,  /* PreprovisionedVm=true without a type: poll reprovisiondata right after Ready */
        PPS_RESUMED, /* the marker exists (restart mid-wait): poll reprovisiondata, no second Ready */
        PPS_OS_DISK, /* PreprovisionedOSDisk: not supported */
        _PPS_TYPE_MAX,
        _PPS_TYPE_INVALID = -EINVAL,
} PpsType;

const char *pps_type_to_string(PpsType t);

/*
 * Pure, cloud-init's _determine_pps_type() order: the marker, then Savable, PreprovisionedOSDisk, Running
 * from ovf-env PreprovisionedVMType or IMDS extended.compute.ppsType, then PreprovisionedVm=true alone
 * (Legacy).
 */
PpsType pps_type_determine(bool marker, bool ovf_preprovisioned_vm, const char *ovf_type,
                           ImdsPpsType imds_type);

/* <state_dir>/pps-reported-ready: 1 when present, 0 when absent. */
int pps_marker_exists(const Context *c);
int pps_marker_write(const Context *c, PpsType type, const char *vm_id);
int pps_marker_remove(const Context *c);

/* This run's pool type from the marker, the media and IMDS (pps_type_determine()); PPS_NONE for most VMs. */
PpsType provision_pps_type(const ProvisionRun *p);

/*
 * Runs after the per-VM-id marker check, with provision_pps_type()'s answer. PPS_NONE: returns 0 at once.
 * Otherwise runs the pool's step table through the engine — watch the NICs, report the pool Ready, wait for
 * the handover, fetch the reprovisioning data into p->ovf — and returns 1 with p->handed_over set: the caller
 * then refreshes IMDS, the goal state and the network (provision.c's handover table). <0 with p->error set on
 * failure. The marker is removed by the caller once the VM is provisioned.
 */
int provision_pps(ProvisionRun *p, PpsType type);

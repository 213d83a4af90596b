/* SPDX-License-Identifier: MIT */
/*
 * The first-boot provisioning run (`azl-agent provision`), the waagent/azure-init flow
 * (protocol §5.2, protocol §5):
 *
 *   platform check → provisioning media (ovf-env.xml) → IMDS instance → WireServer goal state
 *   → every boot: network from IMDS, root partition growth and resource disk
 *   → idempotency marker (VM id) → NotReady/Provisioning → input validation (nothing written before it)
 *   → steps: hostname, user, SSH keys, sshd drop-in, SSH host keys → marker → Ready → KVP report.
 *
 * Every step is timed and recorded in state.json as soon as it finishes. Any failure ends in
 * NotReady/ProvisioningFailed with a description that names the cause, and a KVP PROVISIONING_REPORT.
 */
#pragma once

#include <stdbool.h>

#include "context.h"
#include "provision-engine.h"

/* Returns 0 when the VM is Ready, EXIT_NOT_APPLICABLE when this is not a VM we provision, or -errno. With force
 * the provisioning steps run even when the marker names this VM id (each step is idempotent; the SSH host keys
 * keep their own per-VM-id record): `provision --force`, the daemon's Reprovision() D-Bus method. */
int provision_run(Context *c, bool force);

/* The run's step tables (provision.c), each ending with an empty row; see provision-engine.h. */
extern const ProvisionStepDef provision_boot_steps[];
extern const ProvisionStepDef provision_network_steps[];
extern const ProvisionStepDef provision_again_steps[];
extern const ProvisionStepDef provision_handover_steps[];
extern const ProvisionStepDef provision_first_boot_steps[];

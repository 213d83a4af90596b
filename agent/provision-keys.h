/* SPDX-License-Identifier: MIT */
/*
 * ovf-env.xml SSH keys given only by fingerprint: their value is the public key of the goal-state certificate
 * with that thumbprint (provision-keys.c).
 */
#pragma once

#include "ovf-env.h"
#include "provisioner.h"
#include "wireserver.h"

/* Fills in the Value of every fingerprint-only key of ovf whose certificate the goal state g has (fetched
 * through wire, once, only when there is such a key). Keys that cannot be resolved keep no value, are
 * logged and reported to on_skip (optional; label "SSH key <thumbprint> for <path>", reason); ret_summary
 * (NULL when there was no such key) says what happened, for the provisioning record. Fails only with
 * -ENOMEM or on_skip's error. */
int provision_resolve_key_fingerprints(const WireOptions *wire, const GoalState *g, OvfEnv *ovf,
                                       SshKeySkipFunc on_skip, void *userdata, char **ret_summary);

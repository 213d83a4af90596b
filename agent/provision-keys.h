/* SPDX-License-Identifier: MIT */
/*
 * ovf-env.xml SSH keys given only by fingerprint: their value is the public key of the goal-state certificate
 * with that thumbprint (provision-keys.c).
 */
#pragma once

#include "ovf-env.h"
#include "wireserver.h"

/* Fills in the Value of every fingerprint-only key of ovf whose certificate the goal state g has (fetched
 * through wire, once, only when there is such a key). Keys that cannot be resolved keep no value and are logged;
 * ret_summary (NULL when there was no such key) says what happened, for the provisioning record. Only -ENOMEM
 * fails. */
int provision_resolve_key_fingerprints(const WireOptions *wire, const GoalState *g, OvfEnv *ovf,
                                       char **ret_summary);

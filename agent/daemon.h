/* SPDX-License-Identifier: MIT */
/* `azl-agent daemon` (issue #7): see daemon-internal.h for the design. */
#pragma once

#include "context.h"

/* Runs the guest agent until SIGTERM/SIGINT. Returns 0 on a clean stop, 4 when the fabric may not be
 * contacted (not Azure, no configured endpoints), a negative errno on failure. */
int daemon_run(Context *c);

/* SPDX-License-Identifier: MIT */
/*
 * Azure's Guest Proxy Agent (azure-proxy-agent, the Metadata Security Protocol): a root service that redirects
 * connections to the WireServer and IMDS through its own authorizing proxy with eBPF. When it runs, it decides
 * who may reach the WireServer, and our nftables guard (firewall.h) steps aside instead of overriding its policy.
 *
 * Its command line contract (GuestProxyAgent proxy_agent/src/main.rs): `azure-proxy-agent --status [--wait S]`
 * waits up to S seconds for its provisioning and exits 0 when it finished well, 1 when it has not finished, 2
 * when it finished with an error (printed on stdout). ovf-env.xml's ProvisionGuestProxyAgent=true means the
 * platform expects it; cloud-init then runs `azure-proxy-agent --status --wait 120` before talking to IMDS and
 * fails provisioning with "azure-proxy-agent not found" or "azure-proxy-agent status failure" (exit code, stdout
 * and stderr), which agent/provision-firewall.c reproduces.
 *
 * The program is looked for beneath the root (/usr/sbin, /usr/bin, /sbin, /bin, where its package installs it)
 * and run with a fixed environment; our own timeout bounds it even if it ignores --wait.
 */
#pragma once

#include <stdbool.h>

#include "strutil.h"

#define PROXY_AGENT_PROGRAM    "azure-proxy-agent"
#define PROXY_AGENT_WAIT_SEC   120U                 /* cloud-init's --wait */
#define PROXY_AGENT_GRACE      (10U * USEC_PER_SEC) /* beyond --wait before we kill it */
#define PROXY_AGENT_OUTPUT_MAX 2048U

typedef struct ProxyAgentStatus {
        bool installed;  /* found beneath the root */
        int exit_status; /* 0 healthy, 1 not finished, 2 finished with an error; -ETIME timed out,
                                 * -EPROTO killed by a signal */
        char *output;    /* its stdout and stderr, bounded, whitespace-trimmed */
} ProxyAgentStatus;

void proxy_agent_status_done(ProxyAgentStatus *s);

/*
 * Runs `azure-proxy-agent --status --wait <wait_sec>` (root is the textual --root, NULL for "/"). Returns 0 and
 * fills ret (installed = false, nothing run, when the program is not there), -errno when it could not be run.
 */
int proxy_agent_query(int root_fd, const char *root, unsigned wait_sec, ProxyAgentStatus *ret);

/* A one-line description for status and logs: "azure-proxy-agent reports healthy", "… exited 2: <line>". */
int proxy_agent_describe(const ProxyAgentStatus *s, char **ret);

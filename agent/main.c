/* SPDX-License-Identifier: MIT */
/*
 * azl-agent: first-boot provisioning and guest agent for Azure Linux.
 *
 *   azl-agent [--root DIR] [--config FILE] [-v] VERB [ARGS…]
 *
 * Every verb (agent/cli.c parses the options and dispatches). `daemon` runs as azl-agent-daemon
 * (agent/daemon-main.c), the same code linked without what only provisioning needs.
 */
#include "agent.h"
#include "cli.h"
#include "log.h"
#include "macro.h"
#include "version.h"

static int verb_daemon_exec(Context *c, int argc, char **argv);

static const Verb verbs[] = {
        {"provision", "provision this VM from IMDS and the provisioning media, report Ready",
         verb_provision},
        {"daemon", "run the guest agent: goal state, extensions, status blob", verb_daemon_exec},
        {"status", "show provisioning and agent state", verb_status},
        {"detect", "print the platform detected and why", verb_detect},
        {"attest",
         "verify IMDS attested data (signature, nonce, VM id); --evidence adds the vTPM's HCL report",
         verb_attest},
        {"config", "print the effective configuration", verb_config},
        {"wsl-setup", "WSL first run: create the default user (UID 1000)", verb_wsl_setup},
        {"deprovision", "remove this VM's identity before capturing an image", verb_deprovision},
        {"collect-logs", "one redacted tarball of logs and state for support", verb_collect_logs},
        {"analyze", "time spent per provisioning step and extension operation", verb_analyze},
        {"userdata", "user data (custom data): validate a file, show this VM's, run it after Ready",
         verb_userdata},
};

/* The long-running daemon is azl-agent-daemon: without libfdisk, libblkid, libcryptsetup (and what it loads),
 * libyaml, libxcrypt and libudev mapped for its whole life (BENCHMARKS.md, "Memory"). Run here only when that
 * program is missing. */
static int verb_daemon_exec(Context *c, int argc, char **argv) {
        int r = cli_exec("azl-agent-daemon", AZL_DAEMON_PATH);

        log_warning_errno(r, "Cannot run azl-agent-daemon (%m); running the daemon in this process.");
        return verb_daemon(c, argc, argv);
}

int main(int argc, char **argv) {
        return cli_main(argc, argv, verbs, ELEMENTSOF(verbs));
}

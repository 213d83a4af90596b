/* SPDX-License-Identifier: MIT */
/*
 * azl-agent-daemon: `azl-agent daemon` execs this (docs/cli.md). The same daemon code, linked without what only
 * the other verbs need (libfdisk, libblkid, libcryptsetup, libyaml, libxcrypt, libudev): a long-running process
 * maps fewer libraries (BENCHMARKS.md, "Memory").
 */
#include "agent.h"
#include "cli.h"
#include "macro.h"

static const Verb verbs[] = {
        {"daemon", "run the guest agent: goal state, extensions, status blob", verb_daemon},
};

int main(int argc, char **argv) {
        return cli_main(argc, argv, verbs, ELEMENTSOF(verbs));
}

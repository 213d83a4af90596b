/* SPDX-License-Identifier: MIT */
/*
 * waagent: the WALinuxAgent command line that image pipelines and documentation use, on top of azl-agent, so that
 * existing Packer templates (`waagent -force -deprovision+user && export HISTSIZE=0 && sync`) keep working:
 *
 *   -deprovision            → azl-agent deprovision
 *   -deprovision+user       → azl-agent deprovision --user
 *   -force                  → … --force (no question asked)
 *   -collect-logs [-full]   → azl-agent collect-logs (the tarball's path is printed)
 *   -verbose                → azl-agent -v …
 *   -version                → the azl-agent version, said to be this front end
 *   -help                   → this list
 *
 * Like waagent, an option may be spelled with "-", "--" or "/". Everything else waagent has (-daemon, -start,
 * -provision, -run-exthandlers, -register-service, -configuration-path…) is refused with a pointer to the
 * azl-agent units: those are jobs of azl-provision.service and azl-agent.service. The argv is built here and
 * handed to execv(); nothing goes through a shell. azl-agent is taken from this program's own directory when it
 * is there (a build tree), else from the configured bindir.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "version.h"

static const char *strip_dashes(const char *a) {
        while (*a == '-' || *a == '/')
                a++;
        return a;
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: waagent [-verbose] [-force] [-deprovision | -deprovision+user | -collect-logs | "
                "-version | -help]\n"
                "\n"
                "waagent compatibility front end of azl-agent %s: -deprovision[+user] runs `azl-agent "
                "deprovision\n"
                "[--user]`, -collect-logs `azl-agent collect-logs`. See waagent(8).\n",
                PACKAGE_VERSION);
}

/* azl-agent next to this program (build tree), else the installed one. */
static const char *agent_path(char *buf, size_t size) {
        ssize_t n = readlink("/proc/self/exe", buf, size - 1);
        char *slash;

        if (n > 0) {
                buf[n] = 0;
                slash = strrchr(buf, '/');
                if (slash && (size_t) (slash - buf) + sizeof "/azl-agent" <= size) {
                        strcpy(slash, "/azl-agent");
                        if (access(buf, X_OK) == 0)
                                return buf;
                }
        }
        return AZL_AGENT_PATH;
}

int main(int argc, char **argv) {
        typedef enum Action { NONE, DEPROVISION, DEPROVISION_USER, COLLECT_LOGS, VERSION, HELP } Action;
        Action action = NONE;
        bool force = false, verbose = false;
        char exe[PATH_MAX];
        const char *args[8];
        size_t n = 0;

        for (int i = 1; i < argc; i++) {
                const char *a = strip_dashes(argv[i]);
                Action want = NONE;

                if (strcmp(a, "force") == 0)
                        force = true;
                else if (strcmp(a, "verbose") == 0)
                        verbose = true;
                else if (strcmp(a, "full") == 0)
                        ; /* -collect-logs -full: we always collect everything (size-capped) */
                else if (strcmp(a, "deprovision") == 0)
                        want = DEPROVISION;
                else if (strcmp(a, "deprovision+user") == 0)
                        want = DEPROVISION_USER;
                else if (strcmp(a, "collect-logs") == 0)
                        want = COLLECT_LOGS;
                else if (strcmp(a, "version") == 0)
                        want = VERSION;
                else if (strcmp(a, "help") == 0 || strcmp(a, "h") == 0)
                        want = HELP;
                else {
                        fprintf(stderr,
                                "waagent: '%s' is not supported by the azl-agent front end; provisioning "
                                "and the "
                                "guest agent are azl-provision.service and azl-agent.service.\n",
                                argv[i]);
                        usage(stderr);
                        return 1;
                }
                if (want != NONE) {
                        if (action != NONE && action != want) {
                                fprintf(stderr, "waagent: only one command at a time.\n");
                                return 1;
                        }
                        action = want;
                }
        }

        switch (action) {
        case NONE:
        case HELP:
                usage(action == HELP ? stdout : stderr);
                return action == HELP ? 0 : 1;
        case VERSION:
                printf("azl-agent %s (waagent compatibility front end)\n", PACKAGE_VERSION);
                return 0;
        case DEPROVISION:
        case DEPROVISION_USER:
        case COLLECT_LOGS:
                break;
        }

        args[n++] = "azl-agent";
        if (verbose)
                args[n++] = "-v";
        args[n++] = action == COLLECT_LOGS ? "collect-logs" : "deprovision";
        if (action == DEPROVISION_USER)
                args[n++] = "--user";
        if (force && action != COLLECT_LOGS)
                args[n++] = "--force";
        args[n] = NULL;
        execv(agent_path(exe, sizeof exe), (char *const *) args);
        fprintf(stderr, "waagent: cannot run %s: %s\n", agent_path(exe, sizeof exe), strerror(errno));
        return 127;
}

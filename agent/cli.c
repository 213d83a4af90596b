/* SPDX-License-Identifier: MIT */
/*
 * The command line both programs share (agent/cli.h): global options, the configuration chain
 * (docs/agent.conf.md), platform detection, then the verb. Verbs return negative errno (or a non-negative exit
 * code); cli_main() turns that into the process exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "macro.h"
#include "version.h"

static char **cli_argv; /* main()'s argv, for cli_exec() */

/* Memory that is ours (BENCHMARKS.md, "Memory"). glibc's thresholds are dynamic by default: freeing a
 * block above the mmap threshold raises that threshold to the block's size (up to 32 MiB) and the trim threshold
 * to twice that, so one 2 MiB buffer (libnftables allocates one per command) moves every later large block onto
 * the heap, and the heap never shrinks below it again: ≈ 1 MiB of freed pages stayed dirty in the idle daemon.
 * Fixed thresholds (setting one turns the adjustment off) keep large blocks in their own mappings, returned at
 * free(), and let the heap top go back to the kernel; one arena, since the agent is single-threaded apart from
 * curl's short-lived resolver threads. */
static void malloc_setup(void) {
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        (void) mallopt(M_TRIM_THRESHOLD, 128 * 1024);
        (void) mallopt(M_ARENA_MAX, 1);
}

static void help(const Verb *verbs, size_t n_verbs) {
        printf("azl-agent %s — provisioning and guest agent for Azure Linux\n\n"
               "Usage: azl-agent [OPTIONS] VERB [ARGS…]\n\n"
               "Verbs:\n",
               PACKAGE_VERSION);
        for (size_t i = 0; i < n_verbs; i++)
                printf("  %-13s %s\n", verbs[i].name, verbs[i].summary);
        printf("\nOptions:\n"
               "  -h --help          show this help\n"
               "     --version       show the version\n"
               "     --root DIR      operate on the system tree below DIR (every file access)\n"
               "     --config FILE   read FILE after the configuration chain\n"
               "  -v --verbose       debug logging\n\n"
               "See azl-agent(8) and agent.conf(5).\n");
}

int cli_main(int argc, char **argv, const Verb *verbs, size_t n_verbs) {
        enum { ARG_VERSION = 0x100, ARG_ROOT, ARG_CONFIG };
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"version", no_argument, NULL, ARG_VERSION},
                                                {"root", required_argument, NULL, ARG_ROOT},
                                                {"config", required_argument, NULL, ARG_CONFIG},
                                                {"verbose", no_argument, NULL, 'v'},
                                                {}};
        const char *root = NULL, *config_file = NULL;
        bool verbose = false;
        const Verb *verb = NULL;
        Context c;
        int opt, r;

        cli_argv = argv;
        malloc_setup();
        log_setup("azl-agent", LOG_TARGET_AUTO);

        /* '+' stops at the first non-option: everything after the verb belongs to the verb. */
        while ((opt = getopt_long(argc, argv, "+hv", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        help(verbs, n_verbs);
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("azl-agent %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                case ARG_ROOT:
                        root = optarg;
                        break;
                case ARG_CONFIG:
                        config_file = optarg;
                        break;
                case 'v':
                        verbose = true;
                        break;
                case '?':
                        return EXIT_FAILURE;
                default:
                        abort();
                }

        if (optind >= argc) {
                help(verbs, n_verbs);
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < n_verbs; i++)
                if (streq(argv[optind], verbs[i].name))
                        verb = &verbs[i];
        if (!verb) {
                log_error("Unknown verb '%s'; see 'azl-agent --help'.", argv[optind]);
                return EXIT_FAILURE;
        }

        r = context_init(&c, root, environ);
        if (r < 0) {
                log_error_errno(r, "Failed to open root directory '%s': %m", strna(root));
                return EXIT_FAILURE;
        }
        c.config_file = config_file;
        r = config_load(&c.config, c.root_fd, config_file);
        if (r < 0) {
                log_error_errno(r, "Configuration is invalid, refusing to run.");
                context_done(&c);
                return EXIT_FAILURE;
        }
        log_set_max_level(verbose ? LOG_DEBUG : c.config.log_level);
        r = platform_detect(c.root_fd, environ, &c.platform);
        if (r < 0) {
                log_error_errno(r, "Failed to detect the platform: %m");
                context_done(&c);
                return EXIT_FAILURE;
        }
        r = context_confidential_setup(&c); /* confidential-VM defaults (docs/security.md) */
        if (r < 0) {
                log_oom();
                context_done(&c);
                return EXIT_FAILURE;
        }

        /* getopt may permute; hand the verb its own argv starting at the verb name. */
        r = verb->run(&c, argc - optind, argv + optind);
        context_done(&c);
        log_forget_secrets();
        if (r < 0)
                return EXIT_FAILURE;
        return r;
}

/* `name` next to this executable (the build tree), else the installed path. */
int cli_program_path(const char *name, const char *installed, char **ret) {
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
        char *slash;

        if (n > 0) {
                buf[n] = 0;
                slash = strrchr(buf, '/');
                if (slash && (size_t) (slash - buf) + 1 + strlen(name) < sizeof buf) {
                        strcpy(slash + 1, name);
                        if (access(buf, X_OK) == 0) {
                                *ret = strdup(buf);
                                return *ret ? 0 : -ENOMEM;
                        }
                }
        }
        if (access(installed, X_OK) < 0)
                return -errno;
        *ret = strdup(installed);
        return *ret ? 0 : -ENOMEM;
}

int cli_exec(const char *name, const char *installed) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (!cli_argv)
                return -EINVAL;
        r = cli_program_path(name, installed, &path);
        if (r < 0)
                return r;
        log_forget_secrets();
        fflush(NULL);
        execv(path, cli_argv); /* the same options and verb; argv[0] stays ours for ps */
        return -errno;
}

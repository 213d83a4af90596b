/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent wsl-setup [--user NAME] [--password-stdin | --no-password]`: WSL's first-run ("OOBE") command
 * (/etc/wsl-distribution.conf [oobe] command=, data/wsl-distribution.conf.in). WSL runs it as root on the
 * first interactive launch and starts the shell only if it exits 0, else runs it again next time; so this
 * exits 0 only when a regular user exists afterwards (provisioners/wsl-setup.h has the logic).
 *
 *  - A regular user (UID 1000…59999, not nobody) exists already: exit 0 at once, nothing is touched.
 *  - Otherwise ask for a user name (a suggestion only when the Windows user name was forwarded through
 *    $WSLENV, see wsl_suggest_user_name()) and a password twice with echo off, on the terminal: stdin when
 *    it is one, else /dev/tty. Each question allows WSL_SETUP_ATTEMPTS_MAX bad answers; then exit 1.
 *  - --user NAME answers the first question (an invalid name is an error, not a re-prompt); --password-stdin
 *    reads the password as one line from stdin, --no-password locks it (sudo without a password).
 *  - Ctrl-D or Ctrl-C (or SIGTERM/SIGHUP when the window closes) while asking: exit 1, nothing created. The
 *    creation itself runs with those signals blocked, and rolls itself back on failure, so a user is either
 *    completely there (with /etc/wsl.conf [user] default=) or not at all.
 *  - Refused (exit 4) on an Azure VM, where the administrator comes from provisioning. WSL never contacts
 *    Azure endpoints and never writes KVP (context_endpoints_allowed(), kvp.c); this verb does neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "macro.h"
#include "strutil.h"
#include "user.h"
#include "wsl-setup.h"

#define WSL_SETUP_ATTEMPTS_MAX 3U

typedef struct WslSetupArgs {
        const char *user;
        bool password_stdin;
        bool no_password;
} WslSetupArgs;

/* The terminal we ask on. */
typedef struct Prompt {
        int in_fd;
        int out_fd;
        int tty_fd; /* /dev/tty when we opened it, else -EBADF */
        struct termios saved;
        bool echo_off;
} Prompt;

/* Set by the signal handler; read() returns EINTR (no SA_RESTART) and the question is cancelled. */
static volatile sig_atomic_t interrupted_by;

static void on_signal(int sig) {
        interrupted_by = sig;
}

static const int cancel_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

typedef struct SignalState {
        struct sigaction old[ELEMENTSOF(cancel_signals)];
        bool installed;
} SignalState;

static void signals_install(SignalState *s) {
        struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: a blocking read() returns */

        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(cancel_signals); i++)
                (void) sigaction(cancel_signals[i], &sa, &s->old[i]);
        s->installed = true;
}

static void signals_restore(SignalState *s) {
        if (!s->installed)
                return;
        for (size_t i = 0; i < ELEMENTSOF(cancel_signals); i++)
                (void) sigaction(cancel_signals[i], &s->old[i], NULL);
        s->installed = false;
}

static void signals_block(bool block, sigset_t *old) {
        sigset_t set;

        sigemptyset(&set);
        for (size_t i = 0; i < ELEMENTSOF(cancel_signals); i++)
                sigaddset(&set, cancel_signals[i]);
        if (block)
                (void) sigprocmask(SIG_BLOCK, &set, old);
        else
                (void) sigprocmask(SIG_SETMASK, old, NULL);
}

static int prompt_open(Prompt *t) {
        *t = (Prompt){.in_fd = -EBADF, .out_fd = -EBADF, .tty_fd = -EBADF};

        if (isatty(STDIN_FILENO)) {
                t->in_fd = STDIN_FILENO;
                t->out_fd = isatty(STDOUT_FILENO)   ? STDOUT_FILENO
                            : isatty(STDERR_FILENO) ? STDERR_FILENO
                                                    : STDIN_FILENO;
                return 0;
        }
        /* The controlling terminal of the process, not a file of the root we set up. */
        t->tty_fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (t->tty_fd < 0)
                return -ENOTTY;
        t->in_fd = t->out_fd = t->tty_fd;
        return 0;
}

static void prompt_echo(Prompt *t, bool on) {
        struct termios tio;

        if (!on && !t->echo_off && tcgetattr(t->in_fd, &t->saved) >= 0) {
                tio = t->saved;
                tio.c_lflag &= ~(tcflag_t) ECHO;
                tio.c_lflag |= ECHONL; /* the user still sees Enter */
                /* TCSANOW, not TCSAFLUSH: keep what was typed ahead. */
                if (tcsetattr(t->in_fd, TCSANOW, &tio) >= 0)
                        t->echo_off = true;
        } else if (on && t->echo_off) {
                (void) tcsetattr(t->in_fd, TCSANOW, &t->saved);
                t->echo_off = false;
        }
}

static void prompt_done(Prompt *t) {
        prompt_echo(t, true);
        closep(&t->tty_fd);
        t->tty_fd = -EBADF;
}

static _printf_(2, 3) void say(Prompt *t, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vdprintf(t->out_fd >= 0 ? t->out_fd : STDOUT_FILENO, fmt, ap);
        va_end(ap);
}

/* Shows question and reads one answer; -ECANCELED on Ctrl-D or a cancelling signal. For a secret, echo is
 * off before the question appears, so that nothing typed as soon as it is visible can be echoed. */
static int prompt_read(Prompt *t, const char *question, bool secret, char **ret) {
        int r;

        if (interrupted_by)
                return -ECANCELED;
        if (secret)
                prompt_echo(t, false);
        say(t, "%s", question);
        r = wsl_read_line(t->in_fd, WSL_LINE_MAX, ret);
        if (secret)
                prompt_echo(t, true);
        if (r == -EINTR || interrupted_by) {
                if (r >= 0) {
                        erase_and_free(*ret);
                        *ret = NULL;
                }
                say(t, "\n");
                return -ECANCELED;
        }
        if (r == -ECANCELED)
                say(t, "\n");
        return r;
}

static const char *name_problem(int r) {
        switch (r) {
        case -EINVAL:
                return "is not valid: use a-z, 0-9, '_' and '-', starting with a letter or '_', at most 32 "
                       "characters";
        case -EPERM:
                return "is reserved for a system account";
        case -EEXIST:
                return "exists already (as a user or a group)";
        default:
                return NULL;
        }
}

static int ask_user_name(Context *c, Prompt *t, char **ret) {
        _cleanup_free_ char *suggestion = NULL;
        int r;

        r = wsl_suggest_user_name(c->root_fd, c->env, &suggestion);
        if (r < 0)
                return r;
        say(t, "Create the default user of this distribution (UID %u, administrator via sudo).\n",
            WSL_DEFAULT_UID);
        for (unsigned attempt = 1; attempt <= WSL_SETUP_ATTEMPTS_MAX; attempt++) {
                _cleanup_free_ char *line = NULL, *question = NULL;

                if (asprintf(&question, "Enter new UNIX username%s%s%s: ", suggestion ? " [" : "",
                             strempty(suggestion), suggestion ? "]" : "") < 0)
                        return -ENOMEM;
                r = prompt_read(t, question, false, &line);
                if (r == -E2BIG) {
                        say(t, "That name is too long.\n");
                        continue;
                }
                if (r < 0)
                        return r;
                strstrip(line);
                if (isempty(line) && suggestion) {
                        *ret = TAKE_PTR(suggestion);
                        return 0;
                }
                if (isempty(line)) {
                        say(t, "A user name is required.\n");
                        continue;
                }
                r = wsl_check_new_user_name(c->root_fd, line);
                if (r >= 0) {
                        *ret = TAKE_PTR(line);
                        return 0;
                }
                if (!name_problem(r))
                        return r;
                say(t, "'%s' %s.\n", line, name_problem(r));
        }
        return -ELOOP;
}

static int ask_password(Prompt *t, char **ret) {
        int r;

        for (unsigned attempt = 1; attempt <= WSL_SETUP_ATTEMPTS_MAX; attempt++) {
                _cleanup_erase_ char *first = NULL, *second = NULL;

                r = prompt_read(t, "New password: ", true, &first);
                if (r == -E2BIG) {
                        say(t, "That password is too long (at most %u bytes).\n", WSL_LINE_MAX);
                        continue;
                }
                if (r < 0)
                        return r;
                if (isempty(first)) {
                        say(t, "The password must not be empty.\n");
                        continue;
                }
                (void) log_add_secret(first);
                r = prompt_read(t, "Retype new password: ", true, &second);
                if (r < 0 && r != -E2BIG)
                        return r;
                if (r < 0 || !streq(first, second)) {
                        say(t, "The passwords do not match.\n");
                        continue;
                }
                *ret = TAKE_PTR(first);
                return 0;
        }
        return -ELOOP;
}

static int password_from_stdin(char **ret) {
        _cleanup_erase_ char *line = NULL;
        int r;

        r = wsl_read_line(STDIN_FILENO, WSL_LINE_MAX, &line);
        if (r == -ECANCELED || (r >= 0 && isempty(line)))
                return log_error_errno(EINVAL, "--password-stdin: no password on standard input.");
        if (r == -E2BIG)
                return log_error_errno(r, "--password-stdin: the password is longer than %u bytes.",
                                       WSL_LINE_MAX);
        if (r < 0)
                return log_error_errno(r, "--password-stdin: failed to read standard input: %m");
        (void) log_add_secret(line);
        *ret = TAKE_PTR(line);
        return 0;
}

static void help(void) {
        printf("azl-agent wsl-setup [--user NAME] [--password-stdin | --no-password]\n\n"
               "Create the default user of a WSL distribution (WSL's first-run command).\n\n"
               "  --user NAME        the user name instead of asking for it\n"
               "  --password-stdin   read the password as one line from standard input\n"
               "  --no-password      lock the password; sudo works without one\n");
}

static int parse_args(int argc, char **argv, WslSetupArgs *ret) {
        enum { ARG_USER = 0x100, ARG_PASSWORD_STDIN, ARG_NO_PASSWORD };
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"user", required_argument, NULL, ARG_USER},
                                                {"password-stdin", no_argument, NULL, ARG_PASSWORD_STDIN},
                                                {"no-password", no_argument, NULL, ARG_NO_PASSWORD},
                                                {}};
        WslSetupArgs a = {};
        int opt;

        optind = 0; /* GNU: full re-initialisation after main()'s getopt */
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        help();
                        return 0;
                case ARG_USER:
                        a.user = optarg;
                        break;
                case ARG_PASSWORD_STDIN:
                        a.password_stdin = true;
                        break;
                case ARG_NO_PASSWORD:
                        a.no_password = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        if (a.password_stdin && a.no_password)
                return log_error_errno(EINVAL, "--password-stdin and --no-password exclude each other.");
        if (a.password_stdin && !a.user)
                return log_error_errno(EINVAL,
                                       "--password-stdin needs --user (standard input holds the password).");
        *ret = a;
        return 1;
}

/* Asks what the options did not answer, then creates the user; signals blocked while creating. */
static int wsl_setup_interactive(Context *c, const WslSetupArgs *a, Prompt *t) {
        _cleanup_erase_ char *password = NULL;
        _cleanup_free_ char *asked = NULL, *summary = NULL;
        const char *name = a->user;
        sigset_t saved_mask;
        int r;

        if (name) {
                r = wsl_check_new_user_name(c->root_fd, name);
                if (name_problem(r))
                        return log_error_errno(r, "'%s' %s.", name, name_problem(r));
                if (r < 0)
                        return log_error_errno(r, "Failed to check the user name '%s': %m", name);
        }
        if (a->password_stdin) {
                r = password_from_stdin(&password);
                if (r < 0)
                        return r;
        }
        if (!name || (!a->password_stdin && !a->no_password)) {
                r = prompt_open(t);
                if (r < 0)
                        return log_error_errno(r, "No terminal to ask on; use --user and --password-stdin "
                                                  "or --no-password.");
        }
        if (!name) {
                r = ask_user_name(c, t, &asked);
                if (r == -ELOOP)
                        return log_error_errno(EINVAL, "No valid user name after %u attempts.",
                                               WSL_SETUP_ATTEMPTS_MAX);
                if (r < 0 && r != -ECANCELED)
                        return log_error_errno(r, "Failed to ask on the terminal: %m");
                if (r < 0)
                        return r;
                name = asked;
        }
        if (!a->password_stdin && !a->no_password) {
                r = ask_password(t, &password);
                if (r == -ELOOP)
                        return log_error_errno(EINVAL, "No matching non-empty password after %u attempts.",
                                               WSL_SETUP_ATTEMPTS_MAX);
                if (r < 0 && r != -ECANCELED)
                        return log_error_errno(r, "Failed to ask on the terminal: %m");
                if (r < 0)
                        return r;
        }

        signals_block(true, &saved_mask);
        r = wsl_setup_user(c, name, password, &summary);
        signals_block(false, &saved_mask);
        if (r < 0)
                return log_error_errno(r, "Failed to create the user '%s' (nothing was kept): %m", name);
        log_info("Created %s.", summary);
        return 0;
}

int verb_wsl_setup(Context *c, int argc, char **argv) {
        _cleanup_(prompt_done) Prompt t = {.in_fd = -EBADF, .out_fd = -EBADF, .tty_fd = -EBADF};
        _cleanup_(signals_restore) SignalState signals = {};
        _cleanup_free_ char *existing = NULL;
        WslSetupArgs a = {};
        uid_t uid = 0;
        int r;

        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r;
        if (c->platform.platform == PLATFORM_AZURE) {
                log_notice("This is an Azure VM (%s): its administrator comes from 'azl-agent provision'; "
                           "wsl-setup is for WSL.",
                           c->platform.reason);
                return EXIT_NOT_APPLICABLE;
        }

        r = wsl_find_regular_user(c->root_fd, &existing, &uid);
        if (r < 0)
                return log_error_errno(r, "Failed to read /etc/passwd: %m");
        if (r > 0) {
                log_info("User '%s' (UID %u) exists already, nothing to do.", existing, (unsigned) uid);
                return 0;
        }

        interrupted_by = 0;
        signals_install(&signals);
        r = wsl_setup_interactive(c, &a, &t);
        if (r == -ECANCELED)
                return log_error_errno(r, "%s; no user was created. WSL asks again on the next launch.",
                                       interrupted_by ? "Interrupted" : "End of input");
        return r;
}

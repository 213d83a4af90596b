/* SPDX-License-Identifier: MIT */
/*
 * Plan executor (§4.5–§4.8); see ext-executor.h. One operation at a time, in plan order; each step is
 * started from a defer source so that synchronous answers (a provider that already holds the zip, an
 * operation skipped) never recurse.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "archive-dl.h"
#include "crash-point.h"
#include "ext-beneath.h"
#include "ext-executor.h"
#include "ext-util.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"

typedef struct GroupState {
        bool failed; /* an operation failed: the rest of the group is skipped */
        bool enable_ran;
        bool report_heartbeat;
        char *disable_exit_code; /* update env (§4.4) */
        char *disable_exit_codes_multi;
        char *uninstall_exit_code;
        ExtHandlerResult *result;  /* NULL for unreported groups (removals) */
        const char *state_version; /* a HandlerState record for the next group commit (record_state()) */
        HandlerState state;
} GroupState;

/* An operation done ahead of its turn while a command ran (prepare_ahead()): its outcome, reported when the turn
 * comes. */
typedef struct PreparedOp {
        bool done;
        int r, code;
        char *message;
        usec_t started, started_realtime, ended; /* CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_MONOTONIC */
} PreparedOp;

struct ExtExecutor {
        Context *context;
        sd_event *event;
        ExtLayout layout;
        ExtExecutorOptions options;
        char *log_dir;
        char *wire_address;
        char *signing_root_pem;
        ExtSpawner *spawner;

        const ExtensionsGoalState *gs;
        ExtPlan plan;
        bool have_plan;
        GroupState *groups;
        ExtHandlerResult *results;
        size_t n_results;
        size_t op_index;
        bool running;
        char *dependency_error;
        size_t dependency_group; /* the group whose WAIT failed */
        usec_t started;
        unsigned status_attempts;
        usec_t op_started;          /* the running operation's start (CLOCK_MONOTONIC) */
        usec_t op_started_realtime; /* the same, CLOCK_REALTIME (ExtOpRecord.start) */
        ExtExecutorTimings timings;

        sd_event_source *defer_source, *timer_source;
        ExtProcess *process;
        int out_fd, err_fd;
        char *command;              /* host path command line of the running operation */
        unsigned cpu_quota_percent; /* its limits (ext_resource_limits()) */
        uint64_t memory_max;
        bool waiting_for_package;
        /* State files not yet durable: one group commit (fileio.h) before the next operation that is not a settings
         * write, or just after the next command started when only state records wait (the group is empty), and at
         * the end of the run. A new handler's package files (marker, HandlerEnvironment.json, NotInstalled) and
         * its settings file are made durable together before its install starts; Installed and Enabled are
         * recorded per group (record_state()) and written with the next commit. A crash before a commit leaves
         * the state before it: an install runs again in a fresh directory, an enable again. */
        WriteBatch pending;
        PreparedOp *prepared; /* one per plan operation */
        size_t prep_download; /* a download asked for ahead of its turn, not answered yet; SIZE_MAX: none */
        usec_t op_ended;      /* a prepared operation's end, for op_finished(); 0: now */

        ExtExecutorDoneFunc done;
        void *done_userdata;
        void *libarchive; /* held for the run: one dlopen() for all its packages (common/archive-dl.h) */
};

static void step(ExtExecutor *e);
static int op_finished(ExtExecutor *e, int r, int code, const char *message);
static void prepare_ahead(ExtExecutor *e);

static void commit_pending(ExtExecutor *e) {
        usec_t start;
        int r;

        for (size_t i = 0; e->groups && i < e->plan.n_groups; i++) /* plan order: the latest record wins */
                if (e->groups[i].state_version) {
                        (void) handler_state_write(&e->layout, e->plan.groups[i].handler,
                                                   e->groups[i].state_version, e->groups[i].state,
                                                   &e->pending);
                        e->groups[i].state_version = NULL;
                }
        if (e->pending.n == 0)
                return;
        start = now_usec(CLOCK_MONOTONIC);
        r = write_batch_commit(&e->pending);
        e->timings.commit += now_usec(CLOCK_MONOTONIC) - start;
        if (r < 0)
                log_warning_errno(r, "Failed to record the handler state, ignoring: %m");
}

/*
 * A handler's new state after its command succeeded (Installed, Enabled). Written with the next group commit: the
 * next command starts first when it does not read the state (run_op()), and a crash before leaves the state
 * before it (which claims less than happened: the command runs again), not a temporary file. A state written at
 * once (immediately != false) first commits what is pending, so that the records keep their order.
 */
static void record_state(ExtExecutor *e, size_t group, const char *version, HandlerState state,
                         bool immediately) {
        if (immediately) {
                commit_pending(e);
                (void) handler_state_write(&e->layout, e->plan.groups[group].handler, version, state, NULL);
                return;
        }
        if (e->groups[group].state_version && !streq(e->groups[group].state_version, version))
                commit_pending(e); /* one record per group at a time */
        e->groups[group].state_version = version;
        e->groups[group].state = state;
}

static void reset_run(ExtExecutor *e) {
        for (size_t i = 0; e->groups && i < e->plan.n_groups; i++) {
                free(e->groups[i].disable_exit_code);
                free(e->groups[i].disable_exit_codes_multi);
                free(e->groups[i].uninstall_exit_code);
        }
        e->groups = mfree_ptr(e->groups);
        for (size_t i = 0; e->prepared && i < e->plan.n_ops; i++)
                free(e->prepared[i].message);
        e->prepared = mfree_ptr(e->prepared);
        e->prep_download = SIZE_MAX;
        for (size_t i = 0; i < e->n_results; i++)
                ext_handler_result_done(&e->results[i]);
        e->results = mfree_ptr(e->results);
        e->n_results = 0;
        ext_plan_done(&e->plan);
        e->have_plan = false;
        e->dependency_error = mfree_str(e->dependency_error);
        e->op_index = 0;
        e->status_attempts = 0;
}

ExtExecutor *ext_executor_free(ExtExecutor *e) {
        if (!e)
                return NULL;
        e->process = ext_process_free(e->process);
        commit_pending(e);
        sd_event_source_disable_unref(e->defer_source);
        sd_event_source_disable_unref(e->timer_source);
        closep(&e->out_fd);
        closep(&e->err_fd);
        free(e->command);
        reset_run(e);
        archive_dl_closep(&e->libarchive);
        ext_spawner_free(e->spawner);
        sd_event_unref(e->event);
        free(e->log_dir);
        free(e->wire_address);
        erase_and_free(e->signing_root_pem);
        free(e);
        return NULL;
}

int ext_executor_new(Context *c, sd_event *event, const ExtExecutorOptions *o, ExtExecutor **ret) {
        _cleanup_(ext_executor_freep) ExtExecutor *e = NULL;
        int r;

        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->out_fd = e->err_fd = -EBADF;
        e->prep_download = SIZE_MAX;
        e->context = c;
        e->event = sd_event_ref(event);
        if (o)
                e->options = *o;
        if (o && o->log_dir && !(e->log_dir = strdup(o->log_dir)))
                return -ENOMEM;
        if (o && o->wire_protocol_address && !(e->wire_address = strdup(o->wire_protocol_address)))
                return -ENOMEM;
        e->options.log_dir = e->log_dir;
        e->options.wire_protocol_address = e->wire_address;
        if (o && o->signing_root_pem) {
                if (!(e->signing_root_pem = strdup(o->signing_root_pem)))
                        return -ENOMEM;
        } else {
                /* The managed system's own trust anchor: under --root the target's, never the host's
                 * (docs/security.md, "--root confinement"). None: every signature fails to verify. */
                r = ext_signing_root_read(c->root_fd, &e->signing_root_pem);
                if (r < 0 && r != -ENOENT)
                        (void) log_debug_errno(r, "Cannot read the extension signing root %s: %m",
                                               EXT_SIGNING_ROOT_PATH_DEFAULT);
        }
        e->options.signing_root_pem = e->signing_root_pem;
        ext_layout_init(&e->layout, c, e->log_dir);
        r = ext_spawner_new(event, &e->options.spawner, &e->spawner);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(e);
        return 0;
}

static usec_t op_timeout(const ExtExecutor *e, ExtOpType t) {
        static const usec_t defaults[_EXT_OP_MAX] = {
                [EXT_OP_INSTALL] = EXT_TIMEOUT_INSTALL_USEC,     [EXT_OP_ENABLE] = EXT_TIMEOUT_ENABLE_USEC,
                [EXT_OP_DISABLE] = EXT_TIMEOUT_DISABLE_USEC,     [EXT_OP_UPDATE] = EXT_TIMEOUT_UPDATE_USEC,
                [EXT_OP_UNINSTALL] = EXT_TIMEOUT_UNINSTALL_USEC,
        };
        return e->options.timeout[t] ?: defaults[t];
}

static int op_error_code(ExtOpType t) {
        switch (t) {
        case EXT_OP_INSTALL:
                return EXT_CODE_INSTALL_FAILED;
        case EXT_OP_UPDATE:
        case EXT_OP_COPY_STATE:
                return EXT_CODE_UPDATE_FAILED;
        case EXT_OP_ENABLE:
        case EXT_OP_SETTINGS:
                return EXT_CODE_ENABLE_FAILED;
        case EXT_OP_DISABLE:
                return EXT_CODE_DISABLE_FAILED;
        case EXT_OP_DOWNLOAD:
                return EXT_CODE_PACKAGE_DOWNLOAD_FAILED;
        case EXT_OP_UNINSTALL:
        case EXT_OP_REMOVE:
        case EXT_OP_DELETE_EXTENSION:
        case EXT_OP_WAIT:
        case EXT_OP_REPORT_ERROR:
        case _EXT_OP_MAX:
        case _EXT_OP_INVALID:
                break;
        }
        return EXT_CODE_PLUGIN_PROCESSING_ERROR;
}

static const ExtOp *current_op(const ExtExecutor *e) {
        return e->op_index < e->plan.n_ops ? &e->plan.ops[e->op_index] : NULL;
}

static ExtPlanGroup *current_group(ExtExecutor *e) {
        return &e->plan.groups[current_op(e)->group];
}

static int load_manifest(ExtExecutor *e, const char *name, const char *version, HandlerManifest *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size;
        int r;

        if (asprintf(&path, "%s/%s-%s/HandlerManifest.json", e->layout.lib_dir, name, version) < 0)
                return -ENOMEM;
        r = read_file_in_root(e->layout.root_fd, path, HANDLER_MANIFEST_MAX, &buf, &size);
        if (r < 0)
                return r;
        return handler_manifest_parse(buf, size, ret, NULL);
}

/* Appends to CommandExecution[_<ext>].log, keeping it under 10 MB by dropping its head (§4.3). A log, as
 * waagent's: appended (O_APPEND) without fsync; only when it would pass the bound is it rewritten (atomically)
 * with the newer half kept. */
static void command_log_append(ExtExecutor *e, const char *name, const char *ext, const char *text) {
        _cleanup_free_ char *path = NULL, *dir = NULL, *line = NULL, *old = NULL, *joined = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0, keep, len;
        struct stat st;
        char ts[64];

        if (ext ? asprintf(&path, "%s/%s/CommandExecution_%s.log", e->layout.log_dir, name, ext) < 0
                : asprintf(&path, "%s/%s/CommandExecution.log", e->layout.log_dir, name) < 0)
                return;
        (void) format_timestamp_iso(now_usec(CLOCK_REALTIME), ts, sizeof ts);
        if (asprintf(&line, "%s %s\n", ts, text) < 0 || asprintf(&dir, "%s/%s", e->layout.log_dir, name) < 0)
                return;
        len = strlen(line);
        (void) mkdir_p_in_root(e->layout.root_fd, dir, 0755);
        fd = open_in_root(e->layout.root_fd, path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                          0600);
        if (fd >= 0 && fstat(fd, &st) >= 0 && S_ISREG(st.st_mode) &&
            (uint64_t) st.st_size + len <= EXT_COMMAND_LOG_MAX) {
                if (write(fd, line, len) != (ssize_t) len)
                        log_debug("Cannot append to %s.", path);
                return;
        }
        if (read_file_in_root(e->layout.root_fd, path, EXT_COMMAND_LOG_MAX * 2, &old, &size) < 0)
                size = 0;
        keep = size + len > EXT_COMMAND_LOG_MAX ? MIN(size, EXT_COMMAND_LOG_MAX / 2) : size;
        if (asprintf(&joined, "%.*s%s", (int) keep, old ? old + (size - keep) : "", line) < 0)
                return;
        (void) write_string_file_atomic_in_root(e->layout.root_fd, path, joined, 0600, WRITE_MKDIR);
}

static int open_handler_dir(ExtExecutor *e, const char *name, const char *version) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s-%s", e->layout.lib_dir, name, version) < 0)
                return -ENOMEM;
        return open_in_root(e->layout.root_fd, path, O_RDONLY | O_DIRECTORY, 0);
}

/* stdout/stderr capture: anonymous files in the handler directory (waagent: TemporaryFile(dir=base_dir)). */
static int capture_file(int dir_fd) {
        int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        char name[64];

        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
                return fd >= 0 ? fd : -errno;
        (void) snprintf(name, sizeof name, ".output-%d-%u", (int) getpid(), (unsigned) random());
        fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        (void) unlinkat(dir_fd, name, 0);
        return fd;
}

static size_t read_head(int fd, char *buf, size_t max) {
        ssize_t n = pread(fd, buf, max, 0);

        return n > 0 ? (size_t) n : 0;
}

static void record_exit_code(ExtExecutor *e, const ExtOp *op, GroupState *gs, int exit_code) {
        char code[16];

        (void) snprintf(code, sizeof code, "%d", exit_code);
        if (op->type == EXT_OP_UNINSTALL)
                (void) free_and_strdup(&gs->uninstall_exit_code, code);
        if (op->type != EXT_OP_DISABLE)
                return;
        (void) free_and_strdup(&gs->disable_exit_code, code);
        if (op->extension) {
                _cleanup_json_ struct json_object *arr = NULL, *item = json_object_new_object();
                char *s = NULL;

                if (!gs->disable_exit_codes_multi ||
                    json_parse_buffer(gs->disable_exit_codes_multi, strlen(gs->disable_exit_codes_multi),
                                      &arr, NULL) < 0)
                        arr = json_object_new_array();
                if (!arr || !item ||
                    json_object_object_add(item, "extensionName", json_object_new_string(op->extension)) <
                            0 ||
                    json_object_object_add(item, "exitCode", json_object_new_string(code)) < 0 ||
                    json_object_array_add(arr, json_object_get(item)) < 0 || json_dumps_python(arr, &s) < 0)
                        return;
                free(gs->disable_exit_codes_multi);
                gs->disable_exit_codes_multi = s;
        }
}

/* Called when a handler command has exited (or was killed at its timeout). */
static void on_command_exit(ExtProcess *proc, const ExtProcessResult *res, void *userdata) {
        ExtExecutor *e = userdata;
        const ExtOp *op = current_op(e);
        ExtPlanGroup *g = current_group(e);
        GroupState *gs = &e->groups[op->group];
        _cleanup_free_ char *out = NULL, *err = NULL, *output = NULL, *message = NULL, *line = NULL,
                            *limits = NULL;
        size_t out_len, err_len;
        int r = 0, code = 0;

        e->process = ext_process_free(e->process);
        out = malloc(EXT_OUTPUT_MESSAGE_MAX + 1);
        err = malloc(EXT_OUTPUT_MESSAGE_MAX + 1);
        if (!out || !err) {
                (void) op_finished(e, -ENOMEM, op_error_code(op->type), "Out of memory");
                return;
        }
        out_len = read_head(e->out_fd, out, EXT_OUTPUT_MESSAGE_MAX);
        err_len = read_head(e->err_fd, err, EXT_OUTPUT_MESSAGE_MAX);
        closep(&e->out_fd);
        closep(&e->err_fd);
        e->out_fd = e->err_fd = -EBADF;
        if (ext_format_output(out, out_len, err, err_len, &output) < 0)
                output = NULL;

        if (res->timed_out) {
                /* §4.5: code 1011, "Timeout(<s>): <cmd>" (+ CPU throttling when a quota applies). */
                r = -ETIME;
                code = EXT_CODE_SCRIPT_TIMED_OUT;
                (void) asprintf(&message, "Timeout(%llu): %s\n%s",
                                (unsigned long long) (op_timeout(e, op->type) / USEC_PER_SEC), e->command,
                                strempty(output));
        } else if (res->exit_code != 0) {
                r = -EPROTO;
                code = op_error_code(op->type);
                (void) asprintf(&message, "Non-zero exit code: %d, %s\n%s", res->exit_code, e->command,
                                strempty(output));
        }
        record_exit_code(e, op, gs, res->timed_out ? -1 : res->exit_code);
        if (e->cpu_quota_percent > 0 || e->memory_max > 0)
                (void) asprintf(&limits, "cpu %u%% memory %" PRIu64 " MiB %s", e->cpu_quota_percent,
                                e->memory_max / (1024U * 1024U),
                                res->limits_applied ? "applied" : "not applied");
        if (asprintf(&line, "%s %s-%s: %s (exit %d%s, isolation %s, limits %s, throttled %" PRIu64 ")\n%s",
                     ext_op_type_to_string(op->type), g->handler, op->version, e->command, res->exit_code,
                     res->timed_out ? ", timed out" : "", ext_isolation_to_string(res->isolation),
                     limits ?: "none", res->nr_throttled, strempty(output)) >= 0)
                command_log_append(e, g->handler, op->extension, line);
        log_debug("Extension %s %s finished: exit %d%s", g->handler, ext_op_type_to_string(op->type),
                  res->exit_code, res->timed_out ? " (timed out)" : "");
        e->command = mfree_str(e->command);
        (void) op_finished(e, r, code, message);
}

void ext_resource_limits(const HandlerManifest *m, unsigned config_cpu_percent, uint64_t config_memory_mib,
                         unsigned *ret_cpu_percent, uint64_t *ret_memory_max) {
        unsigned cpu = m && m->cpu_quota_percentage > 0 ? (unsigned) m->cpu_quota_percentage : 0;
        uint64_t mem = m ? (uint64_t) m->memory_quota_mb : 0, cfg_mem = config_memory_mib;

        /* §4.10: [Extensions] CPUQuotaPercent=/MemoryMaxMiB= are the administrator's ceiling; a manifest's
         * resourceLimits may only lower them. A MiB count whose byte count does not fit 64 bits is no ceiling. */
        cpu = MIN(cpu, EXT_CPU_QUOTA_PERCENT_MAX);
        if (config_cpu_percent > 0)
                cpu = cpu > 0 ? MIN(cpu, config_cpu_percent) : config_cpu_percent;
        if (cfg_mem > UINT64_MAX / (1024U * 1024U))
                cfg_mem = 0;
        if (cfg_mem > 0)
                mem = mem > 0 ? MIN(mem, cfg_mem) : cfg_mem;
        *ret_cpu_percent = cpu;
        *ret_memory_max = mem * 1024U * 1024U;
}

/* §4.11 under SignatureValidation=enforce: a handler whose package was not validated when it was installed (under
 * report or off, before enforce was set) does not run any command, as waagent's policy refuses an extension whose
 * signature_validated state is false. Returns 0 to go on, 1 when the operation was finished here. */
static int signature_gate(ExtExecutor *e, const ExtOp *op, int dir_fd) {
        _cleanup_free_ char *detail = NULL, *msg = NULL;
        ExtPlanGroup *g = current_group(e);
        GroupState *gs = &e->groups[op->group];
        ExtSignatureState state;
        int r;

        if (e->context->config.signature_mode != SIGNATURE_MODE_ENFORCE)
                return 0;
        r = ext_package_signature_read(dir_fd, &state, &detail);
        if (r < 0)
                state = EXT_SIGNATURE_BAD;
        if (state == EXT_SIGNATURE_VALID)
                return 0;
        if (asprintf(&msg,
                     "Extension %s %s not run (SignatureValidation=enforce): its package was installed "
                     "without a validated signature (%s%s%s)",
                     g->handler, op->version, ext_signature_state_to_string(state), detail ? ": " : "",
                     strempty(detail)) < 0)
                msg = NULL;
        if (gs->result) {
                (void) free_and_strdup(&gs->result->signature_problem, ext_signature_state_to_string(state));
                gs->result->signature_refused = gs->result->signature_new = true;
        }
        (void) op_finished(e, -EKEYREJECTED, op_error_code(op->type),
                           msg ?: "Package signature not validated");
        return 1;
}

/* Whether the program of a split command can be exec'd as it is (no shell around it, issue #21): a regular file
 * beneath the handler directory, executable, that starts with "#!" or an ELF header. Anything else — a script
 * without "#!" (which sh runs itself), a missing or non-executable file (sh reports it, exit 126/127), a path
 * leading out of the directory — goes through the shell, so what runs and what is reported stay waagent's. */
static bool program_direct(int dir_fd, const char *path) {
        _cleanup_close_ int fd = open_beneath(dir_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
        unsigned char head[4];
        struct stat st;
        ssize_t n;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                return false;
        n = pread(fd, head, sizeof head, 0);
        return (n >= 2 && head[0] == '#' && head[1] == '!') || (n == 4 && memcmp(head, "\177ELF", 4) == 0);
}

/* The argv of a handler command (§4.2). The manifest's command is a shell command line by contract (waagent:
 * shell=True) and runs as  sh -c '"$1"/<cmd>' sh <dir>: the directory is not spliced into it but given as "$1"
 * (the shell's $0 stays /bin/sh, as for waagent), so no path, name or version is ever parsed as shell text. A
 * command a shell would only split into words ("bin/enable.sh --verbose") whose program is directly executable
 * runs without the shell: <dir>/<program> and the words, what the shell would have exec'd. */
static int command_argv(ExtExecutor *e, int dir_fd, const char *dir, const char *cmd, char ***ret) {
        _cleanup_strv_free_ char **words = NULL, **argv = NULL;
        char *program = NULL, *script = NULL;
        int r;

        r = ext_command_split(cmd, &words);
        if (r < 0)
                return r;
        if (r > 0 && program_direct(dir_fd, words[0])) {
                if (asprintf(&program, "%s/%s", dir, words[0]) < 0)
                        return -ENOMEM;
                free(words[0]);
                words[0] = program;
                *ret = TAKE_PTR(words);
                return 0;
        }
        if (asprintf(&script, "\"$1\"/%s", cmd) < 0)
                return -ENOMEM;
        if (strv_extend(&argv, e->options.shell ?: "/bin/sh") < 0 || strv_extend(&argv, "-c") < 0 ||
            strv_push(&argv, script) < 0) {
                free(script);
                return -ENOMEM;
        }
        if (strv_extend(&argv, "/bin/sh") < 0 || strv_extend(&argv, dir) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(argv);
        return 0;
}

static bool command_op(ExtOpType t) {
        return t == EXT_OP_INSTALL || t == EXT_OP_UPDATE || t == EXT_OP_ENABLE || t == EXT_OP_DISABLE ||
               t == EXT_OP_UNINSTALL;
}

static int run_command(ExtExecutor *e, const ExtOp *op) {
        _cleanup_(handler_manifest_done) HandlerManifest m = {};
        _cleanup_(handler_paths_done) HandlerPaths paths = {};
        _cleanup_strv_free_ char **env = NULL, **argv = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        ExtPlanGroup *g = current_group(e);
        GroupState *gs = &e->groups[op->group];
        const char *cmd = NULL, *updating_from = NULL;
        ExtCommandEnv ce;
        ExtSpawnParams sp;
        int r;

        r = load_manifest(e, g->handler, op->version, &m);
        if (r < 0)
                return op_finished(e, r, EXT_CODE_HANDLER_MANIFEST_DESERIALIZATION,
                                   "Failed to load HandlerManifest.json");
        gs->report_heartbeat = m.report_heartbeat;
        if (op->type == EXT_OP_INSTALL) {
                if ((op->flags & EXT_OP_SKIP_IF_UPDATE_WITHOUT_INSTALL) &&
                    m.update_mode == HANDLER_UPDATE_WITHOUT_INSTALL)
                        return op_finished(e, 0, 0, NULL);
                cmd = m.install_command;
        } else if (op->type == EXT_OP_UPDATE) {
                cmd = m.update_command;
                updating_from = streq(op->version, g->version) ? op->other_version : op->version;
        } else if (op->type == EXT_OP_ENABLE)
                cmd = m.enable_command;
        else if (op->type == EXT_OP_DISABLE)
                cmd = m.disable_command;
        else if (op->type == EXT_OP_UNINSTALL)
                cmd = m.uninstall_command;
        else
                return op_finished(e, -EINVAL, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Not a command");
        if (isempty(cmd))
                return op_finished(e, 0, 0, NULL);

        r = handler_paths_build(&e->layout, g->handler, op->version, &paths);
        if (r < 0)
                return op_finished(e, r, op_error_code(op->type), "Invalid handler name");
        dir_fd = open_handler_dir(e, g->handler, op->version);
        if (dir_fd < 0)
                return op_finished(e, dir_fd, op_error_code(op->type), "Handler directory missing");
        if (signature_gate(e, op, dir_fd) > 0)
                return 0;
        /* §4.2: relative to the handler directory, a leading '/' stripped (issue #1170). e->command is the
         * display form waagent reports: "<dir>/<cmd>". */
        while (*cmd == '/')
                cmd++;
        free(e->command);
        if (asprintf(&e->command, "%s/%s", paths.host_dir, cmd) < 0 ||
            command_argv(e, dir_fd, paths.host_dir, cmd, &argv) < 0)
                return op_finished(e, -ENOMEM, op_error_code(op->type), "Out of memory");

        ce = (ExtCommandEnv){
                .handler_host_dir = paths.host_dir,
                .version = op->version,
                .wire_protocol_address = e->options.wire_protocol_address,
                .seq_no = op->seq_no,
                .extension_name = op->extension,
        };
        if (op->type == EXT_OP_INSTALL || op->type == EXT_OP_ENABLE)
                ce.uninstall_exit_code = (op->flags & EXT_OP_FOR_UPDATE) && gs->uninstall_exit_code
                                                 ? gs->uninstall_exit_code
                                                 : "NOT_RUN";
        if (op->type == EXT_OP_UPDATE) {
                ce.update_to_version = g->version;
                ce.updating_from_version = updating_from;
                if (g->handler_gs && g->handler_gs->is_multi_config)
                        ce.disable_exit_codes_multi = gs->disable_exit_codes_multi ?: "[]";
                else
                        ce.disable_exit_code = gs->disable_exit_code ?: "NOT_RUN";
        }
        r = ext_command_env_build(&ce, e->context->env, &env);
        if (r < 0)
                return op_finished(e, r, op_error_code(op->type), "Out of memory");

        e->out_fd = capture_file(dir_fd);
        e->err_fd = capture_file(dir_fd);
        if (e->out_fd < 0 || e->err_fd < 0)
                return op_finished(e, -EIO, op_error_code(op->type),
                                   "Cannot create the output capture files");

        sp = (ExtSpawnParams){
                .argv = argv,
                .cwd_fd = dir_fd,
                .cwd = paths.host_dir,
                .env = env,
                .stdout_fd = e->out_fd,
                .stderr_fd = e->err_fd,
                .handler_name = g->handler,
                .operation = ext_op_type_to_string(op->type),
                .timeout = op_timeout(e, op->type),
        };
        ext_resource_limits(&m, e->context->config.cpu_quota_percent, e->context->config.memory_max_mib,
                            &sp.cpu_quota_percent, &sp.memory_max);
        e->cpu_quota_percent = sp.cpu_quota_percent;
        e->memory_max = sp.memory_max;
        log_debug("Extension %s: %s", g->handler, e->command);
        r = ext_process_spawn(e->spawner, &sp, on_command_exit, e, &e->process);
        if (r < 0)
                return op_finished(e, r, op_error_code(op->type), "Failed to start the handler command");
        prepare_ahead(e);
        commit_pending(e); /* what run_op() left for now (HandlerState only) and what was done ahead */
        return 0;
}

static void set_result(ExtExecutor *e, size_t group, const char *status, int code, const char *message) {
        GroupState *gs = &e->groups[group];

        if (gs->result)
                (void) ext_handler_result_set(gs->result, status, code, message);
}

/* Bookkeeping after a command succeeded (§4.6 HandlerState transitions and handler status messages). */
static void command_succeeded(ExtExecutor *e, const ExtOp *op) {
        const ExtPlanGroup *g = &e->plan.groups[op->group];
        const ExtLayout *l = &e->layout;

        if (op->type == EXT_OP_INSTALL) {
                record_state(e, op->group, op->version, HANDLER_STATE_INSTALLED, false);
                set_result(e, op->group, "NotReady", 0, "Plugin installed but not enabled");
        } else if (op->type == EXT_OP_ENABLE) {
                if (op->extension)
                        (void) handler_ext_state_write(l, g->handler, op->version, op->extension, true);
                record_state(e, op->group, op->version, HANDLER_STATE_ENABLED, false);
                set_result(e, op->group, "Ready", 0, "Plugin enabled");
        } else if (op->type == EXT_OP_DISABLE) {
                if (op->extension)
                        (void) handler_ext_state_write(l, g->handler, op->version, op->extension, false);
                if (g->handler_gs && streq(op->version, g->version)) {
                        InstalledHandler *inst = NULL;
                        size_t n = 0;
                        bool any = false;

                        /* Multi-config: the handler goes to Installed only when no instance remains enabled. */
                        commit_pending(e); /* what the scan reads is on disk */
                        if (installed_handlers_scan(l, &inst, &n) >= 0)
                                for (size_t i = 0; i < n; i++)
                                        if (strcasecmp(inst[i].name, g->handler) == 0 &&
                                            streq(inst[i].version, op->version))
                                                any = strv_length(inst[i].enabled_extensions) > 0;
                        installed_handlers_free(inst, n);
                        if (!any)
                                record_state(e, op->group, op->version, HANDLER_STATE_INSTALLED, true);
                        set_result(e, op->group, "NotReady", 0, "Plugin disabled");
                }
        }
}

static int op_finished(ExtExecutor *e, int r, int code, const char *message) {
        const ExtOp *op = current_op(e);
        ExtPlanGroup *g = current_group(e);
        GroupState *gs = &e->groups[op->group];
        usec_t ended = e->op_ended ?: now_usec(CLOCK_MONOTONIC);

        e->op_ended = 0;
        if (op->type >= 0 && op->type < _EXT_OP_MAX) {
                e->timings.op[op->type] += ended - e->op_started;
                e->timings.n_ops[op->type]++;
        }

        /* tests/crash: the operation's outcome is known, then recorded (HandlerState). */
        crash_pointf("ext:%s:finished", ext_op_type_to_string(op->type));
        if (r >= 0) {
                command_succeeded(e, op);
                crash_pointf("ext:%s:recorded", ext_op_type_to_string(op->type));
                if (op->type == EXT_OP_ENABLE)
                        gs->enable_ran = true;
        } else {
                bool tolerated = op->flags & EXT_OP_IGNORE_FAILURE;

                if (op->type == EXT_OP_ENABLE)
                        gs->enable_ran = true;
                if (!tolerated && (op->flags & EXT_OP_UPDATE_STEP)) {
                        /* continueOnUpdateFailure of the new version's manifest (§4.6). */
                        _cleanup_(handler_manifest_done) HandlerManifest m = {};
                        tolerated = load_manifest(e, g->handler, g->version, &m) >= 0 &&
                                    m.continue_on_update_failure;
                        code = EXT_CODE_UPDATE_FAILED;
                }
                if (op->type == EXT_OP_UPDATE)
                        record_state(e, op->group, g->version, HANDLER_STATE_FAILED_UPGRADE, true);
                log_debug("Extension %s %s failed (%d): %s%s", g->handler, ext_op_type_to_string(op->type),
                          code, strna(message), tolerated ? ", ignoring" : "");
                if (!tolerated) {
                        gs->failed = true;
                        set_result(e, op->group, "NotReady", code, message ?: strerror(-r));
                }
        }
        if (e->options.op_done)
                e->options.op_done(
                        &(ExtOpRecord){
                                .handler = g->handler,
                                .version = op->version,
                                .extension = op->extension,
                                .type = op->type,
                                .start = e->op_started_realtime,
                                .duration = ended - e->op_started,
                                .error = r,
                                .code = code,
                                .message = r < 0 ? message : NULL,
                        },
                        e->options.op_done_userdata);
        e->op_index++;
        step(e);
        return 0;
}

static void prepared_set(PreparedOp *p, int r, int code, const char *message) {
        p->done = true;
        p->r = r;
        p->code = code;
        p->message = r < 0 && message ? strdup(message) : NULL;
        p->ended = now_usec(CLOCK_MONOTONIC);
}

static void package_failed(ExtExecutor *e, size_t i, int code, const char *message) {
        code = code ?: EXT_CODE_PACKAGE_DOWNLOAD_FAILED;
        message = message ?: "Package download failed";
        if (i != e->op_index)
                return prepared_set(&e->prepared[i], -EIO, code, message);
        (void) op_finished(e, -EIO, code, message);
}

void ext_executor_package_failed(ExtExecutor *e, int code, const char *message) {
        if (e->prep_download != SIZE_MAX) { /* the answer to a request made ahead of its turn */
                size_t i = e->prep_download;

                e->prep_download = SIZE_MAX;
                return package_failed(e, i, code, message);
        }
        if (!e->waiting_for_package)
                return;
        e->waiting_for_package = false;
        package_failed(e, e->op_index, code, message);
}

/* The download operation i: verifies and extracts the package; its files and HandlerState NotInstalled join the
 * pending group commit. Finishes the operation when it is the current one, else records it (prepare_ahead()). */
static void package_unpack(ExtExecutor *e, size_t i, int zip_fd) {
        const ExtOp *op = &e->plan.ops[i];
        ExtPlanGroup *g = &e->plan.groups[op->group];
        GroupState *gs = &e->groups[op->group];
        ExtPackageOptions po;
        ExtPackageReport rep = {};
        size_t mark = e->pending.n; /* done ahead: the running command's HandlerState may be pending */
        int r, code;

        po = (ExtPackageOptions){
                .limits = e->options.limits,
                .log_dir = e->layout.log_dir,
                .encoded_signature = g->handler_gs ? g->handler_gs->encoded_signature : NULL,
                .signing_root_pem = e->signing_root_pem,
                .batch = &e->pending,
        };
        r = extension_package_install(e->context, g->handler, op->version, zip_fd, &po, &rep);
        if (rep.signature_error)
                log_debug("Package signature of %s %s: %s: %s", g->handler, op->version,
                          ext_signature_state_to_string(rep.signature), rep.signature_error);
        if (gs->result && rep.signature != EXT_SIGNATURE_NOT_CHECKED &&
            rep.signature != EXT_SIGNATURE_VALID) {
                (void) free_and_strdup(&gs->result->signature_problem,
                                       ext_signature_state_to_string(rep.signature));
                gs->result->signature_refused = rep.signature_refused;
                gs->result->signature_new = true;
        }
        /* waagent __handle_ext_disallowed_error(): a refused package of an extension with settings is also
         * reported at the extension level, so that CRP matches it to this sequence number. */
        if (rep.signature_refused && gs->result && gs->result->has_settings)
                (void) ext_handler_result_set_extension_status(gs->result, "error", rep.code, "Download",
                                                               rep.error);
        if (r >= 0)
                crash_point("ext:download:extracted");
        if (r >= 0)
                r = handler_state_write(&e->layout, g->handler, op->version, HANDLER_STATE_NOT_INSTALLED,
                                        &e->pending);
        if (r < 0)
                write_batch_truncate(&e->pending, mark); /* it lies in the directory the failure removed */
        code = rep.code ?: EXT_CODE_PACKAGE_EXTRACTION_FAILED;
        if (i != e->op_index)
                prepared_set(&e->prepared[i], r, code, rep.error);
        else
                (void) op_finished(e, r, code, rep.error);
        ext_package_report_done(&rep);
}

void ext_executor_package_ready(ExtExecutor *e, int zip_fd) {
        if (e->prep_download != SIZE_MAX) { /* the answer to a request made ahead of its turn */
                size_t i = e->prep_download;

                e->prep_download = SIZE_MAX;
                return package_unpack(e, i, zip_fd);
        }
        if (!e->waiting_for_package)
                return;
        e->waiting_for_package = false;
        package_unpack(e, e->op_index, zip_fd);
}

static int run_copy_state(ExtExecutor *e, const ExtOp *op) {
        const ExtPlanGroup *g = current_group(e);
        _cleanup_close_ int from = open_handler_dir(e, g->handler, op->other_version),
                            to = open_handler_dir(e, g->handler, op->version), sfrom = -EBADF, sto = -EBADF;
        DIR *d;

        if (from < 0 || to < 0)
                return op_finished(e, from < 0 ? from : to, EXT_CODE_UPDATE_FAILED,
                                   "Cannot open handler directories");
        (void) ext_copy_file_at(from, "mrseq", to, "mrseq");
        sfrom = openat(from, "status", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfrom < 0)
                return op_finished(e, 0, 0, NULL);
        (void) mkdirat(to, "status", 0700);
        sto = openat(to, "status", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        d = sto >= 0 ? fdopendir(sfrom) : NULL;
        if (!d)
                return op_finished(e, 0, 0, NULL);
        sfrom = -EBADF;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_type == DT_REG)
                        (void) ext_copy_file_at(dirfd(d), de->d_name, sto, de->d_name);
        closedir(d);
        return op_finished(e, 0, 0, NULL);
}

static int run_remove(ExtExecutor *e, const ExtOp *op) {
        const ExtPlanGroup *g = current_group(e);
        _cleanup_free_ char *dir = NULL, *zip = NULL;
        _cleanup_close_ int lib =
                open_in_root(e->layout.root_fd, e->layout.lib_dir, O_RDONLY | O_DIRECTORY, 0);
        int r;

        if (lib < 0)
                return op_finished(e, 0, 0, NULL);
        if (asprintf(&dir, "%s-%s", g->handler, op->version) < 0 ||
            asprintf(&zip, "%s__%s.zip", g->handler, op->version) < 0)
                return op_finished(e, -ENOMEM, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Out of memory");
        r = ext_rm_rf_at(lib, dir);
        (void) unlinkat(lib, zip, 0);
        /* The slice is per handler name: only a real removal (not the old side of an update) kills it. */
        if (!g->handler_gs || g->handler_gs->state == EXTENSION_STATE_UNINSTALL)
                (void) ext_spawner_kill_handler(e->spawner, g->handler);
        if (e->groups[op->group].result &&
            (!g->handler_gs || g->handler_gs->state == EXTENSION_STATE_UNINSTALL))
                e->groups[op->group].result->removed = true;
        return op_finished(e, r, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Failed to remove the handler directory");
}

static int run_delete_extension(ExtExecutor *e, const ExtOp *op) {
        const ExtPlanGroup *g = current_group(e);
        _cleanup_close_ int dir = open_handler_dir(e, g->handler, op->version);
        const char *subdirs[] = {"config", "status"};
        _cleanup_free_ char *prefix = NULL;

        if (dir < 0 || asprintf(&prefix, "%s.", op->extension) < 0)
                return op_finished(e, 0, 0, NULL);
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                int fd = openat(dir, subdirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

                if (!d) {
                        closep(&fd);
                        continue;
                }
                for (struct dirent *de; (de = readdir(d));)
                        if (startswith(de->d_name, prefix) &&
                            (endswith(de->d_name, ".settings") || endswith(de->d_name, ".status") ||
                             streq(de->d_name + strlen(prefix), "HandlerState")))
                                (void) unlinkat(dirfd(d), de->d_name, 0);
                closedir(d);
        }
        if (e->groups[op->group].result)
                e->groups[op->group].result->removed = true;
        return op_finished(e, 0, 0, NULL);
}

static int on_wait_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* §4.6: a dependency failed (its operations or its status) or timed out: every later group is skipped with this
 * message. waagent names the extension by get_extension_full_name(): "<Handler>.<ext>" for multi-config. */
static void dependency_failed(ExtExecutor *e, const ExtPlanGroup *g, size_t group, bool failed) {
        free(e->dependency_error);
        if (asprintf(&e->dependency_error,
                     failed ? "Skipping processing of extensions since execution of dependent extension "
                              "%s%s%s failed"
                            : "Skipping processing of extensions since dependent extension %s%s%s did not "
                              "reach a terminal state within the allowed timeout",
                     g->handler, g->extension ? "." : "", strempty(g->extension)) < 0)
                e->dependency_error = NULL;
        e->dependency_group = group;
}

/* §4.6: wait until the extension's status is terminal (success|error), polling, up to the global deadline. */
static int run_wait(ExtExecutor *e) {
        const ExtOp *op = current_op(e);
        const ExtPlanGroup *g = current_group(e);
        GroupState *gs = &e->groups[op->group];
        const char *st;
        int r;

        if (!gs->result)
                return op_finished(e, 0, 0, NULL);
        (void) ext_handler_result_read_status(&e->layout, gs->result, gs->report_heartbeat,
                                              now_usec(CLOCK_REALTIME));
        st = gs->result->has_extension_status ? gs->result->extension_status.status : NULL;
        if (st && streq(st, "success"))
                return op_finished(e, 0, 0, NULL);
        if ((st && streq(st, "error")) ||
            now_usec(CLOCK_MONOTONIC) >= e->started + (e->options.wait_deadline ?: EXT_WAIT_DEADLINE_USEC)) {
                dependency_failed(e, g, op->group, st && streq(st, "error"));
                e->op_index++;
                step(e);
                return 0;
        }
        r = sd_event_add_time_relative(e->event, &e->timer_source, CLOCK_MONOTONIC,
                                       e->options.wait_poll ?: EXT_WAIT_POLL_USEC, 0, on_wait_timer, e);
        if (r < 0)
                return op_finished(e, r, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Cannot arm the wait timer");
        return 0;
}

/* Called every poll interval while waiting for a dependency's terminal status. */
static int on_wait_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExtExecutor *e = userdata;

        e->timer_source = sd_event_source_disable_unref(e->timer_source);
        return run_wait(e);
}

/* The settings file of operation i joins the pending group commit. */
static int settings_write(ExtExecutor *e, size_t i) {
        const ExtOp *op = &e->plan.ops[i];
        const ExtPlanGroup *g = &e->plan.groups[op->group];

        return ext_settings_write(&e->layout, g->handler, op->version, op->extension, g->settings,
                                  &e->pending);
}

static void prepare_start(ExtExecutor *e, size_t i) {
        e->prepared[i].started = now_usec(CLOCK_MONOTONIC);
        e->prepared[i].started_realtime = now_usec(CLOCK_REALTIME);
        crash_pointf("ext:%s:start", ext_op_type_to_string(e->plan.ops[i].type));
}

/*
 * While a command runs, the next handler's package is unpacked and its settings file written into the pending
 * group, which the caller commits: work that does not depend on the command's outcome, overlapped with it
 * (issue #21). Each operation's outcome is reported when its turn comes, exactly as if it had run then. Never
 * done ahead: an operation of the running command's own handler (another instance of a multi-config handler
 * included), anything after a dependency wait or a command, a package that is not downloaded yet
 * (options.package_ready).
 */
static void prepare_ahead(ExtExecutor *e) {
        const ExtOp *cur = current_op(e);
        const ExtPlanGroup *cg = current_group(e);

        if (!e->options.package_ready || e->dependency_error)
                return;
        for (size_t i = e->op_index + 1; i < e->plan.n_ops; i++) {
                const ExtOp *op = &e->plan.ops[i];
                const ExtPlanGroup *g = &e->plan.groups[op->group];
                PreparedOp *p = &e->prepared[i];

                if (op->group == cur->group || strcasecmp(g->handler, cg->handler) == 0 ||
                    e->groups[op->group].failed)
                        break;
                if (op->type == EXT_OP_DOWNLOAD) {
                        if (!e->options.package_request ||
                            !e->options.package_ready(e, g->handler, op->version, g->handler_gs,
                                                      e->options.package_request_userdata))
                                break;
                        prepare_start(e, i);
                        e->prep_download = i;
                        if (e->options.package_request(e, g->handler, op->version, g->handler_gs,
                                                       e->options.package_request_userdata) < 0 &&
                            e->prep_download == i)
                                ext_executor_package_failed(e, EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                                                            "Package download failed");
                        if (e->prep_download == i)
                                break; /* answered later: it is taken when it comes */
                } else if (op->type == EXT_OP_SETTINGS) {
                        prepare_start(e, i);
                        prepared_set(p, settings_write(e, i), EXT_CODE_ENABLE_FAILED,
                                     "Failed to write the settings file");
                } else
                        break;
                if (p->r < 0)
                        break;
        }
}

/* The turn of an operation done ahead, or of a download asked for ahead and not answered yet. */
static int run_prepared(ExtExecutor *e) {
        PreparedOp *p = &e->prepared[e->op_index];

        e->op_started = p->started;
        e->op_started_realtime = p->started_realtime;
        if (!p->done) { /* e->prep_download == e->op_index: the answer is this operation's */
                e->prep_download = SIZE_MAX;
                e->waiting_for_package = true;
                return 0;
        }
        e->op_ended = p->ended;
        return op_finished(e, p->r, p->code, p->message);
}

static int run_op(ExtExecutor *e) {
        const ExtOp *op = current_op(e);
        ExtPlanGroup *g = current_group(e);
        int r;

        if (e->prepared[e->op_index].done || e->prep_download == e->op_index)
                return run_prepared(e);
        /* The group holds only files a command reads (package, settings): the state records (record_state())
         * join it at the commit. With none of those files, a command starts first and the records are made
         * durable while it runs (run_command()). */
        if (op->type != EXT_OP_SETTINGS && (!command_op(op->type) || e->pending.n > 0))
                commit_pending(e);
        crash_pointf("ext:%s:start", ext_op_type_to_string(op->type));
        e->op_started = now_usec(CLOCK_MONOTONIC);
        e->op_started_realtime = now_usec(CLOCK_REALTIME);
        switch (op->type) {
        case EXT_OP_DOWNLOAD:
                if (!e->options.package_request)
                        return op_finished(e, -ENOPKG, EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                                           "No package source");
                e->waiting_for_package = true;
                r = e->options.package_request(e, g->handler, op->version, g->handler_gs,
                                               e->options.package_request_userdata);
                if (r < 0 && e->waiting_for_package)
                        ext_executor_package_failed(e, EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                                                    "Package download failed");
                return 0;
        case EXT_OP_SETTINGS:
                r = settings_write(e, e->op_index);
                return op_finished(e, r, EXT_CODE_ENABLE_FAILED, "Failed to write the settings file");
        case EXT_OP_INSTALL:
        case EXT_OP_UPDATE:
        case EXT_OP_ENABLE:
        case EXT_OP_DISABLE:
        case EXT_OP_UNINSTALL:
                return run_command(e, op);
        case EXT_OP_COPY_STATE:
                return run_copy_state(e, op);
        case EXT_OP_REMOVE:
                return run_remove(e, op);
        case EXT_OP_DELETE_EXTENSION:
                return run_delete_extension(e, op);
        case EXT_OP_WAIT:
                return run_wait(e);
        case EXT_OP_REPORT_ERROR: {
                _cleanup_free_ char *msg = NULL;

                if (g->handler_gs->invalid_reason)
                        (void) asprintf(&msg, "Ran into config errors: %s", g->handler_gs->invalid_reason);
                return op_finished(e, -EINVAL, EXT_CODE_PLUGIN_PROCESSING_ERROR, msg ?: g->error);
        }
        case _EXT_OP_MAX:
        case _EXT_OP_INVALID:
                break;
        }
        return op_finished(e, -EINVAL, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Unknown operation");
}

static int on_status_retry(sd_event_source *s, uint64_t usec, void *userdata);

/* §4.11 under SignatureValidation=report: a package that is installed but not validated runs, and its handler
 * status says so on every report (the state is read from the handler directory, so it survives restarts). */
static void signature_warnings(ExtExecutor *e) {
        if (e->context->config.signature_mode != SIGNATURE_MODE_REPORT)
                return;
        for (size_t i = 0; i < e->n_results; i++) {
                ExtHandlerResult *r = &e->results[i];
                _cleanup_free_ char *msg = NULL;
                _cleanup_close_ int dir = -EBADF;
                ExtSignatureState state;

                /* A failure keeps its own message (its output follows it); the journal has the warning. */
                if (r->removed || r->signature_refused || (r->message && strchr(r->message, '\n')))
                        continue;
                dir = open_handler_dir(e, r->name, r->version);
                if (dir < 0 || ext_package_signature_read(dir, &state, NULL) < 0 ||
                    state == EXT_SIGNATURE_VALID || state == EXT_SIGNATURE_NOT_CHECKED)
                        continue;
                if (asprintf(&msg, "%s%sWarning: package %s (SignatureValidation=report)",
                             strempty(r->message), isempty(r->message) ? "" : ". ",
                             ext_signature_state_to_string(state)) < 0)
                        continue;
                free(r->message);
                r->message = TAKE_PTR(msg);
                if (!r->signature_problem)
                        (void) free_and_strdup(&r->signature_problem, ext_signature_state_to_string(state));
        }
}

/* Final phase: status files of every extension whose enable ran (§4.7, 5 attempts 2 s apart). */
static void collect_status(ExtExecutor *e) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        bool again = false;

        e->status_attempts++;
        for (size_t i = 0; i < e->plan.n_groups; i++) {
                GroupState *gs = &e->groups[i];

                if (!gs->result || gs->result->removed || !gs->enable_ran)
                        continue;
                if (ext_handler_result_read_status(&e->layout, gs->result, gs->report_heartbeat,
                                                   now_usec(CLOCK_REALTIME)) == -EAGAIN)
                        again = true;
        }
        e->timings.status_read += now_usec(CLOCK_MONOTONIC) - start;
        if (again && e->status_attempts < EXT_STATUS_RETRIES &&
            sd_event_add_time_relative(e->event, &e->timer_source, CLOCK_MONOTONIC,
                                       e->options.status_retry_delay ?: EXT_STATUS_RETRY_USEC, 0,
                                       on_status_retry, e) >= 0)
                return;
        signature_warnings(e);
        e->running = false;
        archive_dl_closep(&e->libarchive);
        if (e->done)
                e->done(e, 0, e->done_userdata);
}

/* Called when a status file read is retried. */
static int on_status_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        ExtExecutor *e = userdata;

        e->timer_source = sd_event_source_disable_unref(e->timer_source);
        collect_status(e);
        return 0;
}

/* Called from the defer source: runs the next operation that is not skipped. */
static int on_defer(sd_event_source *s, void *userdata) {
        ExtExecutor *e = userdata;

        (void) sd_event_source_set_enabled(e->defer_source, SD_EVENT_OFF);
        for (; e->op_index < e->plan.n_ops; e->op_index++) {
                const ExtOp *op = current_op(e);
                GroupState *gs = &e->groups[op->group];

                if (gs->failed) {
                        /* "Do not wait for extension status if the handler failed" (waagent): skip the rest. */
                        if (op->type == EXT_OP_WAIT && !e->dependency_error)
                                dependency_failed(e, &e->plan.groups[op->group], op->group, true);
                        continue;
                }
                if (e->dependency_error && op->group != e->dependency_group) {
                        gs->failed = true;
                        set_result(e, op->group, "NotReady", -1, e->dependency_error);
                        continue;
                }
                return run_op(e);
        }
        commit_pending(e);
        collect_status(e);
        return 0;
}

static void step(ExtExecutor *e) {
        if (!e->defer_source) {
                if (sd_event_add_defer(e->event, &e->defer_source, on_defer, e) < 0) {
                        commit_pending(e);
                        e->running = false;
                        archive_dl_closep(&e->libarchive);
                        if (e->done)
                                e->done(e, -ENOMEM, e->done_userdata);
                        return;
                }
        }
        (void) sd_event_source_set_enabled(e->defer_source, SD_EVENT_ONESHOT);
}

static int results_init(ExtExecutor *e) {
        e->groups = calloc(MAX(e->plan.n_groups, (size_t) 1), sizeof(GroupState));
        e->results = calloc(MAX(e->plan.n_groups, (size_t) 1), sizeof(ExtHandlerResult));
        e->prepared = calloc(MAX(e->plan.n_ops, (size_t) 1), sizeof(PreparedOp));
        if (!e->groups || !e->results || !e->prepared)
                return -ENOMEM;
        for (size_t i = 0; i < e->plan.n_groups; i++) {
                const ExtPlanGroup *g = &e->plan.groups[i];
                ExtHandlerResult *r;

                if (!g->reported)
                        continue;
                r = &e->results[e->n_results++];
                r->seq_no = g->seq_no;
                r->has_settings = g->settings != NULL;
                if (!(r->name = strdup(g->handler)) || !(r->version = strdup(g->version)) ||
                    (g->extension && !(r->extension = strdup(g->extension))))
                        return -ENOMEM;
                e->groups[i].result = r;
        }
        return 0;
}

int ext_executor_run(ExtExecutor *e, const ExtensionsGoalState *gs, ExtExecutorDoneFunc done,
                     void *userdata) {
        InstalledHandler *inst = NULL;
        size_t n = 0;
        int r;

        if (e->running)
                return -EBUSY;
        reset_run(e);
        e->timings = (ExtExecutorTimings){};
        e->started = now_usec(CLOCK_MONOTONIC);
        r = installed_handlers_scan(&e->layout, &inst, &n);
        if (r < 0)
                return r;
        r = ext_plan_compute(inst, n, gs, &e->plan);
        installed_handlers_free(inst, n);
        if (r < 0)
                return r;
        e->timings.plan = now_usec(CLOCK_MONOTONIC) - e->started;
        e->have_plan = true;
        r = results_init(e);
        if (r < 0)
                return r;
        if (log_get_max_level() >= LOG_DEBUG) {
                _cleanup_free_ char *text = NULL;
                if (ext_plan_format(&e->plan, &text) >= 0)
                        log_debug("Extensions plan for %s:\n%s", strna(gs->id), text);
        }
        e->gs = gs;
        e->done = done;
        e->done_userdata = userdata;
        e->running = true;
        /* Each extraction opens libarchive too (ext_package_extract()): with this reference that is a count, not
         * a load and relocation per package (≈ 3 ms). A failure shows at the extraction. */
        if (!e->libarchive)
                (void) archive_dl_open(&e->libarchive, NULL);
        step(e);
        return 0;
}

const ExtExecutorTimings *ext_executor_timings(const ExtExecutor *e) {
        return &e->timings;
}

const ExtPlan *ext_executor_plan(const ExtExecutor *e) {
        return e->have_plan ? &e->plan : NULL;
}

const ExtHandlerResult *ext_executor_results(const ExtExecutor *e, size_t *ret_n) {
        *ret_n = e->n_results;
        return e->results;
}

int ext_executor_reports(const ExtExecutor *e, HandlerStatusReport **ret, size_t *ret_n) {
        HandlerStatusReport *a = calloc(MAX(e->n_results, (size_t) 1), sizeof *a);
        size_t n = 0;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < e->n_results; i++)
                if (!e->results[i].removed)
                        ext_handler_result_to_report(&e->results[i], &a[n++]);
        *ret = a;
        *ret_n = n;
        return 0;
}

ExtSpawner *ext_executor_spawner(ExtExecutor *e) {
        return e->spawner;
}

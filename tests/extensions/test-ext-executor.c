/* SPDX-License-Identifier: MIT */
/*
 * Extension handlers really run (§4.3–§4.8): on a scratch root, packages are zipped here from the sample
 * extension (tests/fabric/ext/sample-handler) and from tests/extensions/handlers/ (recorder, hanger, burner), a
 * goal state is parsed from ExtensionsConfig XML, and the executor runs the plan on an sd-event loop. The sample
 * extension decrypts its protected settings with the tenant certificate written from our Certificates
 * document, reports its status file and heartbeat, and no secret reaches a log or the blob. Asserted: the
 * HandlerEnvironment/settings bytes and the exact environment each handler saw, operation order for
 * install/enable, re-enable after restart, update 1.0.0 → 1.1.0 and uninstall (as recorded by the handler
 * itself), exit codes → handler status and codes, a hanging handler killed at its timeout (1011) with its
 * background children — its process group always, a child that left the group only with a cgroup — and a
 * CPU-burning handler throttled by cpu.max where cgroup v2 controllers are available (skipped otherwise).
 * The interop group runs WALinuxAgent's sample_ext-1.3.0.zip the same way.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "certificates.h"
#include "context.h"
#include "ext-executor.h"
#include "ext-test-zip.h"
#include "fileio.h"
#include "macro.h"
#include "openssl-util.h"
#include "status-blob.h"
#include "tests.h"

typedef struct Package {
        const char *name, *version;
        void *zip;
        size_t len;
} Package;

typedef struct Env {
        char *top;         /* the scratch directory removed at the end */
        char *root;        /* the agent's root: top, or a directory inside it */
        unsigned requests; /* package requests seen by provide() */
        Context c;
        sd_event *event;
        ExtExecutor *e;
        ExtExecutorOptions options;
        char *agent_env[8];
        Package packages[8];
        size_t n_packages;
        ExtensionsGoalState gs;
        bool have_gs;
        int done_r;
        bool finished;
        unsigned ready_asked; /* package_ready() calls */
        struct {
                ExtOpType type;
                char handler[64];
                usec_t start, end; /* CLOCK_REALTIME */
                int error;
        } ops[32]; /* options.op_done, in the order reported */
        size_t n_ops;
} Env;

static int provide(ExtExecutor *e, const char *name, const char *version, const ExtensionHandler *h,
                   void *userdata) {
        Env *env = userdata;

        env->requests++;
        for (size_t i = 0; i < env->n_packages; i++)
                if (streq(env->packages[i].name, name) && streq(env->packages[i].version, version)) {
                        /* as the daemon does: the zip in a file (here a memfd) */
                        _cleanup_close_ int fd = memfd_create("package", MFD_CLOEXEC);

                        assert_true(fd >= 0);
                        assert_int_equal(write(fd, env->packages[i].zip, env->packages[i].len),
                                         (ssize_t) env->packages[i].len);
                        ext_executor_package_ready(e, fd);
                        return 0;
                }
        ext_executor_package_failed(e, EXT_CODE_PACKAGE_DOWNLOAD_FAILED, "no such package");
        return 0;
}

/* provide() answers before it returns: every package is "downloaded already". */
static bool package_ready(ExtExecutor *e, const char *name, const char *version, const ExtensionHandler *h,
                          void *userdata) {
        Env *env = userdata;

        env->ready_asked++;
        return true;
}

static void op_done(const ExtOpRecord *r, void *userdata) {
        Env *env = userdata;

        assert_true(env->n_ops < ELEMENTSOF(env->ops));
        env->ops[env->n_ops].type = r->type;
        (void) snprintf(env->ops[env->n_ops].handler, sizeof env->ops[0].handler, "%s", r->handler);
        env->ops[env->n_ops].start = r->start;
        env->ops[env->n_ops].end = r->start + r->duration;
        env->ops[env->n_ops++].error = r->error;
}

/* The n-th reported operation is type of handler. */
static size_t op_at(Env *env, size_t n, ExtOpType type, const char *handler) {
        assert_true(n < env->n_ops);
        assert_int_equal(env->ops[n].type, type);
        assert_string_equal(env->ops[n].handler, handler);
        return n;
}

static void add_handler_package(Env *env, const char *name, const char *version, const char *handler) {
        _cleanup_free_ char *dir = test_handler_dir(handler);
        Package *p = &env->packages[env->n_packages++];

        p->name = name;
        p->version = version;
        test_zip_dir(dir, NULL, &p->zip, &p->len);
}

/* An agent whose root is <scratch>/<sub> (sub NULL: the scratch directory itself). */
static Env *env_new_in(const char *fail_ops, const char *sub) {
        Env *env = calloc(1, sizeof *env);
        size_t n = 0;

        env->top = tmpdir_new();
        if (sub) {
                assert_true(asprintf(&env->root, "%s/%s", env->top, sub) > 0);
                assert_int_equal(mkdir(env->root, 0755), 0);
        } else
                env->root = strdup(env->top);
        assert_true(asprintf(&env->agent_env[n++], "PATH=%s", getenv("PATH") ?: "/usr/bin:/bin") > 0);
        assert_true(asprintf(&env->agent_env[n++], "AZL_TEST_RECORD=%s/record.txt", env->root) > 0);
        /* where a name or version that got parsed as shell text would leave its mark */
        assert_true(asprintf(&env->agent_env[n++], "AZL_TEST_PWNED=%s/pwned", env->top) > 0);
        if (fail_ops)
                assert_true(asprintf(&env->agent_env[n++], "AZL_TEST_FAIL=%s", fail_ops) > 0);
        assert_int_equal(context_init(&env->c, env->root, env->agent_env), 0);
        assert_int_equal(sd_event_new(&env->event), 0);
        env->options = (ExtExecutorOptions){
                .package_request = provide,
                .package_request_userdata = env,
                .spawner = {.use_systemd = false, .cgroup_root = ""},
                .status_retry_delay = 100 * USEC_PER_MSEC,
                .signing_root_pem = "",
        };
        return env;
}

static Env *env_new(const char *fail_ops) {
        return env_new_in(fail_ops, NULL);
}

static void env_free(Env *env) {
        ext_executor_free(env->e);
        if (env->have_gs)
                extensions_goal_state_done(&env->gs);
        sd_event_unref(env->event);
        context_done(&env->c);
        for (size_t i = 0; i < env->n_packages; i++)
                free(env->packages[i].zip);
        for (size_t i = 0; env->agent_env[i]; i++)
                free(env->agent_env[i]);
        tmpdir_remove(env->top);
        free(env->root);
        free(env);
}

static void on_done(ExtExecutor *e, int r, void *userdata) {
        Env *env = userdata;

        env->done_r = r;
        env->finished = true;
}

static void run_xml(Env *env, const char *plugins, const char *settings) {
        _cleanup_free_ char *xml = NULL, *err = NULL;

        if (!env->e)
                assert_int_equal(ext_executor_new(&env->c, env->event, &env->options, &env->e), 0);
        if (env->have_gs)
                extensions_goal_state_done(&env->gs);
        assert_true(
                asprintf(&xml,
                         "<Extensions version=\"1.0.0.0\" goalStateIncarnation=\"1\"><Plugins>%s</Plugins>"
                         "<PluginSettings>%s</PluginSettings></Extensions>",
                         plugins, settings) > 0);
        if (ext_conf_parse(xml, strlen(xml), NULL, &env->gs, &err) < 0)
                fail_msg("parse: %s", err);
        env->have_gs = true;
        env->done_r = 1;
        env->finished = false;
        assert_int_equal(ext_executor_run(env->e, &env->gs, on_done, env), 0);
        while (!env->finished)
                assert_true(sd_event_run(env->event, UINT64_MAX) >= 0);
        assert_int_equal(env->done_r, 0);
}

static char *read_rel(Env *env, const char *rel) {
        char *data = NULL;
        size_t size;
        int r = read_file_in_root(env->c.root_fd, rel, 4 * 1024 * 1024, &data, &size);

        if (r < 0)
                fail_msg("cannot read %s: %s", rel, strerror(-r));
        return data;
}

static const ExtHandlerResult *result_for(Env *env, const char *name) {
        size_t n;
        const ExtHandlerResult *r = ext_executor_results(env->e, &n);

        for (size_t i = 0; i < n; i++)
                if (streq(r[i].name, name))
                        return &r[i];
        fail_msg("no result for %s", name);
        return NULL;
}

#define PLUGIN(name, version, state)                                                                        \
        "<Plugin name=\"" name "\" version=\"" version "\" location=\"http://127.0.0.1/m\" state=\"" state  \
        "\"/>"
#define PSET(name, version, seq, public)                                                                    \
        "<Plugin name=\"" name "\" version=\"" version "\"><RuntimeSettings seqNo=\"" seq                   \
        "\">{\"runtimeSettings\":[{\"handlerSettings\":"                                                    \
        "{\"protectedSettingsCertThumbprint\":\"F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9\","                \
        "\"protectedSettings\":\"MIICWgYJK\","                                                              \
        "\"publicSettings\":" public "}}]}</RuntimeSettings></Plugin>"

/* The tenant certificates of tests/data/wire/certificates.xml, as the daemon writes them: <THUMB>.crt/.prv. */
static void write_tenant_certificates(Env *env) {
        _cleanup_free_ char *xml = NULL, *k = NULL, *c = NULL, *error = NULL;
        _cleanup_(certificates_xml_done) CertificatesXml x = {};
        _cleanup_(certificate_list_done) CertificateList l = {};
        _cleanup_evp_pkey_ EVP_PKEY *key = NULL;
        _cleanup_x509_ X509 *cert = NULL;
        size_t size;

        xml = test_data_read("wire/certificates.xml", &size);
        assert_int_equal(certificates_xml_parse(xml, size, &x, &error), 0);
        k = test_data_read("wire/transport-key.pem", &size);
        assert_int_equal(pem_load_private_key(k, size, &key), 0);
        c = test_data_read("wire/transport-cert.pem", &size);
        assert_int_equal(pem_load_certificate(c, size, &cert), 0);
        assert_int_equal(certificates_decrypt(x.data, x.data_size, key, cert, &l, &error), 0);
        assert_int_equal(certificates_write(env->c.root_fd, "/var/lib/waagent", &l), 0);
}

#define SAMPLE       "AzlAgent.SampleHandler"
#define SAMPLE_DIR   "/var/lib/waagent/" SAMPLE "-1.0.0"
#define TENANT_THUMB "E488489693D19133A637CCF4E1B5BFFFB1ABDF3D"

static void test_sample_handler(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *protected = NULL, *plugin_settings = NULL, *settings = NULL, *expected = NULL,
                            *hs = NULL, *blob = NULL, *log = NULL, *own_log = NULL, *hb = NULL, *dir = NULL;
        _cleanup_free_ HandlerStatusReport *reports = NULL;
        const ExtHandlerResult *r;
        Package *p = &env->packages[env->n_packages++];
        size_t n, size;

        write_tenant_certificates(env);
        dir = test_sample_handler_dir();
        p->name = SAMPLE;
        p->version = "1.0.0";
        test_zip_dir(dir, NULL, &p->zip, &p->len);
        protected = test_data_read("wire/protected-settings.txt", &size);
        assert_true(
                asprintf(&plugin_settings,
                         "<Plugin name=\"" SAMPLE "\" version=\"1.0.0\"><RuntimeSettings seqNo=\"0\">"
                         "{\"runtimeSettings\":[{\"handlerSettings\":{\"protectedSettingsCertThumbprint\":"
                         "\"" TENANT_THUMB "\",\"protectedSettings\":\"%s\",\"publicSettings\":"
                         "{\"message\":\"hello from the executor\"}}}]}</RuntimeSettings></Plugin>",
                         strstrip(protected)) > 0);
        run_xml(env, PLUGIN(SAMPLE, "1.0.0", "enabled"), plugin_settings);

        /* §4.3: the settings file the handler read, protected settings still encrypted */
        settings = read_rel(env, SAMPLE_DIR "/config/0.settings");
        assert_true(asprintf(&expected,
                             "{\"runtimeSettings\": [{\"handlerSettings\": {\"publicSettings\": "
                             "{\"message\": \"hello from the executor\"}, \"protectedSettings\": \"%s\", "
                             "\"protectedSettingsCertThumbprint\": \"" TENANT_THUMB "\"}}]}",
                             protected) > 0);
        assert_string_equal(settings, expected);
        hs = read_rel(env, SAMPLE_DIR "/config/HandlerState");
        assert_string_equal(hs, "Enabled");
        log = read_rel(env, "/var/log/azure/" SAMPLE "/CommandExecution.log");
        assert_non_null(strstr(log, "sample-handler.py install"));
        assert_non_null(strstr(log, "sample-handler.py enable"));
        /* the handler's own log: both operations, with the §4.4 version and sequence number */
        own_log = read_rel(env, "/var/log/azure/" SAMPLE "/sample-handler.log");
        assert_non_null(strstr(own_log, " install 1.0.0 seq 0: done\n"));
        assert_non_null(strstr(own_log,
                               " enable 1.0.0 seq 0: success: hello from the executor; decrypted with "
                               "certificate " TENANT_THUMB ": 2 key(s): count, secret\n"));

        r = result_for(env, SAMPLE);
        /* reportHeartbeat: the heartbeat (§4.8) is the handler status */
        hb = read_rel(env, SAMPLE_DIR "/heartbeat.log");
        assert_non_null(strstr(hb, "\"status\": \"Ready\""));
        assert_string_equal(r->status, "Ready");
        assert_int_equal(r->code, 0);
        /* report mode (the default): the package is not signed, and the message says so (docs/security.md) */
        assert_string_equal(r->message, SAMPLE " enabled with settings 0. Warning: package not signed "
                                               "(SignatureValidation=report)");
        /* the status file it wrote (§4.7): success, the public message, the names of the decrypted keys */
        assert_true(r->has_extension_status);
        assert_string_equal(r->extension_status.status, "success");
        assert_string_equal(r->extension_status.operation, "Enable");
        assert_string_equal(r->extension_status.message, "hello from the executor");
        assert_int_equal(r->extension_status.n_substatus, 1);
        assert_string_equal(r->extension_status.substatus[0].name, "ProtectedSettings");
        assert_string_equal(r->extension_status.substatus[0].message,
                            "decrypted with certificate " TENANT_THUMB ": 2 key(s): count, secret");

        assert_int_equal(ext_executor_reports(env->e, &reports, &n), 0);
        assert_int_equal(n, 1);
        VmStatusReport vm = {.agent_version = "9.9.9.9",
                             .agent_status = "Ready",
                             .agent_message = "Guest Agent is running",
                             .handlers = reports,
                             .n_handlers = n};
        assert_int_equal(status_blob_build(&vm, &blob), 0);
        assert_non_null(strstr(blob, "\"handlerName\": \"" SAMPLE "\", \"status\": \"Ready\""));
        assert_non_null(strstr(blob, "\"sequenceNumber\": 0"));
        /* the decrypted value is nowhere: not in the blob, the agent's log of the commands, or the handler's */
        assert_null(strstr(blob, "azl-test-protected-value"));
        assert_null(strstr(log, "azl-test-protected-value"));
        assert_null(strstr(own_log, "azl-test-protected-value"));
        env_free(env);
}

static void interop_sample_ext(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *settings = NULL, *hs = NULL, *blob = NULL, *log = NULL;
        _cleanup_free_ HandlerStatusReport *reports = NULL;
        const ExtHandlerResult *r;
        Package *p = &env->packages[env->n_packages++];
        size_t n;

        p->name = "OSTCExtensions.ExampleHandlerLinux";
        p->version = "1.3.0";
        p->zip = fixture_read("ext/sample_ext-1.3.0.zip", &p->len);
        run_xml(env, PLUGIN("OSTCExtensions.ExampleHandlerLinux", "1.3.0", "enabled"),
                PSET("OSTCExtensions.ExampleHandlerLinux", "1.3.0", "0", "{\"foo\":\"bar\"}"));

        settings =
                read_rel(env, "/var/lib/waagent/OSTCExtensions.ExampleHandlerLinux-1.3.0/config/0.settings");
        assert_string_equal(
                settings,
                "{\"runtimeSettings\": [{\"handlerSettings\": {\"publicSettings\": {\"foo\": \"bar\"}, "
                "\"protectedSettings\": \"MIICWgYJK\", \"protectedSettingsCertThumbprint\": "
                "\"F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9\"}}]}");
        hs = read_rel(env, "/var/lib/waagent/OSTCExtensions.ExampleHandlerLinux-1.3.0/config/HandlerState");
        assert_string_equal(hs, "Enabled");
        log = read_rel(env, "/var/log/azure/OSTCExtensions.ExampleHandlerLinux/CommandExecution.log");
        assert_non_null(strstr(log, "sample.py -enable"));

        r = result_for(env, "OSTCExtensions.ExampleHandlerLinux");
        assert_string_equal(r->status, "Ready");
        assert_int_equal(r->code, 0);
        /* SignatureValidation=report (the default) and no encodedSignature: it runs, and its status says so */
        assert_string_equal(r->message,
                            "Plugin enabled. Warning: package not signed (SignatureValidation=report)");
        assert_string_equal(r->signature_problem, "not signed");
        assert_true(r->signature_new);
        assert_false(r->signature_refused);
        /* sample.py wrote status/0.status itself */
        assert_true(r->has_extension_status);
        assert_string_equal(r->extension_status.status, "success");

        assert_int_equal(ext_executor_reports(env->e, &reports, &n), 0);
        assert_int_equal(n, 1);
        VmStatusReport vm = {.agent_version = "9.9.9.9",
                             .agent_status = "Ready",
                             .agent_message = "Guest Agent is running",
                             .handlers = reports,
                             .n_handlers = n};
        assert_int_equal(status_blob_build(&vm, &blob), 0);
        assert_non_null(strstr(
                blob, "\"handlerName\": \"OSTCExtensions.ExampleHandlerLinux\", \"status\": \"Ready\""));
        assert_non_null(strstr(blob, "\"sequenceNumber\": 0"));
        env_free(env);
}

static void test_recorder_env_and_settings(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *rec = NULL, *seen = NULL, *envs = NULL, *expected = NULL, *cwd = NULL,
                            *dir = NULL;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"),
                PSET("Test.Recorder", "1.0.0", "3", "{\"k\":[1,2]}"));

        rec = read_rel(env, "/record.txt");
        assert_string_equal(rec, "install 1.0.0\nenable 1.0.0\n");
        assert_true(asprintf(&dir, "%s/var/lib/waagent/Test.Recorder-1.0.0", env->c.root) > 0);
        envs = read_rel(env, "/var/lib/waagent/Test.Recorder-1.0.0/env-enable.txt");
        /* §4.4, exactly: nothing more, nothing less (sorted by the handler) */
        assert_true(asprintf(&expected,
                             "AZURE_GUEST_AGENT_EXTENSION_PATH=%s\n"
                             "AZURE_GUEST_AGENT_EXTENSION_SUPPORTED_FEATURES=[{\"Key\": "
                             "\"ExtensionTelemetryPipeline\", \"Value\": \"1.0\"}]\n"
                             "AZURE_GUEST_AGENT_EXTENSION_VERSION=1.0.0\n"
                             "AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE=NOT_RUN\n"
                             "AZURE_GUEST_AGENT_WIRE_PROTOCOL_ADDRESS=168.63.129.16\n"
                             "ConfigSequenceNumber=3\n",
                             dir) > 0);
        assert_string_equal(envs, expected);
        cwd = read_rel(env, "/var/lib/waagent/Test.Recorder-1.0.0/cwd-enable.txt");
        assert_true(startswith(cwd, dir));
        seen = read_rel(env, "/var/lib/waagent/Test.Recorder-1.0.0/settings-seen-enable.json");
        assert_string_equal(
                seen, "{\"runtimeSettings\": [{\"handlerSettings\": {\"publicSettings\": {\"k\": [1, 2]}, "
                      "\"protectedSettings\": \"MIICWgYJK\", \"protectedSettingsCertThumbprint\": "
                      "\"F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9\"}}]}");
        assert_string_equal(result_for(env, "Test.Recorder")->status, "Ready");
        assert_string_equal(result_for(env, "Test.Recorder")->extension_status.message, "enabled 1.0.0");
        env_free(env);
}

static void test_exit_codes(void **state) {
        Env *env = env_new("enable");
        Env *env2 = env_new("install");
        const ExtHandlerResult *r;
        _cleanup_free_ char *rec = NULL;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        r = result_for(env, "Test.Recorder");
        assert_string_equal(r->status, "NotReady");
        assert_int_equal(r->code, EXT_CODE_ENABLE_FAILED);
        print_message("%s\n", r->message);
        assert_true(startswith(r->message, "Non-zero exit code: 7, "));
        assert_non_null(strstr(r->message, "/handler.sh enable\n[stdout]\nrecorder enable "
                                           "stdout\n\n\n[stderr]\nrecorder enable stderr\n"));

        add_handler_package(env2, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env2, PLUGIN("Test.Recorder", "1.0.0", "enabled"),
                PSET("Test.Recorder", "1.0.0", "0", "{}"));
        r = result_for(env2, "Test.Recorder");
        assert_int_equal(r->code, EXT_CODE_INSTALL_FAILED);
        rec = read_rel(env2, "/record.txt");
        assert_string_equal(rec, "install 1.0.0\n");
        env_free(env);
        env_free(env2);
}

/*
 * Without a trust anchor in the options the executor reads the managed system's: under --root the root's
 * /usr/share/azl-agent/…, not the host's (issue #17 §5). Under enforce a signature that is not CMS is refused
 * either way, but for a different reason: with the root's anchor it is looked at ("not a CMS SignedData"),
 * without one there is nothing to verify against ("No trusted root certificate available").
 */
#define PLUGIN_SIGNED(name, version, sig)                                                                   \
        "<Plugin name=\"" name "\" version=\"" version                                                      \
        "\" location=\"http://127.0.0.1/m\" state=\"enabled\" "                                             \
        "encodedSignature=\"" sig "\"/>"

static void test_signing_root_from_root(void **state) {
        Env *with = env_new(NULL), *without = env_new(NULL);
        const ExtHandlerResult *r;

        write_test_file(
                with->root, EXT_SIGNING_ROOT_PATH_DEFAULT + 1,
                "-----BEGIN CERTIFICATE-----\nnot parsed before the signature\n-----END CERTIFICATE-----\n");
        for (Env **e = (Env *[]){with, without, NULL}; *e; e++) {
                (*e)->options.signing_root_pem = NULL;
                (*e)->c.config.signature_mode = SIGNATURE_MODE_ENFORCE;
                add_handler_package(*e, "Test.Recorder", "1.0.0", "recorder");
                run_xml(*e, PLUGIN_SIGNED("Test.Recorder", "1.0.0", "AAAA"),
                        PSET("Test.Recorder", "1.0.0", "0", "{}"));
        }
        r = result_for(with, "Test.Recorder");
        print_message("with the root's anchor: %s\n", r->message);
        assert_int_equal(r->code, EXT_CODE_SIGNATURE_VALIDATION_FAILED);
        assert_non_null(strstr(r->message, "not a CMS SignedData"));
        r = result_for(without, "Test.Recorder");
        print_message("without: %s\n", r->message);
        assert_int_equal(r->code, EXT_CODE_SIGNATURE_VALIDATION_FAILED);
        assert_non_null(strstr(r->message, "No trusted root certificate available"));
        env_free(with);
        env_free(without);
}

static void test_restart_reenables(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *rec = NULL;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        /* agent restart: a new executor over the same disk, same goal state */
        env->e = ext_executor_free(env->e);
        assert_int_equal(unlink_in_root(env->c.root_fd, "/record.txt"), 0);
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        rec = read_rel(env, "/record.txt");
        assert_string_equal(rec, "enable 1.0.0\n");
        env_free(env);
}

static void test_update_sequence(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *rec = NULL, *upd = NULL, *inst = NULL, *hs = NULL;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        add_handler_package(env, "Test.Recorder", "1.1.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        assert_int_equal(unlink_in_root(env->c.root_fd, "/record.txt"), 0);
        run_xml(env, PLUGIN("Test.Recorder", "1.1.0", "enabled"), PSET("Test.Recorder", "1.1.0", "1", "{}"));

        rec = read_rel(env, "/record.txt");
        assert_string_equal(rec,
                            "disable 1.0.0\nupdate 1.1.0\nuninstall 1.0.0\ninstall 1.1.0\nenable 1.1.0\n");
        upd = read_rel(env, "/var/lib/waagent/Test.Recorder-1.1.0/env-update.txt");
        assert_non_null(strstr(upd, "\nVERSION=1.1.0\n"));
        assert_non_null(strstr(upd, "AZURE_GUEST_AGENT_UPDATING_FROM_VERSION=1.0.0\n"));
        assert_non_null(strstr(upd, "AZURE_GUEST_AGENT_DISABLE_CMD_EXIT_CODE=0\n"));
        assert_null(strstr(upd, "UNINSTALL_CMD_EXIT_CODE"));
        inst = read_rel(env, "/var/lib/waagent/Test.Recorder-1.1.0/env-install.txt");
        assert_non_null(strstr(inst, "AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE=0\n"));
        assert_int_equal(access_in_root(env->c.root_fd, "/var/lib/waagent/Test.Recorder-1.0.0"), -ENOENT);
        hs = read_rel(env, "/var/lib/waagent/Test.Recorder-1.1.0/config/HandlerState");
        assert_string_equal(hs, "Enabled");
        assert_string_equal(result_for(env, "Test.Recorder")->version, "1.1.0");
        assert_string_equal(result_for(env, "Test.Recorder")->status, "Ready");
        env_free(env);
}

static void test_failed_update(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *hs = NULL;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        add_handler_package(env, "Test.Recorder", "1.1.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        free(env->agent_env[3]);
        assert_true(asprintf(&env->agent_env[3], "AZL_TEST_FAIL=update") > 0);
        run_xml(env, PLUGIN("Test.Recorder", "1.1.0", "enabled"), PSET("Test.Recorder", "1.1.0", "1", "{}"));
        assert_int_equal(result_for(env, "Test.Recorder")->code, EXT_CODE_UPDATE_FAILED);
        hs = read_rel(env, "/var/lib/waagent/Test.Recorder-1.1.0/config/HandlerState");
        assert_string_equal(hs, "FailedUpgrade");
        env_free(env);
}

static void test_uninstall_sequence(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *rec = NULL;
        _cleanup_free_ HandlerStatusReport *reports = NULL;
        size_t n;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        assert_int_equal(unlink_in_root(env->c.root_fd, "/record.txt"), 0);
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "uninstall"), "");
        rec = read_rel(env, "/record.txt");
        assert_string_equal(rec, "disable 1.0.0\nuninstall 1.0.0\n");
        assert_int_equal(access_in_root(env->c.root_fd, "/var/lib/waagent/Test.Recorder-1.0.0"), -ENOENT);
        /* no status is reported after uninstall (§4.6) */
        assert_int_equal(ext_executor_reports(env->e, &reports, &n), 0);
        assert_int_equal(n, 0);
        env_free(env);
}

static bool pid_gone(pid_t pid) {
        _cleanup_free_ char *path = NULL, *stat = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size;
        char *paren;

        assert_true(asprintf(&path, "/proc/%d/stat", (int) pid) > 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_full_fd(fd, 4096, &stat, &size) < 0)
                return true;
        paren = strrchr(stat, ')');
        return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

static bool wait_gone(pid_t pid) {
        for (int i = 0; i < 300; i++) {
                if (pid_gone(pid))
                        return true;
                usleep(10 * 1000);
        }
        return false;
}

static pid_t read_pid(Env *env, const char *rel) {
        _cleanup_free_ char *s = read_rel(env, rel);
        int pid;

        assert_int_equal(safe_atoi(strstrip(s), &pid), 0);
        return pid;
}

static void run_hanger(const char *cgroup_root, bool expect_escaped_killed) {
        Env *env = env_new(NULL);
        const ExtHandlerResult *r;
        pid_t child, escaped = 0;
        usec_t start = now_usec(CLOCK_MONOTONIC);

        env->options.spawner.cgroup_root = cgroup_root;
        env->options.timeout[EXT_OP_ENABLE] = 1 * USEC_PER_SEC;
        add_handler_package(env, "Test.Hanger", "1.0", "hanger");
        run_xml(env, PLUGIN("Test.Hanger", "1.0", "enabled"), PSET("Test.Hanger", "1.0", "0", "{}"));
        assert_true(now_usec(CLOCK_MONOTONIC) - start < 10 * USEC_PER_SEC);

        r = result_for(env, "Test.Hanger");
        print_message("isolation %s: %s\n",
                      ext_isolation_to_string(ext_spawner_isolation(ext_executor_spawner(env->e))),
                      r->message);
        assert_string_equal(r->status, "NotReady");
        assert_int_equal(r->code, EXT_CODE_SCRIPT_TIMED_OUT);
        assert_true(startswith(r->message, "Timeout(1): "));
        assert_non_null(strstr(r->message, "/hang.sh enable\n[stdout]\nhanging\n"));

        child = read_pid(env, "/var/lib/waagent/Test.Hanger-1.0/child.pid");
        assert_true(wait_gone(child));
        if (access_in_root(env->c.root_fd, "/var/lib/waagent/Test.Hanger-1.0/escaped.pid") == 0) {
                escaped = read_pid(env, "/var/lib/waagent/Test.Hanger-1.0/escaped.pid");
                if (expect_escaped_killed)
                        assert_true(wait_gone(escaped));
                else {
                        /* left its process group: only a cgroup could have caught it */
                        assert_false(pid_gone(escaped));
                        (void) kill(escaped, SIGKILL);
                }
        }
        /* handler removal kills and removes its cgroup */
        assert_int_equal(ext_spawner_kill_handler(ext_executor_spawner(env->e), "Test.Hanger"), 0);
        env_free(env);
}

static void test_hang_timeout_process_group(void **state) {
        run_hanger("", false);
}

static const char *find_cgroup2(void) {
        static const char *const candidates[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
                _cleanup_free_ char *p = NULL;
                assert_true(asprintf(&p, "%s/cgroup.procs", candidates[i]) > 0);
                if (access(p, W_OK) == 0)
                        return candidates[i];
        }
        return NULL;
}

static void test_hang_timeout_cgroup(void **state) {
        const char *cg = find_cgroup2();

        if (geteuid() != 0 || !cg) {
                print_message("skipped: needs root and a writable cgroup2 mount\n");
                skip();
        }
        run_hanger(cg, true);
}

static void test_cpu_throttled(void **state) {
        const char *cg = find_cgroup2();
        _cleanup_free_ char *cpu_max = NULL, *log = NULL;
        const char *t;
        Env *env;

        if (geteuid() != 0 || !cg) {
                print_message("skipped: needs root and a writable cgroup2 mount\n");
                skip();
        }
        assert_true(asprintf(&cpu_max, "%s/cgroup.controllers", cg) > 0);
        {
                _cleanup_close_ int fd = open(cpu_max, O_RDONLY | O_CLOEXEC);
                _cleanup_free_ char *ctl = NULL;
                size_t size;
                if (fd < 0 || read_full_fd(fd, 4096, &ctl, &size) < 0 || !strstr(ctl, "cpu")) {
                        print_message(
                                "skipped: the cpu controller is not available on %s (hybrid hierarchy?)\n",
                                cg);
                        /* skip() jumps out: the cleanup attributes would not run */
                        free(ctl);
                        free(cpu_max);
                        ctl = cpu_max = NULL;
                        skip();
                }
        }
        env = env_new(NULL);
        env->options.spawner.cgroup_root = cg;
        add_handler_package(env, "Test.Burner", "1.0", "burner");
        run_xml(env, PLUGIN("Test.Burner", "1.0", "enabled"), PSET("Test.Burner", "1.0", "0", "{}"));
        assert_string_equal(result_for(env, "Test.Burner")->status, "Ready");
        log = read_rel(env, "/var/log/azure/Test.Burner/CommandExecution.log");
        t = strstr(log, "enable ");
        assert_non_null(t);
        t = strstr(t, "throttled ");
        assert_non_null(t);
        print_message("%.60s\n", t);
        assert_true(strtoul(t + strlen("throttled "), NULL, 10) > 0);
        env_free(env);
}

/* ---- §4.10 limits, §4.11 signatures, hostile names (issue #17) ---- */

static void test_resource_limits(void **state) {
        static const struct {
                int manifest_cpu;
                unsigned manifest_mem_mb, config_cpu;
                uint64_t config_mem_mib;
                unsigned want_cpu;
                uint64_t want_mem;
        } rows[] = {
                /* the manifest alone */
                {10, 64, 0, 0, 10, 64ULL << 20},
                /* the administrator's values alone */
                {-1, 0, 50, 128, 50, 128ULL << 20},
                /* config is a ceiling: the manifest may lower it ... */
                {10, 64, 50, 128, 10, 64ULL << 20},
                /* ... never raise it */
                {400, 4096, 50, 128, 50, 128ULL << 20},
                /* absurd manifest values are bounded, not wrapped */
                {INT32_MAX, UINT32_MAX, 0, 0, EXT_CPU_QUOTA_PERCENT_MAX, (uint64_t) UINT32_MAX << 20},
                /* a MiB count whose bytes do not fit 64 bits is no ceiling (it would wrap to a tiny limit) */
                {-1, 64, 0, UINT64_MAX / 1024, 0, 64ULL << 20},
                {-1, 0, 0, (UINT64_MAX >> 20) + 1, 0, 0},
                {0, 0, 0, 0, 0, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                HandlerManifest m = {.cpu_quota_percentage = rows[i].manifest_cpu,
                                     .memory_quota_mb = rows[i].manifest_mem_mb};
                unsigned cpu;
                uint64_t mem;

                ext_resource_limits(&m, rows[i].config_cpu, rows[i].config_mem_mib, &cpu, &mem);
                print_message("row %zu: cpu %u%% memory %" PRIu64 "\n", i, cpu, mem);
                assert_int_equal(cpu, rows[i].want_cpu);
                assert_int_equal(mem, rows[i].want_mem);
        }
}

static bool exists(const char *path) {
        return access(path, F_OK) == 0;
}

/* Names and versions Azure would not send, each with a payload that a shell would run: reported as the handler's
 * error, never downloaded, never run; a good handler of the same goal state runs. The packages exist, so the old
 * code (names spliced into "sh -c <dir>/<cmd>") ran the payloads. */
static void test_hostile_names(void **state) {
        Env *env = env_new(NULL);
        static const char *const hostile[][2] = {
                {"Evil.$(touch${IFS}$AZL_TEST_PWNED)", "1.0.0"},
                {"Test.Hostile", "1.0;touch${IFS}$AZL_TEST_PWNED;#"},
                {"Evil Space.Ext", "1.0.0"},
                {"Evil.Quote'\"", "1.0.0"},
                {"-Evil.Dash", "1.0.0"},
        };
        _cleanup_free_ char *plugins = NULL, *settings = NULL, *pwned = NULL, *rec = NULL;
        size_t n1, n2;
        FILE *f = open_memstream(&plugins, &n1);
        FILE *g;

        assert_non_null(f);
        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                add_handler_package(env, hostile[i][0], hostile[i][1], "recorder");
                fprintf(f,
                        "<Plugin name=\"%s\" version=\"%s\" location=\"http://127.0.0.1/m\" "
                        "state=\"enabled\"/>",
                        hostile[i][0], hostile[i][1]);
        }
        fputs(PLUGIN("Test.Recorder", "1.0.0", "enabled"), f);
        assert_int_equal(fclose(f), 0);
        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        g = open_memstream(&settings, &n2);
        for (size_t i = 0; i < ELEMENTSOF(hostile); i++)
                fprintf(g,
                        "<Plugin name=\"%s\" version=\"%s\"><RuntimeSettings "
                        "seqNo=\"0\">{\"runtimeSettings\":[{"
                        "\"handlerSettings\":{\"publicSettings\":{}}}]}</RuntimeSettings></Plugin>",
                        hostile[i][0], hostile[i][1]);
        fputs(PSET("Test.Recorder", "1.0.0", "0", "{}"), g);
        assert_int_equal(fclose(g), 0);
        /* XML-escape the quote example */
        {
                _cleanup_free_ char *a = NULL, *b = NULL;
                const char *from = "Evil.Quote'\"", *to = "Evil.Quote&apos;&quot;";
                char *p;

                while ((p = strstr(plugins, from))) {
                        assert_true(asprintf(&a, "%.*s%s%s", (int) (p - plugins), plugins, to,
                                             p + strlen(from)) > 0);
                        free(plugins);
                        plugins = TAKE_PTR(a);
                }
                while ((p = strstr(settings, from))) {
                        assert_true(asprintf(&b, "%.*s%s%s", (int) (p - settings), settings, to,
                                             p + strlen(from)) > 0);
                        free(settings);
                        settings = TAKE_PTR(b);
                }
        }
        run_xml(env, plugins, settings);

        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                const ExtHandlerResult *r = result_for(env, hostile[i][0]);

                print_message("%s %s: %s %d %s\n", hostile[i][0], hostile[i][1], r->status, r->code,
                              r->message);
                assert_string_equal(r->status, "NotReady");
                assert_int_equal(r->code, EXT_CODE_PLUGIN_PROCESSING_ERROR);
                assert_true(startswith(r->message, "Invalid extension handler "));
        }
        /* only the good handler's package was asked for, and only it ran */
        assert_int_equal(env->requests, 1);
        rec = read_rel(env, "/record.txt");
        assert_string_equal(rec, "install 1.0.0\nenable 1.0.0\n");
        assert_string_equal(result_for(env, "Test.Recorder")->status, "Ready");
        assert_true(asprintf(&pwned, "%s/pwned", env->top) > 0);
        assert_false(exists(pwned));
        env_free(env);
}

/* The root's path (an image mounted somewhere odd) holds shell metacharacters: the handler still runs, since the
 * directory reaches the shell as "$1", not as text. */
static void test_shell_chars_in_root(void **state) {
        Env *env = env_new_in(NULL, "ro ot;$(touch${IFS}$AZL_TEST_PWNED)'\"`x`");
        _cleanup_free_ char *rec = NULL, *pwned = NULL, *cwd = NULL, *log = NULL;
        const ExtHandlerResult *r;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        r = result_for(env, "Test.Recorder");
        print_message("%s: %s\n", r->status, r->message);
        assert_string_equal(r->status, "Ready");
        rec = read_rel(env, "/record.txt");
        assert_string_equal(rec, "install 1.0.0\nenable 1.0.0\n");
        cwd = read_rel(env, "/var/lib/waagent/Test.Recorder-1.0.0/cwd-enable.txt");
        assert_true(startswith(cwd, env->root));
        /* the status message keeps waagent's "<dir>/<cmd>" display form */
        log = read_rel(env, "/var/log/azure/Test.Recorder/CommandExecution.log");
        assert_non_null(strstr(log, "/var/lib/waagent/Test.Recorder-1.0.0/handler.sh enable"));
        assert_true(asprintf(&pwned, "%s/pwned", env->top) > 0);
        assert_false(exists(pwned));
        env_free(env);
}

/*
 * A handler command runs without a shell when a shell would only split it into words and its program can be
 * exec'd ("#!" or ELF, executable, beneath the handler directory); otherwise through the shell, as for waagent.
 * The executor's shell is a wrapper that logs each command line it is given, then runs /bin/sh: the log shows
 * exactly the commands that needed it, and each command's own record shows it ran with the same $0 and words.
 */
static void test_shell_only_when_needed(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *wrapper = NULL, *wrapper_text = NULL, *shell_log = NULL, *rec = NULL,
                            *log = NULL, *out = NULL, *plugins = NULL, *settings = NULL;
        static const char run_sh[] = "#!/bin/sh\n"
                                     "printf '%s|' \"${0##*/waagent/}\" \"$@\" >> \"$AZL_TEST_RECORD\"\n"
                                     "echo >> \"$AZL_TEST_RECORD\"\n"
                                     "echo \"stdout of $1\"\n";
        static const char noshebang_sh[] =
                "printf '%s|' \"${0##*/waagent/}\" \"$@\" >> \"$AZL_TEST_RECORD\"\n"
                "echo >> \"$AZL_TEST_RECORD\"\n";
#define CMD_MANIFEST(install, enable)                                                                       \
        "[{\"name\":\"Cmd\",\"version\":1.0,\"handlerManifest\":{\"installCommand\":\"" install             \
        "\",\"enableCommand\":\"" enable "\",\"uninstallCommand\":\"bin/run.sh uninstall\","                \
        "\"updateCommand\":\"bin/run.sh update\",\"disableCommand\":\"bin/run.sh disable\"}}]"
        const TestZipEntry a[] = {
                {"HandlerManifest.json",
                 CMD_MANIFEST("bin/run.sh install one=1 --two", "bin/run.sh enable > enabled.out")},
                {"bin/run.sh", run_sh, NULL, 0755},
        };
        const TestZipEntry b[] = {
                {"HandlerManifest.json", CMD_MANIFEST("bin/noshebang.sh install", "/bin/run.sh enable")},
                {"bin/run.sh", run_sh, NULL, 0755},
                {"bin/noshebang.sh", noshebang_sh, NULL, 0755},
        };
#undef CMD_MANIFEST
        Package *p;

        assert_true(asprintf(&shell_log, "%s/shell.log", env->root) > 0);
        assert_true(asprintf(&wrapper, "%s/sh-wrapper", env->root) > 0);
        assert_true(asprintf(&wrapper_text,
                             "#!/bin/sh\nprintf '%%s\\n' \"$2\" >> '%s'\nexec /bin/sh \"$@\"\n",
                             shell_log) > 0);
        assert_int_equal(
                write_string_file_atomic_in_root(env->c.root_fd, "/sh-wrapper", wrapper_text, 0755, false),
                0);
        env->options.shell = wrapper;
        p = &env->packages[env->n_packages++];
        *p = (Package){"Test.CmdA", "1.0.0"};
        test_zip_entries(a, ELEMENTSOF(a), &p->zip, &p->len);
        p = &env->packages[env->n_packages++];
        *p = (Package){"Test.CmdB", "1.0.0"};
        test_zip_entries(b, ELEMENTSOF(b), &p->zip, &p->len);
        assert_true(asprintf(&plugins, "%s%s", PLUGIN("Test.CmdA", "1.0.0", "enabled"),
                             PLUGIN("Test.CmdB", "1.0.0", "enabled")) > 0);
        assert_true(asprintf(&settings, "%s%s", PSET("Test.CmdA", "1.0.0", "0", "{}"),
                             PSET("Test.CmdB", "1.0.0", "0", "{}")) > 0);
        run_xml(env, plugins, settings);

        assert_string_equal(result_for(env, "Test.CmdA")->status, "Ready");
        assert_string_equal(result_for(env, "Test.CmdB")->status, "Ready");
        /* what each command ran as: $0 below the handler directory, and its words */
        rec = read_rel(env, "/record.txt");
        print_message("%s", rec);
        assert_string_equal(rec, "Test.CmdA-1.0.0/bin/run.sh|install|one=1|--two|\n"
                                 "Test.CmdA-1.0.0/bin/run.sh|enable|\n"
                                 "Test.CmdB-1.0.0/bin/noshebang.sh|install|\n"
                                 "Test.CmdB-1.0.0/bin/run.sh|enable|\n");
        /* the shell was given exactly the two commands that need one: a redirection, a script without "#!" */
        log = read_rel(env, "/shell.log");
        assert_string_equal(log,
                            "\"$1\"/bin/run.sh enable > enabled.out\n\"$1\"/bin/noshebang.sh install\n");
        out = read_rel(env, "/var/lib/waagent/Test.CmdA-1.0.0/enabled.out");
        assert_string_equal(out, "stdout of enable\n");
        env_free(env);
}

/* SignatureValidation=enforce with an unsigned package: not downloaded into place, not run, the handler and its
 * settings status say why (waagent: "must be signed", PluginEnableProcessingFailed, status file with operation
 * Download). */
static void test_enforce_unsigned(void **state) {
        Env *env = env_new(NULL);
        const ExtHandlerResult *r;

        env->c.config.signature_mode = SIGNATURE_MODE_ENFORCE;
        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        r = result_for(env, "Test.Recorder");
        print_message("%s %d: %s\n", r->status, r->code, r->message);
        assert_string_equal(r->status, "NotReady");
        assert_int_equal(r->code, EXT_CODE_SIGNATURE_REQUIRED);
        assert_non_null(strstr(r->message, "refused (SignatureValidation=enforce): not signed"));
        assert_true(r->signature_refused);
        assert_true(r->signature_new);
        assert_string_equal(r->signature_problem, "not signed");
        assert_true(r->has_extension_status);
        assert_string_equal(r->extension_status.status, "error");
        assert_string_equal(r->extension_status.operation, "Download");
        assert_int_equal(r->extension_status.code, EXT_CODE_SIGNATURE_REQUIRED);
        assert_int_equal(access_in_root(env->c.root_fd, "/var/lib/waagent/Test.Recorder-1.0.0"), -ENOENT);
        assert_int_equal(access_in_root(env->c.root_fd, "/record.txt"), -ENOENT);
        env_free(env);
}

/* A handler installed under report without a valid signature keeps running under report, with the warning in its
 * status every time; once the administrator sets enforce it is not run any more. */
static void test_enforce_after_report(void **state) {
        Env *env = env_new(NULL);
        const ExtHandlerResult *r;
        _cleanup_free_ char *rec = NULL;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
        assert_string_equal(result_for(env, "Test.Recorder")->message,
                            "Plugin enabled. Warning: package not signed (SignatureValidation=report)");
        /* a restart: enable only, no download; the warning comes from the handler directory */
        env->e = ext_executor_free(env->e);
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "1", "{}"));
        r = result_for(env, "Test.Recorder");
        assert_string_equal(r->message,
                            "Plugin enabled. Warning: package not signed (SignatureValidation=report)");
        assert_false(r->signature_new); /* nothing new to log */
        assert_int_equal(unlink_in_root(env->c.root_fd, "/record.txt"), 0);

        env->c.config.signature_mode = SIGNATURE_MODE_ENFORCE;
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "2", "{}"));
        r = result_for(env, "Test.Recorder");
        print_message("%s %d: %s\n", r->status, r->code, r->message);
        assert_string_equal(r->status, "NotReady");
        assert_int_equal(r->code, EXT_CODE_ENABLE_FAILED);
        assert_non_null(strstr(r->message, "not run (SignatureValidation=enforce)"));
        assert_non_null(strstr(r->message, "(not signed: "));
        assert_true(r->signature_refused);
        assert_int_equal(access_in_root(env->c.root_fd, "/record.txt"), -ENOENT);

        /* off: no check, no warning */
        env->c.config.signature_mode = SIGNATURE_MODE_OFF;
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "3", "{}"));
        r = result_for(env, "Test.Recorder");
        assert_string_equal(r->message, "Plugin enabled");
        rec = read_rel(env, "/record.txt");
        assert_string_equal(rec, "enable 1.0.0\n");
        env_free(env);
}

/* limits_applied is what the cgroup holds, read back: "applied" with the cpu controller, "not applied" where the
 * hierarchy has none (hybrid) — never assumed from having asked. The manifest (10 %, 64 MiB) is capped by the
 * administrator's 5 % / 32 MiB. */
static void test_limits_reported(void **state) {
        const char *cg = find_cgroup2();
        _cleanup_free_ char *log = NULL, *ctl = NULL, *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        bool cpu_controller;
        size_t size;
        Env *env;

        if (geteuid() != 0 || !cg) {
                print_message("skipped: needs root and a writable cgroup2 mount\n");
                skip();
        }
        assert_true(asprintf(&path, "%s/cgroup.controllers", cg) > 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cpu_controller = fd >= 0 && read_full_fd(fd, 4096, &ctl, &size) >= 0 && strstr(ctl, "cpu") &&
                         strstr(ctl, "memory");
        env = env_new(NULL);
        env->options.spawner.cgroup_root = cg;
        env->c.config.cpu_quota_percent = 5;
        env->c.config.memory_max_mib = 32;
        add_handler_package(env, "Test.Burner", "1.0", "burner");
        run_xml(env, PLUGIN("Test.Burner", "1.0", "enabled"), PSET("Test.Burner", "1.0", "0", "{}"));
        log = read_rel(env, "/var/log/azure/Test.Burner/CommandExecution.log");
        print_message("%.200s\n", strstr(log, "enable "));
        assert_non_null(strstr(log, cpu_controller ? "limits cpu 5% memory 32 MiB applied"
                                                   : "limits cpu 5% memory 32 MiB not applied"));
        env_free(env);
}

#define PREP_A     PLUGIN("Test.A", "1.0.0", "enabled")
#define PREP_B     PLUGIN("Test.B", "2.0.0", "enabled")
#define PREP_A_SET PSET("Test.A", "1.0.0", "0", "{}")
#define PREP_B_SET PSET("Test.B", "2.0.0", "0", "{}")
#define PREP_PROBE "/var/lib/waagent/Test.B-2.0.0/config/0.settings"
#define PREP_RECORD                                                                                         \
        "install 1.0.0\nenable 1.0.0\n%sinstall 2.0.0\ninstall 2.0.0 saw the probe\nenable 2.0.0\n"         \
        "enable 2.0.0 saw the probe\n"

static Env *prep_env(bool ready, bool probe) {
        Env *env = env_new(NULL);
        size_t n = 0;

        while (env->agent_env[n])
                n++;
        if (probe)
                assert_true(asprintf(&env->agent_env[n], "AZL_TEST_PROBE=%s" PREP_PROBE, env->c.root) > 0);
        if (ready)
                env->options.package_ready = package_ready;
        env->options.op_done = op_done;
        env->options.op_done_userdata = env;
        add_handler_package(env, "Test.A", "1.0.0", "recorder");
        return env;
}

/*
 * Issue #21: while the last command of a handler runs, the next handler's package is unpacked and its settings
 * file written (ext-executor.c prepare_ahead()). Asserted: what the running command finds on disk (the recorder's
 * probe: B's settings file, which A's enable waits 0.5 s for), the order the operations are reported in (the plan's: §4.6), when the download actually ran (inside the
 * enable before it), the outcome (the same as without), and the cases where nothing may be done ahead: no
 * package_ready (the control), a dependency wait after the command, a package that fails to unpack (reported at
 * its turn, the handler after it still runs).
 */
static void test_prepare_ahead(void **state) {
        Env *on = prep_env(true, true), *off = prep_env(false, true), *dep = prep_env(true, true),
            *bad = prep_env(true, false), *bad_off = prep_env(false, false);
        _cleanup_free_ char *rec_on = NULL, *rec_off = NULL, *rec_dep = NULL, *want_on = NULL,
                            *want_off = NULL, *state_b = NULL;
        const ExtHandlerResult *b_prep, *b_plain;
        size_t en;

        add_handler_package(on, "Test.B", "2.0.0", "recorder");
        run_xml(on, PREP_A PREP_B, PREP_A_SET PREP_B_SET);
        rec_on = read_rel(on, "/record.txt");
        assert_true(asprintf(&want_on, PREP_RECORD, "enable 1.0.0 saw the probe\n") > 0);
        assert_string_equal(rec_on, want_on);
        assert_true(on->ready_asked > 0);
        /* reported in plan order; B's download ran while A's enable did */
        op_at(on, 0, EXT_OP_DOWNLOAD, "Test.A");
        op_at(on, 1, EXT_OP_SETTINGS, "Test.A");
        op_at(on, 2, EXT_OP_INSTALL, "Test.A");
        en = op_at(on, 3, EXT_OP_ENABLE, "Test.A");
        op_at(on, 4, EXT_OP_DOWNLOAD, "Test.B");
        op_at(on, 5, EXT_OP_SETTINGS, "Test.B");
        op_at(on, 6, EXT_OP_INSTALL, "Test.B");
        op_at(on, 7, EXT_OP_ENABLE, "Test.B");
        assert_int_equal(on->n_ops, 8);
        assert_true(on->ops[4].start >= on->ops[en].start && on->ops[4].end <= on->ops[en].end);
        assert_string_equal(result_for(on, "Test.A")->status, "Ready");
        assert_string_equal(result_for(on, "Test.B")->status, "Ready");
        state_b = read_rel(on, "/var/lib/waagent/Test.B-2.0.0/config/HandlerState");
        assert_string_equal(state_b, "Enabled");

        /* the control: without package_ready, B's settings do not exist while A's enable runs */
        add_handler_package(off, "Test.B", "2.0.0", "recorder");
        run_xml(off, PREP_A PREP_B, PREP_A_SET PREP_B_SET);
        rec_off = read_rel(off, "/record.txt");
        assert_true(asprintf(&want_off, PREP_RECORD, "") > 0);
        assert_string_equal(rec_off, want_off);
        assert_true(off->ops[4].start >= off->ops[3].end);

        /* B depends on A: A's enable is followed by the wait for its status, so nothing of B is done ahead */
        add_handler_package(dep, "Test.B", "2.0.0", "recorder");
        run_xml(dep, PREP_A PREP_B,
                PREP_A_SET
                "<Plugin name=\"Test.B\" version=\"2.0.0\"><DependsOn dependencyLevel=\"1\">"
                "<DependsOnExtension handler=\"Test.A\"/></DependsOn><RuntimeSettings seqNo=\"0\">"
                "{\"runtimeSettings\":[{\"handlerSettings\":{\"publicSettings\":{}}}]}"
                "</RuntimeSettings></Plugin>");
        rec_dep = read_rel(dep, "/record.txt");
        assert_string_equal(rec_dep, want_off);
        assert_string_equal(result_for(dep, "Test.B")->status, "Ready");

        /* B's package is not a zip: unpacked ahead, it fails at its turn as it fails without; C still runs */
        for (Env *x = bad; x; x = x == bad ? bad_off : NULL) {
                Package *p = &x->packages[x->n_packages++];

                p->name = "Test.B";
                p->version = "2.0.0";
                p->zip = strdup("not a zip");
                p->len = strlen(p->zip);
                add_handler_package(x, "Test.C", "3.0.0", "recorder");
                run_xml(x, PREP_A PREP_B PLUGIN("Test.C", "3.0.0", "enabled"),
                        PREP_A_SET PREP_B_SET PSET("Test.C", "3.0.0", "0", "{}"));
                op_at(x, 4, EXT_OP_DOWNLOAD, "Test.B");
                assert_true(x->ops[4].error < 0);
                op_at(x, 5, EXT_OP_DOWNLOAD, "Test.C");
                assert_string_equal(result_for(x, "Test.A")->status, "Ready");
                assert_string_equal(result_for(x, "Test.C")->status, "Ready");
        }
        assert_true(bad->ops[4].start < bad->ops[3].end);
        b_prep = result_for(bad, "Test.B");
        b_plain = result_for(bad_off, "Test.B");
        assert_string_equal(b_prep->status, "NotReady");
        assert_int_equal(b_prep->code, b_plain->code);
        assert_string_equal(b_prep->message, b_plain->message);

        env_free(on);
        env_free(off);
        env_free(dep);
        env_free(bad);
        env_free(bad_off);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_sample_ext),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sample_handler),
                cmocka_unit_test(test_recorder_env_and_settings),
                cmocka_unit_test(test_exit_codes),
                cmocka_unit_test(test_signing_root_from_root),
                cmocka_unit_test(test_restart_reenables),
                cmocka_unit_test(test_update_sequence),
                cmocka_unit_test(test_failed_update),
                cmocka_unit_test(test_uninstall_sequence),
                cmocka_unit_test(test_hang_timeout_process_group),
                cmocka_unit_test(test_hang_timeout_cgroup),
                cmocka_unit_test(test_cpu_throttled),
                cmocka_unit_test(test_resource_limits),
                cmocka_unit_test(test_hostile_names),
                cmocka_unit_test(test_shell_chars_in_root),
                cmocka_unit_test(test_shell_only_when_needed),
                cmocka_unit_test(test_enforce_unsigned),
                cmocka_unit_test(test_enforce_after_report),
                cmocka_unit_test(test_limits_reported),
                cmocka_unit_test(test_prepare_ahead),
        };
        sigset_t mask;

        /* sd-event child sources need SIGCHLD blocked */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}

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
        char *root;
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
} Env;

static int provide(ExtExecutor *e, const char *name, const char *version, const ExtensionHandler *h, void *userdata) {
        Env *env = userdata;

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

static void add_handler_package(Env *env, const char *name, const char *version, const char *handler) {
        _cleanup_free_ char *dir = test_handler_dir(handler);
        Package *p = &env->packages[env->n_packages++];

        p->name = name;
        p->version = version;
        test_zip_dir(dir, NULL, &p->zip, &p->len);
}

static Env *env_new(const char *fail_ops) {
        Env *env = calloc(1, sizeof *env);
        size_t n = 0;

        env->root = tmpdir_new();
        assert_true(asprintf(&env->agent_env[n++], "PATH=%s", getenv("PATH") ?: "/usr/bin:/bin") > 0);
        assert_true(asprintf(&env->agent_env[n++], "AZL_TEST_RECORD=%s/record.txt", env->root) > 0);
        if (fail_ops)
                assert_true(asprintf(&env->agent_env[n++], "AZL_TEST_FAIL=%s", fail_ops) > 0);
        assert_int_equal(context_init(&env->c, env->root, env->agent_env), 0);
        assert_int_equal(sd_event_new(&env->event), 0);
        env->options = (ExtExecutorOptions) {
                .package_request = provide,
                .package_request_userdata = env,
                .spawner = { .use_systemd = false, .cgroup_root = "" },
                .status_retry_delay = 100 * USEC_PER_MSEC,
                .signing_root_pem = "",
        };
        return env;
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
        tmpdir_remove(env->root);
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
        assert_true(asprintf(&xml, "<Extensions version=\"1.0.0.0\" goalStateIncarnation=\"1\"><Plugins>%s</Plugins>"
                                   "<PluginSettings>%s</PluginSettings></Extensions>", plugins, settings) > 0);
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

#define PLUGIN(name, version, state) \
        "<Plugin name=\"" name "\" version=\"" version "\" location=\"http://127.0.0.1/m\" state=\"" state "\"/>"
#define PSET(name, version, seq, public) \
        "<Plugin name=\"" name "\" version=\"" version "\"><RuntimeSettings seqNo=\"" seq "\">{\"runtimeSettings\":[{\"handlerSettings\":" \
        "{\"protectedSettingsCertThumbprint\":\"F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9\",\"protectedSettings\":\"MIICWgYJK\"," \
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

#define SAMPLE "AzlAgent.SampleHandler"
#define SAMPLE_DIR "/var/lib/waagent/" SAMPLE "-1.0.0"
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
        assert_true(asprintf(&plugin_settings,
                             "<Plugin name=\"" SAMPLE "\" version=\"1.0.0\"><RuntimeSettings seqNo=\"0\">"
                             "{\"runtimeSettings\":[{\"handlerSettings\":{\"protectedSettingsCertThumbprint\":"
                             "\"" TENANT_THUMB "\",\"protectedSettings\":\"%s\",\"publicSettings\":"
                             "{\"message\":\"hello from the executor\"}}}]}</RuntimeSettings></Plugin>",
                             strstrip(protected)) > 0);
        run_xml(env, PLUGIN(SAMPLE, "1.0.0", "enabled"), plugin_settings);

        /* §4.3: the settings file the handler read, protected settings still encrypted */
        settings = read_rel(env, SAMPLE_DIR "/config/0.settings");
        assert_true(asprintf(&expected, "{\"runtimeSettings\": [{\"handlerSettings\": {\"publicSettings\": "
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
        assert_non_null(strstr(own_log, " enable 1.0.0 seq 0: success: hello from the executor; decrypted with "
                                        "certificate " TENANT_THUMB ": 2 key(s): count, secret\n"));

        r = result_for(env, SAMPLE);
        /* reportHeartbeat: the heartbeat (§4.8) is the handler status */
        hb = read_rel(env, SAMPLE_DIR "/heartbeat.log");
        assert_non_null(strstr(hb, "\"status\": \"Ready\""));
        assert_string_equal(r->status, "Ready");
        assert_int_equal(r->code, 0);
        assert_string_equal(r->message, SAMPLE " enabled with settings 0");
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
        VmStatusReport vm = { .agent_version = "9.9.9.9", .agent_status = "Ready", .agent_message = "Guest Agent is running",
                              .handlers = reports, .n_handlers = n };
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

        settings = read_rel(env, "/var/lib/waagent/OSTCExtensions.ExampleHandlerLinux-1.3.0/config/0.settings");
        assert_string_equal(settings, "{\"runtimeSettings\": [{\"handlerSettings\": {\"publicSettings\": {\"foo\": \"bar\"}, "
                                      "\"protectedSettings\": \"MIICWgYJK\", \"protectedSettingsCertThumbprint\": "
                                      "\"F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9\"}}]}");
        hs = read_rel(env, "/var/lib/waagent/OSTCExtensions.ExampleHandlerLinux-1.3.0/config/HandlerState");
        assert_string_equal(hs, "Enabled");
        log = read_rel(env, "/var/log/azure/OSTCExtensions.ExampleHandlerLinux/CommandExecution.log");
        assert_non_null(strstr(log, "sample.py -enable"));

        r = result_for(env, "OSTCExtensions.ExampleHandlerLinux");
        assert_string_equal(r->status, "Ready");
        assert_int_equal(r->code, 0);
        assert_string_equal(r->message, "Plugin enabled");
        /* sample.py wrote status/0.status itself */
        assert_true(r->has_extension_status);
        assert_string_equal(r->extension_status.status, "success");

        assert_int_equal(ext_executor_reports(env->e, &reports, &n), 0);
        assert_int_equal(n, 1);
        VmStatusReport vm = { .agent_version = "9.9.9.9", .agent_status = "Ready", .agent_message = "Guest Agent is running",
                              .handlers = reports, .n_handlers = n };
        assert_int_equal(status_blob_build(&vm, &blob), 0);
        assert_non_null(strstr(blob, "\"handlerName\": \"OSTCExtensions.ExampleHandlerLinux\", \"status\": \"Ready\""));
        assert_non_null(strstr(blob, "\"sequenceNumber\": 0"));
        env_free(env);
}

static void test_recorder_env_and_settings(void **state) {
        Env *env = env_new(NULL);
        _cleanup_free_ char *rec = NULL, *seen = NULL, *envs = NULL, *expected = NULL, *cwd = NULL, *dir = NULL;

        add_handler_package(env, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "3", "{\"k\":[1,2]}"));

        rec = read_rel(env, "/record.txt");
        assert_string_equal(rec, "install 1.0.0\nenable 1.0.0\n");
        assert_true(asprintf(&dir, "%s/var/lib/waagent/Test.Recorder-1.0.0", env->c.root) > 0);
        envs = read_rel(env, "/var/lib/waagent/Test.Recorder-1.0.0/env-enable.txt");
        /* §4.4, exactly: nothing more, nothing less (sorted by the handler) */
        assert_true(asprintf(&expected,
                             "AZURE_GUEST_AGENT_EXTENSION_PATH=%s\n"
                             "AZURE_GUEST_AGENT_EXTENSION_SUPPORTED_FEATURES=[{\"Key\": \"ExtensionTelemetryPipeline\", \"Value\": \"1.0\"}]\n"
                             "AZURE_GUEST_AGENT_EXTENSION_VERSION=1.0.0\n"
                             "AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE=NOT_RUN\n"
                             "AZURE_GUEST_AGENT_WIRE_PROTOCOL_ADDRESS=168.63.129.16\n"
                             "ConfigSequenceNumber=3\n", dir) > 0);
        assert_string_equal(envs, expected);
        cwd = read_rel(env, "/var/lib/waagent/Test.Recorder-1.0.0/cwd-enable.txt");
        assert_true(startswith(cwd, dir));
        seen = read_rel(env, "/var/lib/waagent/Test.Recorder-1.0.0/settings-seen-enable.json");
        assert_string_equal(seen, "{\"runtimeSettings\": [{\"handlerSettings\": {\"publicSettings\": {\"k\": [1, 2]}, "
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
        assert_non_null(strstr(r->message, "/handler.sh enable\n[stdout]\nrecorder enable stdout\n\n\n[stderr]\nrecorder enable stderr\n"));

        add_handler_package(env2, "Test.Recorder", "1.0.0", "recorder");
        run_xml(env2, PLUGIN("Test.Recorder", "1.0.0", "enabled"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
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
        "<Plugin name=\"" name "\" version=\"" version "\" location=\"http://127.0.0.1/m\" state=\"enabled\" " \
        "encodedSignature=\"" sig "\"/>"

static void test_signing_root_from_root(void **state) {
        Env *with = env_new(NULL), *without = env_new(NULL);
        const ExtHandlerResult *r;

        write_test_file(with->root, EXT_SIGNING_ROOT_PATH_DEFAULT + 1,
                        "-----BEGIN CERTIFICATE-----\nnot parsed before the signature\n-----END CERTIFICATE-----\n");
        for (Env **e = (Env *[]) { with, without, NULL }; *e; e++) {
                (*e)->options.signing_root_pem = NULL;
                (*e)->c.config.signature_mode = SIGNATURE_MODE_ENFORCE;
                add_handler_package(*e, "Test.Recorder", "1.0.0", "recorder");
                run_xml(*e, PLUGIN_SIGNED("Test.Recorder", "1.0.0", "AAAA"), PSET("Test.Recorder", "1.0.0", "0", "{}"));
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
        assert_string_equal(rec, "disable 1.0.0\nupdate 1.1.0\nuninstall 1.0.0\ninstall 1.1.0\nenable 1.1.0\n");
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
        free(env->agent_env[2]);
        assert_true(asprintf(&env->agent_env[2], "AZL_TEST_FAIL=update") > 0);
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
        print_message("isolation %s: %s\n", ext_isolation_to_string(ext_spawner_isolation(ext_executor_spawner(env->e))),
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
        static const char *const candidates[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

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
                        print_message("skipped: the cpu controller is not available on %s (hybrid hierarchy?)\n", cg);
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

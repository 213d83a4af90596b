/* SPDX-License-Identifier: MIT */
/*
 * Pure WireServer/HostGAPlugin parsers and builders against our own documents (tests/data/wire/, dhcp/: DHCP
 * leases, versions, goal states with and without their parts, HostingEnvironmentConfig), the exact health bytes
 * of protocol §1.5, and the retry backoff arithmetic. The interop group runs the same parsers over WALinuxAgent's
 * fixtures with the values waagent derives from them (tests/common/osutil/test_default.py,
 * tests/common/protocol/test_goal_state.py, test_wire.py) and compares the health bytes waagent sent.
 */
#include <string.h>

#include "config.h"
#include "fileio.h"
#include "http-retry.h"
#include "imds.h"
#include "tests.h"
#include "version.h"
#include "wireserver.h"

/* 2026-01-01T00:00:00Z: after the 2015 expiries, before the 2152 ones. */
#define NOW_2026 ((usec_t) 1767225600 * USEC_PER_SEC)

static void lease_case(TestReadFn read, const char *rel, const char *expected) {
        _cleanup_free_ char *buf = NULL, *ep = NULL;
        size_t size;

        buf = read(rel, &size);
        assert_int_equal(wire_lease_parse_dhclient(buf, size, NOW_2026, &ep), 0);
        assert_string_equal(ep, expected);
}

static void interop_dhclient_leases(void **state) {
        /* waagent test_default.py: dhcp.leases → 168.63.129.16 */
        lease_case(fixture_read, "dhcp.leases", "168.63.129.16");
        /* custom.dns: first lease never expires (…:01), second expired (…:02), last valid …:10 wins */
        lease_case(fixture_read, "dhcp.leases.custom.dns", "168.63.129.16");
        /* multi: :01 and :02 valid, :03 expired in 2012 → the last valid one, 168.63.129.2 */
        lease_case(fixture_read, "dhcp.leases.multi", "168.63.129.2");
}

static void test_dhclient_leases(void **state) {
        _cleanup_free_ char *ep = NULL;

        /* one lease, valid until 2150 */
        lease_case(test_data_read, "dhcp/dhclient.leases", "168.63.129.16");
        /* never (…:05), expired 2014 (…:06), valid (…:10), expired 2013 (…:07): the last valid one wins */
        lease_case(test_data_read, "dhcp/dhclient.leases.expired-last", "168.63.129.16");
        /* valid (…:10), never expires (…:02), expired 2012 (…:03) → 168.63.129.2 */
        lease_case(test_data_read, "dhcp/dhclient.leases.multi", "168.63.129.2");

        assert_int_equal(
                wire_lease_parse_dhclient("lease {\n  option routers 10.0.0.1;\n}\n", 38, NOW_2026, &ep),
                -ENOENT);
        /* expired lease only */
        {
                static const char l[] =
                        "lease {\n  option unknown-245 a8:3f:81:10;\n  expire 4 2015/06/16 16:58:54;\n}\n";

                assert_int_equal(wire_lease_parse_dhclient(l, strlen(l), NOW_2026, &ep), -ENOENT);
                /* …but valid when "now" is before the expiry */
                assert_int_equal(
                        wire_lease_parse_dhclient(l, strlen(l), (usec_t) 1400000000 * USEC_PER_SEC, &ep), 0);
                assert_string_equal(ep, "168.63.129.16");
        }
}

static void test_networkd_lease(void **state) {
        static const char lease[] =
                "# This is private data. Do not parse.\nADDRESS=10.0.0.4\nSERVER_ADDRESS=168.63.129.16\n"
                "OPTION_245=A83F8110\nOPTION_249=blah\n";
        _cleanup_free_ char *ep = NULL, *ep2 = NULL;

        assert_int_equal(wire_lease_parse_networkd(lease, strlen(lease), &ep), 0);
        assert_string_equal(ep, "168.63.129.16");
        assert_int_equal(wire_lease_parse_networkd("OPTION_245=A83F81\n", 18, &ep2), -ENOENT);
        assert_int_equal(wire_lease_parse_networkd("ADDRESS=1.2.3.4\n", 16, &ep2), -ENOENT);
}

static void test_endpoint_discovery(void **state) {
        _cleanup_free_ char *ep1 = NULL, *ep2 = NULL, *ep3 = NULL, *ep4 = NULL, *leases = NULL;
        _cleanup_close_ int root = -EBADF;
        WireEndpointSource src;
        Config c = {};
        char *dir = tmpdir_new();
        size_t size;

        assert_int_equal(config_init(&c), 0);
        assert_int_equal(root_open(dir, &root), 0);

        /* nothing → default */
        assert_int_equal(wire_endpoint_discover(&c, root, &ep1, &src), 0);
        assert_string_equal(ep1, WIRESERVER_DEFAULT_ENDPOINT);
        assert_int_equal(src, WIRE_ENDPOINT_DEFAULT);

        /* dhclient lease under the root (multi → 168.63.129.2); a non-matching name is ignored */
        leases = test_data_read("dhcp/dhclient.leases.multi", &size);
        write_test_file(dir, "var/lib/dhcp/dhclient.eth0.leases", leases);
        write_test_file(dir, "var/lib/dhcp/other.leases",
                        "lease {\n option unknown-245 a8:3f:81:63;\n expire 0 never;\n}\n");
        assert_int_equal(wire_endpoint_discover(&c, root, &ep2, &src), 0);
        assert_string_equal(ep2, "168.63.129.2");
        assert_int_equal(src, WIRE_ENDPOINT_DHCLIENT_LEASE);

        /* networkd lease wins */
        write_test_file(dir, "run/systemd/netif/leases/2", "OPTION_245=A83F8107\n");
        assert_int_equal(wire_endpoint_discover(&c, root, &ep3, &src), 0);
        assert_string_equal(ep3, "168.63.129.7");
        assert_int_equal(src, WIRE_ENDPOINT_NETWORKD_LEASE);

        /* configuration wins over everything */
        assert_int_equal(free_and_strdup(&c.wireserver, "127.0.0.1:8080"), 0);
        assert_int_equal(wire_endpoint_discover(&c, root, &ep4, &src), 0);
        assert_string_equal(ep4, "127.0.0.1:8080");
        assert_int_equal(src, WIRE_ENDPOINT_CONFIG);

        config_done(&c);
        tmpdir_remove(dir);
}

static void interop_versions(void **state) {
        _cleanup_free_ char *buf = NULL;
        WireVersions v = {};
        size_t size;

        buf = fixture_read("wire/version_info.xml", &size);
        assert_int_equal(wire_versions_parse(buf, size, &v), 0);
        assert_string_equal(v.preferred, "2012-11-30");
        assert_int_equal(strv_length(v.supported), 2);
        assert_string_equal(v.supported[0], "2010-12-15");
        assert_string_equal(v.supported[1], "2010-28-10");
        assert_true(wire_versions_supports(&v, WIRE_PROTOCOL_VERSION));
        wire_versions_done(&v);
}

static void test_versions(void **state) {
        _cleanup_free_ char *buf = NULL;
        WireVersions v = {};
        size_t size;
        static const char newer[] =
                "<?xml version=\"1.0\"?><Versions><Preferred><Version>2015-04-05</Version>"
                "</Preferred><Supported><Version>2015-04-05</Version><Version>2012-11-30</Version>"
                "</Supported></Versions>";
        static const char old[] =
                "<Versions><Preferred><Version>2010-12-15</Version></Preferred></Versions>";

        /* what real Azure answers today (protocol §1.3): preferred 2015-04-05, ours among the supported */
        buf = test_data_read("wire/versions.xml", &size);
        assert_int_equal(wire_versions_parse(buf, size, &v), 0);
        assert_string_equal(v.preferred, "2015-04-05");
        assert_int_equal(strv_length(v.supported), 3);
        assert_string_equal(v.supported[1], "2012-11-30");
        assert_true(wire_versions_supports(&v, WIRE_PROTOCOL_VERSION));
        wire_versions_done(&v);

        /* the same, inline without whitespace */
        assert_int_equal(wire_versions_parse(newer, strlen(newer), &v), 0);
        assert_string_equal(v.preferred, "2015-04-05");
        assert_true(wire_versions_supports(&v, WIRE_PROTOCOL_VERSION));
        wire_versions_done(&v);

        assert_int_equal(wire_versions_parse(old, strlen(old), &v), 0);
        assert_false(wire_versions_supports(&v, WIRE_PROTOCOL_VERSION));
        wire_versions_done(&v);

        assert_int_equal(wire_versions_parse("<Other/>", 8, &v), -EBADMSG);
        assert_int_equal(wire_versions_parse("<Versions>", 10, &v), -EBADMSG);
}

#define OWN_BASE                                                                                            \
        "http://168.63.129.16:80/machine/4d0f1c7e-2b8a-4c3d-9e6f-a1b2c3d4e5f6/"                             \
        "7f3c2a10%2D5e4d%2D4b6a%2D8c9d%2D0e1f2a3b4c5d.azl%2Dtest%2Dvm"

static void test_goal_state(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(goal_state_done) GoalState g = {};
        size_t size;

        buf = test_data_read("wire/goal-state.xml", &size);
        assert_int_equal(goal_state_parse(buf, size, &g), 0);
        assert_string_equal(g.incarnation, "3");
        assert_string_equal(g.container_id, "4d0f1c7e-2b8a-4c3d-9e6f-a1b2c3d4e5f6");
        assert_string_equal(g.instance_id, "7f3c2a10-5e4d-4b6a-8c9d-0e1f2a3b4c5d.azl-test-vm");
        assert_string_equal(g.config_name, "7f3c2a10-5e4d-4b6a-8c9d-0e1f2a3b4c5d.0."
                                           "7f3c2a10-5e4d-4b6a-8c9d-0e1f2a3b4c5d.3.azl-test-vm.1.xml");
        /* &amp; unescaped */
        assert_string_equal(g.extensions_config_url,
                            OWN_BASE "?comp=config&type=extensionsConfig&incarnation=3");
        assert_string_equal(g.hosting_env_url,
                            OWN_BASE "?comp=config&type=hostingEnvironmentConfig&incarnation=3");
        assert_string_equal(g.shared_config_url, OWN_BASE "?comp=config&type=sharedConfig&incarnation=3");
        assert_string_equal(g.certificates_url, OWN_BASE "?comp=certificates&incarnation=3");
        assert_null(g.remote_access_url);
}

static void test_goal_state_variants(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        GoalState g = {};
        size_t size;

        a = test_data_read("wire/goal-state-no-extensions.xml", &size);
        assert_int_equal(goal_state_parse(a, size, &g), 0);
        assert_null(g.extensions_config_url);
        assert_non_null(g.certificates_url);
        goal_state_done(&g);

        b = test_data_read("wire/goal-state-no-certificates.xml", &size);
        assert_int_equal(goal_state_parse(b, size, &g), 0);
        assert_null(g.certificates_url);
        assert_non_null(g.extensions_config_url);
        goal_state_done(&g);

        /* no RoleInstance: the caller refetches (protocol §1.4); ret untouched */
        c = test_data_read("wire/goal-state-no-role-instance.xml", &size);
        assert_int_equal(goal_state_parse(c, size, &g), -ENODATA);
        assert_null(g.container_id);

        d = test_data_read("wire/goal-state-remote-access.xml", &size);
        assert_int_equal(goal_state_parse(d, size, &g), 0);
        assert_string_equal(g.remote_access_url, "http://168.63.129.16:80/remoteaccessinfouri/");
        /* two ConfigName elements: the first wins, as with waagent's findtext() */
        assert_string_equal(g.config_name, "7f3c2a10-5e4d-4b6a-8c9d-0e1f2a3b4c5d.0."
                                           "7f3c2a10-5e4d-4b6a-8c9d-0e1f2a3b4c5d.3.azl-test-vm.1.xml");
        goal_state_done(&g);
}

#define FIXTURE_BASE                                                                                        \
        "http://168.63.129.16:80/machine/865a6683-91d8-450f-99ae/"                                          \
        "bc8b9d47%2Db5ed%2D4704%2D85d9%2Dfd74cc967ec2.%5Fcanary"

static void interop_goal_state(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(goal_state_done) GoalState g = {};
        size_t size;

        buf = fixture_read("wire/goal_state.xml", &size);
        assert_int_equal(goal_state_parse(buf, size, &g), 0);
        assert_string_equal(g.incarnation, "1");
        assert_string_equal(g.container_id, "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2");
        assert_string_equal(g.instance_id, "b61f93d0-e1ed-40b2-b067-22c243233448.MachineRole_IN_0");
        assert_string_equal(g.config_name, "bc8b9d47-b5ed-4704-85d9-fd74cc967ec2.5.bc8b9d47-b5ed-4704-85d9-"
                                           "fd74cc967ec2.5._canary.1.xml");
        /* &amp; unescaped */
        assert_string_equal(g.extensions_config_url,
                            FIXTURE_BASE "?comp=config&type=extensionsConfig&incarnation=1");
        assert_string_equal(g.hosting_env_url,
                            FIXTURE_BASE "?comp=config&type=hostingEnvironmentConfig&incarnation=1");
        assert_string_equal(g.shared_config_url,
                            FIXTURE_BASE "?comp=config&type=sharedConfig&incarnation=1");
        assert_string_equal(g.certificates_url, FIXTURE_BASE "?comp=certificates&incarnation=1");
        assert_null(g.remote_access_url);
}

static void interop_goal_state_variants(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        GoalState g = {};
        size_t size;

        a = fixture_read("wire/goal_state_no_ext.xml", &size);
        assert_int_equal(goal_state_parse(a, size, &g), 0);
        assert_null(g.extensions_config_url);
        assert_non_null(g.certificates_url);
        goal_state_done(&g);

        b = fixture_read("wire/goal_state_no_certs.xml", &size);
        assert_int_equal(goal_state_parse(b, size, &g), 0);
        assert_null(g.certificates_url);
        assert_non_null(g.extensions_config_url);
        goal_state_done(&g);

        /* no RoleInstance: the caller refetches (protocol §1.4); ret untouched */
        c = fixture_read("wire/goal_state_noop.xml", &size);
        assert_int_equal(goal_state_parse(c, size, &g), -ENODATA);
        assert_null(g.container_id);

        d = fixture_read("wire/goal_state_remote_access.xml", &size);
        assert_int_equal(goal_state_parse(d, size, &g), 0);
        assert_string_equal(g.remote_access_url, "http://168.63.129.16:80/remoteaccessinfouri/");
        /* two ConfigName elements: the first wins, as with waagent's findtext() */
        assert_string_equal(g.config_name, "b61f93d0-e1ed-40b2-b067-22c243233448.1.b61f93d0-e1ed-40b2-b067-"
                                           "22c243233448.2.MachineRole_IN_0.xml");
        goal_state_done(&g);
}

static void test_goal_state_bad(void **state) {
        static const char *const bad[] = {
                "",
                "<GoalState>",
                "<NotAGoalState/>",
                "<GoalState><Container><ContainerId>x</ContainerId></Container></"
                "GoalState>",                                          /* no Incarnation */
                "<GoalState><Incarnation>1</Incarnation></GoalState>", /* no Container */
                "<GoalState><Incarnation>1</"
                "Incarnation><Container><RoleInstanceList><RoleInstance>"
                "<InstanceId>i</InstanceId></RoleInstance></RoleInstanceList></"
                "Container></GoalState>", /* no ContainerId */
                "<GoalState><Incarnation>1</Incarnation><Container><ContainerId>c</"
                "ContainerId><RoleInstanceList>"
                "<RoleInstance><State>Started</State></RoleInstance></"
                "RoleInstanceList></Container></GoalState>",
                "<!DOCTYPE x [<!ENTITY a "
                "\"b\">]><GoalState><Incarnation>&a;</Incarnation></GoalState>",
        };
        GoalState g = {};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(goal_state_parse(bad[i], strlen(bad[i]), &g), -EBADMSG);

        /* BOM is accepted (protocol §1.2) */
        {
                static const char bom[] = "\xEF\xBB\xBF<GoalState><Incarnation>7</Incarnation><Container>"
                                          "<ContainerId>c</ContainerId><RoleInstanceList><RoleInstance>"
                                          "<InstanceId>i</InstanceId></RoleInstance></RoleInstanceList>"
                                          "</Container></GoalState>";

                assert_int_equal(goal_state_parse(bom, strlen(bom), &g), 0);
                assert_string_equal(g.incarnation, "7");
                assert_null(g.config_name);
                goal_state_done(&g);
        }
        /* oversized value */
        {
                _cleanup_free_ char *doc = NULL, *big = malloc(WIRE_FIELD_MAX + 2);

                assert_non_null(big);
                memset(big, 'a', WIRE_FIELD_MAX + 1);
                big[WIRE_FIELD_MAX + 1] = 0;
                assert_true(asprintf(&doc,
                                     "<GoalState><Incarnation>1</Incarnation><Container><ContainerId>%s"
                                     "</ContainerId></Container></GoalState>",
                                     big) > 0);
                assert_int_equal(goal_state_parse(doc, strlen(doc), &g), -E2BIG);
        }
}

static void test_hosting_env(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(hosting_env_done) HostingEnvironment h = {};
        HostingEnvironment h2 = {};
        size_t size;

        /* Incarnation@instance, Role@name, Deployment@name */
        buf = test_data_read("wire/hosting-environment.xml", &size);
        assert_int_equal(hosting_env_parse(buf, size, &h), 0);
        assert_string_equal(h.vm_name, "azl-test-vm_IN_0");
        assert_string_equal(h.role_name, "azl-test-vm");
        assert_string_equal(h.deployment_name, "5b8e2f0c9d1a4e7f8a6b3c2d1e0f9a8b");
        /* StoredCertificate@certificateId "sha1:<thumbprint>" */
        assert_int_equal(strv_length(h.stored_certificates), 1);
        assert_string_equal(h.stored_certificates[0], "E488489693D19133A637CCF4E1B5BFFFB1ABDF3D");
        assert_int_equal(hosting_env_parse("<HostingEnvironmentConfig/>", 27, &h2), -EBADMSG);
}

static void interop_hosting_env(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(hosting_env_done) HostingEnvironment h = {};
        size_t size;

        /* waagent test_wire.py: vm_name MachineRole_IN_0, role_name MachineRole, deployment db00a775… */
        buf = fixture_read("wire/hosting_env.xml", &size);
        assert_int_equal(hosting_env_parse(buf, size, &h), 0);
        assert_string_equal(h.vm_name, "MachineRole_IN_0");
        assert_string_equal(h.role_name, "MachineRole");
        assert_string_equal(h.deployment_name, "db00a7755a5e4e8a8fe4b19bc3b330c3");
        assert_int_equal(strv_length(h.stored_certificates), 1);
        assert_string_equal(h.stored_certificates[0], "C093FA5CD3AAE057CB7C4E04532B2E16E07C26CA");
}

/* StoredCertificates (the thumbprints the Certificates hold): upper case, sorted, unique; anything but a sha1
 * thumbprint is skipped; too many is an error. */
static void test_hosting_env_stored_certificates(void **state) {
        static const char head[] = "<HostingEnvironmentConfig><StoredCertificates>";
        static const char tail[] =
                "</StoredCertificates><Deployment name=\"d\"/><Incarnation instance=\"i\"/>"
                "<Role name=\"r\"/></HostingEnvironmentConfig>";
        _cleanup_(hosting_env_done) HostingEnvironment h = {};
        _cleanup_free_ char *doc = NULL, *many = NULL;
        HostingEnvironment h2 = {};

        assert_true(asprintf(&doc,
                             "%s"
                             "<StoredCertificate "
                             "certificateId=\"sha1:ffeeddccbbaa99887766554433221100ffeeddcc\"/>"
                             "<StoredCertificate "
                             "certificateId=\"sha1:0123456789ABCDEF0123456789ABCDEF01234567\"/>"
                             "<StoredCertificate "
                             "certificateId=\"sha1:FFEEDDCCBBAA99887766554433221100FFEEDDCC\"/>"
                             "<StoredCertificate "
                             "certificateId=\"sha256:0123456789ABCDEF0123456789ABCDEF01234567\"/>"
                             "<StoredCertificate "
                             "certificateId=\"sha1:../../etc/passwd0123456789ABCDEF01234567\"/>"
                             "<StoredCertificate certificateId=\"sha1:0123\"/><StoredCertificate/>%s",
                             head, tail) > 0);
        assert_int_equal(hosting_env_parse(doc, strlen(doc), &h), 0);
        assert_int_equal(strv_length(h.stored_certificates), 2);
        assert_string_equal(h.stored_certificates[0], "0123456789ABCDEF0123456789ABCDEF01234567");
        assert_string_equal(h.stored_certificates[1], "FFEEDDCCBBAA99887766554433221100FFEEDDCC");

        /* the one check the parser, the certificate store and the worker's answer share */
        assert_true(wire_thumbprint_is_valid("0123456789abcdef0123456789ABCDEF01234567"));
        assert_false(wire_thumbprint_is_valid("0123456789abcdef0123456789ABCDEF0123456"));
        assert_false(wire_thumbprint_is_valid("0123456789abcdef0123456789ABCDEF012345678"));
        assert_false(wire_thumbprint_is_valid("0123456789abcdef0123456789ABCDEF0123456g"));
        assert_false(wire_thumbprint_is_valid("../../../../../../../../../../../../passwd"));
        assert_false(wire_thumbprint_is_valid(""));
        assert_false(wire_thumbprint_is_valid(NULL));

        /* WIRE_STORED_CERTIFICATES_MAX + 1 entries */
        many = strdup(head);
        assert_non_null(many);
        for (unsigned i = 0; i <= WIRE_STORED_CERTIFICATES_MAX; i++) {
                char *n = NULL;

                assert_true(asprintf(&n, "%s<StoredCertificate certificateId=\"sha1:%040X\"/>", many, i) >
                            0);
                free(many);
                many = n;
        }
        free(doc);
        assert_true(asprintf(&doc, "%s%s", many, tail) > 0);
        assert_int_equal(hosting_env_parse(doc, strlen(doc), &h2), -E2BIG);
}

/* protocol §1.5, captured from waagent (waagent-request-trace.txt) */
static const char health_not_ready[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Health "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><GoalStateIncarnation>1</"
        "GoalStateIncarnation><Container>"
        "<ContainerId>c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2</ContainerId><RoleInstanceList><Role><InstanceId>"
        "b61f93d0-e1ed-40b2-b067-22c243233448.MachineRole_IN_0</InstanceId><Health><State>NotReady</"
        "State><Details>"
        "<SubStatus>Provisioning</SubStatus><Description>Starting</Description></Details></Health></Role>"
        "</RoleInstanceList></Container></Health>";
static const char health_ready[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Health "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><GoalStateIncarnation>1</"
        "GoalStateIncarnation><Container>"
        "<ContainerId>c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2</ContainerId><RoleInstanceList><Role><InstanceId>"
        "b61f93d0-e1ed-40b2-b067-22c243233448.MachineRole_IN_0</InstanceId><Health><State>Ready</State></"
        "Health>"
        "</Role></RoleInstanceList></Container></Health>";

/* The same documents for tests/data/wire/goal-state.xml (incarnation 3, our container and instance). */
static const char own_health_not_ready[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Health "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><GoalStateIncarnation>3</"
        "GoalStateIncarnation><Container>"
        "<ContainerId>4d0f1c7e-2b8a-4c3d-9e6f-a1b2c3d4e5f6</ContainerId><RoleInstanceList><Role><InstanceId>"
        "7f3c2a10-5e4d-4b6a-8c9d-0e1f2a3b4c5d.azl-test-vm</InstanceId><Health><State>NotReady</"
        "State><Details>"
        "<SubStatus>Provisioning</SubStatus><Description>Starting</Description></Details></Health></Role>"
        "</RoleInstanceList></Container></Health>";
static const char own_health_ready[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Health "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><GoalStateIncarnation>3</"
        "GoalStateIncarnation><Container>"
        "<ContainerId>4d0f1c7e-2b8a-4c3d-9e6f-a1b2c3d4e5f6</ContainerId><RoleInstanceList><Role><InstanceId>"
        "7f3c2a10-5e4d-4b6a-8c9d-0e1f2a3b4c5d.azl-test-vm</InstanceId><Health><State>Ready</State></Health>"
        "</Role></RoleInstanceList></Container></Health>";

static void check_health_bytes(TestReadFn read, const char *rel, const char *not_ready, const char *ready) {
        _cleanup_free_ char *buf = NULL, *a = NULL, *b = NULL;
        _cleanup_(goal_state_done) GoalState g = {};
        size_t size;

        buf = read(rel, &size);
        assert_int_equal(goal_state_parse(buf, size, &g), 0);
        assert_int_equal(health_report_build(g.incarnation, g.container_id, g.instance_id,
                                             HEALTH_STATE_NOT_READY, "Provisioning", "Starting", &a),
                         0);
        assert_string_equal(a, not_ready);
        assert_int_equal(health_report_build(g.incarnation, g.container_id, g.instance_id,
                                             HEALTH_STATE_READY, NULL, NULL, &b),
                         0);
        assert_string_equal(b, ready);
}

static void test_health_bytes(void **state) {
        check_health_bytes(test_data_read, "wire/goal-state.xml", own_health_not_ready, own_health_ready);
}

/* The bytes waagent sent for its goal_state.xml. */
static void interop_health_bytes(void **state) {
        check_health_bytes(fixture_read, "wire/goal_state.xml", health_not_ready, health_ready);
}

static void test_health_description(void **state) {
        _cleanup_free_ char *x = NULL, *y = NULL, *z = NULL, *longd = NULL, *uni = NULL;
        const char *p, *q;
        size_t n = 0;

        /* & < > escaped, quotes kept (saxutils.escape) */
        assert_int_equal(health_report_build("2", "c", "i", HEALTH_STATE_NOT_READY, "ProvisioningFailed",
                                             "a<b & \"c\" > 'd'", &x),
                         0);
        assert_non_null(
                strstr(x, "<Health><State>NotReady</State><Details><SubStatus>ProvisioningFailed</SubStatus>"
                          "<Description>a&lt;b &amp; \"c\" &gt; 'd'</Description></Details></Health>"));

        /* trimmed to 3686 characters before escaping: 4000 × '&' → 3686 × "&amp;" */
        longd = malloc(4001);
        assert_non_null(longd);
        memset(longd, '&', 4000);
        longd[4000] = 0;
        assert_int_equal(
                health_report_build("1", "c", "i", HEALTH_STATE_NOT_READY, "ProvisioningFailed", longd, &y),
                0);
        p = strstr(y, "<Description>") + strlen("<Description>");
        q = strstr(p, "</Description>");
        assert_int_equal((size_t) (q - p), 3686 * strlen("&amp;"));

        /* characters, not bytes: 3700 × "é" (2 bytes each) → 3686 characters = 7372 bytes */
        uni = malloc(3700 * 2 + 1);
        assert_non_null(uni);
        for (size_t i = 0; i < 3700; i++)
                memcpy(uni + 2 * i, "\xc3\xa9", 2);
        uni[3700 * 2] = 0;
        assert_int_equal(
                health_report_build("1", "c", "i", HEALTH_STATE_NOT_READY, "ProvisioningFailed", uni, &z),
                0);
        p = strstr(z, "<Description>") + strlen("<Description>");
        q = strstr(p, "</Description>");
        n = (size_t) (q - p);
        assert_int_equal(n, 3686 * 2);

        assert_int_equal(health_report_build("", "c", "i", HEALTH_STATE_READY, NULL, NULL, &x), -EINVAL);
        assert_int_equal(health_report_build("1", "c", "i", _HEALTH_STATE_INVALID, NULL, NULL, &x), -EINVAL);
}

static void test_failure_description(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *const supporting[] = {(char *) "step=imds", (char *) "error=bad|value \"q\"",
                                    (char *) "pps_type=None", NULL};
        /* 2026-11-21T20:36:48Z */
        usec_t ts = (usec_t) 1795293408 * USEC_PER_SEC;

        assert_int_equal(provisioning_failure_description("failed to retrieve instance metadata", supporting,
                                                          "e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e", ts, &a),
                         0);
        assert_string_equal(
                a,
                "result=error|reason=failed to retrieve instance metadata|agent=azl-agent/" PACKAGE_VERSION
                "|step=imds|\"error=bad|value \"\"q\"\"\"|pps_type=None"
                "|vm_id=e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e|timestamp=2026-11-21T20:36:48Z"
                "|documentation_url=https://aka.ms/linuxprovisioningerror");
        assert_int_equal(provisioning_failure_description("x", NULL, NULL, ts, &b), 0);
        assert_string_equal(b, "result=error|reason=x|agent=azl-agent/" PACKAGE_VERSION
                               "|vm_id=|timestamp=2026-11-21T20:36:48Z|documentation_url=https://aka.ms/"
                               "linuxprovisioningerror");
}

static void test_hgap(void **state) {
        _cleanup_strv_free_ char **h = NULL, **h2 = NULL;

        assert_int_equal(hgap_request_headers("c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2",
                                              "bc8b9d47-b5ed-4704-85d9-fd74cc967ec2.5._canary.1.xml", &h),
                         0);
        assert_string_equal(h[0], "x-ms-version: 2015-09-01");
        assert_string_equal(h[1], "x-ms-containerid: c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2");
        assert_string_equal(h[2],
                            "x-ms-host-config-name: bc8b9d47-b5ed-4704-85d9-fd74cc967ec2.5._canary.1.xml");
        assert_null(h[3]);
        assert_int_equal(hgap_request_headers("cid", NULL, &h2), 0);
        assert_int_equal(strv_length(h2), 2);

        assert_int_equal(hgap_versions_parse("[\"2015-09-01\"]", 14), 1);
        assert_int_equal(hgap_versions_parse("[\"2012-01-01\", \"2015-09-01\"]", 28), 1);
        assert_int_equal(hgap_versions_parse("[\"2012-01-01\"]", 14), 0);
        assert_int_equal(hgap_versions_parse("{\"v\": 1}", 8), -EBADMSG);
        assert_int_equal(hgap_versions_parse("[1]", 3), -EBADMSG);
        assert_int_equal(hgap_versions_parse("[", 1), -EBADMSG);
}

static void test_wire_requests(void **state) {
        _cleanup_free_ char *u = NULL, *u2 = NULL;
        _cleanup_strv_free_ char **h = NULL;
        char *const extra[] = {(char *) "Content-Type: text/xml;charset=utf-8", NULL};

        assert_int_equal(wire_url("168.63.129.16", "/machine/?comp=goalstate", &u), 0);
        assert_string_equal(u, "http://168.63.129.16/machine/?comp=goalstate");
        assert_int_equal(wire_url("evil.example/x", "/", &u2), -EINVAL);
        assert_int_equal(wire_url("user@host", "/", &u2), -EINVAL);
        assert_int_equal(wire_request_headers(extra, &h), 0);
        assert_string_equal(h[0], "x-ms-agent-name: azl-agent");
        assert_string_equal(h[1], "x-ms-version: 2012-11-30");
        assert_string_equal(h[2], "Content-Type: text/xml;charset=utf-8");
        assert_null(h[3]);
}

static void test_backoff(void **state) {
        RetryPolicy w, i;

        /* waagent restutil: delays 2, 3, 5, 8, 13 s between its 6 attempts (protocol §1.2) */
        wire_retry_policy(0, &w);
        assert_int_equal(w.max_attempts, 6);
        assert_int_equal(retry_policy_delay(&w, 2, 0), 2 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&w, 3, 0), 3 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&w, 4, 0), 5 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&w, 5, 0), 8 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&w, 6, 0), 13 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&w, 40, 0), 60 * USEC_PER_SEC); /* capped */
        assert_true(retry_policy_status_in(w.throttle_status, 429));
        assert_true(retry_policy_status_in(w.retry_status, 502));
        assert_false(retry_policy_status_in(w.retry_status, 410));

        /* IMDS: exponential 1, 2, 4, 8, 10 (cap) ± 20 % */
        imds_retry_policy(300 * USEC_PER_SEC, &i);
        i.jitter_percent = 0;
        assert_int_equal(retry_policy_delay(&i, 2, 0), 1 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&i, 3, 0), 2 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&i, 4, 0), 4 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&i, 5, 0), 8 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&i, 6, 0), 10 * USEC_PER_SEC);
        assert_int_equal(retry_policy_delay(&i, 200, 0), 10 * USEC_PER_SEC);
        i.jitter_percent = 20;
        for (uint64_t rnd = 0; rnd < 2000000; rnd += 99991) {
                usec_t d = retry_policy_delay(&i, 4, rnd);

                assert_true(d >= 4 * USEC_PER_SEC * 8 / 10 && d <= 4 * USEC_PER_SEC * 12 / 10);
        }
        assert_true(retry_policy_delay(&i, 4, 0) != retry_policy_delay(&i, 4, 12345));
}

static void test_url_for_log(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        assert_int_equal(http_url_for_log("https://acct.blob.core.windows.net/c/status?sv=1&sig=SECRET", &a),
                         0);
        assert_string_equal(a, "https://acct.blob.core.windows.net/c/status");
        assert_int_equal(http_url_for_log("http://user:pw@host:80/p#frag", &b), 0);
        assert_string_equal(b, "http://host:80/p");
        assert_int_equal(http_url_for_log("http://168.63.129.16/machine/?comp=goalstate", &c), 0);
        assert_string_equal(c, "http://168.63.129.16/machine/");
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_dhclient_leases), cmocka_unit_test(interop_versions),
                cmocka_unit_test(interop_goal_state),      cmocka_unit_test(interop_goal_state_variants),
                cmocka_unit_test(interop_hosting_env),     cmocka_unit_test(interop_health_bytes),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dhclient_leases),
                cmocka_unit_test(test_networkd_lease),
                cmocka_unit_test(test_endpoint_discovery),
                cmocka_unit_test(test_versions),
                cmocka_unit_test(test_goal_state),
                cmocka_unit_test(test_goal_state_variants),
                cmocka_unit_test(test_goal_state_bad),
                cmocka_unit_test(test_hosting_env),
                cmocka_unit_test(test_hosting_env_stored_certificates),
                cmocka_unit_test(test_health_bytes),
                cmocka_unit_test(test_health_description),
                cmocka_unit_test(test_failure_description),
                cmocka_unit_test(test_hgap),
                cmocka_unit_test(test_wire_requests),
                cmocka_unit_test(test_backoff),
                cmocka_unit_test(test_url_for_log),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}

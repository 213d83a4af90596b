/* SPDX-License-Identifier: MIT */
/*
 * WireServer (the Azure fabric's guest endpoint, 168.63.129.16:80) and HostGAPlugin (:32526) clients.
 * References are to docs/protocol/ ("protocol §n").
 *
 *  - endpoint discovery (protocol §1.1): [Endpoints] WireServer= if configured, else DHCP option 245 from the leases
 *    of systemd-networkd (/run/systemd/netif/leases/ *: OPTION_245=A83F8110) or dhclient
 *    (/var/lib/dhcp/dhclient*.leases, /var/lib/dhclient/ *.lease*: "option unknown-245 a8:3f:81:10;", the last
 *    unexpired lease wins, as in waagent), else 168.63.129.16;
 *  - protocol version check (?comp=versions, protocol §1.3), goal state (protocol §1.4), HostingEnvironmentConfig;
 *  - health reports (protocol §1.5), byte-identical to waagent's, and the provisioning failure description used by
 *    cloud-init and azure-init (protocol §1.5);
 *  - HostGAPlugin common headers and /versions (protocol §2).
 *
 * Parsers are pure functions over (buf, len). The request helpers below are synchronous, for the oneshot
 * provisioning: each starts the Azure client's asynchronous request (azure-client.h, which the daemon runs on
 * its own loop) on a private sd-event loop and runs that loop until the answer is in.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "http-retry.h"

#define WIRESERVER_DEFAULT_ENDPOINT "168.63.129.16" /* waagent KNOWN_WIRESERVER_IP, protocol §1.1 */
#define WIRE_PROTOCOL_VERSION       "2012-11-30"    /* protocol §1.3 */
#define WIRE_AGENT_NAME             "azl-agent"
#define HGAP_API_VERSION            "2015-09-01" /* protocol §2 */
#define HGAP_DEFAULT_PORT           32526U

#define WIRE_RESPONSE_MAX            (1024U * 1024U)
#define WIRE_FIELD_MAX               4096U /* any single goal-state value (URLs, ids) */
#define WIRE_VERSIONS_MAX            64U
#define WIRE_LEASE_FILE_MAX          (1024U * 1024U)
#define WIRE_LEASE_FILES_MAX         64U
#define WIRE_STORED_CERTIFICATES_MAX 64U
#define WIRE_GOAL_STATE_ATTEMPTS     6U /* _GET_GOAL_STATE_MAX_ATTEMPTS, protocol §1.4 */
#define WIRE_GOAL_STATE_DELAY        (500 * USEC_PER_MSEC)
#define HEALTH_DESCRIPTION_MAX_CHARS 3686U /* protocol §1.5: 4096-byte limit minus 10 % */

/* ---- endpoint discovery (protocol §1.1) ---- */

typedef enum WireEndpointSource {
        WIRE_ENDPOINT_CONFIG,
        WIRE_ENDPOINT_NETWORKD_LEASE,
        WIRE_ENDPOINT_DHCLIENT_LEASE,
        WIRE_ENDPOINT_DEFAULT,
        _WIRE_ENDPOINT_SOURCE_MAX,
        _WIRE_ENDPOINT_SOURCE_INVALID = -EINVAL,
} WireEndpointSource;

const char *wire_endpoint_source_to_string(WireEndpointSource s);

/* dhclient lease file: the last lease that is not expired at now_realtime (usec since the epoch) and carries
 * option unknown-245 wins. -ENOENT when there is none. */
int wire_lease_parse_dhclient(const char *buf, size_t len, usec_t now_realtime, char **ret);
/* systemd-networkd lease file (OPTION_245=<8 hex digits>). -ENOENT when absent. */
int wire_lease_parse_networkd(const char *buf, size_t len, char **ret);
/* Scans the lease directories under root_fd. -ENOENT when no lease names an endpoint. */
int wire_endpoint_from_leases(int root_fd, usec_t now_realtime, char **ret, WireEndpointSource *ret_source);
/* Config, then leases, then the well-known address. Never fails except for -ENOMEM. */
int wire_endpoint_discover(const Config *c, int root_fd, char **ret, WireEndpointSource *ret_source);

/* ---- documents (pure parsers) ---- */

typedef struct WireVersions {
        char *preferred;
        char **supported;
} WireVersions;

void wire_versions_done(WireVersions *v);
int wire_versions_parse(const char *buf, size_t len, WireVersions *ret);
/* true iff version is the preferred one or listed as supported (protocol §1.3). */
bool wire_versions_supports(const WireVersions *v, const char *version);

typedef struct GoalState {
        char *incarnation;
        char *container_id;
        char *instance_id;           /* RoleInstanceList/RoleInstance/InstanceId */
        char *config_name;           /* …/Configuration/ConfigName */
        char *extensions_config_url; /* the URLs are XML-unescaped; NULL when absent */
        char *hosting_env_url;
        char *shared_config_url;
        char *certificates_url;
        char *remote_access_url; /* Container/RemoteAccessInfo */
} GoalState;

void goal_state_done(GoalState *g);
/* -ENODATA when RoleInstance is missing (the caller retries, protocol §1.4), -EBADMSG when malformed or a mandatory
 * element is missing, -E2BIG when a value exceeds WIRE_FIELD_MAX. */
int goal_state_parse(const char *buf, size_t len, GoalState *ret);

typedef struct HostingEnvironment {
        char *vm_name;              /* Incarnation@instance */
        char *role_name;            /* Role@name */
        char *deployment_name;      /* Deployment@name */
        char **stored_certificates; /* StoredCertificates/StoredCertificate@certificateId "sha1:…": the
                                         * thumbprints (upper case, sorted, unique) the Certificates hold */
} HostingEnvironment;

void hosting_env_done(HostingEnvironment *h);
int hosting_env_parse(const char *buf, size_t len, HostingEnvironment *ret);

/* A certificate thumbprint as the fabric names them and we name their files: SHA-1, 40 hex digits (any case). */
bool wire_thumbprint_is_valid(const char *t);

/* ---- requests ---- */

typedef struct WireOptions {
        const char *endpoint; /* host[:port] of the WireServer */
        unsigned hgap_port;
        usec_t http_timeout;
        RetryPolicy policy;
} WireOptions;

/* waagent restutil (protocol §1.2): 6 attempts, Fibonacci × 1 s, throttle codes 403/429/503 after 1 s for at
 * least 25 attempts, retry codes 205/206/500/501/502/504/507 and transport errors; deadline optional. */
void wire_retry_policy(usec_t deadline, RetryPolicy *ret);
/* endpoint must outlive ret. */
void wire_options_init(const Config *c, const char *endpoint, WireOptions *ret);

/* "http://<endpoint><path>"; path starts with '/'. */
int wire_url(const char *endpoint, const char *path, char **ret);
/* x-ms-agent-name, x-ms-version: 2012-11-30 (protocol §1.4); extra (optional) lines are appended. */
int wire_request_headers(char *const *extra, char ***ret);

/* Final non-2xx answer → errno as http_status_to_errno(), except that 410 and 400 with
 * "InvalidContainerConfiguration" are -ESTALE: refresh the goal state and retry (protocol §1.2). All request
 * helpers below return these errors. */
int wire_status_to_errno(const HttpResponse *resp);

/* GET ?comp=versions; 0 when 2012-11-30 is supported, -EPROTONOSUPPORT when not. */
int wire_check_version(const WireOptions *o, WireVersions *ret_versions);
/* GET /machine/?comp=goalstate, repeated up to 6 times 0.5 s apart while RoleInstance is missing. */
int wire_fetch_goal_state(const WireOptions *o, GoalState *ret);
/* GET of a document URL taken from the goal state (same headers). */
int wire_fetch_document(const WireOptions *o, const char *url, char **ret, size_t *ret_size);
int wire_fetch_hosting_env(const WireOptions *o, const GoalState *g, HostingEnvironment *ret);

/* ---- health (protocol §1.5) ---- */

typedef enum HealthState {
        HEALTH_STATE_READY,
        HEALTH_STATE_NOT_READY,
        _HEALTH_STATE_MAX,
        _HEALTH_STATE_INVALID = -EINVAL,
} HealthState;

const char *health_state_to_string(HealthState s);

/* The exact Health document of protocol §1.5. substatus NULL → no <Details>; description is trimmed to 3686
 * characters, then & < > are escaped. */
int health_report_build(const char *incarnation, const char *container_id, const char *instance_id,
                        HealthState state, const char *substatus, const char *description, char **ret_xml);
/* POST /machine?comp=health with the goal state's ids; retried per protocol §1.2 within deadline (0 = the policy
 * in o). A final 410 returns -ESTALE: refresh the goal state and report again. */
int health_report_send(const WireOptions *o, const GoalState *g, HealthState state, const char *substatus,
                       const char *description, usec_t deadline);

/*
 * "result=error|reason=<reason>|agent=azl-agent/<version>|<k=v>…|vm_id=<id>|timestamp=<RFC 3339>|
 *  documentation_url=https://aka.ms/linuxprovisioningerror", fields quoted like azure-init's CSV writer
 * (delimiter '|', quote '"', only when needed). supporting is a strv of "key=value" (may be NULL);
 * timestamp is CLOCK_REALTIME in usec.
 */
int provisioning_failure_description(const char *reason, char *const *supporting, const char *vm_id,
                                     usec_t timestamp, char **ret);

/* ---- HostGAPlugin (protocol §2) ---- */

/* x-ms-version: 2015-09-01, x-ms-containerid, x-ms-host-config-name (when config_name is not NULL). */
int hgap_request_headers(const char *container_id, const char *config_name, char ***ret);
/* Parses the /versions JSON array: 1 when it lists 2015-09-01, 0 when not, -EBADMSG when malformed. */
int hgap_versions_parse(const char *buf, size_t len);
/* GET http://<host>:<hgap_port>/versions; 1/0 as above. */
int hgap_check_versions(const WireOptions *o, const char *container_id);

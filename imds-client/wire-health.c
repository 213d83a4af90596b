/* SPDX-License-Identifier: MIT */
/*
 * Health reporting to the WireServer (protocol §1.5) and the provisioning failure description.
 *
 * The Health document is built as one string with the exact bytes waagent sends (captured in
 * waagent-request-trace.txt): XML declaration, no whitespace, <Details> only with a substatus. waagent trims
 * the description to 3686 characters (Python str, i.e. code points) *before* escaping it with
 * saxutils.escape, which escapes only & < >; we do the same so that the WireServer's 4096-byte limit holds.
 * The report is a request of the Azure client (azure-client.h); health_report_send() runs it on a private loop.
 */
#include <string.h>
#include <time.h>

#include "azure-client-internal.h"
#include "log.h"
#include "string-table.h"
#include "version.h"
#include "wireserver.h"

#define PROVISIONING_ERROR_DOC_URL "https://aka.ms/linuxprovisioningerror"
#define PROVISIONING_FAILURE_MAX   (64U * 1024U)

static const char *const health_state_table[_HEALTH_STATE_MAX] = {
        [HEALTH_STATE_READY] = "Ready",
        [HEALTH_STATE_NOT_READY] = "NotReady",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(health_state, HealthState);

/* saxutils.escape(): & < > only (quotes stay as they are in element text). */
static int xml_escape_text(const char *s, char **ret) {
        size_t n = 0;
        char *out, *p;

        for (const char *c = s; *c; c++)
                n += *c == '&' ? 5 : (*c == '<' || *c == '>') ? 4 : 1;
        out = malloc(n + 1);
        if (!out)
                return -ENOMEM;
        p = out;
        for (const char *c = s; *c; c++) {
                if (*c == '&')
                        p = stpcpy(p, "&amp;");
                else if (*c == '<')
                        p = stpcpy(p, "&lt;");
                else if (*c == '>')
                        p = stpcpy(p, "&gt;");
                else
                        *p++ = *c;
        }
        *p = 0;
        *ret = out;
        return 0;
}

/* Length in bytes of the first max_chars characters of s. UTF-8 sequences count as one character; stray
 * bytes that are not valid UTF-8 count as one character each. */
static size_t utf8_prefix_bytes(const char *s, size_t max_chars) {
        const unsigned char *p = (const unsigned char *) s;
        size_t chars = 0, i = 0;

        while (p[i] && chars < max_chars) {
                size_t len = p[i] < 0x80             ? 1
                             : (p[i] & 0xE0) == 0xC0 ? 2
                             : (p[i] & 0xF0) == 0xE0 ? 3
                             : (p[i] & 0xF8) == 0xF0 ? 4
                                                     : 1;

                for (size_t k = 1; k < len; k++)
                        if ((p[i + k] & 0xC0) != 0x80) {
                                len = 1;
                                break;
                        }
                i += len;
                chars++;
        }
        return i;
}

int health_report_build(const char *incarnation, const char *container_id, const char *instance_id,
                        HealthState state, const char *substatus, const char *description, char **ret_xml) {
        _cleanup_free_ char *inc = NULL, *cid = NULL, *iid = NULL, *sub = NULL, *desc = NULL,
                            *trimmed = NULL, *details = NULL;
        const char *state_str = health_state_to_string(state);
        char *xml;

        if (isempty(incarnation) || isempty(container_id) || isempty(instance_id) || !state_str || !ret_xml)
                return -EINVAL;
        if (strlen(incarnation) > WIRE_FIELD_MAX || strlen(container_id) > WIRE_FIELD_MAX ||
            strlen(instance_id) > WIRE_FIELD_MAX || (substatus && strlen(substatus) > WIRE_FIELD_MAX))
                return -E2BIG;
        if (xml_escape_text(incarnation, &inc) < 0 || xml_escape_text(container_id, &cid) < 0 ||
            xml_escape_text(instance_id, &iid) < 0)
                return -ENOMEM;
        if (substatus) {
                const char *d = strempty(description);

                trimmed = strndup(d, utf8_prefix_bytes(d, HEALTH_DESCRIPTION_MAX_CHARS));
                if (!trimmed || xml_escape_text(substatus, &sub) < 0 || xml_escape_text(trimmed, &desc) < 0)
                        return -ENOMEM;
                if (asprintf(&details,
                             "<Details><SubStatus>%s</SubStatus><Description>%s</Description></Details>",
                             sub, desc) < 0)
                        return -ENOMEM;
        }
        /* protocol §1.5, exact bytes */
        if (asprintf(&xml,
                     "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                     "<Health xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                     "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">"
                     "<GoalStateIncarnation>%s</GoalStateIncarnation>"
                     "<Container><ContainerId>%s</ContainerId>"
                     "<RoleInstanceList><Role><InstanceId>%s</InstanceId>"
                     "<Health><State>%s</State>%s</Health>"
                     "</Role></RoleInstanceList></Container></Health>",
                     inc, cid, iid, state_str, strempty(details)) < 0)
                return -ENOMEM;
        *ret_xml = xml;
        return 0;
}

int wire_health_start(AzureClient *c, const GoalState *g, HealthState state, const char *substatus,
                      const char *description, const RetryPolicy *p, HttpRetryCallback cb, void *userdata,
                      HttpRetry **ret) {
        static char *const extra[] = {(char *) "Content-Type: text/xml;charset=utf-8", NULL};
        _cleanup_free_ char *xml = NULL, *url = NULL;
        int r;

        if (!c || !g)
                return -EINVAL;
        r = health_report_build(g->incarnation, g->container_id, g->instance_id, state, substatus,
                                description, &xml);
        if (r < 0)
                return r;
        r = wire_url(c->endpoint, "/machine?comp=health", &url);
        if (r < 0)
                return r;
        return wire_request_start(c, HTTP_METHOD_POST, url, extra, xml, strlen(xml), WIRE_RESPONSE_MAX, p,
                                  cb, userdata, ret);
}

int wire_health_result(int error, const HttpResponse *response) {
        if (error < 0)
                return error;
        /* protocol §1.5: success = 200/201/202; 410 → the caller refreshes the goal state and reports again */
        if (response->status == 200 || response->status == 201 || response->status == 202)
                return 0;
        return wire_response_errno(0, response);
}

typedef struct HealthSync {
        bool done;
        int error;
} HealthSync;

static void on_health_sync(HttpRetry *retry, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        HealthSync *s = userdata;

        s->done = true;
        s->error = wire_health_result(error, resp);
}

int health_report_send(const WireOptions *o, const GoalState *g, HealthState state, const char *substatus,
                       const char *description, usec_t deadline) {
        _cleanup_azure_client_ AzureClient *c = NULL;
        HealthSync s = {};
        RetryPolicy p;
        int r;

        if (!o || !g)
                return -EINVAL;
        p = o->policy;
        if (deadline > 0) {
                /* waagent: max_retry=30 with Fibonacci back-off (~5 min); we bound by time instead. */
                p.deadline = deadline;
                p.max_attempts = 0;
        }
        /* The same request as the daemon's, on a private event loop. */
        r = azure_client_new(NULL, o, &c);
        if (r < 0)
                return r;
        r = wire_health_start(c, g, state, substatus, description, &p, on_health_sync, &s, NULL);
        if (r < 0)
                return r;
        r = azure_client_run(c, &s.done);
        if (r < 0)
                return r;
        return s.error;
}

/* Appends one CSV field the way Rust's csv crate writes it with QuoteStyle::Necessary (azure-init's
 * encode_report): quoted when it contains the delimiter, a quote or a line break; quotes doubled. */
static int csv_append_field(char **buf, size_t *len, const char *field, bool first) {
        bool quote = strpbrk(field, "|\"\r\n") != NULL;
        size_t need = strlen(field) * 2 + 4;
        char *p;

        if (*len + need > PROVISIONING_FAILURE_MAX)
                return -E2BIG;
        p = realloc(*buf, *len + need);
        if (!p)
                return -ENOMEM;
        *buf = p;
        p += *len;
        if (!first)
                *p++ = '|';
        if (quote)
                *p++ = '"';
        for (const char *c = field; *c; c++) {
                if (*c == '"' && quote)
                        *p++ = '"';
                *p++ = *c;
        }
        if (quote)
                *p++ = '"';
        *p = 0;
        *len = (size_t) (p - *buf);
        return 0;
}

static int csv_append_kv(char **buf, size_t *len, const char *key, const char *value) {
        _cleanup_free_ char *f = NULL;

        if (asprintf(&f, "%s=%s", key, strempty(value)) < 0)
                return -ENOMEM;
        return csv_append_field(buf, len, f, *len == 0);
}

int provisioning_failure_description(const char *reason, char *const *supporting, const char *vm_id,
                                     usec_t timestamp, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char ts[64];
        size_t len = 0;
        int r;

        if (isempty(reason) || !ret)
                return -EINVAL;
        r = format_timestamp_iso(timestamp, ts, sizeof ts);
        if (r < 0)
                return r;
        /* protocol §1.5 (azure-init, cloud-init): result, reason, agent, supporting
         * data, vm_id, timestamp, documentation_url */
        r = csv_append_kv(&buf, &len, "result", "error");
        if (r >= 0)
                r = csv_append_kv(&buf, &len, "reason", reason);
        if (r >= 0)
                r = csv_append_kv(&buf, &len, "agent", "azl-agent/" PACKAGE_VERSION);
        for (char *const *s = supporting; r >= 0 && s && *s; s++)
                r = csv_append_field(&buf, &len, *s, false);
        if (r >= 0)
                r = csv_append_kv(&buf, &len, "vm_id", vm_id);
        if (r >= 0)
                r = csv_append_kv(&buf, &len, "timestamp", ts);
        if (r >= 0)
                r = csv_append_kv(&buf, &len, "documentation_url", PROVISIONING_ERROR_DOC_URL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

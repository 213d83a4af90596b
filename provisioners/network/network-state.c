/* SPDX-License-Identifier: MIT */
/*
 * <state_dir>/network.json: which addresses and routes the netlink backend added itself. Parsing and
 * formatting are pure; load/save go through the root fd. The file is rewritten only when its contents change,
 * atomically, so a re-run that changes nothing in the kernel writes nothing either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "network-internal.h"
#include "strutil.h"

void network_state_done(NetworkState *s) {
        free(s->entries);
        *s = (NetworkState){};
}

static bool owned_equal(const NetworkOwned *a, const NetworkOwned *b) {
        return memcmp(a->mac, b->mac, 6) == 0 && a->is_route == b->is_route &&
               a->address.family == b->address.family && a->address.prefixlen == b->address.prefixlen &&
               memcmp(a->address.addr, b->address.addr, 16) == 0 && a->gateway.family == b->gateway.family &&
               memcmp(a->gateway.addr, b->gateway.addr, 16) == 0 && a->metric == b->metric;
}

bool network_state_contains(const NetworkState *s, const NetworkOwned *e) {
        for (size_t i = 0; i < s->n; i++)
                if (owned_equal(&s->entries[i], e))
                        return true;
        return false;
}

int network_state_add(NetworkState *s, const NetworkOwned *e) {
        NetworkOwned *n;

        if (network_state_contains(s, e))
                return 0;
        if (s->n >= NETWORK_STATE_ENTRIES_MAX)
                return -E2BIG;
        n = reallocarray(s->entries, s->n + 1, sizeof *n);
        if (!n)
                return -ENOMEM;
        s->entries = n;
        s->entries[s->n++] = *e;
        return 0;
}

int network_address_parse(const char *s, NetworkAddress *ret) {
        _cleanup_free_ char *copy = strdup(s);
        NetworkAddress a = {};
        unsigned prefix;
        char *slash;

        if (!copy)
                return -ENOMEM;
        a.family = strchr(copy, ':') ? AF_INET6 : AF_INET;
        slash = strchr(copy, '/');
        if (slash) {
                *slash = '\0';
                if (safe_atou(slash + 1, &prefix) < 0)
                        return -EINVAL;
        } else
                prefix = a.family == AF_INET ? 32 : 128;
        if (prefix > (a.family == AF_INET ? 32U : 128U))
                return -EINVAL;
        if (inet_pton(a.family, copy, a.addr) != 1)
                return -EINVAL;
        a.prefixlen = (unsigned char) prefix;
        *ret = a;
        return 0;
}

static int parse_mac_colons(const char *s, uint8_t ret[static 6]) {
        unsigned b[6];
        int consumed = 0;

        if (strlen(s) != 17 ||
            sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &consumed) !=
                    6 ||
            consumed != 17)
                return -EINVAL;
        for (size_t i = 0; i < 6; i++)
                ret[i] = (uint8_t) b[i];
        return 0;
}

typedef struct StateItem {
        char *mac;
        char *address;
        char *destination;
        char *gateway;
        unsigned metric;
} StateItem;

static void state_item_done(StateItem *i) {
        free(i->mac);
        free(i->address);
        free(i->destination);
        free(i->gateway);
}

static int parse_items(struct json_object *array, bool routes, NetworkState *s) {
        static const JsonDispatch address_table[] = {
                {"mac", json_dispatch_string, offsetof(StateItem, mac), JSON_MANDATORY},
                {"address", json_dispatch_string, offsetof(StateItem, address), JSON_MANDATORY},
                {},
        };
        static const JsonDispatch route_table[] = {
                {"mac", json_dispatch_string, offsetof(StateItem, mac), JSON_MANDATORY},
                {"destination", json_dispatch_string, offsetof(StateItem, destination), JSON_MANDATORY},
                {"gateway", json_dispatch_string, offsetof(StateItem, gateway), 0},
                {"metric", json_dispatch_uintish, offsetof(StateItem, metric), JSON_MANDATORY},
                {},
        };
        size_t n = array ? json_object_array_length(array) : 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                _cleanup_(state_item_done) StateItem item = {};
                NetworkOwned e = {.is_route = routes};

                r = json_dispatch(json_object_array_get_idx(array, i), routes ? route_table : address_table,
                                  0, &item, NULL);
                if (r < 0)
                        return r;
                if (parse_mac_colons(item.mac, e.mac) < 0 ||
                    network_address_parse(routes ? item.destination : item.address, &e.address) < 0)
                        return -EBADMSG;
                if (routes) {
                        if (item.gateway && network_address_parse(item.gateway, &e.gateway) < 0)
                                return -EBADMSG;
                        e.metric = item.metric;
                }
                r = network_state_add(s, &e);
                if (r < 0)
                        return r;
        }
        return 0;
}

int network_state_parse(const char *buf, size_t len, NetworkState *ret) {
        static const JsonDispatch table[] = {
                {"addresses", json_dispatch_array, 0, JSON_NULLABLE},
                {"routes", json_dispatch_array, sizeof(struct json_object *), JSON_NULLABLE},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *doc = NULL;
        struct json_object *arrays[2] = {};
        _cleanup_(network_state_done) NetworkState s = {};
        int r;

        r = json_parse_buffer(buf, len, &doc, NULL);
        if (r < 0)
                return r;
        r = json_dispatch(doc, table, 0, arrays, NULL);
        if (r >= 0)
                r = parse_items(arrays[0], false, &s);
        if (r >= 0)
                r = parse_items(arrays[1], true, &s);
        json_object_put(arrays[0]);
        json_object_put(arrays[1]);
        if (r < 0)
                return r;
        *ret = s;
        s = (NetworkState){};
        return 0;
}

static int add_string(struct json_object *o, const char *key, const char *value) {
        struct json_object *v = json_object_new_string(value);

        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int format_entry(const NetworkOwned *e, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        char mac[18], a[INET6_ADDRSTRLEN + 8];
        int r;

        if (!o)
                return -ENOMEM;
        network_mac_format(e->mac, true, mac, sizeof mac);
        r = add_string(o, "mac", mac);
        if (r < 0)
                return r;
        r = network_address_format(&e->address, true, a, sizeof a);
        if (r < 0)
                return r;
        r = add_string(o, e->is_route ? "destination" : "address", a);
        if (r < 0)
                return r;
        if (e->is_route) {
                struct json_object *m;

                if (e->gateway.family != 0) {
                        r = network_address_format(&e->gateway, false, a, sizeof a);
                        if (r >= 0)
                                r = add_string(o, "gateway", a);
                        if (r < 0)
                                return r;
                }
                m = json_object_new_int64(e->metric);
                if (!m || json_object_object_add(o, "metric", m) < 0) {
                        json_object_put(m);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int network_state_format(const NetworkState *s, char **ret) {
        _cleanup_(json_object_putp) struct json_object *doc = json_object_new_object();
        struct json_object *arrays[2] = {json_object_new_array(), json_object_new_array()};
        const char *text;
        char *copy;
        int r = 0;

        if (!doc || !arrays[0] || !arrays[1] ||
            json_object_object_add(doc, "version", json_object_new_int(1)) < 0 ||
            json_object_object_add(doc, "addresses", arrays[0]) < 0) {
                json_object_put(arrays[0]);
                json_object_put(arrays[1]);
                return -ENOMEM;
        }
        if (json_object_object_add(doc, "routes", arrays[1]) < 0) {
                json_object_put(arrays[1]);
                return -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < s->n; i++) {
                struct json_object *e = NULL;

                r = format_entry(&s->entries[i], &e);
                if (r >= 0 && json_object_array_add(arrays[s->entries[i].is_route], e) < 0) {
                        json_object_put(e);
                        r = -ENOMEM;
                }
        }
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || asprintf(&copy, "%s\n", text) < 0)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static int state_path(const char *state_dir, char **ret) {
        if (isempty(state_dir))
                return -EINVAL;
        return asprintf(ret, "%s/%s", state_dir, NETWORK_STATE_FILE) < 0 ? -ENOMEM : 0;
}

int network_state_load(int root_fd, const char *state_dir, NetworkState *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size = 0;
        int r;

        r = state_path(state_dir, &path);
        if (r < 0)
                return r;
        r = read_file_in_root(root_fd, path, NETWORK_STATE_MAX, &buf, &size);
        if (r == -ENOENT) {
                *ret = (NetworkState){};
                return 0;
        }
        if (r < 0)
                return r;
        return network_state_parse(buf, size, ret);
}

int network_state_save(int root_fd, const char *state_dir, const NetworkState *s) {
        _cleanup_free_ char *path = NULL, *text = NULL, *old = NULL;
        size_t size = 0;
        int r;

        r = state_path(state_dir, &path);
        if (r < 0)
                return r;
        r = network_state_format(s, &text);
        if (r < 0)
                return r;
        r = read_file_in_root(root_fd, path, NETWORK_STATE_MAX, &old, &size);
        if (r >= 0 && size == strlen(text) && memcmp(old, text, size) == 0)
                return 0;
        r = write_string_file_atomic_in_root(root_fd, path, text, 0644, WRITE_MKDIR | WRITE_SYNC);
        return r < 0 ? r : 1;
}

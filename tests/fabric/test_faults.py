#!/usr/bin/env python3
"""Fault injection: status codes by ordinal, delay, reset, truncation, garbage, oversized, drip, hang."""

import http.client
import json
import socket
import time

import fabric_testlib as ftl

ftl.ensure_netns()

VM_ID = "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text"


class Faults(ftl.FabricCase):
    scenario_overrides = {"faults": [
        {"id": "boot-500", "endpoint": "imds", "path": "/metadata/instance", "nth": [1, 2, 3], "status": 500}]}

    def setUp(self):
        self.addCleanup(lambda: self.request("control", "/faults", method="DELETE"))

    def raw_get(self, service, path, headers=None, timeout=10):
        host = self.urls[service][len("http://"):]
        conn = http.client.HTTPConnection(host, timeout=timeout)
        conn.request("GET", path, headers=headers or {})
        return conn, conn.getresponse()

    def test_scenario_fault_by_ordinal(self):
        # other tests replace the rules: re-arm the scenario's own faults (fresh ordinals)
        self.control("/scenario?bump=none", method="POST", body={"faults": self.scenario_overrides["faults"]})
        path = "/metadata/instance?api-version=2021-02-01"
        since = self.control("/state")["counts"]["requests"]
        statuses = [self.imds(path)[0] for _ in range(5)]
        self.assertEqual(statuses, [500, 500, 500, 200, 200])
        log = [e for e in self.control("/requests?endpoint=imds&since=%d" % since) if e["path"] == "/metadata/instance"][:4]
        self.assertEqual([e["fault"]["id"] if e["fault"] else None for e in log],
                         ["boot-500", "boot-500", "boot-500", None])
        self.assertEqual([e["status"] for e in log], [500, 500, 500, 200])

    def test_control_api_faults_and_request_log_format(self):
        installed = self.control("/faults", method="POST", body=[
            {"endpoint": "wireserver", "query": {"comp": "goalstate"}, "nth": [2], "status": 503,
             "headers": {"Retry-After": "1"}},
            {"endpoint": "wireserver", "query": {"comp": "goalstate"}, "after": 2, "count": 1, "status": 410}])
        self.assertEqual(len(installed), 2)
        got = [self.wire("/machine/?comp=goalstate")[0] for _ in range(4)]
        self.assertEqual(got, [200, 503, 410, 200])
        entry = self.control("/requests?endpoint=wireserver")[-1]
        for key in ("seq", "time", "endpoint", "method", "path", "query", "headers", "body_sha256", "body_len",
                    "status", "fault", "duration_ms"):
            self.assertIn(key, entry)
        self.assertEqual(entry["headers"]["x-ms-version"], "2012-11-30")
        self.assertEqual(entry["query"], "comp=goalstate")
        described = self.control("/faults")
        self.assertEqual([(d["seen"], d["fired"]) for d in described], [(4, 1), (4, 1)])

    def test_delay(self):
        self.control("/faults", method="POST", body={"endpoint": "hgap", "path": "/health", "delayMs": 700})
        start = time.monotonic()
        self.assertEqual(self.request("hgap", "/health")[0], 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.65)

    def test_connection_reset(self):
        self.control("/faults", method="POST", body={"endpoint": "imds", "action": "reset", "nth": [1]})
        with self.assertRaises((ConnectionResetError, http.client.RemoteDisconnected, ConnectionAbortedError)):
            self.imds(VM_ID)
        self.assertEqual(self.imds(VM_ID)[0], 200)

    def test_close_without_answer(self):
        self.control("/faults", method="POST", body={"endpoint": "imds", "action": "close", "nth": [1]})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.imds(VM_ID)

    def test_truncated_body(self):
        self.control("/faults", method="POST", body={"endpoint": "wireserver", "action": "truncate",
                                                     "truncateAt": 40})
        conn, resp = self.raw_get("wire", "/machine/?comp=goalstate", {"x-ms-version": "2012-11-30"})
        self.assertEqual(resp.status, 200)
        self.assertGreater(int(resp.getheader("Content-Length")), 40)
        with self.assertRaises(http.client.IncompleteRead) as ctx:
            resp.read()
        self.assertEqual(len(ctx.exception.partial), 40)
        conn.close()

    def test_truncated_empty_body(self):
        # An empty answer is cut too: more bytes are announced than sent (the fault matrix's health/status cells).
        self.control("/faults", method="POST", body={"endpoint": "hgap", "path": "/health", "action": "truncate"})
        conn, resp = self.raw_get("hgap", "/health")
        self.assertEqual(resp.status, 200)
        self.assertEqual(int(resp.getheader("Content-Length")), 1)
        with self.assertRaises(http.client.IncompleteRead) as ctx:
            resp.read()
        self.assertEqual(len(ctx.exception.partial), 0)
        conn.close()

    def test_garbage_body(self):
        self.control("/faults", method="POST", body={"endpoint": "imds", "action": "garbage", "garbageBytes": 333})
        status, headers, body = self.imds("/metadata/instance?api-version=2021-02-01")
        self.assertEqual((status, len(body)), (200, 333))
        with self.assertRaises(ValueError):
            json.loads(body)

    def test_oversized_body_streams(self):
        self.control("/faults", method="POST", body={"endpoint": "imds", "action": "oversized"})
        conn, resp = self.raw_get("imds", "/metadata/instance?api-version=2021-02-01", {"Metadata": "true"})
        self.assertEqual(int(resp.getheader("Content-Length")), 100 * 1024 * 1024)
        total = 0
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
        conn.close()
        self.assertEqual(total, 100 * 1024 * 1024)

    def test_slow_drip(self):
        self.control("/faults", method="POST", body={"endpoint": "hgap", "path": "/versions", "action": "drip",
                                                     "bytesPerSecond": 400})
        start = time.monotonic()
        status, _, body = self.request("hgap", "/versions")
        elapsed = time.monotonic() - start
        self.assertEqual(status, 200)
        self.assertIn("2015-09-01", json.loads(body))
        self.assertGreater(elapsed, 0.2)  # ~150 bytes of headers+body at 400 B/s

    def test_never_answer(self):
        self.control("/faults", method="POST", body={"endpoint": "imds", "action": "hang", "hangSeconds": 5})
        start = time.monotonic()
        with self.assertRaises(socket.timeout):
            self.request("imds", VM_ID, headers={"Metadata": "true"}, timeout=1)
        self.assertLess(time.monotonic() - start, 3)

    def test_fixture_body(self):
        self.control("/faults", method="POST", body={"endpoint": "wireserver", "query": {"comp": "goalstate"},
                                                     "nth": [1], "status": 200,
                                                     "bodyFixture": "wire/goal-state-no-role-instance.xml",
                                                     "contentType": "text/xml; charset=utf-8"})
        _, _, body = self.wire("/machine/?comp=goalstate")
        with open(ftl.data("wire/goal-state-no-role-instance.xml"), "rb") as handle:
            self.assertEqual(body, handle.read())
        _, _, body = self.wire("/machine/?comp=goalstate")
        self.assertIn(b"<RoleInstanceList>", body)

    def test_invalid_rule_rejected(self):
        status, _, body = self.request("control", "/faults", method="POST", body={"endpoint": "imds", "nth": [0]})
        self.assertEqual(status, 400)
        status, _, body = self.request("control", "/faults", method="POST", body={"endpoint": "dns", "status": 500})
        self.assertEqual(status, 400)


if __name__ == "__main__":
    ftl.main()

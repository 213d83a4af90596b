#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scripted HTTP server for the imds-client integration tests (stdlib only, 127.0.0.1 only).

Usage: fake-server.py SCENARIO.json
Prints "PORT <n>" on stdout once it accepts connections.

Scenario: {"routes": [{"path": "/metadata/instance", "query": "api-version=2023-07-01",
                       "method": "GET", "responses": [RESPONSE, ...]}, ...]}
The first route whose path equals the request path (and whose "query"/"method" match, when given) answers
with its next response; the last response repeats. RESPONSE keys:
  status (int, default 200), body (str), body_file (path), body_size (int: that many 'x' bytes),
  headers ({name: value}), delay (seconds before answering), reset (true: close with a TCP RST, no answer),
  require_header ([name, value]: answer 400 when the request lacks it),
  no_length (true: no Content-Length, the body ends when the connection closes).
Unmatched requests get 404. Control endpoints (not logged):
  GET /_control/requests  -> JSON list of {"method", "path", "query", "headers", "body"}
"""
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class State:
    def __init__(self, scenario):
        self.routes = scenario.get("routes", [])
        self.counters = [0] * len(self.routes)
        self.requests = []
        self.lock = threading.Lock()

    def pick(self, method, path, query):
        with self.lock:
            for i, route in enumerate(self.routes):
                if route.get("path") != path:
                    continue
                if "query" in route and route["query"] not in query:
                    continue
                if "method" in route and route["method"] != method:
                    continue
                responses = route.get("responses") or [{}]
                n = self.counters[i]
                self.counters[i] += 1
                return responses[min(n, len(responses) - 1)]
        return {"status": 404, "body": "no route"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _body_of(self, spec):
        if "body_file" in spec:
            with open(spec["body_file"], "rb") as f:
                return f.read()
        if "body_size" in spec:
            return b"x" * int(spec["body_size"])
        return spec.get("body", "").encode("utf-8")

    def _handle(self):
        state = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/_control/requests":
            with state.lock:
                data = json.dumps(state.requests).encode()
            return self._send(200, data, {"Content-Type": "application/json"})
        with state.lock:
            state.requests.append({"method": self.command, "path": url.path, "query": url.query,
                                   "headers": {k.lower(): v for k, v in self.headers.items()},
                                   "body": body.decode("utf-8", "replace"), "time": time.monotonic()})
        spec = state.pick(self.command, url.path, url.query)
        if spec.get("delay"):
            time.sleep(float(spec["delay"]))
        if spec.get("reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        need = spec.get("require_header")
        if need and (self.headers.get(need[0]) or "").lower() != need[1].lower():
            return self._send(400, b"missing header %s" % need[0].encode(), {})
        self._send(int(spec.get("status", 200)), self._body_of(spec), spec.get("headers", {}),
                   not spec.get("no_length"))

    def _send(self, status, data, headers, length=True):
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if length:
                self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass


def main():
    with open(sys.argv[1]) as f:
        scenario = json.load(f)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(scenario)
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

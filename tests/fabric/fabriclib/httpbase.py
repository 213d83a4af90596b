"""HTTP plumbing shared by every fabric service.

One ``FabricServer`` (a ``ThreadingHTTPServer``) per listening socket; each
request is parsed into a ``Request``, checked against the fault table, handed
to the service's ``handle()`` and logged (see README "Request log").
Request bodies are bounded per service (413 above the limit).
"""

import http.server
import os
import socket
import struct
import time
import traceback
from urllib.parse import parse_qs, unquote, urlsplit

from .util import sha256_hex, utc_iso

_PATTERN = b"azfabric-oversized-body " * 2731  # ~64 KiB


class Request:
    """A parsed request as seen by a service."""

    def __init__(self, method, target, headers, body, client, endpoint):
        parts = urlsplit(target)
        self.method = method
        self.target = target
        self.raw_path = parts.path or "/"
        self.path = unquote(self.raw_path)
        self.query_string = parts.query
        self.query_pairs = [(k, v) for k, v in
                            (p.split("=", 1) if "=" in p else (p, "") for p in parts.query.split("&") if p)]
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.client = client
        self.endpoint = endpoint

    def header(self, name, default=None):
        value = self.headers.get(name)
        return default if value is None else value

    def q(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default


class Response:
    """What a service returns; ``stream`` (an iterator of bytes) overrides ``body``."""

    def __init__(self, status=200, body=b"", content_type=None, headers=None, stream=None, length=None,
                 note=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
        self.stream = stream
        self.length = length
        self.note = note


class Service:
    """Base class of IMDS / WireServer / HGAP / blob / control services."""

    endpoint = "service"
    max_body = 1024 * 1024
    fault_injection = True
    logged = True

    def __init__(self, fabric):
        self.fabric = fabric

    def handle(self, req):  # pragma: no cover - overridden
        raise NotImplementedError

    def error(self, status, message):
        return Response(status, message + "\n", "text/plain; charset=utf-8", note=message)


class FabricServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, service):
        self.service = service
        super().__init__(address, FabricHandler)


class FabricHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "azfabric"
    sys_version = ""
    timeout = 120

    def log_message(self, fmt, *args):  # silence stderr access log
        pass

    def version_string(self):
        return self.server_version

    # every method goes through _handle
    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # ------------------------------------------------------------------
    def _read_body(self, limit):
        """Read the request body; returns (bytes, error message or None)."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return None, "truncated chunked body"
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None, "bad chunk size line"
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks), None
                total += size
                if total > limit:
                    return None, "request body exceeds %d bytes" % limit
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
        length = self.headers.get("Content-Length")
        if length is None:
            return b"", None
        try:
            length = int(length)
        except ValueError:
            return None, "invalid Content-Length"
        if length < 0:
            return None, "invalid Content-Length"
        if length > limit:
            return None, "request body exceeds %d bytes (Content-Length: %d)" % (limit, length)
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            return None, "request body shorter than Content-Length"
        return data, None

    def _handle(self):
        service = self.server.service
        fabric = service.fabric
        started = time.monotonic()
        client = "%s:%s" % self.client_address[:2]
        body, problem = self._read_body(service.max_body)
        req = Request(self.command, self.path, self.headers, body or b"", client, service.endpoint)
        fault = None
        resp = None
        outcome = None
        if problem is not None:
            self.close_connection = True
            status = 413 if "exceeds" in problem else 400
            resp = service.error(status, problem)
        else:
            if service.fault_injection:
                fault = fabric.faults.match(service.endpoint, req.method, req.path, req.query)
            if fault is not None and fault.delay:
                fabric.stop_event.wait(fault.delay)
            if fault is not None and fault.action in ("reset", "close", "hang"):
                outcome = self._drop(fault, fabric)
            elif fault is not None and fault.action == "status":
                resp = self._fault_response(fault, service)
            else:
                try:
                    resp = service.handle(req)
                except Exception as exc:  # keep serving; report the bug clearly
                    traceback.print_exc()
                    resp = service.error(500, "azfabric internal error: %s: %s" % (type(exc).__name__, exc))
        sent = 0
        if resp is not None:
            try:
                sent = self._send(resp, fault)
            except (BrokenPipeError, ConnectionResetError, socket.timeout) as exc:
                outcome = "client went away: %s" % type(exc).__name__
                self.close_connection = True
        if service.logged:
            fabric.log_request({
                "time": utc_iso(),
                "endpoint": service.endpoint,
                "client": client,
                "method": req.method,
                "path": req.raw_path,
                "query": req.query_string,
                "headers": _header_dict(self.headers),
                "body_sha256": sha256_hex(req.body),
                "body_len": len(req.body),
                "body_text": _preview(req.body),
                "status": resp.status if resp is not None else None,
                "response_len": sent,
                "fault": None if fault is None else {"id": fault.id, "action": fault.action},
                "outcome": outcome,
                "note": resp.note if resp is not None else None,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            })

    def _fault_response(self, fault, service):
        body = fault.body
        if body is None:
            resp = service.error(fault.status, "injected fault %s" % fault.id)
        else:
            resp = Response(fault.status, body if isinstance(body, bytes) else str(body).encode("utf-8"),
                            fault.content_type or "text/plain; charset=utf-8")
        resp.headers.extend(fault.headers.items())
        resp.note = "injected fault %s" % fault.id
        return resp

    def _drop(self, fault, fabric):
        self.close_connection = True
        if fault.action == "hang":
            fabric.stop_event.wait(fault.hang_seconds)
        try:
            if fault.action == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return "dropped (%s)" % fault.action

    def _send(self, resp, fault):
        action = fault.action if fault is not None else None
        body = resp.body
        stream = resp.stream
        length = resp.length if stream is not None else len(body)
        if action == "garbage":
            body = os.urandom(int(fault.garbage_bytes or len(body) or 64))
            stream, length = None, len(body)
        elif action == "oversized":
            total = fault.oversized_bytes
            stream, length = _pattern_stream(total), total
        cut = 0
        if action == "truncate":
            cut = int(fault.truncate_at if fault.truncate_at is not None else len(body) // 2)
            length = max(length, cut + 1)  # an empty body is "truncated" too: announce more than is sent
        headers = [("Content-Type", resp.content_type)] if resp.content_type else []
        headers += resp.headers
        headers.append(("Content-Length", str(length)))
        if self.close_connection or action in ("truncate", "oversized", "drip"):
            self.close_connection = True
            headers.append(("Connection", "close"))
        if action == "drip":
            data = body if stream is None else b"".join(stream)
            return self._drip(resp.status, headers, data, fault.bytes_per_second)
        self.send_response(resp.status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return 0
        if action == "truncate":
            self.wfile.write(body[:cut])
            self.wfile.flush()
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return cut
        if stream is not None:
            sent = 0
            for chunk in stream:
                if self.server.service.fabric.stop_event.is_set():
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
            return sent
        self.wfile.write(body)
        return len(body)

    def _drip(self, status, headers, body, rate):
        reason = self.responses.get(status, ("",))[0]
        head = "HTTP/1.1 %d %s\r\n" % (status, reason)
        head += "Server: %s\r\nDate: %s\r\n" % (self.version_string(), self.date_time_string())
        head += "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
        data = head.encode("latin-1") + (b"" if self.command == "HEAD" else body)
        stop = self.server.service.fabric.stop_event
        interval = 1.0 / rate
        for idx in range(len(data)):
            self.wfile.write(data[idx:idx + 1])
            if stop.wait(interval):
                break
        return len(body)


def _pattern_stream(total):
    remaining = total
    while remaining > 0:
        chunk = _PATTERN[:min(len(_PATTERN), remaining)]
        remaining -= len(chunk)
        yield chunk


def _header_dict(headers):
    out = {}
    for name, value in headers.items():
        out[name] = value if name not in out else out[name] + ", " + value
    return out


def _preview(body, limit=2048):
    if not body:
        return None
    try:
        text = body[:limit].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text

# SPDX-License-Identifier: MIT
"""A minimal D-Bus client over a unix socket, written for one purpose: to be a caller the bus vouches nothing for.

It authenticates with the ANONYMOUS mechanism (the bus then knows no uid for the connection, and
GetConnectionCredentials has no UnixUserID), which busctl, dbus-send and sd-bus cannot do. Only what the tests
need: method calls with string arguments, and the raw reply (type, header fields, body bytes)."""
import os
import socket
import struct

METHOD_RETURN, ERROR = 2, 3


def _pad(buf, n, base=0):
    return buf + b"\0" * ((-(len(buf) + base)) % n)


def _string(buf, v, base=0):
    buf = _pad(buf, 4, base)
    data = v.encode()
    return buf + struct.pack("<I", len(data)) + data + b"\0"


def _call(serial, dest, path, iface, member, args=()):
    body = b""
    for a in args:
        body = _string(body, a)
    fields = b""
    items = [(1, "o", path), (2, "s", iface), (3, "s", member), (6, "s", dest)]
    if args:
        items.append((8, "g", "s" * len(args)))
    for code, t, v in items:
        fields = _pad(fields, 8)
        fields += bytes([code, 1]) + t.encode() + b"\0"
        if t == "g":
            fields += bytes([len(v)]) + v.encode() + b"\0"
        else:
            fields = _string(fields, v, base=16)
    head = b"l" + bytes([1, 0, 1]) + struct.pack("<III", len(body), serial, len(fields)) + fields
    return _pad(head, 8) + body


class AnonymousClient:
    def __init__(self, socket_path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(socket_path)
        self.serial = 0
        self.sock.sendall(b"\0AUTH ANONYMOUS " + b"azl-agent test".hex().encode() + b"\r\n")
        line = self.sock.recv(4096)
        if not line.startswith(b"OK "):
            raise ConnectionError("ANONYMOUS authentication refused: %r" % line)
        self.sock.sendall(b"BEGIN\r\n")
        kind, fields, body = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "Hello")
        if kind != METHOD_RETURN:
            raise ConnectionError("Hello failed: %r" % (fields,))
        (n,) = struct.unpack("<I", body[:4])
        self.unique_name = body[4:4 + n].decode()

    def _recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the bus closed the connection")
            data += chunk
        return data

    def _read(self):
        head = self._recv(16)
        body_len, serial, fields_len = struct.unpack("<III", head[4:16])
        rest = self._recv(fields_len + (-(16 + fields_len)) % 8 + body_len)
        raw, fields, i = rest[:fields_len], {}, 0
        while i < fields_len:
            i += (-i) % 8
            code, slen = raw[i], raw[i + 1]
            t = raw[i + 2:i + 2 + slen].decode()
            i += 3 + slen
            if t in ("s", "o", "u"):
                i += (-(i + 16)) % 4
                (n,) = struct.unpack("<I", raw[i:i + 4])
                if t == "u":
                    fields[code] = n
                    i += 4
                else:
                    fields[code] = raw[i + 4:i + 4 + n].decode()
                    i += 5 + n
            elif t == "g":
                fields[code] = raw[i + 1:i + 1 + raw[i]].decode()
                i += 2 + raw[i]
            else:
                raise ValueError("header field of type %r" % t)
        return head[1], fields, rest[len(rest) - body_len:] if body_len else b""

    def call(self, dest, path, iface, member, *args):
        """Returns (message type, header fields by code, body bytes) of the reply; 4 = the error name."""
        self.serial += 1
        self.sock.sendall(_call(self.serial, dest, path, iface, member, args))
        while True:
            kind, fields, body = self._read()
            if kind in (METHOD_RETURN, ERROR) and fields.get(5) == self.serial:
                return kind, fields, body

    def close(self):
        self.sock.close()

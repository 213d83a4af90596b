"""NIC events of pre-provisioned VM pools (control API ``POST /pps/nic``).

A pool VM is handed to a customer by a VNet switch (ppsType Running: the primary NIC loses its carrier and
gets it back) or by a NIC swap (Savable: the NIC is detached and a new one hot-attached); protocol §6.5.  The
fabric simulates both with veth pairs.  The guest's end of each pair lives in the fabric's own network
namespace, which is the agent's in the tests (both talk over 127.0.0.1); the host's end lives in a private
namespace held by a child shell that lives as long as the fabric process, so the guest sees only its NIC appear and
disappear, and a carrier change is a real one: the host end goes down.

Body (JSON object):

=========  ==========================================  ==============================================
action     parameters                                  effect
=========  ==========================================  ==============================================
attach     ``name``, ``mac`` (12 hex digits, any        a new NIC; ``up`` also sets the guest end up
           separators), ``up`` (false)                  (a hot-attached NIC starts down)
bounce     ``name``, ``downMs`` (300)                   host end down, wait, up: carrier off, then on
detach     ``name``                                     the NIC is removed (both ends)
=========  ==========================================  ==============================================

Refused (400) unless the fabric runs in a network namespace other than PID 1's: it never touches the links
of a real system.  Needs CAP_NET_ADMIN, ``ip`` and ``nsenter``.
"""

import os
import re
import shutil
import subprocess
import threading
import time

from . import netns

NAME_RE = re.compile(r"^[A-Za-z0-9_.]{1,13}$")   # + "-h" for the host end: IFNAMSIZ - 1 = 15


class PpsNicError(ValueError):
    pass


def _mac(value):
    digits = re.sub(r"[^0-9A-Fa-f]", "", str(value or ""))
    if len(digits) != 12:
        raise PpsNicError("mac must have 12 hex digits: %r" % value)
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2)).lower()


class PpsNic:
    def __init__(self, fabric):
        self.fabric = fabric
        self.lock = threading.Lock()
        self.host = None   # the sleeping child whose namespace holds the host ends

    def close(self):
        with self.lock:
            if self.host is not None and self.host.poll() is None:
                self.host.kill()
                self.host.wait()
            self.host = None

    def _host_pid(self):
        if self.host is None or self.host.poll() is not None:
            here, pid1, _ = netns.netns_ids()
            if here == pid1:
                raise PpsNicError("refusing NIC operations in the initial network namespace")
            for tool in ("ip", "nsenter", "unshare"):
                if shutil.which(tool) is None:
                    raise PpsNicError("%s is not installed" % tool)
            # Not PR_SET_PDEATHSIG: it fires when the forking thread (a request handler) ends. The child
            # polls the fabric's pid instead, so a killed fabric does not leave the namespace behind.
            watch = "while kill -0 %d 2>/dev/null; do sleep 1; done" % os.getpid()
            self.host = subprocess.Popen(["unshare", "--net", "sh", "-c", watch],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            ours = self._ns_of("self")   # our child's ns link is readable even where PID 1's is not
            while self._ns_of(self.host.pid) in (None, ours):
                if self.host.poll() is not None or time.monotonic() > deadline:
                    raise PpsNicError("could not create the host-side network namespace")
                time.sleep(0.01)
        return self.host.pid

    @staticmethod
    def _ns_of(pid):
        try:
            return netns.netns_inode(pid)
        except OSError:
            return None

    @staticmethod
    def _run(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            raise PpsNicError("%s: %s" % (" ".join(argv), proc.stderr.strip() or "exit %d" % proc.returncode))

    def handle(self, body):
        if not isinstance(body, dict):
            raise PpsNicError("POST /pps/nic needs a JSON object")
        action, name = body.get("action"), body.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PpsNicError("name must be 1-13 characters [A-Za-z0-9_.]")
        peer = name + "-h"
        with self.lock:
            pid = str(self._host_pid())
            host = ["nsenter", "-t", pid, "-n", "ip", "link", "set", peer]
            if action == "attach":
                mac = _mac(body.get("mac"))
                self._run(["ip", "link", "add", name, "address", mac, "type", "veth", "peer", "name", peer,
                           "netns", pid])
                # Guest end first: with the host end up first and the guest end following within the
                # kernel's link-watch delay, the guest's operstate was seen to stay "down" (6.18).
                if body.get("up"):
                    self._run(["ip", "link", "set", name, "up"])
                self._run(host + ["up"])
                text = "attach %s %s%s" % (name, mac, " up" if body.get("up") else "")
            elif action == "bounce":
                down_ms = body.get("downMs", 300)
                if not isinstance(down_ms, int) or not 0 <= down_ms <= 60000:
                    raise PpsNicError("downMs must be an integer 0..60000")
                self._run(host + ["down"])
                time.sleep(down_ms / 1000)
                self._run(host + ["up"])
                text = "bounce %s %dms" % (name, down_ms)
            elif action == "detach":
                self._run(["ip", "link", "del", name])
                text = "detach %s" % name
            else:
                raise PpsNicError("action must be attach, bounce or detach")
        self.fabric.record_event("pps-nic", text)
        return {"action": action, "name": name, "event": text}

# SPDX-License-Identifier: MIT
"""Shared harness for azl-agent's integration tests: the simulated fabric, scratch roots, running the agent.

Every test module calls ``enter_private_netns()`` first: it re-executes the test under ``unshare --net`` in a
namespace of its own (only ``lo``; also inside the suite's), and exits 77 (skip) when namespaces are not permitted. The
fabric listens on 127.0.0.1 only; the agent reaches it through explicit [Endpoints] in agent.conf.
"""
import copy
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fabric"))
from fabriclib import netns  # noqa: E402

SRC = os.environ.get("AZL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.environ.get("AZL_AGENT") or os.path.join(SRC, "build", "agent", "azl-agent")
FABRIC = os.path.join(SRC, "tests", "fabric", "azfabric.py")
DEFAULT_SCENARIO = os.path.join(SRC, "tests", "fabric", "scenarios", "default.json")
MAKE_ROOT = os.path.join(SRC, "tests", "integration", "make-scratch-root.sh")


def enter_private_netns():
    """Re-exec this test module under `unshare --net` (once: the pid is kept across the two execs), then bring
    up lo and refuse to run with a route out or any link besides lo.

    Every module gets a namespace of its own even inside the suite's (scripts/run-tests.sh): the suite runs two
    modules at a time, and links one makes (veths carrying the default scenario's MACs, PPS NIC bounces) must
    not be seen by another's daemon, which would configure them or re-run its network step on them."""
    if os.environ.get("AZL_NETNS_PID") != str(os.getpid()):
        if shutil.which("unshare") is None or subprocess.run(["unshare", "--net", "true"]).returncode != 0:
            print("SKIP: cannot create a private network namespace")
            sys.exit(77)
        env = dict(os.environ, AZL_NETNS_PID=str(os.getpid()), AZL_IN_PRIVATE_NETNS="1")
        os.execvpe("unshare", ["unshare", "--net", sys.executable] + sys.argv, env)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    mine, init, how = netns.netns_ids()
    if mine == init:
        raise SystemExit("azltest: still in PID 1's network namespace after unshare (compared %s)" % how)
    if netns.default_routes():
        raise SystemExit("azltest: the test namespace has a default route, refusing to run")
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()
    if any(": lo:" not in line for line in links):
        raise SystemExit("azltest: the test namespace has links besides lo, refusing to run")


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


class Fabric:
    """The simulated fabric on 127.0.0.1 with the default scenario merged with a patch."""

    def __init__(self, workdir, patch=None, args=()):
        with open(DEFAULT_SCENARIO) as f:
            scenario = json.load(f)
        self.scenario = merge_patch(scenario, patch or {})
        self.scenario_path = os.path.join(workdir, "scenario.json")
        # Relative fixture paths in the default scenario are resolved against the fixture root, not this dir.
        with open(self.scenario_path, "w") as f:
            json.dump(self.scenario, f)
        self.ready_file = os.path.join(workdir, "fabric.ready")
        self.log = open(os.path.join(workdir, "fabric.log"), "w")
        self.proc = subprocess.Popen([sys.executable, FABRIC, "serve", "--scenario", self.scenario_path,
                                      "--ready-file", self.ready_file, "--state-dir", os.path.join(workdir, "fabric"),
                                      *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (os.path.exists(self.ready_file) and os.path.getsize(self.ready_file) > 0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fabric did not start; see " + self.log.name)
            time.sleep(0.05)
        with open(self.ready_file) as f:
            self.endpoints = json.load(f)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def _control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoints["control"] + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()

    def health_reports(self):
        return json.loads(self._control("GET", "/health-reports"))

    def requests(self, endpoint=None):
        text = self._control("GET", "/requests" + (f"?endpoint={endpoint}" if endpoint else ""))
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def patch_scenario(self, patch, bump="incarnation"):
        return self._control("POST", f"/scenario?mode=merge&bump={bump}", patch)

    def set_faults(self, faults):
        return self._control("POST", "/faults?mode=replace", faults)

    def media(self, outdir):
        subprocess.run([sys.executable, FABRIC, "media", "--scenario", self.scenario_path, "--out", outdir],
                       check=True, stdout=subprocess.DEVNULL)
        return os.path.join(outdir, "ovf-env.xml")


class ScratchRoot:
    """A minimal system tree that the agent provisions with --root, configured to use the fabric."""

    def __init__(self, workdir, fabric, conf_extra=""):
        self.path = os.path.join(workdir, "root")
        subprocess.run(["bash", MAKE_ROOT, self.path], check=True)
        seed = os.path.join(self.path, "var/lib/azl-agent/seed")
        os.makedirs(seed, exist_ok=True)
        shutil.copy(fabric.media(os.path.join(workdir, "media")), seed)
        self.write_conf(fabric, conf_extra)

    def write_conf(self, fabric, conf_extra=""):
        e = fabric.endpoints
        os.makedirs(self.file("/etc/azl-agent"), exist_ok=True)
        with open(self.file("/etc/azl-agent/agent.conf"), "w") as f:
            f.write(f"[Endpoints]\nIMDS={e['imds']}\nWireServer={e['wireserver']}\nHostGAPluginPort={e['hgap_port']}\n"
                    "[Timeouts]\nIMDSDeadlineSec=20\nHealthDeadlineSec=20\n" + conf_extra)

    def file(self, path):
        return os.path.join(self.path, path.lstrip("/"))

    def read(self, path, mode="r"):
        with open(self.file(path), mode) as f:
            return f.read()

    def passwd_entry(self, user):
        for line in self.read("/etc/passwd").splitlines():
            fields = line.split(":")
            if fields[0] == user:
                return fields
        return None

    def install_shell(self, tools=("/bin/sh", "/usr/bin/id", "/usr/bin/touch", "/usr/bin/cat", "/usr/bin/false")):
        """Copies the host's /bin/sh and a few tools, with the libraries ldd names, into the root: user data scripts
        run chrooted into an alternate root (`azl-agent --root R userdata run`), so they need a shell there."""
        def copy_in(path):
            dest = self.file(path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if not os.path.exists(dest):
                shutil.copy2(path, dest)
        for tool in tools:
            real = os.path.realpath(tool)
            copy_in(real)
            ldd = subprocess.run(["ldd", real], capture_output=True, text=True).stdout
            for line in ldd.splitlines():
                lib = next((w for w in line.split() if w.startswith("/")), None)
                if lib:
                    copy_in(lib)
            if real != tool and not os.path.lexists(self.file(tool)):
                os.makedirs(os.path.dirname(self.file(tool)), exist_ok=True)
                os.symlink(real, self.file(tool))
        os.makedirs(self.file("/var/tmp"), exist_ok=True)
        os.chmod(self.file("/var/tmp"), 0o1777)

    def run(self, *args, timeout=120):
        return subprocess.run([AGENT, "--root", self.path, *args], capture_output=True, text=True, timeout=timeout)


class FabricTestCase(unittest.TestCase):
    """Each test gets a fresh work dir and fabric; subclasses set PATCH or call self.start(patch)."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="azl-it-")
        self.fabric = None

    def tearDown(self):
        if self.fabric:
            self.fabric.close()
        if os.environ.get("AZL_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)

    def start(self, patch=None, conf_extra=""):
        self.fabric = Fabric(self.workdir, patch)
        self.root = ScratchRoot(self.workdir, self.fabric, conf_extra)
        return self.fabric, self.root


def require(root_reason="useradd on a scratch root"):
    """Enters a private network namespace; exits 77 (skip) without root when root_reason (why root is needed)
    is given, or when the agent is not built."""
    enter_private_netns()
    if root_reason and os.geteuid() != 0:
        print("SKIP: needs root (%s)" % root_reason)
        sys.exit(77)
    if not os.path.exists(AGENT):
        print("SKIP: azl-agent not built at " + AGENT)
        sys.exit(77)


def main(root_reason="useradd on a scratch root"):
    require(root_reason)
    unittest.main(verbosity=2)


def wait_for(what, fn, timeout=30.0, interval=0.1, detail=None):
    """Polls fn() until it returns something true (returned), or raises AssertionError after timeout s; the
    message then includes detail(), what was seen instead (CI logs keep the assertion, not always stderr)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what + (": " + str(detail()) if detail else ""))
        time.sleep(interval)


CRYPT_DATA_SIZE = 32768  # sizeof(struct crypt_data), libxcrypt's crypt.h


def crypt_matches(password, hashed):
    """Does the crypt(5) hash (yescrypt "$y$" as the agent writes, or any other libcrypt knows) verify password?
    libcrypt's own crypt() (python3's crypt module is deprecated; openssl passwd has no yescrypt)."""
    if not hashed or hashed[0] in "!*":
        return False
    # crypt_rn() with a buffer of our own: crypt() keeps its state in one static buffer, and the crash test calls
    # this from two threads at once (which crashed the interpreter).
    libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    libcrypt.crypt_rn.restype = ctypes.c_char_p
    libcrypt.crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    data = ctypes.create_string_buffer(CRYPT_DATA_SIZE)
    return libcrypt.crypt_rn(password.encode(), hashed.encode(), data, CRYPT_DATA_SIZE) == hashed.encode()

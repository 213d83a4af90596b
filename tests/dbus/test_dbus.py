#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The D-Bus API of `azl-agent daemon` (issue #9, docs/dbus.md) on a private dbus-daemon.

Each test starts a dbus-daemon with a system-bus-like configuration (default deny for method calls and names, as
/usr/share/dbus-1/system.conf) that includes the shipped policy units/dbus/org.azurelinux.Agent1.conf, listening
on a unix socket in a scratch directory; the simulated fabric; `azl-agent provision` on a scratch root; then
`azl-agent daemon` with DBUS_SYSTEM_BUS_ADDRESS pointing at the private bus and GoalStatePeriodSec=600, so that
every goal state request after the first one comes from RefreshGoalState(). Everything is asserted with
`busctl --address=…` (introspect, get-property --json, call, monitor --json) against the fabric's own record:

  * introspection lists the interface, its properties and methods;
  * properties equal the fabric's: VM id, incarnation, vmSettings ETag, the sample extension Ready with its
    settings status and message, provisioning state, steps and last health report, status upload count;
  * PropertiesChanged signals carry the new values (GoalStateIncarnation after a bump), Extensions only as
    invalidated (its messages are root's alone);
  * RefreshGoalState() makes the fabric see a goal state request at once (period 600 s);
  * a non-root caller (uid nobody) reads properties but gets AccessDenied for both methods — from the bus
    policy, and, with the policy opened up for it (ReloadConfig), from the daemon's own uid check;
  * an extension that prints invalid UTF-8 and a stand-in secret and fails (tests/dbus/handlers/noisy): Get and
    GetAll still answer, the bad bytes read as U+FFFD, the captured output is cut on character boundaries; root
    reads the whole message, uid nobody only its first line, and no signal carries it;
  * Reprovision() runs `provision --force` with the daemon's own options even when they were given abbreviated
    (--ro, --conf): Reprovisioning goes true then false, the steps ran again (user, ssh-keys) with the --config
    file in effect, a new Ready health report reaches the fabric;
  * the state directory removed and recreated: the daemon watches it again and sees the new state.json;
  * `azl-agent status` (no --root) reads the daemon over D-Bus — source "daemon", JSON valid against
    docs/status.schema.json, also for uid nobody — and falls back to the state file once the daemon is gone;
  * without a bus, or when the bus goes away, the daemon runs on (and says so);
  * a caller the bus vouches no uid for (ANONYMOUS authentication, tests/dbus/rawdbus.py) is refused the methods
    and reads extension messages redacted even with the policy opened to it (deny by default);
  * FirewallState/FirewallDetail (the WireServer guard; "skipped" on a loopback test fabric).

Skips (77) without dbus-daemon, busctl or setpriv, outside a private network namespace, or when not root.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
import azltest  # noqa: E402
from azltest import wait_for  # noqa: E402
from test_provision import validate  # noqa: E402  (the JSON Schema subset of docs/status.schema.json)

NAME = "org.azurelinux.Agent1"
PATH = "/org/azurelinux/Agent1"
IFACE = "org.azurelinux.Agent1"
EXT = "AzlAgent.SampleHandler"
POLICY = os.path.join(azltest.SRC, "units", "dbus", "org.azurelinux.Agent1.conf")
NOBODY = 65534
NOISY = "AzlTest.Noisy"
NOISY_PATCH = {"extensions": [{
    "name": NOISY, "version": "1.0.0", "state": "enabled", "seqNo": 0, "publicSettings": {},
    "source": os.path.join(os.path.dirname(os.path.abspath(__file__)), "handlers", "noisy")}]}
SECRET = "secret-output-4f1c9"

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>{policy}</include>
  <include ignore_missing="yes">{extra}</include>
</busconfig>
"""

# Opens the agent's methods to uid nobody at the bus level, so that the daemon's own uid check is what answers.
EXTRA_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="nobody">
    <allow send_destination="org.azurelinux.Agent1"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """dbus-daemon on a unix socket in a world-traversable scratch directory."""

    def __init__(self, anonymous=False):
        """anonymous: also accept connections authenticated with ANONYMOUS (the bus knows no uid for them)."""
        self.dir = tempfile.mkdtemp(prefix="azl-dbus-")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "system_bus_socket")
        self.address = "unix:path=" + self.socket
        self.extra = os.path.join(self.dir, "extra.conf")
        self.conf = os.path.join(self.dir, "bus.conf")
        conf = BUS_CONF.format(socket=self.socket, policy=POLICY, extra=self.extra)
        if anonymous:
            conf = conf.replace("<auth>EXTERNAL</auth>", "<auth>EXTERNAL</auth>\n  <auth>ANONYMOUS</auth>\n"
                                "  <allow_anonymous/>")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(self.dir, "dbus-daemon.log"), "w")
        self.proc = subprocess.Popen(["dbus-daemon", "--config-file=" + self.conf, "--nofork", "--nopidfile"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("the private bus socket", lambda: os.path.exists(self.socket), timeout=10)

    def busctl(self, *args, uid=None, check=True):
        cmd = ["busctl", "--address=" + self.address, *args]
        if uid is not None:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def get(self, prop, uid=None):
        p = self.busctl("--json=short", "get-property", NAME, PATH, IFACE, prop, uid=uid)
        return json.loads(p.stdout)["data"]

    def call(self, method, uid=None):
        return self.busctl("call", NAME, PATH, IFACE, method, uid=uid, check=False)

    def send(self, method, uid=None):
        """dbus-send: unlike busctl it prints the error's message (busctl says only "Access denied")."""
        cmd = ["dbus-send", "--bus=" + self.address, "--print-reply", "--dest=" + NAME, PATH, IFACE + "." + method]
        if uid is not None:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30)

    def reload(self, extra):
        if extra:
            with open(self.extra, "w") as f:
                f.write(extra)
        elif os.path.exists(self.extra):
            os.unlink(self.extra)
        self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ReloadConfig")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Monitor:
    """`busctl monitor --json=short` of the agent's name, written to a file and parsed on demand."""

    def __init__(self, bus, workdir):
        self.path = os.path.join(workdir, "monitor.json")
        self.out = open(self.path, "w")
        self.proc = subprocess.Popen(["busctl", "--address=" + bus.address, "--json=short", "monitor", NAME],
                                     stdout=self.out, stderr=subprocess.DEVNULL)

    def changes(self, invalidated=False):
        """Every PropertiesChanged of our interface as a dict of property → value (with invalidated, the list of
        invalidated property names instead), in order."""
        found = []
        with open(self.path) as f:
            for line in f:
                try:
                    m = json.loads(line)
                except ValueError:
                    continue
                if m.get("type") != "signal" or m.get("member") != "PropertiesChanged" or m.get("path") != PATH:
                    continue
                iface, changed, names = m["payload"]["data"]
                if iface == IFACE:
                    found.append(names if invalidated else {k: v["data"] for k, v in changed.items()})
        return found

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.out.close()


class DbusTest(azltest.FabricTestCase):
    PERIOD = 600

    def setUp(self):
        super().setUp()
        self.n_failed = self._n_failed()
        self.bus = None
        self.monitor = None
        self.daemon = None
        self.daemon_log = None

    def tearDown(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        if self.monitor:
            self.monitor.close()
        if self.daemon_log:
            self.daemon_log.close()
            if self._n_failed() > self.n_failed:
                with open(self.daemon_log.name, errors="replace") as f:
                    sys.stderr.write("---- daemon log ----\n" + f.read()[-8000:])
        if self.bus:
            self.bus.close()
        super().tearDown()

    def _n_failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return len(result.failures) + len(result.errors) if result else 0

    def start_all(self, with_bus=True, patch=None, options=None, anonymous=False):
        """options(root_path): the daemon's global options instead of --root ROOT -v."""
        self.start(patch, f"GoalStatePeriodSec={self.PERIOD}\n")
        r = self.root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        env = dict(os.environ)
        if with_bus:
            self.bus = PrivateBus(anonymous=anonymous)
            self.monitor = Monitor(self.bus, self.workdir)
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.address
        else:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=" + os.path.join(self.workdir, "no-such-bus")
        self.daemon_log = open(os.path.join(self.workdir, "daemon.log"), "w")
        options = options(self.root.path) if options else ["--root", self.root.path, "-v"]
        self.daemon = subprocess.Popen([azltest.AGENT, *options, "daemon"],
                                       stdout=self.daemon_log, stderr=subprocess.STDOUT, env=env)
        if with_bus:
            wait_for("the daemon on the bus", lambda: self.bus.busctl(
                "status", NAME, check=False).returncode == 0, timeout=20)

    def stop_daemon(self):
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(15), 0, "daemon exit status after SIGTERM")

    def seen_instead(self, properties, **known):
        """For a wait_for() timeout: the properties now, and the end of the daemon's log (with the output of the
        provisioning runs it started)."""
        props = {p: self.bus.get(p) for p in properties}
        with open(self.daemon_log.name, errors="replace") as f:
            lines = [line.rstrip() for line in f]
        return json.dumps({"known": known, "properties": props, "log": lines[-15:]}, indent=1)

    def fabric_state(self):
        return json.loads(self.fabric._control("GET", "/state"))

    def extension(self, name=EXT, uid=None):
        for e in self.bus.get("Extensions", uid=uid):
            if e[0] == name:
                return e
        return None

    def get_all(self, uid=None):
        p = self.bus.busctl("--json=short", "call", NAME, PATH, "org.freedesktop.DBus.Properties", "GetAll", "s",
                            IFACE, uid=uid)
        return {k: v["data"] for k, v in json.loads(p.stdout)["data"][0].items()}

    def wait_extension_ready(self):
        return wait_for("the sample extension Ready over D-Bus",
                        lambda: (lambda e: e if e and e[3] == "Ready" and e[6] == "success" else None)(
                            self.extension()), timeout=60)

    def goal_state_requests(self):
        return [r for r in self.fabric.requests("wireserver") if "comp=goalstate" in r["query"]]


class TestDbus(DbusTest):
    def test_introspect_and_properties(self):
        t0 = time.time()
        self.start_all()
        text = self.bus.busctl("introspect", NAME, PATH).stdout
        self.assertIn(IFACE, text)
        for member in ("VmId", "ProvisioningState", "ProvisioningSteps", "LastHealth", "GoalStateIncarnation",
                       "GoalStateEtag", "GoalStateTimestamp", "Extensions", "LastStatusUploadTimestamp",
                       "RefreshGoalState", "Reprovision", "PropertiesChanged"):
            self.assertIn(member, text)
        self.assertRegex(text, r"\.Extensions\s+property\s+a\(ssssissisu\)")
        self.assertRegex(text, r"\.RefreshGoalState\s+method")

        e = self.wait_extension_ready()
        state = self.fabric_state()
        self.assertEqual(self.bus.get("VmId"), state["vm_id"])
        self.assertEqual(self.bus.get("GoalStateIncarnation"), str(state["incarnation"]))
        self.assertEqual(self.bus.get("GoalStateEtag"), str(state["etag"]))
        self.assertTrue(self.bus.get("FastTrack"))
        with open(self.root.file("/var/lib/azl-agent/daemon.json")) as f:
            self.assertEqual(self.bus.get("ExtensionsGoalState"), json.load(f)["executedGoalStateId"])
        gs_at = self.bus.get("GoalStateTimestamp")
        self.assertGreaterEqual(gs_at, int(t0 * 1e6))
        self.assertLessEqual(gs_at, int(time.time() * 1e6))
        self.assertEqual(e[1], "1.0.0")
        self.assertEqual(e[8], "hello from azfabric")
        self.assertEqual(self.bus.get("Platform"), "none")
        # The WireServer guard: nothing to guard on a loopback test fabric (tests/firewall covers the real address).
        self.assertEqual(self.bus.get("FirewallState"), "skipped")
        self.assertIn("loopback", self.bus.get("FirewallDetail"))

        # The provisioning record of the run before the daemon started.
        with open(self.root.file("/var/lib/azl-agent/state.json")) as f:
            prov = json.load(f)
        self.assertEqual(self.bus.get("ProvisioningState"), "ready")
        steps = self.bus.get("ProvisioningSteps")
        self.assertEqual([s[0] for s in steps], [s["name"] for s in prov["steps"]])
        self.assertEqual([s[2] for s in steps], [s["duration_usec"] for s in prov["steps"]])
        self.assertIn("user", [s[0] for s in steps])
        health = self.bus.get("LastHealth")
        self.assertEqual(health[0], "Ready")
        self.assertEqual(health[0], prov["health"]["reported"])
        self.assertGreater(self.bus.get("ProvisioningFinishTimestamp"), 0)

        # Status uploads: the count the fabric accepted.
        uploads = json.loads(self.fabric._control("GET", "/status-blobs"))
        wait_for("StatusUploads to match the fabric", lambda: self.bus.get("StatusUploads") == len(
            json.loads(self.fabric._control("GET", "/status-blobs"))) and self.bus.get("StatusUploads") > 0)
        self.assertTrue(uploads)
        self.assertGreaterEqual(self.bus.get("LastStatusUploadTimestamp"), gs_at)

        # PropertiesChanged carried the goal state, and Extensions as invalidated only (no value: signals go to
        # every reader).
        wait_for("PropertiesChanged invalidating Extensions", lambda: [
            names for names in self.monitor.changes(invalidated=True) if "Extensions" in names])
        self.assertFalse([c for c in self.monitor.changes() if "Extensions" in c])
        self.assertTrue([c for c in self.monitor.changes()
                         if c.get("GoalStateIncarnation") == str(state["incarnation"])])
        self.stop_daemon()

    def test_refresh_goal_state(self):
        self.start_all()
        self.wait_extension_ready()
        before = len(self.goal_state_requests())
        time.sleep(1.0)
        self.assertEqual(len(self.goal_state_requests()), before, "the period is 600 s: no poll by itself")

        self.fabric.patch_scenario({"description": "bumped"}, bump="incarnation")
        new_inc = str(self.fabric_state()["incarnation"])
        t0 = time.monotonic()
        r = self.bus.call("RefreshGoalState")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for("a goal state request after RefreshGoalState()", lambda: len(self.goal_state_requests()) > before,
                 timeout=10, interval=0.05)
        self.assertLess(time.monotonic() - t0, 10)
        wait_for("GoalStateIncarnation " + new_inc, lambda: self.bus.get("GoalStateIncarnation") == new_inc)
        wait_for("PropertiesChanged of the new incarnation", lambda: [
            c for c in self.monitor.changes() if c.get("GoalStateIncarnation") == new_inc])
        self.stop_daemon()

    def test_non_root(self):
        self.start_all()
        wait_for("the first goal state", lambda: self.bus.get("GoalStateIncarnation"))
        # Reading is open to everyone.
        self.assertEqual(self.bus.get("VmId", uid=NOBODY), self.fabric_state()["vm_id"])
        self.assertIn(IFACE, self.bus.busctl("introspect", NAME, PATH, uid=NOBODY).stdout)
        before = len(self.goal_state_requests())

        # The bus policy refuses the methods to anyone but root.
        for method in ("RefreshGoalState", "Reprovision"):
            r = self.bus.call(method, uid=NOBODY)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("Access denied", r.stderr)
            r = self.bus.send(method, uid=NOBODY)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr)
            self.assertIn("Rejected send message", r.stderr)

        # With the policy opened up, the daemon's own uid check answers.
        self.bus.reload(EXTRA_CONF)
        for method in ("RefreshGoalState", "Reprovision"):
            r = self.bus.send(method, uid=NOBODY)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr)
            self.assertIn(f"Only root may call {method}()", r.stderr)
        time.sleep(1.0)
        self.assertEqual(len(self.goal_state_requests()), before, "a refused refresh must not poll")
        self.assertFalse(self.bus.get("Reprovisioning"))
        self.stop_daemon()

    def test_caller_without_credentials(self):
        """Deny by default: a caller for whom the bus vouches no uid (ANONYMOUS authentication: no UnixUserID in
        GetConnectionCredentials) is refused the methods and reads extension messages redacted, even with the bus
        policy opened to it. The daemon never fills in a uid from /proc/<pid> (SD_BUS_CREDS_AUGMENT)."""
        from rawdbus import ERROR, METHOD_RETURN, AnonymousClient
        self.start_all(patch=NOISY_PATCH, anonymous=True)
        full = wait_for("the noisy extension failed, over D-Bus", lambda: (
            lambda e: e if e and e[3] == "NotReady" and SECRET in e[5] else None)(self.extension(NOISY)), timeout=60)
        before = len(self.goal_state_requests())
        self.bus.reload(EXTRA_CONF.replace('<policy user="nobody">', '<policy context="default">'))
        anon = AnonymousClient(self.bus.socket)
        try:
            kind, _, body = anon.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                      "GetConnectionCredentials", anon.unique_name)
            self.assertEqual(kind, METHOD_RETURN)
            self.assertNotIn(b"UnixUserID", body, "the bus must know no uid for this caller")
            for method in ("RefreshGoalState", "Reprovision"):
                kind, fields, body = anon.call(NAME, PATH, IFACE, method)
                self.assertEqual(kind, ERROR, (method, fields, body))
                self.assertEqual(fields[4], "org.freedesktop.DBus.Error.AccessDenied")
                self.assertIn(b"Cannot determine the caller's uid", body)
            kind, _, body = anon.call(NAME, PATH, "org.freedesktop.DBus.Properties", "Get", IFACE, "Extensions")
            self.assertEqual(kind, METHOD_RETURN)
            self.assertIn(full[5].partition("\n")[0].encode(), body)
            self.assertNotIn(SECRET.encode(), body)
            kind, _, body = anon.call(NAME, PATH, "org.freedesktop.DBus.Properties", "GetAll", IFACE)
            self.assertEqual(kind, METHOD_RETURN)
            self.assertNotIn(SECRET.encode(), body)
        finally:
            anon.close()
        time.sleep(1.0)
        self.assertEqual(len(self.goal_state_requests()), before, "a refused refresh must not poll")
        self.assertFalse(self.bus.get("Reprovisioning"))
        # Root, whose uid the bus vouches for, still reads everything.
        self.assertIn(SECRET, self.extension(NOISY)[5])
        self.stop_daemon()

    def test_reprovision(self):
        # Global options as getopt_long accepts them abbreviated: the run must get the same root and config file.
        extra = os.path.join(self.workdir, "extra.conf")
        dropin = "/etc/ssh/sshd_config.d/60-azl-dbus-test.conf"
        with open(extra, "w") as f:
            f.write(f"[Provisioning]\nSSHDConfigDropIn={dropin}\n")
        self.start_all(options=lambda root: ["--ro", root, "--conf", extra, "-v"])
        wait_for("the first goal state", lambda: self.bus.get("GoalStateIncarnation"))
        self.assertFalse(os.path.exists(self.root.file(dropin)))
        started = self.bus.get("ProvisioningStartTimestamp")
        n_health = len(self.fabric.health_reports())
        r = self.bus.call("Reprovision")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for("the provisioning run to end", lambda: not self.bus.get("Reprovisioning") and
                 self.bus.get("ProvisioningStartTimestamp") > started and
                 self.bus.get("ProvisioningState") == "ready", timeout=60, detail=lambda: self.seen_instead(
                     ("Reprovisioning", "ProvisioningStartTimestamp", "ProvisioningState", "ProvisioningReason",
                      "ProvisioningSteps"), started=started))
        steps = [s[0] for s in self.bus.get("ProvisioningSteps")]
        for name in ("user", "ssh-keys", "marker", "report-ready"):
            self.assertIn(name, steps)
        reports = self.fabric.health_reports()
        self.assertGreater(len(reports), n_health)
        self.assertEqual(reports[-1]["state"], "Ready")
        # The run was seen going and ending.
        seen = [c["Reprovisioning"] for c in self.monitor.changes() if "Reprovisioning" in c]
        self.assertEqual(seen[-2:], [True, False])
        self.assertTrue([c for c in self.monitor.changes() if c.get("ProvisioningState") == "running"] or
                        [c for c in self.monitor.changes() if "ProvisioningSteps" in c])
        with open(self.daemon_log.name, errors="replace") as f:
            self.assertIn("running the steps again (--force)", f.read())
        # The --config file was in effect for the run (on the scratch root, which it provisioned).
        with open(self.root.file(dropin)) as f:
            self.assertIn("PasswordAuthentication", f.read())
        self.stop_daemon()

    def test_extension_output(self):
        self.start_all(patch=NOISY_PATCH)
        e = wait_for("the noisy extension failed, over D-Bus", lambda: (
            lambda e: e if e and e[3] == "NotReady" and "[stderr]" in e[5] else None)(self.extension(NOISY)),
            timeout=60)
        # Root reads it all: the agent's line, then the output; invalid bytes as U+FFFD, each tail cut on a
        # character boundary (3200 bytes read, ending inside an "é"; the kept tail would start inside one).
        first, _, rest = e[5].partition("\n")
        self.assertRegex(first, r"^Non-zero exit code: 7, .*handler\.sh enable$")
        self.assertIn("\ufffd\ufffd " + SECRET, rest)
        stdout = rest.split("[stdout]\n", 1)[1].split("\n\n[stderr]\n", 1)[0]
        self.assertRegex(stdout, r"^é{100,}$")
        # GetAll answers too (it failed as a whole on one bad string), so does `azl-agent status`.
        props = self.get_all()
        self.assertEqual([x for x in props["Extensions"] if x[0] == NOISY][0][5], e[5])
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        r = subprocess.run([azltest.AGENT, "status", "--json"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["source"], "daemon")

        # Others get the first line only, through Get and GetAll alike.
        n = self.extension(NOISY, uid=NOBODY)
        self.assertEqual(n[:5], e[:5])
        self.assertEqual(n[5], first)
        self.assertEqual(n[6:], e[6:])
        props = self.get_all(uid=NOBODY)
        self.assertEqual([x for x in props["Extensions"] if x[0] == NOISY][0][5], first)
        self.assertNotIn(SECRET, json.dumps(props))
        r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            azltest.AGENT, "status", "--json"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["source"], "daemon")
        self.assertNotIn(SECRET, r.stdout)

        # Signals (which reach everyone) named Extensions but never carried the output.
        wait_for("PropertiesChanged invalidating Extensions", lambda: [
            names for names in self.monitor.changes(invalidated=True) if "Extensions" in names])
        self.assertNotIn(SECRET, json.dumps(self.monitor.changes()))
        self.stop_daemon()

    def test_state_directory_recreated(self):
        self.start_all()
        wait_for("the first goal state", lambda: self.bus.get("GoalStateIncarnation"))
        self.assertEqual(self.bus.get("ProvisioningState"), "ready")
        statedir = self.root.file("/var/lib/azl-agent")
        with open(os.path.join(statedir, "state.json")) as f:
            record = json.load(f)

        # Removed: the daemon sees state.json go, and watches the directory again (created anew).
        shutil.rmtree(statedir)

        def rewatched():
            with open(self.daemon_log.name, errors="replace") as f:
                return "again (it was removed or moved)" in f.read()
        wait_for("the daemon to watch the state directory again", rewatched, timeout=10)
        wait_for("ProvisioningState not-run", lambda: self.bus.get("ProvisioningState") == "not-run")
        self.assertTrue(os.path.isdir(statedir))

        # A new record in the new directory, written as the agent writes it (rename into place): seen at once,
        # with no other reason for the daemon to look.
        record.update(state="failed", reason="written by the test")
        with open(os.path.join(statedir, "state.json.tmp"), "w") as f:
            json.dump(record, f)
        os.rename(os.path.join(statedir, "state.json.tmp"), os.path.join(statedir, "state.json"))
        wait_for("ProvisioningState failed", lambda: self.bus.get("ProvisioningState") == "failed", timeout=10)
        self.assertEqual(self.bus.get("ProvisioningReason"), "written by the test")
        self.assertTrue([c for c in self.monitor.changes() if c.get("ProvisioningState") == "failed"])
        self.stop_daemon()

    def test_skipped_items(self):
        """ProvisioningSkipped carries state.json's skipped list (issue #19); status --json through D-Bus has it."""
        with open(azltest.DEFAULT_SCENARIO) as f:
            good = json.load(f)["admin"]["sshKeys"][0]["keyData"]
        self.start_all(patch={"admin": {"sshKeys": [good, "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4Edd old@example"]}})
        with open(self.root.file("/var/lib/azl-agent/state.json")) as f:
            prov = json.load(f)
        self.assertEqual(len(prov["skipped"]), 1)
        self.assertEqual(self.bus.get("ProvisioningSkipped"),
                         [[s["step"], s["item"], s["reason"]] for s in prov["skipped"]])
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        r = subprocess.run([azltest.AGENT, "status", "--json"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["source"], "daemon")
        self.assertEqual(doc["provisioning"]["skipped"], prov["skipped"])
        self.stop_daemon()

    def test_status_reads_the_daemon(self):
        self.start_all()
        self.wait_extension_ready()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        # No --root: the daemon on the system bus serves the real root, so status asks it (and reads no file).
        r = subprocess.run([azltest.AGENT, "status", "--json"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        with open(os.path.join(azltest.SRC, "docs", "status.schema.json")) as f:
            validate(doc, json.load(f))
        self.assertEqual(doc["source"], "daemon")
        state = self.fabric_state()
        self.assertEqual(doc["provisioning"]["state"], "ready")
        self.assertEqual(doc["provisioning"]["vm_id"], state["vm_id"])
        self.assertEqual([s["name"] for s in doc["provisioning"]["steps"]],
                         [s[0] for s in self.bus.get("ProvisioningSteps")])
        self.assertEqual(doc["daemon"]["goal_state_incarnation"], str(state["incarnation"]))
        self.assertEqual(doc["firewall"]["state"], self.bus.get("FirewallState"))
        ext = [e for e in doc["daemon"]["extensions"] if e["name"] == EXT]
        self.assertEqual(ext[0]["status"], "Ready")
        self.assertEqual(ext[0]["settings_message"], "hello from azfabric")
        # The scenario's sample package carries no signature; SignatureValidation=report (default) says so.
        self.assertEqual(ext[0]["message"], EXT + " enabled with settings 0. Warning: package not signed "
                                            "(SignatureValidation=report)")

        # Text, as an unprivileged user (reading is open to everyone).
        r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            azltest.AGENT, "status"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^source:\s+daemon \(D-Bus\)$")
        self.assertRegex(r.stdout, r"(?m)^vm-id:\s+" + state["vm_id"] + "$")
        self.assertRegex(r.stdout, r"(?m)^  " + EXT + r"\s+1\.0\.0\s+Ready\s+success: hello from azfabric\n"
                                   r"\s+" + re.escape(EXT) + r" enabled with settings 0\. Warning: package not signed \(SignatureValidation=report\)$")

        # Daemon gone: status falls back to the state file (of the real root, not the daemon's).
        self.stop_daemon()
        r = subprocess.run([azltest.AGENT, "status", "--json"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(json.loads(r.stdout)["source"], ("state-file", "none"))

    def test_bus_goes_away(self):
        self.start_all()
        wait_for("the first goal state", lambda: self.bus.get("GoalStateIncarnation"))
        self.bus.proc.kill()
        self.bus.proc.wait()
        def noticed():
            with open(self.daemon_log.name) as f:
                return "Lost the system bus connection" in f.read()
        wait_for("the daemon to notice", noticed, timeout=10)
        time.sleep(1.0)
        self.assertIsNone(self.daemon.poll(), "the daemon goes on without the bus")
        self.stop_daemon()

    def test_user_data(self):
        # The default scenario's custom data: provisioned, its after-Ready phase not run yet.
        self.start_all()
        self.assertEqual(self.bus.get("UserDataState"), "pending")
        self.assertEqual(self.bus.get("UserDataUnsupported"), [])
        # `userdata run` (azl-userdata.service) rewrites userdata.json: the daemon sees it (inotify) and signals.
        self.root.install_shell()
        r = self.root.run("userdata", "run")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for("UserDataState done", lambda: self.bus.get("UserDataState") == "done", timeout=20,
                 detail=lambda: self.seen_instead(["UserDataState", "UserDataScripts"]))
        scripts = {s[0]: s for s in self.bus.get("UserDataScripts")}
        name, freq, state, code, started, finished, output = scripts["runcmd"]
        self.assertEqual((freq, state, code), ("instance", "done", 0))
        self.assertTrue(0 < started <= finished)
        self.assertIn("azl-demo custom data", output)
        # the scripts' output is root's alone
        other = {s[0]: s for s in self.bus.get("UserDataScripts", uid=NOBODY)}
        self.assertEqual(other["runcmd"][:6], scripts["runcmd"][:6])
        self.assertEqual(other["runcmd"][6], "")
        wait_for("a UserDataState change signal", lambda: any(c.get("UserDataState") == "done"
                                                              for c in self.monitor.changes()))
        self.assertTrue(any("UserDataScripts" in names for names in self.monitor.changes(invalidated=True)))
        self.stop_daemon()

    def test_without_bus(self):
        self.start_all(with_bus=False)

        def ready():
            try:
                blob = json.loads(self.fabric._control("GET", "/status-blob"))
            except Exception:
                return False
            return any(h.get("handlerName") == EXT and h.get("status") == "Ready"
                       for h in blob.get("aggregateStatus", {}).get("handlerAggregateStatus", []))
        wait_for("the sample extension Ready at the fabric", ready, timeout=60)
        self.stop_daemon()
        with open(self.daemon_log.name) as f:
            self.assertIn("running without the D-Bus API", f.read())


if __name__ == "__main__":
    azltest.enter_private_netns()
    for tool in ("dbus-daemon", "dbus-send", "busctl", "setpriv"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} not installed")
            sys.exit(77)
    azltest.main()

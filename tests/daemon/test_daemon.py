#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`azl-agent daemon` (issue #7) against the simulated fabric (tests/fabric), inside a private network namespace.

Each test starts a fresh fabric (default scenario: the sample extension, one tenant certificate, Fast Track on) and
runs the built daemon with --root <scratch root>, explicit endpoints in agent.conf and GoalStatePeriodSec=1, and
stops it with SIGTERM (exit 0 expected). Asserted from the fabric's control API and request log:

  * a status blob the fabric accepts, guestAgentStatus Ready, the sample extension Ready with its settings status,
    its heartbeat as the handler status and its protected settings decrypted with the tenant certificate;
  * the tenant certificates written as <THUMB>.crt/.prv (0600, directory 0700) with the thumbprints of GET /state,
    the transport key 0600, daemon.json 0600; no private key's primes anywhere in the daemon's writable memory (the
    certificate pass runs in a child);
  * an incarnation bump is picked up within one poll (the new ExtensionsConfig is fetched, the unchanged
    certificates are not), and daemon.json records the run's phase timings;
  * an idle daemon makes only goal-state and vmSettings requests and no status upload before the keep-alive,
    and exactly the keep-alive uploads when it is short;
  * HostGAPlugin PUT /status failing (500, connection reset) → the blob is uploaded directly (via=direct);
  * a restart re-runs enable (as waagent does after every start) but downloads and installs nothing.
"""
import datetime
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
import azltest  # noqa: E402
from azltest import wait_for  # noqa: E402

PERIOD = 1.0
EXT = "AzlAgent.SampleHandler"


def rsa_primes(path):
    """The two primes of an RSA private key file, as big-endian bytes (openssl pkey -text)."""
    out = subprocess.run(["openssl", "pkey", "-in", path, "-noout", "-text"], capture_output=True, text=True,
                         check=True).stdout
    primes, cur = [], None
    for line in out.splitlines():
        if line.startswith(("prime1:", "prime2:")):
            cur = []
            primes.append(cur)
        elif cur is not None and line.startswith(" "):
            cur.extend(int(b, 16) for b in line.strip().rstrip(":").split(":"))
        else:
            cur = None
    return [bytes(p).lstrip(b"\0") for p in primes]


def writable_memory_contains(pid, needles):
    """Which needles occur in the process's writable mappings (heap, stack, anonymous, library data)."""
    found = set()
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "w" not in fields[1]:
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:
                continue
            found.update(i for i, n in enumerate(needles) if n in data)
    return sorted(found)


class DaemonTest(azltest.FabricTestCase):
    CONF = ""

    def setUp(self):
        super().setUp()
        self.daemon = None
        self.daemon_log = None

    def tearDown(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        if self.daemon_log:
            self.daemon_log.close()
            if self._outcome_failed():
                with open(self.daemon_log.name) as f:
                    sys.stderr.write("---- daemon log ----\n" + f.read()[-8000:])
        super().tearDown()

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        return bool(result and (result.failures or result.errors))

    def start_all(self, patch=None, conf=""):
        self.start(patch, f"GoalStatePeriodSec={PERIOD:g}\n" + self.CONF + conf)
        self.start_daemon()

    def start_daemon(self, env=None):
        if self.daemon_log:
            self.daemon_log.close()
        self.daemon_log = open(os.path.join(self.workdir, "daemon.log"), "a")
        self.daemon = subprocess.Popen([azltest.AGENT, "--root", self.root.path, "-v", "daemon"],
                                       stdout=self.daemon_log, stderr=subprocess.STDOUT,
                                       env=dict(os.environ, **(env or {})))

    def stop_daemon(self):
        self.daemon.send_signal(signal.SIGTERM)
        rc = self.daemon.wait(15)
        self.assertEqual(rc, 0, "daemon exit status after SIGTERM")
        return rc

    def control_json(self, path):
        return json.loads(self.fabric._control("GET", path))

    def status_blob(self):
        try:
            return self.control_json("/status-blob")
        except Exception:
            return None

    def handler_status(self, blob):
        for h in (blob or {}).get("aggregateStatus", {}).get("handlerAggregateStatus", []):
            if h.get("handlerName") == EXT:
                return h
        return None

    def wait_extension_ready(self, timeout=60):
        def ready():
            h = self.handler_status(self.status_blob())
            return h if h and h.get("status") == "Ready" else None
        return wait_for("the sample extension to be reported Ready", ready, timeout)

    def requests_since(self, seq):
        return [r for r in self.fabric.requests() if r["seq"] > seq]

    def last_seq(self):
        reqs = self.fabric.requests()
        return reqs[-1]["seq"] if reqs else 0


class TestDaemon(DaemonTest):
    def test_status_ready_certificates_sigterm(self):
        self.start_all()
        h = self.wait_extension_ready()
        blob = self.status_blob()
        ga = blob["aggregateStatus"]["guestAgentStatus"]
        self.assertEqual(ga["status"], "Ready")
        self.assertEqual(h["handlerVersion"], "1.0.0")
        settings = h["runtimeSettingsStatus"]["settingsStatus"]["status"]
        self.assertEqual(settings["status"], "success")
        self.assertEqual(settings["formattedMessage"]["message"], "hello from azfabric")
        # The sample handler's heartbeat is the handler status (reportHeartbeat), and it opened the protected
        # settings with the tenant certificate the daemon wrote (it reports the key names, never a value).
        self.assertEqual(h["formattedMessage"]["message"], EXT + " enabled with settings 0. Warning: package not signed "
                         "(SignatureValidation=report)")  # report mode, the default (docs/security.md)
        sub = settings.get("substatus") or []
        self.assertEqual([s["name"] for s in sub], ["ProtectedSettings"], settings)
        features = [f["Key"] for f in blob["supportedFeatures"]]
        self.assertIn("FastTrack", features)
        gs = blob["aggregateStatus"]["vmArtifactsAggregateStatus"]["goalStateAggregateStatus"]
        self.assertEqual(gs["status"], "Success")
        uploads = self.control_json("/status-blobs")
        self.assertTrue(all(u["parsed"] for u in uploads))
        self.assertTrue(all(u["via"] == "hgap" for u in uploads), uploads)

        # Certificates (protocol §1.6): the fabric's tenant thumbprints, as files with the right modes.
        state = self.control_json("/state")
        thumbs = [c["thumbprint"] for c in state["goalState"]["tenantCertificates"]]
        self.assertTrue(thumbs)
        self.assertEqual(sub[0]["formattedMessage"]["message"],
                         "decrypted with certificate %s: 1 key(s): secret" % thumbs[0])
        libdir = self.root.file("/var/lib/waagent")
        self.assertEqual(stat.S_IMODE(os.stat(libdir).st_mode), 0o700)
        for t in thumbs:
            for ext in (".crt", ".prv"):
                path = os.path.join(libdir, t + ext)
                self.assertTrue(os.path.exists(path), path)
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(libdir, "TransportPrivate.pem")).st_mode), 0o600)
        certs_req = [r for r in self.fabric.requests("wireserver") if "comp=certificates" in r["query"]]
        self.assertEqual(certs_req[0]["headers"].get("x-ms-cipher-name"), "AES128_CBC")
        self.assertTrue(certs_req[0]["headers"].get("x-ms-guest-agent-public-x509-cert"))

        # No private key ever lived in the daemon: the certificate pass ran in a child process
        # (imds-client/wire-certificates-worker.c). A key OpenSSL held keeps its primes as little-endian 64-bit
        # limbs (the big-endian bytes reversed); a file read keeps them big-endian (after base64 decoding).
        primes = rsa_primes(os.path.join(libdir, "TransportPrivate.pem"))
        for t in thumbs:
            primes += rsa_primes(os.path.join(libdir, t + ".prv"))
        self.assertGreaterEqual(len(primes), 4)
        needles = [bytes(reversed(p)) for p in primes] + primes
        with open("/proc/%d/maps" % self.daemon.pid) as f:
            sanitized = "libasan" in f.read()
        if sanitized:  # terabytes of shadow memory, and the heap is the sanitizer's: not scanned there
            print("note: AddressSanitizer build, the daemon's memory is not scanned for key material")
        else:
            self.assertEqual(writable_memory_contains(self.daemon.pid, needles), [],
                             "private key material in the daemon's memory")

        self.stop_daemon()
        dstate_path = self.root.file("/var/lib/azl-agent/daemon.json")
        self.assertEqual(stat.S_IMODE(os.stat(dstate_path).st_mode), 0o600)
        with open(dstate_path) as f:
            dstate = json.load(f)
        self.assertEqual(dstate["incarnation"], str(state["incarnation"]))
        self.assertEqual(dstate["executedGoalStateId"], "incarnation_%s" % state["incarnation"])
        self.assertEqual(dstate["handlers"][0]["name"], EXT)
        # The SAS signature never reaches the log.
        with open(self.daemon_log.name) as f:
            text = f.read()
        sig = state["goalState"]["statusBlobUrl"].split("sig=")[1].split("&")[0]
        self.assertNotIn(sig, text)

    def test_incarnation_bump_within_one_poll(self):
        self.start_all()
        self.wait_extension_ready()
        seq = self.last_seq()
        t0 = time.monotonic()
        self.fabric.patch_scenario({"description": "bumped"}, bump="incarnation")
        new_inc = self.control_json("/state")["incarnation"]

        def fetched():
            return [r for r in self.requests_since(seq)
                    if "type=extensionsConfig" in r["query"] and f"incarnation={new_inc}" in r["query"]]
        wait_for("the new ExtensionsConfig", fetched, timeout=PERIOD * 2 + 1.5, interval=0.05)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, PERIOD * 2 + 1.5)
        # The executor runs the new goal state and the status blob reports it.
        wait_for("the status blob of the new incarnation", lambda: (self.status_blob() or {}).get(
            "aggregateStatus", {}).get("vmArtifactsAggregateStatus", {}).get("goalStateAggregateStatus", {}).get(
            "inSvdSeqNo") == str(new_inc), timeout=30)
        # The tenant certificates did not change (HostingEnvironmentConfig lists the ones held): not fetched again.
        self.assertEqual([r for r in self.requests_since(seq) if "comp=certificates" in r["query"]], [])
        self.stop_daemon()
        # daemon.json records where the run's time went (issue #21): enable only, nothing downloaded.
        with open(self.root.file("/var/lib/azl-agent/daemon.json")) as f:
            timings = json.load(f)["timings"]
        self.assertEqual(timings["goalStateId"], "incarnation_%s" % new_inc)
        self.assertEqual((timings["downloads"], timings["commands"], timings["certificatesUsec"]), (0, 1, 0))
        self.assertTrue(0 < timings["commandsUsec"] <= timings["runUsec"], timings)
        self.assertIn("uploadUsec", timings)

    def test_status_file_change_is_reported(self):
        # An extension updating status/<seq>.status after its enable (protocol §4.7) is reported at the next poll.
        self.start_all()
        self.wait_extension_ready()
        path = self.root.file("/var/lib/waagent/%s-1.0.0/status/0.status" % EXT)
        with open(path) as f:
            doc = json.load(f)
        doc[0]["status"]["formattedMessage"]["message"] = "updated later"
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f)
        os.rename(path + ".tmp", path)

        def updated():
            h = self.handler_status(self.status_blob())
            return h and h["runtimeSettingsStatus"]["settingsStatus"]["status"]["formattedMessage"][
                "message"] == "updated later"
        wait_for("the updated extension status", updated, timeout=PERIOD * 3 + 1)
        self.stop_daemon()

    def test_idle_only_polls(self):
        self.start_all()
        self.wait_extension_ready()
        # Let the post-run upload settle, then watch a few periods.
        time.sleep(PERIOD * 1.5)
        seq = self.last_seq()
        time.sleep(PERIOD * 5)
        reqs = self.requests_since(seq)
        kinds = {(r["endpoint"], r["method"], r["path"]) for r in reqs}
        self.assertEqual(kinds, {("wireserver", "GET", "/machine/"), ("hgap", "GET", "/vmSettings")}, reqs)
        goal = [r for r in reqs if r["path"] == "/machine/"]
        vms = [r for r in reqs if r["path"] == "/vmSettings"]
        self.assertTrue(all(r["query"] == "comp=goalstate" for r in goal))
        # 5 periods: vmSettings every period, and while it answers 304 the goal state every second one
        self.assertTrue(4 <= len(vms) <= 8, len(vms))  # upper bound has room for a late timer
        self.assertTrue(2 <= len(goal) <= 4, len(goal))
        self.assertLess(len(goal), len(vms))
        self.assertTrue(all(r["status"] == 304 for r in vms), [r["status"] for r in vms])
        self.assertTrue(all(r["headers"].get("if-none-match") for r in vms))

        # Between passes the idle daemon maps none of the libraries it loads for a burst of work (issue #21):
        # libxml2 (and ICU) after the pass that parsed the goal state, libarchive after the extraction, libnftables.
        def loaded():
            with open("/proc/%d/maps" % self.daemon.pid) as f:
                return sorted({os.path.basename(line.split()[-1]) for line in f
                               if re.search(r"/lib(xml2|icuuc|archive|nftables)\.so", line)})
        wait_for("no libxml2, ICU, libarchive or libnftables between passes", lambda: not loaded(),
                 timeout=PERIOD * 2, interval=0.05)
        self.stop_daemon()


def req_time(r):
    """Seconds of the request log's "time" (ISO, ms precision) since the epoch."""
    import datetime
    return datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def goal_state_gets(reqs):
    return [r for r in reqs if r["path"] == "/machine/" and r["query"] == "comp=goalstate"]


class TestNotify(DaemonTest):
    def test_sd_notify_ready_status_watchdog(self):
        import socket
        self.start(None, f"GoalStatePeriodSec={PERIOD:g}\n")
        path = os.path.join(self.workdir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        # WATCHDOG_USEC without WATCHDOG_PID applies to the process: sd-event sends WATCHDOG=1 at half of it.
        self.start_daemon({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        messages = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            try:
                messages.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
        sock.close()
        lines = [line for m in messages for line in m.splitlines()]
        self.assertIn("READY=1", lines)
        self.assertTrue(any(line.startswith("STATUS=") for line in lines), lines)
        self.assertGreaterEqual(lines.count("WATCHDOG=1"), 3, lines)
        self.stop_daemon()


class TestErrors(DaemonTest):
    def test_fibonacci_backoff_then_recovery(self):
        # protocol §1.2: 500 is retried along 2, 3, 5 … s (never faster than the period).
        self.start({"faults": [{"endpoint": "wireserver", "query": {"comp": "goalstate"}, "nth": [1, 2, 3],
                                "status": 500}]}, f"GoalStatePeriodSec={PERIOD:g}\n")
        self.start_daemon()
        self.wait_extension_ready(timeout=40)
        gets = goal_state_gets(self.fabric.requests("wireserver"))
        self.assertEqual([r["status"] for r in gets[:4]], [500, 500, 500, 200])
        gaps = [req_time(b) - req_time(a) for a, b in zip(gets, gets[1:4])]
        for gap, expected in zip(gaps, (2, 3, 5)):
            # never faster than the Fibonacci step; the upper bound allows for a loaded CI machine
            self.assertTrue(expected * 0.85 <= gap <= expected * 1.15 + 1.5, gaps)
        self.stop_daemon()

    def test_throttle_retries_after_one_second(self):
        self.start({"faults": [{"endpoint": "wireserver", "query": {"comp": "goalstate"}, "nth": [1],
                                "status": 503}]}, "GoalStatePeriodSec=4\n")
        self.start_daemon()
        wait_for("two goal state requests", lambda: len(goal_state_gets(self.fabric.requests("wireserver"))) >= 2)
        gets = goal_state_gets(self.fabric.requests("wireserver"))
        gap = req_time(gets[1]) - req_time(gets[0])
        self.assertTrue(0.8 <= gap <= 2.5, gap)  # 1 s throttle delay, well before the 4 s period
        self.stop_daemon()

    def test_gone_refreshes_goal_state(self):
        # 410 from vmSettings (protocol §2.1) → the goal state is fetched again at once, not after a period.
        self.start({"faults": [{"endpoint": "hgap", "path": "/vmSettings", "nth": [3], "status": 410}]},
                   "GoalStatePeriodSec=4\n")
        self.start_daemon()

        def after_gone():
            reqs = self.fabric.requests()
            for i, r in enumerate(reqs):
                if r["path"] == "/vmSettings" and r["status"] == 410:
                    rest = goal_state_gets(reqs[i + 1:])
                    return (r, rest[0]) if rest else None
            return None
        gone, nxt = wait_for("the goal state request after the 410", after_gone, timeout=20)
        self.assertLess(req_time(nxt) - req_time(gone), 1.0)
        self.stop_daemon()

    def test_hgap_unreachable_does_not_block_wireserver(self):
        self.start({"faults": [{"endpoint": "hgap", "action": "reset"}]}, f"GoalStatePeriodSec={PERIOD:g}\n")
        self.start_daemon()
        h = self.wait_extension_ready()
        self.assertEqual(h["status"], "Ready")
        blob = self.status_blob()
        self.assertNotIn("FastTrack", [f["Key"] for f in blob["supportedFeatures"]])
        self.assertTrue(all(u["via"] == "direct" for u in self.control_json("/status-blobs")))
        self.stop_daemon()


class TestFastTrack(DaemonTest):
    def test_not_supported(self):
        self.start({"fastTrack": False}, f"GoalStatePeriodSec={PERIOD:g}\n")
        self.start_daemon()
        self.wait_extension_ready()
        time.sleep(PERIOD * 3)
        vms = [r for r in self.fabric.requests("hgap") if r["path"] == "/vmSettings"]
        self.assertEqual([r["status"] for r in vms], [404], "asked once, re-checked only hours later")
        self.assertNotIn("FastTrack", [f["Key"] for f in self.status_blob()["supportedFeatures"]])
        self.stop_daemon()

    def test_etag_only_change_runs_fast_track_goal_state(self):
        self.start_all()
        self.wait_extension_ready()
        seq = self.last_seq()
        self.fabric.patch_scenario({"description": "fast track change"}, bump="etag")
        etag = self.control_json("/state")["etag"]
        wait_for("the new vmSettings", lambda: [r for r in self.requests_since(seq)
                                                if r["path"] == "/vmSettings" and r["status"] == 200], timeout=4)
        self.assertEqual([r for r in self.requests_since(seq) if "type=extensionsConfig" in r["query"]], [])
        dstate_path = self.root.file("/var/lib/azl-agent/daemon.json")

        def executed():
            try:
                with open(dstate_path) as f:
                    return json.load(f).get("executedGoalStateId") == "etag_%s" % etag
            except (OSError, ValueError):
                return False
        wait_for("the Fast Track goal state to be executed", executed, timeout=30)
        self.stop_daemon()


class TestKeepAlive(DaemonTest):
    CONF = "StatusKeepAliveSec=2\n"

    def test_keepalive_uploads(self):
        self.start_all()
        self.wait_extension_ready()
        time.sleep(PERIOD * 1.5)
        n0 = len(self.control_json("/status-blobs"))
        seq = self.last_seq()
        time.sleep(7)
        uploads = self.control_json("/status-blobs")[n0:]
        # One every 2 s (polls are 1 s apart): 3 or 4 in 7 s on a quiet machine. Under load (the ASan build
        # beside other tests) a poll comes late and one fewer fits, so the floor is 2: without the keep-alive
        # an unchanged status is never uploaded. Never more often than the keep-alive allows (the fabric's
        # times have milliseconds; polls land on 1 s steps), nothing else but polls.
        self.assertTrue(2 <= len(uploads) <= 5, uploads)
        times = [datetime.datetime.fromisoformat(u["time"].replace("Z", "+00:00")).timestamp() for u in uploads]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertTrue(all(g >= 1.5 for g in gaps), gaps)
        other = [r for r in self.requests_since(seq)
                 if r["path"] not in ("/machine/", "/vmSettings", "/status") and r["endpoint"] != "blob"]
        self.assertEqual(other, [])
        self.stop_daemon()


class TestHostGAPluginDown(DaemonTest):
    def _run(self, fault):
        self.start({"faults": [dict(fault, endpoint="hgap", method="PUT", path="/status")]},
                   f"GoalStatePeriodSec={PERIOD:g}\n")
        self.start_daemon()
        h = self.wait_extension_ready()
        self.assertEqual(h["status"], "Ready")
        uploads = self.control_json("/status-blobs")
        self.assertTrue(uploads)
        self.assertTrue(all(u["via"] == "direct" for u in uploads), uploads)
        hgap_puts = [r for r in self.fabric.requests("hgap") if r["method"] == "PUT"]
        self.assertTrue(hgap_puts, "the HostGAPlugin is tried first")
        direct = [r for r in self.fabric.requests("blob") if r["method"] == "PUT"]
        self.assertEqual(direct[0]["headers"].get("x-ms-blob-type"), "BlockBlob")
        self.assertEqual(direct[0]["headers"].get("x-ms-version"), "2014-02-14")
        self.stop_daemon()

    def test_status_500(self):
        self._run({"status": 500})

    def test_status_reset(self):
        self._run({"action": "reset"})


class TestPageBlob(DaemonTest):
    def test_page_blob_via_hgap_and_direct(self):
        self.start({"statusBlobType": "PageBlob"}, f"GoalStatePeriodSec={PERIOD:g}\n")
        self.start_daemon()
        self.wait_extension_ready()
        uploads = self.control_json("/status-blobs")
        self.assertTrue(all(u["blobType"] == "PageBlob" and u["via"] == "hgap" and u["parsed"] for u in uploads))
        self.stop_daemon()
        self.fabric.set_faults([{"endpoint": "hgap", "method": "PUT", "path": "/status", "status": 500}])
        # A restart uploads once (keep-alive clock starts anew), here directly.
        n0 = len(uploads)
        self.start_daemon()
        wait_for("a direct page blob upload", lambda: any(
            u["via"] == "direct" and u["blobType"] == "PageBlob" and u["parsed"]
            for u in self.control_json("/status-blobs")[n0:]), timeout=20)
        self.stop_daemon()


class TestRestart(DaemonTest):
    def test_restart_does_not_redo_work(self):
        self.start_all()
        self.wait_extension_ready()
        time.sleep(PERIOD * 1.5)
        self.stop_daemon()
        cmdlog = self.root.file("/var/log/azure/%s/CommandExecution.log" % EXT)
        with open(cmdlog) as f:
            commands_before = f.read().count("\n")
        seq = self.last_seq()
        self.start_daemon()
        # enable runs again after the restart (waagent semantics; issue #8), nothing else does.
        wait_for("enable re-run after the restart", lambda: open(cmdlog).read().count("\n") > commands_before)
        wait_for("polling after the restart", lambda: len(
            [r for r in self.requests_since(seq) if r["path"] == "/machine/" and r["query"] == "comp=goalstate"]) >= 3)
        reqs = self.requests_since(seq)
        self.assertEqual([r for r in reqs if r["endpoint"] == "blob" and r["method"] == "GET"], [],
                         "no manifest/package download after a restart")
        # The extension's status stays reported.
        self.assertEqual(self.handler_status(self.status_blob())["status"], "Ready")
        self.stop_daemon()
        with open(self.daemon_log.name) as f:
            log = f.read()
        # The plan after the restart: the settings file and enable, nothing downloaded or installed again.
        after = log[log.index("Loaded daemon state"):]
        plan = after[after.index("Extensions plan for incarnation_1:"):].split("\n\n")[0]
        self.assertEqual(plan.splitlines()[1:], ["settings %s-1.0.0" % EXT, "enable %s-1.0.0" % EXT])


def main():
    azltest.main(root_reason=None)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Crash consistency (issue #12): `kill -9` the agent at every crash point, restart it, compare the end state.

The agent is built with crash points (common/crash-point.h, docs/robustness.md): AZL_CRASH_POINT_TRACE=FILE
makes it append "NAME@N" for every point it reaches, AZL_CRASH_POINT=NAME@N makes it SIGKILL itself there.
The list of points is not written down here: an uninterrupted reference run traces them, so every point added
to the code is exercised automatically. For each point, on a fresh copy of a scratch root:

 provisioning (`azl-agent provision`, scenario with a password user, so every user step runs):
  * the run dies by SIGKILL at exactly that point (the trace's last line), and no child of it (ssh-keygen)
    still runs chrooted into the root half a second later;
  * at that moment /etc/passwd, shadow, group and gshadow parse (field counts, numeric ids, unique names, no
    stale *.lock), every sudoers.d file passes `visudo -c -f`, authorized_keys holds only whole scenario keys,
    state.json parses, the marker holds the VM id, the KVP pool is whole records;
  * `azl-agent provision` again (no crash) exits 0, and the tree equals the uninterrupted reference run's:
    type, mode, owner and bytes of every file, with these normalizations, and nothing else:
      - /etc/shadow's hash of the admin user: both must verify the scenario password (random salt);
      - SSH host keys: random, so names, modes and owners only, and each .pub must match its private key;
      - state.json: semantically (state "ready", VM id, health Ready); the steps differ when the rerun
        found the marker ("already provisioned"); userdata.json: its state, VM id, source, parts, unsupported
        keys and problems, and no failed module;
      - the KVP pool is append-only by design (each run appends its report, as on every boot): the last
        value of each key is compared, with its timestamp= field masked;
      - timeline.jsonl (the records of `analyze`) is append-only with times: every line must parse and the last
        one be the run's report-ready;
      - a SIGKILL between a temporary file's write and its rename leaves that complete temporary file
        (".#<name><16 hex>", same mode) next to its intact target: allowed only for that point's file;
  * the fabric's last health report is Ready and every report was accepted.

 extensions (`azl-agent daemon`, the default scenario's sample extension and a second handler made of the same
 package, so that the points of the work done for the second while the first one's enable runs are crashed into
 too — ext-executor.c prepare_ahead()):
  * the daemon dies by SIGKILL at the point; HandlerState / <ext>.HandlerState hold valid values, daemon.json,
    HandlerEnvironment.json and *.settings parse, certificates and keys are whole PEM (openssl);
  * a restarted daemon uploads a status blob equal to the reference run's (timestamps masked), exits 0 on
    SIGTERM, and /var/lib/waagent equals the reference (transport key pair: names and modes; the ciphertext
    of protected settings: thumbprint only; the status file: without its timestampUTC; CommandExecution.log:
    it has more lines after a rerun).

Two workers, each with its own fabric and reference runs, share the points. Skips (77) without root, without
namespaces, or when the binary ignores crash points (-Dcrash_points=false).
"""
import concurrent.futures
import copy
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
import azltest  # noqa: E402
from azltest import wait_for  # noqa: E402

PASSWORD = "Crash-Consistency-Pw-4711"
USER = "azureuser"
PATCH = {"admin": {"password": PASSWORD, "disablePasswordAuthentication": False}}
AFTER_READY_STEPS = ("disks", "ssh-host-keys-rest")  # the first-boot table's rows after report-ready
EXT = "AzlAgent.SampleHandler"
EXT2 = "AzlAgent.SampleSecond"


def two_handlers_patch():
    with open(azltest.DEFAULT_SCENARIO) as f:
        first = json.load(f)["extensions"][0]
    second = dict(first, name=EXT2, publicSettings={"message": "the second handler"})
    return {"extensions": [first, second]}
WORKERS = 2
STRAY_RE = re.compile(r"^\.#(.+)[0-9a-f]{16}$")
HANDLER_STATES = {"NotInstalled", "Installed", "Enabled", "FailedUpgrade"}
VISUDO = shutil.which("visudo") or ("/usr/sbin/visudo" if os.path.exists("/usr/sbin/visudo") else None)


def read_trace(path):
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def snapshot(root, skip_prefixes=()):
    """{relative path: (kind, mode, uid, gid, bytes or link target or None)} of a whole tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = "/" + os.path.relpath(full, root)
            if any(rel == p or rel.startswith(p + "/") for p in skip_prefixes):
                continue
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                data, kind = os.readlink(full), "link"
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    data = f.read()
                kind = "file"
            else:
                data, kind = None, "dir" if stat.S_ISDIR(st.st_mode) else "other"
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, data)
    return out


def split_strays(snap, allowed_name):
    """Removes ".#<name><hex>" temporaries; returns (rest, problems). One is fine only for allowed_name."""
    rest, problems = {}, []
    for path, entry in snap.items():
        m = STRAY_RE.match(os.path.basename(path))
        if not m:
            rest[path] = entry
            continue
        target = os.path.join(os.path.dirname(path), m.group(1))
        if m.group(1) != allowed_name:
            problems.append(f"stray temporary file {path} (crash point is not its write)")
        elif target not in snap:
            problems.append(f"stray temporary file {path} without its target")
        elif snap[target][1] != entry[1]:
            problems.append(f"stray temporary file {path} has mode {entry[1]:o}, its target {snap[target][1]:o}")
    return rest, problems


def diff_snapshots(ref, got):
    problems = []
    for path in sorted(set(ref) | set(got)):
        if path not in got:
            problems.append(f"{path}: missing after the rerun")
        elif path not in ref:
            problems.append(f"{path}: not in the reference run")
        elif ref[path] != got[path]:
            a, b = ref[path], got[path]
            what = [n for n, x, y in zip(("kind", "mode", "uid", "gid", "content"), a, b) if x != y]
            detail = ""
            if "content" in what and a[0] == "file" and len(a[4]) < 4096 and len(b[4]) < 4096:
                detail = f": {a[4][:300]!r} != {b[4][:300]!r}"
            problems.append(f"{path}: {', '.join(what)} differ{detail}")
    return problems


def processes_in_root(root, grace=0.5):
    """Processes still running chrooted into root (a child the killed run left behind) after up to grace s."""
    st = os.stat(root)
    deadline = time.monotonic() + grace
    while True:
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                rs = os.stat(f"/proc/{pid}/root")
                if (rs.st_dev, rs.st_ino) == (st.st_dev, st.st_ino):
                    with open(f"/proc/{pid}/comm") as f:
                        left.append(f"{f.read().strip()} ({pid})")
            except OSError:
                pass  # gone, or a kernel thread
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def openssl_ok(args):
    return subprocess.run(["openssl"] + args, capture_output=True).returncode == 0


class Worker:
    """One fabric and a template scratch root; roots for single runs are `cp -a` copies of the template."""

    def __init__(self, base, index, patch=None, conf=""):
        self.dir = os.path.join(base, f"w{index}")
        os.makedirs(self.dir)
        self.fabric = azltest.Fabric(self.dir, patch)
        self.template = azltest.ScratchRoot(self.dir, self.fabric, conf)
        self.n = 0

    def new_root(self, label):
        self.n += 1
        root = copy.copy(self.template)
        root.path = os.path.join(self.dir, f"run{self.n}-{re.sub(r'[^A-Za-z0-9.-]', '_', label)[:60]}")
        subprocess.run(["cp", "-a", self.template.path, root.path], check=True)
        return root

    def close(self):
        self.fabric.close()


class CrashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="azl-crash-")

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("AZL_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(cls.base, ignore_errors=True)

    def run_points(self, make_worker, reference, one_point):
        """Reference run per worker, then every point of worker 0's reference trace, WORKERS at a time."""
        workers, lock = [], threading.Lock()
        try:
            with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
                workers = list(pool.map(make_worker, range(WORKERS)))
                refs = list(pool.map(reference, workers))
            points = refs[0]["points"]
            self.assertTrue(points, "the reference run reached no crash point")
            todo = list(points)
            failures = {}

            def work(w, ref):
                while True:
                    with lock:
                        if not todo:
                            return
                        point = todo.pop(0)
                    try:
                        problems = one_point(w, ref, point)
                    except Exception as e:  # a crash point that breaks the harness is a failure, not an abort
                        problems = [f"{type(e).__name__}: {e}"]
                    if problems:
                        with lock:
                            failures[point] = problems
            t0 = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
                list(pool.map(work, workers, refs))
            print(f"\n{len(points)} crash points in {time.monotonic() - t0:.1f}s: {', '.join(points)}",
                  file=sys.stderr)
            report = "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in sorted(failures.items()))
            self.assertEqual(failures, {}, "crash points whose end state differs:\n" + report)
            return points
        finally:
            for w in workers:
                w.close()

    # ---- provisioning -------------------------------------------------------------------------------------

    def provision_points_check(self, root, scenario):
        """What must parse at any moment, crash or not."""
        p = []
        names = {}
        for f, nfields in (("passwd", 7), ("shadow", 9), ("group", 4), ("gshadow", 4)):
            path = root.file("/etc/" + f)
            if os.path.exists(path + ".lock") or os.path.exists(path + "+"):
                p.append(f"/etc/{f}: lock or temporary file of the shadow tools left behind")
            text = root.read("/etc/" + f)
            if text and not text.endswith("\n"):
                p.append(f"/etc/{f}: last line incomplete")
            seen = set()
            for i, line in enumerate(text.splitlines()):
                fields = line.split(":")
                if len(fields) != nfields or not fields[0]:
                    p.append(f"/etc/{f}:{i + 1}: {len(fields)} fields")
                    continue
                if fields[0] in seen:
                    p.append(f"/etc/{f}:{i + 1}: duplicate {fields[0]}")
                seen.add(fields[0])
                if f == "passwd" and not (fields[2].isdigit() and fields[3].isdigit()):
                    p.append(f"/etc/passwd:{i + 1}: non-numeric uid/gid")
                if f == "group" and not fields[2].isdigit():
                    p.append(f"/etc/group:{i + 1}: non-numeric gid")
            names[f] = seen
        if names["passwd"] != names["shadow"]:
            p.append("passwd and shadow name different accounts: %s" % (names["passwd"] ^ names["shadow"]))
        if names["group"] != names["gshadow"]:
            p.append("group and gshadow name different groups: %s" % (names["group"] ^ names["gshadow"]))
        sdir = root.file("/etc/sudoers.d")
        for name in sorted(os.listdir(sdir)):
            if VISUDO:
                v = subprocess.run([VISUDO, "-c", "-q", "-f", os.path.join(sdir, name)], capture_output=True,
                                   text=True)
                if v.returncode != 0:
                    p.append(f"/etc/sudoers.d/{name}: visudo -c: {v.stdout.strip()} {v.stderr.strip()}")
        keys = {k["keyData"] for k in scenario["admin"]["sshKeys"]}
        ak = root.file(f"/home/{USER}/.ssh/authorized_keys")
        if os.path.exists(ak):
            text = root.read(f"/home/{USER}/.ssh/authorized_keys")
            if text and not text.endswith("\n"):
                p.append("authorized_keys: last line incomplete")
            for line in text.splitlines():
                if line.strip() and line not in keys:
                    p.append(f"authorized_keys: not a scenario key: {line[:60]!r}")
        state = root.file("/var/lib/azl-agent/state.json")
        if os.path.exists(state):
            try:
                json.loads(root.read("/var/lib/azl-agent/state.json"))
            except ValueError as e:
                p.append(f"state.json does not parse: {e}")
        marker = root.file("/var/lib/azl-agent/provisioned")
        if os.path.exists(marker) and root.read("/var/lib/azl-agent/provisioned") != scenario["vm"]["vmId"] + "\n":
            p.append("the provisioned marker does not hold the VM id")
        kvp = root.file("/var/lib/hyperv/.kvp_pool_1")
        if os.path.exists(kvp) and os.path.getsize(kvp) % 2560:
            p.append("KVP pool is not whole records")
        if root.read("/etc/hostname") not in ("scratch\n", scenario["vm"]["computerName"] + "\n"):
            p.append(f"/etc/hostname holds {root.read('/etc/hostname')!r}")
        dropin = root.file("/etc/ssh/sshd_config.d/50-azl-agent.conf")
        if os.path.exists(dropin):
            for line in root.read("/etc/ssh/sshd_config.d/50-azl-agent.conf").splitlines():
                if line.strip() and not line.startswith("#") and len(line.split()) < 2:
                    p.append(f"sshd drop-in line without value: {line!r}")
        return p

    def provision_normalize(self, root, snap, fabric_vm_id):
        """Applies the normalizations of the module docstring; returns (snapshot, problems)."""
        p = []
        snap = dict(snap)
        # shadow: the admin's hash must verify the password; lastchg within a day (a run across midnight).
        kind, mode, uid, gid, data = snap["/etc/shadow"]
        lines = []
        for line in data.decode().splitlines():
            f = line.split(":")
            if f[0] == USER:
                h = f[1]
                if not h.startswith("$y$"):
                    p.append(f"shadow: {USER} has no yescrypt hash")
                elif not azltest.crypt_matches(PASSWORD, h):
                    p.append(f"shadow: the hash of {USER} does not verify the scenario password")
                f[1] = "<hash of the password>"
                f[2] = "<lastchg>"
            lines.append(":".join(f))
        snap["/etc/shadow"] = (kind, mode, uid, gid, "\n".join(lines).encode())
        # SSH host keys: names, modes, owners; the public half must match the private key.
        for path in list(snap):
            if path.startswith("/etc/ssh/ssh_host_") and snap[path][0] == "file":
                k, m, u, g, d = snap[path]
                if not path.endswith(".pub"):
                    pub = root.file(path + ".pub")
                    derived = subprocess.run(["ssh-keygen", "-y", "-f", root.file(path)], capture_output=True,
                                             text=True).stdout.split()[:2]
                    pub_text = ""
                    if os.path.exists(pub):
                        with open(pub) as f:
                            pub_text = f.read()
                    if pub_text.split()[:2] != derived or not derived:
                        p.append(f"{path}: the public key does not match the private key")
                snap[path] = (k, m, u, g, b"<random key>")
        # state.json: semantically.
        k, m, u, g, d = snap.pop("/var/lib/azl-agent/state.json")
        try:
            state = json.loads(d)
            got = (state.get("state"), state.get("vm_id"), (state.get("health") or {}).get("reported"))
            if got != ("ready", fabric_vm_id, "Ready"):
                p.append(f"state.json says {got}")
        except ValueError as e:
            p.append(f"state.json does not parse: {e}")
        snap["/var/lib/azl-agent/state.json"] = (k, m, u, g, b"<semantic>")
        # timeline.jsonl (analyze's records): append-only with times; every line a whole record, the last run
        # ending in a successful Ready report.
        tl_path = "/var/lib/azl-agent/timeline.jsonl"
        if tl_path in snap:
            k, m, u, g, d = snap[tl_path]
            try:
                recs = [json.loads(line) for line in d.decode().splitlines()]
                # the steps after Ready (agent/provision.c: ssh-host-keys-rest, optional) may follow it
                while recs and recs[-1].get("name") in AFTER_READY_STEPS:
                    recs.pop()
                last = recs[-1] if recs else {}
                if (last.get("name"), last.get("result")) != ("report-ready", "changed"):
                    p.append(f"timeline.jsonl ends with {last} before the steps after Ready")
            except ValueError as e:
                p.append(f"timeline.jsonl has a line that does not parse: {e}")
            snap[tl_path] = (k, m, u, g, b"<semantic>")
        # confidential.json (issue #22): the verdict's inputs, recorded every run with the time of recording.
        cj_path = "/var/lib/azl-agent/confidential.json"
        if cj_path in snap:
            k, m, u, g, d = snap[cj_path]
            try:
                cj = json.loads(d)
                cj.pop("recorded_at", None)
                d = json.dumps(cj, sort_keys=True).encode()
            except ValueError as e:
                p.append(f"confidential.json does not parse: {e}")
            snap[cj_path] = (k, m, u, g, d)
        # userdata.json (issue #18): semantically too; its module records and times depend on where the run died
        # (a module done again after a crash is "unchanged" the second time), none may have failed.
        ud_path = "/var/lib/azl-agent/userdata.json"
        if ud_path in snap:
            k, m, u, g, d = snap[ud_path]
            try:
                ud = json.loads(d)
                failed = [x["name"] for x in ud.get("modules", []) if x.get("result") == "failed"]
                if failed:
                    p.append(f"userdata.json: module(s) failed: {failed}")
                d = json.dumps([ud.get(x) for x in ("state", "vm_id", "source", "parts", "unsupported", "problems")])
            except ValueError as e:
                p.append(f"userdata.json does not parse: {e}")
            snap[ud_path] = (k, m, u, g, d.encode() if isinstance(d, str) else d)
        # KVP: the last value of each key, timestamps masked.
        kvp_path = "/var/lib/hyperv/.kvp_pool_1"
        if kvp_path in snap:
            k, m, u, g, d = snap[kvp_path]
            last = {}
            for i in range(0, len(d) - len(d) % 2560, 2560):
                key = d[i:i + 512].rstrip(b"\0")
                last[key] = re.sub(rb"timestamp=[^|]*", b"timestamp=*", d[i + 512:i + 2560].rstrip(b"\0"))
            snap[kvp_path] = (k, m, u, g, json.dumps(sorted((a.decode(), b.decode()) for a, b in last.items())))
        return snap, p

    def test_provision(self):
        scenario_box = {}

        def make_worker(i):
            return Worker(self.base, i, PATCH)

        def reference(w):
            root = w.new_root("reference")
            trace = os.path.join(w.dir, "reference.trace")
            r = subprocess.run([azltest.AGENT, "--root", root.path, "provision"], capture_output=True, text=True,
                               timeout=120, env=dict(os.environ, AZL_CRASH_POINT_TRACE=trace))
            self.assertEqual(r.returncode, 0, r.stderr)
            reports = w.fabric.health_reports()
            self.assertEqual([h["state"] for h in reports], ["NotReady", "Ready"])
            scenario_box["scenario"] = w.fabric.scenario
            problems = self.provision_points_check(root, w.fabric.scenario)
            self.assertEqual(problems, [])
            snap, problems = self.provision_normalize(root, snapshot(root.path), w.fabric.scenario["vm"]["vmId"])
            self.assertEqual(problems, [])
            return {"points": read_trace(trace), "snap": snap}

        def one_point(w, ref, point):
            root = w.new_root(point)
            trace = os.path.join(root.path + ".trace")
            n0 = len(w.fabric.health_reports())
            r = subprocess.run([azltest.AGENT, "--root", root.path, "provision"], capture_output=True, text=True,
                               timeout=120, env=dict(os.environ, AZL_CRASH_POINT=point, AZL_CRASH_POINT_TRACE=trace))
            if r.returncode != -signal.SIGKILL:
                return [f"expected death by SIGKILL, got exit status {r.returncode}: {r.stderr[-500:]}"]
            lines = read_trace(trace)
            if not lines or lines[-1] != point:
                return [f"died at {lines[-1] if lines else 'no point'}, not at {point}"]
            # its children die with it (spawn_background()): none may still write what the rerun redoes
            problems = [f"at the crash: {x} still runs in the root" for x in processes_in_root(root.path)]
            problems += ["at the crash: " + x for x in self.provision_points_check(root, w.fabric.scenario)]
            r = subprocess.run([azltest.AGENT, "--root", root.path, "provision"], capture_output=True, text=True,
                               timeout=120)
            if r.returncode != 0:
                return problems + [f"rerun exit status {r.returncode}: {r.stderr[-800:]}"]
            reports = w.fabric.health_reports()[n0:]
            if not reports or reports[-1]["state"] != "Ready" or not all(h["accepted"] for h in reports):
                problems.append("health reports after the crash: %s" % [(h["state"], h["accepted"]) for h in reports])
            problems += ["after the rerun: " + x for x in self.provision_points_check(root, w.fabric.scenario)]
            m = re.match(r"^write:(.+):tmp-written@\d+$", point)
            snap, strays = split_strays(snapshot(root.path), m.group(1) if m else None)
            snap, norm = self.provision_normalize(root, snap, w.fabric.scenario["vm"]["vmId"])
            problems += strays + norm + diff_snapshots(ref["snap"], snap)
            if not problems and os.environ.get("AZL_KEEP_TEST_DIRS") != "1":
                shutil.rmtree(root.path, ignore_errors=True)
            return problems

        points = self.run_points(make_worker, reference, one_point)
        # The trace must cover the places issue #12 names, or the enumeration itself is broken.
        for must in ("provision:user:start@1", "user:groups-done@1", "user:account-done@1", "user:password-done@1",
                     "user:sudoers-validated@1", "write:authorized_keys:tmp-written@1", "provision:marker:recorded@1",
                     "write:provisioned:tmp-written@1", "provision:report-ready:recorded@1"):
            self.assertIn(must, points)

    # ---- extensions in the daemon -------------------------------------------------------------------------

    @staticmethod
    def status_blobs(w):
        return json.loads(w.fabric._control("GET", "/status-blobs"))

    @staticmethod
    def normalize_blob(blob, thumb):
        def walk(x):
            if isinstance(x, dict):
                return {k: walk(v) for k, v in x.items() if k not in ("timestampUTC", "configurationAppliedTime")}
            if isinstance(x, list):
                return [walk(v) for v in x]
            return x
        return json.loads(json.dumps(walk(blob)).replace(thumb, "<THUMB>"))

    @staticmethod
    def handler_ready(blob):
        ready = {h.get("handlerName") for h in (blob or {}).get("aggregateStatus", {}).get("handlerAggregateStatus", [])
                 if h.get("status") == "Ready"}
        return {EXT, EXT2} <= ready

    @staticmethod
    def thumbprint(w):
        state = json.loads(w.fabric._control("GET", "/state"))
        return state["goalState"]["tenantCertificates"][0]["thumbprint"]

    def start_daemon(self, root, log, env=None):
        return subprocess.Popen([azltest.AGENT, "--root", root.path, "-v", "daemon"], stdout=log,
                                stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))

    def stop_daemon(self, proc):
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "timeout"

    def wait_ready_upload(self, w, n0, timeout=40):
        def ready():
            blobs = self.status_blobs(w)[n0:]
            good = [b for b in blobs if b.get("parsed") and self.handler_ready(b["parsed"])]
            return good[-1]["parsed"] if good else None
        return wait_for("a status blob with both extensions Ready", ready, timeout=timeout)

    def waagent_check(self, root):
        """What must hold in /var/lib/waagent and daemon.json at any moment."""
        p = []
        lib = root.file("/var/lib/waagent")
        dj = root.file("/var/lib/azl-agent/daemon.json")
        if os.path.exists(dj):
            try:
                with open(dj) as f:
                    json.load(f)
            except ValueError as e:
                p.append(f"daemon.json does not parse: {e}")
        if not os.path.isdir(lib):
            return p
        for dirpath, _, files in os.walk(lib):
            for name in files:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, lib)
                if STRAY_RE.match(name):
                    continue
                with open(full, "rb") as f:
                    data = f.read()
                if name == "HandlerState" and data.decode(errors="replace") not in HANDLER_STATES:
                    p.append(f"{rel}: {data[:40]!r} is no handler state")
                elif name.endswith(".HandlerState") and data not in (b"enabled", b"disabled"):
                    p.append(f"{rel}: {data[:40]!r}")
                elif name.endswith((".settings", ".json")) and "status" not in rel.split(os.sep)[:-1]:
                    try:
                        json.loads(data)
                    except ValueError as e:
                        p.append(f"{rel} does not parse: {e}")
                elif name.endswith((".crt", "Cert.pem")) and not openssl_ok(["x509", "-noout", "-in", full]):
                    p.append(f"{rel}: not a whole certificate")
                elif name.endswith((".prv", "Private.pem")) and not openssl_ok(["pkey", "-noout", "-in", full]):
                    p.append(f"{rel}: not a whole private key")
        return p

    def waagent_normalize(self, root, thumb):
        snap = snapshot(root.file("/var/lib/waagent"))
        out = {}
        for path, (k, m, u, g, d) in snap.items():
            name = os.path.basename(path)
            if name in ("TransportCert.pem", "TransportPrivate.pem"):
                d = b"<per-root key pair>"
            elif name.endswith(".settings") and d is not None:
                doc = json.loads(d)
                for rs in doc.get("runtimeSettings", []):
                    hs = rs.get("handlerSettings", {})
                    if hs.get("protectedSettings"):
                        hs["protectedSettings"] = "<ciphertext>"
                d = json.dumps(doc, sort_keys=True).encode()
            elif name.endswith(".status") and d is not None:
                # the handler stamps its status file with the time it wrote it
                doc = json.loads(d)
                for item in doc if isinstance(doc, list) else []:
                    item.pop("timestampUTC", None)
                d = json.dumps(doc, sort_keys=True).encode()
            if isinstance(d, bytes):  # HandlerEnvironment.json names host paths below the scratch root
                d = d.replace(root.path.encode(), b"<ROOT>")
            out[path.replace(thumb, "<THUMB>")] = (k, m, u, g, d)
        return out

    def test_extension_install(self):
        conf = "GoalStatePeriodSec=1\n"

        def make_worker(i):
            return Worker(self.base, 10 + i, two_handlers_patch(), conf)

        def reference(w):
            root = w.new_root("ext-reference")
            trace = os.path.join(w.dir, "ext-reference.trace")
            with open(os.path.join(w.dir, "ext-reference.log"), "w") as log:
                proc = self.start_daemon(root, log, {"AZL_CRASH_POINT_TRACE": trace})
                try:
                    blob = self.wait_ready_upload(w, 0)
                    points = read_trace(trace)  # what is reached before the first Ready upload, every time
                    time.sleep(1.5)
                finally:
                    rc = self.stop_daemon(proc)
            self.assertEqual(rc, 0)
            self.assertEqual(self.waagent_check(root), [])
            thumb = self.thumbprint(w)
            for ext in (EXT, EXT2):
                with open(root.file(f"/var/lib/waagent/{ext}-1.0.0/config/HandlerState")) as f:
                    self.assertEqual(f.read(), "Enabled")
            return {"points": [x.replace(thumb, "<THUMB>") for x in points], "thumb": thumb,
                    "blob": self.normalize_blob(blob, thumb), "snap": self.waagent_normalize(root, thumb)}

        def one_point(w, ref, point):
            thumb = ref["thumb"]
            real_point = point.replace("<THUMB>", thumb)
            root = w.new_root(point)
            trace = root.path + ".trace"
            logpath = root.path + ".log"
            with open(logpath, "w") as log:
                proc = self.start_daemon(root, log, {"AZL_CRASH_POINT": real_point, "AZL_CRASH_POINT_TRACE": trace})
                try:
                    rc = proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.stop_daemon(proc)
                    return ["the daemon did not reach the point within 30 s"]
            if rc != -signal.SIGKILL:
                return [f"expected death by SIGKILL, got exit status {rc}"]
            lines = read_trace(trace)
            if not lines or lines[-1] != real_point:
                return [f"died at {lines[-1] if lines else 'no point'}, not at {real_point}"]
            problems = ["at the crash: " + x for x in self.waagent_check(root)]
            n0 = len(self.status_blobs(w))
            with open(logpath, "a") as log:
                proc = self.start_daemon(root, log)
                try:
                    blob = self.wait_ready_upload(w, n0)
                    time.sleep(1.2)  # a poll after Ready: nothing may undo it
                    latest = [b for b in self.status_blobs(w)[n0:] if b.get("parsed")][-1]["parsed"]
                except AssertionError as e:
                    blob = latest = None
                    problems.append(str(e))
                finally:
                    rc = self.stop_daemon(proc)
            if rc != 0:
                problems.append(f"restarted daemon: exit status {rc} after SIGTERM")
            if blob is None:
                return problems
            for b in (blob, latest):
                nb = self.normalize_blob(b, thumb)
                if nb != ref["blob"]:
                    problems.append("status blob differs from the reference: %s != %s" % (
                        json.dumps(nb["aggregateStatus"])[:600], json.dumps(ref["blob"]["aggregateStatus"])[:600]))
                    break
            problems += ["after the restart: " + x for x in self.waagent_check(root)]
            m = re.match(r"^write:(.+):tmp-written@\d+$", real_point)
            snap, strays = split_strays(self.waagent_normalize(root, thumb), m.group(1).replace(thumb, "<THUMB>")
                                        if m else None)
            problems += strays + diff_snapshots(ref["snap"], snap)
            if not problems and os.environ.get("AZL_KEEP_TEST_DIRS") != "1":
                shutil.rmtree(root.path, ignore_errors=True)
            return problems

        points = self.run_points(make_worker, reference, one_point)
        for must in ("ext:download:extracted@1", "ext:install:start@1", "ext:install:finished@1",
                     "ext:install:recorded@1", "ext:enable:start@1", "ext:enable:recorded@1",
                     "write:HandlerState:tmp-written@1", "write:0.settings:tmp-written@1",
                     "ext:download:extracted@2", "ext:enable:recorded@2"):
            self.assertIn(must, points)


def main():
    azltest.require("useradd on scratch roots")
    # A build without crash points (-Dcrash_points=false) ignores AZL_CRASH_POINT: probe with the first point
    # of any provisioning run (endpoints on a closed loopback port: nothing is ever contacted before it).
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "etc/azl-agent"))
        os.makedirs(os.path.join(d, "var/lib/azl-agent/seed"))
        with open(os.path.join(d, "var/lib/azl-agent/seed/ovf-env.xml"), "w") as f:
            f.write("not the provisioning media\n")  # a seed, so that no host device is looked at
        with open(os.path.join(d, "etc/azl-agent/agent.conf"), "w") as f:
            f.write("[Endpoints]\nIMDS=http://127.0.0.1:9\nWireServer=127.0.0.1:9\n[Timeouts]\nIMDSDeadlineSec=1\n")
        proc = subprocess.Popen([azltest.AGENT, "--root", d, "provision"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=dict(os.environ, AZL_CRASH_POINT="provision:media:recorded"))
        try:
            rc = proc.wait(10)  # milliseconds when the point is honoured; otherwise IMDS retries run on
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None  # our kill, not the crash point's
        if rc != -signal.SIGKILL:
            print("SKIP: azl-agent was built without crash points (-Dcrash_points=false)")
            sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Secrets grep (issue #12): nothing the agent produces may hold a secret of the scenario.

One scenario with every kind of secret: the admin password (ovf-env.xml), protected settings of the sample
extension (encrypted to the tenant certificate), and the SAS URLs of the status blob and the extension
artifacts. The agent runs as it would on a VM, at debug level:

  * `provision` on scratch root A (logs to stderr) and on scratch root B (logs to the journal);
  * `daemon` on root A until the extension is Ready (journal), then again after a restart (stderr);
  * `status` and `status --json --long`, `analyze` and `analyze blame --json` on root A;
  * `collect-logs` on root A: every member of the tarball (the seed ovf-env.xml, which holds the password in
    clear, included) is grepped too.

Collected, and grepped for every needle: every stdout/stderr; every journal field (the native journal protocol
is received on /run/systemd/journal/socket inside a private mount namespace, so no journald is needed; that
part is skipped when a mount namespace cannot be made); every file of both roots (state.json, daemon.json,
HandlerState, extension config and status dirs including the still-encrypted *.settings, certificates, logs,
KVP pool, the redacted ovf-env.xml copy, /etc/shadow, and the provisioning medium the test put in the seed
directory, which held the password until provisioning used it and must have been scrubbed since (issue #17));
every status blob the fabric received, its health reports and telemetry events.

Needles: the password and the protected settings plaintext (each also as its three base64 alignments), the
password's hash in each root (allowed in /etc/shadow and its backup only), each SAS signature (as sent,
percent-encoded, and decoded). The test cannot pass vacuously: every needle is checked to be
real (the password verifies the shadow hash, the plaintext is what `openssl cms -decrypt` makes of the
.settings ciphertext with the tenant key, the status blob URL's signature is among the SAS needles), every
source is checked to be non-empty, and the same collect-and-grep routine must find every needle in a canary file
planted in root A and in a log text with the needle appended.
"""
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
import azltest  # noqa: E402
from azltest import wait_for  # noqa: E402

PASSWORD = "Secrets-Grep-Pw-93xqV"
PROTECTED = "protected-plaintext-7Hq2ZkW"
# User data (issue #18): never logged, never in status. It is in the places that keep it on purpose (the
# redacted ovf-env.xml copy and waagent's CustomData, both 0600; <StateDirectory>/userdata/user-data, 0600) and in
# the file its write_files entry writes; anywhere else it is a leak. It sits in a file's content, in a wrong-typed
# key (a schema problem) and in an unsupported key (reported by name).
CUSTOM = "custom-data-secret-Zq81LmPw"
CUSTOM_DATA = ("#cloud-config\nwrite_files:\n  - path: /etc/azl-secret\n    content: %s\n    permissions: '0600'\n"
               "runcmd: 'echo %s'\napt:\n  sources:\n    x: {key: %s}\n" % (CUSTOM, CUSTOM, CUSTOM))
CUSTOM_ALLOWED = {"/var/lib/azl-agent/ovf-env.xml", "/var/lib/azl-agent/seed/ovf-env.xml", "/var/lib/waagent/CustomData",
                  "/var/lib/azl-agent/userdata/user-data", "/etc/azl-secret"}
EXT = "AzlAgent.SampleHandler"
JOURNAL_SOCKET = "/run/systemd/journal/socket"
SEED = "/var/lib/azl-agent/seed/ovf-env.xml"
SHADOW_FILES = ("/etc/shadow", "/etc/shadow-")  # where a password hash belongs (shadow-: the tools' backup)


def base64_cores(secret):
    """The parts of base64(x + secret + y) that depend on secret alone, for the three alignments."""
    out = []
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + secret).decode()
        i0 = -(-8 * shift // 6)
        i1 = 8 * (shift + len(secret)) // 6
        out.append(enc[i0:i1].encode())
    return out


def scan(items, needles):
    """[(source label, needle name, context)] for every occurrence of any needle in any item."""
    hits = []
    for label, data in items:
        for name, needle in needles:
            start = 0
            while (i := data.find(needle, start)) >= 0:
                ctx = data[max(0, i - 60):i + len(needle) + 60].replace(needle, b"<" + name.encode() + b">")
                hits.append((label, name, ctx))
                start = i + 1
    return hits


def collect_tree(prefix, root, exclude=()):
    items = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            rel = "/" + os.path.relpath(full, root)
            if rel in exclude or os.path.islink(full) or not os.path.isfile(full):
                continue
            with open(full, "rb") as f:
                items.append((f"{prefix}:{rel}", f.read()))
    return items


class JournalSink:
    """Receives the native journal protocol (datagrams, large ones as a memfd) on the well-known socket."""

    def __init__(self):
        os.makedirs(os.path.dirname(JOURNAL_SOCKET), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(JOURNAL_SOCKET)
        self.sock.settimeout(0.2)
        self.entries = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def parse(data):
        fields, i = [], 0
        while i < len(data):
            nl = data.find(b"\n", i)
            if nl < 0:
                break
            line = data[i:nl]
            if b"=" in line:
                k, v = line.split(b"=", 1)
                i = nl + 1
            else:
                k = line
                size = int.from_bytes(data[nl + 1:nl + 9], "little")
                v = data[nl + 9:nl + 9 + size]
                i = nl + 9 + size + 1
            fields.append((k, v))
        return fields

    def _run(self):
        while not self.stop:
            try:
                data, anc, _, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * 4))
            except socket.timeout:
                continue
            except OSError:
                return
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for j in range(0, len(payload) - len(payload) % 4, 4):
                        fd = int.from_bytes(payload[j:j + 4], sys.byteorder)
                        try:
                            size = os.fstat(fd).st_size
                            data += os.pread(fd, size, 0)
                        finally:
                            os.close(fd)
            self.entries.append(self.parse(data))

    def close(self):
        time.sleep(0.3)
        self.stop = True
        self.thread.join(2)
        self.sock.close()


class SecretsTest(azltest.FabricTestCase):
    def setUp(self):
        super().setUp()
        self.journal = JournalSink() if os.environ.get("AZL_SECRETS_JOURNAL") == "1" else None
        self.outputs = []  # (label, bytes)

    def tearDown(self):
        if self.journal:
            self.journal.close()
        super().tearDown()

    def agent(self, root, label, *args, journal=False, timeout=120):
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        if journal:
            env["JOURNAL_STREAM"] = "0:0"  # what systemd sets for a service: log to the journal
        r = subprocess.run([azltest.AGENT, "--root", root.path, "-v", *args], capture_output=True, timeout=timeout,
                           env=env)
        self.outputs.append((label + " stdout", r.stdout))
        self.outputs.append((label + " stderr", r.stderr))
        return r

    def daemon_until_ready(self, root, label, journal):
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        if journal:
            env["JOURNAL_STREAM"] = "0:0"
        n0 = len(json.loads(self.fabric._control("GET", "/status-blobs")))
        logpath = os.path.join(self.workdir, label + ".log")
        with open(logpath, "wb") as log:
            proc = subprocess.Popen([azltest.AGENT, "--root", root.path, "-v", "daemon"], stdout=log,
                                    stderr=subprocess.STDOUT, env=env)
            try:
                def ready():
                    for b in json.loads(self.fabric._control("GET", "/status-blobs"))[n0:]:
                        for h in (b.get("parsed") or {}).get("aggregateStatus", {}).get("handlerAggregateStatus", []):
                            if h.get("handlerName") == EXT and h.get("status") == "Ready":
                                return True
                    return False
                wait_for("the extension Ready in a status blob", ready, timeout=40.0)
                time.sleep(1.5)
            finally:
                proc.send_signal(signal.SIGTERM)
                rc = proc.wait(15)
        self.assertEqual(rc, 0, label)
        with open(logpath, "rb") as f:
            self.outputs.append((label + " output", f.read()))

    def sas_signatures(self):
        e = self.fabric.endpoints
        docs = []
        hdr = {"x-ms-version": "2012-11-30"}

        def get(url, headers=hdr):
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
                return r.read().decode()
        gs = get(f"http://{e['wireserver']}/machine/?comp=goalstate")
        docs.append(gs)
        m = re.search(r"<ExtensionsConfig>([^<]+)</ExtensionsConfig>", gs)
        self.assertTrue(m, "no ExtensionsConfig link in the goal state")
        docs.append(get(m.group(1).replace("&amp;", "&")))
        state = json.loads(self.fabric._control("GET", "/state"))
        docs.append(json.dumps(state))
        # The URLs the agent itself requested (manifest, package, status blob) carry the signatures it used.
        docs += [r.get("path", "") + "?" + r.get("query", "") for r in self.fabric.requests()]
        sigs = set()
        for d in docs:
            sigs.update(re.findall(r"sig=([^&\"'<>\s]+)", d))
        status_sig = re.search(r"sig=([^&]+)", state["goalState"]["statusBlobUrl"]).group(1)
        return sigs, status_sig

    def test_no_secret_anywhere(self):
        with open(azltest.DEFAULT_SCENARIO) as f:
            ext = json.load(f)["extensions"][0]
        ext["protectedSettings"] = {"secret": PROTECTED}
        fabric, root_a = self.start({"admin": {"password": PASSWORD, "disablePasswordAuthentication": False},
                                     "extensions": [ext], "customData": CUSTOM_DATA}, "GoalStatePeriodSec=1\n")
        os.makedirs(os.path.join(self.workdir, "b"))
        root_b = azltest.ScratchRoot(os.path.join(self.workdir, "b"), fabric)

        # The medium in the seed directory holds the password until it is used (so its absence later is news).
        for root in (root_a, root_b):
            self.assertIn(PASSWORD, root.read(SEED))
        r = self.agent(root_a, "provision A", "provision")
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        self.assertIn(b"Provisioned:", r.stderr)
        r = self.agent(root_b, "provision B", "provision", journal=True)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        self.daemon_until_ready(root_a, "daemon A (journal)", journal=True)
        self.daemon_until_ready(root_a, "daemon A restarted", journal=False)
        for args in (("status",), ("status", "--json", "--long"), ("analyze",), ("analyze", "blame", "--json")):
            r = self.agent(root_a, " ".join(args), *args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout)
        # The support tarball (issue #19): every member is grepped like the files it came from.
        archive = os.path.join(self.workdir, "collect-logs.tar.gz")
        r = self.agent(root_a, "collect-logs", "collect-logs", "-o", archive)
        self.assertEqual(r.returncode, 0, r.stderr)
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if m.isfile():
                    self.outputs.append(("collect-logs:" + m.name, t.extractfile(m).read()))

        # ---- the seed copies are scrubbed, not deleted: still the medium, the password marked as applied ----
        for root in (root_a, root_b):
            seed = root.read(SEED)
            self.assertIn("UserName>azureuser<", seed)
            self.assertIn('scrubbed-by="azl-agent"', seed)
            self.assertEqual(os.stat(root.file(SEED)).st_mode & 0o7777, 0o600)

        # ---- the needles are real ----
        shadow = [l for l in root_a.read("/etc/shadow").splitlines() if l.startswith("azureuser:")][0].split(":")[1]
        self.assertTrue(shadow.startswith("$y$"), shadow[:3])
        self.assertTrue(azltest.crypt_matches(PASSWORD, shadow),
                        "the password in shadow is not the scenario's: the needle would be wrong")
        hdir = root_a.file(f"/var/lib/waagent/{EXT}-1.0.0")
        with open(os.path.join(hdir, "config", "0.settings")) as f:
            hs = json.load(f)["runtimeSettings"][0]["handlerSettings"]
        thumb = hs["protectedSettingsCertThumbprint"]
        der = os.path.join(self.workdir, "protected.der")
        with open(der, "wb") as f:
            f.write(base64.b64decode(hs["protectedSettings"]))
        lib = root_a.file("/var/lib/waagent")
        dec = subprocess.run(["openssl", "cms", "-decrypt", "-inform", "DER", "-in", der, "-inkey",
                              os.path.join(lib, thumb + ".prv"), "-recip", os.path.join(lib, thumb + ".crt")],
                             capture_output=True)
        self.assertEqual(dec.returncode, 0, dec.stderr)
        self.assertEqual(json.loads(dec.stdout), {"secret": PROTECTED})
        sigs, status_sig = self.sas_signatures()
        self.assertIn(status_sig, sigs)
        self.assertEqual(root_a.read("/etc/azl-secret"), CUSTOM)    # the custom data reached the VM

        # The hash is a secret too (offline guessing): only the shadow files may hold it.
        hash_b = [l for l in root_b.read("/etc/shadow").splitlines()
                                  if l.startswith("azureuser:")][0].split(":")[1]
        needles = [("password", PASSWORD.encode()), ("protected-settings", PROTECTED.encode()),
                   ("password-hash-A", shadow.encode()), ("password-hash-B", hash_b.encode())]
        needles += [(f"password-base64-{i}", c) for i, c in enumerate(base64_cores(PASSWORD.encode()))]
        needles += [(f"protected-base64-{i}", c) for i, c in enumerate(base64_cores(PROTECTED.encode()))]
        for i, s in enumerate(sorted(sigs)):
            needles.append((f"sas-sig-{i}", s.encode()))
            if urllib.parse.unquote(s) != s:
                needles.append((f"sas-sig-{i}-decoded", urllib.parse.unquote(s).encode()))
        needles += [("custom-data", CUSTOM.encode())]
        needles += [(f"custom-data-base64-{i}", c) for i, c in enumerate(base64_cores(CUSTOM.encode()))]
        for name, n in needles:
            self.assertGreaterEqual(len(n), 12, name)

        # ---- collect ----
        def collect():
            items = list(self.outputs)
            items += collect_tree("A", root_a.path)
            items += collect_tree("B", root_b.path)
            for path in ("/status-blobs", "/health-reports", "/events"):
                items.append(("fabric " + path, fabric._control("GET", path).encode()))
            with urllib.request.urlopen(fabric.endpoints["control"] + "/status-blob?raw=1", timeout=10) as r:
                items.append(("fabric /status-blob raw", r.read()))
            if self.journal:
                for j, entry in enumerate(self.journal.entries):
                    for k, v in entry:
                        items.append((f"journal entry {j} {k.decode(errors='replace')}", k + b"=" + v))
            return items

        # ---- the sources are not empty ----
        items = collect()
        labels = {label for label, data in items if data}
        for must in ("provision A stderr", "daemon A restarted output", "analyze stdout",
                     "collect-logs:azl-agent-logs/MANIFEST.txt", "collect-logs:azl-agent-logs/var/lib/azl-agent/ovf-env.xml",
                     f"collect-logs:azl-agent-logs/var/lib/waagent/{EXT}-1.0.0/config/0.settings",
                     "collect-logs:azl-agent-logs/var/lib/azl-agent/seed/ovf-env.xml",
                     "A:/var/lib/azl-agent/timeline.jsonl",
                     "A:/var/lib/azl-agent/state.json", "A:/var/lib/azl-agent/daemon.json",
                     "A:/var/lib/hyperv/.kvp_pool_1", "A:/var/lib/azl-agent/ovf-env.xml",
                     f"A:/var/lib/waagent/{EXT}-1.0.0/config/HandlerState",
                     f"A:/var/lib/waagent/{EXT}-1.0.0/config/0.settings",
                     f"A:/var/lib/waagent/{EXT}-1.0.0/status/0.status",
                     f"A:/var/log/azure/{EXT}/CommandExecution.log", "A:/etc/shadow", "A:" + SEED, "B:" + SEED,
                     "fabric /status-blobs", "fabric /status-blob raw", "fabric /health-reports",
                     "A:/var/lib/azl-agent/userdata.json", "A:/var/lib/waagent/CustomData"):
            self.assertTrue(must in labels, f"nothing collected from {must}")
        self.assertIn(b'"Ready"', dict(items)["fabric /status-blob raw"])
        # the daemon's debug log is where plans, settings and URLs would show up
        self.assertIn(b"Extensions plan", dict(items)["daemon A restarted output"])
        if self.journal:
            messages = [v for e in self.journal.entries for k, v in e if k == b"MESSAGE"]
            self.assertTrue(any(b"Provisioned:" in m for m in messages), "no provisioning message in the journal")
            self.assertTrue(any(b"Extensions plan" in m for m in messages), "no daemon debug lines in the journal")
        else:
            print("journal part skipped: no private mount namespace for /run/systemd/journal/socket",
                  file=sys.stderr)

        # ---- the grep finds what is there ----
        canary = root_a.file("/var/lib/azl-agent/canary")
        with open(canary, "wb") as f:
            f.write(b"\n".join(b"x" + n + b"y" for _, n in needles))
        found = {(label, name) for label, name, _ in scan(collect(), needles)}
        os.unlink(canary)
        for name, n in needles:
            self.assertIn(("A:/var/lib/azl-agent/canary", name), found)
            self.assertTrue(scan([("log", dict(items)["daemon A restarted output"] + n)], [(name, n)]))

        # ---- and nothing else holds a secret (the custom data only where it is kept on purpose) ----
        hits = [(label, name, ctx) for label, name, ctx in scan(collect(), needles)
                if not (name.startswith("password-hash-") and label.split(":", 1)[-1] in SHADOW_FILES)
                and not (name.startswith("custom-data") and label.split(":", 1)[-1] in CUSTOM_ALLOWED)]
        report = "\n".join(f"  {label}: {name}: {ctx!r}" for label, name, ctx in hits[:50])
        self.assertEqual(hits, [], f"{len(hits)} secret(s) found:\n{report}")
        print(f"\nno secret in {len(items)} items, {sum(len(d) for _, d in items)} bytes; {len(needles)} needles; "
              f"{len(self.journal.entries) if self.journal else 0} journal entries", file=sys.stderr)


def enter_private_mountns():
    """Re-exec in a private mount namespace with a tmpfs for the journal socket; False when not possible."""
    if os.environ.get("AZL_SECRETS_JOURNAL") == "1":
        target = "/run/systemd" if os.path.isdir("/run/systemd") else "/run"
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", target]).returncode != 0:
            print("SKIP journal: cannot mount a tmpfs on " + target, file=sys.stderr)
            os.environ["AZL_SECRETS_JOURNAL"] = "0"
        return
    if os.environ.get("AZL_SECRETS_JOURNAL") == "0":
        return
    if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True).returncode:
        os.environ["AZL_SECRETS_JOURNAL"] = "0"
        return
    env = dict(os.environ, AZL_SECRETS_JOURNAL="1")
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable] + sys.argv, env)


def main():
    azltest.require("useradd on a scratch root")
    enter_private_mountns()
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: MIT
"""One guest agent daemon (azl-agent or Debian's waagent) against the simulated fabric, on the host, inside a
private network + mount namespace — shared by bench/steady.py and bench/extbench.py.

The recipe is tests/fabric/waagent-interop.sh's: `unshare --net --mount`, only `lo`, the fabric serving the real
Azure addresses (169.254.169.254, 168.63.129.16:80/:32526) on `lo` (azfabric refuses unless the namespace has no
default route), a host route for 168.63.129.16 (waagent 2.7 trusts the WireServer address only from DHCP option
245 or a route), scratch mounts over /var/log and the udev rules directories (they die with the namespace).

  waagent    `waagent -daemon` with Provisioning.Agent=disabled, Lib.Dir/Extension.LogDir/Pid.File in the
             scratch dir, Logs.Verbose=n (its default), goal state period 6 s (its default)
  azl-agent  `azl-agent --root <scratch root> daemon` (tests/integration/make-scratch-root.sh), [Endpoints] set
             to the fabric's (real) addresses, every other key at its default (goal state period 6 s,
             StatusKeepAliveSec 300); stdout+stderr go to a file in the scratch dir (under systemd they would go
             to the journal), so its log writes count as its own disk writes like waagent's /var/log/waagent.log
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FABRIC = os.path.join(SRC, "tests", "fabric", "azfabric.py")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

WAAGENT_CONF = """Provisioning.Agent=disabled
Provisioning.MonitorHostName=n
Provisioning.RegenerateSshHostKeyPair=n
Provisioning.DeleteRootPassword=n
ResourceDisk.Format=n
Extensions.Enabled=y
AutoUpdate.Enabled=n
OS.AllowHTTP=y
OS.EnableFirewall=n
OS.EnableRDMA=n
DetectScvmmEnv=n
Logs.Verbose=n
Logs.Collect=n
CGroups.EnforceLimits=n
Lib.Dir={w}/lib
Extension.LogDir={w}/extlog
Pid.File={w}/waagent.pid
"""

AGENTS = ("azl-agent", "waagent")


def default_azl_agent():
    for d in ("build-vm", "build-bench", "build"):
        p = os.path.join(SRC, d, "agent", "azl-agent")
        if os.access(p, os.X_OK):
            return p
    return None


def reexec_in_namespace(flag, argv):
    """Outside: re-run argv inside `unshare --net --mount` with env flag=1 and return its exit status (77 when
    namespaces are not permitted). Inside: return None."""
    if os.environ.get(flag) == "1":
        return None
    if subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True).returncode != 0:
        print("%s: cannot unshare --net --mount" % os.path.basename(argv[0]), file=sys.stderr)
        return 77
    env = dict(os.environ, **{flag: "1"})
    return subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", sys.executable,
                           os.path.abspath(argv[0])] + argv[1:], env=env).returncode


def scratch_fs(path):
    """What the scratch roots live on: "ext4 on loop0, journaled" — an fsync's cost depends on it (BENCHMARKS.md,
    sixth round: a host's root may have no journal, a VM's disk has one)."""
    try:
        src, fstype = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", path], capture_output=True,
                                     text=True, check=True).stdout.split()[:2]
    except (OSError, subprocess.CalledProcessError, ValueError):
        return "?"
    dev = os.path.basename(src)
    if fstype in ("ext3", "ext4"):
        return "%s on %s, %s" % (fstype, dev, "journaled" if os.path.exists("/proc/fs/jbd2/%s-8" % dev)
                                 else "no journal")
    return "%s on %s" % (fstype, dev)


def agent_available(agent, azl_path):
    if agent == "waagent":
        return shutil.which("waagent") is not None, "waagent not installed (apt-get install waagent)"
    return bool(azl_path and os.access(azl_path, os.X_OK)), "azl-agent not built (--azl-agent PATH)"


def http_json(url, body=None, method=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    with _opener.open(req, timeout=15) as r:
        text = r.read().decode()
    return text


class Rig:
    """Scratch dir + fabric + one agent. Use as a context manager inside the namespace."""

    def __init__(self, agent, scenario, azl_agent=None, keep=None, env=None):
        assert agent in AGENTS
        self.agent, self.scenario, self.azl_agent, self.keep = agent, scenario, azl_agent, keep
        self.env = dict(os.environ, **(env or {}))
        self.w = tempfile.mkdtemp(prefix="azl-bench-%s-" % agent)
        self.fabric = self.proc = None
        self.ready = None
        self._mounted = []

    # -- namespace + fabric ------------------------------------------------------------------------------------
    def __enter__(self):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        for fam in ("-4", "-6"):
            routes = subprocess.run(["ip", fam, "route", "show", "default"], capture_output=True, text=True).stdout
            if routes.strip():
                raise RuntimeError("the namespace has a default route, refusing")
        for d in ("lib", "varlog", "extlog", "state"):
            os.makedirs(os.path.join(self.w, d), exist_ok=True)
        self._mount(["--bind", os.path.join(self.w, "varlog"), "/var/log"], "/var/log")
        for d in ("/etc/udev/rules.d", "/lib/udev/rules.d"):
            if os.path.isdir(d):
                self._mount(["-t", "tmpfs", "tmpfs", d], d)
        self.fabric = subprocess.Popen(
            [sys.executable, FABRIC, "serve", "--scenario", self.scenario, "--real-addresses",
             "--state-dir", os.path.join(self.w, "state"), "--ready-file", os.path.join(self.w, "ready.json")],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.w, "fabric.err"), "w"))
        for _ in range(300):
            if os.path.exists(os.path.join(self.w, "ready.json")) or self.fabric.poll() is not None:
                break
            time.sleep(0.1)
        if not os.path.exists(os.path.join(self.w, "ready.json")):
            raise RuntimeError("fabric did not start: " + open(os.path.join(self.w, "fabric.err")).read()[-2000:])
        self.ready = json.load(open(os.path.join(self.w, "ready.json")))
        subprocess.run(["ip", "route", "replace", "168.63.129.16/32", "dev", "lo"], check=True)
        return self

    def _mount(self, args, target):
        subprocess.run(["mount"] + args, check=True)
        self._mounted.append(target)

    def tmpfs(self, name):
        """A directory on tmpfs (not counted as anyone's disk writes)."""
        d = os.path.join(self.w, name)
        os.makedirs(d, exist_ok=True)
        self._mount(["-t", "tmpfs", "-o", "size=16m", "tmpfs", d], d)
        return d

    def control(self, path, body=None, method=None):
        text = http_json(self.ready["control"] + path, body, method)
        if path.startswith("/requests"):
            return [json.loads(l) for l in text.splitlines() if l.strip()]
        return json.loads(text) if text.strip() else None

    # -- agent ---------------------------------------------------------------------------------------------------
    def version(self):
        if self.agent == "waagent":
            out = subprocess.run(["waagent", "-version"], capture_output=True, text=True).stdout
            return out.split("\n")[0]
        out = subprocess.run([self.azl_agent, "--version"], capture_output=True, text=True).stdout.strip()
        return out.split("\n")[0] or "azl-agent"

    def make_root(self, media=False):
        """azl-agent's scratch root (tests/integration/make-scratch-root.sh) with [Endpoints] set to the fabric;
        media: the provisioning media's ovf-env.xml in its seed directory, as `azl-agent provision` reads it."""
        root = os.path.join(self.w, "root")
        if os.path.isdir(root):
            return root
        subprocess.run(["bash", os.path.join(SRC, "tests", "integration", "make-scratch-root.sh"), root],
                       check=True, stdout=subprocess.DEVNULL)
        os.makedirs(os.path.join(root, "etc", "azl-agent"), exist_ok=True)
        with open(os.path.join(root, "etc", "azl-agent", "agent.conf"), "w") as f:
            f.write("[Endpoints]\nIMDS=%s\nWireServer=%s\nHostGAPluginPort=%s\n"
                    % (self.ready["imds"], self.ready["wireserver"], self.ready["hgap_port"]))
        if media:
            out = os.path.join(self.w, "media")
            subprocess.run([sys.executable, FABRIC, "media", "--scenario", self.scenario, "--out", out],
                           check=True, stdout=subprocess.DEVNULL)
            seed = os.path.join(root, "var", "lib", "azl-agent", "seed")
            os.makedirs(seed, exist_ok=True)
            shutil.copy(os.path.join(out, "ovf-env.xml"), seed)
        return root

    def start_agent(self, verb="daemon"):
        out = open(os.path.join(self.w, "agent.out"), "w")
        if self.agent == "waagent":
            conf = os.path.join(self.w, "waagent.conf")
            open(conf, "w").write(WAAGENT_CONF.format(w=self.w))
            cmd = ["waagent", "-daemon", "-configuration-path:" + conf]
        else:
            cmd = [self.azl_agent, "--root", self.make_root(media=verb == "provision"), verb]
        self.t_start = time.time()
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=self.env)
        return self.proc

    def stop_agent(self):
        """SIGTERM to the agent's process group (waagent's ExtHandler child too), SIGKILL after 15 s; the exit
        status, or None when it had to be killed."""
        p, self.proc = self.proc, None
        if p is None:
            return None
        if p.poll() is not None:
            return p.returncode
        try:
            os.killpg(p.pid, signal.SIGTERM)
            return p.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
            return None

    def __exit__(self, *exc):
        self.stop_agent()
        if self.fabric is not None:
            self.fabric.terminate()
            try:
                self.fabric.wait(10)
            except subprocess.TimeoutExpired:
                self.fabric.kill()
        if self.keep:
            # a copy that fails (an earlier run's directory of the same name) must not lose the run's result
            try:
                shutil.copytree(self.w, self.keep, dirs_exist_ok=True, ignore_dangling_symlinks=True,
                                symlinks=True)
            except (OSError, shutil.Error) as e:
                print("agentrig: keeping %s in %s failed: %s" % (self.w, self.keep, str(e)[:300]), file=sys.stderr)
        for m in reversed(self._mounted):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(self.w, ignore_errors=True)
        return False


def wait_first_status_blob(rig, timeout):
    """Wait until the agent has uploaded a status blob (both agents upload one per goal state); its time or
    None."""
    end = time.time() + timeout
    while time.time() < end:
        if rig.proc is not None and rig.proc.poll() is not None:
            return None
        try:
            blobs = rig.control("/status-blobs")
        except OSError:
            blobs = []
        if blobs:
            return time.time()
        time.sleep(0.2)
    return None


def iso_to_epoch(s):
    import datetime
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def available_agents(agents, azl_agent, out, inner_env, tool):
    """The agents of `agents` that can run here; each one that can't is reported on stderr and, outside the
    namespace re-exec (inner_env unset), recorded in `out` as {"agent", "na"} so the table says why."""
    avail = []
    for a in agents:
        ok, why = agent_available(a, azl_agent)
        if ok:
            avail.append(a)
            continue
        print("%s: %s: %s, skipped" % (tool, a, why), file=sys.stderr)
        if out and os.environ.get(inner_env) != "1":
            with open(out, "a") as f:
                f.write(json.dumps({"agent": a, "na": why}) + "\n")
    return avail


def enter(args, inner_env, tool):
    """The common start of a benchmark: resolves --azl-agent, picks the available agents, then re-runs the
    script in a private network + mount namespace. Returns (agents, None) inside it, or (None, exit status)
    for the caller to return (77 when no agent can run)."""
    if args.azl_agent:
        args.azl_agent = os.path.abspath(args.azl_agent)
    avail = available_agents(args.agent or list(AGENTS), args.azl_agent, args.out, inner_env, tool)
    if not avail:
        return None, 77
    rc = reexec_in_namespace(inner_env, sys.argv)
    if rc is not None:
        return None, rc
    return avail, None

"""Helpers for the fabric's own unittest files.

Every test file calls ``ensure_netns()`` first: the file re-executes itself
under ``unshare --net`` (a fresh network namespace with only ``lo``) so that
no test can ever send a packet to a non-loopback address.  When unshare is not
permitted the file exits 77 (meson's "skipped").
"""

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fabriclib import netns  # noqa: E402
from fabriclib.fabric import Fabric  # noqa: E402
from fabriclib.scenario import DEFAULT_FIXTURE_ROOT, Scenario, load  # noqa: E402

SKIP = 77
ENV_FLAG = "AZFABRIC_TEST_NETNS"
DATA = DEFAULT_FIXTURE_ROOT
AZFABRIC = os.path.join(HERE, "azfabric.py")
# The default scenario's extension, our own sample handler.
SAMPLE_HANDLER = os.path.join(HERE, "ext", "sample-handler")


def ensure_netns():
    """Re-exec the calling test file inside a private network namespace."""
    if os.environ.get(ENV_FLAG) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
        try:
            netns.check_isolated()
        except netns.UnsafeNetwork as exc:
            print("fabric tests: not isolated after unshare: %s" % exc, file=sys.stderr)
            sys.exit(1)
        return
    if not shutil.which("unshare") or not shutil.which("ip"):
        print("SKIP: unshare/ip not available", file=sys.stderr)
        sys.exit(SKIP)
    probe = subprocess.run(["unshare", "--net", "true"], stderr=subprocess.PIPE)
    if probe.returncode != 0:
        print("SKIP: cannot create a network namespace (%s)" % probe.stderr.decode().strip(), file=sys.stderr)
        sys.exit(SKIP)
    env = dict(os.environ, **{ENV_FLAG: "1"})
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(var, None)
    cmd = ["unshare", "--net", "--", sys.executable, os.path.abspath(sys.argv[0])] + sys.argv[1:]
    sys.exit(subprocess.call(cmd, env=env))


def main():
    """unittest.main() that exits 77 when every test was skipped."""
    program = unittest.main(exit=False, verbosity=2)
    result = program.result
    if result.testsRun and len(result.skipped) == result.testsRun:
        sys.exit(SKIP)
    sys.exit(0 if result.wasSuccessful() else 1)


def data(rel):
    """A document of the fabric's fixture root (the repository's tests/data by default)."""
    return os.path.join(DATA, rel)


def scenario(overrides=None, base="default"):
    """The named scenario with a JSON merge patch applied."""
    from fabriclib.util import merge_patch
    base_scn = load(base)
    raw = merge_patch(base_scn.raw, overrides or {})
    return Scenario(raw, base_dir=base_scn.base_dir, source=base_scn.source)


class FabricCase(unittest.TestCase):
    """Starts one in-process fabric per test class (loopback mode)."""

    scenario_overrides = None

    @classmethod
    def setUpClass(cls):
        cls.state_dir = tempfile.mkdtemp(prefix="azfabric-test-")
        cls.fabric = Fabric(scenario(cls.scenario_overrides), state_dir=cls.state_dir)
        cls.info = cls.fabric.start()
        cls.urls = dict(cls.fabric.urls)

    @classmethod
    def tearDownClass(cls):
        cls.fabric.stop()
        shutil.rmtree(cls.state_dir, ignore_errors=True)

    # -- HTTP helpers (no proxies, loopback only) ---------------------------------
    def request(self, service, path, method="GET", headers=None, body=None, timeout=10):
        """Returns (status, headers, body bytes)."""
        base = self.urls[service]
        assert base.startswith("http://127.") or base.startswith("http://169.254.169.254") or \
            base.startswith("http://168.63.129.16"), base
        host = base[len("http://"):]
        conn = http.client.HTTPConnection(host, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode("utf-8")
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def control(self, path, method="GET", body=None):
        status, _, data = self.request("control", path, method=method, body=body)
        if status >= 400:
            raise AssertionError("control %s %s -> %d %s" % (method, path, status, data))
        text = data.decode("utf-8")
        if path.startswith("/requests"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)

    def imds(self, path, headers=None):
        hdrs = {"Metadata": "true"}
        hdrs.update(headers or {})
        return self.request("imds", path, headers=hdrs)

    def wire(self, path, method="GET", headers=None, body=None):
        hdrs = {"x-ms-agent-name": "WALinuxAgent", "x-ms-version": "2012-11-30"}
        hdrs.update(headers or {})
        return self.request("wire", path, method=method, headers=hdrs, body=body)

    def hgap_headers(self, **extra):
        snap = self.fabric.snapshot
        hdrs = {"x-ms-version": "2015-09-01", "x-ms-containerid": snap.container_id,
                "x-ms-host-config-name": snap.config_name}
        hdrs.update(extra)
        return hdrs


def url_path(url):
    """Path + query of an absolute URL served by the fabric."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


@contextlib.contextmanager
def tempdir():
    path = tempfile.mkdtemp(prefix="azfabric-test-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def openssl(*args, data=None, check=True):
    proc = subprocess.run(["openssl"] + list(args), input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and proc.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), proc.stderr.decode()))
    return proc.stdout


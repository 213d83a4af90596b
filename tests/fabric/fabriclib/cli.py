"""Command line: ``serve``, ``media``, ``check-netns``, ``scenario``, ``pki``.

``serve`` prints one JSON line when every socket listens (and writes it to
``--ready-file`` atomically), then runs until SIGTERM/SIGINT.
"""

import argparse
import json
import signal
import sys
import threading

from . import crypto, media, netns
from .fabric import Fabric
from .faults import FaultError
from .scenario import ScenarioError, load
from .util import atomic_write


def _parser():
    parser = argparse.ArgumentParser(prog="azfabric.py", description="Simulated Azure fabric for agent tests")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run IMDS, WireServer, HostGAPlugin, blob store and control API")
    serve.add_argument("--scenario", required=True, help="scenario file or name (e.g. default)")
    serve.add_argument("--host", default="127.0.0.1", help="bind address of the four services (loopback mode)")
    for name in ("imds", "wire", "hgap", "blob", "control"):
        serve.add_argument("--%s-port" % name, type=int, default=0, help="port (0 = choose)")
    serve.add_argument("--real-addresses", action="store_true",
                       help="bind 169.254.169.254:80, 168.63.129.16:80/:32526 (isolated netns only)")
    serve.add_argument("--state-dir", help="where request logs, health reports, certs go (default: temp dir)")
    serve.add_argument("--ready-file", help="write the ready JSON here (atomically) once listening")

    med = sub.add_parser("media", help="write ovf-env.xml and ovf-env.iso for a scenario")
    med.add_argument("--scenario", required=True)
    med.add_argument("--out", required=True, help="output directory")

    sub.add_parser("check-netns", help="report whether --real-addresses would be allowed here")

    scen = sub.add_parser("scenario", help="print the normalized scenario")
    scen.add_argument("--scenario", required=True)

    pki = sub.add_parser("pki", help="write the attested-data CA chains (TEST ONLY) into a directory")
    pki.add_argument("--out", required=True, help="output directory")
    pki.add_argument("--aia-base", help="URL prefix for the caIssuers (AIA) extensions")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "media":
            result = media.write_media(load(args.scenario), args.out)
            print(json.dumps(result))
            return 0
        if args.command == "check-netns":
            try:
                netns.check_isolated()
            except netns.UnsafeNetwork as exc:
                print(json.dumps({"isolated": False, "reason": str(exc)}))
                return 1
            print(json.dumps({"isolated": True}))
            return 0
        if args.command == "scenario":
            print(json.dumps(load(args.scenario).data_for_output(), indent=2))
            return 0
        if args.command == "pki":
            print(json.dumps(crypto.make_attestation_pki(args.out, args.aia_base)))
            return 0
    except (ScenarioError, FaultError, netns.UnsafeNetwork) as exc:
        print("azfabric: %s" % exc, file=sys.stderr)
        return 2
    return 1


def _serve(args):
    scenario = load(args.scenario)
    ports = {"imds": args.imds_port, "wire": args.wire_port, "hgap": args.hgap_port,
             "blob": args.blob_port, "control": args.control_port}
    fabric = Fabric(scenario, host=args.host, ports=ports, real_addresses=args.real_addresses,
                    state_dir=args.state_dir)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        info = fabric.start()
    except OSError as exc:
        print("azfabric: cannot listen: %s" % exc, file=sys.stderr)
        return 2
    line = json.dumps(info)
    if args.ready_file:
        atomic_write(args.ready_file, line + "\n")
    print(line, flush=True)
    while not stop.wait(0.5):
        pass
    fabric.stop()
    return 0

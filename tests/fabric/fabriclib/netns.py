"""Network-safety checks for ``--real-addresses`` mode.

The fabric may only bind 169.254.169.254 / 168.63.129.16 inside a network
namespace that (a) is not PID 1's namespace and (b) has no default route, so
that nothing it does (and nothing a client in that namespace does) can reach
the real Azure endpoints or any other non-loopback host.
"""

import ipaddress
import os
import subprocess

REAL_IMDS = "169.254.169.254"
REAL_WIRESERVER = "168.63.129.16"
RTF_UP = 0x0001
RTF_REJECT = 0x0200


class UnsafeNetwork(RuntimeError):
    pass


def netns_inode(pid="self"):
    return os.stat("/proc/%s/ns/net" % pid).st_ino


def netns_ids():
    """(ours, PID 1's) network-namespace identities.

    Normally the inode numbers of ``/proc/self/ns/net`` and ``/proc/1/ns/net``.
    Where PID 1's ns link is not accessible (ptrace rules, e.g. when PID 1 has
    capabilities we lack), fall back to the inode of ``/proc/<pid>/net/dev``:
    procfs allocates the entries of ``/proc/net`` once per network namespace,
    so two tasks see the same inode exactly when they share the namespace.
    """
    try:
        return netns_inode("self"), netns_inode("1"), "/proc/<pid>/ns/net"
    except PermissionError:
        return (os.stat("/proc/self/net/dev").st_ino, os.stat("/proc/1/net/dev").st_ino,
                "/proc/<pid>/net/dev (ns link of PID 1 not accessible)")


def default_routes():
    """Usable default routes of this namespace (IPv4 and IPv6)."""
    found = []
    try:
        with open("/proc/net/route") as handle:
            next(handle, None)
            for line in handle:
                fields = line.split()
                if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
                    if int(fields[3], 16) & RTF_UP and not int(fields[3], 16) & RTF_REJECT:
                        found.append("ipv4 default via %s" % fields[0])
    except FileNotFoundError:
        pass
    try:
        with open("/proc/net/ipv6_route") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00":
                    flags = int(fields[8], 16)
                    if flags & RTF_UP and not flags & RTF_REJECT:
                        found.append("ipv6 default via %s" % fields[9])
    except FileNotFoundError:
        pass
    return found


def check_isolated():
    """Raise UnsafeNetwork unless we run in a private netns without uplink."""
    try:
        mine, init, how = netns_ids()
    except OSError as exc:
        raise UnsafeNetwork("cannot compare network namespaces with PID 1 (%s); refusing real addresses" % exc)
    if mine == init:
        raise UnsafeNetwork("refusing --real-addresses: this process is in PID 1's network namespace; run it "
                            "under `unshare --net` (or `ip netns exec`) in a namespace without uplink "
                            "(compared %s)" % how)
    routes = default_routes()
    if routes:
        raise UnsafeNetwork("refusing --real-addresses: the network namespace has a default route (%s)"
                            % "; ".join(routes))


def is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def ensure_lo_addresses(addresses):
    """Bring ``lo`` up and add the given /32s; returns the addresses we added."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "lo"], check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    added = []
    for addr in addresses:
        if (" %s/" % addr) not in out:
            subprocess.run(["ip", "addr", "add", addr + "/32", "dev", "lo"], check=True)
            added.append(addr)
    return added


def remove_lo_addresses(addresses):
    for addr in addresses:
        subprocess.run(["ip", "addr", "del", addr + "/32", "dev", "lo"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

# SPDX-License-Identifier: MIT
"""What each shared library costs a running process, from /proc/<pid>/smaps, grouped by what loads it.

A direct dependency of the binary (its DT_NEEDED) "owns" the libraries that are loaded only through it: remove
that one dependency from the NEEDED graph and they are no longer reachable from the binary (e.g. libxml2 owns ICU
and libstdc++ on Debian, libcurl owns GnuTLS through librtmp). Libraries reachable through several direct
dependencies are "shared". Each group sums the smaps figures of its mappings (kB):

  rss            resident
  pss            resident, each page divided by the processes mapping it (depends on what else runs)
  private_dirty  pages this process wrote: relocated data, GOT, .bss — paid per process whatever else runs
  private_clean  file pages no other process maps (a library only this process uses): counted in Pss in full

plus the process's anonymous memory ([heap], other anonymous mappings, [stack]) and the binary itself.
`libxml2_everywhere` is libxml2 with what only it loads (ICU, libstdc++ on Debian), were nothing to load it, and
`loaded_by` who links it. `curl_minimal_drops` names the libraries a libcurl built like Fedora's / Azure Linux's libcurl-minimal would not
load (configure --disable-ldap --disable-ldaps --disable-rtsp --without-brotli --without-libpsl --without-libssh
…; librtmp is never built there), with what only they load.

    python3 bench/libweight.py PID [BINARY]      prints the report as JSON
"""
import json
import os
import re
import subprocess
import sys

KEYS = ("rss", "pss", "private_dirty", "private_clean")
SMAPS = {"Rss:": "rss", "Pss:": "pss", "Private_Dirty:": "private_dirty", "Private_Clean:": "private_clean"}
# sonames (prefixes) of libcurl's optional dependencies that a minimal build leaves out
# shown one by one as well
NOTABLE = ("libcrypto", "libssl", "libxml2", "libicuuc", "libstdc++", "libcurl", "libnftables", "libgnutls")
CURL_MINIMAL_LEAVES_OUT = ("libldap", "liblber", "libsasl2", "libssh", "libbrotli", "libpsl", "librtmp")


def mappings(pid):
    """{path or [heap]/[stack]/[anon]: {key: kB}} of the process."""
    out, cur = {}, None
    prev_rw_file, prev_end = None, None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                fields = line.split()
                start, end = fields[0].split("-")
                name = fields[5] if len(fields) > 5 else ""
                if not name:
                    # a library's .bss beyond its file: an anonymous rw mapping starting where its rw data ends
                    name = prev_rw_file if prev_rw_file and start == prev_end and fields[1].startswith("rw") \
                        else "[anon]"
                prev_rw_file = name if name.startswith("/") and fields[1].startswith("rw") else None
                prev_end = end
                cur = out.setdefault(name, dict.fromkeys(KEYS, 0))
            else:
                k = line.split(":", 1)[0] + ":"
                if k in SMAPS and cur is not None:
                    cur[SMAPS[k]] += int(line.split()[1])
    return out


def needed(path):
    r = subprocess.run(["readelf", "-dW", path], capture_output=True, text=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)


def graph(binary, paths):
    """soname graph of the binary, resolving sonames to the mapped paths (basename starts with the soname)."""
    by_soname = {}
    for p in paths:
        base = os.path.basename(p)
        m = re.match(r"^(.+?\.so(\.\d+)?)", base)
        if m:
            by_soname.setdefault(m.group(1), p)
            by_soname.setdefault(base, p)

    def resolve(soname):
        if soname in by_soname:
            return by_soname[soname]
        for s, p in by_soname.items():
            if s.startswith(soname):
                return p
        return None

    g = {binary: [x for x in (resolve(n) for n in needed(binary)) if x]}
    todo = list(g[binary])
    while todo:
        lib = todo.pop()
        if lib in g:
            continue
        g[lib] = [x for x in (resolve(n) for n in needed(lib)) if x]
        todo.extend(g[lib])
    return g


def reach(g, start, without=None):
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(x for x in g.get(n, []) if not (n == start and x == without))
    return seen


def report(pid, binary=None):
    binary = os.path.realpath(binary or os.readlink("/proc/%d/exe" % pid))
    maps = mappings(pid)
    g = graph(binary, [p for p in maps if p.startswith("/")])
    everything = reach(g, binary)
    groups, owned = {}, set()
    for dep in g[binary]:
        only = everything - reach(g, binary, without=dep)
        owned |= only
        groups[os.path.basename(dep)] = sorted(only)
    shared = sorted(everything - owned - {binary})

    def total(paths):
        t = dict.fromkeys(KEYS, 0)
        for p in paths:
            for k in KEYS:
                t[k] += maps.get(p, {}).get(k, 0)
        return t

    curl = next((d for d in g[binary] if os.path.basename(d).startswith("libcurl")), None)
    drops = []
    if curl:
        # libcurl without those dependencies: what the process no longer reaches
        leaves = {d for d in g[curl] if os.path.basename(d).startswith(CURL_MINIMAL_LEAVES_OUT)}
        sub = dict(g)
        sub[curl] = [x for x in g[curl] if x not in leaves]
        drops = sorted(everything - reach(sub, binary))
    # libxml2 with everything only it loads, were it loaded by nobody (our parsers, and libarchive's xar reader
    # on Debian/Fedora builds, both link it)
    xml2 = next((p for p in everything if os.path.basename(p).startswith("libxml2")), None)
    xml2_all = []
    if xml2:
        sub = {k: [x for x in v if x != xml2] for k, v in g.items() if k != xml2}
        xml2_all = sorted(everything - reach(sub, binary))
    xml2_users = sorted(os.path.basename(k) for k, v in g.items() if xml2 in v)
    out = {
        "binary": {"path": binary, **total([binary])},
        "libxml2_everywhere": {"libraries": [os.path.basename(p) for p in xml2_all], "loaded_by": xml2_users,
                               **total(xml2_all)},
        "groups": {k: {"libraries": [os.path.basename(p) for p in v], **total(v)} for k, v in groups.items()},
        "shared": {"libraries": [os.path.basename(p) for p in shared], **total(shared)},
        "curl_minimal_drops": {"libraries": [os.path.basename(p) for p in drops], **total(drops)},
        "heap": maps.get("[heap]", dict.fromkeys(KEYS, 0)),
        "anon": maps.get("[anon]", dict.fromkeys(KEYS, 0)),
        "stack": maps.get("[stack]", dict.fromkeys(KEYS, 0)),
        "each": {os.path.basename(p): total([p]) for p in everything if os.path.basename(p).startswith(NOTABLE)},
        "total": total(maps.keys()),
        "libraries_loaded": len(everything) - 1,
    }
    return out


if __name__ == "__main__":
    print(json.dumps(report(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None), indent=1))

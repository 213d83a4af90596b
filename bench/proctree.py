# SPDX-License-Identifier: MIT
"""Resource use of an agent's process tree, read from /proc (shared by bench/steady.py and bench/extbench.py).

The tree is the root process and its descendants by parent pid (/proc/<pid>/task/<tid>/children, every thread:
Python agents start processes from worker threads). Handlers that call setsid() stay in it.

Counting, per sample:
  cpu_s          sum over the live tree of utime+stime+cutime+cstime. The kernel adds a reaped child's CPU
                 (and, via cutime, its own reaped children's) to the parent's cutime/cstime, so the sum counts
                 every process that ever ran in the tree exactly once as long as its reaper is still alive —
                 short-lived helpers (openssl, ip, handler commands) included, never twice. Resolution: 1 tick
                 per process (10 ms).
  write_bytes,   sum over the live tree of /proc/<pid>/io: the kernel also folds a reaped child's I/O into its
  wchar, ...     parent's counters (wait_task_zombie), so the same argument holds. write_bytes = bytes the
                 processes caused to be written to a block device (page-cache dirtying on ext4; tmpfs is not
                 counted); wchar = every write()/send() byte, sockets and pipes included.
  rss            sum of the resident set of the live tree, minus the subtrees whose command line contains one
                 of the `exclude` markers (extension handlers). RSS counts shared pages once per process.
  pss,           the same processes' /proc/<pid>/smaps_rollup: Pss (each page divided by the number of processes
  private_dirty, mapping it, so a library shared with the rest of the system counts only in part — it depends on
  private_clean  what else runs), Private_Dirty (pages only this process has written: heap, stacks, relocated
                 library data — the memory that is really the agent's) and Private_Clean (file pages no other
                 process maps, e.g. a library only the agent uses). Bytes.
"""
import os

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
IO_KEYS = ("rchar", "wchar", "read_bytes", "write_bytes")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def children(pid):
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        data = _read("/proc/%d/task/%s/children" % (pid, tid))
        if data:
            out.extend(int(c) for c in data.split())
    return out


def tree(root):
    """pids of root and its live descendants (breadth first)."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(children(pid))
    return seen


def _stat(pid):
    data = _read("/proc/%d/stat" % pid)
    if not data:
        return None
    f = data[data.rfind(b")") + 2:].split()
    # fields after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14) ... rss(21)
    return {"ppid": int(f[1]), "cpu_ticks": int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]),
            "rss": int(f[21]) * PAGE}


ROLLUP_KEYS = {b"Pss:": "pss", b"Private_Dirty:": "private_dirty", b"Private_Clean:": "private_clean"}


def rollup(pid):
    """{pss, private_dirty, private_clean} in bytes from /proc/<pid>/smaps_rollup (zeros when it is gone)."""
    out = dict.fromkeys(ROLLUP_KEYS.values(), 0)
    for line in (_read("/proc/%d/smaps_rollup" % pid) or b"").splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in ROLLUP_KEYS:
            out[ROLLUP_KEYS[f[0]]] = int(f[1]) * 1024
    return out


def _io(pid):
    data = _read("/proc/%d/io" % pid)
    out = dict.fromkeys(IO_KEYS, 0)
    for line in (data or b"").decode().splitlines():
        k, _, v = line.partition(":")
        if k in out:
            out[k] = int(v)
    return out


def sample(root, exclude=()):
    """One reading of the tree of root: {cpu_s, rss, pss, private_dirty, private_clean, rss_excluded, procs,
    excluded_procs, <io keys>}."""
    pids = tree(root)
    excluded = set()
    res = dict.fromkeys(IO_KEYS, 0)
    res.update(cpu_s=0.0, rss=0, rss_excluded=0, procs=0, excluded_procs=0)
    res.update(dict.fromkeys(ROLLUP_KEYS.values(), 0))
    ticks = 0
    for pid in pids:
        st = _stat(pid)
        if st is None:
            continue
        if exclude and pid != root:
            if st["ppid"] in excluded:
                excluded.add(pid)
            else:
                cmd = _read("/proc/%d/cmdline" % pid) or b""
                if any(m.encode() in cmd for m in exclude):
                    excluded.add(pid)
        ticks += st["cpu_ticks"]
        for k, v in _io(pid).items():
            res[k] += v
        res["procs"] += 1
        if pid in excluded:
            res["excluded_procs"] += 1
            res["rss_excluded"] += st["rss"]
        else:
            res["rss"] += st["rss"]
            for k, v in rollup(pid).items():
                res[k] += v
    res["cpu_s"] = ticks / CLK
    return res


def delta(a, b):
    """b - a for the cumulative counters."""
    return {k: b[k] - a[k] for k in ("cpu_s",) + IO_KEYS}

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
`azl-agent --root <scratch> wsl-setup` end to end on scratch roots (tests/integration/make-scratch-root.sh, with
the host's regular users removed, as on a fresh WSL image with /etc/wsl.conf "[boot] systemd=true").

  test-wsl-setup.py batch   --user/--password-stdin/--no-password, bad options and names (needs root)
  test-wsl-setup.py tty     typing into the prompts in a tmux pane (needs root and tmux): re-prompts for
                            empty/invalid names and mismatched passwords, the password not echoed, Ctrl-D and
                            Ctrl-C leave no user, three bad names fail, a second run does nothing, the default
                            name forwarded through $WSLENV.

A created user must have UID 1000, be in wheel, have a yescrypt hash that libcrypt's crypt() reproduces
from the password and salt, and be "[user] default=" in /etc/wsl.conf next to the kept [boot] section.
Exit 77 when root or tmux (tty mode) is missing.
"""
import ctypes
import ctypes.util
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

AGENT = os.environ["AZL_AGENT"]
SRC = os.environ["AZL_SOURCE_ROOT"]
MODE = sys.argv[1] if len(sys.argv) > 1 else "batch"
WSL_CONF = "# image\n[boot]\nsystemd=true\n\n[network]\ngenerateResolvConf = false\n"
DBS = ["etc/passwd", "etc/shadow", "etc/group", "etc/gshadow"]
failures = 0
checks = 0


def check(name, ok, detail=""):
    global failures, checks
    checks += 1
    if ok:
        print(f"ok - {name}")
    else:
        failures += 1
        print(f"not ok - {name}" + (f": {detail}" if detail else ""))


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def make_root(tmp, name):
    root = os.path.join(tmp, name)
    subprocess.run(["bash", os.path.join(SRC, "tests/integration/make-scratch-root.sh"), root], check=True)
    regular = set()
    with open(os.path.join(root, "etc/passwd")) as f:
        for line in f:
            p = line.split(":")
            if len(p) >= 3 and p[2].isdigit() and 1000 <= int(p[2]) < 60000:
                regular.add(p[0])
    for db in DBS:
        path = os.path.join(root, db)
        if not os.path.exists(path):
            continue
        st = os.stat(path)
        with open(path) as f:
            lines = [ln for ln in f if ln.split(":")[0] not in regular]
        with open(path, "w") as f:
            f.writelines(lines)
        os.chmod(path, st.st_mode & 0o7777)
    with open(os.path.join(root, "etc/wsl.conf"), "w") as f:
        f.write(WSL_CONF)
    # A system account and a group whose names are valid and not reserved, but taken.
    with open(os.path.join(root, "etc/passwd"), "a") as f:
        f.write("svc:x:500:500::/:/sbin/nologin\n")
    with open(os.path.join(root, "etc/group"), "a") as f:
        f.write("devs:x:1500:\n")
    return root


def read(root, rel):
    try:
        with open(os.path.join(root, rel)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def snapshot(root):
    """Digest of everything a run may change."""
    h = hashlib.sha256()
    for rel in DBS + ["etc/wsl.conf", "etc/sudoers.d/azl-agent"]:
        h.update(rel.encode() + b"\0" + (read(root, rel) or "<absent>").encode() + b"\0")
    h.update(" ".join(sorted(os.listdir(os.path.join(root, "home")))).encode())
    return h.hexdigest()


def db_entry(root, db, name):
    for line in (read(root, db) or "").splitlines():
        p = line.split(":")
        if p[0] == name:
            return p
    return None


def hash_matches(password, hashed):
    # yescrypt ($y$, issue #17); libcrypt's own crypt() reproduces it from the password and the hash (python3's
    # crypt module is deprecated, and openssl passwd has no yescrypt).
    if not hashed.startswith("$y$"):
        return False
    libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    libcrypt.crypt_rn.restype = ctypes.c_char_p
    libcrypt.crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    data = ctypes.create_string_buffer(32768)  # sizeof(struct crypt_data): crypt_rn() keeps no static state
    return libcrypt.crypt_rn(password.encode(), hashed.encode(), data, len(data)) == hashed.encode()


def check_user(root, name, password, label):
    pw = db_entry(root, "etc/passwd", name)
    check(f"{label}: {name} in passwd with UID 1000, /bin/bash, home", pw is not None and pw[2] == "1000"
          and pw[5] == f"/home/{name}" and pw[6] == "/bin/bash", str(pw))
    check(f"{label}: home directory exists", os.path.isdir(os.path.join(root, "home", name)))
    wheel = db_entry(root, "etc/group", "wheel")
    check(f"{label}: {name} in wheel", wheel is not None and name in wheel[3].split(","), str(wheel))
    sh = db_entry(root, "etc/shadow", name)
    sudoers = read(root, "etc/sudoers.d/azl-agent") or ""
    if password is None:
        check(f"{label}: password locked", sh is not None and sh[1][:1] in ("!", "*"), str(sh and sh[1][:3]))
        check(f"{label}: sudo without password", f"{name} ALL=(ALL) NOPASSWD:ALL" in sudoers, sudoers)
    else:
        check(f"{label}: yescrypt hash verifies with libcrypt", sh is not None and hash_matches(password, sh[1]))
        check(f"{label}: sudo with password", f"{name} ALL=(ALL) ALL" in sudoers, sudoers)
    conf = read(root, "etc/wsl.conf")
    check(f"{label}: wsl.conf keeps the image's sections and gains [user] default",
          conf == WSL_CONF + f"\n[user]\ndefault={name}\n", repr(conf))


def check_no_user(root, before, label):
    check(f"{label}: nothing created or changed", snapshot(root) == before)
    pw = read(root, "etc/passwd")
    check(f"{label}: no user with UID 1000", not any(l.split(":")[2] == "1000" for l in pw.splitlines()))


def agent(root, *args, stdin=None, env=None):
    e = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
    e.update(env or {})
    return subprocess.run([AGENT, "--root", root, "wsl-setup", *args], input=stdin, capture_output=True,
                          text=True, env=e, stdin=None if stdin is not None else subprocess.DEVNULL, timeout=60,
                          start_new_session=True)  # no controlling terminal: /dev/tty fails


# ------------------------------------------------------------------------------------------------ batch
def run_batch(tmp):
    root = make_root(tmp, "batch-pw")
    r = agent(root, "--user", "alice", "--password-stdin", stdin="Correct horse 1\n")
    check("--user --password-stdin exits 0", r.returncode == 0, r.stderr)
    check_user(root, "alice", "Correct horse 1", "--password-stdin")
    check("the password is not in the output", "Correct horse" not in r.stdout + r.stderr)
    before = snapshot(root)
    r = agent(root, "--user", "bob", "--no-password")
    check("second run with a user present exits 0", r.returncode == 0, r.stderr)
    check("second run says there is nothing to do", "nothing to do" in r.stderr, r.stderr)
    check("second run changes nothing", snapshot(root) == before)

    root = make_root(tmp, "batch-nopw")
    r = agent(root, "--user", "carol", "--no-password")
    check("--user --no-password exits 0", r.returncode == 0, r.stderr)
    check_user(root, "carol", None, "--no-password")

    root = make_root(tmp, "batch-nonl")
    r = agent(root, "--user", "dave", "--password-stdin", stdin="no-newline")
    check("--password-stdin without a final newline", r.returncode == 0, r.stderr)
    check_user(root, "dave", "no-newline", "no newline")

    root = make_root(tmp, "batch-bad")
    before = snapshot(root)
    for args, stdin, what in [
        (["--user", "Bad Name", "--no-password"], None, "invalid name"),
        (["--user", "root", "--no-password"], None, "reserved name"),
        (["--user", "svc", "--no-password"], None, "existing system account"),
        (["--user", "devs", "--no-password"], None, "existing group"),
        (["--user", "erin", "--password-stdin"], "", "empty stdin"),
        (["--user", "erin", "--password-stdin"], "\n", "empty password"),
        (["--user", "erin", "--password-stdin", "--no-password"], "x\n", "exclusive options"),
        (["--password-stdin"], "x\n", "--password-stdin without --user"),
        (["--user", "erin", "extra"], None, "extra argument"),
        (["--user", "erin"], None, "password prompt without a terminal"),
        ([], None, "name prompt without a terminal"),
    ]:
        r = agent(root, *args, stdin=stdin)
        check(f"{what}: non-zero exit", r.returncode != 0, f"rc={r.returncode} {r.stderr}")
    check_no_user(root, before, "rejected invocations")

    # Not on an Azure VM: the administrator comes from provisioning there.
    root = make_root(tmp, "batch-azure")
    os.makedirs(os.path.join(root, "sys/class/dmi/id"))
    with open(os.path.join(root, "sys/class/dmi/id/chassis_asset_tag"), "w") as f:
        f.write("7783-7084-3265-9085-8269-3286-77\n")
    before = snapshot(root)
    r = agent(root, "--user", "frank", "--no-password")
    check("refused on Azure with exit 4", r.returncode == 4, f"rc={r.returncode} {r.stderr}")
    check_no_user(root, before, "Azure")


# ------------------------------------------------------------------------------------------------ tty
class Pane:
    def __init__(self, tmp, root, extra_args=(), env=None):
        # One tmux server per pane: reusing a socket races with the previous server's shutdown ("server exited
        # unexpectedly" when the next new-session connects to a server that is exiting).
        self.sock = os.path.join(tmp, f"tmux.{os.path.basename(root)}.sock")
        self.rcfile = os.path.join(tmp, f"rc.{os.path.basename(root)}")
        self.name = "wsl"
        self.dead = False
        envs = " ".join(f"{k}='{v}'" for k, v in (env or {}).items())
        cmd = (f"env -u JOURNAL_STREAM -u INVOCATION_ID {envs} '{AGENT}' --root '{root}' wsl-setup "
               + " ".join(extra_args) + f"; echo $? > '{self.rcfile}.tmp'; mv '{self.rcfile}.tmp' '{self.rcfile}';"
               " sleep 600")
        subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", "new-session", "-d", "-s", self.name,
                        "-x", "120", "-y", "30", cmd], check=True)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.name, "-S", "-200").stdout

    def wait_for(self, text, count=1, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.screen().count(text) >= count:
                return True
            time.sleep(0.05)
        print(f"# timed out waiting for {text!r} (x{count}); screen:\n" + self.screen(), file=sys.stderr)
        return False

    def type(self, text, enter=True):
        if text:
            self.tmux("send-keys", "-t", self.name, "-l", text)
        if enter:
            self.tmux("send-keys", "-t", self.name, "Enter")

    def key(self, k):
        self.tmux("send-keys", "-t", self.name, k)

    def rc(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if os.path.exists(self.rcfile):
                with open(self.rcfile) as f:
                    return int(f.read().strip())
            time.sleep(0.05)
        return None

    def close(self):
        self.tmux("kill-server")


NAME_PROMPT = "Enter new UNIX username"
# capture-pane drops trailing blanks: no trailing space in what we wait for.
PW_PROMPT = "New password:"
PW2_PROMPT = "Retype new password:"


def run_tty(tmp):
    # The whole dialogue: empty and invalid names, a mismatch, then success.
    root = make_root(tmp, "tty-ok")
    p = Pane(tmp, root)
    try:
        ok = p.wait_for(NAME_PROMPT)
        p.type("")
        ok = ok and p.wait_for("A user name is required.")
        ok = ok and p.wait_for(NAME_PROMPT, 2)
        p.type("Bad Name")
        ok = ok and p.wait_for("is not valid")
        ok = ok and p.wait_for(NAME_PROMPT, 3)
        p.type("alice")
        ok = ok and p.wait_for(PW_PROMPT)
        p.type("first-Secret")
        ok = ok and p.wait_for(PW2_PROMPT)
        p.type("other-Secret")
        ok = ok and p.wait_for("The passwords do not match.")
        ok = ok and p.wait_for(PW_PROMPT, 2)
        p.type("pa55 w0rd!")
        ok = ok and p.wait_for(PW2_PROMPT, 2)
        p.type("pa55 w0rd!")
        rc = p.rc()
        screen = p.screen()
        check("tty: the dialogue went as expected", ok, screen)
        check("tty: exit 0 after re-prompts", rc == 0, f"rc={rc}\n{screen}")
        check("tty: passwords are not echoed", "Secret" not in screen and "w0rd" not in screen, screen)
    finally:
        p.close()
    check_user(root, "alice", "pa55 w0rd!", "tty")

    before = snapshot(root)
    p = Pane(tmp, root)
    try:
        rc = p.rc(timeout=15)
        screen = p.screen()
    finally:
        p.close()
    check("tty: second run exits 0 without asking", rc == 0 and NAME_PROMPT not in screen, f"rc={rc}\n{screen}")
    check("tty: second run changes nothing", snapshot(root) == before)

    # Cancelling at each question, and three bad names.
    cases = [
        ("Ctrl-D at the name prompt", [("wait", NAME_PROMPT), ("key", "C-d")]),
        ("Ctrl-D at the password prompt", [("wait", NAME_PROMPT), ("type", "bob"), ("wait", PW_PROMPT),
                                           ("key", "C-d")]),
        ("Ctrl-D at the second password prompt", [("wait", NAME_PROMPT), ("type", "bob"), ("wait", PW_PROMPT),
                                                  ("type", "secret12"), ("wait", PW2_PROMPT), ("key", "C-d")]),
        ("Ctrl-C at the name prompt", [("wait", NAME_PROMPT), ("type_noenter", "bo"), ("key", "C-c")]),
        ("Ctrl-C at the password prompt", [("wait", NAME_PROMPT), ("type", "bob"), ("wait", PW_PROMPT),
                                           ("key", "C-c")]),
        ("three bad names", [("wait", NAME_PROMPT), ("type", "root"), ("wait", "reserved"), ("type", "9lives"),
                             ("wait", "is not valid"), ("type", "svc"), ("wait", "exists already")]),
        ("three bad passwords", [("wait", NAME_PROMPT), ("type", "bob"), ("wait", PW_PROMPT), ("type", ""),
                                 ("wait", "must not be empty"), ("type", "aaaa1"), ("type", "bbbb1"),
                                 ("wait", "do not match"), ("type", "cccc1"), ("type", "dddd1")]),
    ]
    for i, (label, steps) in enumerate(cases):
        root = make_root(tmp, f"tty-cancel{i}")
        before = snapshot(root)
        p = Pane(tmp, root)
        ok = True
        try:
            for op, arg in steps:
                if op == "wait":
                    ok = ok and p.wait_for(arg)
                elif op == "type":
                    p.type(arg)
                elif op == "type_noenter":
                    p.type(arg, enter=False)
                else:
                    p.key(arg)
            rc = p.rc()
            screen = p.screen()
        finally:
            p.close()
        check(f"tty: {label}: dialogue", ok, screen)
        check(f"tty: {label}: non-zero exit", rc not in (None, 0), f"rc={rc}\n{screen}")
        check(f"tty: {label}: says WSL asks again or why it failed",
              "no user was created" in screen or "attempts" in screen, screen)
        check_no_user(root, before, f"tty: {label}")

    # --user: only the password is asked, on /dev/tty when stdin is not the terminal.
    root = make_root(tmp, "tty-devtty")
    p = Pane(tmp, root, ["--user", "bob", "</dev/null"])
    try:
        ok = p.wait_for(PW_PROMPT)
        p.type("via-dev-tty")
        ok = ok and p.wait_for(PW2_PROMPT)
        p.type("via-dev-tty")
        rc = p.rc()
        screen = p.screen()
    finally:
        p.close()
    check("tty: --user asks only the password, on /dev/tty", ok and rc == 0 and NAME_PROMPT not in screen,
          f"rc={rc}\n{screen}")
    check("tty: /dev/tty password not echoed", "via-dev-tty" not in screen, screen)
    check_user(root, "bob", "via-dev-tty", "tty /dev/tty")

    # --no-password: only the name is asked; the Windows user name forwarded through WSLENV is the default.
    root = make_root(tmp, "tty-suggest")
    p = Pane(tmp, root, ["--no-password"], env={"WSLENV": "USERNAME/u", "USERNAME": "Jane Doe"})
    try:
        ok = p.wait_for(NAME_PROMPT + " [jane_doe]:")
        p.type("")
        rc = p.rc()
        screen = p.screen()
    finally:
        p.close()
    check("tty: suggested name offered and accepted with Enter", ok and rc == 0, f"rc={rc}\n{screen}")
    check("tty: no password prompt with --no-password", PW_PROMPT not in screen, screen)
    check_user(root, "jane_doe", None, "tty suggestion")


def main():
    if os.geteuid() != 0:
        skip("needs root (useradd in a scratch root, chown)")
    for prog in ("useradd", "userdel"):
        if not shutil.which(prog):
            skip(f"{prog} not installed")
    if MODE == "tty" and not shutil.which("tmux"):
        skip("tmux not installed")
    with tempfile.TemporaryDirectory(prefix="azl-wsl.") as tmp:
        os.chmod(tmp, 0o755)
        if MODE == "tty":
            run_tty(tmp)
        else:
            run_batch(tmp)
    print(f"# {checks - failures}/{checks} checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

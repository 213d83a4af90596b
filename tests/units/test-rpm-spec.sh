#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds azl-agent.spec with rpmbuild from a tarball of the working tree and compares the packages with what
# `meson install --destdir` lays out from the same sources:
#   * every installed file is in exactly one package and every packaged file is installed (same path set,
#     man pages compared without their compression suffix), with the same permissions;
#   * directories the packages own exist in the install tree, and the empty directories meson creates
#     (agent.conf.d) are owned by a package, as is every directory named after us;
#   * %ghost directories carry the modes units/tmpfiles-azl-agent.conf gives them;
#   * the WSL files are in azl-agent-wsl only, and %post/%preun handle both units;
#   * Version: equals the meson project version.
# Fedora's macros (%meson…, %_unitdir, %systemd_post…) are missing on other hosts; then they are defined here,
# with the directories taken from this host's pkg-config files like units/meson.build does. %check is not run
# (it is the test suite this test belongs to). Skips (77) without rpmbuild, and inside rpmbuild's own %check.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need rpmbuild rpm tar pkg-config
[[ -z ${RPM_BUILD_ROOT:-} ]] || skip "running inside rpmbuild"
meson=${MESON:-$(command -v meson || true)}
[[ -x $meson ]] || skip "meson not found"

spec=$AZL_SOURCE_ROOT/azl-agent.spec
version=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
project_version=$(sed -n "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" "$AZL_SOURCE_ROOT/meson.build" | head -1)
[[ -n $version && $version == "$project_version" ]] ||
        fail "azl-agent.spec Version: '$version' differs from meson.build version '$project_version'"
echo "ok: Version $version"

top=$scratch/rpmbuild
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS,BUILDROOT}
tar -C "$AZL_SOURCE_ROOT" --exclude-vcs --exclude='./build*' --exclude='__pycache__' --exclude='*.pyc' \
        --transform "s|^\.|azl-agent-$version|" -czf "$top/SOURCES/azl-agent-$version.tar.gz" .

# Macros, only where the host lacks them.
macros=$scratch/macros
: >"$macros"
define_missing() { # name value
        if [[ -z $(rpm --eval "%{?$1}" 2>/dev/null) ]]; then
                printf '%%%s %s\n' "$1" "$2" >>"$macros"
        fi
}
pcvar() { # package variable [define]
        pkg-config --variable="$2" ${3:+--define-variable="$3"} "$1" 2>/dev/null || true
}
unitdir=$(pcvar systemd systemdsystemunitdir prefix=/usr)
presetdir=$(pcvar systemd systemdsystempresetdir prefix=/usr)
tmpfilesdir=$(pcvar systemd tmpfilesdir prefix=/usr)
udevdir=$(pcvar udev udevdir prefix=/usr)
bcdir=$(pcvar bash-completion completionsdir datadir=/usr/share)
define_missing _unitdir "${unitdir:-/usr/lib/systemd/system}"
define_missing _presetdir "${presetdir:-/usr/lib/systemd/system-preset}"
define_missing _tmpfilesdir "${tmpfilesdir:-/usr/lib/tmpfiles.d}"
define_missing _udevrulesdir "${udevdir:-/usr/lib/udev}/rules.d"
define_missing bash_completions_dir "${bcdir:-/usr/share/bash-completion/completions}"
if [[ -z $(rpm --eval '%{?meson}') ]]; then
        # Shapes of Fedora's macros.meson and macros.systemd. -Dtests=disabled: %check is not run here, and the
        # unit tests of other areas (possibly mid-edit in a shared tree) do not decide what gets installed.
        cat >>"$macros" <<MACROS
%_sharedstatedir /var/lib
%__meson $meson
%_vpath_srcdir .
%_vpath_builddir redhat-linux-build
%meson %{__meson} setup --buildtype=plain --prefix=%{_prefix} --libdir=%{_libdir} --libexecdir=%{_libexecdir} --bindir=%{_bindir} --sbindir=%{_sbindir} --includedir=%{_includedir} --datadir=%{_datadir} --mandir=%{_mandir} --infodir=%{_infodir} --localedir=%{_datadir}/locale --sysconfdir=%{_sysconfdir} --localstatedir=%{_localstatedir} --sharedstatedir=%{_sharedstatedir} --wrap-mode=nodownload --auto-features=enabled -Dtests=disabled %{_vpath_srcdir} %{_vpath_builddir}
%meson_build %{__meson} compile -C %{_vpath_builddir} %{?_smp_mflags} --verbose
%meson_install DESTDIR=%{buildroot} %{__meson} install -C %{_vpath_builddir} --no-rebuild
%meson_test %{__meson} test -C %{_vpath_builddir} --print-errorlogs
%systemd_requires Requires(post): systemd\\
Requires(preun): systemd\\
Requires(postun): systemd
%systemd_post() if [ \$1 -eq 1 ]; then systemctl --no-reload preset %{?*} || :; fi
%systemd_preun() if [ \$1 -eq 0 ]; then systemctl --no-reload disable --now %{?*} || :; fi
%systemd_postun() :
%systemd_postun_with_restart() if [ \$1 -ge 1 ]; then systemctl try-restart %{?*} || :; fi
%debug_package %{nil}
%dist .test
MACROS
fi

log=$scratch/rpmbuild.log
if ! rpmbuild -bb --nocheck --nodeps --load "$macros" --define "_topdir $top" "$spec" >"$log" 2>&1; then
        tail -40 "$log" >&2
        fail "rpmbuild failed (last lines above)"
fi
mapfile -t rpms < <(find "$top/RPMS" -name '*.rpm' | sort)
[[ ${#rpms[@]} -eq 2 ]] || fail "expected 2 packages (azl-agent, azl-agent-wsl), got: ${rpms[*]##*/}"
echo "ok: rpmbuild produced ${rpms[*]##*/}"

# Reference: meson install of the same sources.
src=$scratch/src
mkdir -p "$src"
tar -C "$src" -xzf "$top/SOURCES/azl-agent-$version.tar.gz"
if ! "$meson" setup "$scratch/ref" "$src/azl-agent-$version" --prefix=/usr --sysconfdir=/etc \
        --localstatedir=/var -Dtests=disabled >"$scratch/ref.log" 2>&1 ||
   ! "$meson" compile -C "$scratch/ref" >>"$scratch/ref.log" 2>&1 ||
   ! DESTDIR=$scratch/dest "$meson" install -C "$scratch/ref" --no-rebuild >>"$scratch/ref.log" 2>&1; then
        tail -30 "$scratch/ref.log" >&2
        fail "meson reference install failed"
fi

"${PYTHON:-python3}" - "$scratch/dest" "$AZL_SOURCE_ROOT/units/tmpfiles-azl-agent.conf" "${rpms[@]}" <<'PY'
import os
import re
import stat
import subprocess
import sys

dest, tmpfiles, rpms = sys.argv[1], sys.argv[2], sys.argv[3:]
RPMFILE_GHOST = 64
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def norm(path):
    if path.startswith("/usr/share/man/"):
        path = re.sub(r"\.(gz|xz|bz2|zst)$", "", path)
    return path


packaged, pkg_dirs, ghosts, owner = {}, {}, {}, {}
for rpm in rpms:
    name = subprocess.run(["rpm", "-qp", "--qf", "%{NAME}", rpm], capture_output=True, text=True,
                          check=True).stdout
    out = subprocess.run(["rpm", "-qp", "--qf", "[%{FILENAMES}\t%{FILEFLAGS}\t%{FILEMODES}\n]", rpm],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        path, flags, mode = line.split("\t")
        flags, mode = int(flags), int(mode) & 0xFFFF
        # %doc/%license files and rpm's own build-id links are not meson's business (man pages are flagged
        # as documentation too, so go by location).
        if path.startswith(("/usr/share/doc/", "/usr/share/licenses/", "/usr/lib/.build-id")):
            continue
        if flags & RPMFILE_GHOST:
            ghosts[path] = mode
            continue
        path = norm(path)
        if path in owner:
            fail(f"{path} is in both {owner[path]} and {name}")
        owner[path] = name
        (pkg_dirs if stat.S_ISDIR(mode) else packaged)[path] = mode

installed, inst_dirs, empty_dirs = {}, {}, set()
for root, dirs, files in os.walk(dest):
    for d in dirs:
        full = os.path.join(root, d)
        p = "/" + os.path.relpath(full, dest)
        inst_dirs[p] = os.lstat(full).st_mode
        if not os.listdir(full):
            empty_dirs.add(p)
    for f in files:
        full = os.path.join(root, f)
        installed[norm("/" + os.path.relpath(full, dest))] = os.lstat(full).st_mode

for p in sorted(installed.keys() - packaged.keys()):
    fail(f"installed by meson but not in any package: {p}")
for p in sorted(packaged.keys() - installed.keys()):
    fail(f"packaged but not installed by meson: {p}")
for p in sorted(installed.keys() & packaged.keys()):
    if stat.S_IMODE(installed[p]) != stat.S_IMODE(packaged[p]):
        fail(f"{p}: mode {stat.S_IMODE(packaged[p]):o} in the package, {stat.S_IMODE(installed[p]):o} installed")
for p in sorted(pkg_dirs.keys() - inst_dirs.keys()):
    fail(f"package owns directory {p} which meson does not create")
for p in sorted(empty_dirs - pkg_dirs.keys()):
    fail(f"meson creates empty directory {p} but no package owns it")
for p in sorted(inst_dirs):
    if "azl-agent" in os.path.basename(p) and p not in pkg_dirs:
        fail(f"directory {p} is ours but no package owns it")
if not failures:
    print(f"ok: {len(packaged)} files and {len(pkg_dirs)} directories match the meson install tree")

want = {}
for line in open(tmpfiles, encoding="utf-8"):
    f = line.split()
    if len(f) >= 3 and f[0] == "d":
        want[f[1]] = int(f[2], 8)
ghost_ok = set(want) == set(ghosts)
if not ghost_ok:
    fail(f"%ghost directories {sorted(ghosts)} differ from the tmpfiles.d directories {sorted(want)}")
for p, m in want.items():
    if p in ghosts and stat.S_IMODE(ghosts[p]) != m:
        fail(f"%ghost {p} has mode {stat.S_IMODE(ghosts[p]):o}, tmpfiles.d creates it {m:o}")
        ghost_ok = False
if ghost_ok:
    print("ok: %ghost directories and modes match tmpfiles.d")

wsl = {p for p, n in owner.items() if n == "azl-agent-wsl"}
if wsl != {"/etc/wsl-distribution.conf", "/etc/wsl.conf"}:
    fail(f"azl-agent-wsl contains {sorted(wsl)}")
main = [r for r in rpms if "/azl-agent-wsl-" not in r]
scripts = subprocess.run(["rpm", "-qp", "--scripts", main[0]], capture_output=True, text=True, check=True).stdout
for s in ("postinstall", "preuninstall", "postuninstall"):
    body = scripts.split(s + " scriptlet", 1)[1].split("scriptlet", 1)[0] if s + " scriptlet" in scripts else ""
    need = ["azl-agent.service"] + (["azl-provision.service"] if s != "postuninstall" else [])
    for u in need:
        if u not in body:
            fail(f"{s} scriptlet does not handle {u}")
if not failures:
    print("ok: WSL files only in azl-agent-wsl; scriptlets handle both units")
sys.exit(1 if failures else 0)
PY

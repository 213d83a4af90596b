#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install-root-tools.sh ROOT [TOOL...]: copies the host's TOOLs (default: the ones provisioning runs — the
# shadow tools, chpasswd, visudo, ssh-keygen, mkswap — sh for tests that wrap a tool, and bash, the admin's shell) into the scratch root ROOT,
# with every shared library ldd names and the dynamic loader, at the paths the host has them, and the host's
# top-level /bin, /sbin, /lib* symlinks (merged /usr). On an alternate root the agent runs the root's own tools
# chrooted into it (docs/security.md, "--root confinement"), so a scratch root needs them as an image would.
# Copies, never hard links: a test that replaces a tool in ROOT must not be able to touch the host's file.
# A tool the host does not have is left out (the step that needs it then fails or skips, as in such an image).
set -euo pipefail
root=${1:?usage: install-root-tools.sh ROOT [TOOL...]}
shift
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(useradd usermod userdel groupadd chpasswd visudo ssh-keygen mkswap sh bash)

for link in bin sbin lib lib32 lib64 libx32; do
        if [ -L "/$link" ] && [ ! -e "$root/$link" ] && [ ! -L "$root/$link" ]; then
                ln -s "$(readlink "/$link")" "$root/$link"
        fi
done

# The dynamic loader lists a program's libraries as ldd does, without ldd's shell script around it (faster).
ldso=
for l in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do
        if [ -x "$l" ]; then ldso=$l; break; fi
done
list_libs() {
        if [ -n "$ldso" ] && "$ldso" --list "$1" 2>/dev/null; then return 0; fi
        ldd "$1"
}

# Every file to copy: each tool and what the loader lists for it ("libx.so.1 => /lib/.../libx.so.1 (0x...)",
# "/lib64/ld-linux-x86-64.so.2 (0x...)").
files=()
for t in "${tools[@]}"; do
        path=
        for d in /usr/sbin /usr/bin /sbin /bin; do
                if [ -x "$d/$t" ]; then path=$d/$t; break; fi
        done
        [ -n "$path" ] || { echo "install-root-tools: $t is not installed on this host, left out" >&2; continue; }
        files+=("$path")
        while read -r lib; do
                files+=("$lib")
        done < <(list_libs "$path" 2>/dev/null | grep -o '/[^ ]*' || true)
done

# Each file (dereferenced) at the same path below ROOT, in the real directory (usr/lib, not the lib symlink);
# one cp per directory.
declare -A realdir=() bydir=() seen=()
for src in "${files[@]}"; do
        dir=${src%/*}
        [ -n "${realdir[$dir]:-}" ] || realdir[$dir]=$(realpath "$dir")
        dest="$root${realdir[$dir]}"
        [ -z "${seen[$dest/${src##*/}]:-}" ] && [ ! -e "$dest/${src##*/}" ] || continue
        seen[$dest/${src##*/}]=1
        bydir[$dest]+="$src"$'\n'
done
for dest in "${!bydir[@]}"; do
        mkdir -p "$dest"
        mapfile -t srcs < <(printf '%s' "${bydir[$dest]}")
        cp -L --preserve=mode --reflink=auto -t "$dest" "${srcs[@]}"
done

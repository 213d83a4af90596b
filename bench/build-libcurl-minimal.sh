#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A libcurl built the way a "minimal" package builds it (Fedora's libcurl-minimal: HTTP(S), no LDAP, SSH, RTMP,
# IDN, PSL, brotli or zstd), from the upstream source of the version this host's libcurl4 has, so that the
# daemon's memory can be measured with it (BENCHMARKS.md, sixth round):
#
#   bench/build-libcurl-minimal.sh DIR                 # DIR/lib/libcurl.so.4
#   LD_LIBRARY_PATH=DIR/lib bench/steady.py --agent azl-agent ...
#   bench/vmbench.py --agent azl-agent --agent-lib-dir DIR/lib ...
#
# Downloads the source from Debian's archive (the only network use); needs a compiler and the -dev packages of
# OpenSSL, nghttp2 and zlib. Symbol versions as Debian's build (CURL_OPENSSL_4), so the agent binaries load it
# without a warning.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PREFIX" >&2; exit 2; }
prefix=$(realpath -m "$1")
version=$(dpkg-query -W -f='${Version}' libcurl4 | sed 's/^[0-9]*://; s/-.*//')
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "$0: cannot tell the libcurl4 version ($version)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -sSf -o "$work/curl.tar.gz" "http://deb.debian.org/debian/pool/main/c/curl/curl_${version}.orig.tar.gz"
tar -C "$work" -xzf "$work/curl.tar.gz"
cd "$work/curl-$version"
./configure --prefix="$prefix" --disable-static --enable-versioned-symbols \
        --with-openssl --with-nghttp2 --with-zlib --without-gssapi \
        --disable-dict --disable-gopher --disable-imap --disable-ldap --disable-ldaps --disable-manual \
        --disable-mqtt --disable-ntlm --disable-ntlm-wb --disable-pop3 --disable-rtsp --disable-smb --disable-smtp \
        --disable-telnet --disable-tftp --disable-tls-srp \
        --without-brotli --without-libidn2 --without-libpsl --without-libssh --without-libssh2 --without-librtmp \
        --without-zstd >"$work/configure.log" || { tail -30 "$work/configure.log" >&2; exit 1; }
make -C lib -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
make -C lib install >>"$work/make.log" 2>&1
echo "$prefix/lib/libcurl.so.4 (curl $version): $(grep -E '^ +Protocols:' "$work/configure.log" | sed 's/^ *//')"

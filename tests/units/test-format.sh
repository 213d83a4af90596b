#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The C sources are formatted by .clang-format (docs/style.md): `clang-format --dry-run --Werror` over every
# tracked .c and .h file must report nothing. Formatting differs between clang-format versions, so the check
# runs with the version the tree was formatted with (Debian bookworm's 14) and skips (77) with any other or
# none. To fix a failure: `git ls-files '*.c' '*.h' | xargs clang-format -i`.
set -euo pipefail
src=${AZL_SOURCE_ROOT:?run with meson test}
want=14
if ! command -v clang-format >/dev/null; then
        echo "SKIP: clang-format is not installed (scripts/install-deps.sh installs it)"
        exit 77
fi
have=$(clang-format --version | sed -nE 's/.*clang-format version ([0-9]+)\..*/\1/p')
if [ "$have" != "$want" ]; then
        echo "SKIP: clang-format $have; the tree is formatted with clang-format $want"
        exit 77
fi
cd "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        mapfile -t files < <(git ls-files '*.c' '*.h')
else
        mapfile -t files < <(find . -path ./build -prune -o \( -name '*.c' -o -name '*.h' \) -print | sort)
fi
[ "${#files[@]}" -gt 100 ] || { echo "FAIL: only ${#files[@]} C files found under $src"; exit 1; }
if ! out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
        printf '%s\n' "$out" | grep -E '^[^ ].*(warning|error):' | head -40
        echo "FAIL: $(printf '%s\n' "$out" | grep -cE '(warning|error):') place(s) not formatted (fix: git ls-files '*.c' '*.h' | xargs clang-format -i)"
        exit 1
fi
echo "ok: ${#files[@]} C files formatted (clang-format $have)"

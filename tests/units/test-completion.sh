#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs the bash completion function the way readline would (COMP_WORDS/COMP_CWORD, bash-completion's
# _init_completion) and checks the candidates: all verbs of `azl-agent --help` for an empty word, global
# options after "-", option arguments skipped when finding the verb, --json --wait --long after status,
# nothing after verbs without options, files after --config and directories after --root.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

bc=
for f in "$(pkg-config --variable=compatdir bash-completion 2>/dev/null | sed 's|/bash_completion.d$||')/bash_completion" \
         /usr/share/bash-completion/bash_completion /etc/bash_completion; do
        [[ -r $f ]] && bc=$f && break
done
[[ -n $bc ]] || skip "bash-completion is not installed"

complete_line() { # words… (the last one is the word being completed, may be "")
        bash --norc --noprofile -c '
                bc=$1; shift
                . "$bc" >/dev/null 2>&1
                . "$AZL_SOURCE_ROOT/completions/azl-agent"
                COMP_WORDS=("$@")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMP_LINE="${COMP_WORDS[*]}"
                COMP_POINT=${#COMP_LINE}
                COMPREPLY=()
                _azl_agent azl-agent "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                printf "%s\n" "${COMPREPLY[@]}" | sort
        ' _ "$bc" "$@"
}

expect() { # "expected words" words…
        local want got
        want=$(tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort)
        shift
        got=$(complete_line "$@" | sed '/^$/d')
        if [[ $got != "$want" ]]; then
                fail "completing '$*': got [${got//$'\n'/ }], want [${want//$'\n'/ }]"
        fi
        echo "ok: '$*' → [${got//$'\n'/ }]"
}

verbs=$("$AZL_AGENT" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NF && !/^Verbs:/ {print $1}' | tr '\n' ' ')
[[ -n $verbs ]] || fail "could not read verbs from azl-agent --help"

expect "$verbs" azl-agent ""
expect "status" azl-agent st
expect "-h --help --version --root --config -v --verbose" azl-agent -
expect "--root" azl-agent --ro
expect "status" azl-agent --root /tmp --config /x.conf -v sta
expect "--json --wait --long" azl-agent status -
expect "--json" azl-agent -v status --j
expect "" azl-agent detect -
expect "validate show run" azl-agent userdata ""
expect "--json --part" azl-agent userdata show -
expect "--json" azl-agent -v userdata show --j
expect "" azl-agent config -
expect "--user --force --dry-run" azl-agent deprovision -
expect "-o --output --max-size" azl-agent collect-logs -
expect "show blame" azl-agent analyze ""
expect "" azl-agent analyze show ""
expect "--json" azl-agent analyze blame -

cd "$scratch" || exit 1
mkdir -p subdir
touch a.conf b.txt
expect "a.conf subdir" azl-agent --config ""
expect "subdir" azl-agent --root ""
expect "a.conf b.txt subdir" azl-agent collect-logs -o ""

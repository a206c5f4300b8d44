#!/usr/bin/env bash
# ctest: tools/completion/dlock.bash offers, for every subcommand, exactly the options its
# `dlock SUBCOMMAND --help` lists (so an option added to the code is not forgotten there).
#   completion.sh SOURCE_DIR DLOCK_BINARY
set -euo pipefail
source_dir=$1 dlock=$2
fail() { echo "completion: $*" >&2; exit 1; }
source "$source_dir/tools/completion/dlock.bash"

# What the completion offers after `dlock WORDS... -`.
offered() {
    COMP_WORDS=(dlock "$@" -)
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _dlock
    printf '%s\n' "${COMPREPLY[@]}" | sort -u
}

# The option names `dlock SUBCOMMAND --help` lists (its lines "  -t,--ttl SEC  ...").
documented() {
    "$dlock" "$1" --help | grep -E '^  -' | sed -E 's/^  ([^ ]*).*/\1/' | tr ',' '\n' |
        grep -E '^--?[a-zA-Z]' | sort -u
}

for subcommand in run acquire release extend status list wait break; do
    diff <(documented "$subcommand") <(offered "$subcommand") >/dev/null || {
        echo "< only in dlock $subcommand --help, > only in the completion:" >&2
        diff <(documented "$subcommand") <(offered "$subcommand") >&2 || true
        fail "dlock $subcommand: the completion and --help disagree"
    }
done
echo "completion: the options of every subcommand match its --help"

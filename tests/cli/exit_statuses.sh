#!/usr/bin/env bash
# ctest: the exit statuses dlock's code defines (tools/exit_codes.hpp) are the ones the man page
# (docs/dlock.1, section EXIT STATUS) and `dlock --help` / `dlock run --help` document, both
# ways: no status undocumented, none documented that the code does not have.
#   exit_statuses.sh SOURCE_DIR DLOCK_BINARY
set -euo pipefail
source_dir=$1 dlock=$2
fail() { echo "exit_statuses: $*" >&2; exit 1; }

# `constexpr int name = N;` lines of the exit_code namespace.
mapfile -t code < <(sed -n 's/^constexpr int [a-z_]* = \([0-9]*\);.*/\1/p' \
    "$source_dir/tools/exit_codes.hpp" | sort -n)
((${#code[@]} >= 5)) || fail "found only ${#code[@]} statuses in tools/exit_codes.hpp"

# The man page: `.B N` items between .SH EXIT STATUS and the next .SH.
mapfile -t man < <(awk '/^\.SH EXIT STATUS/ { on = 1; next } /^\.SH/ { on = 0 }
    on && /^\.B [0-9]+$/ { print $2 }' "$source_dir/docs/dlock.1" | sort -n)
[[ "${man[*]}" == "${code[*]}" ]] ||
    fail "man page documents statuses (${man[*]}), the code has (${code[*]})"
grep -q '^\.B 128+N$' "$source_dir/docs/dlock.1" || fail "man page: 128+N (signals) missing"

# `dlock --help`: the numbers of its "Exit status:" paragraph (up to the blank line).
main_help=$("$dlock" --help | awk '/^Exit status:/ { on = 1 } on && /^$/ { exit } on')
[[ -n $main_help ]] || fail "dlock --help has no Exit status paragraph"
for status in "${code[@]}"; do
    grep -Eq "(^|[^0-9+])$status([^0-9]|$)" <<<"$main_help" ||
        fail "dlock --help does not document status $status: $main_help"
done
mapfile -t helped < <(grep -Eo '(^|[ ;:])[0-9]{1,3}( |$)' <<<"$main_help" | tr -dc '0-9\n' |
    sort -nu)
for status in "${helped[@]}"; do
    [[ " ${code[*]} " == *" $status "* ]] ||
        fail "dlock --help documents status $status, which the code does not have"
done

# `dlock run --help`: its table lists every status run can exit with (0 being COMMAND's own).
run_help=$("$dlock" run --help | awk '/^Exit status:/ { on = 1; next } on && /^[^ ]/ { exit } on')
grep -q "^  COMMAND's own" <<<"$run_help" || fail "dlock run --help: COMMAND's own status missing"
for status in "${code[@]}"; do
    ((status != 0)) || continue
    grep -Eq "^  ([0-9]+, )*$status[ ,]" <<<"$run_help" ||
        fail "dlock run --help does not list status $status: $run_help"
done
echo "exit_statuses: ${code[*]} documented in the man page, dlock --help and dlock run --help"
